//! The host's end of one worker's channel: writing requests, the table of
//! requests waiting for an answer, and reading and routing what the worker
//! says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::calls::{Caller, Calls};
use super::outbox::Outbox;
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
    Done(Result<Box<RawValue>, RpcError>),
    Exited { pid: u32, reason: String },
}

/// One worker's channel, as the host sees it.
#[derive(Debug)]
pub(crate) struct Connection {
    pid: u32,
    /// The largest message either side may send.
    max_message_bytes: usize,
    outbox: Arc<Outbox>,
    pending: Mutex<Pending>,
    calls: Calls,
}

#[derive(Debug, Default)]
struct Pending {
    /// Why the channel closed, once it has: every later request is told.
    closed: Option<String>,
    waiting: HashMap<u64, mpsc::UnboundedSender<Reply>>,
}

impl Connection {
    pub(crate) fn new(
        pid: u32,
        max_message_bytes: usize,
        outbox: Arc<Outbox>,
        registry: Arc<Registry>,
    ) -> Self {
        Connection {
            pid,
            max_message_bytes,
            outbox,
            pending: Mutex::new(Pending::default()),
            calls: Calls::new(registry),
        }
    }

    /// Sends a request under `id` (unique in the pool), with its attachment
    /// line if it has one; replies arrive on the receiver. A request larger
    /// than the message limit is refused with a `LIMIT` error, unsent.
    pub(crate) fn request<R: Request>(
        &self,
        id: u64,
        request: &R,
    ) -> mpsc::UnboundedReceiver<Reply> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.send(
            id,
            R::METHOD,
            &request.params(),
            request.attachment(),
            tx,
            true,
        );
        rx
    }

    /// Sends a request again under the same id, its replies going to the
    /// same run (the first answer said the worker lacked the compiled script).
    pub(crate) fn resend<R: Request>(
        &self,
        id: u64,
        request: &R,
        replies: mpsc::UnboundedSender<Reply>,
    ) {
        self.send(
            id,
            R::METHOD,
            &request.params(),
            request.attachment(),
            replies,
            false,
        );
    }

    fn send(
        &self,
        id: u64,
        method: &str,
        params: &str,
        attachment: Option<&str>,
        replies: mpsc::UnboundedSender<Reply>,
        may_coalesce: bool,
    ) {
        let size = params.len() + attachment.map_or(0, str::len);
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
        // With other requests in flight, this one can wait for the tasks
        // ready now and go out in one write with theirs.
        let coalesce = {
            let mut pending = self.pending.lock().unwrap();
            if let Some(reason) = &pending.closed {
                let _ = replies.send(Reply::Exited {
                    pid: self.pid,
                    reason: reason.clone(),
                });
                return;
            }
            pending.waiting.insert(id, replies);
            may_coalesce && pending.waiting.len() > 1
        };
        self.outbox
            .send_line(wire::request(id, method, params, attachment), coalesce);
    }

    /// Sends a notification.
    pub(crate) fn notify<N: Notification>(&self, notification: &N) {
        self.outbox
            .send(wire::notification(N::METHOD, &notification.params()));
    }

    /// Stops waiting for a request's answer.
    pub(crate) fn forget(&self, id: u64) {
        self.pending.lock().unwrap().waiting.remove(&id);
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
        let waiting = {
            let mut pending = self.pending.lock().unwrap();
            pending.closed = Some(reason.to_owned());
            std::mem::take(&mut pending.waiting)
        };
        for (_, waiter) in waiting {
            let _ = waiter.send(Reply::Exited {
                pid: self.pid,
                reason: reason.to_owned(),
            });
        }
        self.outbox.close();
        self.calls.end_all();
    }

    /// Reads the channel until it closes, routing every message; a message
    /// that breaks the protocol ends reading with its error.
    pub(crate) async fn read(
        self: &Arc<Self>,
        mut socket: tokio::net::unix::OwnedReadHalf,
    ) -> Result<(), Error> {
        let limit = wire::line_limit(self.max_message_bytes);
        let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut scanned = 0;
        loop {
            if buffer.capacity() - buffer.len() < 16 * 1024 {
                buffer.reserve(64 * 1024);
            }
            match socket.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
            let consumed =
                wire::split_messages(&buffer, scanned, limit, |incoming| self.route(incoming))?;
            buffer.drain(..consumed);
            scanned = buffer.len();
            if buffer.is_empty() && buffer.capacity() > 4 * 1024 * 1024 {
                buffer = Vec::with_capacity(64 * 1024);
            }
        }
    }

    fn route(self: &Arc<Self>, incoming: Incoming) {
        match incoming {
            Incoming::Response { id, result } => {
                let waiter = self.pending.lock().unwrap().waiting.remove(&id);
                self.calls.end(id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Reply::Done(result));
                }
            }
            Incoming::Log { run, entry } => self.deliver(run, Reply::Log(entry)),
            Incoming::Event { run, event } => self.deliver(run, Reply::Event(event)),
            Incoming::Request { id, method, params } => {
                self.calls.dispatch(self, id, method, params.as_deref());
            }
            Incoming::Unsolicited(error) => {
                tracing::warn!(pid = self.pid, code = error.code, message = %error.message, "worker reported an error");
            }
        }
    }

    /// Hands a log or event to the run it belongs to.
    fn deliver(&self, run: Option<u64>, reply: Reply) {
        let waiter = run.and_then(|run| self.pending.lock().unwrap().waiting.get(&run).cloned());
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

impl Caller for Connection {
    fn answer(&self, line: String) {
        self.outbox.send(line);
    }

    fn is_waiting(&self, id: u64) -> bool {
        self.pending.lock().unwrap().waiting.contains_key(&id)
    }
}

impl EventSink for Connection {
    fn emit(&self, run: Option<u64>, event: Event) {
        self.deliver(run, Reply::Event(event));
    }
}
