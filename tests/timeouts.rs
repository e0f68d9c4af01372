//! Timeouts cover the whole run; cancelled runs stop in JavaScript; the pool
//! keeps serving.

mod common;

use std::time::Duration;

use outrigger::{Error, Script};

#[tokio::test]
async fn a_synchronous_loop_times_out_and_the_pool_keeps_serving() {
    let pool = common::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let error = pool.eval::<i64>("while (true) {}").await.unwrap_err();
    assert!(
        matches!(error, Error::Timeout { after } if after == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2);
    // The engine's own watchdog stopped the loop: no worker was replaced.
    assert_eq!(pool.stats().restarts, 0);
    assert_eq!(pool.stats().workers, 2);
}

#[tokio::test]
async fn a_looping_module_times_out_and_the_pool_keeps_serving() {
    let pool = common::builder()
        .timeout(Duration::from_millis(300))
        .cancel_grace(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let error = pool
        .run(Script::module("while (true) {}\nexport default 1;"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Timeout { after } if after == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2);
    // Node's and QuickJS's watchdogs stop the loop; Deno's `vm` ignores a
    // module's timeout, so the host ends that worker after the cancel grace
    // and starts another (docs/ENGINES.md).
    let restarts = if common::deno() { 1 } else { 0 };
    let settled =
        common::eventually(Duration::from_secs(5), || pool.stats().restarts == restarts).await;
    assert!(settled, "{:?}", pool.stats());
    assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
}

#[tokio::test]
async fn a_promise_that_never_resolves_times_out() {
    let pool = common::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let error = pool.eval::<i64>("new Promise(() => {})").await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    let error = pool
        .run(Script::module(
            "await new Promise(() => {}); export default 1;",
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(pool.eval::<i64>("3").await.unwrap(), 3);
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn a_per_run_timeout_overrides_the_default() {
    let pool = common::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let error = pool
        .run(Script::expression("new Promise(() => {})").timeout(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Timeout { after } if after == Duration::from_millis(100)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_loop_after_an_await_gets_its_worker_replaced() {
    node_only!("a process is replaced; QuickJS's interrupt ends the loop (tests/quickjs.rs)");
    // The engine's watchdog only covers the synchronous start of a run; a
    // loop in a later microtask is ended by replacing the worker.
    let pool = common::builder()
        .timeout(Duration::from_millis(200))
        .cancel_grace(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let error = pool
        .run(Script::module("await null; while (true) {}"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(
        common::eventually(Duration::from_secs(10), || pool.stats().restarts == 1
            && pool.stats().workers == 2)
        .await,
        "the stuck worker is replaced: {:?}",
        pool.stats()
    );
    for n in 0..10 {
        assert_eq!(pool.eval::<i64>(&format!("{n} + 1")).await.unwrap(), n + 1);
    }
}

#[tokio::test]
async fn the_signal_aborts_when_the_run_times_out() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let session = pool.session().await.unwrap();
    let error = session
        .run(
            Script::module(
                "await new Promise((resolve) => signal.addEventListener('abort', () => { globalThis.reason = signal.reason.name; resolve(); }));\nawait new Promise(() => {});",
            )
            .timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    let reason: String = session.eval("reason").await.unwrap();
    assert_eq!(reason, "TimeoutError");
}

#[tokio::test]
async fn dropping_a_run_cancels_it_in_javascript() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let session = pool.session().await.unwrap();
    session
        .eval::<bool>("globalThis.aborted = false")
        .await
        .unwrap();
    let run = session.run(Script::module(
        "await new Promise((resolve) => signal.addEventListener('abort', () => { globalThis.aborted = true; resolve(); }));\nexport default 'finished';",
    ));
    // Give up on the run after a moment: the future is dropped.
    assert!(tokio::time::timeout(Duration::from_millis(100), run)
        .await
        .is_err());
    let mut aborted = false;
    for _ in 0..100 {
        aborted = session.eval("aborted").await.unwrap();
        if aborted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(aborted, "the script saw its signal abort");
    assert_eq!(pool.stats().in_flight, 0);
}

#[tokio::test]
async fn timers_of_a_finished_run_do_not_keep_running() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let session = pool.session().await.unwrap();
    session.eval::<i64>("globalThis.ticks = 0").await.unwrap();
    // A plain run that leaves an interval behind: its context is disposed.
    let out = pool
        .run(Script::expression(
            "setInterval(() => console.log('tick'), 1); 'returned'",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, "returned");
    assert!(out.logs.is_empty(), "{:?}", out.logs);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pool.worker_stats().await.unwrap()[0].runs, 0);
}

#[tokio::test]
async fn trusted_code_that_loops_after_all_gets_its_worker_replaced() {
    node_only!("the watchdog's trust; QuickJS's interrupt always runs (tests/quickjs.rs)");
    let pool = common::builder()
        .workers(1)
        .timeout(Duration::from_millis(300))
        .cancel_grace(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let script = |spin: bool| {
        Script::expression("if (spin) { while (true) {} } 'quick'").global("spin", spin)
    };
    // Three quick runs under the watchdog earn the script's trust.
    for _ in 0..3 {
        assert_eq!(pool.run(script(false)).await.unwrap().value, "quick");
    }
    let error = pool.run(script(true)).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(
        common::eventually(Duration::from_secs(10), || pool.stats().restarts == 1
            && pool.stats().workers == 1)
        .await,
        "{:?}",
        pool.stats()
    );
    assert_eq!(pool.run(script(false)).await.unwrap().value, "quick");
}

#[tokio::test]
async fn with_watchdog_trust_off_every_run_is_guarded() {
    let pool = common::builder()
        .workers(1)
        .timeout(Duration::from_millis(300))
        .watchdog_trust(0)
        .build()
        .await
        .unwrap();
    let script = |spin: bool| {
        Script::expression("if (spin) { while (true) {} } 'quick'").global("spin", spin)
    };
    for _ in 0..5 {
        assert_eq!(pool.run(script(false)).await.unwrap().value, "quick");
    }
    let error = pool.run(script(true)).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(pool.eval::<i64>("1").await.unwrap(), 1);
    assert_eq!(pool.stats().restarts, 0);
}
