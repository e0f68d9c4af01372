//! No head-of-line blocking: a worker stuck in synchronous code gets no new
//! runs, the runs it never read go to another worker (never twice), the pool
//! grows when every worker is stuck, and a worker a finished run left
//! spinning is found and replaced before it costs a later run its deadline.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outrigger::{Error, Pool, Script};

/// Starts `script` in a task of its own and raises the flag when it ends.
fn start_blocker(
    pool: &Pool,
    script: Script,
) -> (
    tokio::task::JoinHandle<outrigger::Result<()>>,
    Arc<AtomicBool>,
) {
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        let outcome = pool.run(script).await.map(drop);
        flag.store(true, Ordering::SeqCst);
        outcome
    });
    (task, ended)
}

/// Sends 20 quick evals at once; returns how many answered while the
/// blocker was still running, and checks every one answered right.
async fn quick_runs_before(pool: &Pool, blocker_ended: &Arc<AtomicBool>) -> usize {
    let runs: Vec<_> = (0..20)
        .map(|i| {
            let pool = pool.clone();
            let ended = blocker_ended.clone();
            tokio::spawn(async move {
                let value: i64 = pool
                    .eval(&format!("{i} + 1"))
                    .await
                    .expect("a quick run answers");
                assert_eq!(value, i + 1);
                !ended.load(Ordering::SeqCst)
            })
        })
        .collect();
    let mut before = 0;
    for run in runs {
        if run.await.unwrap() {
            before += 1;
        }
    }
    before
}

async fn assert_no_head_of_line_blocking(pool: Pool, blocker: Script) {
    let (blocker, ended) = start_blocker(&pool, blocker);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = quick_runs_before(&pool, &ended).await;
    assert!(
        before >= 19,
        "only {before} of 20 quick runs answered before the loop ended"
    );
    let outcome = blocker.await.unwrap();
    assert!(
        matches!(
            outcome,
            Err(Error::Timeout { .. } | Error::WorkerExited { .. })
        ),
        "{outcome:?}"
    );
    let stats = pool.stats();
    assert!(stats.blocked > Duration::ZERO, "{stats:?}");
    // The pool serves afterwards.
    assert_eq!(pool.eval::<i64>("40 + 2").await.unwrap(), 42);
}

fn pool_with_timeout() -> outrigger::PoolBuilder {
    common::builder().timeout(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_script_does_not_hold_up_the_runs_behind_it() {
    let pool = pool_with_timeout().build().await.unwrap();
    assert_no_head_of_line_blocking(pool, Script::expression("while (true) {}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_module_does_not_hold_up_the_runs_behind_it() {
    let pool = pool_with_timeout().build().await.unwrap();
    assert_no_head_of_line_blocking(pool, Script::module("while (true) {}\nexport default 1;"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_after_an_await_does_not_hold_up_the_runs_behind_it() {
    let pool = pool_with_timeout().build().await.unwrap();
    let blocker = Script::module(
        "await new Promise((r) => setTimeout(r, 10));\nwhile (true) {}\nexport default 1;",
    );
    assert_no_head_of_line_blocking(pool, blocker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_in_an_exported_function_does_not_hold_up_the_runs_behind_it() {
    let pool = pool_with_timeout().build().await.unwrap();
    let module = pool
        .load_module("spin", "export function spin() { while (true) {} }")
        .await
        .unwrap();
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    let call = tokio::spawn(async move {
        let outcome = module.call::<serde_json::Value>("spin", ()).await;
        flag.store(true, Ordering::SeqCst);
        outcome
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = quick_runs_before(&pool, &ended).await;
    assert!(
        before >= 19,
        "only {before} of 20 quick runs answered before the loop ended"
    );
    assert!(call.await.unwrap().is_err());
}

/// A local HTTP server that counts `GET /mark/<id>` by id: a side effect a
/// run has outside the pool, which a run executed twice would make twice.
fn mark_server() -> (String, Arc<Mutex<BTreeMap<u64, u32>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let marks = Arc::new(Mutex::new(BTreeMap::new()));
    let seen = marks.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            if let Some(id) = request_line
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/mark/"))
                .and_then(|id| id.parse::<u64>().ok())
            {
                *seen.lock().unwrap().entry(id).or_default() += 1;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (origin, marks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_blocked_worker_never_read_go_elsewhere_once_and_the_pool_grows() {
    not_on_bun!("Bun reads its channel while a script spins, so runs sent to a blocked worker are read and cannot be taken back");
    let (origin, marks) = mark_server();
    let pool = common::builder()
        .workers(1)
        .max_workers(2)
        .timeout(Duration::from_secs(3))
        .sandbox(common::sandbox(
            outrigger::Sandbox::strict().allow_fetch(origin.clone()),
        ))
        .build()
        .await
        .unwrap();
    let (blocker, ended) = start_blocker(
        &pool,
        Script::expression("while (true) {}").timeout(Duration::from_secs(2)),
    );
    // Sent to the only worker before it is found blocked: it never reads them.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let runs: Vec<_> = (0..10u64)
        .map(|id| {
            let pool = pool.clone();
            let ended = ended.clone();
            let origin = origin.clone();
            tokio::spawn(async move {
                let script = Script::module(format!(
                    "await fetch('{origin}/mark/{id}');\nexport default {id};"
                ));
                let out = pool.run(script).await.expect("a moved run answers");
                assert_eq!(out.value, id);
                !ended.load(Ordering::SeqCst)
            })
        })
        .collect();
    let mut before = 0;
    for run in runs {
        before += usize::from(run.await.unwrap());
    }
    assert_eq!(before, 10, "every run answered before the loop ended");
    assert!(matches!(blocker.await.unwrap(), Err(Error::Timeout { .. })));
    // The blocked worker now reads what it was sent, and must refuse it:
    // these runs reach it only after it has.
    for _ in 0..20 {
        pool.eval::<i64>("1").await.unwrap();
    }
    let stats = pool.stats();
    assert!(stats.moved >= 1, "{stats:?}");
    // The only worker was blocked while they ran: the pool grew for them.
    let grew = common::eventually(Duration::from_secs(3), || pool.stats().workers == 2).await;
    assert!(grew, "{:?}", pool.stats());
    let seen = marks.lock().unwrap().clone();
    assert_eq!(
        seen,
        (0..10).map(|id| (id, 1)).collect(),
        "every run ran exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_left_spinning_by_a_finished_run_costs_no_later_run_its_deadline() {
    not_on_bun!("Bun reads its channel while a script spins, so runs sent to a blocked worker are read and cannot be taken back");
    let pool = common::builder()
        .timeout(Duration::from_secs(2))
        .hang_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let value: i64 = pool
        .eval("queueMicrotask(() => (async () => { while (true) await null; })()); 1")
        .await
        .unwrap();
    assert_eq!(value, 1);
    for i in 0..8 {
        let out = pool
            .run(Script::expression(format!("{i} * 2")).timeout(Duration::from_secs(1)))
            .await
            .expect("no later run misses its deadline");
        assert_eq!(out.value, i * 2);
    }
    let replaced =
        common::eventually(Duration::from_secs(5), || pool.stats().exits.unhealthy == 1).await;
    assert!(replaced, "{:?}", pool.stats());
    assert_eq!(pool.eval::<i64>("6 * 7").await.unwrap(), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_only_waits_is_not_taken_for_blocked() {
    // The wait (400 ms) is far longer than `blocked_after`: only the
    // worker's heartbeats keep it from reading as blocked. The setting is
    // loose enough that a heartbeat late under a loaded test machine is
    // not a spell.
    let pool = common::builder()
        .workers(1)
        .blocked_after(Duration::from_millis(150))
        .build()
        .await
        .unwrap();
    let waiting = {
        let pool = pool.clone();
        let script =
            Script::module("await new Promise((r) => setTimeout(r, 400));\nexport default 'done';");
        tokio::spawn(async move { pool.run(script).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The only worker is busy waiting, not blocked: a run goes straight to it.
    assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
    assert_eq!(waiting.await.unwrap().unwrap().value, "done");
    let stats = pool.stats();
    assert_eq!(
        (stats.blocked, stats.moved),
        (Duration::ZERO, 0),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_moved_back_and_forth_between_busy_workers_all_answer() {
    not_on_bun!("Bun reads its channel while a script spins, so runs sent to a blocked worker are read and cannot be taken back");
    // A short `blocked_after`, so that both workers read as blocked again
    // and again: runs go back and forth between them.
    let pool = common::builder()
        .blocked_after(Duration::from_millis(4))
        .build()
        .await
        .unwrap();
    for round in 0..4 {
        // Both workers take turns being busy for a while, with distinct
        // scripts (sent with their source) queued behind them.
        let runs: Vec<_> = (0..60)
            .map(|i| {
                let pool = pool.clone();
                let code = if i % 5 == 0 {
                    format!(
                        "const t = Date.now(); while (Date.now() - t < {}) {{}} 0",
                        10 + i % 30
                    )
                } else {
                    format!("{round} * 1000 + {i}")
                };
                tokio::spawn(async move { (i, pool.eval::<i64>(&code).await) })
            })
            .collect();
        for run in runs {
            let (i, outcome) = run.await.unwrap();
            let value = outcome.unwrap_or_else(|e| panic!("run {i} of round {round}: {e:?}"));
            if i % 5 != 0 {
                assert_eq!(value, round * 1000 + i);
            }
        }
    }
    assert!(pool.stats().moved > 0, "{:?}", pool.stats());
}

#[tokio::test(flavor = "current_thread")]
async fn a_run_queued_while_the_host_was_not_reading_goes_out_when_it_reads_again() {
    // One worker, busy with a run that waits (its heartbeats keep it from
    // reading as blocked) while the host's only thread is held up: when the
    // host runs again, the worker looks silent, so a new run queues. It must
    // go out as soon as the worker is read again, not when the long run ends.
    let pool = common::builder().workers(1).build().await.unwrap();
    let long = pool
        .start(Script::module(
            "await new Promise((r) => setTimeout(r, 3000)); export default 'long';",
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::thread::sleep(Duration::from_millis(400));
    let quick = tokio::time::timeout(Duration::from_millis(2000), pool.eval::<i64>("1 + 1")).await;
    assert_eq!(
        quick
            .expect("the quick run waited for the long one")
            .unwrap(),
        2
    );
    drop(long);
}
