//! Calling exported functions of modules loaded once.

mod common;

use outrigger::{Error, Script};
use serde_json::json;

const MINI_APP: &str = r#"
let calls = 0;
export async function work(input) {
  calls++;
  console.log("working on", input.items.length, "items");
  await new Promise((r) => setTimeout(r, 1));
  return { total: input.items.reduce((a, b) => a + b, 0) };
}
export function format(result) {
  return `total: ${result.total}`;
}
export function stats() {
  return { calls };
}
export function fail() {
  throw new RangeError("out of range");
}
export const version = 3;
"#;

#[tokio::test]
async fn a_loaded_module_is_called_many_times() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let app = pool.load_module("mini-app.mjs", MINI_APP).await.unwrap();
    let mut exports = app.exports().to_vec();
    exports.sort();
    assert_eq!(exports, ["fail", "format", "stats", "version", "work"]);
    for n in 1..=5 {
        let result: serde_json::Value = app
            .call("work", (json!({ "items": [n, n] }),))
            .await
            .unwrap();
        assert_eq!(result, json!({ "total": 2 * n }));
        let text: String = app.call("format", (result,)).await.unwrap();
        assert_eq!(text, format!("total: {}", 2 * n));
    }
    // The module's state lives across calls.
    let stats: serde_json::Value = app.call("stats", ()).await.unwrap();
    assert_eq!(stats, json!({ "calls": 5 }));
    // Calls carry their own logs.
    let output = app
        .call_output("work", (json!({ "items": [1, 2, 3] }),))
        .await
        .unwrap();
    assert_eq!(
        output.logs.iter().map(|l| l.message()).collect::<Vec<_>>(),
        ["working on 3 items"]
    );
}

#[tokio::test]
async fn call_errors_are_typed() {
    let pool = common::pool().await;
    let app = pool.load_module("mini-app.mjs", MINI_APP).await.unwrap();
    match app.call::<serde_json::Value>("fail", ()).await.unwrap_err() {
        Error::Script {
            name,
            message,
            script,
            line,
            ..
        } => {
            assert_eq!(
                (name.as_str(), message.as_str(), script.as_str()),
                ("RangeError", "out of range", "mini-app.mjs")
            );
            assert_eq!(line, Some(16));
        }
        other => panic!("unexpected {other:?}"),
    }
    match app
        .call::<serde_json::Value>("missing", ())
        .await
        .unwrap_err()
    {
        Error::NotFound(message) => {
            assert!(
                message.contains("\"missing\"") && message.contains("work"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let error = app
        .call::<serde_json::Value>("version", ())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    let error = app
        .call::<serde_json::Value>("work", json!({ "items": [] }))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(m) if m.contains("tuple")),
        "{error:?}"
    );
    // The module still works.
    let text: String = app.call("format", (json!({ "total": 1 }),)).await.unwrap();
    assert_eq!(text, "total: 1");
}

#[tokio::test]
async fn a_module_that_fails_to_load_is_a_script_error() {
    let pool = common::pool().await;
    let error = pool
        .load_module("bad.mjs", "export const a = ;")
        .await
        .unwrap_err();
    // Deno's `vm` reports syntax errors without their place (docs/ENGINES.md).
    let line = if common::deno() { None } else { Some(1) };
    assert!(
        matches!(&error, Error::Script { name, line: l, .. } if name == "SyntaxError" && *l == line),
        "{error:?}"
    );
    let error = pool
        .load_module("throws.mjs", "throw new Error('at load');")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Script { message, .. } if message == "at load"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_replacement_worker_loads_the_pools_modules() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let app = pool.load_module("mini-app.mjs", MINI_APP).await.unwrap();
    let old = pool.kill_worker(0).unwrap();
    let mut text = String::new();
    for _ in 0..200 {
        match app.call::<String>("format", (json!({ "total": 9 }),)).await {
            Ok(value) => {
                text = value;
                break;
            }
            Err(Error::WorkerExited { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(text, "total: 9");
    assert_ne!(pool.worker_pids(), vec![old]);
}

#[tokio::test]
async fn a_session_module_sees_the_sessions_globals() {
    let pool = common::pool().await;
    let session = pool.session().await.unwrap();
    session
        .run(Script::expression("globalThis.prefix = '>> '"))
        .await
        .unwrap();
    let module = session
        .load_module("fmt.mjs", "export function show(x) { globalThis.shown = (globalThis.shown ?? 0) + 1; return prefix + x; }")
        .await
        .unwrap();
    assert_eq!(module.call::<String>("show", ("a",)).await.unwrap(), ">> a");
    assert_eq!(module.call::<String>("show", ("b",)).await.unwrap(), ">> b");
    assert_eq!(session.eval::<i64>("shown").await.unwrap(), 2);
}

#[tokio::test]
async fn dropping_a_module_unloads_it() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let app = pool.load_module("mini-app.mjs", MINI_APP).await.unwrap();
    assert_eq!(pool.worker_stats().await.unwrap()[0].loaded_modules, 1);
    drop(app);
    assert_eq!(pool.worker_stats().await.unwrap()[0].loaded_modules, 0);
}
