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
//! See ARCHITECTURE.md in the repository for the modules and the life of a
//! request.

mod callbacks;
mod error;
mod metrics;
mod module;
mod outbox;
mod pool;
mod project;
pub mod protocol;
mod run;
mod sandbox;
mod script;
mod session;
mod spawn;
pub mod typescript;
mod worker;

pub use callbacks::{CallContext, CallbackError, CallbackSet, Declarations, Handler, ToolFormat};
pub use error::{Error, Result};
pub use metrics::Histogram;
pub use module::JsModule;
pub use pool::{ExitCauses, Isolation, Pool, PoolBuilder, Stats, WorkerCounts, WorkerStats};
pub use run::RunHandle;
pub use sandbox::Sandbox;
pub use script::{Event, LogEntry, LogLevel, Output, Script, ScriptKind};
pub use session::Session;

/// Support for the code `#[outrigger::callbacks]` generates. Not a public
/// API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::callbacks::support::{from_result, from_value, handler, schema};
    pub use crate::callbacks::{CallContext, CallbackError, CallbackSet, Handler};
    pub use crate::typescript::CallbackDecl;
    pub use schemars;
    pub use serde;
    pub use std::option::Option;
    pub use std::string::String;
    pub use std::sync::Arc;
    pub use std::vec::Vec;

    /// Compile-time check that a callback's future can move between threads.
    pub fn assert_send<F: std::future::Future + Send>(future: F) -> F {
        future
    }
}
