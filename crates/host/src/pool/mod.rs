//! The pool: the facade users hold. Building it is in [`builder`], keeping
//! its workers coming in [`supervisor`]; where runs go is the dispatcher's
//! job (`crate::dispatch`), and starting them the runner's (`crate::runner`).

mod builder;
mod code_mode;
mod supervisor;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

pub use builder::{Isolation, PoolBuilder};

use crate::declarations::{Declarations, ToolFormat};
use crate::dispatch::Stats;
use crate::engine::Cause;
use crate::error::{Error, Result};
use crate::module::{JsModule, ModuleRegistry, ModuleSpec};
use crate::output::Output;
use crate::paths::{absolute_dir, read_module_file};
use crate::run::RunHandle;
use crate::runner::Runner;
use crate::script::{LoadedScript, Script};
use crate::session::Session;
use crate::wire::methods::Ping;
use crate::wire::WorkerStats;

/// A warm pool of engine processes that runs JavaScript.
///
/// Cheap to clone: clones share the workers. Dropping the last clone kills
/// the workers; [`Pool::shutdown`] stops them gracefully.
///
/// ```no_run
/// # async fn demo() -> outrigger_host::Result<()> {
/// use std::time::Duration;
/// let pool = outrigger_host::Pool::builder().workers(2).timeout(Duration::from_secs(5)).build().await?;
/// let four: i64 = pool.eval("2 + 2").await?;
/// assert_eq!(four, 4);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    runner: Runner,
    modules: Arc<ModuleRegistry>,
    declarations: Declarations,
    typescript: String,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Pool {
    /// A builder with working defaults.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    fn timeout(&self) -> Duration {
        self.inner.runner.defaults.timeout
    }

    /// Evaluates an expression and deserializes its value (promises are
    /// awaited). Console output goes to `tracing` only; use [`Pool::run`] to
    /// get it.
    pub async fn eval<T: DeserializeOwned>(&self, code: &str) -> Result<T> {
        let loaded = LoadedScript::expression(code);
        let lease = self.runner().dispatcher.acquire().await?;
        let mut handle = self
            .runner()
            .start_script(lease, loaded, None, self.timeout());
        let raw = handle.finish().await?;
        raw.read().map_err(Error::Deserialize)
    }

    /// Runs a script to its end and returns its value, logs and events.
    /// A script marked [`Script::retry_on_worker_exit`] is run again when its
    /// worker dies under it.
    pub async fn run(&self, script: Script) -> Result<Output> {
        let mut retries = script.retries();
        loop {
            match self.start(script.clone()).await?.output().await {
                Err(Error::WorkerExited { pid, reason }) if retries > 0 => {
                    retries -= 1;
                    tracing::info!(pid, %reason, retries_left = retries, "worker exited under an idempotent run; running it again");
                }
                outcome => return outcome,
            }
        }
    }

    /// Starts a script and returns a handle whose events arrive before its
    /// result.
    pub async fn start(&self, script: Script) -> Result<RunHandle> {
        let timeout = script.timeout_or(self.timeout());
        let loaded = self.runner().load(&script).await?;
        let lease = self.runner().dispatcher.acquire().await?;
        Ok(self.runner().start_script(lease, loaded, None, timeout))
    }

    /// Type-checks a TypeScript script without running it: its diagnostics
    /// (empty when it checks; always empty for JavaScript), against the
    /// pool's host API (every callback and tool, as [`Pool::typescript`]
    /// declares them), the script world's globals (`console`, `fetch`,
    /// timers, `host`, `signal`, ...), the registered modules and the
    /// project's packages' own types where they ship them. Each
    /// [`Diagnostic`](crate::Diagnostic) has file, line, column, code and
    /// message, and prints as `tsc` prints it. The compiler is the real
    /// TypeScript, kept warm; it is found in the project's `node_modules`
    /// (or [`PoolBuilder::typescript_compiler`](crate::PoolBuilder::typescript_compiler));
    /// missing, this is an [`Error::Spawn`] saying how to install it.
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// use outrigger_host::Script;
    /// let diagnostics = pool.check(&Script::typescript("const n: number = 'one';")).await?;
    /// for d in &diagnostics {
    ///     println!("{d}"); // module.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, script: &Script) -> Result<Vec<crate::Diagnostic>> {
        self.runner().check(script).await
    }

    /// Takes back the handle of a run let go of with
    /// [`RunHandle::detach`] (from another task, a later turn of an agent):
    /// `None` when no detached run has that id, or its handle was taken
    /// already. The run went on meanwhile; its logs and events are on the
    /// handle, and [`RunHandle::output`] gives its result.
    pub async fn run_handle(&self, id: u64) -> Option<RunHandle> {
        self.runner().home.detached.take(id).await
    }

    /// Opens a session: one context on one worker, kept across runs.
    pub async fn session(&self) -> Result<Session> {
        Session::open(self.runner().clone(), None).await
    }

    /// Opens a session whose scripts import packages and relative paths
    /// from `dir` (a directory with a `package.json` and `node_modules`)
    /// rather than from the pool's [`project`](crate::PoolBuilder::project).
    /// The pool's preloads and built-in allowlist apply.
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// let session = pool.session_in("/srv/tenant-a").await?;
    /// let out = session.run(outrigger_host::Script::module(
    ///     "import dayjs from 'dayjs'; export default dayjs('2024-01-02').format('DD/MM');",
    /// )).await?;
    /// # Ok(()) }
    /// ```
    pub async fn session_in(&self, dir: impl AsRef<Path>) -> Result<Session> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::InvalidInput(format!(
                "project directory {} does not exist or is not a directory",
                dir.display()
            )));
        }
        Session::open(self.runner().clone(), Some(absolute_dir(dir))).await
    }

    /// Loads an ES module into every worker, once, and returns a handle to
    /// call its exported functions with JSON arguments. The module keeps its
    /// state between calls (on each worker).
    pub async fn load_module(
        &self,
        name: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<JsModule> {
        let spec = ModuleSpec::new(self.runner().next_id(), name.into(), source.into(), None);
        JsModule::load_into_pool(self.runner().clone(), self.inner.modules.clone(), spec).await
    }

    /// Loads an ES module file into every worker (a project's entry point,
    /// say) and returns a handle to call its exported functions, as
    /// [`Pool::load_module`] does for a string. The file's relative imports
    /// resolve from its own directory; bare names from the `node_modules`
    /// above it (Node's rules).
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// let app = pool.load_module_file("project/main.mjs").await?;
    /// let summary: serde_json::Value = app.call("summary", ()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn load_module_file(&self, path: impl AsRef<Path>) -> Result<JsModule> {
        let module = read_module_file(path.as_ref()).await?;
        let spec = ModuleSpec::new(
            self.runner().next_id(),
            module.name,
            module.code,
            Some(module.file),
        );
        JsModule::load_into_pool(self.runner().clone(), self.inner.modules.clone(), spec).await
    }

    /// Round trip to the least busy worker, without running code.
    pub async fn ping(&self) -> Result<Duration> {
        let lease = self.runner().dispatcher.acquire().await?;
        let started = Instant::now();
        lease.worker().ask(&Ping, "ping", self.timeout()).await?;
        Ok(started.elapsed())
    }

    /// Asks every live worker for its own counters (compiles, cache hits,
    /// open contexts, heap).
    pub async fn worker_stats(&self) -> Result<Vec<WorkerStats>> {
        let mut all = Vec::new();
        for member in self.runner().dispatcher.members() {
            all.push(member.worker.stats(self.timeout()).await?);
        }
        Ok(all)
    }

    /// The `.d.ts` declaring `host` with every registered callback, its
    /// params and result types, for scripts (and the LLMs writing them).
    pub fn typescript(&self) -> &str {
        &self.inner.typescript
    }

    /// The registered callbacks' declarations.
    pub fn declarations(&self) -> &Declarations {
        &self.inner.declarations
    }

    /// LLM tool definitions for the registered callbacks; see
    /// [`Declarations::tool_definitions`].
    pub fn tool_definitions(&self, format: ToolFormat) -> serde_json::Value {
        self.inner.declarations.tool_definitions(format)
    }

    /// Counters of the pool right now.
    pub fn stats(&self) -> Stats {
        self.runner().dispatcher.stats()
    }

    /// Stops taking work, waits (up to the default timeout) for the runs in
    /// flight, then stops every worker.
    pub async fn shutdown(&self) {
        let dispatcher = &self.runner().dispatcher;
        dispatcher.close();
        let deadline = Instant::now() + self.timeout();
        while dispatcher.stats().in_flight > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let workers = dispatcher.all_workers();
        for worker in &workers {
            worker.drain(Cause::Requested);
            worker.stop();
        }
        for worker in &workers {
            if tokio::time::timeout(Duration::from_secs(2), worker.exited())
                .await
                .is_err()
            {
                worker.kill("did not stop after shutdown");
            }
        }
        tracing::info!("pool shut down");
    }

    /// Kills one worker process, as a crash would (for tests and drills).
    /// Returns its process id. The pool replaces it.
    #[doc(hidden)]
    pub fn kill_worker(&self, index: usize) -> Option<u32> {
        let worker = self.runner().dispatcher.worker_at(index)?;
        worker.kill("killed on request");
        Some(worker.pid)
    }

    /// Process ids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.runner()
            .dispatcher
            .members()
            .iter()
            .map(|m| m.worker.pid)
            .collect()
    }
}
