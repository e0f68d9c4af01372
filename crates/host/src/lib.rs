//! The runtime of outrigger: a warm pool of Node.js processes that runs
//! JavaScript for Rust, with JSON-RPC flowing both ways over each worker's
//! private channel.
//!
//! Use it through the `outrigger` crate, which re-exports everything here.
//!
//! ```no_run
//! # async fn demo() -> outrigger_host::Result<()> {
//! use outrigger_host::{Pool, Script};
//! let pool = Pool::builder().workers(2).build().await?;
//! let four: i64 = pool.eval("2 + 2").await?;
//! let out = pool.run(Script::module("console.log('hi'); export default 42;")).await?;
//! assert_eq!((four, out.value.as_i64()), (4, Some(42)));
//! assert_eq!(out.logs[0].message(), "hi");
//! # Ok(()) }
//! ```
//!
//! The modules, lowest layer first (none imports a higher one; see
//! ARCHITECTURE.md for the map and the life of a request): `error`,
//! `output`, `metrics`, `paths`, `strip`, `diagnostic`, `for_model` → `wire`
//! (the protocol) → `sandbox`, `store`, `callbacks` → `typescript` →
//! `declarations`, `discovery` → `engine` (processes, channels, the worker's
//! lifecycle) → `dispatch` (which worker, the queue, stats) → `script`,
//! `run`, `runner`, `checker` → `session`, `module` → `pool` (builder,
//! supervisor, facade).

mod binary;
mod callbacks;
mod checker;
mod declarations;
mod diagnostic;
mod discovery;
mod dispatch;
mod engine;
mod error;
mod for_model;
mod metrics;
mod module;
mod outgoing;
mod output;
mod paths;
mod pool;
mod run;
mod runner;
mod sandbox;
mod script;
mod script_key;
mod session;
mod store;
mod strip;
pub mod typescript;
pub mod wire;

pub use bytes::Bytes;
pub use callbacks::{
    Approval, ApprovalFuture, ApprovalRequest, Approver, CallContext, CallbackDecl, CallbackError,
    CallbackSet, Handler,
};
pub use declarations::{Declarations, ToolFormat};
pub use diagnostic::Diagnostic;
pub use discovery::{ToolDescription, ToolSummary};
pub use dispatch::{ExitCauses, Stats, WorkerCounts};
pub use engine::{Engine, EngineInfo};
pub use error::{Error, Result};
pub use metrics::Histogram;
pub use module::JsModule;
pub use output::{CallSite, Event, LogEntry, LogLevel, Output};
pub use pool::{Isolation, Pool, PoolBuilder};
pub use run::{Progress, RunHandle};
pub use sandbox::Sandbox;
pub use script::{Script, ScriptKind};
pub use session::Session;
pub use store::{DirEntry, FileInfo, FileStore, MemoryStore};
pub use wire::WorkerStats;

/// The protocol's public parts under their earlier name.
/// Drills for tests: what a crash or a damaged cache would do, on purpose.
#[doc(hidden)]
pub mod drills {
    pub use crate::engine::corrupt_preload_caches;
}

#[doc(hidden)]
pub mod protocol {
    pub use crate::wire::{codes, decode_stream};
}

/// Support for the code `#[outrigger::callbacks]` generates. Not a public
/// API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::callbacks::support::{from_result, from_value, handler, schema};
    pub use crate::callbacks::{CallContext, CallbackDecl, CallbackError, CallbackSet, Handler};
    pub use schemars;
    pub use serde;
    pub use std::option::Option;
    pub use std::string::String;
    pub use std::sync::Arc;
    pub use std::vec::Vec;

    /// TypeScript with its types erased, for the benchmarks.
    pub fn erase_types(source: &str) -> std::result::Result<String, String> {
        crate::strip::strip(source).map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))
    }

    /// Compile-time check that a callback's future can move between threads.
    pub fn assert_send<F: std::future::Future + Send>(future: F) -> F {
        future
    }
}
