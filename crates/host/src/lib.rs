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

mod error;
mod module;
mod pool;
pub mod protocol;
mod run;
mod script;
mod session;
mod spawn;
mod worker;

pub use error::{Error, Result};
pub use module::JsModule;
pub use pool::{Pool, PoolBuilder, Stats, WorkerStats};
pub use run::RunHandle;
pub use script::{Event, LogEntry, LogLevel, Output, Script, ScriptKind};
pub use session::Session;
