//! Sessions keep one context; plain runs share nothing.

mod common;

use outrigger::{Error, Script};

#[tokio::test]
async fn a_session_keeps_state_across_runs() {
    let pool = common::pool().await;
    let session = pool.session().await.unwrap();
    session
        .run(Script::expression("globalThis.items = []; var counter = 0"))
        .await
        .unwrap();
    for n in 1..=3 {
        let len: usize = session
            .eval(&format!("counter++; items.push({n}); items.length"))
            .await
            .unwrap();
        assert_eq!(len, n);
    }
    not_on_bun!("Bun's `vm` keeps `globalThis.name` of a script's `var` at its first value (docs/ENGINES.md)");
    let out = session
        .run(Script::module(
            "export default { items: globalThis.items, counter: globalThis.counter };",
        ))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        serde_json::json!({ "items": [1, 2, 3], "counter": 3 })
    );
}

#[tokio::test]
async fn plain_runs_do_not_see_each_others_state() {
    let pool = common::builder().workers(1).build().await.unwrap();
    pool.run(Script::expression("globalThis.leak = 'secret'; var leakedVar = 1; Object.prototype.polluted = true; Array.prototype.evil = 1")).await.unwrap();
    let seen: serde_json::Value = pool
        .eval("[typeof leak, typeof leakedVar, ({}).polluted === undefined, [].evil === undefined]")
        .await
        .unwrap();
    assert_eq!(
        seen,
        serde_json::json!(["undefined", "undefined", true, true])
    );
}

#[tokio::test]
async fn sessions_are_isolated_from_each_other_and_from_plain_runs() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let a = pool.session().await.unwrap();
    let b = pool.session().await.unwrap();
    a.eval::<String>("globalThis.owner = 'a'").await.unwrap();
    assert_eq!(b.eval::<String>("typeof owner").await.unwrap(), "undefined");
    assert_eq!(
        pool.eval::<String>("typeof owner").await.unwrap(),
        "undefined"
    );
    assert_eq!(a.eval::<String>("owner").await.unwrap(), "a");
}

#[tokio::test]
async fn a_closed_session_releases_its_context() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let session = pool.session().await.unwrap();
    session.eval::<i64>("globalThis.x = 1").await.unwrap();
    assert_eq!(pool.worker_stats().await.unwrap()[0].sessions, 1);
    session.close().await;
    let dropped = pool.session().await.unwrap();
    drop(dropped);
    let mut sessions = 1;
    for _ in 0..50 {
        sessions = pool.worker_stats().await.unwrap()[0].sessions;
        if sessions == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn a_session_whose_worker_died_says_so() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let session = pool.session().await.unwrap();
    session.eval::<i64>("globalThis.x = 1").await.unwrap();
    pool.kill_worker(0).unwrap();
    match session.eval::<i64>("x").await.unwrap_err() {
        Error::WorkerExited { reason, .. } => assert!(
            reason.contains("state is lost") || reason.contains("killed"),
            "{reason}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    // A new session works on the replacement.
    let fresh = pool.session().await.unwrap();
    assert_eq!(fresh.eval::<String>("typeof x").await.unwrap(), "undefined");
}

#[tokio::test]
async fn a_session_runs_modules_and_logs_per_run() {
    let pool = common::pool().await;
    let session = pool.session().await.unwrap();
    let first = session
        .run(Script::module(
            "console.log('one'); globalThis.n = 1; export default n;",
        ))
        .await
        .unwrap();
    let second = session
        .run(Script::module(
            "console.log('two'); export default globalThis.n + 1;",
        ))
        .await
        .unwrap();
    assert_eq!(
        (first.value.as_i64(), second.value.as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        first.logs.iter().map(|l| l.message()).collect::<Vec<_>>(),
        ["one"]
    );
    assert_eq!(
        second.logs.iter().map(|l| l.message()).collect::<Vec<_>>(),
        ["two"]
    );
}

#[tokio::test]
async fn worker_isolation_shares_one_context_between_plain_runs() {
    let pool = common::shared_context_pool().await;
    pool.run(Script::expression("globalThis.shared = 41"))
        .await
        .unwrap();
    assert_eq!(pool.eval::<i64>("shared + 1").await.unwrap(), 42);
    // Sessions still get contexts of their own.
    let session = pool.session().await.unwrap();
    assert_eq!(
        session.eval::<String>("typeof shared").await.unwrap(),
        "undefined"
    );
}
