//! A run in flight: its events as a stream, then its output.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::pool::{Counters, Slot};
use crate::protocol::{self, codes};
use crate::script::{Event, LogEntry, Output};
use crate::worker::{Reply, Worker};

/// What a run needs to be sent again with its source, when the worker no
/// longer holds the compiled script the host assumed it had.
pub(crate) struct Resend {
    /// The script's content address.
    pub(crate) key: String,
    /// Builds the request params with the source, when the first request
    /// went without it.
    pub(crate) with_code: Option<Box<dyn FnOnce() -> String + Send + Sync>>,
    /// The attachment line the request went with.
    pub(crate) attachment: Option<Arc<str>>,
}

impl std::fmt::Debug for Resend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resend")
            .field("key", &self.key)
            .field("with_code", &self.with_code.is_some())
            .finish()
    }
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
    worker: Arc<Worker>,
    _slot: Slot,
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
        worker: Arc<Worker>,
        slot: Slot,
        replies: mpsc::UnboundedReceiver<Reply>,
        timeout: Duration,
        script: String,
        resend: Option<Resend>,
        counters: Arc<Counters>,
        span: tracing::Span,
    ) -> Self {
        RunHandle {
            id,
            worker,
            _slot: slot,
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

    fn on_done(&mut self, result: Result<Box<RawValue>, protocol::RpcError>) {
        match result {
            Ok(value) => self.settle(Ok(value)),
            Err(error)
                if error.code == codes::UNKNOWN_SCRIPT
                    && self.resend.as_ref().is_some_and(|r| r.with_code.is_some()) =>
            {
                let build = self
                    .resend
                    .as_mut()
                    .and_then(|r| r.with_code.take())
                    .expect("checked above");
                let (tx, rx) = mpsc::unbounded_channel();
                self.replies = rx;
                let attachment = self.resend.as_ref().and_then(|r| r.attachment.clone());
                self.worker
                    .resend(self.id, "run", &build(), attachment.as_deref(), tx);
            }
            Err(error) => {
                if let Some(resend) = self.resend.as_ref().filter(|r| r.with_code.is_none()) {
                    // The source went with this request; a script that failed
                    // to compile is not cached by the worker.
                    self.worker.forget_script(&resend.key);
                }
                self.settle(Err(protocol::into_error(error, &self.script, self.timeout)));
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
                    let pid = this.worker.pid;
                    this.settle(Err(Error::WorkerExited {
                        pid,
                        reason: "the worker dropped the request".into(),
                    }));
                }
                Poll::Pending => {
                    if this.deadline.as_mut().poll(cx).is_ready() {
                        this.worker.cancel(this.id, "timeout");
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
            self.worker.cancel(self.id, "cancelled");
            let _entered = self.span.enter();
            self.counters.failed();
            tracing::debug!(run = self.id, "run cancelled");
        }
    }
}
