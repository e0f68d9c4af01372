//! What only the in-process engine has to show: its interrupt stops
//! synchronous code without losing the engine, its memory bound, stack
//! overflows and panics that stay inside a run, runs on engine threads with
//! no Node.js at all, values that round-trip exactly through callbacks,
//! and `fetch` done by the host. (The engine-independent tests run on it
//! too: `OUTRIGGER_TEST_ENGINE=quickjs`, see scripts/test.sh.)
#![cfg(feature = "quickjs")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use outrigger::{CallContext, Engine, Error, Pool, PoolBuilder, Sandbox, Script};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn builder() -> PoolBuilder {
    // A program that does not exist: nothing here may need one.
    Pool::builder()
        .engine(Engine::QuickJs)
        .node("/nonexistent/node")
        .workers(1)
        .timeout(Duration::from_secs(10))
}

/// What scripts call back in these tests.
struct Probe {
    calls: AtomicUsize,
}

#[outrigger::callbacks]
impl Probe {
    /// Gives back what it gets.
    async fn echo(&self, value: serde_json::Value) -> serde_json::Value {
        self.calls.fetch_add(1, Ordering::SeqCst);
        value
    }

    /// Waits on the host's timer, then answers.
    async fn later(&self, ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }

    /// Panics.
    async fn explode(&self) -> u64 {
        panic!("the callback exploded");
    }

    /// Waits until its run ends, and counts that it saw it.
    async fn wait_for_end(&self, ctx: CallContext) -> u64 {
        ctx.cancelled().await;
        self.calls.fetch_add(100, Ordering::SeqCst);
        0
    }
}

fn probe() -> Probe {
    Probe {
        calls: AtomicUsize::new(0),
    }
}

#[tokio::test]
async fn builds_and_runs_with_no_engine_program() {
    let pool = builder().workers(2).build().await.unwrap();
    assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
    let out = pool
        .run(Script::module("console.log('hi'); host.emit('step', 1); export default await Promise.resolve(input * 2);").global("input", 21))
        .await
        .unwrap();
    assert_eq!(out.value, 42);
    assert_eq!(out.logs[0].message(), "hi");
    assert_eq!(out.events[0].name, "step");
    assert_eq!(pool.stats().workers, 2);
    // Each worker is a thread of this process.
    for tid in pool.worker_pids() {
        assert!(
            std::path::Path::new(&format!("/proc/self/task/{tid}")).exists(),
            "{tid}"
        );
    }
}

#[tokio::test]
async fn the_interrupt_stops_a_loop_and_the_engine_goes_on() {
    let pool = builder().build().await.unwrap();
    let tid = pool.worker_pids()[0];
    for code in [
        "while (true) {}",
        // After an await, in a job of the engine's queue.
        "Promise.resolve().then(() => { while (true) {} })",
        // `catch` cannot keep it going.
        "for (;;) { try { while (true) {} } catch (e) {} }",
    ] {
        let started = Instant::now();
        let error = pool
            .run(Script::expression(code).timeout(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{code}: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{code}");
        assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2, "{code}");
    }
    assert_eq!(pool.worker_pids(), vec![tid], "the same engine serves");
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn dropping_a_looping_run_frees_its_engine_at_once() {
    let pool = builder()
        .timeout(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let looping = pool.run(Script::expression("while (true) {}"));
    assert!(tokio::time::timeout(Duration::from_millis(100), looping)
        .await
        .is_err());
    let started = Instant::now();
    assert_eq!(pool.eval::<i64>("3").await.unwrap(), 3);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn a_runaway_allocation_ends_in_a_limit_naming_the_setting() {
    let pool = builder()
        .sandbox(Sandbox::strict().max_memory_mb(64))
        .build()
        .await
        .unwrap();
    for code in [
        "const hoard = []; while (true) hoard.push('x'.repeat(100000) + hoard.length);",
        "new ArrayBuffer(1024 * 1024 * 1024)",
        "const a = []; for (;;) a.push({ n: a.length, s: [1, 2, 3] });",
    ] {
        let error = pool.eval::<serde_json::Value>(code).await.unwrap_err();
        assert!(
            matches!(&error, Error::Limit(message) if message.contains("Sandbox::max_memory_mb")),
            "{code}: {error:?}"
        );
        // Its memory went with its context: the next run has room.
        assert_eq!(pool.eval::<String>("'ok'.repeat(2)").await.unwrap(), "okok");
    }
    assert_eq!(pool.stats().restarts, 0);
    let memory = pool.stats().per_worker[0].memory;
    assert!(memory < 64 * 1024 * 1024, "{memory}");
}

#[tokio::test]
async fn a_stack_overflow_is_a_script_error() {
    let pool = builder().build().await.unwrap();
    for code in [
        "function f() { return f() + 1; } f()",
        "const deep = (n) => n === 0 ? [] : [deep(n - 1)]; JSON.stringify(deep(1e6))",
        "JSON.parse('['.repeat(1e6))",
    ] {
        let error = pool.eval::<serde_json::Value>(code).await.unwrap_err();
        assert!(
            matches!(&error, Error::Script { name, .. } if name == "RangeError" || name == "SyntaxError" || name == "InternalError"),
            "{code}: {error:?}"
        );
    }
    assert_eq!(pool.eval::<i64>("7").await.unwrap(), 7);
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn a_panicking_callback_fails_its_call_only() {
    let pool = builder().callbacks(probe()).build().await.unwrap();
    let error = pool.eval::<u64>("host.explode()").await.unwrap_err();
    assert!(
        matches!(&error, Error::Script { message, .. } if message.contains("the callback exploded")),
        "{error:?}"
    );
    let caught: String = pool
        .eval("host.explode().catch((e) => `${e.code}: ${e.message}`)")
        .await
        .unwrap();
    assert!(
        caught.starts_with("-32005: callback `explode` panicked"),
        "{caught}"
    );
    assert_eq!(pool.eval::<u64>("host.later({ ms: 5 })").await.unwrap(), 5);
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn an_ended_engine_thread_is_replaced_and_its_runs_told() {
    let pool = builder()
        .timeout(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let old = pool.worker_pids()[0];
    let looping = common::spawn_eval(&pool, "while (true) {}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    pool.kill_worker(0).unwrap();
    let error = looping.await.unwrap().unwrap_err();
    assert!(
        matches!(error, Error::WorkerExited { pid, .. } if pid == old),
        "{error:?}"
    );
    assert!(
        common::eventually(Duration::from_secs(5), || pool
            .worker_pids()
            .first()
            .is_some_and(|&p| p != old))
        .await
    );
    assert_eq!(pool.eval::<i64>("4").await.unwrap(), 4);
    assert!(
        !std::path::Path::new(&format!("/proc/self/task/{old}")).exists(),
        "the thread ended"
    );
}

#[tokio::test]
async fn callbacks_are_polled_on_the_engine_thread_and_end_with_their_run() {
    let pool = builder().callbacks(probe()).build().await.unwrap();
    // Many at once, each waiting on the host's timers.
    let total: u64 = pool
        .eval("Promise.all(Array.from({ length: 50 }, (_, i) => host.later({ ms: i % 5 }))).then((a) => a.reduce((x, y) => x + y, 0))")
        .await
        .unwrap();
    assert_eq!(total, 100);
    // A run that times out drops the calls it waits for.
    let error = pool
        .run(Script::expression("host.waitForEnd()").timeout(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

#[tokio::test]
async fn runs_from_many_tasks_spread_over_engine_threads_up_to_the_queue_bound() {
    let pool = builder()
        .workers(2)
        .max_in_flight_per_worker(2)
        .queue_bound(4)
        .build()
        .await
        .unwrap();
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.eval::<i64>("new Promise((r) => setTimeout(() => r(1), 200))")
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let queued: Vec<_> = (0..4).map(|_| common::spawn_eval(&pool, "2")).collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(
        pool.eval::<i64>("3").await,
        Err(Error::Overloaded { bound: 4 })
    ));
    for run in slow {
        assert_eq!(run.await.unwrap().unwrap(), 1);
    }
    for run in queued {
        assert_eq!(run.await.unwrap().unwrap(), 2);
    }
    let stats = pool.stats();
    assert!(stats.per_worker.iter().all(|w| w.runs > 0), "{stats:?}");
}

#[tokio::test]
async fn fetch_goes_through_the_host_within_the_allowlist() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for _ in 0..2 {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let n = socket.read(&mut request).await.unwrap();
            let request = String::from_utf8_lossy(&request[..n]).into_owned();
            let response = if request.starts_with("GET /redirect") {
                "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n"
                    .to_owned()
            } else {
                let body = r#"{"ok":true}"#;
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            };
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    let pool = builder()
        .sandbox(Sandbox::strict().allow_fetch(origin.clone()))
        .build()
        .await
        .unwrap();
    let body: serde_json::Value = pool
        .eval(&format!("fetch('{origin}/data').then((r) => r.json())"))
        .await
        .unwrap();
    assert_eq!(body, serde_json::json!({ "ok": true }));
    // Redirects are followed by the host, each target checked.
    let error = pool
        .eval::<serde_json::Value>(&format!("fetch('{origin}/redirect')"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Script { message, .. } if message.contains("Sandbox::allow_fetch")),
        "{error:?}"
    );
    for url in ["https://example.com/", "http://127.0.0.1:1/"] {
        let error = pool
            .eval::<serde_json::Value>(&format!("fetch('{url}')"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Denied { setting, .. } if setting == "Sandbox::allow_fetch"),
            "{url}: {error:?}"
        );
    }
}

#[test]
fn values_round_trip_exactly_through_callbacks() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pool = runtime
        .block_on(builder().callbacks(probe()).build())
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(&common::json_value(), |value| {
            // Rust → JS (a global) → Rust (a callback's params) → JS → Rust.
            let script = Script::expression("host.echo({ value: input })").global("input", &value);
            let out = runtime.block_on(pool.run(script)).unwrap();
            prop_assert_eq!(out.value, value);
            Ok(())
        })
        .unwrap();
}
