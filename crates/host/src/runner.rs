//! Starting runs and calls on a worker: what the pool, its sessions and its
//! modules share to send work (the dispatcher, request ids, the defaults).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::dispatch::{Dispatcher, Lease};
use crate::engine::Reply;
use crate::run::{run_request, Resend, RunHandle, RunLimits};
use crate::script::LoadedScript;
use crate::wire::methods::{self, Request};

/// What sessions and modules hold to start work: a handle on the pool's
/// dispatcher, not the pool itself.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) dispatcher: Arc<Dispatcher>,
    ids: Arc<AtomicU64>,
    pub(crate) defaults: RunDefaults,
}

/// The pool's defaults for runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunDefaults {
    pub(crate) timeout: Duration,
    pub(crate) max_callback_calls: u32,
}

impl Runner {
    pub(crate) fn new(
        dispatcher: Arc<Dispatcher>,
        ids: Arc<AtomicU64>,
        defaults: RunDefaults,
    ) -> Self {
        Runner {
            dispatcher,
            ids,
            defaults,
        }
    }

    /// A fresh id (unique in the pool) for a request, session or module.
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a script to the worker of `lease`; a script the worker already
    /// compiled goes by its key alone.
    pub(crate) fn start_script(
        &self,
        lease: Lease,
        script: LoadedScript,
        session: Option<u64>,
        timeout: Duration,
    ) -> RunHandle {
        let code_sent = !lease.worker().knows_script(&script.key);
        let limits = RunLimits {
            timeout,
            max_callbacks: script
                .max_callbacks
                .unwrap_or(self.defaults.max_callback_calls),
        };
        let name = script.name.clone();
        let (id, replies) = self.send(&lease, &run_request(&script, session, limits, code_sent));
        let resend = Resend {
            script,
            session,
            limits,
            code_sent,
        };
        self.handle(
            id,
            lease,
            replies,
            methods::Run::METHOD,
            name,
            timeout,
            Some(resend),
        )
    }

    /// Calls an export of a loaded module (`args`: a compact JSON array).
    pub(crate) fn start_call(
        &self,
        lease: Lease,
        handle: u64,
        export: &str,
        args: &str,
        name: String,
    ) -> RunHandle {
        let timeout = self.defaults.timeout;
        let request = methods::Call {
            handle,
            export,
            args,
            timeout,
            max_callbacks: self.defaults.max_callback_calls,
        };
        let (id, replies) = self.send(&lease, &request);
        self.handle(
            id,
            lease,
            replies,
            methods::Call::METHOD,
            name,
            timeout,
            None,
        )
    }

    /// Sends `request` under a fresh id; replies arrive on the receiver.
    fn send<R: Request>(
        &self,
        lease: &Lease,
        request: &R,
    ) -> (u64, mpsc::UnboundedReceiver<Reply>) {
        let id = self.next_id();
        (id, lease.worker().request(id, request))
    }

    #[allow(clippy::too_many_arguments)]
    fn handle(
        &self,
        id: u64,
        lease: Lease,
        replies: mpsc::UnboundedReceiver<Reply>,
        method: &str,
        name: String,
        timeout: Duration,
        resend: Option<Resend>,
    ) -> RunHandle {
        let span = tracing::info_span!("outrigger.run", run = id, worker = lease.worker().pid, method, script = %name);
        RunHandle::new(
            id,
            lease,
            replies,
            timeout,
            name,
            resend,
            self.dispatcher.counters().clone(),
            span,
        )
    }
}
