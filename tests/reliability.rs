//! Reliability under load and faults: every request answered, nothing leaked,
//! the pool heals. Real workers, faults injected, bounded in time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use outrigger::{Error, Isolation, Script};

#[tokio::test]
async fn workers_are_recycled_after_n_runs_without_failing_a_run() {
    let pool = common::builder()
        .workers(1)
        .recycle_after_runs(25)
        .build()
        .await
        .unwrap();
    let first = pool.worker_pids();
    let runs: Vec<_> = (0..200)
        .map(|n| {
            common::spawn_eval(
                &pool,
                format!("new Promise(r => setTimeout(() => r({n}), {n} % 3))"),
            )
        })
        .collect();
    for (n, run) in runs.into_iter().enumerate() {
        assert_eq!(run.await.unwrap().unwrap(), n as i64);
    }
    assert!(
        // The old worker serves until its replacement is up, so a burst may
        // run well past the limit on one worker: at least one recycle.
        common::eventually(Duration::from_secs(30), || pool.stats().exits.recycled >= 1).await,
        "{:?}",
        pool.stats()
    );
    let stats = pool.stats();
    assert_eq!((stats.failed, stats.restarts), (0, 0), "{stats:?}");
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().workers == 1).await);
    assert_ne!(pool.worker_pids(), first);
    assert!(
        !common::process_alive(first[0]),
        "the recycled worker exited"
    );
}

#[tokio::test]
async fn a_recycled_worker_keeps_serving_its_sessions_until_they_close() {
    let pool = common::builder()
        .workers(1)
        .recycle_after_runs(5)
        .build()
        .await
        .unwrap();
    let session = pool.session().await.unwrap();
    let old = pool.worker_pids()[0];
    session.eval::<i64>("globalThis.n = 0").await.unwrap();
    for _ in 0..10 {
        pool.eval::<i64>("1").await.unwrap();
    }
    // Recycling began; the session's state is still there.
    for expected in 1..=5 {
        assert_eq!(session.eval::<i64>("++n").await.unwrap(), expected);
    }
    assert!(common::process_alive(old));
    session.close().await;
    assert!(common::eventually(Duration::from_secs(10), || !common::process_alive(old)).await);
    assert_eq!(pool.eval::<i64>("2").await.unwrap(), 2);
    assert_eq!(pool.stats().failed, 0);
}

#[tokio::test]
async fn a_worker_past_the_heap_limit_is_recycled() {
    let pool = common::builder()
        .workers(1)
        .recycle_above_heap(1)
        .health_check(Duration::from_millis(100), Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().exits.recycled >= 1).await);
    assert_eq!(pool.eval::<i64>("3").await.unwrap(), 3);
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn a_worker_that_stops_answering_pings_is_replaced() {
    let pool = common::builder()
        .workers(1)
        .timeout(Duration::from_secs(3600))
        .health_check(Duration::from_millis(100), Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    // A loop in a microtask: no run timeout will end it in time.
    let error = pool
        .run(Script::module("await null; while (true) {}"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::WorkerExited { reason, .. } if reason.contains("health ping")),
        "{error:?}"
    );
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().workers == 1).await);
    assert_eq!(pool.stats().exits.unhealthy, 1);
    assert_eq!(pool.eval::<i64>("4").await.unwrap(), 4);
}

#[tokio::test]
async fn a_run_may_wait_in_the_queue_only_so_long() {
    let pool = common::builder()
        .workers(1)
        .max_in_flight_per_worker(1)
        .queue_timeout(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let busy = common::spawn_eval(&pool, "new Promise(r => setTimeout(() => r(1), 500))");
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().in_flight == 1).await);
    let error = pool.eval::<i64>("2").await.unwrap_err();
    assert!(
        matches!(error, Error::QueueTimeout { waited } if waited == Duration::from_millis(50)),
        "{error:?}"
    );
    assert_eq!(busy.await.unwrap().unwrap(), 1);
    assert_eq!(pool.stats().queued, 0);
}

/// A script that is busy long enough to be killed under.
fn slow_script() -> Script {
    Script::expression(
        "const started = Date.now(); while (Date.now() - started < 400) {} 'finished'",
    )
}

#[tokio::test]
async fn an_idempotent_run_is_retried_when_its_worker_dies() {
    let pool = common::builder()
        .workers(1)
        .watchdog_trust(0)
        .build()
        .await
        .unwrap();
    let killer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            pool.kill_worker(0)
        })
    };
    let out = pool
        .run(slow_script().retry_on_worker_exit(2))
        .await
        .unwrap();
    assert_eq!(out.value, "finished");
    assert!(killer.await.unwrap().is_some());
    assert_eq!(pool.stats().restarts, 1);

    // Not retried unless asked.
    let killer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            assert!(
                common::eventually(Duration::from_secs(10), || pool.stats().workers == 1).await
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
            pool.kill_worker(0)
        })
    };
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().workers == 1).await);
    let error = pool.run(slow_script()).await.unwrap_err();
    assert!(matches!(error, Error::WorkerExited { .. }), "{error:?}");
    killer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_workers_again_and_again_under_load_leaves_no_run_hanging() {
    node_only!("SIGKILL to worker processes");
    // What is asked is that every run ends (within the two minutes below),
    // with its value or `WorkerExited`: 10,000 runs on two workers that keep
    // restarting, on a machine busy with other tests, can keep the last of
    // them waiting past the usual 10 s, which would end it with `Timeout`.
    let pool = common::builder()
        .workers(2)
        .isolation(Isolation::Worker)
        .timeout(Duration::from_secs(90))
        .build()
        .await
        .unwrap();
    let ok = Arc::new(AtomicUsize::new(0));
    let exited = Arc::new(AtomicUsize::new(0));
    let mut pids_seen = std::collections::BTreeSet::new();
    let runs: Vec<_> = (0..10_000)
        .map(|n| {
            let (pool, ok, exited) = (pool.clone(), ok.clone(), exited.clone());
            tokio::spawn(async move {
                match pool
                    .eval::<i64>(&format!("new Promise(r => setTimeout(() => r({n}), 1))"))
                    .await
                {
                    Ok(value) => {
                        assert_eq!(value, n);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Error::WorkerExited { .. }) => {
                        exited.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(other) => panic!("run {n} ended with {other:?}"),
                }
            })
        })
        .collect();
    // SIGKILL a random worker every few milliseconds while the runs are in flight.
    let mut seed = 0x2545_f491_u64;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pids = pool.worker_pids();
        pids_seen.extend(pids.iter().copied());
        if let Some(&pid) = pids.get(seed as usize % pids.len().max(1)) {
            // SAFETY: kill(2) on a pid we own.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        for run in runs {
            run.await.unwrap();
        }
    })
    .await;
    assert!(all.is_ok(), "some runs never ended");
    assert_eq!(
        ok.load(Ordering::Relaxed) + exited.load(Ordering::Relaxed),
        10_000
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    assert!(
        common::eventually(Duration::from_secs(20), || pool.stats().workers == 2).await,
        "{:?}",
        pool.stats()
    );
    assert!(pool.stats().restarts > 0);
    pids_seen.extend(pool.worker_pids());
    drop(pool);
    assert!(
        common::eventually(Duration::from_secs(5), || pids_seen
            .iter()
            .all(|&p| !common::process_alive(p)))
        .await,
        "node processes left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_queue_bound_is_refused_at_once_and_the_rest_completes() {
    let pool = common::builder()
        .workers(2)
        .isolation(Isolation::Worker)
        .max_in_flight_per_worker(32)
        .queue_bound(1_000)
        .build()
        .await
        .unwrap();
    let ok = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let max_queued = Arc::new(AtomicUsize::new(0));
    let runs: Vec<_> = (0..100_000)
        .map(|n| {
            let (pool, ok, refused, max_queued) = (
                pool.clone(),
                ok.clone(),
                refused.clone(),
                max_queued.clone(),
            );
            tokio::spawn(async move {
                match pool.eval::<i64>("1 + 1").await {
                    Ok(2) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Error::Overloaded { bound: 1_000 }) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("run {n} ended with {other:?}"),
                }
                max_queued.fetch_max(pool.stats().queued, Ordering::Relaxed);
            })
        })
        .collect();
    for run in runs {
        run.await.unwrap();
    }
    let (ok, refused) = (ok.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
    assert_eq!(ok + refused, 100_000);
    assert!(refused > 0 && ok >= 1_000, "ok {ok}, refused {refused}");
    assert!(max_queued.load(Ordering::Relaxed) <= 1_000);
    let stats = pool.stats();
    assert_eq!(
        (stats.in_flight, stats.queued, stats.completed),
        (0, 0, ok as u64)
    );
}

#[tokio::test]
async fn running_out_of_heap_ends_the_run_and_the_next_one_succeeds() {
    node_only!("V8's heap limit (QuickJS's bound: tests/quickjs.rs)");
    not_on_bun!(
        "JavaScriptCore has no heap limit (Bun's runs are bounded by Sandbox::max_memory_mb)"
    );
    let pool = common::builder()
        .workers(1)
        .node_arg(if common::deno() {
            "--v8-flags=--max-old-space-size=48"
        } else {
            "--max-old-space-size=48"
        })
        .build()
        .await
        .unwrap();
    let error = pool
        .run(Script::expression(
            "const hoard = []; while (true) hoard.push(new Array(100000).fill(hoard.length));",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Limit(message) if message.contains("JavaScript heap reached its limit")),
        "{error:?}"
    );
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().workers == 1).await);
    assert_eq!(pool.eval::<i64>("5").await.unwrap(), 5);
    assert_eq!(pool.stats().exits.memory, 1);
}

#[tokio::test]
async fn a_result_of_100_mb_is_refused_with_a_limit_error() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let error = pool
        .eval::<String>("'x'.repeat(100 * 1024 * 1024)")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Limit(message) if message.contains("over the limit")),
        "{error:?}"
    );
    assert_eq!(pool.eval::<i64>("6").await.unwrap(), 6);
}

#[tokio::test]
async fn ten_thousand_console_lines_in_one_run_all_arrive() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let out = pool
        .run(Script::expression(
            "for (let i = 0; i < 10000; i++) console.log('line', i); 'done'",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, "done");
    assert_eq!(out.logs.len(), 10_000);
    assert_eq!(out.logs[9_999].message(), "line 9999");
}

#[tokio::test]
async fn stats_carry_latency_and_queue_wait_histograms_and_per_worker_counts() {
    let pool = common::builder()
        .workers(1)
        .max_in_flight_per_worker(1)
        .build()
        .await
        .unwrap();
    let runs: Vec<_> = (0..20)
        .map(|n| {
            common::spawn_eval(
                &pool,
                format!("new Promise(r => setTimeout(() => r({n}), 5))"),
            )
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let stats = pool.stats();
    assert_eq!(stats.latency.count(), 20);
    assert!(
        stats.latency.p50() >= Duration::from_millis(4),
        "{:?}",
        stats.latency
    );
    assert!(
        stats.latency.max() >= stats.latency.p99() && stats.latency.p99() >= stats.latency.p50()
    );
    // With one run at a time, most of them waited in the queue.
    assert!(stats.queue_wait.count() >= 10, "{:?}", stats.queue_wait);
    assert!(
        stats.queue_wait.max() >= Duration::from_millis(5),
        "{:?}",
        stats.queue_wait
    );
    assert_eq!(stats.per_worker.len(), 1);
    assert_eq!(
        (stats.per_worker[0].runs, stats.per_worker[0].in_flight),
        (20, 0)
    );
    assert_eq!(stats.per_worker[0].pid, pool.worker_pids()[0]);
}

#[tokio::test]
async fn the_pool_grows_under_load_and_shrinks_when_idle() {
    let pool = common::builder()
        .workers(1)
        .max_workers(3)
        .max_in_flight_per_worker(1)
        .idle_timeout(Duration::from_millis(300))
        .health_check(Duration::from_millis(100), Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    assert_eq!(pool.stats().workers, 1);
    let runs: Vec<_> = (0..30)
        .map(|n| {
            common::spawn_eval(
                &pool,
                format!("new Promise(r => setTimeout(() => r({n}), 30))"),
            )
        })
        .collect();
    let mut peak = 0;
    for (n, run) in runs.into_iter().enumerate() {
        peak = peak.max(pool.stats().workers);
        assert_eq!(run.await.unwrap().unwrap(), n as i64);
    }
    assert!(
        common::eventually(Duration::from_secs(10), || pool.stats().workers == 3).await
            || peak == 3,
        "grew to {peak}"
    );
    // Idle again: back to the minimum, without counting as restarts.
    assert!(
        common::eventually(Duration::from_secs(10), || pool.stats().workers == 1
            && pool.stats().exits.idle == 2)
        .await,
        "{:?}",
        pool.stats()
    );
    assert_eq!((pool.stats().restarts, pool.stats().failed), (0, 0));
    assert_eq!(pool.eval::<i64>("7").await.unwrap(), 7);
}
