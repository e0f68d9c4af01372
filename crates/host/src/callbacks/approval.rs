//! Approvals: a callback marked `#[outrigger(approval)]` (or named in
//! `PoolBuilder::require_approval`) runs only once an [`Approver`] said so.
//! The run waits meanwhile, its timeout clock paused, its other work going
//! on; a denial rejects the call in the script with an `Error` whose `code`
//! is `"APPROVAL_DENIED"`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use crate::output::CallSite;

/// A decision on one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// The call goes ahead.
    Approve,
    /// The call is rejected in the script with this reason.
    Deny(String),
}

/// A call waiting for a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRequest {
    /// The run that made the call (see [`RunHandle::id`](crate::RunHandle::id)).
    pub run: u64,
    /// The callback's wire name (`sendEmail`, `mail.send`).
    pub callback: String,
    /// The params the script passed.
    pub params: serde_json::Value,
    /// Where the script made the call, when it can be told.
    pub position: Option<CallSite>,
}

/// The future an approver returns.
pub type ApprovalFuture = Pin<Box<dyn Future<Output = Approval> + Send + 'static>>;

/// Decides on calls that need approval: an async function of an
/// [`ApprovalRequest`]. Set one for a pool
/// ([`PoolBuilder::approver`](crate::PoolBuilder::approver)) or a run
/// ([`Script::approver`](crate::Script::approver)).
#[derive(Clone)]
pub struct Approver(Arc<dyn Fn(ApprovalRequest) -> ApprovalFuture + Send + Sync>);

impl Approver {
    /// An approver from an async function.
    ///
    /// ```
    /// use outrigger_host::{Approval, Approver};
    /// let approver = Approver::new(|request| async move {
    ///     if request.callback == "deleteEverything" {
    ///         Approval::Deny("not today".into())
    ///     } else {
    ///         Approval::Approve
    ///     }
    /// });
    /// # let _ = approver;
    /// ```
    pub fn new<F, Fut>(decide: F) -> Approver
    where
        F: Fn(ApprovalRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Approval> + Send + 'static,
    {
        Approver(Arc::new(move |request| Box::pin(decide(request))))
    }

    /// Asks for a decision on `request`.
    pub(crate) fn decide(&self, request: ApprovalRequest) -> ApprovalFuture {
        (self.0)(request)
    }
}

impl fmt::Debug for Approver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Approver")
    }
}
