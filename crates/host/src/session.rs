//! Sessions: one context on one worker, kept across runs.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::dispatch::Member;
use crate::error::{Error, Result};
use crate::module::{JsModule, ModuleSpec};
use crate::output::Output;
use crate::paths::read_module_file;
use crate::run::RunHandle;
use crate::runner::Runner;
use crate::script::{LoadedScript, Script};
use crate::wire::methods::{SessionClose, SessionOpen};

/// A context that lives across runs: what one run sets on `globalThis`, the
/// next one sees. Pinned to one worker; if that worker dies, the session's
/// state is gone and its runs fail with [`Error::WorkerExited`].
///
/// Dropping the session closes its context.
///
/// ```no_run
/// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
/// let session = pool.session().await?;
/// session.eval::<i64>("globalThis.count = 1").await?;
/// let count: i64 = session.eval("++count").await?;
/// assert_eq!(count, 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Session {
    runner: Runner,
    member: Arc<Member>,
    id: u64,
    closed: bool,
}

impl Session {
    /// Opens a session on the least busy worker. Its packages and relative
    /// imports resolve from `project` (an absolute directory) when given,
    /// else from the pool's project.
    pub(crate) async fn open(runner: Runner, project: Option<String>) -> Result<Session> {
        let member = {
            // Wait for capacity like a run would, then pin to that worker.
            let lease = runner.dispatcher.acquire().await?;
            lease.member().clone()
        };
        let id = runner.next_id();
        member
            .worker
            .ask(
                &SessionOpen {
                    session: id,
                    project: project.as_deref(),
                },
                "session",
                runner.defaults.timeout,
            )
            .await?;
        member.open_session();
        tracing::debug!(session = id, worker = member.worker.pid, "session opened");
        Ok(Session {
            runner,
            member,
            id,
            closed: false,
        })
    }

    /// The session's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Evaluates an expression in the session's context.
    pub async fn eval<T: DeserializeOwned>(&self, code: &str) -> Result<T> {
        let loaded = LoadedScript::expression(code);
        self.check_alive()?;
        let lease = self.runner.dispatcher.claim(&self.member)?;
        let mut handle =
            self.runner
                .start_script(lease, loaded, Some(self.id), self.runner.defaults.timeout);
        let raw = handle.finish().await?;
        raw.read().map_err(Error::Deserialize)
    }

    /// Runs a script in the session's context.
    pub async fn run(&self, script: Script) -> Result<Output> {
        self.start(script).await?.output().await
    }

    /// Starts a script in the session's context; see [`Pool::start`](crate::Pool::start).
    pub async fn start(&self, script: Script) -> Result<RunHandle> {
        let timeout = script.timeout_or(self.runner.defaults.timeout);
        let loaded = self.runner.load(&script).await?;
        self.check_alive()?;
        let lease = self.runner.dispatcher.claim(&self.member)?;
        Ok(self
            .runner
            .start_script(lease, loaded, Some(self.id), timeout))
    }

    /// Loads an ES module into the session's context and returns a handle to
    /// call its exports. The module sees the session's globals.
    pub async fn load_module(
        &self,
        name: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<JsModule> {
        self.check_alive()?;
        let spec = ModuleSpec::new(self.runner.next_id(), name.into(), source.into(), None);
        JsModule::load_into_session(self.runner.clone(), self.member.clone(), self.id, spec).await
    }

    /// Loads an ES module file into the session's context, with its own
    /// relative imports and the session's project packages; see
    /// [`Pool::load_module_file`](crate::Pool::load_module_file).
    pub async fn load_module_file(&self, path: impl AsRef<std::path::Path>) -> Result<JsModule> {
        self.check_alive()?;
        let module = read_module_file(path.as_ref()).await?;
        let spec = ModuleSpec::new(
            self.runner.next_id(),
            module.name,
            module.code,
            Some(module.file),
        );
        JsModule::load_into_session(self.runner.clone(), self.member.clone(), self.id, spec).await
    }

    /// Closes the session's context.
    pub async fn close(mut self) {
        self.close_now();
    }

    fn close_now(&mut self) {
        if !self.closed {
            self.closed = true;
            self.member
                .worker
                .notify(&SessionClose { session: self.id });
            self.member.close_session();
            self.runner.dispatcher.stop_if_drained(&self.member);
            tracing::debug!(session = self.id, "session closed");
        }
    }

    fn check_alive(&self) -> Result<()> {
        if self.member.worker.serves_sessions() {
            Ok(())
        } else {
            Err(Error::WorkerExited {
                pid: self.member.worker.pid,
                reason: "the session's worker exited and its state is lost; open a new session"
                    .into(),
            })
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close_now();
    }
}
