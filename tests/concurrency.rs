//! Many runs in flight: all answered, each with its own logs, balanced
//! across workers, bounded by the queue.

mod common;

use std::time::Duration;

use outrigger::{Error, Script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_runs_are_all_answered_with_their_own_logs() {
    let pool = common::pool().await;
    let runs: Vec<_> = (0..1000)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let script = Script::module(
                    "console.log('start', id);\nawait new Promise(r => setTimeout(r, id % 7));\nconsole.log('end', id);\nexport default id * 2;",
                )
                .global("id", n);
                (n, pool.run(script).await)
            })
        })
        .collect();
    each_doubles_its_id_with_its_own_logs(runs, |n| vec![format!("start {n}"), format!("end {n}")])
        .await;
    let stats = pool.stats();
    assert_eq!(
        (stats.completed, stats.failed, stats.in_flight, stats.queued),
        (1000, 0, 0, 0)
    );
}

/// Runs of one shared context interleave at their awaits: each keeps its own
/// logs and signal, whether its asynchronous part starts with a promise, a
/// timer or a microtask, after a synchronous part that logged and started
/// nothing, and with plain synchronous runs of the same context in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_sharing_a_context_keep_their_own_logs_across_awaits() {
    if common::engine() == common::TestEngine::QuickJs {
        // QuickJS has no async context: code after an await counts for the
        // context's latest run (docs/ENGINES.md, "runs sharing a context").
        return;
    }
    let pool = common::shared_context_pool().await;
    let starts = [
        "await new Promise((r) => setTimeout(r, id % 5))",
        "await null",
        "await new Promise((r) => queueMicrotask(r))",
        "await new Promise((r) => setImmediate(r))",
    ];
    let runs: Vec<_> = (0..200)
        .map(|n| {
            let pool = pool.clone();
            let start = starts[n % starts.len()];
            tokio::spawn(async move {
                let output = if n % 5 == 0 {
                    // Synchronous: nothing of it outlives it.
                    pool.run(Script::expression("console.log('sync', id); id * 2").global("id", n))
                        .await
                } else {
                    // The context's globals are shared too: `id` is read
                    // before any other run can set it again.
                    let code = format!(
                        "(async (id) => {{ console.log('start', id); {start}; \
                         console.log('end', id, signal.aborted); \
                         await new Promise((r) => setTimeout(r, 1)); console.log('last', id); \
                         return id * 2; }})(id)"
                    );
                    pool.run(
                        Script::expression(code)
                            .global("id", n)
                            .name(format!("run{n}.js")),
                    )
                    .await
                };
                (n, output)
            })
        })
        .collect();
    each_doubles_its_id_with_its_own_logs(runs, |n| {
        if n % 5 == 0 {
            vec![format!("sync {n}")]
        } else {
            vec![
                format!("start {n}"),
                format!("end {n} false"),
                format!("last {n}"),
            ]
        }
    })
    .await;
}

/// Awaits runs started with `id` = `n`: each answered `n * 2` and logged
/// exactly `expected(n)`.
async fn each_doubles_its_id_with_its_own_logs(
    runs: Vec<tokio::task::JoinHandle<(usize, outrigger::Result<outrigger::Output>)>>,
    expected: impl Fn(usize) -> Vec<String>,
) {
    for run in runs {
        let (n, output) = run.await.unwrap();
        let output = output.unwrap();
        assert_eq!(output.value, n * 2);
        let messages: Vec<String> = output.logs.iter().map(|l| l.message()).collect();
        assert_eq!(messages, expected(n), "run {n} saw only its own logs");
    }
}

#[tokio::test]
async fn runs_go_to_the_least_busy_worker_and_queue_beyond_the_limit() {
    let pool = common::builder()
        .workers(2)
        .max_in_flight_per_worker(1)
        .build()
        .await
        .unwrap();
    let session = pool.session().await.unwrap();
    session.eval::<i64>("globalThis.gate = 0").await.unwrap();
    let slow = || common::spawn_eval(&pool, "new Promise(r => setTimeout(() => r(1), 300))");
    let a = slow();
    let b = slow();
    // One run on each worker (the session's worker included).
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().in_flight == 2).await);
    assert_eq!(pool.stats().queued, 0);
    let c = slow();
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().queued == 1).await);
    for run in [a, b, c] {
        assert_eq!(run.await.unwrap().unwrap(), 1);
    }
    assert_eq!(pool.stats().queued, 0);
}

#[tokio::test]
async fn beyond_the_queue_bound_runs_are_overloaded_at_once() {
    let pool = common::builder()
        .workers(1)
        .max_in_flight_per_worker(1)
        .queue_bound(2)
        .build()
        .await
        .unwrap();
    let hold = |pool: &outrigger::Pool| {
        common::spawn_eval(pool, "new Promise(r => setTimeout(() => r(1), 200))")
    };
    let running = hold(&pool);
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().in_flight == 1).await);
    let queued = [hold(&pool), hold(&pool)];
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().queued == 2).await);
    let error = pool.eval::<i64>("1").await.unwrap_err();
    assert!(matches!(error, Error::Overloaded { bound: 2 }), "{error:?}");
    assert_eq!(running.await.unwrap().unwrap(), 1);
    for run in queued {
        assert_eq!(run.await.unwrap().unwrap(), 1);
    }
    assert_eq!(pool.eval::<i64>("2").await.unwrap(), 2);
}

#[tokio::test]
async fn a_queued_run_that_is_dropped_gives_up_its_place() {
    let pool = common::builder()
        .workers(1)
        .max_in_flight_per_worker(1)
        .queue_bound(1)
        .build()
        .await
        .unwrap();
    let running = common::spawn_eval(&pool, "new Promise(r => setTimeout(() => r(1), 200))");
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().in_flight == 1).await);
    // Queued, then abandoned.
    assert!(
        tokio::time::timeout(Duration::from_millis(20), pool.eval::<i64>("2"))
            .await
            .is_err()
    );
    assert_eq!(pool.stats().queued, 0);
    // Its place is free again.
    let queued = common::spawn_eval(&pool, "3");
    assert_eq!(running.await.unwrap().unwrap(), 1);
    assert_eq!(queued.await.unwrap().unwrap(), 3);
}

#[tokio::test]
async fn events_stream_before_the_result() {
    let pool = common::pool().await;
    let mut run = pool
        .start(Script::module(
            "for (let i = 1; i <= 3; i++) { host.emit('progress', { i }); await new Promise(r => setTimeout(r, 5)); }\nhost.emit('done');\nexport default 'result';",
        ))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(event) = run.next_event().await {
        seen.push((event.name, event.data));
    }
    assert_eq!(
        seen,
        vec![
            ("progress".to_owned(), serde_json::json!({ "i": 1 })),
            ("progress".to_owned(), serde_json::json!({ "i": 2 })),
            ("progress".to_owned(), serde_json::json!({ "i": 3 })),
            ("done".to_owned(), serde_json::Value::Null),
        ]
    );
    let output = run.output().await.unwrap();
    assert_eq!(output.value, "result");
    assert_eq!(output.events.len(), 4, "the output keeps the events too");
}

#[tokio::test]
async fn an_event_json_cannot_carry_fails_the_emit_call() {
    let pool = common::pool().await;
    let out = pool
        .run(Script::module(
            "let message;\ntry { host.emit('x', { f() {} }); } catch (e) { message = e.message; }\nexport default message;",
        ))
        .await
        .unwrap();
    assert!(
        out.value.as_str().unwrap().contains("is a function"),
        "{:?}",
        out.value
    );
    assert!(out.events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_sent_together_share_reads_and_answers_share_writes() {
    node_only!("reads and writes of a worker's channel");
    let pool = common::builder().workers(1).build().await.unwrap();
    let before = pool.worker_stats().await.unwrap()[0].clone();
    // While the first is in flight, the others queue behind it and go out
    // together; their answers, all due at the same moment, too.
    let due = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 300;
    let runs: Vec<_> = (0..64)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(
                    Script::expression(
                        "new Promise(r => setTimeout(() => r(id), Math.max(0, due - Date.now())))",
                    )
                    .global("id", n)
                    .global("due", due),
                )
                .await
                .map(|out| out.value)
            })
        })
        .collect();
    for (n, run) in runs.into_iter().enumerate() {
        assert_eq!(run.await.unwrap().unwrap(), n);
    }
    let after = pool.worker_stats().await.unwrap()[0].clone();
    let reads = after.reads - before.reads;
    let messages_in = after.messages_in - before.messages_in;
    let writes = after.writes - before.writes;
    let messages_out = after.messages_out - before.messages_out;
    // 64 runs (each with its globals on an attachment line) and the stats request.
    assert!(messages_in >= 129, "{messages_in} messages in");
    assert!(messages_out >= 64, "{messages_out} messages out");
    assert!(
        reads * 4 <= messages_in,
        "{messages_in} messages came in {reads} reads"
    );
    // Timers due at the same moment fire over a few turns of the loop, more
    // of them on a loaded machine: measured 3.5 to 6 answers a write on
    // every engine; one answer a write would mean no sharing at all.
    assert!(
        writes * 3 <= messages_out,
        "{messages_out} messages went out in {writes} writes"
    );
}
