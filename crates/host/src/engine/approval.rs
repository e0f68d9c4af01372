//! Calls that wait for a person's decision: what a run brings for them (its
//! public id, its own approver), the calls of it that wait, and the wait
//! itself, with the run's clock held. Every kind of worker gates its calls
//! of `#[outrigger(approval)]` callbacks through here.

use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use crate::callbacks::{Approval, ApprovalRequest, Approver, CallbackError, Registry};
use crate::wire::codes;

/// Calls of one run waiting for a decision, by callback request id.
type Pending = Arc<Mutex<Vec<(u64, ApprovalRequest)>>>;

/// What one run brings for approvals.
#[derive(Debug, Default)]
pub(crate) struct RunApprovals {
    /// The run's id as its handle knows it (its first request's).
    public: Option<u64>,
    /// Its own approver, over the pool's.
    approver: Option<Approver>,
    pending: Pending,
}

impl RunApprovals {
    /// Notes what run brings besides its request.
    pub(crate) fn begin(&mut self, public: u64, approver: Option<Approver>) {
        self.public = Some(public);
        self.approver = approver;
    }

    /// Its calls waiting for a decision.
    pub(crate) fn pending(&self) -> Vec<ApprovalRequest> {
        let pending = self.pending.lock().unwrap();
        pending.iter().map(|(_, request)| request.clone()).collect()
    }
}

/// A call that must be approved before its callback runs.
pub(crate) struct Gate {
    request: ApprovalRequest,
    approver: Option<Approver>,
    pending: Pending,
}

/// The gate for a call of `method` by run `run` (of `approvals`, if it said
/// anything), or `None` when the callback needs no approval. Params the
/// callback would refuse are refused here, before anyone is asked.
pub(crate) fn gate(
    registry: &Registry,
    approvals: Option<&RunApprovals>,
    run: u64,
    method: &str,
    args: &RawValue,
    position: Option<crate::output::CallSite>,
) -> Result<Option<Gate>, CallbackError> {
    if !registry.needs_approval(method) {
        return Ok(None);
    }
    let params: serde_json::Value = serde_json::from_str(args.get()).unwrap_or_default();
    registry.check_params(method, &params)?;
    let request = ApprovalRequest {
        run: approvals.and_then(|a| a.public).unwrap_or(run),
        callback: method.to_owned(),
        params,
        position,
    };
    let approver = approvals
        .and_then(|a| a.approver.clone())
        .or_else(|| registry.approver().cloned());
    let pending = approvals.map(|a| a.pending.clone()).unwrap_or_default();
    Ok(Some(Gate {
        request,
        approver,
        pending,
    }))
}

impl Gate {
    /// Waits for the decision on call `id`. `hold` is told when the wait
    /// begins (`true`) and ends, however it ends (a decision, or the run's
    /// end dropping the call): the run's timeout clock pauses meanwhile.
    /// `Err` is the denial the call fails with.
    pub(crate) async fn pass(self, id: u64, hold: impl Fn(bool)) -> Result<(), CallbackError> {
        let Gate {
            request,
            approver,
            pending,
        } = self;
        let callback = request.callback.clone();
        let Some(approver) = approver else {
            return Err(CallbackError::new(format!(
                "`{callback}` needs approval, and no approver is set (PoolBuilder::approver or Script::approver)"
            ))
            .with_code(codes::APPROVAL_DENIED));
        };
        pending.lock().unwrap().push((id, request.clone()));
        hold(true);
        struct Waiting<'a, H: Fn(bool)> {
            id: u64,
            pending: &'a Mutex<Vec<(u64, ApprovalRequest)>>,
            hold: &'a H,
        }
        impl<H: Fn(bool)> Drop for Waiting<'_, H> {
            fn drop(&mut self) {
                self.pending
                    .lock()
                    .unwrap()
                    .retain(|(id, _)| *id != self.id);
                (self.hold)(false);
            }
        }
        let waiting = Waiting {
            id,
            pending: &pending,
            hold: &hold,
        };
        let started = std::time::Instant::now();
        let decision = approver.decide(request).await;
        drop(waiting);
        tracing::debug!(callback = %callback, waited_ms = started.elapsed().as_millis() as u64, ?decision, "approval decided");
        match decision {
            Approval::Approve => Ok(()),
            Approval::Deny(reason) => Err(CallbackError::new(format!(
                "`{callback}` was not approved: {reason}"
            ))
            .with_code(codes::APPROVAL_DENIED)
            .with_data(serde_json::json!({ "reason": reason }))),
        }
    }
}
