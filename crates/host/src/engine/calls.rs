//! Callbacks a worker asks the host for: each one a task tied to the run
//! that called it, dropped when that run ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::callbacks::{Approval, ApprovalRequest, Approver, CallContext, EventSink, Registry};
use crate::wire::{self, codes, CallbackCall};

/// The side of a channel a callback's call came in on: where its answer
/// goes and its events go, and which runs are still in progress there.
pub(crate) trait Caller: EventSink + 'static {
    /// Writes a line that answers the worker.
    fn answer(&self, line: String);
    /// Whether run `run` is still waiting for its own answer.
    fn is_waiting(&self, run: u64) -> bool;
    /// Tells run `run` (the worker and its handle) that a call of it waits
    /// for approval (`held`), or no longer does: its timeout clock pauses
    /// while any does.
    fn hold(&self, run: u64, held: bool);
}

/// The callbacks in progress on one worker, by the run that asked for them.
#[derive(Debug)]
pub(crate) struct Calls {
    registry: Arc<Registry>,
    runs: Mutex<HashMap<u64, RunCalls>>,
}

/// The callbacks of one run: cancelled together when the run ends.
#[derive(Debug, Default)]
struct RunCalls {
    token: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::AbortHandle>,
    /// The run's id as its handle knows it (its first request's), and its
    /// own approver, when `begin` said so.
    public: Option<u64>,
    approver: Option<Approver>,
    /// Its calls waiting for approval, by callback request id.
    pending: Arc<Mutex<Vec<(u64, ApprovalRequest)>>>,
}

impl RunCalls {
    fn end(self) {
        self.token.cancel();
        for task in self.tasks {
            task.abort();
        }
    }
}

impl Calls {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Calls {
            registry,
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Runs the callback request `id` as a task tied to its run; its answer
    /// goes back through `connection`.
    pub(crate) fn dispatch<C: Caller>(
        &self,
        connection: &Arc<C>,
        id: u64,
        method: String,
        params: Option<&RawValue>,
    ) {
        let fail = |code: i64, message: &str| {
            connection.answer(wire::error_response(Some(id), code, message, None));
        };
        if method == STRIP {
            return connection.answer(erase_types(id, params));
        }
        let Some(handler) = self.registry.get(&method).cloned() else {
            return fail(
                codes::METHOD_NOT_FOUND,
                &format!(
                    "no callback named `{method}` (callbacks: {})",
                    self.registry.names()
                ),
            );
        };
        let Some(call) = CallbackCall::parse(params) else {
            return fail(codes::INVALID_REQUEST, "malformed callback request");
        };
        // Only a run in progress may call back; its calls end with it.
        let Some(run) = call.run.filter(|&run| connection.is_waiting(run)) else {
            return fail(
                codes::CANCELLED,
                &format!("`{method}` was called after its run ended"),
            );
        };
        let token = self
            .runs
            .lock()
            .unwrap()
            .entry(run)
            .or_default()
            .token
            .clone();
        let events: Arc<dyn EventSink> = connection.clone();
        let ctx = CallContext::new(
            Some(run),
            call.session,
            method.as_str().into(),
            token,
            Arc::downgrade(&events),
        );
        let args = call.args();
        let answers = connection.clone();
        let needs_approval = self.registry.needs_approval(&method);
        let params: serde_json::Value = if needs_approval {
            serde_json::from_str(args.get()).unwrap_or_default()
        } else {
            serde_json::Value::Null
        };
        if needs_approval {
            // Params the callback would refuse are refused before anyone is asked.
            if let Err(error) = self.registry.check_params(&method, &params) {
                return connection.answer(wire::error_response(
                    Some(id),
                    error.code(),
                    error.message(),
                    error.data(),
                ));
            }
        }
        let approval = needs_approval.then(|| {
            let runs = self.runs.lock().unwrap();
            let calls = runs.get(&run);
            let request = ApprovalRequest {
                run: calls.and_then(|c| c.public).unwrap_or(run),
                callback: method.clone(),
                params,
                position: call.site.clone(),
            };
            let approver = calls
                .and_then(|c| c.approver.clone())
                .or_else(|| self.registry.approver().cloned());
            let pending = calls.map(|c| c.pending.clone()).unwrap_or_default();
            (request, approver, pending)
        });
        let span = tracing::info_span!("outrigger.callback", callback = %method, run, id);
        let task = tokio::spawn(
            async move {
                if let Some((request, approver, pending)) = approval {
                    if let Err(line) = approve(&*answers, run, id, request, approver, pending).await
                    {
                        answers.answer(line);
                        return;
                    }
                }
                let outcome = std::panic::AssertUnwindSafe(async move { handler(ctx, args).await })
                    .catch_unwind()
                    .await;
                let line = match outcome {
                    Ok(Ok(value)) => wire::response(id, value.get()),
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "callback failed");
                        wire::error_response(Some(id), error.code(), error.message(), error.data())
                    }
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "no message".into());
                        tracing::error!(panic = %what, "callback panicked");
                        wire::error_response(
                            Some(id),
                            codes::CALLBACK_FAILED,
                            &format!("callback `{method}` panicked: {what}"),
                            None,
                        )
                    }
                };
                answers.answer(line);
            }
            .instrument(span),
        );
        if let Some(calls) = self.runs.lock().unwrap().get_mut(&run) {
            calls.tasks.retain(|t| !t.is_finished());
            calls.tasks.push(task.abort_handle());
        } else {
            // The run ended while the task was being started.
            task.abort();
        }
    }

    /// Notes what a run brings besides its request: its id as its handle
    /// knows it, and its own approver.
    pub(crate) fn begin(&self, run: u64, public: u64, approver: Option<Approver>) {
        let mut runs = self.runs.lock().unwrap();
        let calls = runs.entry(run).or_default();
        calls.public = Some(public);
        calls.approver = approver;
    }

    /// The calls of run `run` waiting for approval.
    pub(crate) fn pending_approvals(&self, run: u64) -> Vec<ApprovalRequest> {
        let runs = self.runs.lock().unwrap();
        runs.get(&run).map_or_else(Vec::new, |calls| {
            calls
                .pending
                .lock()
                .unwrap()
                .iter()
                .map(|(_, request)| request.clone())
                .collect()
        })
    }

    /// Drops the callback futures of a run that has ended.
    pub(crate) fn end(&self, run: u64) {
        let calls = self.runs.lock().unwrap().remove(&run);
        if let Some(calls) = calls {
            calls.end();
        }
    }

    /// Drops every callback future (the worker is gone).
    pub(crate) fn end_all(&self) {
        let runs = std::mem::take(&mut *self.runs.lock().unwrap());
        for (_, calls) in runs {
            calls.end();
        }
    }
}

/// Waits for a decision on a call that needs approval, the run's clock held
/// meanwhile. `Err` is the line that answers a denied call.
async fn approve<C: Caller>(
    caller: &C,
    run: u64,
    id: u64,
    request: ApprovalRequest,
    approver: Option<Approver>,
    pending: Arc<Mutex<Vec<(u64, ApprovalRequest)>>>,
) -> Result<(), String> {
    let callback = request.callback.clone();
    let Some(approver) = approver else {
        return Err(wire::error_response(
            Some(id),
            codes::APPROVAL_DENIED,
            &format!("`{callback}` needs approval, and no approver is set (PoolBuilder::approver or Script::approver)"),
            None,
        ));
    };
    pending.lock().unwrap().push((id, request.clone()));
    caller.hold(run, true);
    // Whatever ends this (a decision, or the run's end dropping the task),
    // the call stops waiting.
    struct Waiting<'a, C: Caller> {
        caller: &'a C,
        run: u64,
        id: u64,
        pending: &'a Mutex<Vec<(u64, ApprovalRequest)>>,
    }
    impl<C: Caller> Drop for Waiting<'_, C> {
        fn drop(&mut self) {
            self.pending
                .lock()
                .unwrap()
                .retain(|(id, _)| *id != self.id);
            self.caller.hold(self.run, false);
        }
    }
    let waiting = Waiting {
        caller,
        run,
        id,
        pending: &pending,
    };
    let started = std::time::Instant::now();
    let decision = approver.decide(request).await;
    drop(waiting);
    tracing::debug!(callback = %callback, waited_ms = started.elapsed().as_millis() as u64, ?decision, "approval decided");
    match decision {
        Approval::Approve => Ok(()),
        Approval::Deny(reason) => Err(wire::error_response(
            Some(id),
            codes::APPROVAL_DENIED,
            &format!("`{callback}` was not approved: {reason}"),
            Some(&serde_json::json!({ "reason": reason })),
        )),
    }
}

/// The worker's request to erase the types of a TypeScript file it imports:
/// `{source, file}` → `{code}`.
const STRIP: &str = "$strip";

fn erase_types(id: u64, params: Option<&RawValue>) -> String {
    #[derive(serde::Deserialize)]
    struct Strip {
        args: StripArgs,
    }
    #[derive(serde::Deserialize)]
    struct StripArgs {
        source: String,
        file: String,
    }
    let Some(Ok(Strip { args })) = params.map(|p| serde_json::from_str::<Strip>(p.get())) else {
        return wire::error_response(
            Some(id),
            codes::INVALID_PARAMS,
            "malformed $strip request",
            None,
        );
    };
    match crate::strip::strip(&args.source) {
        Ok(code) => wire::response(id, &serde_json::json!({ "code": code }).to_string()),
        Err(error) => wire::error_response(
            Some(id),
            codes::SCRIPT_ERROR,
            &format!(
                "{}:{}:{}: {}",
                args.file, error.line, error.column, error.message
            ),
            Some(
                &serde_json::json!({ "message": error.message, "line": error.line, "column": error.column }),
            ),
        ),
    }
}
