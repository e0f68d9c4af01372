//! Sessions: one context on one worker, kept across runs.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::module::JsModule;
use crate::pool::Pool;
use crate::run::RunHandle;
use crate::script::{Output, Script};
use crate::worker::Worker;

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
    pool: Pool,
    worker: Arc<Worker>,
    id: u64,
    closed: bool,
}

impl Session {
    pub(crate) async fn open(pool: Pool) -> Result<Session> {
        Self::open_in(pool, None).await
    }

    /// Opens a session whose packages and relative imports resolve from
    /// `project` (an absolute directory) instead of the pool's project.
    pub(crate) async fn open_in(pool: Pool, project: Option<String>) -> Result<Session> {
        let worker = {
            // Wait for capacity like a run would, then pin to that worker.
            let slot = pool.inner.acquire().await?;
            slot.worker().clone()
        };
        let id = worker.next_id();
        worker
            .request_value(
                "session.open",
                &open_params(id, project.as_deref()),
                "session",
                pool.inner.timeout,
            )
            .await?;
        worker
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tracing::debug!(session = id, worker = worker.pid, "session opened");
        Ok(Session {
            pool,
            worker,
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
        let mut handle = self.start(Script::expression(code)).await?;
        let raw = handle.finish().await?;
        serde_json::from_str(raw.get()).map_err(Error::Deserialize)
    }

    /// Runs a script in the session's context.
    pub async fn run(&self, script: Script) -> Result<Output> {
        self.start(script).await?.output().await
    }

    /// Starts a script in the session's context; see [`Pool::start`].
    pub async fn start(&self, script: Script) -> Result<RunHandle> {
        let timeout = script.timeout_or(self.pool.inner.timeout);
        let loaded = script.load().await?;
        self.check_alive()?;
        let slot = self.pool.inner.claim(&self.worker)?;
        Ok(self.pool.inner.launch(slot, loaded, Some(self.id), timeout))
    }

    /// Loads an ES module into the session's context and returns a handle to
    /// call its exports. The module sees the session's globals.
    pub async fn load_module(
        &self,
        name: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<JsModule> {
        self.check_alive()?;
        JsModule::load_into_session(
            self.pool.clone(),
            self.worker.clone(),
            self.id,
            name.into(),
            source.into(),
            None,
        )
        .await
    }

    /// Loads an ES module file into the session's context, with its own
    /// relative imports and the session's project packages; see
    /// [`Pool::load_module_file`].
    pub async fn load_module_file(&self, path: impl AsRef<std::path::Path>) -> Result<JsModule> {
        self.check_alive()?;
        let (name, code, file) = crate::project::read_module_file(path.as_ref()).await?;
        JsModule::load_into_session(
            self.pool.clone(),
            self.worker.clone(),
            self.id,
            name,
            code,
            Some(file),
        )
        .await
    }

    /// Closes the session's context.
    pub async fn close(mut self) {
        self.close_now();
    }

    fn close_now(&mut self) {
        if !self.closed {
            self.closed = true;
            self.worker
                .notify("session.close", &session_params(self.id));
            self.worker
                .sessions
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            self.pool.inner.stop_if_drained(&self.worker);
            tracing::debug!(session = self.id, "session closed");
        }
    }

    fn check_alive(&self) -> Result<()> {
        if self.worker.serves_sessions() {
            Ok(())
        } else {
            Err(Error::WorkerExited {
                pid: self.worker.pid,
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

fn open_params(id: u64, project: Option<&str>) -> String {
    match project {
        Some(dir) => format!(
            r#"{{"session":{id},"project":{}}}"#,
            crate::protocol::json_string(dir)
        ),
        None => session_params(id),
    }
}

pub(crate) fn session_params(id: u64) -> String {
    format!(r#"{{"session":{id}}}"#)
}
