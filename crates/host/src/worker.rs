//! One engine process: its channel, the tasks that read and write it, and the
//! table of requests waiting for an answer.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, Notify};
use tracing::Instrument;

use crate::callbacks::{CallContext, Registry};
use crate::error::{Error, Result};
use crate::outbox::Outbox;
use crate::protocol::{self, codes, Incoming, RpcError};
use crate::script::{Event, LogEntry};
use crate::spawn::{self, EngineCommand};

/// What a request waiting on a worker receives.
#[derive(Debug)]
pub(crate) enum Reply {
    Log(LogEntry),
    Event(Event),
    Done(Result<Box<RawValue>, RpcError>),
    Exited { pid: u32, reason: String },
}

/// Settings every worker of a pool shares.
#[derive(Debug)]
pub(crate) struct WorkerConfig {
    pub(crate) command: EngineCommand,
    pub(crate) init_params: String,
    pub(crate) startup_timeout: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) script_cache_size: NonZeroUsize,
    pub(crate) cancel_grace: Duration,
    pub(crate) min_node_major: u32,
    pub(crate) registry: Arc<Registry>,
}

/// Told to the pool when a worker process has ended.
#[derive(Debug)]
pub(crate) struct Exited {
    pub(crate) slot: usize,
    pub(crate) pid: u32,
    pub(crate) cause: Cause,
}

/// Why a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// It died by itself (crash, out of memory, killed from outside).
    Crashed,
    /// It did not stop a cancelled or timed-out run: stuck in synchronous code.
    Stuck,
    /// It did not answer a health ping in time.
    Unhealthy,
    /// It sent something the host could not understand.
    Protocol,
    /// It was replaced on purpose (run count or heap size) after draining.
    Recycled,
    /// It was retired after staying idle beyond the pool's minimum size.
    Idle,
    /// The pool shut it down, or was dropped, or a test asked.
    Requested,
}

/// A running engine process.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) slot: usize,
    pub(crate) pid: u32,
    pub(crate) version: OnceLock<String>,
    ids: Arc<AtomicU64>,
    outbox: Arc<Outbox>,
    pending: Mutex<Pending>,
    pub(crate) in_flight: AtomicUsize,
    kill: Notify,
    dying: AtomicBool,
    exit_notify: Notify,
    kill_reason: Mutex<Option<String>>,
    cause: Mutex<Option<Cause>>,
    /// Runs and calls it has finished (for recycling).
    pub(crate) runs_done: AtomicU64,
    /// A replacement is being started for it.
    pub(crate) recycling: AtomicBool,
    /// Replaced: takes no new work, shuts down once drained.
    pub(crate) retiring: AtomicBool,
    /// Open sessions pinned to it.
    pub(crate) sessions: AtomicUsize,
    started: std::time::Instant,
    /// Milliseconds after `started` when it last finished work.
    last_active_ms: AtomicU64,
    stderr_tail: Mutex<VecDeque<String>>,
    known_scripts: Mutex<lru::LruCache<String, ()>>,
    cancel_grace: Duration,
    registry: Arc<Registry>,
    /// Callback futures in progress, by the run that asked for them.
    calls: Mutex<HashMap<u64, RunCalls>>,
}

/// The callbacks of one run: cancelled together when the run ends.
#[derive(Debug, Default)]
struct RunCalls {
    token: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl RunCalls {
    fn end(self) {
        self.token.cancel();
        for task in self.tasks {
            task.abort();
        }
    }
}

#[derive(Debug, Default)]
struct Pending {
    alive: bool,
    waiting: HashMap<u64, mpsc::UnboundedSender<Reply>>,
}

const STDERR_TAIL_LINES: usize = 20;

impl Worker {
    /// Starts a process and waits until it has answered `init`.
    pub(crate) async fn start(
        slot: usize,
        config: &WorkerConfig,
        ids: Arc<AtomicU64>,
        exits: mpsc::UnboundedSender<Exited>,
    ) -> Result<Arc<Worker>> {
        let (host_end, worker_end) =
            std::os::unix::net::UnixStream::pair().map_err(|e| Error::Spawn {
                program: config.command.program.display().to_string(),
                message: format!("cannot create the worker's channel: {e}"),
            })?;
        host_end.set_nonblocking(true).map_err(|e| Error::Spawn {
            program: config.command.program.display().to_string(),
            message: format!("cannot set up the worker's channel: {e}"),
        })?;
        let stream = UnixStream::from_std(host_end).map_err(|e| Error::Spawn {
            program: config.command.program.display().to_string(),
            message: format!("cannot set up the worker's channel: {e}"),
        })?;
        let mut child = spawn::spawn(config.command.clone(), OwnedFd::from(worker_end)).await?;
        let pid = child.id();
        let (read_half, write_half) = stream.into_split();
        let (outbox, write_task) = Outbox::new(write_half);
        tokio::spawn(write_task);
        let worker = Arc::new(Worker {
            slot,
            pid,
            version: OnceLock::new(),
            ids,
            outbox,
            pending: Mutex::new(Pending {
                alive: true,
                waiting: HashMap::new(),
            }),
            in_flight: AtomicUsize::new(0),
            kill: Notify::new(),
            dying: AtomicBool::new(false),
            exit_notify: Notify::new(),
            kill_reason: Mutex::new(None),
            cause: Mutex::new(None),
            runs_done: AtomicU64::new(0),
            recycling: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            sessions: AtomicUsize::new(0),
            started: std::time::Instant::now(),
            last_active_ms: AtomicU64::new(0),
            stderr_tail: Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)),
            known_scripts: Mutex::new(lru::LruCache::new(config.script_cache_size)),
            cancel_grace: config.cancel_grace,
            registry: config.registry.clone(),
            calls: Mutex::new(HashMap::new()),
        });
        tokio::spawn(read_loop(
            worker.clone(),
            read_half,
            config.max_message_bytes,
        ));
        let stderr = child
            .stderr
            .take()
            .map(|stderr| tokio::spawn(stderr_loop(worker.clone(), stderr)));
        tokio::spawn(wait_loop(worker.clone(), child, stderr, exits));
        tracing::debug!(pid, slot, "worker process started");

        let init = worker
            .request_value("init", &config.init_params, "init", config.startup_timeout)
            .await;
        let program = config.command.program.display().to_string();
        let hello = match init {
            Ok(hello) => hello,
            Err(Error::WorkerExited { reason, .. }) => {
                return Err(Error::Spawn {
                    program,
                    message: format!("the engine exited during start-up: {reason}"),
                })
            }
            Err(Error::Timeout { .. }) => {
                worker.kill("start-up timed out");
                return Err(Error::Spawn {
                    program,
                    message: format!(
                        "the engine did not answer within {:?}",
                        config.startup_timeout
                    ),
                });
            }
            Err(e) => {
                worker.kill("start-up failed");
                return Err(Error::Spawn {
                    program,
                    message: format!("start-up failed: {e}"),
                });
            }
        };
        #[derive(Deserialize)]
        struct Hello {
            protocol: u32,
            version: String,
        }
        let hello: Hello = serde_json::from_str(hello.get()).map_err(|e| Error::Spawn {
            program: program.clone(),
            message: format!("unexpected start-up answer: {e}"),
        })?;
        let major = hello
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        if major < config.min_node_major || hello.protocol != protocol::PROTOCOL_VERSION {
            worker.kill("unsupported engine");
            return Err(Error::Spawn {
                program,
                message: format!(
                    "found Node.js {} (protocol {}), but outrigger needs Node.js {} or newer (protocol {})",
                    hello.version,
                    hello.protocol,
                    config.min_node_major,
                    protocol::PROTOCOL_VERSION
                ),
            });
        }
        let _ = worker.version.set(hello.version);
        tracing::info!(
            pid,
            slot,
            version = worker.version.get().map(String::as_str),
            "worker ready"
        );
        Ok(worker)
    }

    /// A fresh request id (unique in the pool).
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.pending.lock().unwrap().alive
    }

    /// Whether new work may go to this worker: alive and not being killed.
    pub(crate) fn accepts_work(&self) -> bool {
        !self.dying.load(Ordering::SeqCst)
            && !self.retiring.load(Ordering::SeqCst)
            && self.is_alive()
    }

    /// Whether its open sessions may still run: alive and not being killed
    /// (a retiring worker serves its sessions until they close).
    pub(crate) fn serves_sessions(&self) -> bool {
        !self.dying.load(Ordering::SeqCst) && self.is_alive()
    }

    /// Records that it just finished some work.
    pub(crate) fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(now, Ordering::Relaxed);
    }

    /// How long since it last finished work (or started).
    pub(crate) fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    pub(crate) fn set_cause(&self, cause: Cause) {
        self.cause.lock().unwrap().get_or_insert(cause);
    }

    /// Asks the process to exit once it has no work, as part of a recycle.
    pub(crate) fn retire_now(&self) {
        self.cause.lock().unwrap().get_or_insert(Cause::Recycled);
        self.notify("shutdown", "{}");
    }

    /// Sends a request with a known id; replies arrive on the receiver.
    pub(crate) fn send_request(
        &self,
        id: u64,
        method: &str,
        params: &str,
    ) -> mpsc::UnboundedReceiver<Reply> {
        self.send_request_with(id, method, params, None)
    }

    /// Sends a request with a known id and its attachment line, if any
    /// (see [`protocol::request_with`]).
    pub(crate) fn send_request_with(
        &self,
        id: u64,
        method: &str,
        params: &str,
        attachment: Option<&str>,
    ) -> mpsc::UnboundedReceiver<Reply> {
        let (tx, rx) = mpsc::unbounded_channel();
        // With other requests in flight, this one can wait for the tasks
        // ready now and go out in one write with theirs.
        let coalesce = {
            let mut pending = self.pending.lock().unwrap();
            if !pending.alive {
                let _ = tx.send(Reply::Exited {
                    pid: self.pid,
                    reason: self.exit_reason(),
                });
                return rx;
            }
            pending.waiting.insert(id, tx);
            pending.waiting.len() > 1
        };
        self.outbox.send_line(
            protocol::request_with(id, method, params, attachment),
            coalesce,
        );
        rx
    }

    /// Sends a request again under the same id (the first answer said the
    /// worker lacked the compiled script).
    pub(crate) fn resend(
        &self,
        id: u64,
        method: &str,
        params: &str,
        attachment: Option<&str>,
        reply: mpsc::UnboundedSender<Reply>,
    ) {
        let mut pending = self.pending.lock().unwrap();
        if !pending.alive {
            let _ = reply.send(Reply::Exited {
                pid: self.pid,
                reason: self.exit_reason(),
            });
            return;
        }
        pending.waiting.insert(id, reply);
        drop(pending);
        self.outbox
            .send(protocol::request_with(id, method, params, attachment));
    }

    /// Sends a request and waits for its value, ignoring logs. Errors name
    /// `name`; past `timeout` the request is cancelled.
    pub(crate) async fn request_value(
        self: &Arc<Self>,
        method: &str,
        params: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Box<RawValue>> {
        let id = self.next_id();
        let mut rx = self.send_request(id, method, params);
        let answer = async {
            loop {
                match rx.recv().await {
                    Some(Reply::Done(Ok(value))) => return Ok(value),
                    Some(Reply::Done(Err(error))) => {
                        return Err(protocol::into_error(error, name, timeout))
                    }
                    Some(Reply::Exited { pid, reason }) => {
                        return Err(Error::WorkerExited { pid, reason })
                    }
                    Some(Reply::Log(entry)) => {
                        tracing::debug!(target: "outrigger::console", pid = self.pid, method, "{entry}");
                    }
                    Some(Reply::Event(_)) => {}
                    None => {
                        return Err(Error::WorkerExited {
                            pid: self.pid,
                            reason: self.exit_reason(),
                        })
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, answer).await {
            Ok(result) => result,
            Err(_) => {
                self.cancel(id, "timeout");
                Err(Error::Timeout { after: timeout })
            }
        }
    }

    /// Pings the worker; kills it if no answer comes within `deadline`.
    pub(crate) async fn check_health(&self, deadline: Duration) -> bool {
        let id = self.next_id();
        let mut rx = self.send_request(id, "ping", "{}");
        match tokio::time::timeout(deadline, rx.recv()).await {
            Ok(Some(Reply::Done(Ok(_)))) => true,
            Ok(_) => false,
            Err(_) => {
                self.pending.lock().unwrap().waiting.remove(&id);
                self.kill_for(
                    Cause::Unhealthy,
                    &format!("killed: no answer to a health ping within {deadline:?} (busy in synchronous code?)"),
                );
                false
            }
        }
    }

    /// Bytes of JavaScript heap in use, from the worker's own counters.
    pub(crate) async fn heap_used(self: &Arc<Self>, deadline: Duration) -> Option<u64> {
        let raw = self
            .request_value("stats", "{}", "stats", deadline)
            .await
            .ok()?;
        let stats: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
        stats["heapUsed"].as_u64()
    }

    /// Resolves once the process has ended.
    pub(crate) async fn exited(&self) {
        loop {
            let notified = self.exit_notify.notified();
            if !self.is_alive() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn notify(&self, method: &str, params: &str) {
        self.outbox.send(protocol::notification(method, params));
    }

    /// Asks the worker to stop a run, and replaces the worker if it does not
    /// answer within the grace period (it is stuck in synchronous code).
    pub(crate) fn cancel(self: &Arc<Self>, id: u64, reason: &str) {
        self.notify("cancel", &format!(r#"{{"id":{id},"reason":"{reason}"}}"#));
        self.end_calls(id);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let worker = Arc::downgrade(self);
        let grace = self.cancel_grace;
        runtime.spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(worker) = worker.upgrade() else { return };
            let stuck = worker.pending.lock().unwrap().waiting.contains_key(&id);
            if stuck {
                worker.kill_for(Cause::Stuck, &format!(
                    "killed: run {id} did not stop within {grace:?} of being cancelled (stuck in synchronous code)"
                ));
            }
        });
    }

    /// Whether the worker has this script compiled; records that it will.
    pub(crate) fn knows_script(&self, key: &str) -> bool {
        let mut known = self.known_scripts.lock().unwrap();
        if known.get(key).is_some() {
            return true;
        }
        known.put(key.to_owned(), ());
        false
    }

    pub(crate) fn forget_script(&self, key: &str) {
        self.known_scripts.lock().unwrap().pop(key);
    }

    /// Kills the process; the pool replaces it.
    pub(crate) fn kill(&self, reason: &str) {
        self.kill_for(Cause::Requested, reason);
    }

    /// Kills the process for `cause`; the pool replaces it.
    pub(crate) fn kill_for(&self, cause: Cause, reason: &str) {
        self.cause.lock().unwrap().get_or_insert(cause);
        {
            let mut why = self.kill_reason.lock().unwrap();
            if why.is_none() {
                *why = Some(reason.to_owned());
            }
        }
        self.dying.store(true, Ordering::SeqCst);
        if !self.is_alive() {
            return;
        }
        tracing::warn!(pid = self.pid, slot = self.slot, reason, "killing worker");
        self.kill.notify_one();
    }

    fn exit_reason(&self) -> String {
        self.kill_reason
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| "the worker process ended".into())
    }

    fn route(self: &Arc<Self>, incoming: Incoming) {
        match incoming {
            Incoming::Response { id, result } => {
                let waiter = self.pending.lock().unwrap().waiting.remove(&id);
                self.end_calls(id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Reply::Done(result));
                }
            }
            Incoming::Log { run, entry } => self.deliver(run, Reply::Log(entry)),
            Incoming::Event { run, event } => self.deliver(run, Reply::Event(event)),
            Incoming::Request { id, method, params } => self.dispatch_callback(id, method, params),
            Incoming::Unsolicited(error) => {
                tracing::warn!(pid = self.pid, code = error.code, message = %error.message, "worker reported an error");
            }
        }
    }

    /// Runs a callback a script asked for, as a task tied to the run.
    fn dispatch_callback(self: &Arc<Self>, id: u64, method: String, params: Option<Box<RawValue>>) {
        #[derive(Deserialize)]
        struct CallParams<'a> {
            #[serde(default)]
            run: Option<u64>,
            #[serde(default)]
            session: Option<u64>,
            #[serde(borrow)]
            args: Option<&'a RawValue>,
        }
        let fail = |code: i64, message: &str| {
            self.outbox
                .send(protocol::error_response(Some(id), code, message));
        };
        let Some(handler) = self.registry.get(&method).cloned() else {
            return fail(
                codes::METHOD_NOT_FOUND,
                &format!(
                    "no callback named `{method}` (callbacks: {})",
                    self.registry.names()
                ),
            );
        };
        let text = params.as_deref().map_or("{}", RawValue::get);
        let Ok(call) = serde_json::from_str::<CallParams<'_>>(text) else {
            return fail(codes::INVALID_REQUEST, "malformed callback request");
        };
        let args = call
            .args
            .map(RawValue::to_owned)
            .unwrap_or_else(|| RawValue::from_string("{}".into()).expect("valid JSON"));
        // Only a run in progress may call back; its calls end with it.
        let token = {
            let in_flight = call
                .run
                .is_some_and(|run| self.pending.lock().unwrap().waiting.contains_key(&run));
            if !in_flight {
                return fail(
                    codes::CANCELLED,
                    &format!("`{method}` was called after its run ended"),
                );
            }
            let mut calls = self.calls.lock().unwrap();
            calls
                .entry(call.run.unwrap_or_default())
                .or_default()
                .token
                .clone()
        };
        let ctx = CallContext::new(
            call.run,
            call.session,
            method.as_str().into(),
            token,
            Arc::downgrade(self),
        );
        let outbox = self.outbox.clone();
        let span =
            tracing::info_span!("outrigger.callback", callback = %method, run = call.run, id);
        let task = tokio::spawn(
            async move {
                use futures_util::FutureExt;
                let outcome = std::panic::AssertUnwindSafe(async move { handler(ctx, args).await })
                    .catch_unwind()
                    .await;
                let line = match outcome {
                    Ok(Ok(value)) => protocol::response(id, value.get()),
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "callback failed");
                        protocol::error_response_with_data(
                            Some(id),
                            error.code(),
                            error.message(),
                            error.data(),
                        )
                    }
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "no message".into());
                        tracing::error!(panic = %what, "callback panicked");
                        protocol::error_response(
                            Some(id),
                            codes::CALLBACK_FAILED,
                            &format!("callback `{method}` panicked: {what}"),
                        )
                    }
                };
                outbox.send(line);
            }
            .instrument(span),
        );
        if let Some(run) = call.run {
            if let Some(calls) = self.calls.lock().unwrap().get_mut(&run) {
                calls.tasks.retain(|t| !t.is_finished());
                calls.tasks.push(task.abort_handle());
            } else {
                // The run ended while the task was being started.
                task.abort();
            }
        }
    }

    /// Drops the callback futures of a run that has ended.
    pub(crate) fn end_calls(&self, run: u64) {
        let calls = self.calls.lock().unwrap().remove(&run);
        if let Some(calls) = calls {
            calls.end();
        }
    }

    pub(crate) fn deliver(&self, run: Option<u64>, reply: Reply) {
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

    /// Marks the worker dead and fails every request on it.
    fn fail_all(&self, reason: &str) {
        let waiting = {
            let mut pending = self.pending.lock().unwrap();
            pending.alive = false;
            std::mem::take(&mut pending.waiting)
        };
        for (_, waiter) in waiting {
            let _ = waiter.send(Reply::Exited {
                pid: self.pid,
                reason: reason.to_owned(),
            });
        }
        self.exit_notify.notify_waiters();
        self.outbox.close();
        let calls = std::mem::take(&mut *self.calls.lock().unwrap());
        for (_, calls) in calls {
            calls.end();
        }
    }
}

async fn read_loop(
    worker: Arc<Worker>,
    mut socket: tokio::net::unix::OwnedReadHalf,
    max_message_bytes: usize,
) {
    let limit = protocol::line_limit(max_message_bytes);
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut scanned = 0;
    loop {
        if buffer.capacity() - buffer.len() < 16 * 1024 {
            buffer.reserve(64 * 1024);
        }
        match socket.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match protocol::split_messages(&buffer, scanned, limit, |incoming| worker.route(incoming)) {
            Ok(consumed) => {
                buffer.drain(..consumed);
                scanned = buffer.len();
            }
            Err(error) => {
                worker.kill_for(Cause::Protocol, &format!("killed: {error}"));
                return;
            }
        }
        if buffer.is_empty() && buffer.capacity() > 4 * 1024 * 1024 {
            buffer = Vec::with_capacity(64 * 1024);
        }
    }
    // The channel closed: the process is ending (a graceful shutdown closes
    // it first), or must be made to.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if worker.is_alive() {
        worker.kill_for(
            Cause::Crashed,
            "the worker closed its channel but did not exit",
        );
    }
}

async fn stderr_loop(worker: Arc<Worker>, stderr: tokio::net::unix::pipe::Receiver) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(target: "outrigger::worker_stderr", pid = worker.pid, "{line}");
        let mut tail = worker.stderr_tail.lock().unwrap();
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

async fn wait_loop(
    worker: Arc<Worker>,
    mut child: spawn::Process,
    stderr: Option<tokio::task::JoinHandle<()>>,
    exits: mpsc::UnboundedSender<Exited>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        () = worker.kill.notified() => {
            child.start_kill();
            child.wait().await
        }
    };
    if let Some(stderr) = stderr {
        let _ = tokio::time::timeout(Duration::from_millis(200), stderr).await;
    }
    let status = match status {
        Ok(status) => describe_status(status),
        Err(e) => format!("could not be waited for: {e}"),
    };
    let mut reason = match worker.kill_reason.lock().unwrap().clone() {
        Some(why) => format!("{why} ({status})"),
        None => status,
    };
    let tail: Vec<String> = worker.stderr_tail.lock().unwrap().iter().cloned().collect();
    if !tail.is_empty() {
        reason.push_str("; stderr: ");
        reason.push_str(&tail.join("\n"));
    }
    *worker.kill_reason.lock().unwrap() = Some(reason.clone());
    let cause = worker.cause.lock().unwrap().unwrap_or(Cause::Crashed);
    if matches!(cause, Cause::Recycled | Cause::Requested | Cause::Idle) {
        tracing::info!(pid = worker.pid, slot = worker.slot, %reason, ?cause, "worker exited");
    } else {
        tracing::warn!(pid = worker.pid, slot = worker.slot, %reason, ?cause, "worker exited");
    }
    worker.fail_all(&reason);
    let _ = exits.send(Exited {
        slot: worker.slot,
        pid: worker.pid,
        cause,
    });
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}
