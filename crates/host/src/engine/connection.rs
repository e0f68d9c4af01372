//! The host's end of one worker's channel: writing requests, the table of
//! requests waiting for an answer, and reading and routing what the worker
//! says.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::calls::{Caller, Calls};
use super::clock::monotonic_micros;
use super::id_map::IdMap;
use super::outbox::Outbox;
use super::replies::{channel as reply_channel, Replies, ReplySender};
use super::socket::ReadEnd;
use crate::binary::Payload;
use crate::callbacks::{EventSink, Registry};
use crate::error::Error;
use crate::output::{Event, LogEntry};
use crate::wire::methods::{Notification, Request};
use crate::wire::{self, codes, Incoming, RpcError};

/// What a request waiting on a worker receives.
#[derive(Debug)]
pub(crate) enum Reply {
    Log(LogEntry),
    Event(Event),
    Done(Result<Payload, RpcError>),
    Exited {
        pid: u32,
        reason: String,
    },
    /// The worker was blocked and never read the request, and now never
    /// will: it may be sent to another worker.
    Withdrawn,
    /// A call of the run waits for approval (`true`) or no longer does,
    /// since `at`: its timeout clock pauses while any does.
    Held(bool, std::time::Instant),
}

/// One worker's channel, as the host sees it.
#[derive(Debug)]
pub(crate) struct Connection {
    pid: u32,
    /// The largest message either side may send.
    max_message_bytes: usize,
    outbox: Arc<Outbox>,
    pending: Mutex<Pending>,
    /// Requests waiting for an answer (the pending table's size).
    outstanding: AtomicUsize,
    /// Requests sent so far.
    sent: AtomicU64,
    /// When the worker was last heard from (µs, monotonic), or last given
    /// work while it had none.
    last_heard: AtomicU64,
    /// A copy of the worker's end of the channel: how much the worker has
    /// not read yet (`FIONREAD`) tells which requests it never started.
    peer: Mutex<Option<OwnedFd>>,
    calls: Calls,
    /// Told when a request is sent to a worker that had none waiting.
    busy: Notify,
    /// Answers the last read delivered: more than one means several callers
    /// are active, and what they send next is better written together.
    answered_together: AtomicUsize,
}

#[derive(Debug, Default)]
struct Pending {
    /// Why the channel closed, once it has: every later request is told.
    closed: Option<String>,
    waiting: IdMap<Waiter>,
}

/// A request waiting for its answer.
#[derive(Debug)]
struct Waiter {
    replies: ReplySender,
    /// Where the request ends in the stream to the worker.
    end: u64,
    /// Its start deadline, if the worker may refuse to start it late.
    start_by: Option<u64>,
    /// It executes the user's code (see [`Request::RUNS_CODE`]).
    runs_code: bool,
    /// The worker reported it parked at an await while its event loop turned.
    parked: bool,
}

impl Connection {
    pub(crate) fn new(
        pid: u32,
        max_message_bytes: usize,
        outbox: Arc<Outbox>,
        peer: Option<OwnedFd>,
        registry: Arc<Registry>,
    ) -> Self {
        Connection {
            pid,
            max_message_bytes,
            outbox,
            pending: Mutex::new(Pending::default()),
            outstanding: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            last_heard: AtomicU64::new(monotonic_micros()),
            peer: Mutex::new(peer),
            calls: Calls::new(registry),
            busy: Notify::new(),
            answered_together: AtomicUsize::new(0),
        }
    }

    /// Sends a request under `id` (unique in the pool), with its attachment
    /// line if it has one; replies arrive on the receiver. A request larger
    /// than the message limit is refused with a `LIMIT` error, unsent.
    pub(crate) fn request<R: Request>(&self, id: u64, request: &R) -> Replies {
        let (tx, rx) = reply_channel();
        self.send(id, request, tx, true);
        rx
    }

    /// Sends a request again under the same id, its replies going to the
    /// same run (the first answer said the worker lacked the compiled script).
    pub(crate) fn resend<R: Request>(&self, id: u64, request: &R, replies: ReplySender) {
        self.send(id, request, replies, false);
    }

    fn send<R: Request>(&self, id: u64, request: &R, replies: ReplySender, may_coalesce: bool) {
        let line = wire::request(id, request);
        let frames = request.frames();
        let size = line.params_len
            + request.attachment().map_or(0, str::len)
            + frames.iter().map(|f| f.len()).sum::<usize>();
        if size > self.max_message_bytes {
            let _ = replies.send(Reply::Done(Err(RpcError {
                code: codes::LIMIT,
                message: format!(
                    "the message to the worker is {size} bytes, over the limit of {} (PoolBuilder::max_message_bytes); nothing was sent",
                    self.max_message_bytes
                ),
                data: None,
            })));
            return;
        }
        let mut pending = self.pending.lock().unwrap();
        if let Some(reason) = &pending.closed {
            let _ = replies.send(Reply::Exited {
                pid: self.pid,
                reason: reason.clone(),
            });
            return;
        }
        if pending.waiting.is_empty() {
            // Idle until now: its silence counts from here.
            self.last_heard.store(monotonic_micros(), Ordering::Relaxed);
        }
        // With other requests in flight, this one can wait for the tasks
        // ready now and go out in one write with theirs (no write under the
        // lock then); alone, it is written at once. Callers the last read
        // answered together send again together: the first of them waits for
        // the rest rather than waking the worker for itself alone.
        let coalesce = may_coalesce
            && (!pending.waiting.is_empty() || self.answered_together.load(Ordering::Relaxed) > 1);
        // Written under the lock, so that its place in the stream is known
        // before its answer can be.
        let end = self.outbox.send_message(frames, line.text, coalesce);
        pending.waiting.insert(
            id,
            Waiter {
                replies,
                end,
                start_by: request.start_by(),
                runs_code: R::RUNS_CODE,
                parked: false,
            },
        );
        if pending.waiting.len() == 1 {
            self.busy.notify_one();
        }
        self.outstanding
            .store(pending.waiting.len(), Ordering::Relaxed);
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends a notification.
    pub(crate) fn notify<N: Notification>(&self, notification: &N) {
        self.outbox
            .send(wire::notification(N::METHOD, &notification.params()));
    }

    /// Stops waiting for a request's answer.
    pub(crate) fn forget(&self, id: u64) {
        let mut pending = self.pending.lock().unwrap();
        pending.waiting.remove(&id);
        self.outstanding
            .store(pending.waiting.len(), Ordering::Relaxed);
    }

    /// Requests waiting for an answer.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// Requests sent so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// How long the worker has said nothing while it had work (or since it
    /// was given work), in µs.
    pub(crate) fn silent_for(&self, now: u64) -> u64 {
        now.saturating_sub(self.last_heard.load(Ordering::Relaxed))
    }

    /// Takes back the requests past their start deadline that the worker
    /// has not read: it will refuse them when it does (`NOT_STARTED`), so
    /// each may run elsewhere, never twice. Their runs are told
    /// [`Reply::Withdrawn`]. Returns how many.
    pub(crate) fn withdraw_unread(&self) -> usize {
        let now = monotonic_micros();
        let mut pending = self.pending.lock().unwrap();
        if !pending
            .waiting
            .values()
            .any(|w| w.start_by.is_some_and(|by| by < now))
        {
            return 0;
        }
        // What the worker has read, at most: the bytes in the socket minus
        // those still unread, the unread counted first (reading them later
        // could only overstate what it read, which is the safe side).
        let Some(unread) = self.unread_bytes() else {
            return 0;
        };
        let read = self.outbox.written().saturating_sub(unread);
        let ids: Vec<u64> = pending
            .waiting
            .iter()
            .filter(|(_, w)| w.start_by.is_some_and(|by| by < now) && w.end > read)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            if let Some(waiter) = pending.waiting.remove(id) {
                let _ = waiter.replies.send(Reply::Withdrawn);
            }
        }
        self.outstanding
            .store(pending.waiting.len(), Ordering::Relaxed);
        ids.len()
    }

    /// Bytes sent to the worker that it has not read yet.
    fn unread_bytes(&self) -> Option<u64> {
        let peer = self.peer.lock().unwrap();
        let fd = peer.as_ref()?.as_raw_fd();
        let mut unread: libc::c_int = 0;
        // SAFETY: `fd` is an open socket we own; FIONREAD writes one c_int.
        let status = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut unread) };
        (status == 0).then_some(unread as u64)
    }

    /// Whether any request waits for an answer.
    pub(crate) fn is_busy(&self) -> bool {
        !self.pending.lock().unwrap().waiting.is_empty()
    }

    /// Resolves once a request is sent to an idle channel (at once if one
    /// was sent since the last call).
    pub(crate) async fn became_busy(&self) {
        self.busy.notified().await;
    }

    /// Why the channel closed, or a generic reason while it is open.
    pub(crate) fn closed_reason(&self) -> String {
        self.pending
            .lock()
            .unwrap()
            .closed
            .clone()
            .unwrap_or_else(|| "the worker process ended".into())
    }

    /// Drops the callback futures of a run that has ended.
    pub(crate) fn end_calls(&self, run: u64) {
        self.calls.end(run);
    }

    /// Closes the channel: every request waiting is told `reason`, and so is
    /// every later one; callbacks in progress are dropped.
    pub(crate) fn close(&self, reason: &str) {
        self.close_blaming(reason, None);
    }

    /// Closes the channel of a worker that went past its memory bound
    /// (`why`), naming the run that took the memory where the host can tell,
    /// with a `LIMIT` error; the other requests are told `reason`, as for a
    /// crash. See [`blamed`] for the rule.
    pub(crate) fn close_for_memory(&self, reason: &str, why: &str) {
        self.close_blaming(reason, Some(why));
    }

    fn close_blaming(&self, reason: &str, memory: Option<&str>) {
        let waiting = {
            let mut pending = self.pending.lock().unwrap();
            pending.closed = Some(reason.to_owned());
            self.outstanding.store(0, Ordering::Relaxed);
            std::mem::take(&mut pending.waiting)
        };
        // The worker is gone: its end of the channel may close for good.
        self.peer.lock().unwrap().take();
        let runs: Vec<(u64, bool)> = waiting
            .iter()
            .filter(|(_, w)| w.runs_code)
            .map(|(&id, w)| (id, w.parked))
            .collect();
        let blamed = memory.and_then(|why| Some((blamed(&runs)?, why)));
        for (id, waiter) in waiting {
            let reply = match blamed {
                Some((blamed, why)) if id == blamed => Reply::Done(Err(RpcError {
                    code: codes::LIMIT,
                    message: out_of_memory_message(self.pid, why, runs.len()),
                    data: Some(serde_json::json!({ "limit": "memory" })),
                })),
                _ => Reply::Exited {
                    pid: self.pid,
                    reason: reason.to_owned(),
                },
            };
            let _ = waiter.replies.send(reply);
        }
        self.outbox.close();
        self.calls.end_all();
    }

    /// Reads the channel until it closes, routing every message; a message
    /// that breaks the protocol ends reading with its error.
    pub(crate) async fn read(self: &Arc<Self>, mut socket: ReadEnd) -> Result<(), Error> {
        let limit = wire::line_limit(self.max_message_bytes);
        let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut scanned = 0;
        let mut frames = Vec::new();
        loop {
            if buffer.capacity() - buffer.len() < 16 * 1024 {
                buffer.reserve(64 * 1024);
            }
            match socket.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
            self.last_heard.store(monotonic_micros(), Ordering::Relaxed);
            let mut answered = 0;
            let held = self.outbox.hold();
            let consumed =
                wire::split_messages(&buffer, scanned, limit, &mut frames, |incoming, frames| {
                    if matches!(incoming, Incoming::Response { .. }) {
                        answered += 1;
                        self.answered_together.store(answered, Ordering::Relaxed);
                    }
                    self.route(incoming, frames)
                })?;
            drop(held);
            buffer.drain(..consumed);
            scanned = buffer.len();
            if let Some(len) = wire::large_frame(&buffer, limit, &frames)? {
                let mut body = Vec::with_capacity(len);
                body.extend_from_slice(&buffer[crate::binary::FRAME_HEADER..]);
                buffer.clear();
                scanned = 0;
                // The body's capacity is its length: no read goes past it.
                while body.len() < len {
                    match socket.read_buf(&mut body).await {
                        Ok(0) | Err(_) => return Ok(()),
                        Ok(_) => {}
                    }
                    self.last_heard.store(monotonic_micros(), Ordering::Relaxed);
                }
                frames.push(Bytes::from(body));
            }
            if buffer.is_empty() && buffer.capacity() > 4 * 1024 * 1024 {
                buffer = Vec::with_capacity(64 * 1024);
            }
        }
    }

    fn route(self: &Arc<Self>, incoming: Incoming, frames: Vec<Bytes>) {
        match incoming {
            Incoming::Response { id, result } => {
                let result = result.map(|json| Payload { json, frames });
                let waiter = {
                    let mut pending = self.pending.lock().unwrap();
                    let waiter = pending.waiting.remove(&id);
                    self.outstanding
                        .store(pending.waiting.len(), Ordering::Relaxed);
                    waiter
                };
                self.calls.end(id);
                if let Some(waiter) = waiter {
                    let _ = waiter.replies.send(Reply::Done(result));
                }
            }
            Incoming::Beat => {}
            Incoming::Log { run, entry } => self.deliver(run, Reply::Log(entry)),
            Incoming::Event { run, mut event } => {
                event.binary = frames;
                self.deliver(run, Reply::Event(event));
            }
            Incoming::Waiting { runs } => {
                let mut pending = self.pending.lock().unwrap();
                for run in runs {
                    if let Some(waiter) = pending.waiting.get_mut(&run) {
                        waiter.parked = true;
                    }
                }
            }
            Incoming::Request { id, method, params } => {
                self.calls
                    .dispatch(self, id, method, params.as_deref(), frames);
            }
            Incoming::Unsolicited(error) => {
                tracing::warn!(pid = self.pid, code = error.code, message = %error.message, "worker reported an error");
            }
        }
    }

    /// Hands a log or event to the run it belongs to.
    fn deliver(&self, run: Option<u64>, reply: Reply) {
        let waiter = run.and_then(|run| {
            let pending = self.pending.lock().unwrap();
            pending.waiting.get(&run).map(|w| w.replies.clone())
        });
        match (waiter, reply) {
            (Some(waiter), reply) => {
                let _ = waiter.send(reply);
            }
            (None, Reply::Log(entry)) => {
                tracing::debug!(target: "outrigger::console", pid = self.pid, run, "{entry}");
            }
            (None, Reply::Event(event)) => {
                tracing::debug!(pid = self.pid, run, name = %event.name, "event from a finished run");
            }
            (None, _) => {}
        }
    }
}

/// The run to name for a worker that ran out of memory, among the runs in
/// flight on it (request id, and whether the worker reported it parked at
/// an await). The host cannot see which run holds what; it can see which
/// were waiting:
///
/// - the only run in flight took the memory;
/// - else the oldest run not reported parked: a synchronous loop holds the
///   worker, so the run running it was never reported, and runs sent while
///   it ran are younger than it;
/// - else none: every run had been parked, so the memory was taken by code
///   resumed after an await, and which run's cannot be told.
///
/// Its blind spot: code that resumes after an await and then loops while
/// newer runs queue behind it; the oldest of those is named.
fn blamed(runs: &[(u64, bool)]) -> Option<u64> {
    if let [(only, _)] = runs {
        return Some(*only);
    }
    runs.iter()
        .filter(|(_, parked)| !parked)
        .map(|&(id, _)| id)
        .min()
}

/// What the run named for a worker's memory is told.
fn out_of_memory_message(pid: u32, why: &str, runs: usize) -> String {
    let which = match runs {
        1 => "this run was the one on it".to_owned(),
        n => format!(
            "of the {n} runs on it, this one was the oldest not waiting at an await (the one that held it)"
        ),
    };
    format!("worker {pid} ran out of memory: {why}; {which}")
}

impl Caller for Connection {
    fn answer(&self, line: String) {
        self.outbox.send(line);
    }

    fn answer_framed(&self, frames: &[Bytes], line: String) {
        self.outbox.send_framed(frames, line);
    }

    fn is_waiting(&self, id: u64) -> bool {
        self.pending.lock().unwrap().waiting.contains_key(&id)
    }

    fn hold(&self, run: u64, held: bool) {
        let method = if held { "hold" } else { "release" };
        self.outbox
            .send(wire::notification(method, &format!(r#"{{"run":{run}}}"#)));
        self.deliver(Some(run), Reply::Held(held, std::time::Instant::now()));
    }
}

impl Connection {
    /// Notes what run `run` brings besides its request (see `Calls::begin`).
    pub(crate) fn begin_run(
        &self,
        run: u64,
        public: u64,
        approver: Option<crate::callbacks::Approver>,
    ) {
        self.calls.begin(run, public, approver);
    }

    /// The calls of run `run` waiting for approval.
    pub(crate) fn pending_approvals(&self, run: u64) -> Vec<crate::callbacks::ApprovalRequest> {
        self.calls.pending_approvals(run)
    }
}

impl EventSink for Connection {
    fn emit(&self, run: Option<u64>, event: Event) {
        self.deliver(run, Reply::Event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::blamed;

    #[test]
    fn names_the_only_run_or_the_oldest_not_parked_or_none() {
        assert_eq!(blamed(&[(7, true)]), Some(7));
        // A loop in run 5 while 3 waited on a timer and 8 queued behind.
        assert_eq!(blamed(&[(8, false), (3, true), (5, false)]), Some(5));
        // Everything had been parked: resumed code took it; nobody can tell.
        assert_eq!(blamed(&[(3, true), (5, true)]), None);
        assert_eq!(blamed(&[]), None);
    }
}
