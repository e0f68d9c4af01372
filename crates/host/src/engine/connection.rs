//! The host's end of one worker's channel: writing requests, the table of
//! requests waiting for an answer, and reading and routing what the worker
//! says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, Notify};

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
    /// Told when a request is sent to a worker that had none waiting.
    busy: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    /// Why the channel closed, once it has: every later request is told.
    closed: Option<String>,
    waiting: HashMap<u64, Waiter>,
}

/// A request waiting for its answer.
#[derive(Debug)]
struct Waiter {
    replies: mpsc::UnboundedSender<Reply>,
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
        registry: Arc<Registry>,
    ) -> Self {
        Connection {
            pid,
            max_message_bytes,
            outbox,
            pending: Mutex::new(Pending::default()),
            calls: Calls::new(registry),
            busy: Notify::new(),
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
            R::RUNS_CODE,
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
            R::RUNS_CODE,
            &request.params(),
            request.attachment(),
            replies,
            false,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        id: u64,
        method: &str,
        runs_code: bool,
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
            pending.waiting.insert(
                id,
                Waiter {
                    replies,
                    runs_code,
                    parked: false,
                },
            );
            if pending.waiting.len() == 1 {
                self.busy.notify_one();
            }
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
            std::mem::take(&mut pending.waiting)
        };
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
                    let _ = waiter.replies.send(Reply::Done(result));
                }
            }
            Incoming::Log { run, entry } => self.deliver(run, Reply::Log(entry)),
            Incoming::Event { run, event } => self.deliver(run, Reply::Event(event)),
            Incoming::Waiting { runs } => {
                let mut pending = self.pending.lock().unwrap();
                for run in runs {
                    if let Some(waiter) = pending.waiting.get_mut(&run) {
                        waiter.parked = true;
                    }
                }
            }
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

    fn is_waiting(&self, id: u64) -> bool {
        self.pending.lock().unwrap().waiting.contains_key(&id)
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
