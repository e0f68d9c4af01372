//! Starting runs and calls on a worker: what the pool, its sessions and its
//! modules share to send work (the dispatcher, request ids, the defaults).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::dispatch::{Dispatcher, Lease};
use crate::outgoing::{Outgoing, RunLimits};
use crate::run::{RunHandle, RunHome};
use crate::script::LoadedScript;

/// What sessions and modules hold to start work: a handle on the pool's
/// dispatcher, not the pool itself.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) dispatcher: Arc<Dispatcher>,
    ids: Arc<AtomicU64>,
    pub(crate) defaults: RunDefaults,
    /// What its runs share (ids, dispatcher, the runs whose handles were
    /// let go of: `RunHandle::detach`).
    pub(crate) home: RunHome,
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
            home: RunHome {
                ids: ids.clone(),
                dispatcher: dispatcher.clone(),
                detached: Arc::default(),
            },
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
        let limits = RunLimits {
            timeout,
            max_callbacks: script
                .max_callbacks
                .unwrap_or(self.defaults.max_callback_calls),
        };
        let name = script.name.clone();
        let approver = script.approver.clone();
        let outgoing = Outgoing::script(script, session, limits);
        RunHandle::start(&self.home, lease, outgoing, timeout, name, approver)
    }

    /// Calls an export of a loaded module (`args`: a compact JSON array);
    /// `pinned` when the module lives in a session's context.
    pub(crate) fn start_call(
        &self,
        lease: Lease,
        handle: u64,
        export: &str,
        args: String,
        pinned: bool,
        name: String,
    ) -> RunHandle {
        let limits = RunLimits {
            timeout: self.defaults.timeout,
            max_callbacks: self.defaults.max_callback_calls,
        };
        let outgoing = Outgoing::call(handle, export, args, pinned, limits);
        RunHandle::start(&self.home, lease, outgoing, limits.timeout, name, None)
    }
}
