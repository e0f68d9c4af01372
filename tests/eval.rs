//! Evaluating expressions and modules: values, inputs, names, files, imports.

mod common;

use outrigger::{Error, LogLevel, Script};
use serde::Deserialize;
use serde_json::json;

#[tokio::test]
async fn eval_returns_typed_values_and_awaits_promises() {
    let pool = common::pool().await;
    assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
    assert_eq!(pool.eval::<i64>("Promise.resolve(5)").await.unwrap(), 5);
    assert_eq!(pool.eval::<String>("'a' + 'b'").await.unwrap(), "ab");
    assert_eq!(
        pool.eval::<Vec<u8>>("[1, 2, 3].map(x => x * 2)")
            .await
            .unwrap(),
        vec![2, 4, 6]
    );
    assert_eq!(
        pool.eval::<f64>("new Promise(r => setTimeout(() => r(1.5), 5))")
            .await
            .unwrap(),
        1.5
    );
    // The completion value of several statements.
    assert_eq!(pool.eval::<i64>("const x = 20; x + 22").await.unwrap(), 42);

    #[derive(Deserialize, Debug, PartialEq)]
    struct User {
        id: u64,
        name: String,
    }
    let user: User = pool.eval("({ id: 7, name: 'Ada' })").await.unwrap();
    assert_eq!(
        user,
        User {
            id: 7,
            name: "Ada".into()
        }
    );
}

#[tokio::test]
async fn undefined_becomes_null() {
    let pool = common::pool().await;
    let out = pool.run(Script::expression("undefined")).await.unwrap();
    assert_eq!(out.value, serde_json::Value::Null);
    assert_eq!(pool.eval::<Option<i64>>("void 0").await.unwrap(), None);
}

#[tokio::test]
async fn a_result_of_the_wrong_type_is_a_deserialize_error() {
    let pool = common::pool().await;
    let error = pool.eval::<i64>("'not a number'").await.unwrap_err();
    assert!(matches!(error, Error::Deserialize(_)), "{error:?}");
}

#[tokio::test]
async fn modules_export_their_value_and_may_await_at_top_level() {
    let pool = common::pool().await;
    let out = pool
        .run(Script::module(
            "const v = await new Promise(r => setTimeout(() => r(40), 5));\nexport default v + 2;",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, 42);
    // A promise as the default export is awaited too.
    let out = pool
        .run(Script::module("export default Promise.resolve('late');"))
        .await
        .unwrap();
    assert_eq!(out.value, "late");
    // No default export: null.
    let out = pool
        .run(Script::module("export const x = 1;"))
        .await
        .unwrap();
    assert_eq!(out.value, serde_json::Value::Null);
}

#[tokio::test]
async fn globals_are_plain_values_of_the_script() {
    let pool = common::pool().await;
    let out = pool
        .run(
            Script::module(
                "export default { sum: input.items.reduce((a, b) => a + b, 0), plain: input.constructor === Object && Array.isArray(input.items) && input.items instanceof Array, label };",
            )
            .global("input", json!({ "items": [1, 2, 3] }))
            .global("label", "x"),
        )
        .await
        .unwrap();
    assert_eq!(out.value, json!({ "sum": 6, "plain": true, "label": "x" }));
}

#[tokio::test]
async fn globals_passed_as_raw_json_arrive_whole_even_when_pretty_printed() {
    let pool = common::pool().await;
    // Compact raw JSON travels on an attachment line; pretty-printed raw
    // JSON (raw newlines) cannot, and goes escaped inside the request.
    let compact =
        serde_json::value::RawValue::from_string(r#"{"a":[1,2],"s":"x\ny"}"#.into()).unwrap();
    let pretty = serde_json::value::RawValue::from_string(
        "{\n  \"a\": [1, 2],\n  \"s\": \"x\\ny\"\n}".into(),
    )
    .unwrap();
    for raw in [&compact, &pretty] {
        let session = pool.session().await.unwrap();
        for _ in 0..2 {
            let value: serde_json::Value = session
                .run(
                    Script::expression("[input.a.length, input.s, Object.getPrototypeOf(input) === Object.prototype, n]")
                        .global("input", raw)
                        .global("n", 7),
                )
                .await
                .unwrap()
                .value;
            assert_eq!(value, json!([2, "x\ny", true, 7]));
        }
        session.close().await;
    }
    assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
}

#[tokio::test]
async fn console_calls_are_captured_in_order_with_levels() {
    let pool = common::pool().await;
    let out = pool
        .run(Script::module(
            r#"
            console.log("plain", 1, { a: [1, 2] });
            console.info("info");
            console.warn("warn");
            console.error("error", new Error("boom"));
            console.debug("debug");
            await new Promise(r => setTimeout(r, 5));
            console.log("after a timer", () => 1);
            export default null;
            "#,
        ))
        .await
        .unwrap();
    let levels: Vec<LogLevel> = out.logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Log,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Debug,
            LogLevel::Log
        ]
    );
    assert_eq!(
        out.logs[0].args,
        vec![json!("plain"), json!(1), json!({ "a": [1, 2] })]
    );
    assert_eq!(out.logs[0].message(), r#"plain 1 {"a":[1,2]}"#);
    let error_text = out.logs[3].args[1]
        .as_str()
        .expect("errors are rendered as text");
    assert!(error_text.contains("boom"), "{error_text}");
    assert_eq!(out.logs[5].args[0], "after a timer");
    assert!(
        out.logs[5].args[1].as_str().unwrap().contains("Function"),
        "{:?}",
        out.logs[5]
    );
}

#[tokio::test]
async fn scripts_from_files_keep_their_path_as_name() {
    let pool = common::pool().await;
    let dir = std::env::temp_dir().join(format!("outrigger-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("job.mjs");
    std::fs::write(&module, "export default { ok: true, n: input };").unwrap();
    let out = pool
        .run(Script::module_file(&module).global("input", 3))
        .await
        .unwrap();
    assert_eq!(out.value, json!({ "ok": true, "n": 3 }));

    let script = dir.join("fails.js");
    std::fs::write(&script, "const a = 1;\nnull.boom;").unwrap();
    match pool
        .run(Script::expression_file(&script))
        .await
        .unwrap_err()
    {
        Error::Script {
            script: name,
            line,
            name: kind,
            ..
        } => {
            assert_eq!(name, script.display().to_string());
            assert_eq!(kind, "TypeError");
            assert_eq!(line, Some(2));
        }
        other => panic!("unexpected {other:?}"),
    }

    let missing = dir.join("missing.mjs");
    let error = pool.run(Script::module_file(&missing)).await.unwrap_err();
    assert!(
        matches!(&error, Error::ReadScript { path, .. } if path == &missing),
        "{error:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn registered_modules_can_be_imported_by_name() {
    let pool = common::builder()
        .module(
            "math",
            "export const double = (x) => x * 2; export default 'math v1';",
        )
        .module(
            "greeting",
            "import { double } from 'math'; export const greet = (n) => `hi ${double(n)}`;",
        )
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module(
            "import { greet } from 'greeting';\nimport label from 'math';\nexport default [greet(21), label];",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, json!(["hi 42", "math v1"]));
    // Dynamic import from a classic script.
    let value: String = pool
        .eval("import('math').then(m => m.default)")
        .await
        .unwrap();
    assert_eq!(value, "math v1");
}

#[tokio::test]
async fn imports_of_unknown_or_builtin_modules_are_typed_errors() {
    let pool = common::builder()
        .module("known", "export default 1;")
        .build()
        .await
        .unwrap();
    let cases = common::either(
        [
            ("node:no-such-module", "no built-in module"),
            ("left-pad", "registered: known"),
        ],
        [
            ("node:no-such-module", "no Node.js built-in"),
            ("left-pad", "no npm packages"),
        ],
    );
    for (specifier, reason) in cases {
        let error = pool
            .run(Script::module(format!(
                "import x from '{specifier}';\nexport default x;"
            )))
            .await
            .unwrap_err();
        match error {
            Error::Import {
                specifier: s,
                message,
                ..
            } => {
                assert_eq!(s, specifier);
                assert!(message.contains(reason), "{message}");
            }
            other => panic!("unexpected {other:?} for {specifier}"),
        }
    }
    // Dynamic imports too.
    let error = pool
        .eval::<serde_json::Value>("import('no-such-package')")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Import { .. }), "{error:?}");
    if common::quickjs() {
        // The QuickJS engine has no built-ins: each import is refused.
        for specifier in ["node:fs", "fs", "child_process"] {
            let error = pool
                .eval::<serde_json::Value>(&format!("import('{specifier}')"))
                .await
                .unwrap_err();
            assert!(
                matches!(&error, Error::Import { specifier: s, .. } if s == specifier),
                "{error:?}"
            );
        }
        assert_eq!(pool.eval::<i64>("1").await.unwrap(), 1);
        return;
    }
    // Capability built-ins import, and refuse when used.
    for specifier in ["node:fs", "fs", "child_process"] {
        let typeof_default: String = pool
            .eval(&format!(
                "import('{specifier}').then((m) => typeof m.default)"
            ))
            .await
            .unwrap();
        assert_eq!(typeof_default, "object", "{specifier}");
    }
    let error = pool
        .eval::<serde_json::Value>("import('node:child_process').then((cp) => cp.spawnSync('id'))")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Denied { capability, setting, .. }
            if capability == "node:child_process.spawnSync()" && setting.contains("allow_builtin")),
        "{error:?}"
    );
    // And the pool goes on.
    assert_eq!(pool.eval::<i64>("1").await.unwrap(), 1);
}

#[tokio::test]
async fn a_repeated_script_is_compiled_once_per_worker() {
    let pool = common::builder().workers(1).build().await.unwrap();
    let code = "let total = 0; for (let i = 0; i < 10; i++) total += i; total";
    for _ in 0..5 {
        assert_eq!(pool.eval::<i64>(code).await.unwrap(), 45);
    }
    let module = Script::module("export default 'm';");
    for _ in 0..3 {
        assert_eq!(pool.run(module.clone()).await.unwrap().value, "m");
    }
    let stats = pool.worker_stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].script_compiles, 1, "{stats:?}");
    assert_eq!(stats[0].script_hits, 4, "{stats:?}");
    // Deno's `vm.SourceTextModule` makes no code cache: each run compiles.
    let (compiles, hits) = if common::deno() { (3, 0) } else { (1, 2) };
    assert_eq!(stats[0].module_compiles, compiles, "{stats:?}");
    assert_eq!(stats[0].module_cache_hits, hits, "{stats:?}");
}

#[tokio::test]
async fn runs_by_key_are_read_without_the_json_parser() {
    // Two workers: runs carry a start deadline, as on any pool that can move them.
    let pool = common::builder().workers(2).build().await.unwrap();
    let session = pool.session().await.unwrap();
    for i in 0..6 {
        assert_eq!(pool.eval::<i64>("6 * 7").await.unwrap(), 42);
        assert_eq!(
            session
                .eval::<i64>("globalThis.n = (globalThis.n ?? 0) + 1")
                .await
                .unwrap(),
            i + 1
        );
    }
    let stats = pool.worker_stats().await.unwrap();
    let read: u64 = stats.iter().map(|s| s.fast_run_lines).sum();
    let compiled: u64 = stats.iter().map(|s| s.script_compiles).sum();
    if common::quickjs() {
        // In the host's process: no lines at all.
        assert_eq!(read, 0, "{stats:?}");
    } else {
        // Every run but those that brought a worker the source.
        assert_eq!(read, 12 - compiled, "{stats:?}");
        assert!(read >= 8, "{stats:?}");
    }
}

#[tokio::test]
async fn the_cache_is_content_addressed() {
    let pool = common::builder().workers(1).build().await.unwrap();
    assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2);
    assert_eq!(pool.eval::<i64>("1 + 2").await.unwrap(), 3);
    assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2);
    let stats = &pool.worker_stats().await.unwrap()[0];
    assert_eq!(
        (stats.script_compiles, stats.script_hits),
        (2, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn an_evicted_script_is_sent_again() {
    let pool = common::builder()
        .workers(1)
        .script_cache_size(std::num::NonZeroUsize::new(2).unwrap())
        .build()
        .await
        .unwrap();
    // The worker keeps two; the host assumes as much, so every script works
    // whatever the order.
    for round in 0..3 {
        for n in 0..4 {
            assert_eq!(
                pool.eval::<i64>(&format!("{n} * 10")).await.unwrap(),
                n * 10,
                "round {round}"
            );
        }
    }
}

#[tokio::test]
async fn stats_name_the_engine_and_its_version() {
    let pool = common::pool().await;
    let engine = pool.stats().engine.expect("a live worker names its engine");
    let expected = match common::engine() {
        common::TestEngine::Node => outrigger::Engine::Node,
        common::TestEngine::Deno => outrigger::Engine::Deno,
        common::TestEngine::Bun => outrigger::Engine::Bun,
        #[cfg(feature = "quickjs")]
        common::TestEngine::QuickJs => outrigger::Engine::QuickJs,
        #[cfg(not(feature = "quickjs"))]
        common::TestEngine::QuickJs => unreachable!("QuickJS needs the feature"),
    };
    assert_eq!(engine.engine, expected);
    // A version as the engine says it: digits first, or QuickJS's name.
    assert!(
        engine.version.starts_with(|c: char| c.is_ascii_digit())
            || engine.version.starts_with("quickjs-ng"),
        "{engine}"
    );
    assert!(engine.to_string().starts_with(expected.name()), "{engine}");
}
