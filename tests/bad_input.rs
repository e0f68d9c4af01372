//! Bad input on the channel: a worker that writes garbage or oversized
//! frames is ended with a protocol error and replaced, never a host panic;
//! and values of any shape go through the protocol and back unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use outrigger::{Error, Pool, Script};
use proptest::prelude::*;

/// A stand-in engine: says it is Node.js 22, answers `init` and `ping`, and
/// answers `run` by writing `garbage` (Python bytes literal) to its channel.
fn garbage_engine(dir: &Path, garbage: &str) -> PathBuf {
    let path = dir.join("garbage-node");
    let script = format!(
        r#"#!/usr/bin/env python3
import os, sys, json
if "--version" in sys.argv:
    print("v22.0.0")
    sys.exit(0)
channel = os.fdopen(3, "rb+", buffering=0)
buffer = b""
while True:
    chunk = channel.read(65536)
    if not chunk:
        sys.exit(0)
    buffer += chunk
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        request = json.loads(line)
        method = request.get("method")
        if method == "init":
            answer = {{"protocol": 1, "engine": "node", "version": "22.0.0", "pid": os.getpid()}}
        elif method == "run":
            channel.write({garbage})
            continue
        elif "id" in request:
            answer = {{}}
        else:
            continue
        channel.write((json.dumps({{"jsonrpc": "2.0", "id": request["id"], "result": answer}}) + "\n").encode())
"#
    );
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("outrigger-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn garbage_pool(dir: &Path, garbage: &str) -> Pool {
    Pool::builder()
        .workers(1)
        .node(garbage_engine(dir, garbage))
        .env("PATH", "/usr/bin:/bin")
        .max_message_bytes(64 * 1024)
        .health_check(Duration::from_secs(60), Duration::from_secs(60))
        .build()
        .await
        .expect("the fake engine starts")
}

async fn ends_the_worker_and_replaces_it(name: &str, garbage: &str, reason: &str) {
    let dir = tempdir(name);
    let pool = garbage_pool(&dir, garbage).await;
    let error = pool.eval::<i64>("1").await.unwrap_err();
    assert!(
        matches!(&error, Error::WorkerExited { reason: r, .. } if r.contains(reason)),
        "{error:?}"
    );
    assert!(
        common::eventually(Duration::from_secs(10), || {
            let stats = pool.stats();
            stats.exits.protocol >= 1 && stats.restarts >= 1 && stats.workers == 1
        })
        .await,
        "{:?}",
        pool.stats()
    );
    // The replacement answers.
    pool.ping().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_worker_writing_garbage_is_replaced() {
    ends_the_worker_and_replaces_it("garbage", r#"b"\x00\xffnot json at all\n""#, "protocol").await;
}

#[tokio::test]
async fn a_worker_writing_invalid_utf8_is_replaced() {
    ends_the_worker_and_replaces_it(
        "not-utf8",
        r#"b"{\"id\": 1, \"result\": \"\xc3\x28\"}\n""#,
        "UTF-8",
    )
    .await;
}

#[tokio::test]
async fn a_worker_writing_an_unknown_notification_is_replaced() {
    ends_the_worker_and_replaces_it(
        "unknown-notification",
        r#"b"{\"jsonrpc\": \"2.0\", \"method\": \"steal\", \"params\": {}}\n""#,
        "unknown notification",
    )
    .await;
}

#[tokio::test]
async fn a_worker_writing_an_oversized_frame_is_replaced() {
    ends_the_worker_and_replaces_it("oversized", r#"b"[" * (1024 * 1024)"#, "exceeds").await;
}

// Round trips: a value sent as a global comes back unchanged.

#[test]
fn values_round_trip_through_the_protocol() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pool = runtime
        .block_on(common::builder().workers(1).build())
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
    runner
        .run(&common::json_value(), |value| {
            let script = Script::expression("input").global("input", &value);
            let out = runtime.block_on(pool.run(script)).unwrap();
            prop_assert_eq!(out.value, value);
            Ok(())
        })
        .unwrap();
}
