//! Starting runs and calls on a worker: what the pool, its sessions and its
//! modules share to send work (the dispatcher, request ids, the defaults).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::checker::Checker;
use crate::diagnostic::Diagnostic;
use crate::dispatch::{Dispatcher, Lease};
use crate::error::{Error, Result};
use crate::outgoing::{Outgoing, RunLimits};
use crate::run::{RunHandle, RunHome};
use crate::script::{LoadedScript, Script};

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
    /// The type checker of TypeScript scripts.
    pub(crate) checker: Arc<Checker>,
}

/// The pool's defaults for runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunDefaults {
    pub(crate) timeout: Duration,
    pub(crate) max_callback_calls: u32,
    /// Whether TypeScript scripts are type-checked before they run.
    pub(crate) typecheck: bool,
}

impl Runner {
    pub(crate) fn new(
        dispatcher: Arc<Dispatcher>,
        ids: Arc<AtomicU64>,
        defaults: RunDefaults,
        checker: Arc<Checker>,
    ) -> Self {
        Runner {
            checker,
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

    /// The diagnostics of a TypeScript script (none for JavaScript).
    pub(crate) async fn check(&self, script: &Script) -> Result<Vec<Diagnostic>> {
        if !script.is_typescript() {
            return Ok(Vec::new());
        }
        let (name, code) = script.source().await?;
        self.checker
            .check(&name, &code, script.file().as_deref())
            .await
    }

    /// Loads `script`, type-checking it first when it asks to be (or the
    /// pool's default says so): a script that does not check never runs.
    pub(crate) async fn load(&self, script: &Script) -> Result<LoadedScript> {
        if script.is_typescript() && script.typecheck_or(self.defaults.typecheck) {
            let mut diagnostics = self.check(script).await?;
            if diagnostics.iter().any(Diagnostic::is_error) {
                diagnostics.sort_by_key(|d| !d.is_error());
                return Err(Error::Type { diagnostics });
            }
        }
        script.load().await
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

    /// Calls an export of a loaded module (`args`: a compact JSON array and
    /// the frames of its binary values); `pinned` when the module lives in a
    /// session's context.
    pub(crate) fn start_call(
        &self,
        lease: Lease,
        handle: u64,
        export: &str,
        args: (String, Vec<bytes::Bytes>),
        pinned: bool,
        name: String,
    ) -> RunHandle {
        let limits = RunLimits {
            timeout: self.defaults.timeout,
            max_callbacks: self.defaults.max_callback_calls,
        };
        let outgoing = Outgoing::call(handle, export, args, pinned, limits);
        RunHandle::start(
            &self.home,
            lease,
            outgoing,
            limits.timeout,
            name.into(),
            None,
        )
    }
}
