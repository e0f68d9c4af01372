//! QuickJS in process: each worker is an *engine thread* of the host with
//! one QuickJS runtime, serving the same requests a Node.js worker serves
//! (`run`, `call`, `module.load`, sessions, `ping`, `stats`), so that the
//! dispatcher, runs, sessions, modules and the supervisor treat it like any
//! worker.
//!
//! What differs is the transport: requests go to the thread through a queue
//! ([`channel`]) as their method and params (JSON text, as on the wire: the
//! values a script gets and gives are JSON either way, so `NonJson` and
//! round trips are the same as with Node), and the thread's answers, logs
//! and events come back as [`Reply`](super::Reply) values, with no framing
//! and no socket. Callbacks are polled on the engine thread itself (inside
//! the host's tokio context), so one that is ready at once costs no thread
//! switch at all ([`engine`]). The script's world is Rust host functions
//! and a small JavaScript prelude ([`world`]).
//!
//! What a thread cannot have that a process has: an address space of its
//! own. See SECURITY.md ("QuickJS in process") for what isolates its runs.

mod channel;
mod engine;
mod errors;
mod fetch;
mod host_calls;
mod memory;
mod realm;
mod run;
mod scripts;
mod values;
mod world;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, Notify};

use self::channel::Shared;
use super::connection::Reply;
use super::lifecycle::{Cause, Lifecycle};
use super::memory::Usage;
use super::replies::{channel as reply_channel, Replies, ReplySender};
use super::script_cache::ScriptCache;
use super::{Exited, WorkerConfig};
use crate::error::{Error, Result};
use crate::wire::methods::{Cancel, CancelReason, Notification, Ping, Request, Shutdown};

/// How errors name the in-process engine (there is no program).
pub(crate) const PROGRAM: &str = "QuickJS (in process)";

/// The QuickJS version the engine threads run.
pub(crate) const VERSION: &str = "quickjs-ng 0.16.2";

/// What an engine thread is started with besides the pool's `init`.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The bound on one engine's memory (its QuickJS runtime), in MiB.
    pub(crate) memory_mb: u64,
    /// The native stack of an engine thread, in bytes.
    pub(crate) stack_bytes: usize,
}

impl Launch {
    pub(crate) fn new(memory_mb: u64) -> Self {
        Launch {
            memory_mb,
            stack_bytes: 16 * 1024 * 1024,
        }
    }
}

/// One engine thread, as the host holds it.
#[derive(Debug)]
pub(crate) struct ThreadWorker {
    /// The engine thread's id (as `gettid` gives it).
    pub(crate) pid: u32,
    ids: Arc<AtomicU64>,
    shared: Arc<Shared>,
    lifecycle: Mutex<Lifecycle>,
    /// Wakes the task that waits for the thread, to give it up.
    kill: Notify,
    /// Wakes whoever waits for the thread to end.
    ended: Notify,
    scripts: ScriptCache,
    cancel_grace: Duration,
    /// The thread, joined once it has said it ends.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ThreadWorker {
    /// Starts an engine thread and waits until it has answered `init`.
    pub(crate) async fn start(
        config: &WorkerConfig,
        launch: &Launch,
        ids: Arc<AtomicU64>,
        exits: mpsc::UnboundedSender<Exited>,
    ) -> Result<Arc<ThreadWorker>> {
        let spawn_error = |message: String| Error::Spawn {
            program: PROGRAM.into(),
            message,
        };
        let shared = Arc::new(Shared::new(config.max_message_bytes));
        let (ended_tx, ended_rx) = oneshot::channel();
        let (tid_tx, tid_rx) = oneshot::channel();
        let settings = engine::Settings {
            shared: shared.clone(),
            registry: config.registry.clone(),
            memory_mb: launch.memory_mb,
            handle: tokio::runtime::Handle::current(),
        };
        let thread = std::thread::Builder::new()
            .name("outrigger-quickjs".into())
            .stack_size(launch.stack_bytes)
            .spawn(move || engine::thread_main(settings, tid_tx, ended_tx))
            .map_err(|e| spawn_error(format!("cannot start an engine thread: {e}")))?;
        let pid = tid_rx
            .await
            .map_err(|_| spawn_error("the engine thread ended during start-up".into()))?;
        let worker = Arc::new(ThreadWorker {
            pid,
            ids,
            shared,
            lifecycle: Mutex::new(Lifecycle::Serving),
            kill: Notify::new(),
            ended: Notify::new(),
            scripts: ScriptCache::new(config.script_cache_size),
            cancel_grace: config.cancel_grace,
            thread: Mutex::new(Some(thread)),
        });
        tokio::spawn(wait_loop(worker.clone(), ended_rx, exits));
        if let Err(error) = worker
            .ask(&config.init, "init", config.startup_timeout)
            .await
        {
            worker.kill("start-up failed");
            return Err(spawn_error(format!("start-up failed: {error}")));
        }
        tracing::info!(tid = pid, engine = VERSION, "engine thread ready");
        Ok(worker)
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_alive(&self) -> bool {
        !matches!(*self.lifecycle.lock().unwrap(), Lifecycle::Exited { .. })
    }

    pub(crate) fn accepts_work(&self) -> bool {
        self.lifecycle.lock().unwrap().accepts_work()
    }

    pub(crate) fn serves_sessions(&self) -> bool {
        self.lifecycle.lock().unwrap().serves_sessions()
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.lifecycle.lock().unwrap().is_retired()
    }

    pub(crate) fn begin_replacement(&self) -> bool {
        self.lifecycle.lock().unwrap().replace()
    }

    pub(crate) fn drain(&self, cause: Cause) {
        self.lifecycle.lock().unwrap().drain(cause);
    }

    pub(crate) fn stop(&self) {
        if self.lifecycle.lock().unwrap().stop() {
            self.notify(&Shutdown);
        }
    }

    /// Whether it has requests waiting and has not come back to its loop
    /// for longer than `after`: a synchronous slice of JavaScript holds it.
    pub(crate) fn is_blocked(&self, after: Duration, now: &super::Reading) -> bool {
        self.shared.outstanding() > 0
            && self.shared.silent_for(now.micros()) > after.as_micros() as u64
    }

    /// Whether it is parked with nothing to do.
    pub(crate) fn is_idle(&self) -> bool {
        self.shared.is_parked()
    }

    /// Start deadlines hold: the host takes a request back from the queue
    /// itself, and the thread refuses one it takes too late.
    pub(crate) fn keeps_deadlines(&self) -> bool {
        true
    }

    pub(crate) fn silent_for(&self) -> u64 {
        self.shared.silent_for(super::monotonic_micros())
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.shared.outstanding()
    }

    pub(crate) fn requests_sent(&self) -> u64 {
        self.shared.sent()
    }

    pub(crate) fn withdraw_unread(&self) -> usize {
        self.shared.withdraw_unread()
    }

    pub(crate) fn probe(&self) {
        let id = self.next_id();
        drop(self.request(id, &Ping));
    }

    pub(crate) fn request<R: Request>(&self, id: u64, request: &R) -> Replies {
        let (tx, rx) = reply_channel();
        self.shared.request(id, request, tx);
        rx
    }

    pub(crate) fn resend<R: Request>(&self, id: u64, request: &R, replies: ReplySender) {
        self.shared.request(id, request, replies);
    }

    pub(crate) fn notify<N: Notification>(&self, notification: &N) {
        self.shared.notify(notification);
    }

    /// Sends a request and waits for its value, ignoring logs.
    pub(crate) async fn ask<R: Request>(
        self: &Arc<Self>,
        request: &R,
        name: &str,
        timeout: Duration,
    ) -> Result<Box<RawValue>> {
        let id = self.next_id();
        let replies = self.request(id, request);
        let closed = || self.shared.closed_reason();
        match super::answer::answer(replies, self.pid, R::METHOD, name, timeout, closed).await {
            Some(result) => result.map(|answer| answer.json),
            None => {
                self.cancel(id, CancelReason::Timeout);
                Err(Error::Timeout { after: timeout })
            }
        }
    }

    /// Pings the thread; gives it up if no answer comes within `deadline`
    /// (its loop is held by something its interrupt cannot stop).
    pub(crate) async fn check_health(&self, deadline: Duration) -> bool {
        let id = self.next_id();
        let mut rx = self.request(id, &Ping);
        match tokio::time::timeout(deadline, rx.recv()).await {
            Ok(Some(Reply::Done(Ok(_)))) => true,
            Ok(_) => false,
            Err(_) => {
                self.shared.forget(id);
                self.kill_for(
                    Cause::Unhealthy,
                    &format!("given up: no answer to a health ping within {deadline:?}"),
                );
                false
            }
        }
    }

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
        self.shared.begin_run(request, public, approver);
    }

    /// The calls of run `request` waiting for approval.
    pub(crate) fn pending_approvals(&self, request: u64) -> Vec<crate::callbacks::ApprovalRequest> {
        self.shared.pending_approvals(request)
    }

    /// Stops a run: the thread's interrupt handler ends its synchronous
    /// code at once, and the run's awaits with it. A thread that still has
    /// not answered after the grace period is held by native code (a
    /// callback that blocks) and is given up.
    pub(crate) fn cancel(self: &Arc<Self>, id: u64, reason: CancelReason) {
        self.shared.cancel(id);
        self.notify(&Cancel { id, reason });
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let worker = Arc::downgrade(self);
        let grace = self.cancel_grace;
        runtime.spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(worker) = worker.upgrade() else { return };
            if worker.shared.is_waiting(id) {
                worker.kill_for(
                    Cause::Stuck,
                    &format!("given up: run {id} did not stop within {grace:?} of being cancelled (held by native code)"),
                );
            }
        });
    }

    pub(crate) fn knows_script(&self, key: &str) -> bool {
        self.scripts.knows(key)
    }

    pub(crate) fn forget_script(&self, key: &str) {
        self.scripts.forget(key);
    }

    /// Its QuickJS runtime's memory, as last measured (at each ping and
    /// `stats`), and the most measured.
    pub(crate) fn memory(&self) -> Usage {
        self.shared.memory()
    }

    pub(crate) fn kill(&self, reason: &str) {
        self.kill_for(Cause::Requested, reason);
    }

    /// Ends the thread: its interrupt handler stops whatever JavaScript
    /// runs, its loop ends and its runtime is freed. Its requests end with
    /// `WorkerExited` at once.
    pub(crate) fn kill_for(&self, cause: Cause, reason: &str) {
        if self.lifecycle.lock().unwrap().kill(cause, reason) {
            tracing::warn!(tid = self.pid, reason, "ending engine thread");
            self.shared.kill();
            self.kill.notify_one();
        }
    }
}

/// Waits for the thread to end, or for it to be killed (then for it to end
/// within a moment, else gives it up), and tells everyone.
async fn wait_loop(
    worker: Arc<ThreadWorker>,
    ended: oneshot::Receiver<String>,
    exits: mpsc::UnboundedSender<Exited>,
) {
    let mut ended = ended;
    let how = tokio::select! {
        how = &mut ended => Some(how.unwrap_or_else(|_| "the engine thread ended".into())),
        () = worker.kill.notified() => {
            tokio::time::timeout(Duration::from_secs(1), &mut ended)
                .await
                .ok()
                .map(|how| how.unwrap_or_else(|_| "the engine thread ended".into()))
        }
    };
    let how = match how {
        Some(how) => {
            // It has said its last word: wait for it to be gone.
            let thread = worker.thread.lock().unwrap().take();
            if let Some(thread) = thread {
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::task::spawn_blocking(move || thread.join()),
                )
                .await;
            }
            how
        }
        None => "the engine thread did not come back from native code and was given up".into(),
    };
    let (cause, retired, reason) = {
        let mut lifecycle = worker.lifecycle.lock().unwrap();
        let reason = match lifecycle.kill_reason() {
            Some(why) => format!("{why} ({how})"),
            None => how,
        };
        let cause = lifecycle.exit(Cause::Crashed);
        (cause, lifecycle.is_retired(), reason)
    };
    if matches!(cause, Cause::Recycled | Cause::Requested | Cause::Idle) {
        tracing::info!(tid = worker.pid, %reason, ?cause, "engine thread ended");
    } else {
        tracing::warn!(tid = worker.pid, %reason, ?cause, "engine thread ended");
    }
    worker.shared.close(worker.pid, &reason);
    worker.ended.notify_waiters();
    let _ = exits.send(Exited {
        pid: worker.pid,
        cause,
        retired,
    });
}
