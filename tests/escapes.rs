//! The escape suite: attempts to reach what a script must not, each a file
//! under `tests/escapes/` with its expected outcome here (deno "checkin"
//! style). Every case also checks that the pool still works afterwards.
//! See SECURITY.md for the layers these attempts test.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use outrigger::{Error, PoolBuilder, Sandbox, Script};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What an attempt must end with.
#[derive(Debug)]
enum Expect {
    /// The script ran and found nothing: its value.
    Value(Value),
    /// An import refused with this text.
    Import(&'static str),
    /// A capability refused when used: what was used, and the setting named.
    Denied(&'static str, &'static str),
    /// A refused capability whose message also has this text.
    DeniedSaying(&'static str, &'static str, &'static str),
    /// A value JSON cannot carry, with this text.
    NonJson(&'static str),
    /// A limit, named in the message.
    Limit(&'static str),
    /// The script called `process.exit` with this code: the run ended, not the worker.
    Exit(i32),
    /// `build()` refused the builder with this text.
    BuildRefused(&'static str),
    /// An error the script did not catch, by its name.
    Thrown(&'static str),
}

/// What a script reads from an operation the engine's sandbox refused:
/// Node's permission model sets `ERR_ACCESS_DENIED`; Deno throws its
/// `NotCapable`, without a code (the escape files read `e.code ?? e.name`).
fn refused() -> &'static str {
    if common::deno() {
        "NotCapable"
    } else {
        "ERR_ACCESS_DENIED"
    }
}

fn escape_file(name: &str) -> String {
    let path = format!("{}/tests/escapes/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs one attempt and checks its outcome, then that the pool still answers.
async fn attempt(builder: PoolBuilder, file: &str, globals: Value, expect: Expect) {
    if let Expect::BuildRefused(text) = expect {
        let error = builder.build().await.expect_err(file);
        assert!(
            matches!(&error, Error::InvalidInput(m) if m.contains(text)),
            "{file}: {error:?}"
        );
        return;
    }
    let pool = builder.build().await.expect("the pool starts");
    let mut script = Script::module(escape_file(file)).name(file);
    if let Value::Object(globals) = globals {
        for (name, value) in globals {
            script = script.global(name, value);
        }
    }
    let outcome = pool.run(script).await;
    match (&expect, &outcome) {
        (Expect::Value(expected), Ok(output)) => {
            assert_eq!(&output.value, expected, "{file}")
        }
        (Expect::Import(text), Err(Error::Import { message, .. })) => {
            assert!(message.contains(text), "{file}: {message}")
        }
        (
            Expect::Denied(what, setting_text),
            Err(Error::Denied {
                capability,
                setting,
                ..
            }),
        ) => {
            assert_eq!(capability, what, "{file}");
            assert!(setting.contains(setting_text), "{file}: {setting}")
        }
        (
            Expect::DeniedSaying(what, setting_text, text),
            Err(Error::Denied {
                capability,
                setting,
                message,
            }),
        ) => {
            assert_eq!(capability, what, "{file}");
            assert!(setting.contains(setting_text), "{file}: {setting}");
            assert!(message.contains(text), "{file}: {message}")
        }
        (Expect::NonJson(text), Err(Error::NonJson(message))) => {
            assert!(message.contains(text), "{file}: {message}")
        }
        (Expect::Limit(text), Err(Error::Limit(message))) => {
            assert!(message.contains(text), "{file}: {message}")
        }
        (Expect::Exit(expected), Err(Error::Exit { code })) => assert_eq!(code, expected, "{file}"),
        (Expect::Thrown(expected), Err(Error::Script { name, .. })) => {
            assert_eq!(name, expected, "{file}")
        }
        _ => panic!("{file}: expected {expect:?}, got {outcome:?}"),
    }
    still_works(&pool).await;
}

/// The pool answers a plain run (a dead worker is replaced first).
async fn still_works(pool: &outrigger::Pool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match pool.eval::<i64>("6 * 7").await {
            Ok(value) => {
                assert_eq!(value, 42);
                return;
            }
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%error, "pool not ready yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the pool no longer works: {error:?}"),
        }
    }
}

fn one_worker() -> PoolBuilder {
    common::builder().workers(1)
}

/// Built-ins allowed on purpose, so that the permission model is what stops them.
fn with_builtins(names: &[&str]) -> PoolBuilder {
    names
        .iter()
        .fold(one_worker(), |builder, name| builder.allow_builtin(*name))
}

macro_rules! escape {
    ($name:ident, $file:literal, $expect:expr) => {
        escape!($name, $file, one_worker(), json!({}), $expect);
    };
    ($name:ident, $file:literal, $builder:expr, $expect:expr) => {
        escape!($name, $file, $builder, json!({}), $expect);
    };
    ($name:ident, $file:literal, $builder:expr, $globals:expr, $expect:expr) => {
        #[tokio::test]
        async fn $name() {
            attempt($builder, $file, $globals, $expect).await;
        }
    };
}

// The script's realm: constructor chains end at the context's own Function,
// which sees no `process`; worker-realm objects lead to a Function that
// compiles nothing.
escape!(
    constructor_chain_of_the_global,
    "constructor_chain.js",
    Expect::Value(json!(["no this", "EvalError", "undefined"]))
);
escape!(
    constructor_chains_of_functions,
    "function_prototype_chain.js",
    Expect::Value(json!(["undefined", "undefined", "undefined"]))
);
escape!(
    console_leads_nowhere,
    "console_constructor.js",
    Expect::Value(json!(["undefined", "undefined"]))
);
escape!(
    host_leads_nowhere,
    "host_emit_constructor.js",
    Expect::Value(json!(["undefined", "undefined"]))
);
escape!(
    timers_lead_nowhere,
    "timer_handle.js",
    Expect::Value(json!(["number", "undefined"]))
);
escape!(
    the_signal_leads_nowhere,
    "signal_chain.js",
    Expect::Value(json!("EvalError"))
);
escape!(
    lent_web_apis_lead_nowhere,
    "lent_api_chain.js",
    Expect::Value(json!(["EvalError", "inert", "inert", "inert"]))
);
escape!(
    thrown_errors_lead_nowhere,
    "thrown_error_chain.js",
    Expect::Value(json!(["undefined", "undefined"]))
);
escape!(
    promise_results_lead_nowhere,
    "promise_result_chain.js",
    Expect::Value(json!(["inert", "EvalError", "EvalError"]))
);
escape!(
    prepare_stack_trace_sees_no_worker_frames,
    "prepare_stack_trace.js",
    Expect::Value(json!([[], "undefined", "undefined"]))
);
escape!(
    caller_is_censored,
    "caller_arguments.js",
    Expect::Value(json!(["TypeError", "TypeError"]))
);
escape!(
    globals_are_plain_data,
    "input_getter_tricks.js",
    one_worker(),
    json!({"input": {"a": 1}}),
    Expect::Value(json!([true, true, "undefined", "undefined"]))
);
escape!(
    a_proxy_result_is_data,
    "symbol_proxy_result.js",
    Expect::Value(json!({"leaked": "undefined"}))
);
escape!(
    a_throwing_getter_result_is_refused,
    "symbol_keys_result.js",
    Expect::NonJson("getter ran")
);
escape!(
    a_thenable_result_leads_nowhere,
    "then_trap.js",
    Expect::Value(json!("undefined"))
);

// Built-in modules: they import; what they do is refused when used, unless
// allowed.
escape!(
    import_node_fs,
    "import_node_fs.js",
    Expect::Denied("node:fs.readFileSync()", "Sandbox::allow_read")
);
escape!(
    dynamic_import_bare_fs,
    "import_bare_fs.js",
    Expect::Denied("node:fs.readFileSync()", "Sandbox::allow_read")
);
escape!(
    import_child_process,
    "import_child_process.js",
    Expect::Denied(
        "node:child_process.execSync()",
        "PoolBuilder::allow_builtin(\"node:child_process\")"
    )
);
escape!(
    import_process,
    "import_process.js",
    Expect::Value(json!({"NODE_ENV": "production"}))
);
escape!(
    import_a_file_url,
    "import_file_url.js",
    Expect::Import("/etc/passwd")
);
escape!(
    import_a_data_url_that_imports_fs,
    "import_data_url.js",
    Expect::Import("data:")
);
escape!(
    no_require_or_process_in_scope,
    "require_in_module.js",
    Expect::Value(json!([
        "undefined",
        "undefined",
        "undefined",
        "undefined",
        "undefined"
    ]))
);

// Node's permission model: the built-in allowed, what it does denied.
escape!(
    read_etc_passwd,
    "fs_read_passwd.js",
    with_builtins(&["node:fs"]),
    Expect::Value(json!(refused()))
);
escape!(
    write_a_file,
    "fs_write_file.js",
    with_builtins(&["node:fs"]),
    Expect::Value(json!(refused()))
);
escape!(
    spawn_a_process,
    "spawn_process.js",
    with_builtins(&["node:child_process"]),
    Expect::Value(json!(refused()))
);
escape!(
    start_a_worker_thread,
    "worker_thread.js",
    with_builtins(&["node:worker_threads"]),
    if common::deno() {
        Expect::BuildRefused("Engine::Deno")
    } else {
        Expect::Value(json!("ERR_ACCESS_DENIED"))
    }
);
escape!(
    process_binding_and_native_addons,
    "process_binding.js",
    with_builtins(&["node:process"]),
    // Deno's `process.binding` answers with its own stand-ins, whose
    // operations its permissions check like any other; addons need
    // `--allow-ffi`, never given.
    if common::deno() {
        Expect::Value(json!(["reached", "NotCapable"]))
    } else {
        Expect::Value(json!(["ERR_ACCESS_DENIED", "ERR_DLOPEN_DISABLED"]))
    }
);
escape!(
    open_the_inspector,
    "inspector_open.js",
    with_builtins(&["node:inspector"]),
    Expect::Value(json!(refused()))
);
escape!(
    start_wasi,
    "wasi.js",
    with_builtins(&["node:wasi"]),
    if common::deno() {
        Expect::BuildRefused("Engine::Deno")
    } else {
        Expect::Value(json!("ERR_ACCESS_DENIED"))
    }
);
escape!(
    read_the_host_environment,
    "env_read.js",
    with_builtins(&["node:process"])
        .sandbox(Sandbox::strict().env_passthrough(["PATH", "OUTRIGGER_NOT_SET_ANYWHERE"]))
        .env("EXPLICIT", "1"),
    // Deno lists the environment only with all of it allowed: the workers
    // may read the variables they are given by name, and no others.
    if common::deno() {
        Expect::Thrown("NotCapable")
    } else {
        Expect::Value(json!(["EXPLICIT", "PATH"]))
    }
);

// The worker realm's own intrinsics, reached through the global's
// constructor and what its functions return and throw, cannot be changed.
escape!(
    pollute_the_worker_realm,
    "pollute_worker_realm.js",
    Expect::Value(json!([
        true,
        ["TypeError"],
        "its own",
        "Renamed",
        "TypeError",
        true
    ]))
);

// Lent objects cannot be changed for other runs.
escape!(
    pollute_lent_apis,
    "pollute_lent_api.js",
    Expect::Value(json!([
        ["TypeError", "TypeError", "TypeError"],
        "https://a.test/"
    ]))
);

// Limits.
escape!(
    exhaust_the_heap,
    "memory_exhaustion.js",
    one_worker().sandbox(Sandbox::strict().max_heap_mb(64)),
    Expect::Limit("Sandbox::max_heap_mb")
);
escape!(
    exhaust_memory_with_heap_objects,
    "memory_exhaustion.js",
    one_worker().sandbox(Sandbox::strict().max_memory_mb(256)),
    Expect::Limit("Sandbox::max_memory_mb")
);
escape!(
    exhaust_memory_with_array_buffers,
    "array_buffer_exhaustion.js",
    one_worker().sandbox(Sandbox::strict().max_memory_mb(256)),
    Expect::Limit("Sandbox::max_memory_mb")
);
escape!(
    exhaust_memory_with_webassembly,
    "wasm_memory_exhaustion.js",
    one_worker().sandbox(Sandbox::strict().max_memory_mb(256)),
    Expect::Limit("Sandbox::max_memory_mb")
);
escape!(
    exhaust_memory_with_strings,
    "string_exhaustion.js",
    one_worker().sandbox(Sandbox::strict().max_memory_mb(256)),
    Expect::Limit("Sandbox::max_memory_mb")
);

escape!(
    flood_the_console,
    "console_flood.js",
    one_worker().sandbox(Sandbox::strict().max_console_bytes(1024 * 1024)),
    Expect::Limit("Sandbox::max_console_bytes")
);
escape!(
    flood_the_console_across_awaits,
    "console_flood_async.js",
    one_worker().sandbox(Sandbox::strict().max_console_bytes(1024 * 1024)),
    Expect::Limit("Sandbox::max_console_bytes")
);

#[tokio::test]
async fn a_caught_console_limit_still_ends_the_run_with_the_limit() {
    let pool = one_worker()
        .sandbox(Sandbox::strict().max_console_bytes(10_000))
        .build()
        .await
        .unwrap();
    let code = "for (let i = 0; i < 1000; i++) { try { console.log('z'.repeat(100)); } catch {} }\nawait null;\nexport default 'finished';";
    let error = pool.run(Script::module(code)).await.unwrap_err();
    assert!(
        matches!(&error, Error::Limit(m) if m.contains("10000")),
        "{error:?}"
    );
    still_works(&pool).await;
}

// Cross-run state.

#[tokio::test]
async fn polluting_a_run_is_not_seen_by_the_next_run_or_the_host() {
    let pool = one_worker().build().await.unwrap();
    let out = pool
        .run(Script::module(escape_file("pollute_prototype.js")))
        .await
        .unwrap();
    assert_eq!(out.value, json!("polluted"));
    let next = pool
        .run(
            Script::module(
                "const keys = []; for (const k in input) keys.push(k);\nexport default [({}).polluted ?? 'clean', typeof leftBehind, [].push(1), JSON.parse('1'), keys];",
            )
            .global("input", json!({"a": 1})),
        )
        .await
        .unwrap();
    assert_eq!(next.value, json!(["clean", "undefined", 1, 1, ["a"]]));
    assert!(next.logs.is_empty(), "{:?}", next.logs);
    // What the host gets back is its own data, not the polluted objects.
    let value: Value = pool.eval("({ a: 1 })").await.unwrap();
    assert_eq!(value, json!({"a": 1}));
}

#[tokio::test]
async fn a_run_cannot_read_another_runs_globals_or_logs() {
    let pool = one_worker().build().await.unwrap();
    let slow = pool
        .start(
            Script::module("console.log('private ' + secret);\nawait new Promise((r) => setTimeout(r, 200));\nexport default secret;")
                .global("secret", "s3cr3t"),
        )
        .await
        .unwrap();
    let snoop = pool
        .run(Script::module(
            "console.log('snoop');\nexport default [typeof secret, Object.getOwnPropertyNames(globalThis).filter((n) => n.includes('secret'))];",
        ))
        .await
        .unwrap();
    assert_eq!(snoop.value, json!(["undefined", []]));
    assert!(snoop.logs.iter().all(|l| !l.message().contains("s3cr3t")));
    let out = slow.output().await.unwrap();
    assert_eq!(out.value, json!("s3cr3t"));
    assert_eq!(out.logs.len(), 1);
    still_works(&pool).await;
}

// The network: a local server that records what reached it.

struct Server {
    base: String,
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
}

/// Routes: `/allowed/ok` answers "ok", `/allowed/hop` redirects to it,
/// `/allowed/out` redirects to `/secret`, `/allowed/loop` to `[::1]`,
/// anything else answers "secret".
async fn server() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 8192];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let text = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = text.split_whitespace().nth(1).unwrap_or("").to_owned();
                seen.lock().unwrap().push(path.clone());
                let (status, extra, body) = match path.as_str() {
                    "/allowed/ok" => ("200 OK", String::new(), "ok"),
                    "/allowed/hop" => ("302 Found", "location: /allowed/ok\r\n".into(), ""),
                    "/allowed/out" => ("302 Found", "location: /secret\r\n".into(), ""),
                    "/allowed/loop" => (
                        "307 Temporary Redirect",
                        format!("location: http://[::1]:{port}/secret\r\n"),
                        "",
                    ),
                    _ => ("200 OK", String::new(), "secret"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Server { base, port, hits }
}

impl Server {
    fn allowed(&self) -> Sandbox {
        Sandbox::strict().allow_fetch(format!("{}/allowed/", self.base))
    }
    fn secret_hits(&self) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| !p.starts_with("/allowed/"))
            .count()
    }
}

#[tokio::test]
async fn fetch_to_a_refused_origin() {
    let server = server().await;
    let url = format!("{}/secret", server.base);
    attempt(
        one_worker(),
        "fetch_refused_origin.js",
        json!({"url": url}),
        Expect::Denied("fetch()", "Sandbox::allow_fetch"),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

#[tokio::test]
async fn fetch_to_a_refused_path_of_an_allowed_origin() {
    let server = server().await;
    let url = format!("{}/secret", server.base);
    attempt(
        one_worker().sandbox(server.allowed()),
        "fetch_refused_origin.js",
        json!({"url": &url}),
        Expect::DeniedSaying(
            "fetch()",
            "Sandbox::allow_fetch",
            leak(format!("{url} is not allowed")),
        ),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

#[tokio::test]
async fn fetch_redirected_to_a_refused_url() {
    let server = server().await;
    attempt(
        one_worker().sandbox(server.allowed()),
        "fetch_refused_redirect.js",
        json!({"url": format!("{}/allowed/out", server.base)}),
        Expect::DeniedSaying(
            "fetch()",
            "Sandbox::allow_fetch",
            leak(format!("a redirect to {}/secret", server.base)),
        ),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

#[tokio::test]
async fn fetch_redirected_to_loopback_ipv6() {
    let server = server().await;
    attempt(
        one_worker().sandbox(server.allowed()),
        "fetch_refused_redirect.js",
        json!({"url": format!("{}/allowed/loop", server.base)}),
        Expect::DeniedSaying(
            "fetch()",
            "Sandbox::allow_fetch",
            "a redirect to http://[::1]",
        ),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

#[tokio::test]
async fn fetch_follows_an_allowed_redirect() {
    let server = server().await;
    attempt(
        one_worker().sandbox(server.allowed()),
        "fetch_allowed_redirect.js",
        json!({"url": format!("{}/allowed/hop", server.base)}),
        Expect::Value(json!([200, "ok"])),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

#[tokio::test]
async fn fetch_checks_the_url_it_fetches() {
    let server = server().await;
    attempt(
        one_worker().sandbox(server.allowed()),
        "fetch_request_url_trick.js",
        json!({"url": format!("{}/secret", server.base), "allowed": format!("{}/allowed/ok", server.base)}),
        Expect::Value(json!(["refused", "one read"])),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

#[tokio::test]
async fn fetch_to_loopback_addresses() {
    let server = server().await;
    attempt(
        one_worker(),
        "fetch_loopback.js",
        json!({"port": server.port}),
        Expect::Value(json!([
            "refused", "refused", "refused", "refused", "refused"
        ])),
    )
    .await;
    assert_eq!(server.secret_hits(), 0);
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

// Messages to the worker.

#[tokio::test]
async fn an_oversized_global_is_refused_before_sending() {
    let pool = one_worker()
        .max_message_bytes(1024 * 1024)
        .build()
        .await
        .unwrap();
    let big = "x".repeat(2 * 1024 * 1024);
    let error = pool
        .run(Script::expression("input.length").global("input", &big))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Limit(m) if m.contains("max_message_bytes")),
        "{error:?}"
    );
    still_works(&pool).await;
    assert_eq!(pool.stats().restarts, 0);
}

#[tokio::test]
async fn a_100_mb_global_is_refused_with_the_default_limit() {
    let pool = one_worker().build().await.unwrap();
    let big = "y".repeat(100 * 1024 * 1024);
    let error = pool
        .run(Script::expression("input.length").global("input", &big))
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Limit(_)), "{error:?}");
    still_works(&pool).await;
}

// Files the sandbox grants.

#[tokio::test]
async fn granted_paths_are_readable_and_writable_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("outrigger-escapes-{}", std::process::id()));
    let readable = dir.join("in");
    let writable = dir.join("out");
    std::fs::create_dir_all(&readable).unwrap();
    std::fs::create_dir_all(&writable).unwrap();
    std::fs::write(readable.join("data.txt"), "granted").unwrap();
    let pool = with_builtins(&["node:fs"])
        .sandbox(
            Sandbox::strict()
                .allow_read(&readable)
                .allow_write(&writable),
        )
        .build()
        .await
        .unwrap();
    let code = "import fs from 'node:fs';\nconst attempt = (f) => { try { return f(); } catch (e) { return e.code ?? e.name; } };\nexport default [\n  attempt(() => fs.readFileSync(dir + '/in/data.txt', 'utf8')),\n  attempt(() => { fs.writeFileSync(dir + '/out/w.txt', 'x'); return 'written'; }),\n  attempt(() => { fs.writeFileSync(dir + '/in/w.txt', 'x'); return 'written'; }),\n  attempt(() => fs.readFileSync('/etc/hostname', 'utf8')),\n];";
    let out = pool
        .run(Script::module(code).global("dir", dir.display().to_string()))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!(["granted", "written", refused(), refused()])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Controls: the layers above are what stop the attempts.

#[tokio::test]
async fn without_the_permission_model_an_allowed_fs_reads_files() {
    let pool = with_builtins(&["node:fs"])
        .sandbox(Sandbox::strict().permission_model(false))
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module(escape_file("fs_read_passwd.js")))
        .await
        .unwrap();
    assert!(
        out.value.as_str().unwrap().contains("root:"),
        "{:?}",
        out.value
    );
}

#[tokio::test]
async fn a_fetch_pattern_that_is_not_a_url_fails_build() {
    let error = one_worker()
        .sandbox(Sandbox::strict().allow_fetch("not a url"))
        .build()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("Sandbox::allow_fetch"),
        "{error:?}"
    );
}

// What every default-available module and global offers, attacked through
// each and then walked whole.
escape!(
    snoop_through_diagnostics_channel,
    "diagnostics_channel_snoop.js",
    Expect::Value(json!([["mine", "own"]]))
);
escape!(
    async_hooks_resources_and_hooks,
    "async_hooks_resource.js",
    Expect::Value(json!([
        "ERR_OUTRIGGER_DENIED",
        "ERR_OUTRIGGER_DENIED",
        "mine"
    ]))
);
escape!(
    perf_hooks_entries_of_others,
    "perf_hooks_entries.js",
    Expect::Value(json!([[], 0, 1, true]))
);
escape!(
    write_the_channel_descriptor,
    "fs_channel_fd.js",
    Expect::DeniedSaying(
        "node:fs.writeSync()",
        "fs.open",
        "file descriptor 3 was not opened by this script"
    )
);
escape!(
    read_the_kernels_view_of_the_worker,
    "fs_proc_self.js",
    Expect::Denied("node:fs.readFileSync()", "Sandbox::allow_read")
);
escape!(
    process_exit_ends_the_run_only,
    "process_exit.js",
    Expect::Exit(7)
);
escape!(
    module_loader_internals,
    "module_internals.js",
    // `Module` is a function that refuses: it has no `_load` or prototype
    // `require` to call.
    Expect::Value(json!(["TypeError", "TypeError", "ERR_OUTRIGGER_DENIED"]))
);
escape!(
    vm_this_context_and_v8_flags,
    "vm_and_v8.js",
    Expect::Value(json!([
        "ERR_OUTRIGGER_DENIED",
        "ERR_OUTRIGGER_DENIED",
        "ERR_OUTRIGGER_DENIED",
        "ERR_OUTRIGGER_DENIED"
    ]))
);
escape!(
    scan_every_default_module_and_global,
    "scan_default_world.js",
    Expect::Value(json!({ "findings": [], "enough": true, "modules": true }))
);

/// A directory the sandbox lets scripts write, with a link someone else put
/// there pointing out of every grant.
fn writable_dir_with_a_link_out() -> (std::path::PathBuf, PoolBuilder) {
    let dir = std::env::temp_dir().join(format!("outrigger-escape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("found-link");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let builder = one_worker().sandbox(Sandbox::strict().allow_write(&dir));
    (dir, builder)
}

#[tokio::test]
async fn a_link_made_in_a_writable_directory_leads_nowhere() {
    let (dir, builder) = writable_dir_with_a_link_out();
    attempt(
        builder,
        "fs_symlink_out.js",
        json!({ "dir": dir }),
        Expect::DeniedSaying(
            "node:fs.symlinkSync()",
            "Sandbox::allow_read",
            "/etc/passwd",
        ),
    )
    .await;
}

#[tokio::test]
async fn a_link_found_in_a_writable_directory_leads_nowhere() {
    let (dir, builder) = writable_dir_with_a_link_out();
    attempt(
        builder,
        "fs_symlink_found.js",
        json!({ "dir": dir }),
        Expect::DeniedSaying(
            "node:fs.readFileSync()",
            "Sandbox::allow_read",
            "/etc/passwd",
        ),
    )
    .await;
}

#[tokio::test]
async fn pollute_the_shared_builtins() {
    // The shared pure modules refuse changes; `util` is a module object of
    // the context's own (as in Node, its members can be reassigned), so a
    // change there stays in the run that made it.
    let pool = one_worker().build().await.unwrap();
    let out = pool
        .run(Script::module(escape_file("pollute_builtins.js")))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!([
            [
                "TypeError",
                "TypeError",
                "changed",
                "TypeError",
                "TypeError"
            ],
            "function",
            "hijacked"
        ])
    );
    let next = pool
        .run(Script::module(
            "import util from 'node:util';\nimport { EventEmitter } from 'node:events';\nexport default [util.inspect({ a: 1 }), EventEmitter.prototype.emit.name];",
        ))
        .await
        .unwrap();
    assert_eq!(next.value, json!(["{ a: 1 }", "emit"]));
    still_works(&pool).await;
}

#[tokio::test]
async fn the_scan_finds_a_capability_when_one_is_reachable() {
    // The same scan with `node:child_process` allowed on purpose: the
    // permission model still stops it, but the scan must report reaching it.
    let pool = with_builtins(&["node:child_process"])
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module(escape_file("scan_default_world.js")))
        .await
        .unwrap();
    let findings = out.value["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f
            .as_str()
            .unwrap()
            .starts_with("node:child_process.spawnSync")),
        "{findings:?}"
    );
}

escape!(
    out_of_a_mount_by_path,
    "mount_traversal.js",
    one_worker().mount("/data", outrigger::MemoryStore::new()),
    if common::deno() {
        Expect::BuildRefused("PoolBuilder::mount")
    } else {
        Expect::Value(json!([
            "ERR_OUTRIGGER_DENIED",
            "ERR_OUTRIGGER_DENIED",
            "ERR_INVALID_ARG_VALUE",
            "ERR_OUTRIGGER_DENIED",
            "ERR_OUTRIGGER_DENIED"
        ]))
    }
);

/// Deno's permissions cover the network: a script given `node:net` that
/// connects to an address `Sandbox::allow_fetch` does not name is refused by
/// the engine itself, not only by the fetch wrapper. Node's permission model
/// has no network: there the same connection goes through (SECURITY.md).
#[tokio::test]
async fn a_raw_connection_outside_the_fetch_allowlist() {
    let allowed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = [
        allowed.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    ];
    for listener in [allowed, other] {
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
    }
    let pool = with_builtins(&["node:net"])
        .sandbox(Sandbox::strict().allow_fetch(format!("http://127.0.0.1:{}", ports[0])))
        .build()
        .await
        .unwrap();
    let code = "import net from 'node:net';\n\
        const connect = (port) => new Promise((resolve) => {\n\
          try {\n\
            const socket = net.connect(port, '127.0.0.1');\n\
            socket.on('connect', () => { socket.destroy(); resolve('connected'); });\n\
            socket.on('error', (e) => resolve(e.code ?? e.name));\n\
          } catch (e) { resolve(e.code ?? e.name); }\n\
        });\n\
        export default [await connect(ports[0]), await connect(ports[1])];";
    let out = pool
        .run(Script::module(code).global("ports", ports))
        .await
        .unwrap();
    let outside = if common::deno() {
        "NotCapable"
    } else {
        "connected"
    };
    assert_eq!(out.value, json!(["connected", outside]));
    still_works(&pool).await;
}

/// A fetch the allowlist lets through but Deno's own network permission
/// refuses (here a `--deny-net` the user added) reads as one the allowlist
/// refused.
#[tokio::test]
async fn a_fetch_deno_refuses_reads_as_refused_by_the_sandbox() {
    if !common::deno() {
        eprintln!("skipped: only Deno's permissions cover the network");
        return;
    }
    let server = server().await;
    let url = format!("{}/secret", server.base);
    attempt(
        one_worker()
            .sandbox(Sandbox::strict().allow_fetch(server.base.clone()))
            .node_arg("--deny-net=127.0.0.1"),
        "fetch_refused_origin.js",
        json!({"url": url}),
        Expect::Denied("fetch()", "Sandbox::allow_fetch"),
    )
    .await;
}

/// Echoes what it is given.
struct Echo;

#[outrigger::callbacks]
impl Echo {
    /// Gives `value` back.
    async fn echo(&self, value: Value) -> Result<Value, outrigger::CallbackError> {
        Ok(value)
    }
}

// Binary frames: bytes a script receives are of its realm and lead nowhere;
// a string with a frame's marker or a line break stays a string, and an
// object posing as a placeholder beside real bytes is refused.
#[tokio::test]
async fn binary_values_lead_nowhere_and_cannot_be_forged() {
    let pool = one_worker().callbacks(Echo).build().await.unwrap();
    let script = Script::module(escape_file("binary_frames.js"))
        .name("binary_frames.js")
        .global("blob", outrigger::Bytes::from_static(&[1, 2, 3]));
    let value = pool.run(script).await.unwrap().value;
    assert_eq!(
        value,
        json!([
            true,
            "undefined",
            "undefined",
            "a\u{0}\u{5}\u{0}\u{0}\u{0}b\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}",
            "refused",
            3
        ])
    );
    assert_eq!(pool.eval::<u32>("1 + 1").await.unwrap(), 2);
}
