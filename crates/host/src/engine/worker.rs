//! A worker as the pool sees it: one engine process, or one engine thread
//! of the host (QuickJS, in process). The dispatcher, runs, sessions,
//! modules and the supervisor hold `Arc<Worker>` and never ask which: every
//! operation they use is here, and each kind answers it its own way (a
//! process over its channel, a thread through its queue).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::lifecycle::Cause;
use super::memory::Usage;
use super::process::ProcessWorker;
#[cfg(feature = "quickjs")]
use super::quickjs::ThreadWorker;
use super::replies::{Replies, ReplySender};
use super::{EngineInfo, Launch, Reading, WorkerConfig};
use crate::error::{Error, Result};
use crate::wire::methods::{CancelReason, Notification, Request, Stats};
use crate::wire::WorkerStats;

/// Told to the pool when a worker has ended.
#[derive(Debug)]
pub(crate) struct Exited {
    pub(crate) pid: u32,
    pub(crate) cause: Cause,
    /// It had been drained on purpose: its replacement already serves.
    pub(crate) retired: bool,
}

/// A worker of the pool.
#[derive(Debug)]
pub(crate) struct Worker {
    /// The process id, or for an engine thread its thread id: unique among
    /// the pool's live workers.
    pub(crate) pid: u32,
    /// The engine it runs, and that engine's version as the worker reported it.
    pub(crate) engine: EngineInfo,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Process(Arc<ProcessWorker>),
    #[cfg(feature = "quickjs")]
    Thread(Arc<ThreadWorker>),
}

/// Calls the same method on whichever kind of worker it is.
macro_rules! each {
    ($self:ident, $worker:ident => $call:expr) => {
        match &$self.body {
            Body::Process($worker) => $call,
            #[cfg(feature = "quickjs")]
            Body::Thread($worker) => $call,
        }
    };
}

impl Worker {
    /// Starts a worker of the engine `config` names and waits until it
    /// serves. Request ids come from `ids` (shared by the pool); `exits`
    /// hears when it ends.
    pub(crate) async fn start(
        config: &WorkerConfig,
        ids: Arc<AtomicU64>,
        exits: mpsc::UnboundedSender<Exited>,
    ) -> Result<Arc<Worker>> {
        let body = match &config.launch {
            Launch::Process(launch) => {
                Body::Process(ProcessWorker::start(config, launch, ids, exits).await?)
            }
            #[cfg(feature = "quickjs")]
            Launch::InProcess(launch) => {
                Body::Thread(ThreadWorker::start(config, launch, ids, exits).await?)
            }
        };
        let (pid, engine) = match (&body, &config.launch) {
            (Body::Process(worker), Launch::Process(launch)) => (
                worker.pid,
                EngineInfo::new(
                    launch.engine,
                    worker.version.get().cloned().unwrap_or_default(),
                ),
            ),
            #[cfg(feature = "quickjs")]
            (Body::Thread(worker), _) => (
                worker.pid,
                EngineInfo::new(super::Engine::QuickJs, super::quickjs::VERSION.to_owned()),
            ),
            #[cfg(feature = "quickjs")]
            (Body::Process(_), Launch::InProcess(_)) => {
                unreachable!("a process is started only from a process launch")
            }
        };
        Ok(Arc::new(Worker { pid, engine, body }))
    }

    /// Whether it still runs (its process or thread has not ended).
    pub(crate) fn is_alive(&self) -> bool {
        each!(self, w => w.is_alive())
    }

    /// Whether new work may go to it: serving, not being replaced or killed.
    pub(crate) fn accepts_work(&self) -> bool {
        each!(self, w => w.accepts_work())
    }

    /// Whether its open sessions may still run.
    pub(crate) fn serves_sessions(&self) -> bool {
        each!(self, w => w.serves_sessions())
    }

    /// Whether it was taken out of service on purpose.
    pub(crate) fn is_retired(&self) -> bool {
        each!(self, w => w.is_retired())
    }

    /// Marks it as being replaced; false when it already is, or is on its
    /// way out.
    pub(crate) fn begin_replacement(&self) -> bool {
        each!(self, w => w.begin_replacement())
    }

    /// Takes it out of service: no new work; it is stopped once drained.
    pub(crate) fn drain(&self, cause: Cause) {
        each!(self, w => w.drain(cause))
    }

    /// Asks a drained worker to end.
    pub(crate) fn stop(&self) {
        each!(self, w => w.stop())
    }

    /// Whether it seems stuck in synchronous code (see
    /// [`PoolBuilder::blocked_after`](crate::PoolBuilder::blocked_after)).
    pub(crate) fn is_blocked(&self, after: Duration, now: &Reading) -> bool {
        each!(self, w => w.is_blocked(after, now))
    }

    /// Whether it would start a run at once: a process, or an engine thread
    /// parked with nothing to do (not busy preparing a spare context).
    pub(crate) fn is_idle(&self) -> bool {
        match &self.body {
            Body::Process(_) => true,
            #[cfg(feature = "quickjs")]
            Body::Thread(worker) => worker.is_idle(),
        }
    }

    /// Whether start deadlines hold for it.
    pub(crate) fn keeps_deadlines(&self) -> bool {
        each!(self, w => w.keeps_deadlines())
    }

    /// How long it has said nothing, in µs.
    pub(crate) fn silent_for(&self) -> u64 {
        each!(self, w => w.silent_for())
    }

    /// Requests waiting for an answer.
    pub(crate) fn outstanding(&self) -> usize {
        each!(self, w => w.outstanding())
    }

    /// Requests sent so far.
    pub(crate) fn requests_sent(&self) -> u64 {
        each!(self, w => w.requests_sent())
    }

    /// Takes back the requests it has not read and is past their start
    /// deadline; their runs go elsewhere. Returns how many.
    pub(crate) fn withdraw_unread(&self) -> usize {
        each!(self, w => w.withdraw_unread())
    }

    /// Sends a ping whose answer nobody waits for.
    pub(crate) fn probe(&self) {
        each!(self, w => w.probe())
    }

    /// Sends a request under `id`; replies arrive on the receiver.
    pub(crate) fn request<R: Request>(&self, id: u64, request: &R) -> Replies {
        each!(self, w => w.request(id, request))
    }

    /// Sends a request again under the same id, its replies to `replies`.
    pub(crate) fn resend<R: Request>(&self, id: u64, request: &R, replies: ReplySender) {
        each!(self, w => w.resend(id, request, replies))
    }

    /// Sends a notification.
    pub(crate) fn notify<N: Notification>(&self, notification: &N) {
        each!(self, w => w.notify(notification))
    }

    /// Sends a request and waits for its value, ignoring logs. Errors name
    /// `name`; past `timeout` the request is cancelled.
    pub(crate) async fn ask<R: Request>(
        &self,
        request: &R,
        name: &str,
        timeout: Duration,
    ) -> Result<Box<RawValue>> {
        each!(self, w => w.ask(request, name, timeout).await)
    }

    /// Pings it; kills it if no answer comes within `deadline`.
    pub(crate) async fn check_health(&self, deadline: Duration) -> bool {
        each!(self, w => w.check_health(deadline).await)
    }

    /// Its own counters.
    pub(crate) async fn stats(&self, timeout: Duration) -> Result<WorkerStats> {
        let raw = each!(self, w => w.ask(&Stats, "stats", timeout).await)?;
        let mut stats: WorkerStats = serde_json::from_str(raw.get())
            .map_err(|e| Error::Protocol(format!("malformed stats answer: {e}")))?;
        stats.pid = self.pid;
        Ok(stats)
    }

    /// Resolves once it has ended.
    pub(crate) async fn exited(&self) {
        each!(self, w => w.exited().await)
    }

    /// Notes what run `request` brings besides its request: its id as its
    /// handle knows it, and its own approver.
    pub(crate) fn begin_run(
        &self,
        request: u64,
        public: u64,
        approver: Option<crate::callbacks::Approver>,
    ) {
        each!(self, w => w.begin_run(request, public, approver))
    }

    /// The calls of run `request` waiting for approval.
    pub(crate) fn pending_approvals(&self, request: u64) -> Vec<crate::callbacks::ApprovalRequest> {
        each!(self, w => w.pending_approvals(request))
    }

    /// Stops a run; a worker that cannot is replaced.
    pub(crate) fn cancel(&self, id: u64, reason: CancelReason) {
        each!(self, w => w.cancel(id, reason))
    }

    /// Whether it has this script compiled; records that it will.
    pub(crate) fn knows_script(&self, key: &str) -> bool {
        each!(self, w => w.knows_script(key))
    }

    /// Forgets a script it did not keep.
    pub(crate) fn forget_script(&self, key: &str) {
        each!(self, w => w.forget_script(key))
    }

    /// Its memory now and its peak.
    pub(crate) fn memory(&self) -> Usage {
        each!(self, w => w.memory())
    }

    /// Ends it on request; the pool replaces it.
    pub(crate) fn kill(&self, reason: &str) {
        each!(self, w => w.kill(reason))
    }

    /// Ends it for `cause`; the pool replaces it.
    pub(crate) fn kill_for(&self, cause: Cause, reason: &str) {
        each!(self, w => w.kill_for(cause, reason))
    }
}
