//! Shared set-up for the integration tests: real pools of real engine
//! workers (Node.js, Deno, Bun or QuickJS).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use outrigger::{Pool, PoolBuilder};
use proptest::prelude::*;

/// A builder for a small pool with a short default timeout, on the engine
/// named by `OUTRIGGER_TEST_ENGINE` (`node`, the default, `deno`, `bun` or
/// `quickjs`), Node.js being `OUTRIGGER_TEST_NODE` (default: `node` from
/// `PATH`), Deno [`deno_program`] and Bun [`bun_program`]. Bun runs
/// trusted code only, so its pools say so (`Sandbox::none`); a test that
/// sets its own sandbox keeps the permission model off with
/// [`sandbox`].
pub fn builder() -> PoolBuilder {
    init_tracing();
    let builder = Pool::builder().workers(2).timeout(Duration::from_secs(10));
    match engine() {
        TestEngine::QuickJs => in_process(builder),
        TestEngine::Deno => builder
            .engine(outrigger::Engine::Deno)
            .engine_path(deno_program()),
        TestEngine::Bun => builder
            .engine(outrigger::Engine::Bun)
            .engine_path(bun_program())
            .sandbox(outrigger::Sandbox::none()),
        TestEngine::Node => node_builder(builder),
    }
}

/// A builder on Node.js whatever `OUTRIGGER_TEST_ENGINE` says, for tests of
/// what only Node.js has.
pub fn node_builder(builder: PoolBuilder) -> PoolBuilder {
    match std::env::var_os("OUTRIGGER_TEST_NODE") {
        Some(node) => builder.node(node),
        None => builder,
    }
}

/// The engine the engine-independent tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEngine {
    Node,
    Deno,
    Bun,
    QuickJs,
}

/// The engine named by `OUTRIGGER_TEST_ENGINE` (default `node`).
pub fn engine() -> TestEngine {
    match std::env::var("OUTRIGGER_TEST_ENGINE").as_deref() {
        Ok("node") | Err(_) => TestEngine::Node,
        Ok("deno") => TestEngine::Deno,
        Ok("bun") => TestEngine::Bun,
        Ok("quickjs") => TestEngine::QuickJs,
        Ok(other) => {
            panic!("OUTRIGGER_TEST_ENGINE={other}: the engines are `node`, `deno`, `bun` and `quickjs`")
        }
    }
}

/// Whether the engine-independent tests run on QuickJS
/// (`OUTRIGGER_TEST_ENGINE=quickjs`).
pub fn quickjs() -> bool {
    engine() == TestEngine::QuickJs
}

/// Whether they run on Deno (`OUTRIGGER_TEST_ENGINE=deno`).
pub fn deno() -> bool {
    engine() == TestEngine::Deno
}

/// Whether they run on Bun (`OUTRIGGER_TEST_ENGINE=bun`).
pub fn bun() -> bool {
    engine() == TestEngine::Bun
}

/// A test's own sandbox as the engine under test can take it: on Bun, which
/// runs trusted code only, with the permission model off.
pub fn sandbox(sandbox: outrigger::Sandbox) -> outrigger::Sandbox {
    if bun() {
        sandbox.permission_model(false)
    } else {
        sandbox
    }
}

/// The Bun the tests run: `$OUTRIGGER_BUN`, else the one scripts/test.sh
/// installs under `target/engines/bun`, else `bun` from `PATH`.
pub fn bun_program() -> PathBuf {
    if let Some(path) = std::env::var_os("OUTRIGGER_BUN") {
        return PathBuf::from(path);
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/engines/bun/node_modules/bun/bin/bun.exe");
    if installed.exists() {
        return installed;
    }
    PathBuf::from("bun")
}

/// The Deno the tests run: `$OUTRIGGER_DENO`, else the one scripts/test.sh
/// installs under `target/engines/deno`, else `deno` from `PATH`.
pub fn deno_program() -> PathBuf {
    if let Some(path) = std::env::var_os("OUTRIGGER_DENO") {
        return PathBuf::from(path);
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/engines/deno/node_modules/@deno/linux-x64-glibc/deno");
    if installed.exists() {
        return installed;
    }
    PathBuf::from("deno")
}

/// Skips the rest of a test that needs what only an engine with Node.js's
/// built-ins has (a process, npm packages, Node's built-ins, ...), saying
/// so: it runs on Node.js and Deno, not on QuickJS.
#[macro_export]
macro_rules! node_only {
    ($why:expr) => {
        if $crate::common::quickjs() {
            eprintln!("skipped on QuickJS: {}", $why);
            return;
        }
    };
}

/// Skips the rest of a test on Bun, saying why; docs/ENGINES.md lists
/// these differences.
#[macro_export]
macro_rules! not_on_bun {
    ($why:expr) => {
        if $crate::common::bun() {
            eprintln!("skipped on Bun: {}", $why);
            return;
        }
    };
}

/// Skips the rest of a test on Deno, saying why; docs/ENGINES.md lists
/// these differences.
#[macro_export]
macro_rules! not_on_deno {
    ($why:expr) => {
        if $crate::common::deno() {
            eprintln!("skipped on Deno: {}", $why);
            return;
        }
    };
}

/// What the engine under test says: Node.js's words (Deno's too) or
/// QuickJS's.
pub fn either<T>(node: T, on_quickjs: T) -> T {
    if quickjs() {
        on_quickjs
    } else {
        node
    }
}

#[cfg(feature = "quickjs")]
fn in_process(builder: PoolBuilder) -> PoolBuilder {
    builder.engine(outrigger::Engine::QuickJs)
}

#[cfg(not(feature = "quickjs"))]
fn in_process(_: PoolBuilder) -> PoolBuilder {
    panic!("OUTRIGGER_TEST_ENGINE=quickjs needs the tests built with `--features quickjs`")
}

/// A started two-worker pool.
pub async fn pool() -> Pool {
    builder().build().await.expect("the pool starts")
}

/// A started one-worker pool whose plain runs share the worker's context
/// (`Isolation::Worker`).
pub async fn shared_context_pool() -> Pool {
    builder()
        .workers(1)
        .isolation(outrigger::Isolation::Worker)
        .build()
        .await
        .expect("the pool starts")
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Whether a process with this id exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state is the field after the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

/// Evaluates `code` on `pool` in a task of its own: a run in flight while
/// the test goes on.
pub fn spawn_eval(
    pool: &Pool,
    code: impl Into<String>,
) -> tokio::task::JoinHandle<outrigger::Result<i64>> {
    let pool = pool.clone();
    let code = code.into();
    tokio::spawn(async move { pool.eval::<i64>(&code).await })
}

/// Waits until `check` holds, polling, for at most `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The TypeScript compiler: `$OUTRIGGER_TSC`, or the one `npm ci` installs in `js-client/`.
pub fn tsc() -> PathBuf {
    if let Some(path) = std::env::var_os("OUTRIGGER_TSC") {
        return PathBuf::from(path);
    }
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("js-client/node_modules/.bin/tsc");
    assert!(
        bundled.exists(),
        "TypeScript compiler not found at {}. Install it with `npm ci --prefix js-client` \
         (scripts/test.sh does), or point OUTRIGGER_TSC at a tsc executable.",
        bundled.display(),
    );
    bundled
}

/// Any JSON value that survives JavaScript exactly.
pub fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    // Integers JavaScript holds exactly; no -0 (JSON.stringify(-0) is "0");
    // no integral floats below 1e21 (JavaScript has one number type, so
    // 2.0 comes back as the integer 2).
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite, not integral", |f| {
                f.is_finite() && (f.fract() != 0.0 || f.abs() >= 1e21)
            })
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
