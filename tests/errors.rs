//! Bad input gets typed errors, with positions in the user's code.

mod common;

use outrigger::{Error, Pool, Script};

fn script_error(error: Error) -> (String, String, Option<u32>, Option<u32>, Option<String>) {
    match error {
        Error::Script {
            name,
            message,
            line,
            column,
            stack,
            ..
        } => (name, message, line, column, stack),
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[tokio::test]
async fn syntax_errors_in_expressions_have_line_and_column() {
    let pool = common::pool().await;
    let error = pool
        .eval::<i64>("let a = 1;\nlet b = (;")
        .await
        .unwrap_err();
    let text = error.to_string();
    let (name, message, line, column, _) = script_error(error);
    assert_eq!(name, "SyntaxError");
    let expected = common::either("Unexpected token", "unexpected token");
    assert!(message.contains(expected), "{message}");
    not_on_deno!("Deno's `vm` reports syntax errors without their place (docs/ENGINES.md)");
    assert_eq!((line, column), (Some(2), Some(10)));
    assert!(text.contains("script.js:2:10"), "{text}");
}

#[tokio::test]
async fn syntax_errors_in_modules_have_line_and_column() {
    let pool = common::pool().await;
    let error = pool
        .run(
            Script::module(
                "import x from 'nothing';\nexport const a = 1;\n\nconst b = {;\nexport default b;",
            )
            .name("broken.mjs"),
        )
        .await
        .unwrap_err();
    let (name, _, line, column, _) = script_error(error);
    assert_eq!(name, "SyntaxError");
    not_on_deno!("Deno's `vm` reports syntax errors without their place (docs/ENGINES.md)");
    assert_eq!((line, column), (Some(4), Some(12)));

    let error = pool
        .run(Script::module("export default 1 +;"))
        .await
        .unwrap_err();
    let (_, _, line, column, _) = script_error(error);
    assert_eq!((line, column), (Some(1), Some(19)));
}

#[tokio::test]
async fn exceptions_point_into_the_users_code() {
    let pool = common::pool().await;
    let error = pool
        .run(
            Script::expression("function f(o) {\n  return o.missing.field;\n}\nf({})")
                .name("lookup.js"),
        )
        .await
        .unwrap_err();
    let (name, message, line, column, stack) = script_error(error);
    assert_eq!(name, "TypeError");
    // Each engine words it its own way, and points at its own column.
    let (expected, column_expected) = if common::bun() {
        ("evaluating 'o.missing.field'", 19)
    } else {
        common::either(("reading 'field'", 20), ("property 'field'", 10))
    };
    assert!(message.contains(expected), "{message}");
    assert_eq!((line, column), (Some(2), Some(column_expected)));
    let stack = stack.expect("errors carry their stack");
    assert!(
        stack.contains(&format!("lookup.js:2:{column_expected}")),
        "{stack}"
    );
    assert!(
        !stack.contains("node:") && !stack.contains("ext:") && !stack.contains("$deno$"),
        "the runtime's and the engine's frames are removed: {stack}"
    );

    // Thrown from async code in a module.
    let error = pool
        .run(Script::module("await null;\nclass Custom extends Error { name = 'Custom' }\nthrow new Custom('bad');").name("m.mjs"))
        .await
        .unwrap_err();
    let (name, message, line, column, _) = script_error(error);
    assert_eq!((name.as_str(), message.as_str()), ("Custom", "bad"));
    // V8 points at the `new`, QuickJS at the class it makes, JavaScriptCore
    // (Bun) at the parenthesis of the call.
    let column_expected = if common::bun() {
        17
    } else {
        common::either(7, 11)
    };
    assert_eq!((line, column), (Some(3), Some(column_expected)));
}

#[tokio::test]
async fn thrown_values_that_are_not_errors() {
    let pool = common::pool().await;
    let (name, message, ..) = script_error(pool.eval::<i64>("throw 'boom'").await.unwrap_err());
    assert_eq!((name.as_str(), message.as_str()), ("string", "boom"));
    let (name, message, ..) =
        script_error(pool.eval::<i64>("throw { code: 42 }").await.unwrap_err());
    assert_eq!(
        (name.as_str(), message.as_str()),
        ("object", r#"{"code":42}"#)
    );
    let (name, message, ..) =
        script_error(pool.eval::<i64>("Promise.reject(7)").await.unwrap_err());
    assert_eq!((name.as_str(), message.as_str()), ("number", "7"));
    let (name, ..) = script_error(pool.eval::<i64>("throw null").await.unwrap_err());
    assert_eq!(name, "null");
}

#[tokio::test]
async fn values_json_cannot_carry_are_clear_errors() {
    let pool = common::pool().await;
    let cases = [
        ("10n", "BigInt"),
        ("({ a: { b: [1, 2n] } })", "BigInt"),
        ("({ name: 'x', run() {} })", "value.run is a function"),
        ("[1, () => 2]", "value[1] is a function"),
        ("(() => 1)", "function"),
        ("Symbol('s')", "symbol"),
        ("const o = {}; o.self = o; o", "cycle"),
        ("new Map([[1, 2]])", "Map"),
        ("({ tags: new Set(['a']) })", "value.tags is a Set"),
    ];
    for (code, expected) in cases {
        match pool.eval::<serde_json::Value>(code).await {
            Err(Error::NonJson(message)) => {
                assert!(message.contains(expected), "{code}: {message}")
            }
            other => panic!("{code}: expected a NonJson error, got {other:?}"),
        }
    }
    // Values with a defined conversion pass.
    let value: serde_json::Value = pool
        .eval("({ when: new Date(0), skip: undefined, list: [undefined] })")
        .await
        .unwrap();
    assert_eq!(
        value,
        serde_json::json!({ "when": "1970-01-01T00:00:00.000Z", "list": [null] })
    );
}

#[tokio::test]
async fn inputs_json_cannot_carry_are_rejected_before_running() {
    let pool = common::pool().await;
    let mut map = std::collections::HashMap::new();
    map.insert((1, 2), "tuple keys are not JSON");
    let error = pool
        .run(Script::expression("1").global("bad", map))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(m) if m.contains("`bad`")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_missing_engine_is_a_spawn_error_naming_it() {
    let error = Pool::builder()
        .node("outrigger-no-such-engine")
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { program, message } => {
            assert_eq!(program, "outrigger-no-such-engine");
            assert!(message.contains("PATH"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let error = Pool::builder()
        .node("/nonexistent/bin/node")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Spawn { program, .. } if program == "/nonexistent/bin/node"),
        "{error:?}"
    );
}

/// An executable file with `contents`, in a directory of its own for this
/// test (removed by the test): the engine a pool is then given.
fn engine_file(test: &str, contents: impl AsRef<[u8]>) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("outrigger-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let engine = dir.join(test);
    std::fs::write(&engine, contents).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, engine)
}

/// A stand-in engine that answers `init` like an old Node.js would.
fn fake_engine(version: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = format!(
        r#"#!/usr/bin/env python3
import os, json
channel = os.fdopen(3, "rb+", buffering=0)
line = b""
while not line.endswith(b"\n"):
    line += channel.read(1)
request = json.loads(line)
answer = {{"jsonrpc": "2.0", "id": request["id"], "result": {{"protocol": 1, "engine": "node", "version": "{version}", "pid": os.getpid()}}}}
channel.write((json.dumps(answer) + "\n").encode())
channel.read(1)
"#
    );
    engine_file("old-node", script)
}

#[tokio::test]
async fn a_missing_or_old_deno_is_a_spawn_error_saying_what_was_looked_for() {
    let error = Pool::builder()
        .engine(outrigger::Engine::Deno)
        .engine_path("outrigger-no-such-deno")
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { program, message } => {
            assert_eq!(program, "outrigger-no-such-deno");
            assert!(
                message.contains("PATH") && message.contains("Deno 2"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let (dir, engine) = fake_engine("1.46.3");
    let error = Pool::builder()
        .workers(1)
        .engine(outrigger::Engine::Deno)
        .engine_path(&engine)
        .env("PATH", "/usr/bin:/bin")
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { message, .. } => {
            assert!(
                message.contains("Deno 1.46.3") && message.contains("Deno 2 or newer"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bun_refuses_to_start_unless_the_code_is_said_to_be_trusted() {
    // Refused before Bun is looked for: no Bun is needed to see it.
    for sandbox in [
        outrigger::Sandbox::strict(),
        outrigger::Sandbox::strict().allow_fetch("https://api.example.com"),
    ] {
        let error = Pool::builder()
            .engine(outrigger::Engine::Bun)
            .engine_path("outrigger-no-such-bun")
            .sandbox(sandbox)
            .build()
            .await
            .unwrap_err();
        match error {
            Error::InvalidInput(message) => assert!(
                message.contains("Engine::Bun runs trusted code only")
                    && message.contains("code generation from strings")
                    && message.contains("Sandbox::none()"),
                "{message}"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
    let error = Pool::builder()
        .engine(outrigger::Engine::Bun)
        .sandbox(outrigger::Sandbox::none().max_heap_mb(64))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(m) if m.contains("Sandbox::max_heap_mb") && m.contains("Engine::Bun")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_missing_bun_is_a_spawn_error_saying_what_was_looked_for() {
    let error = Pool::builder()
        .engine(outrigger::Engine::Bun)
        .engine_path("outrigger-no-such-bun")
        .sandbox(outrigger::Sandbox::none())
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { program, message } => {
            assert_eq!(program, "outrigger-no-such-bun");
            assert!(
                message.contains("PATH") && message.contains("Bun 1"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn bun_runs_code_said_to_be_trusted() {
    if !common::bun() {
        eprintln!("skipped: needs Bun (OUTRIGGER_TEST_ENGINE=bun)");
        return;
    }
    let pool = Pool::builder()
        .workers(1)
        .engine(outrigger::Engine::Bun)
        .engine_path(common::bun_program())
        .sandbox(outrigger::Sandbox::none())
        .build()
        .await
        .unwrap();
    let version: String = pool.eval("process.versions.bun").await.unwrap();
    let engine = pool.stats().engine.expect("a live worker names its engine");
    assert_eq!(engine.engine, outrigger::Engine::Bun);
    assert_eq!(engine.version, version);
}

#[tokio::test]
async fn an_old_engine_is_a_spawn_error_naming_the_version() {
    let (dir, engine) = fake_engine("18.19.0");
    let error = Pool::builder()
        .workers(1)
        .node(&engine)
        .env("PATH", "/usr/bin:/bin")
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { message, .. } => {
            assert!(
                message.contains("18.19.0") && message.contains("20 or newer"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_engine_that_dies_at_start_up_is_a_spawn_error_with_its_stderr() {
    let (dir, engine) = engine_file(
        "broken-node",
        "#!/bin/sh\necho 'engine exploded' >&2\nexit 3\n",
    );
    let error = Pool::builder()
        .workers(1)
        .node(&engine)
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { message, .. } => {
            assert!(
                message.contains("engine exploded") && message.contains("exit status 3"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_engine_file_the_system_cannot_execute_is_a_spawn_error_saying_why() {
    // Executable, but neither a binary nor a script with `#!`: exec refuses it.
    let (dir, engine) = engine_file("garbage-node", [0u8, 1, 2, 3, 0xff, 0xfe, 0, 0]);
    let error = Pool::builder()
        .workers(1)
        .node(&engine)
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { program, message } => {
            assert_eq!(program, engine.display().to_string());
            assert!(message.to_lowercase().contains("exec format"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_pool_stays_healthy_after_every_kind_of_error() {
    let pool = common::pool().await;
    for code in [
        "(",
        "throw new Error('x')",
        "10n",
        "import('fs')",
        "undefinedVariable",
    ] {
        assert!(
            pool.eval::<serde_json::Value>(code).await.is_err(),
            "{code}"
        );
    }
    assert_eq!(pool.eval::<i64>("6 * 7").await.unwrap(), 42);
    let stats = pool.stats();
    assert_eq!(
        (stats.workers, stats.restarts, stats.failed, stats.completed),
        (2, 0, 5, 1)
    );
}
