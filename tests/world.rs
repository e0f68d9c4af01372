//! What a script finds in its world, and what it does not.

mod common;

use outrigger::{Sandbox, Script};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_web_platform_globals_are_there() {
    let pool = common::pool().await;
    let out = pool
        .run(Script::module(
            r#"
            const url = new URL("https://example.com/a?b=1");
            const bytes = new TextEncoder().encode("héllo");
            const text = new TextDecoder().decode(bytes);
            const clone = structuredClone({ nested: [1, { two: 2 }] });
            const controller = new AbortController();
            controller.abort();
            let micro = false;
            queueMicrotask(() => { micro = true; });
            await null;
            const timer = await new Promise((resolve) => setTimeout(resolve, 1, "timer"));
            const immediate = await new Promise((resolve) => setImmediate(() => resolve("immediate")));
            export default {
              url: url.searchParams.get("b"),
              bytes: bytes.length,
              text,
              clone,
              aborted: controller.signal.aborted,
              base64: btoa("hi"),
              decoded: atob("aGk="),
              uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
              random: crypto.getRandomValues(new Uint8Array(4)).length,
              micro,
              timer,
              immediate,
              fetch: typeof fetch,
              headers: new Headers({ a: "1" }).get("a"),
              signal: typeof signal.aborted,
              host: typeof host.emit,
            };
            "#,
        ))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!({
            "url": "1", "bytes": 6, "text": "héllo", "clone": { "nested": [1, { "two": 2 }] },
            "aborted": true, "base64": "aGk=", "decoded": "hi", "uuid": true, "random": 4,
            "micro": true, "timer": "timer", "immediate": "immediate", "fetch": "function",
            "headers": "1", "signal": "boolean", "host": "function"
        })
    );
}

#[tokio::test]
async fn the_workers_own_realm_is_out_of_reach() {
    not_on_bun!("Bun cannot turn off code generation from strings, so the worker's realm is in reach (SECURITY.md, \"Bun\")");
    let pool = common::pool().await;
    let out = pool
        .run(Script::expression(
            r#"
            const attempt = (f) => { try { return String(f()); } catch (e) { return "blocked: " + e.constructor.name; } };
            ({
              process: typeof process,
              require: typeof require,
              buffer: typeof Buffer,
              globalRequire: typeof globalThis.require,
              viaThis: attempt(() => this.constructor.constructor("return process")()),
              viaConsole: attempt(() => console.log.constructor("return process")()),
              viaUrl: attempt(() => URL.constructor("return process")()),
              viaHost: attempt(() => host.emit.constructor("return process")()),
              ownEval: eval("1 + 1"),
              ownFunction: new Function("return 2")(),
            })
            "#,
        ))
        .await
        .unwrap();
    // Functions of the worker's realm cannot compile code (EvalError); those
    // made in the script's realm compile in it, where `process` is the
    // script's own.
    // On QuickJS everything a script reaches is of its own realm, which has
    // no `process` at all.
    let mut value = out.value;
    let (lent, own) = common::either(
        ("blocked: EvalError", "[object process]"),
        ("blocked: ReferenceError", "blocked: ReferenceError"),
    );
    for (path, expected) in [
        ("viaThis", lent),
        ("viaUrl", lent),
        ("viaConsole", own),
        ("viaHost", own),
    ] {
        assert_eq!(value[path], expected, "{path}");
        value.as_object_mut().unwrap().remove(path);
    }
    assert_eq!(
        value,
        common::either(
            json!({
                "process": "object", "require": "undefined", "buffer": "function", "globalRequire": "undefined",
                "ownEval": 2, "ownFunction": 2
            }),
            json!({
                "process": "undefined", "require": "undefined", "buffer": "undefined", "globalRequire": "undefined",
                "ownEval": 2, "ownFunction": 2
            })
        )
    );
}

/// A one-shot HTTP server on loopback that answers every request with `body`.
async fn serve_once(body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/data", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 4096];
        let n = socket.read(&mut request).await.unwrap();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    (url, server)
}

#[tokio::test]
async fn fetch_reaches_a_local_server() {
    let (url, server) = serve_once(r#"{"answer":42}"#).await;
    let pool = common::builder()
        .sandbox(common::sandbox(
            Sandbox::strict().allow_fetch(url.trim_end_matches("/data")),
        ))
        .build()
        .await
        .unwrap();
    let out = pool
        .run(
            Script::module(
                "const response = await fetch(url, { headers: { 'x-test': 'yes' } });\nexport default { status: response.status, body: await response.json() };",
            )
            .global("url", &url),
        )
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!({ "status": 200, "body": { "answer": 42 } })
    );
    let request = server.await.unwrap();
    assert!(request.starts_with("GET /data"), "{request}");
    assert!(request.to_lowercase().contains("x-test: yes"), "{request}");
}

#[tokio::test]
async fn the_glob_users_write_allows_the_origin_and_a_misplaced_star_fails_build() {
    let (url, server) = serve_once(r#"{"glob":true}"#).await;
    let origin = url.trim_end_matches("/data");
    let pool = common::builder()
        .sandbox(common::sandbox(
            Sandbox::strict().allow_fetch(format!("{origin}/*")),
        ))
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::expression("fetch(url).then((r) => r.json())").global("url", &url))
        .await
        .unwrap();
    assert_eq!(out.value, json!({ "glob": true }));
    server.await.unwrap();
    let error = common::builder()
        .sandbox(common::sandbox(
            Sandbox::strict().allow_fetch(format!("{origin}/v1/*/items")),
        ))
        .build()
        .await
        .unwrap_err();
    match error {
        outrigger::Error::InvalidInput(message) => {
            assert!(message.contains("Sandbox::allow_fetch"), "{message}");
            assert!(message.contains("the accepted forms are"), "{message}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn workers_see_only_the_environment_they_are_given() {
    node_only!("process.env");
    let pool = common::builder()
        .env("GREETING", "hello")
        .build()
        .await
        .unwrap();
    // A script's `process.env` holds what the worker was given, and a
    // NODE_ENV; what it sets there stays in its own run.
    let out = pool
        .run(Script::expression(
            "const seen = { ...process.env }; process.env.LEAK = '1'; seen",
        ))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        serde_json::json!({"GREETING": "hello", "NODE_ENV": "production"})
    );
    let next = pool
        .run(Script::expression("process.env.LEAK ?? 'unset'"))
        .await
        .unwrap();
    assert_eq!(next.value, "unset");
    let pids = pool.worker_pids();
    let environ = std::fs::read(format!("/proc/{}/environ", pids[0])).unwrap();
    let vars: Vec<String> = environ
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        // Deno's own settings (its private cache directory, no update
        // check), which scripts cannot read.
        .filter(|v| !(common::deno() && v.starts_with("DENO_")))
        // Bun's own settings (no transpiler cache, no crash reports).
        .filter(|v| !(common::bun() && (v.starts_with("BUN_") || v.starts_with("DO_NOT_TRACK="))))
        .collect();
    assert_eq!(vars, ["GREETING=hello"]);
}
