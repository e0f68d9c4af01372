//! A run in flight: its events as a stream, then its output.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::oneshot;

use crate::binary::Payload;
use crate::callbacks::{ApprovalRequest, Approver};
use crate::dispatch::{Dispatcher, Lease};
use crate::engine::{reply_channel, Replies, Reply};
use crate::error::{Error, Result};
use crate::outgoing::Outgoing;
use crate::output::{Event, LogEntry, Output};
use crate::wire::methods::CancelReason;
use crate::wire::{self, codes};

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
    /// The run's id: its first request's.
    id: u64,
    /// The id of the request now on a worker (a run moved off a blocked
    /// worker is sent again under a fresh one, so a late answer to the first
    /// send can never pass for the answer to the second).
    request: u64,
    ids: Arc<AtomicU64>,
    /// The worker's capacity it holds, given back when it settles.
    lease: Option<Lease>,
    replies: Replies,
    /// What was sent, to send it again.
    outgoing: Outgoing,
    dispatcher: Arc<Dispatcher>,
    /// A worker to send it to, being found (after a blocked one gave it back).
    moving: Option<oneshot::Receiver<Result<Lease>>>,
    logs: Vec<LogEntry>,
    events: Vec<Event>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    script: Arc<str>,
    outcome: Option<Result<Payload>>,
    settled: bool,
    started: std::time::Instant,
    span: tracing::Span,
    /// The run's own approver, if it has one.
    approver: Option<Approver>,
    /// Calls waiting for approval now, since when, and the time the run has
    /// spent with one waiting (its timeout clock paused).
    held: u32,
    held_since: Option<std::time::Instant>,
    approval_wait: Duration,
    /// Where a detached handle waits to be taken back (`Pool::run_handle`).
    detached: Arc<DetachedRuns>,
}

impl RunHandle {
    /// Sends `outgoing` as request `id` to the worker of `lease`.
    pub(crate) fn start(
        home: &RunHome,
        lease: Lease,
        mut outgoing: Outgoing,
        timeout: Duration,
        script: Arc<str>,
        approver: Option<Approver>,
    ) -> Self {
        let RunHome {
            ids,
            dispatcher,
            detached,
        } = home.clone();
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("outrigger.run", run = id, worker = lease.worker().pid, method = outgoing.method(), script = %script);
        if approver.is_some() {
            lease.worker().begin_run(id, id, approver.clone());
        }
        let replies = outgoing.send(lease.worker(), id, dispatcher.limits().blocked_after);
        // One reading of the clock for its start and its deadline.
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::from_std(started)
            .checked_add(timeout)
            .unwrap_or_else(|| tokio::time::Instant::from_std(started) + FAR_FUTURE);
        RunHandle {
            id,
            request: id,
            ids,
            lease: Some(lease),
            replies,
            outgoing,
            dispatcher,
            moving: None,
            logs: Vec::new(),
            events: Vec::new(),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            started,
            timeout,
            script,
            outcome: None,
            settled: false,
            span,
            approver,
            held: 0,
            held_since: None,
            approval_wait: Duration::ZERO,
            detached,
        }
    }

    /// The worker the run is on (only while it has not settled).
    fn worker(&self) -> &Arc<crate::engine::Worker> {
        self.lease
            .as_ref()
            .expect("a run in flight holds its lease")
            .worker()
    }

    /// The run's id, as it appears in tracing spans, in
    /// [`ApprovalRequest::run`](crate::ApprovalRequest::run) and in
    /// [`CallContext::run_id`](crate::CallContext::run_id).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The run's calls of callbacks waiting for an approver's decision now
    /// (for a UI). They end with the run when it is cancelled or times out.
    pub fn pending_approvals(&self) -> Vec<ApprovalRequest> {
        if self.settled || self.moving.is_some() {
            return Vec::new();
        }
        self.worker().pending_approvals(self.request)
    }

    /// How long the run has waited for approvals so far (its timeout clock
    /// paused meanwhile).
    pub fn approval_wait(&self) -> Duration {
        match self.held_since {
            Some(since) => self.approval_wait + since.elapsed(),
            None => self.approval_wait,
        }
    }

    /// Waits for the run at most `timeout`, without ending it, and says
    /// what it has produced so far: its logs and events, the calls waiting
    /// for approval, whether it has finished (then [`output`](Self::output)
    /// gives its result at once). For runs that outlive a turn of an agent:
    /// look now, come back later.
    pub async fn wait_for(&mut self, timeout: Duration) -> Progress {
        let until = tokio::time::Instant::now() + timeout;
        while !self.settled {
            match tokio::time::timeout_at(until, poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)))
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        Progress {
            logs: self.logs.clone(),
            events: self.events.clone(),
            pending_approvals: self.pending_approvals(),
            approval_wait: self.approval_wait(),
            finished: self.settled,
        }
    }

    /// Lets go of the run without ending it: it goes on in the pool (its
    /// output kept for later), and [`Pool::run_handle`](crate::Pool::run_handle)
    /// with the id returned gives a handle on it back, from anywhere in the
    /// process. Dropping a handle, by contrast, cancels its run.
    pub fn detach(self) -> u64 {
        let id = self.id;
        self.detached.clone().keep(self);
        id
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
            binary: raw.frames,
            logs: std::mem::take(&mut self.logs),
            events: std::mem::take(&mut self.events),
            approval_wait: self.approval_wait,
        })
    }

    /// Waits for the run to end and returns its raw JSON value.
    pub(crate) async fn finish(&mut self) -> Result<Payload> {
        while poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .is_some()
        {}
        self.outcome.take().unwrap_or(Err(Error::Cancelled))
    }

    fn settle(&mut self, outcome: Result<Payload>) {
        let _entered = self.span.enter();
        let counters = self.dispatcher.counters();
        counters.latency.record(self.started.elapsed());
        match &outcome {
            Ok(_) => {
                counters.completed();
                tracing::debug!(run = self.id, "run finished");
            }
            Err(error) => {
                counters.failed();
                tracing::debug!(run = self.id, %error, "run failed");
            }
        }
        self.outcome = Some(outcome);
        self.settled = true;
        // Its worker may take other runs now, whoever holds the handle.
        self.lease = None;
    }

    fn on_done(&mut self, result: Result<Payload, wire::RpcError>) {
        match result {
            Ok(value) => self.settle(Ok(value)),
            Err(error) if error.code == codes::UNKNOWN_SCRIPT => {
                let (tx, rx) = reply_channel();
                let worker = self.worker().clone();
                if self.outgoing.resend_with_code(&worker, self.request, tx) {
                    self.replies = rx;
                } else {
                    self.settle(Err(wire::into_error(error, &self.script, self.timeout)));
                }
            }
            Err(error) if error.code == codes::NOT_STARTED && self.outgoing.movable() => {
                self.move_on()
            }
            Err(error) => {
                if wire::is_memory_limit(&error) {
                    self.dispatcher.counters().memory_limited();
                }
                self.outgoing.failed(self.worker());
                self.settle(Err(wire::into_error(error, &self.script, self.timeout)));
            }
        }
    }

    /// A call of the run started (`held`) or stopped waiting for approval
    /// at `at`: the timeout clock stops while any waits, and the deadline
    /// moves by the time it stood still.
    fn on_held(&mut self, held: bool, at: std::time::Instant) {
        if held {
            if self.held == 0 {
                self.held_since = Some(at);
            }
            self.held += 1;
            return;
        }
        self.held = self.held.saturating_sub(1);
        if self.held == 0 {
            if let Some(since) = self.held_since.take() {
                self.approval_wait += at.saturating_duration_since(since);
            }
            let deadline = self.started + self.timeout + self.approval_wait;
            self.deadline
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
        }
    }

    /// The worker never started the request and never will (it was
    /// blocked): find another one. The first that takes runs gets it.
    fn move_on(&mut self) {
        // The worker did not compile what it never started.
        self.outgoing.failed(self.worker());
        let _entered = self.span.enter();
        tracing::debug!(
            run = self.id,
            from = self.worker().pid,
            "moving a run a blocked worker never started"
        );
        self.dispatcher.counters().moved();
        let (tx, rx) = oneshot::channel();
        let dispatcher = self.dispatcher.clone();
        // A task, so that a handle dropped meanwhile gives the lease back.
        tokio::spawn(async move {
            let _ = tx.send(dispatcher.acquire().await);
        });
        self.moving = Some(rx);
    }

    /// Sends the request to the worker of `lease`, in place of the old one,
    /// under a fresh request id.
    fn send_to(&mut self, lease: Lease) {
        self.request = self.ids.fetch_add(1, Ordering::Relaxed);
        // Its callbacks ask for approval under the run's own id.
        lease
            .worker()
            .begin_run(self.request, self.id, self.approver.clone());
        self.replies = self.outgoing.send(
            lease.worker(),
            self.request,
            self.dispatcher.limits().blocked_after,
        );
        self.lease = Some(lease);
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
            if let Some(moving) = &mut this.moving {
                match Pin::new(moving).poll(cx) {
                    Poll::Ready(found) => {
                        this.moving = None;
                        match found {
                            Ok(Ok(lease)) => this.send_to(lease),
                            Ok(Err(error)) => this.settle(Err(error)),
                            Err(_) => this.settle(Err(Error::Closed)),
                        }
                        continue;
                    }
                    Poll::Pending => {
                        if this.deadline.as_mut().poll(cx).is_ready() {
                            let after = this.timeout;
                            this.settle(Err(Error::Timeout { after }));
                            continue;
                        }
                        return Poll::Pending;
                    }
                }
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
                Poll::Ready(Some(Reply::Withdrawn)) => this.move_on(),
                Poll::Ready(Some(Reply::Held(held, at))) => this.on_held(held, at),
                Poll::Ready(Some(Reply::Exited { pid, reason })) => {
                    this.settle(Err(Error::WorkerExited { pid, reason }));
                }
                Poll::Ready(None) => {
                    let pid = this.worker().pid;
                    this.settle(Err(Error::WorkerExited {
                        pid,
                        reason: "the worker dropped the request".into(),
                    }));
                }
                Poll::Pending => {
                    if this.held == 0 && this.deadline.as_mut().poll(cx).is_ready() {
                        this.worker().cancel(this.request, CancelReason::Timeout);
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
            if self.moving.is_none() {
                self.worker().cancel(self.request, CancelReason::Cancelled);
            }
            let _entered = self.span.enter();
            self.dispatcher.counters().failed();
            tracing::debug!(run = self.id, "run cancelled");
        }
    }
}

/// The deadline of a run whose timeout reaches past what the clock can
/// hold: in effect, none.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// What a run has produced so far (see [`RunHandle::wait_for`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Every console call so far.
    pub logs: Vec<LogEntry>,
    /// Every event so far.
    pub events: Vec<Event>,
    /// Its calls waiting for an approver's decision now.
    pub pending_approvals: Vec<ApprovalRequest>,
    /// How long it has waited for approvals so far.
    pub approval_wait: Duration,
    /// Whether it has ended (its result is ready).
    pub finished: bool,
}

/// What every run of a pool shares: request ids, the dispatcher, the
/// detached runs.
#[derive(Debug, Clone)]
pub(crate) struct RunHome {
    pub(crate) ids: Arc<AtomicU64>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) detached: Arc<DetachedRuns>,
}

/// Detached runs, by id, each driven by a task of its own until its handle
/// is taken back: a run goes on whether or not anyone holds its handle.
#[derive(Debug, Default)]
pub(crate) struct DetachedRuns {
    runs: std::sync::Mutex<
        std::collections::HashMap<u64, oneshot::Sender<oneshot::Sender<RunHandle>>>,
    >,
}

impl DetachedRuns {
    /// Keeps `handle`'s run going until someone takes it back.
    fn keep(self: Arc<Self>, mut handle: RunHandle) {
        let (asked, mut ask) = oneshot::channel::<oneshot::Sender<RunHandle>>();
        self.runs.lock().unwrap().insert(handle.id, asked);
        tokio::spawn(async move {
            // Driven to its end (its events kept in the handle), unless taken back first.
            loop {
                tokio::select! {
                    taker = &mut ask => {
                        if let Ok(taker) = taker {
                            let _ = taker.send(handle);
                        }
                        return;
                    }
                    event = poll_fn(|cx| Pin::new(&mut handle).poll_next(cx)) => {
                        if event.is_none() {
                            break;
                        }
                    }
                }
            }
            // Finished (its lease given back): kept until taken, or the pool goes.
            if let Ok(taker) = ask.await {
                let _ = taker.send(handle);
            }
        });
    }

    /// The handle of detached run `id`, if there is one.
    pub(crate) async fn take(&self, id: u64) -> Option<RunHandle> {
        let ask = self.runs.lock().unwrap().remove(&id)?;
        let (taker, handle) = oneshot::channel();
        ask.send(taker).ok()?;
        handle.await.ok()
    }
}
