//! A run in flight: its events as a stream, then its output.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::dispatch::{Counters, Lease};
use crate::engine::Reply;
use crate::error::{Error, Result};
use crate::output::{Event, LogEntry, Output};
use crate::script::LoadedScript;
use crate::wire::methods::{self, CancelReason};
use crate::wire::{self, codes};

/// The limits a run is sent with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunLimits {
    pub(crate) timeout: Duration,
    pub(crate) max_callbacks: u32,
}

/// The `run` request for `script`, with its source or by key alone.
pub(crate) fn run_request(
    script: &LoadedScript,
    session: Option<u64>,
    limits: RunLimits,
    with_code: bool,
) -> methods::Run<'_> {
    methods::Run {
        kind: script.kind.as_str(),
        name: &script.name,
        file: script.file.as_deref(),
        key: &script.key,
        code: with_code.then_some(&*script.code),
        globals: script.globals.as_deref(),
        session,
        timeout: limits.timeout,
        max_callbacks: limits.max_callbacks,
    }
}

/// What a run needs to be sent again with its source, when the worker no
/// longer holds the compiled script the host assumed it had.
#[derive(Debug)]
pub(crate) struct Resend {
    pub(crate) script: LoadedScript,
    pub(crate) session: Option<u64>,
    pub(crate) limits: RunLimits,
    /// Whether the source went with the request already.
    pub(crate) code_sent: bool,
}

/// A run that has started. Its events arrive as a [`Stream`]; then
/// [`RunHandle::output`] gives the result. Dropping the handle cancels the run.
///
/// ```no_run
/// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
/// use outrigger_host::Script;
/// let mut run = pool.start(Script::module(
///     "for (let i = 1; i <= 3; i++) host.emit('progress', i); export default 'done';",
/// )).await?;
/// while let Some(event) = run.next_event().await {
///     println!("{}: {}", event.name, event.data);
/// }
/// let output = run.output().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RunHandle {
    id: u64,
    lease: Lease,
    replies: mpsc::UnboundedReceiver<Reply>,
    logs: Vec<LogEntry>,
    events: Vec<Event>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    script: String,
    resend: Option<Resend>,
    outcome: Option<Result<Box<RawValue>>>,
    settled: bool,
    started: std::time::Instant,
    counters: Arc<Counters>,
    span: tracing::Span,
}

impl RunHandle {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        lease: Lease,
        replies: mpsc::UnboundedReceiver<Reply>,
        timeout: Duration,
        script: String,
        resend: Option<Resend>,
        counters: Arc<Counters>,
        span: tracing::Span,
    ) -> Self {
        RunHandle {
            id,
            lease,
            replies,
            logs: Vec::new(),
            events: Vec::new(),
            deadline: Box::pin(tokio::time::sleep(timeout)),
            started: std::time::Instant::now(),
            timeout,
            script,
            resend,
            outcome: None,
            settled: false,
            counters,
            span,
        }
    }

    /// The run's id, as it appears in tracing spans.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next event the script emitted, or `None` once the run has ended.
    pub async fn next_event(&mut self) -> Option<Event> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Waits for the run to end and returns its value, logs and events.
    pub async fn output(mut self) -> Result<Output> {
        let raw = self.finish().await?;
        let value = serde_json::from_str(raw.get())
            .map_err(|e| Error::Protocol(format!("result is not valid JSON: {e}")))?;
        Ok(Output {
            value,
            logs: std::mem::take(&mut self.logs),
            events: std::mem::take(&mut self.events),
        })
    }

    /// Waits for the run to end and returns its raw JSON value.
    pub(crate) async fn finish(&mut self) -> Result<Box<RawValue>> {
        while poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .is_some()
        {}
        self.outcome.take().unwrap_or(Err(Error::Cancelled))
    }

    fn settle(&mut self, outcome: Result<Box<RawValue>>) {
        let _entered = self.span.enter();
        self.counters.latency.record(self.started.elapsed());
        match &outcome {
            Ok(_) => {
                self.counters.completed();
                tracing::debug!(run = self.id, "run finished");
            }
            Err(error) => {
                self.counters.failed();
                tracing::debug!(run = self.id, %error, "run failed");
            }
        }
        self.outcome = Some(outcome);
        self.settled = true;
    }

    fn on_done(&mut self, result: Result<Box<RawValue>, wire::RpcError>) {
        match result {
            Ok(value) => self.settle(Ok(value)),
            Err(error)
                if error.code == codes::UNKNOWN_SCRIPT
                    && self.resend.as_ref().is_some_and(|r| !r.code_sent) =>
            {
                let resend = self.resend.as_mut().expect("checked above");
                resend.code_sent = true;
                let (tx, rx) = mpsc::unbounded_channel();
                self.replies = rx;
                let request = run_request(&resend.script, resend.session, resend.limits, true);
                self.lease.worker().resend(self.id, &request, tx);
            }
            Err(error) => {
                if wire::is_memory_limit(&error) {
                    self.counters.memory_limited();
                }
                if let Some(resend) = self.resend.as_ref().filter(|r| r.code_sent) {
                    // The source went with this request; a script that failed
                    // to compile is not cached by the worker.
                    self.lease.worker().forget_script(&resend.script.key);
                }
                self.settle(Err(wire::into_error(error, &self.script, self.timeout)));
            }
        }
    }
}

impl Stream for RunHandle {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        loop {
            if this.settled {
                return Poll::Ready(None);
            }
            match this.replies.poll_recv(cx) {
                Poll::Ready(Some(Reply::Log(entry))) => {
                    tracing::debug!(target: "outrigger::console", parent: &this.span, "{entry}");
                    this.logs.push(entry);
                }
                Poll::Ready(Some(Reply::Event(event))) => {
                    this.events.push(event.clone());
                    return Poll::Ready(Some(event));
                }
                Poll::Ready(Some(Reply::Done(result))) => this.on_done(result),
                Poll::Ready(Some(Reply::Exited { pid, reason })) => {
                    this.settle(Err(Error::WorkerExited { pid, reason }));
                }
                Poll::Ready(None) => {
                    let pid = this.lease.worker().pid;
                    this.settle(Err(Error::WorkerExited {
                        pid,
                        reason: "the worker dropped the request".into(),
                    }));
                }
                Poll::Pending => {
                    if this.deadline.as_mut().poll(cx).is_ready() {
                        this.lease.worker().cancel(this.id, CancelReason::Timeout);
                        let after = this.timeout;
                        this.settle(Err(Error::Timeout { after }));
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        if !self.settled {
            self.lease.worker().cancel(self.id, CancelReason::Cancelled);
            let _entered = self.span.enter();
            self.counters.failed();
            tracing::debug!(run = self.id, "run cancelled");
        }
    }
}
