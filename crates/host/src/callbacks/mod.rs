//! Callbacks: async Rust functions that scripts call as
//! `await host.lookupUser({ id: 7 })`.
//!
//! A set of callbacks is a type implementing [`CallbackSet`], normally
//! written by `#[outrigger::callbacks]` on an impl block: its declarations
//! ([`CallbackDecl`]: names, docs, JSON Schemas) and its type-erased
//! [`Handler`]s. The pool keeps a [`Registry`] of every set it was given; a
//! worker's request for a callback is answered by spawning the callback's
//! future (`engine/calls.rs`), which is dropped when the run that asked for
//! it ends.

mod approval;
mod context;
mod decl;
mod error;
mod registry;
#[doc(hidden)]
pub mod support;
mod tool;
mod validate;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::value::RawValue;

pub use approval::{Approval, ApprovalFuture, ApprovalRequest, Approver};
pub use context::CallContext;
pub(crate) use context::EventSink;
pub(crate) use decl::wire_name;
pub use decl::CallbackDecl;
pub use error::CallbackError;
pub(crate) use registry::Registry;
pub(crate) use tool::tool;

/// The future a callback handler returns.
pub type CallbackFuture =
    Pin<Box<dyn Future<Output = Result<Box<RawValue>, CallbackError>> + Send + 'static>>;

/// A type-erased callback: raw JSON params in, raw JSON result out.
pub type Handler = Arc<dyn Fn(CallContext, Box<RawValue>) -> CallbackFuture + Send + Sync>;

/// A set of callbacks, as `#[outrigger::callbacks]` writes it.
pub trait CallbackSet: Send + Sync + 'static {
    /// The declarations (names, docs, schemas) of the set; needs no instance,
    /// so build scripts can generate TypeScript without starting anything.
    fn declarations() -> Vec<CallbackDecl>
    where
        Self: Sized;

    /// The handlers, bound to this instance, by wire name (`lookupUser`, or
    /// `kv.get` in a namespace).
    fn handlers(self: Arc<Self>) -> Vec<(String, Handler)>;
}
