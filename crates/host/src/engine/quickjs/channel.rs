//! Between the host and one engine thread: the queue of what the host asks
//! (requests and notifications, as method and params), the table of
//! requests waiting for their answer, and the few flags the thread's
//! interrupt handler reads while JavaScript runs.

use crate::binary::Payload;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::value::RawValue;

use super::super::approval::{self, Gate, RunApprovals};
use super::super::clock::monotonic_micros;
use super::super::connection::Reply;
use super::super::memory::Usage;
use super::super::replies::ReplySender;
use crate::callbacks::{ApprovalRequest, Approver, CallbackError, EventSink, Registry};
use crate::output::Event;
use crate::wire::methods::{Notification, Request};
use crate::wire::{codes, RpcError};

/// Something the host asked of the thread.
#[derive(Debug)]
pub(crate) enum Command {
    Request {
        id: u64,
        method: &'static str,
        params: String,
        attachment: Option<String>,
        /// The binary values the params' placeholders refer to.
        frames: Vec<bytes::Bytes>,
    },
    Notify {
        method: &'static str,
        params: String,
    },
}

/// What the host and one engine thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    max_message_bytes: usize,
    inbox: Mutex<VecDeque<Queued>>,
    waiting: Mutex<Waiting>,
    /// Requests waiting for an answer (the table's size).
    outstanding: AtomicUsize,
    sent: AtomicU64,
    /// When the thread last came back to its loop (µs, monotonic), or was
    /// last given work while it had none.
    last_heard: AtomicU64,
    /// A cancel or a kill came: the interrupt handler should look.
    attention: AtomicBool,
    cancelled: Mutex<Vec<u64>>,
    killed: AtomicBool,
    /// The thread is parked, waiting for something to do (not blocked).
    parked: AtomicBool,
    /// Host calls whose futures were woken, by call id.
    woken: Mutex<Vec<u64>>,
    thread: OnceLock<std::thread::Thread>,
    memory: AtomicU64,
    peak: AtomicU64,
    /// What runs brought for approvals, by request id.
    approvals: Mutex<HashMap<u64, RunApprovals>>,
}

#[derive(Debug)]
struct Queued {
    command: Command,
    /// When the request may no longer start (µs, monotonic).
    start_by: Option<u64>,
}

#[derive(Debug, Default)]
struct Waiting {
    closed: Option<(u32, String)>,
    table: HashMap<u64, ReplySender>,
}

impl Shared {
    pub(crate) fn new(max_message_bytes: usize) -> Self {
        Shared {
            max_message_bytes,
            inbox: Mutex::new(VecDeque::new()),
            waiting: Mutex::new(Waiting::default()),
            outstanding: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            last_heard: AtomicU64::new(monotonic_micros()),
            attention: AtomicBool::new(false),
            cancelled: Mutex::new(Vec::new()),
            killed: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            woken: Mutex::new(Vec::new()),
            thread: OnceLock::new(),
            memory: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            approvals: Mutex::new(HashMap::new()),
        }
    }

    /// Queues a request; its replies go to `replies`. One larger than the
    /// message limit is refused with a `LIMIT` error, as on a channel.
    pub(crate) fn request<R: Request>(&self, id: u64, request: &R, replies: ReplySender) {
        let params = request.params();
        let attachment = request.attachment().map(str::to_owned);
        let frames = request.frames().to_vec();
        let size = params.len()
            + attachment.as_ref().map_or(0, String::len)
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
        {
            let mut waiting = self.waiting.lock().unwrap();
            if let Some((pid, reason)) = &waiting.closed {
                let _ = replies.send(Reply::Exited {
                    pid: *pid,
                    reason: reason.clone(),
                });
                return;
            }
            if waiting.table.is_empty() {
                self.last_heard.store(monotonic_micros(), Ordering::Relaxed);
            }
            waiting.table.insert(id, replies);
            self.outstanding
                .store(waiting.table.len(), Ordering::Relaxed);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.push(Queued {
            command: Command::Request {
                id,
                method: R::METHOD,
                params,
                attachment,
                frames,
            },
            start_by: request.start_by(),
        });
    }

    /// Queues a notification.
    pub(crate) fn notify<N: Notification>(&self, notification: &N) {
        self.push(Queued {
            command: Command::Notify {
                method: N::METHOD,
                params: notification.params(),
            },
            start_by: None,
        });
    }

    fn push(&self, queued: Queued) {
        self.inbox.lock().unwrap().push_back(queued);
        self.unpark();
    }

    fn unpark(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// Marks run `id` cancelled for the interrupt handler.
    pub(crate) fn cancel(&self, id: u64) {
        self.cancelled.lock().unwrap().push(id);
        self.attention.store(true, Ordering::SeqCst);
    }

    /// Tells the thread to end.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.attention.store(true, Ordering::SeqCst);
        self.unpark();
    }

    /// Takes back queued requests past their start deadline (the thread is
    /// held by synchronous code): each may run elsewhere, and since the
    /// thread never took it, it runs once. Returns how many.
    pub(crate) fn withdraw_unread(&self) -> usize {
        let now = monotonic_micros();
        let mut inbox = self.inbox.lock().unwrap();
        let mut ids = Vec::new();
        inbox.retain(|queued| match (&queued.command, queued.start_by) {
            (Command::Request { id, .. }, Some(by)) if by < now => {
                ids.push(*id);
                false
            }
            _ => true,
        });
        drop(inbox);
        let mut waiting = self.waiting.lock().unwrap();
        for id in &ids {
            if let Some(replies) = waiting.table.remove(id) {
                let _ = replies.send(Reply::Withdrawn);
            }
        }
        self.outstanding
            .store(waiting.table.len(), Ordering::Relaxed);
        ids.len()
    }

    /// Ends every request waiting, and every later one, with `reason`.
    pub(crate) fn close(&self, pid: u32, reason: &str) {
        let table = {
            let mut waiting = self.waiting.lock().unwrap();
            waiting.closed = Some((pid, reason.to_owned()));
            self.outstanding.store(0, Ordering::Relaxed);
            std::mem::take(&mut waiting.table)
        };
        self.inbox.lock().unwrap().clear();
        self.approvals.lock().unwrap().clear();
        for (_, replies) in table {
            let _ = replies.send(Reply::Exited {
                pid,
                reason: reason.to_owned(),
            });
        }
    }

    pub(crate) fn closed_reason(&self) -> String {
        self.waiting
            .lock()
            .unwrap()
            .closed
            .as_ref()
            .map_or_else(|| "the engine thread ended".into(), |(_, r)| r.clone())
    }

    pub(crate) fn is_waiting(&self, id: u64) -> bool {
        self.waiting.lock().unwrap().table.contains_key(&id)
    }

    pub(crate) fn forget(&self, id: u64) {
        let mut waiting = self.waiting.lock().unwrap();
        waiting.table.remove(&id);
        self.outstanding
            .store(waiting.table.len(), Ordering::Relaxed);
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn silent_for(&self, now: u64) -> u64 {
        if self.parked.load(Ordering::Relaxed) {
            return 0;
        }
        now.saturating_sub(self.last_heard.load(Ordering::Relaxed))
    }

    pub(crate) fn memory(&self) -> Usage {
        Usage {
            resident: self.memory.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
        }
    }

    // The engine thread's side.

    /// Registers the engine thread, to be woken.
    pub(crate) fn attach(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// Notes that the thread is back in its loop.
    pub(crate) fn heard(&self) {
        self.last_heard.store(monotonic_micros(), Ordering::Relaxed);
    }

    pub(crate) fn is_parked(&self) -> bool {
        self.parked.load(Ordering::Relaxed)
    }

    /// Notes that the thread parks (`true`) or woke up (`false`).
    pub(crate) fn set_parked(&self, parked: bool) {
        self.parked.store(parked, Ordering::Relaxed);
        if !parked {
            self.heard();
        }
    }

    /// Everything queued, with the start deadlines of requests.
    pub(crate) fn take_commands(&self) -> Vec<(Command, Option<u64>)> {
        let mut inbox = self.inbox.lock().unwrap();
        inbox.drain(..).map(|q| (q.command, q.start_by)).collect()
    }

    pub(crate) fn has_commands(&self) -> bool {
        !self.inbox.lock().unwrap().is_empty()
    }

    /// Whether a cancel or kill came since the handler last looked.
    pub(crate) fn needs_attention(&self) -> bool {
        self.attention.load(Ordering::Relaxed)
    }

    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// Whether run `id` was cancelled (and not yet dealt with).
    pub(crate) fn is_cancelled(&self, id: u64) -> bool {
        self.cancelled.lock().unwrap().contains(&id)
    }

    /// The runs cancelled since last asked.
    pub(crate) fn take_cancelled(&self) -> Vec<u64> {
        let mut cancelled = self.cancelled.lock().unwrap();
        if !self.killed.load(Ordering::Relaxed) {
            self.attention.store(false, Ordering::SeqCst);
        }
        std::mem::take(&mut *cancelled)
    }

    /// Sends a log, event or answer to request `id`, if it still waits.
    pub(crate) fn reply(&self, id: u64, reply: Reply) -> bool {
        let waiting = self.waiting.lock().unwrap();
        match waiting.table.get(&id) {
            Some(replies) => replies.send(reply).is_ok(),
            None => false,
        }
    }

    /// Notes what run `id` brings for approvals (see `Calls::begin`).
    pub(crate) fn begin_run(&self, id: u64, public: u64, approver: Option<Approver>) {
        let mut approvals = self.approvals.lock().unwrap();
        approvals.entry(id).or_default().begin(public, approver);
    }

    /// The calls of run `id` waiting for approval.
    pub(crate) fn pending_approvals(&self, id: u64) -> Vec<ApprovalRequest> {
        let approvals = self.approvals.lock().unwrap();
        approvals
            .get(&id)
            .map_or_else(Vec::new, RunApprovals::pending)
    }

    /// The gate a call of `method` by run `run` must pass, if any.
    pub(crate) fn gate(
        &self,
        registry: &Registry,
        run: u64,
        method: &str,
        args: &RawValue,
        position: Option<crate::output::CallSite>,
    ) -> Result<Option<Gate>, CallbackError> {
        if !registry.needs_approval(method) {
            return Ok(None);
        }
        // Kept until the run is answered: its handle lists what waits.
        let mut approvals = self.approvals.lock().unwrap();
        let approvals = approvals.entry(run).or_default();
        approval::gate(registry, Some(approvals), run, method, args, position)
    }

    /// Answers request `id`.
    pub(crate) fn done(&self, id: u64, result: Result<Box<RawValue>, RpcError>) {
        self.done_framed(id, result.map(Payload::plain));
    }

    /// Answers request `id` with a value that may have binary parts.
    pub(crate) fn done_framed(&self, id: u64, result: Result<Payload, RpcError>) {
        self.approvals.lock().unwrap().remove(&id);
        let replies = {
            let mut waiting = self.waiting.lock().unwrap();
            let replies = waiting.table.remove(&id);
            self.outstanding
                .store(waiting.table.len(), Ordering::Relaxed);
            replies
        };
        if let Some(replies) = replies {
            let _ = replies.send(Reply::Done(result));
        }
    }

    /// Marks host call `call` woken and wakes the thread.
    pub(crate) fn wake(&self, call: u64) {
        self.woken.lock().unwrap().push(call);
        self.unpark();
    }

    pub(crate) fn take_woken(&self) -> Vec<u64> {
        std::mem::take(&mut *self.woken.lock().unwrap())
    }

    pub(crate) fn has_woken(&self) -> bool {
        !self.woken.lock().unwrap().is_empty()
    }

    pub(crate) fn set_memory(&self, bytes: u64) {
        self.memory.store(bytes, Ordering::Relaxed);
        self.peak.fetch_max(bytes, Ordering::Relaxed);
    }
}

impl EventSink for Shared {
    fn emit(&self, run: Option<u64>, event: Event) {
        let delivered = run.is_some_and(|run| self.reply(run, Reply::Event(event.clone())));
        if !delivered {
            tracing::debug!(run, name = %event.name, "event from a finished run");
        }
    }
}
