//! Callbacks a worker asks the host for: each one polled where its call is
//! read, and one that waits then goes on as a task tied to the run that
//! called it, dropped when that run ends.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::FutureExt;
use serde_json::value::RawValue;
use tracing::Instrument;

use super::approval::{self, RunApprovals};
use crate::callbacks::{ApprovalRequest, Approver, CallContext, EventSink, Registry};
use crate::wire::{self, codes, CallbackCall};

/// The side of a channel a callback's call came in on: where its answer
/// goes and its events go, and which runs are still in progress there.
pub(crate) trait Caller: EventSink + 'static {
    /// Writes a line that answers the worker.
    fn answer(&self, line: String);
    /// Writes a line that answers the worker after the frames it refers to.
    fn answer_framed(&self, frames: &[Bytes], line: String);
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
    /// Its calls' tasks, the finished ones among them until the next prune.
    tasks: Vec<tokio::task::AbortHandle>,
    /// How many tasks trigger the next prune: twice what the last one
    /// kept, so a run with many calls in flight (a `Promise.all` of
    /// thousands) prunes in amortized constant time per call, not in time
    /// proportional to its calls.
    prune_at: usize,
    approvals: RunApprovals,
}

/// The fewest tasks a run keeps before pruning the finished ones.
const PRUNE_FLOOR: usize = 16;

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
        frames: Vec<Bytes>,
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
            frames,
        );
        let result_frames = ctx.result_frames();
        let args = call.args();
        let answers = connection.clone();
        let gate = {
            let runs = self.runs.lock().unwrap();
            let approvals = runs.get(&run).map(|calls| &calls.approvals);
            approval::gate(
                &self.registry,
                approvals,
                run,
                &method,
                &args,
                call.site.clone(),
            )
        };
        let gate = match gate {
            Ok(gate) => gate,
            Err(error) => {
                return connection.answer(wire::error_response(
                    Some(id),
                    error.code(),
                    error.message(),
                    error.data(),
                ))
            }
        };
        let span = tracing::info_span!("outrigger.callback", callback = %method, run, id);
        let mut call = Box::pin(
            async move {
                if let Some(gate) = gate {
                    if let Err(denied) = gate.pass(id, |held| answers.hold(run, held)).await {
                        answers.answer(wire::error_response(
                            Some(id),
                            denied.code(),
                            denied.message(),
                            denied.data(),
                        ));
                        return;
                    }
                }
                let outcome = std::panic::AssertUnwindSafe(async move { handler(ctx, args).await })
                    .catch_unwind()
                    .await;
                let line = match outcome {
                    Ok(Ok(value)) => {
                        let frames = std::mem::take(&mut *result_frames.lock().unwrap());
                        if !frames.is_empty() {
                            answers.answer_framed(&frames, wire::response(id, value.get()));
                            return;
                        }
                        wire::response(id, value.get())
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "callback failed");
                        wire::error_response(Some(id), error.code(), error.message(), error.data())
                    }
                    Err(panic) => {
                        let what = super::answer::panic_message(&*panic);
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
        // A callback that answers without waiting (from memory, or failing
        // its checks) is done here, in the reader's turn: no task, no
        // wake-up. One that waits goes on as a task, whose first poll
        // registers the waker that counts (a future is woken through the
        // waker of its latest poll).
        let mut first = std::task::Context::from_waker(std::task::Waker::noop());
        if call.as_mut().poll(&mut first).is_ready() {
            return;
        }
        let task = tokio::spawn(call);
        if let Some(calls) = self.runs.lock().unwrap().get_mut(&run) {
            if calls.tasks.len() >= calls.prune_at {
                calls.tasks.retain(|t| !t.is_finished());
                calls.prune_at = (2 * calls.tasks.len()).max(PRUNE_FLOOR);
            }
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
        runs.entry(run)
            .or_default()
            .approvals
            .begin(public, approver);
    }

    /// The calls of run `run` waiting for approval.
    pub(crate) fn pending_approvals(&self, run: u64) -> Vec<ApprovalRequest> {
        let runs = self.runs.lock().unwrap();
        runs.get(&run)
            .map_or_else(Vec::new, |calls| calls.approvals.pending())
    }

    /// Drops the callback futures of a run that has ended.
    pub(crate) fn end(&self, run: u64) {
        let calls = {
            let mut runs = self.runs.lock().unwrap();
            // Most runs call no callback: nothing to look up.
            if runs.is_empty() {
                return;
            }
            runs.remove(&run)
        };
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
