//! Run JavaScript from Rust in a warm pool of Node.js processes.
//!
//! outrigger keeps a pool of real Node.js processes ready, sends them code
//! over a private channel (JSON-RPC 2.0, one JSON text per line) and hands back
//! values, console output and events, tagged to the run that produced them.
//!
//! ```no_run
//! # async fn demo() -> outrigger::Result<()> {
//! use std::time::Duration;
//! use outrigger::{Pool, Script};
//!
//! let pool = Pool::builder().workers(2).timeout(Duration::from_secs(5)).build().await?;
//!
//! // An expression; promises are awaited.
//! let four: i64 = pool.eval("2 + 2").await?;
//!
//! // A module with inputs, console output and a default export.
//! let out = pool
//!     .run(Script::module("console.log('adding'); export default input.a + input.b;")
//!         .global("input", serde_json::json!({ "a": 1, "b": 2 })))
//!     .await?;
//! assert_eq!(out.value, 3);
//! assert_eq!(out.logs[0].message(), "adding");
//!
//! // A session keeps its context across runs.
//! let session = pool.session().await?;
//! session.eval::<i64>("globalThis.n = 41").await?;
//! assert_eq!(session.eval::<i64>("n + 1").await?, 42);
//! # let _ = four;
//! # Ok(()) }
//! ```
//!
//! Scripts can call async Rust functions as `await host.lookupUser({ id: 7 })`:
//! write them as the `async fn`s of an impl block marked
//! [`#[outrigger::callbacks]`](macro@callbacks) and hand an instance to
//! [`PoolBuilder::callbacks`].
//!
//! With the `quickjs` feature, `Pool::builder().engine(Engine::QuickJs)` runs
//! the same API on QuickJS engine threads inside your process, with no Node.js
//! at all (docs/ENGINES.md says what works where).
//!
//! Start from `examples/quickstart.rs`; ARCHITECTURE.md maps the crates.

pub use outrigger_host::*;
pub use outrigger_macros::callbacks;
