//! One engine process: started with its channel, answered `init`, serving
//! until it exits or is killed. The pool sees it through [`Worker`](super::Worker).

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, Notify};

use super::calls::Caller;
use super::clock::{monotonic_micros, Reading};
use super::connection::{Connection, Reply};
use super::lifecycle::{Cause, Lifecycle};
use super::memory::{EngineOutOfMemory, Usage, WorkerMemory, SAMPLE_EVERY};
use super::mounts;
use super::outbox::Outbox;
use super::replies::{Replies, ReplySender};
use super::script_cache::ScriptCache;
use super::socket::{self, ReadEnd};
use super::spawn;
use super::{Exited, ProcessLaunch, WorkerConfig};
use crate::error::{Error, Result};
use crate::wire;
use crate::wire::methods::{Cancel, CancelReason, InitNow, Notification, Ping, Request, Shutdown};

/// A running engine process.
#[derive(Debug)]
pub(crate) struct ProcessWorker {
    pub(crate) pid: u32,
    /// The engine's version, from its answer to `init`.
    pub(crate) version: OnceLock<String>,
    /// Whether it reads the host's clock, so that start deadlines hold.
    same_clock: AtomicBool,
    ids: Arc<AtomicU64>,
    connection: Arc<Connection>,
    lifecycle: Mutex<Lifecycle>,
    /// Wakes the task that waits for the process, to kill it.
    kill: Notify,
    /// Wakes whoever waits for the process to end.
    ended: Notify,
    stderr_tail: Mutex<VecDeque<String>>,
    scripts: ScriptCache,
    cancel_grace: Duration,
    memory: WorkerMemory,
    /// The engine's reading of a stderr line.
    out_of_memory: fn(&str) -> Option<EngineOutOfMemory>,
    /// The first line that said the engine ran out of memory, kept apart
    /// from the tail: a native stack trace follows it and can push it out.
    ran_out: Mutex<Option<EngineOutOfMemory>>,
}

const STDERR_TAIL_LINES: usize = 20;

impl ProcessWorker {
    /// Starts a process and waits until it has answered `init`. Request ids
    /// come from `ids` (shared by the pool); `exits` hears when it ends.
    pub(crate) async fn start(
        config: &WorkerConfig,
        launch: &ProcessLaunch,
        ids: Arc<AtomicU64>,
        exits: mpsc::UnboundedSender<Exited>,
    ) -> Result<Arc<ProcessWorker>> {
        let program = launch.command.program.display().to_string();
        let spawn_error = |what: &str, e: std::io::Error| Error::Spawn {
            program: program.clone(),
            message: format!("cannot {what} the worker's channel: {e}"),
        };
        let (host_end, worker_end) =
            std::os::unix::net::UnixStream::pair().map_err(|e| spawn_error("create", e))?;
        let (read_end, write_end) =
            socket::split(host_end).map_err(|e| spawn_error("set up", e))?;
        // The host keeps a copy of the worker's end to see how much of what
        // it sent the worker has read (see `Connection::withdraw_unread`).
        let peer = worker_end.try_clone().ok().map(OwnedFd::from);
        // The channel to the host's file stores, when there are mounts.
        let files = if config.mounts.is_empty() {
            None
        } else {
            let (host_files, worker_files) =
                std::os::unix::net::UnixStream::pair().map_err(|e| spawn_error("create", e))?;
            host_files
                .set_nonblocking(true)
                .map_err(|e| spawn_error("set up", e))?;
            let host_files =
                UnixStream::from_std(host_files).map_err(|e| spawn_error("set up", e))?;
            Some((host_files, OwnedFd::from(worker_files)))
        };
        let (host_files, worker_files) = files.unzip();
        let mut command = launch.command.clone();
        let cache_files = match &launch.preload_cache {
            Some(cache) => match cache.for_worker() {
                Ok(files) => {
                    // The engine's options before the program (`-`), the runtime's after it.
                    command.args.splice(0..0, files.engine_args());
                    command.args.extend(files.runtime_args());
                    Some(files)
                }
                Err(e) => {
                    tracing::warn!("no code cache for the preloads: {e}");
                    None
                }
            },
            None => None,
        };
        let mut child = spawn::spawn(command, OwnedFd::from(worker_end), worker_files).await?;
        let pid = child.id();
        if let Some(host_files) = host_files {
            tokio::spawn(mounts::serve(
                host_files,
                config.mounts.clone(),
                pid,
                config.max_message_bytes,
            ));
        }
        // While the engine boots, which takes longer than this.
        let memory = {
            let (policy, liveness) = (config.memory.clone(), child.liveness());
            tokio::task::spawn_blocking(move || WorkerMemory::new(pid, policy, liveness))
                .await
                .map_err(|e| Error::Spawn {
                    program: program.clone(),
                    message: format!("setting up the worker's memory failed: {e}"),
                })?
        };
        let (outbox, write_task) = Outbox::new(write_end);
        tokio::spawn(write_task);
        let connection = Arc::new(Connection::new(
            pid,
            config.max_message_bytes,
            outbox,
            peer,
            config.registry.clone(),
        ));
        let worker = Arc::new(ProcessWorker {
            pid,
            version: OnceLock::new(),
            same_clock: AtomicBool::new(false),
            ids,
            connection: connection.clone(),
            lifecycle: Mutex::new(Lifecycle::Serving),
            kill: Notify::new(),
            ended: Notify::new(),
            stderr_tail: Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)),
            scripts: ScriptCache::new(config.script_cache_size),
            cancel_grace: config.cancel_grace,
            memory,
            out_of_memory: launch.out_of_memory,
            ran_out: Mutex::new(None),
        });
        tokio::spawn(read_loop(worker.clone(), read_end));
        // In a cgroup the kernel holds the ceiling itself, at every page.
        if !worker.memory.has_cgroup() {
            tokio::spawn(memory_loop(worker.clone()));
        }
        let stderr = child
            .stderr
            .take()
            .map(|stderr| tokio::spawn(stderr_loop(worker.clone(), stderr)));
        tokio::spawn(wait_loop(worker.clone(), child, stderr, exits));
        tracing::debug!(pid, "worker process started");

        let hello = match worker
            .ask(
                &InitNow {
                    init: &config.init,
                    clock: monotonic_micros(),
                },
                "init",
                config.startup_timeout,
            )
            .await
        {
            Ok(hello) => hello,
            Err(error) => {
                let message = match error {
                    Error::WorkerExited { reason, .. } => {
                        format!("the engine exited during start-up: {reason}")
                    }
                    Error::Timeout { .. } => format!(
                        "the engine did not answer within {:?}",
                        config.startup_timeout
                    ),
                    other => format!("start-up failed: {other}"),
                };
                worker.kill("start-up failed");
                return Err(Error::Spawn { program, message });
            }
        };
        let version = match serde_json::from_str::<wire::Hello>(hello.get()) {
            Ok(hello) => {
                // Its clock read when it answered: within the round trip of ours.
                let same = hello
                    .clock
                    .is_some_and(|clock| clock.abs_diff(monotonic_micros()) < 1_000_000);
                worker.same_clock.store(same, Ordering::Relaxed);
                if !same {
                    tracing::warn!(pid, "the engine's clock is not the host's: runs it never starts cannot be moved");
                }
                launch.check(&hello)
            }
            Err(e) => Err(format!("unexpected start-up answer: {e}")),
        };
        let version = match version {
            Ok(version) => version,
            Err(message) => {
                worker.kill("unsupported engine");
                return Err(Error::Spawn { program, message });
            }
        };
        let _ = worker.version.set(version);
        if let Some(files) = cache_files {
            files.keep_made();
        }
        if let Err(message) = worker.memory.limit_from_now() {
            worker.kill("its memory bound leaves it no room");
            return Err(Error::Spawn { program, message });
        }
        tracing::info!(
            pid,
            engine = launch.engine.name(),
            version = worker.version.get().map(String::as_str),
            cgroup = worker.memory.has_cgroup(),
            "worker ready"
        );
        Ok(worker)
    }

    /// A fresh request id (unique in the pool).
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the process is still running.
    pub(crate) fn is_alive(&self) -> bool {
        !matches!(*self.lifecycle.lock().unwrap(), Lifecycle::Exited { .. })
    }

    /// Whether new work may go to it: serving, not being replaced or killed.
    pub(crate) fn accepts_work(&self) -> bool {
        self.lifecycle.lock().unwrap().accepts_work()
    }

    /// Whether its open sessions may still run (a drained worker serves its
    /// sessions until they close).
    pub(crate) fn serves_sessions(&self) -> bool {
        self.lifecycle.lock().unwrap().serves_sessions()
    }

    /// Whether it was taken out of service on purpose.
    pub(crate) fn is_retired(&self) -> bool {
        self.lifecycle.lock().unwrap().is_retired()
    }

    /// Marks it as being replaced; false when it already is, or is on its
    /// way out.
    pub(crate) fn begin_replacement(&self) -> bool {
        self.lifecycle.lock().unwrap().replace()
    }

    /// Takes it out of service: no new work; it is stopped once drained.
    pub(crate) fn drain(&self, cause: Cause) {
        self.lifecycle.lock().unwrap().drain(cause);
    }

    /// Asks a drained worker to exit (it finishes writing first).
    pub(crate) fn stop(&self) {
        if self.lifecycle.lock().unwrap().stop() {
            self.notify(&Shutdown);
        }
    }

    /// Whether it seems stuck in synchronous code: it has requests waiting
    /// and has said nothing for longer than `after` (a worker that is only
    /// waiting sends heartbeats).
    pub(crate) fn is_blocked(&self, after: Duration, now: &Reading) -> bool {
        self.connection.outstanding() > 0
            && self.connection.silent_for(now.micros()) > after.as_micros() as u64
    }

    /// Whether start deadlines hold for it (it reads the host's clock).
    pub(crate) fn keeps_deadlines(&self) -> bool {
        self.same_clock.load(Ordering::Relaxed)
    }

    /// How long it has said nothing, in µs.
    pub(crate) fn silent_for(&self) -> u64 {
        self.connection.silent_for(monotonic_micros())
    }

    /// Requests waiting for an answer.
    pub(crate) fn outstanding(&self) -> usize {
        self.connection.outstanding()
    }

    /// Requests sent so far.
    pub(crate) fn requests_sent(&self) -> u64 {
        self.connection.sent()
    }

    /// Takes back the requests it has not read and is past their start
    /// deadline; their runs go elsewhere. Returns how many.
    pub(crate) fn withdraw_unread(&self) -> usize {
        self.connection.withdraw_unread()
    }

    /// Sends a ping whose answer nobody waits for: a worker that does not
    /// answer it is then seen as blocked.
    pub(crate) fn probe(&self) {
        let id = self.next_id();
        drop(self.connection.request(id, &Ping));
    }

    /// Sends a request under a fresh id; replies arrive on the receiver.
    pub(crate) fn request<R: Request>(&self, id: u64, request: &R) -> Replies {
        self.connection.request(id, request)
    }

    /// Sends a request again under the same id (see [`Connection::resend`]).
    pub(crate) fn resend<R: Request>(&self, id: u64, request: &R, replies: ReplySender) {
        self.connection.resend(id, request, replies);
    }

    /// Sends a notification.
    pub(crate) fn notify<N: Notification>(&self, notification: &N) {
        self.connection.notify(notification);
    }

    /// Sends a request and waits for its value, ignoring logs. Errors name
    /// `name`; past `timeout` the request is cancelled.
    pub(crate) async fn ask<R: Request>(
        self: &Arc<Self>,
        request: &R,
        name: &str,
        timeout: Duration,
    ) -> Result<Box<RawValue>> {
        let id = self.next_id();
        let replies = self.request(id, request);
        let closed = || self.connection.closed_reason();
        match super::answer::answer(replies, self.pid, R::METHOD, name, timeout, closed).await {
            Some(result) => result.map(|answer| answer.json),
            None => {
                self.cancel(id, CancelReason::Timeout);
                Err(Error::Timeout { after: timeout })
            }
        }
    }

    /// Pings the worker; kills it if no answer comes within `deadline`.
    pub(crate) async fn check_health(&self, deadline: Duration) -> bool {
        let id = self.next_id();
        let mut rx = self.request(id, &Ping);
        match tokio::time::timeout(deadline, rx.recv()).await {
            Ok(Some(Reply::Done(Ok(_)))) => true,
            Ok(_) => false,
            Err(_) => {
                self.connection.forget(id);
                self.kill_for(
                    Cause::Unhealthy,
                    &format!("killed: no answer to a health ping within {deadline:?} (busy in synchronous code?)"),
                );
                false
            }
        }
    }

    /// Resolves once the process has ended.
    pub(crate) async fn exited(&self) {
        loop {
            let ended = self.ended.notified();
            if !self.is_alive() {
                return;
            }
            ended.await;
        }
    }

    /// Notes what run `request` brings besides its request: its id as its
    /// handle knows it, and its own approver.
    pub(crate) fn begin_run(
        &self,
        request: u64,
        public: u64,
        approver: Option<crate::callbacks::Approver>,
    ) {
        self.connection.begin_run(request, public, approver);
    }

    /// The calls of run `request` waiting for approval.
    pub(crate) fn pending_approvals(&self, request: u64) -> Vec<crate::callbacks::ApprovalRequest> {
        self.connection.pending_approvals(request)
    }

    /// Asks the worker to stop a run, and replaces the worker if it does not
    /// answer within the grace period (it is stuck in synchronous code).
    pub(crate) fn cancel(self: &Arc<Self>, id: u64, reason: CancelReason) {
        self.notify(&Cancel { id, reason });
        self.connection.end_calls(id);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let worker = Arc::downgrade(self);
        let grace = self.cancel_grace;
        runtime.spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(worker) = worker.upgrade() else { return };
            if worker.connection.is_waiting(id) {
                worker.kill_for(Cause::Stuck, &format!(
                    "killed: run {id} did not stop within {grace:?} of being cancelled (stuck in synchronous code)"
                ));
            }
        });
    }

    /// Whether the worker has this script compiled; records that it will.
    pub(crate) fn knows_script(&self, key: &str) -> bool {
        self.scripts.knows(key)
    }

    /// Forgets a script the worker did not keep.
    pub(crate) fn forget_script(&self, key: &str) {
        self.scripts.forget(key);
    }

    /// Its memory now and its peak (what was last read once it has ended).
    pub(crate) fn memory(&self) -> Usage {
        self.memory.usage()
    }

    /// Kills the process on request; the pool replaces it.
    pub(crate) fn kill(&self, reason: &str) {
        self.kill_for(Cause::Requested, reason);
    }

    /// Kills the process for `cause`; the pool replaces it.
    pub(crate) fn kill_for(&self, cause: Cause, reason: &str) {
        if self.lifecycle.lock().unwrap().kill(cause, reason) {
            tracing::warn!(pid = self.pid, reason, "killing worker");
            self.kill.notify_one();
        }
    }
}

async fn read_loop(worker: Arc<ProcessWorker>, socket: ReadEnd) {
    if let Err(error) = worker.connection.read(socket).await {
        worker.kill_for(Cause::Protocol, &format!("killed: {error}"));
        return;
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

/// Reads the worker's resident memory every [`SAMPLE_EVERY`] while it has
/// requests in flight, and kills it past its ceiling: the backstop for a
/// worker without a cgroup. Idle, it waits for the next request.
async fn memory_loop(worker: Arc<ProcessWorker>) {
    loop {
        while !worker.connection.is_busy() {
            // Once a burst of work is over, its peak as the kernel kept it.
            worker.memory.usage();
            tokio::select! {
                () = worker.connection.became_busy() => {}
                () = worker.exited() => return,
            }
        }
        if !worker.is_alive() {
            return;
        }
        if let Some(reason) = worker.memory.check() {
            worker.kill_for(Cause::Memory, &reason);
            return;
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

async fn stderr_loop(worker: Arc<ProcessWorker>, stderr: tokio::net::unix::pipe::Receiver) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(target: "outrigger::worker_stderr", pid = worker.pid, "{line}");
        if let Some(oom) = (worker.out_of_memory)(&line) {
            worker.ran_out.lock().unwrap().get_or_insert(oom);
        }
        let mut tail = worker.stderr_tail.lock().unwrap();
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

async fn wait_loop(
    worker: Arc<ProcessWorker>,
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
    let tail: Vec<String> = worker.stderr_tail.lock().unwrap().iter().cloned().collect();
    let (cause, retired, reason, memory) = {
        let mut lifecycle = worker.lifecycle.lock().unwrap();
        let killed = lifecycle.kill_reason().map(str::to_owned);
        // An end the host did not cause may be the kernel's or the engine's
        // answer to the memory bound.
        let memory_end = match killed {
            Some(_) => None,
            None => worker.memory.end_of(worker.ran_out.lock().unwrap().take()),
        };
        let mut reason = match killed.as_deref().or(memory_end.as_deref()) {
            Some(why) => format!("{why} ({status})"),
            None => status,
        };
        if !tail.is_empty() {
            reason.push_str("; stderr: ");
            reason.push_str(&tail.join("\n"));
        }
        let cause = lifecycle.exit(match memory_end {
            Some(_) => Cause::Memory,
            None => Cause::Crashed,
        });
        let memory = (cause == Cause::Memory).then(|| {
            memory_end
                .or(killed)
                .unwrap_or_else(|| "it went past its memory bound".into())
        });
        (cause, lifecycle.is_retired(), reason, memory)
    };
    if matches!(cause, Cause::Recycled | Cause::Requested | Cause::Idle) {
        tracing::info!(pid = worker.pid, %reason, ?cause, "worker exited");
    } else {
        tracing::warn!(pid = worker.pid, %reason, ?cause, "worker exited");
    }
    match memory {
        Some(why) => worker.connection.close_for_memory(&reason, &why),
        None => worker.connection.close(&reason),
    }
    worker.memory.release();
    worker.ended.notify_waiters();
    let _ = exits.send(Exited {
        pid: worker.pid,
        cause,
        retired,
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
