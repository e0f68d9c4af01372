//! The pool: workers, the queue in front of them, and their supervision.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::callbacks::{CallbackSet, Declarations, Registry, ToolFormat};
use crate::error::{Error, Result};
use crate::metrics::{Histogram, Recorder};
use crate::module::{JsModule, ModuleSpec};
use crate::protocol::json_string;
use crate::run::{Resend, RunHandle};
use crate::sandbox::Sandbox;
use crate::script::{script_key, LoadedScript, Output, Script, ScriptKind};
use crate::session::Session;
use crate::spawn::{self, EngineCommand};
use crate::worker::{Cause, Exited, Worker, WorkerConfig};

/// The worker runtime, embedded so that no install step is needed.
const WORKER_SOURCE: &str = include_str!("../../../js-client/src/worker.mjs");

/// The oldest Node.js major version the runtime supports.
const MIN_NODE_MAJOR: u32 = 20;

/// Configures and starts a [`Pool`].
///
/// Every setting has a default that works; see each method.
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    workers: usize,
    max_workers: Option<usize>,
    idle_timeout: Duration,
    node: PathBuf,
    node_args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    startup_timeout: Duration,
    cancel_grace: Duration,
    max_in_flight_per_worker: usize,
    queue_bound: usize,
    queue_timeout: Option<Duration>,
    recycle_after_runs: u64,
    recycle_above_heap: u64,
    health_interval: Duration,
    health_timeout: Option<Duration>,
    script_cache_size: NonZeroUsize,
    max_message_bytes: usize,
    spare_contexts: usize,
    modules: BTreeMap<String, String>,
    project: Option<PathBuf>,
    preloads: Vec<(String, String)>,
    allowed_builtins: std::collections::BTreeSet<String>,
    max_callback_calls: u32,
    isolation: Isolation,
    watchdog_trust: u32,
    registry: Registry,
    registration_errors: Vec<String>,
    sandbox: Sandbox,
}

/// How plain runs (not in a session) are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Every plain run gets a fresh context: nothing one run does is seen
    /// by another. A context costs the engine a few hundred microseconds;
    /// workers prepare some ahead while idle. The default.
    #[default]
    Run,
    /// Plain runs on one worker share one context, as runs of a session do:
    /// globals one run sets are seen by later runs on that worker. Several
    /// times faster for tiny scripts; use it only for trusted code that does
    /// not rely on a clean global scope.
    Worker,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            max_workers: None,
            idle_timeout: Duration::from_secs(60),
            node: PathBuf::from("node"),
            node_args: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_secs(30),
            startup_timeout: Duration::from_secs(20),
            cancel_grace: Duration::from_millis(500),
            max_in_flight_per_worker: 64,
            queue_bound: 10_000,
            queue_timeout: None,
            recycle_after_runs: 0,
            recycle_above_heap: 1024 * 1024 * 1024,
            health_interval: Duration::from_secs(2),
            health_timeout: None,
            script_cache_size: NonZeroUsize::new(256).expect("non-zero"),
            max_message_bytes: 64 * 1024 * 1024,
            spare_contexts: 2,
            modules: BTreeMap::new(),
            project: None,
            preloads: Vec::new(),
            allowed_builtins: std::collections::BTreeSet::new(),
            max_callback_calls: 10_000,
            isolation: Isolation::Run,
            watchdog_trust: 3,
            registry: Registry::default(),
            registration_errors: Vec::new(),
            sandbox: Sandbox::default(),
        }
    }
}

impl PoolBuilder {
    /// Number of engine processes (default: the machine's available
    /// parallelism). At least one. With [`max_workers`](Self::max_workers),
    /// the number kept even when idle.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Lets the pool grow to this many workers under load (default: no
    /// growth). A new worker starts when a run has to queue; it starts in the
    /// background, so runs already served are not held up. Workers beyond
    /// [`workers`](Self::workers) that stay idle for
    /// [`idle_timeout`](Self::idle_timeout) are retired.
    pub fn max_workers(mut self, max: usize) -> Self {
        self.max_workers = Some(max);
        self
    }

    /// How long a worker beyond the minimum may stay idle before it is
    /// retired (default 60 s). Checked with the health pings.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The engine program: a path, or a name looked up in `PATH`
    /// (default `node`). Node.js 20 or newer.
    pub fn node(mut self, program: impl Into<PathBuf>) -> Self {
        self.node = program.into();
        self
    }

    /// An extra command-line argument for the engine, e.g.
    /// `--max-old-space-size=256`.
    pub fn node_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.node_args.push(arg.into());
        self
    }

    /// An environment variable for the engine processes. Workers see none of
    /// the host's environment except what is set here.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The default timeout of a run, async work included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a worker may take to start (default 20 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// How long a worker has to stop a cancelled or timed-out run before it
    /// is considered stuck and replaced (default 500 ms).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// How many runs one worker interleaves at most (default 64). Beyond
    /// that, runs wait in the pool's queue.
    pub fn max_in_flight_per_worker(mut self, max: usize) -> Self {
        self.max_in_flight_per_worker = max.max(1);
        self
    }

    /// How many runs may wait for a worker (default 10,000). Beyond that a
    /// run fails at once with [`Error::Overloaded`].
    pub fn queue_bound(mut self, bound: usize) -> Self {
        self.queue_bound = bound;
        self
    }

    /// How long a run may wait in the queue for a worker before it fails
    /// with [`Error::QueueTimeout`] (default: as long as it takes, bounded by
    /// [`queue_bound`](Self::queue_bound)).
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = Some(timeout);
        self
    }

    /// Replaces a worker after it has finished this many runs and calls
    /// (default 0: never). The worker takes no new work, its replacement
    /// starts first, and it stops once its runs and sessions are done: no
    /// request fails because of a recycle.
    pub fn recycle_after_runs(mut self, runs: u64) -> Self {
        self.recycle_after_runs = runs;
        self
    }

    /// Replaces a worker, the same way, once its JavaScript heap passes this
    /// many bytes (default 1 GiB; 0: never). Checked with the health pings.
    pub fn recycle_above_heap(mut self, bytes: u64) -> Self {
        self.recycle_above_heap = bytes;
        self
    }

    /// How often each worker is pinged, and how long it has to answer before
    /// it is considered stuck, killed and replaced (default every 2 s; the
    /// deadline defaults to the run timeout plus the cancel grace plus 5 s, so
    /// a long synchronous run within its timeout is not mistaken for a hang).
    pub fn health_check(mut self, interval: Duration, deadline: Duration) -> Self {
        self.health_interval = interval;
        self.health_timeout = Some(deadline);
        self
    }

    /// How many compiled scripts each worker keeps (default 256).
    pub fn script_cache_size(mut self, size: NonZeroUsize) -> Self {
        self.script_cache_size = size;
        self
    }

    /// The largest message either side may send, in bytes (default 64 MiB).
    /// A larger result fails with [`Error::Limit`].
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// How many fresh contexts each worker prepares ahead of plain runs
    /// while idle (default 2).
    pub fn spare_contexts(mut self, count: usize) -> Self {
        self.spare_contexts = count;
        self
    }

    /// Registers an ES module that scripts can import by `name`
    /// (`import { f } from "name"`).
    pub fn module(mut self, name: impl Into<String>, source: impl Into<String>) -> Self {
        self.modules.insert(name.into(), source.into());
        self
    }

    /// A project directory (with a `package.json` and `node_modules`) that
    /// scripts import from: packages by bare name (`import dayjs from
    /// "dayjs"`, ES modules and CommonJS alike, resolved by Node's own
    /// resolver with exports maps and conditions) and project files by
    /// relative path. See [`Pool::session_in`] for one session's own
    /// directory.
    pub fn project(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project = Some(dir.into());
        self
    }

    /// Imports `specifier` (a package, a project file, a registered module or
    /// an allowed built-in) into every context before code runs there, as
    /// the global `name`: its default export, or its namespace if it has
    /// none. `preload("_", "lodash")` lets a one-line expression use `_`.
    /// Contexts are prepared ahead (spare contexts), and a session's context
    /// imports its preloads once, not per run. A preload that cannot be
    /// imported makes [`build`](Self::build) fail.
    pub fn preload(mut self, name: impl Into<String>, specifier: impl Into<String>) -> Self {
        self.preloads.push((name.into(), specifier.into()));
        self
    }

    /// Lets scripts and their dependencies import (or `require`) one of
    /// Node's built-in modules, e.g. `"node:crypto"` or `"path"`. All are
    /// refused by default, with an [`Error::Import`] naming this setting.
    ///
    /// What a script gets is the worker's own module (a frozen copy of it,
    /// when it is an object): allow only what scripts may use with the
    /// worker's full rights. `node:fs`, `node:child_process`, `node:vm`,
    /// `node:worker_threads` and the like give a script the whole process.
    pub fn allow_builtin(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        let bare = name.strip_prefix("node:").unwrap_or(&name).to_owned();
        self.allowed_builtins.insert(bare);
        self
    }

    /// Registers a set of callbacks (an impl block marked
    /// `#[outrigger::callbacks]`) that scripts call as `await host.name(params)`.
    /// Several sets may be registered; a name taken twice makes
    /// [`build`](Self::build) fail with [`Error::Registration`].
    pub fn callbacks<S: CallbackSet>(mut self, set: S) -> Self {
        if let Err(error) = self.registry.add(set) {
            self.registration_errors.push(error);
        }
        self
    }

    /// How many callback calls one run may make (default 10,000); the call
    /// past the limit ends the run with [`Error::Limit`]. `0` means no limit.
    /// [`Script::max_callback_calls`] overrides it per run.
    pub fn max_callback_calls(mut self, max: u32) -> Self {
        self.max_callback_calls = max;
        self
    }

    /// How plain runs are kept apart (default [`Isolation::Run`]: a fresh
    /// context each).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// After how many quick runs (synchronous part under 50 ms) a script or
    /// exported function runs without the engine's watchdog (default 3; `0`:
    /// always with it).
    ///
    /// The watchdog stops a synchronous loop (`while (true) {}`) at the
    /// timeout and the worker goes on, but costs a thread start per run
    /// (about 80 µs here). Code that has proved quick runs without it; if it
    /// loops after all, its worker is replaced at the timeout (plus
    /// [`cancel_grace`](Self::cancel_grace)) and the runs sharing that worker
    /// end with [`Error::WorkerExited`]. Loops after an `await` are always
    /// handled that way.
    pub fn watchdog_trust(mut self, quick_runs: u32) -> Self {
        self.watchdog_trust = quick_runs;
        self
    }

    /// What scripts may reach and how much they may take (default
    /// [`Sandbox::strict`]): fetch allowlist, file access, environment
    /// passthrough, heap size, console output per run. See SECURITY.md.
    pub fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// Starts the workers (in parallel) and returns once all have answered.
    pub async fn build(self) -> Result<Pool> {
        if let Some(error) = self.registration_errors.first() {
            return Err(Error::Registration(error.clone()));
        }
        let declarations = Declarations::from_decls(self.registry.declarations());
        let typescript = declarations
            .typescript()
            .map_err(|e| Error::Registration(e.to_string()))?;
        let program = spawn::resolve_program(&self.node)?;
        let mut args = self.node_args.clone();
        args.extend(
            self.sandbox
                .engine_args(&program, self.project.as_deref())
                .await,
        );
        for flag in [
            "--experimental-vm-modules",
            "--experimental-import-meta-resolve",
            "--disallow-code-generation-from-strings",
            "--frozen-intrinsics",
            "--no-warnings",
            "--input-type=module",
            "-e",
            WORKER_SOURCE,
        ] {
            args.push(flag.into());
        }
        let config = Arc::new(WorkerConfig {
            command: EngineCommand {
                program,
                args,
                env: self
                    .sandbox
                    .env()
                    .into_iter()
                    .chain(self.env.clone())
                    .collect(),
            },
            init_params: self.init_params(),
            startup_timeout: self.startup_timeout,
            max_message_bytes: self.max_message_bytes,
            script_cache_size: self.script_cache_size,
            cancel_grace: self.cancel_grace,
            min_node_major: MIN_NODE_MAJOR,
            registry: Arc::new(self.registry.clone()),
        });
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(PoolInner {
            config,
            timeout: self.timeout,
            max_in_flight: self.max_in_flight_per_worker,
            queue_bound: self.queue_bound,
            queue_timeout: self.queue_timeout,
            recycle_after_runs: self.recycle_after_runs,
            recycle_above_heap: self.recycle_above_heap,
            min_workers: self.workers,
            max_workers: self.max_workers.unwrap_or(self.workers).max(self.workers),
            idle_timeout: self.idle_timeout,
            starting: AtomicUsize::new(0),
            state: Mutex::new(DispatchState {
                workers: vec![None; self.workers],
                waiters: VecDeque::new(),
            }),
            ids: Arc::new(AtomicU64::new(1)),
            counters: Arc::new(Counters::default()),
            modules: Mutex::new(BTreeMap::new()),
            closed: AtomicBool::new(false),
            exits: exits_tx,
            max_callback_calls: self.max_callback_calls,
            declarations,
            typescript,
        });
        let started = Instant::now();
        let starts = (0..self.workers).map(|slot| {
            let inner = inner.clone();
            tokio::spawn(async move { inner.start_worker(slot).await })
        });
        let mut workers = Vec::with_capacity(self.workers);
        let mut first_error = None;
        for start in starts.collect::<Vec<_>>() {
            match start.await {
                Ok(Ok(worker)) => workers.push(worker),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(join) => {
                    first_error.get_or_insert(Error::Spawn {
                        program: self.node.display().to_string(),
                        message: format!("start-up task failed: {join}"),
                    });
                }
            }
        }
        if let Some(error) = first_error {
            for worker in &workers {
                worker.kill("pool start-up failed");
            }
            return Err(error);
        }
        {
            let mut state = inner.state.lock().unwrap();
            for worker in workers {
                let slot = worker.slot;
                state.workers[slot] = Some(worker);
            }
        }
        tokio::spawn(supervise(Arc::downgrade(&inner), exits_rx));
        let health_timeout = self
            .health_timeout
            .unwrap_or(self.timeout + self.cancel_grace + Duration::from_secs(5));
        tokio::spawn(check_health(
            Arc::downgrade(&inner),
            self.health_interval,
            health_timeout,
        ));
        tracing::info!(workers = self.workers, elapsed = ?started.elapsed(), "pool started");
        Ok(Pool { inner })
    }

    fn init_params(&self) -> String {
        let mut modules = serde_json::Map::new();
        for (name, code) in &self.modules {
            modules.insert(
                name.clone(),
                serde_json::json!({
                    "code": code,
                    "key": script_key(ScriptKind::Module, name, code),
                }),
            );
        }
        serde_json::json!({
            "modules": modules,
            "scriptCacheSize": self.script_cache_size.get(),
            "maxMessageBytes": self.max_message_bytes,
            "spareContexts": self.spare_contexts,
            "callbacks": self.registry.init_json(),
            "watchdogTrust": self.watchdog_trust,
            "project": self.project.as_deref().map(crate::project::absolute_dir),
            "preloads": self.preloads.iter().map(|(name, specifier)| serde_json::json!({"name": name, "specifier": specifier})).collect::<Vec<_>>(),
            "allowBuiltins": self.allowed_builtins,
            "sandbox": self.sandbox.init_params(),
            "isolation": match self.isolation {
                Isolation::Run => "run",
                Isolation::Worker => "worker",
            },
        })
        .to_string()
    }
}

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
    pub(crate) inner: Arc<PoolInner>,
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

    /// Evaluates an expression and deserializes its value (promises are
    /// awaited). Console output goes to `tracing` only; use [`Pool::run`] to
    /// get it.
    pub async fn eval<T: DeserializeOwned>(&self, code: &str) -> Result<T> {
        let mut handle = self.start(Script::expression(code)).await?;
        let raw = handle.finish().await?;
        serde_json::from_str(raw.get()).map_err(Error::Deserialize)
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
        let timeout = script.timeout_or(self.inner.timeout);
        let loaded = script.load().await?;
        let slot = self.inner.acquire().await?;
        Ok(self.inner.launch(slot, loaded, None, timeout))
    }

    /// Opens a session: one context on one worker, kept across runs.
    pub async fn session(&self) -> Result<Session> {
        Session::open(self.clone()).await
    }

    /// Loads an ES module into every worker, once, and returns a handle to
    /// call its exported functions with JSON arguments. The module keeps its
    /// state between calls (on each worker).
    pub async fn load_module(
        &self,
        name: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<JsModule> {
        JsModule::load_into_pool(self.clone(), name.into(), source.into(), None).await
    }

    /// Round trip to the least busy worker, without running code.
    pub async fn ping(&self) -> Result<Duration> {
        let slot = self.inner.acquire().await?;
        let started = Instant::now();
        slot.worker()
            .request_value("ping", "{}", "ping", self.inner.timeout)
            .await?;
        Ok(started.elapsed())
    }

    /// Asks every live worker for its own counters (compiles, cache hits,
    /// open contexts, heap).
    pub async fn worker_stats(&self) -> Result<Vec<WorkerStats>> {
        let mut all = Vec::new();
        for worker in self.inner.live_workers() {
            let raw = worker
                .request_value("stats", "{}", "stats", self.inner.timeout)
                .await?;
            let mut stats: WorkerStats = serde_json::from_str(raw.get())
                .map_err(|e| Error::Protocol(format!("malformed stats answer: {e}")))?;
            stats.pid = worker.pid;
            all.push(stats);
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
        self.inner.stats()
    }

    /// Stops taking work, waits (up to the default timeout) for the runs in
    /// flight, then stops every worker.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        let waiters = std::mem::take(&mut inner.state.lock().unwrap().waiters);
        drop(waiters);
        let deadline = Instant::now() + inner.timeout;
        while inner.stats().in_flight > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let workers: Vec<Arc<Worker>> = inner
            .state
            .lock()
            .unwrap()
            .workers
            .iter()
            .flatten()
            .cloned()
            .collect();
        for worker in &workers {
            worker.notify("shutdown", "{}");
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
        let worker = self
            .inner
            .state
            .lock()
            .unwrap()
            .workers
            .get(index)?
            .clone()?;
        worker.kill("killed on request");
        Some(worker.pid)
    }

    /// Process ids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner
            .state
            .lock()
            .unwrap()
            .workers
            .iter()
            .flatten()
            .filter(|w| w.accepts_work())
            .map(|w| w.pid)
            .collect()
    }
}

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Live worker processes.
    pub workers: usize,
    /// Runs and calls on workers now.
    pub in_flight: usize,
    /// Runs waiting for a worker.
    pub queued: usize,
    /// Runs that ended with a value.
    pub completed: u64,
    /// Runs that ended with an error (timeouts and cancellations included).
    pub failed: u64,
    /// Workers started to replace one that died.
    pub restarts: u64,
    /// Why replaced workers ended (recycles included).
    pub exits: ExitCauses,
    /// Time from sending a run to its result, for every finished run.
    pub latency: Histogram,
    /// Time runs spent in the queue waiting for a worker (those that waited).
    pub queue_wait: Histogram,
    /// Each live worker's own counts.
    pub per_worker: Vec<WorkerCounts>,
}

/// One worker's counts, in [`Stats::per_worker`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WorkerCounts {
    /// Its process id.
    pub pid: u32,
    /// Runs and calls on it now.
    pub in_flight: usize,
    /// Runs and calls it has finished.
    pub runs: u64,
    /// Sessions pinned to it.
    pub sessions: usize,
    /// Whether it is being recycled (takes no new work).
    pub retiring: bool,
}

/// One worker's own counters, from [`Pool::worker_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's process id.
    #[serde(skip)]
    pub pid: u32,
    /// Classic scripts compiled (a cache miss each).
    pub script_compiles: u64,
    /// Classic scripts run from the compiled-script cache.
    pub script_hits: u64,
    /// Modules compiled without a code cache.
    pub module_compiles: u64,
    /// Modules compiled with V8's code cache from an earlier compile.
    pub module_cache_hits: u64,
    /// Runs and calls in progress.
    pub runs: u64,
    /// Open sessions.
    pub sessions: u64,
    /// Loaded modules (pool-wide and per session).
    pub loaded_modules: u64,
    /// Bytes of JavaScript heap in use.
    pub heap_used: u64,
    /// Reads from the channel, and the messages they brought: many messages
    /// a read means the host's writes were coalesced.
    #[serde(default)]
    pub reads: u64,
    /// Messages read from the host (requests, notifications, answers).
    #[serde(default)]
    pub messages_in: u64,
    /// Writes to the channel, and the messages they carried.
    #[serde(default)]
    pub writes: u64,
    /// Messages written to the host.
    #[serde(default)]
    pub messages_out: u64,
}

/// Workers replaced, by why the old one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExitCauses {
    /// Died by themselves: a crash, running out of memory, a kill from outside.
    pub crashed: u64,
    /// Did not stop a cancelled or timed-out run (stuck in synchronous code).
    pub stuck: u64,
    /// Did not answer a health ping in time.
    pub unhealthy: u64,
    /// Sent something the host could not understand.
    pub protocol: u64,
    /// Replaced on purpose after a number of runs or past a heap size,
    /// once drained (not counted in `restarts`).
    pub recycled: u64,
    /// Killed on request (`Pool::kill_worker`).
    pub requested: u64,
    /// Retired after staying idle beyond the minimum size (not counted in
    /// `restarts`).
    pub idle: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) latency: Recorder,
    queue_wait: Recorder,
    completed: AtomicU64,
    failed: AtomicU64,
    restarts: AtomicU64,
    crashed: AtomicU64,
    stuck: AtomicU64,
    unhealthy: AtomicU64,
    protocol: AtomicU64,
    recycled: AtomicU64,
    requested: AtomicU64,
    idle: AtomicU64,
}

impl Counters {
    fn count_exit(&self, cause: Cause) {
        let counter = match cause {
            Cause::Crashed => &self.crashed,
            Cause::Stuck => &self.stuck,
            Cause::Unhealthy => &self.unhealthy,
            Cause::Protocol => &self.protocol,
            Cause::Recycled => &self.recycled,
            Cause::Requested => &self.requested,
            Cause::Idle => &self.idle,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !matches!(cause, Cause::Recycled | Cause::Idle) {
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct PoolInner {
    pub(crate) config: Arc<WorkerConfig>,
    pub(crate) timeout: Duration,
    max_in_flight: usize,
    queue_bound: usize,
    queue_timeout: Option<Duration>,
    recycle_after_runs: u64,
    recycle_above_heap: u64,
    min_workers: usize,
    max_workers: usize,
    idle_timeout: Duration,
    /// Workers being started to grow the pool.
    starting: AtomicUsize,
    state: Mutex<DispatchState>,
    pub(crate) ids: Arc<AtomicU64>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) modules: Mutex<BTreeMap<u64, ModuleSpec>>,
    closed: AtomicBool,
    exits: mpsc::UnboundedSender<Exited>,
    pub(crate) max_callback_calls: u32,
    declarations: Declarations,
    typescript: String,
}

struct DispatchState {
    workers: Vec<Option<Arc<Worker>>>,
    waiters: VecDeque<oneshot::Sender<Slot>>,
}

/// A claim on one worker's capacity, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    worker: Option<Arc<Worker>>,
    pool: Weak<PoolInner>,
}

impl Slot {
    pub(crate) fn worker(&self) -> &Arc<Worker> {
        self.worker
            .as_ref()
            .expect("a slot holds its worker until dropped")
    }

    fn into_worker(mut self) -> Arc<Worker> {
        self.worker
            .take()
            .expect("a slot holds its worker until dropped")
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            match self.pool.upgrade() {
                Some(pool) => pool.release(worker),
                None => {
                    worker.in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }
}

impl PoolInner {
    /// Starts a worker and loads the pool's modules into it.
    async fn start_worker(self: &Arc<Self>, slot: usize) -> Result<Arc<Worker>> {
        let worker =
            Worker::start(slot, &self.config, self.ids.clone(), self.exits.clone()).await?;
        let modules: Vec<ModuleSpec> = self.modules.lock().unwrap().values().cloned().collect();
        for module in modules {
            if let Err(error) = module.load_on(&worker, self.timeout).await {
                tracing::error!(pid = worker.pid, module = %module.name, %error, "loading a module into a new worker failed");
            }
        }
        Ok(worker)
    }

    /// Waits for capacity on the least busy worker.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<Slot> {
        loop {
            let waiting = {
                let mut state = self.state.lock().unwrap();
                if self.closed.load(Ordering::SeqCst) {
                    return Err(Error::Closed);
                }
                let best = state
                    .workers
                    .iter()
                    .flatten()
                    .filter(|w| w.accepts_work())
                    .min_by_key(|w| w.in_flight.load(Ordering::SeqCst))
                    .filter(|w| w.in_flight.load(Ordering::SeqCst) < self.max_in_flight)
                    .cloned();
                if let Some(worker) = best {
                    worker.in_flight.fetch_add(1, Ordering::SeqCst);
                    return Ok(Slot {
                        worker: Some(worker),
                        pool: Arc::downgrade(self),
                    });
                }
                if state.waiters.len() >= self.queue_bound {
                    state.waiters.retain(|w| !w.is_closed());
                    if state.waiters.len() >= self.queue_bound {
                        return Err(Error::Overloaded {
                            bound: self.queue_bound,
                        });
                    }
                }
                let (tx, rx) = oneshot::channel();
                state.waiters.push_back(tx);
                let size = Self::size(&state);
                drop(state);
                self.grow(size);
                rx
            };
            let queued_at = Instant::now();
            let answer = match self.queue_timeout {
                Some(limit) => match tokio::time::timeout(limit, waiting).await {
                    Ok(answer) => answer,
                    Err(_) => return Err(Error::QueueTimeout { waited: limit }),
                },
                None => waiting.await,
            };
            self.counters.queue_wait.record(queued_at.elapsed());
            match answer {
                Ok(slot) if slot.worker().accepts_work() => return Ok(slot),
                Ok(_dead) => continue,
                Err(_) => return Err(Error::Closed),
            }
        }
    }

    /// Capacity on one given worker (sessions are pinned), past the limit.
    pub(crate) fn claim(self: &Arc<Self>, worker: &Arc<Worker>) -> Result<Slot> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        worker.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok(Slot {
            worker: Some(worker.clone()),
            pool: Arc::downgrade(self),
        })
    }

    /// Gives capacity back, straight to the first waiter if there is one.
    fn release(self: &Arc<Self>, mut worker: Arc<Worker>) {
        let done = worker.runs_done.fetch_add(1, Ordering::Relaxed) + 1;
        worker.touch();
        if self.recycle_after_runs > 0 && done >= self.recycle_after_runs {
            self.retire(&worker, &format!("it finished {done} runs"));
        }
        loop {
            let waiter = {
                let mut state = self.state.lock().unwrap();
                if worker.accepts_work() && !self.closed.load(Ordering::SeqCst) {
                    state.waiters.pop_front()
                } else {
                    None
                }
            };
            let Some(waiter) = waiter else {
                worker.in_flight.fetch_sub(1, Ordering::SeqCst);
                self.stop_if_drained(&worker);
                return;
            };
            let slot = Slot {
                worker: Some(worker),
                pool: Arc::downgrade(self),
            };
            match waiter.send(slot) {
                Ok(()) => return,
                Err(slot) => worker = slot.into_worker(),
            }
        }
    }

    /// The pool's size for growing: workers not being retired, dead ones
    /// awaiting their replacement included.
    fn size(state: &DispatchState) -> usize {
        state
            .workers
            .iter()
            .flatten()
            .filter(|w| !w.retiring.load(Ordering::SeqCst))
            .count()
    }

    /// Starts one more worker if the pool may grow and none is starting.
    fn grow(self: &Arc<Self>, size: usize) {
        if size + self.starting.load(Ordering::SeqCst) >= self.max_workers || self.is_closed() {
            return;
        }
        if self
            .starting
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.starting.store(0, Ordering::SeqCst);
            return;
        };
        let pool = Arc::downgrade(self);
        runtime.spawn(async move {
            let Some(slot) = pool.upgrade().map(|inner| inner.free_slot()) else {
                return;
            };
            tracing::info!(slot, "growing the pool under load");
            replace(pool.clone(), slot).await;
            if let Some(inner) = pool.upgrade() {
                inner.starting.store(0, Ordering::SeqCst);
                // Still runs waiting: grow again, up to the maximum.
                let (waiting, size) = {
                    let state = inner.state.lock().unwrap();
                    (!state.waiters.is_empty(), Self::size(&state))
                };
                if waiting {
                    inner.grow(size);
                }
            }
        });
    }

    /// Retires workers beyond the minimum that have been idle too long.
    fn shrink_idle(self: &Arc<Self>) {
        let idle: Vec<Arc<Worker>> = {
            let state = self.state.lock().unwrap();
            let live: Vec<&Arc<Worker>> = state
                .workers
                .iter()
                .flatten()
                .filter(|w| w.accepts_work())
                .collect();
            live.iter()
                .filter(|w| {
                    w.in_flight.load(Ordering::SeqCst) == 0
                        && w.sessions.load(Ordering::SeqCst) == 0
                        && w.idle_for() >= self.idle_timeout
                })
                .take(live.len().saturating_sub(self.min_workers))
                .map(|w| (*w).clone())
                .collect()
        };
        for worker in idle {
            tracing::info!(pid = worker.pid, "retiring an idle worker");
            worker.recycling.store(true, Ordering::SeqCst);
            worker.retiring.store(true, Ordering::SeqCst);
            worker.set_cause(Cause::Idle);
            self.stop_if_drained(&worker);
        }
    }

    /// A slot index with no worker in it, added if there is none.
    fn free_slot(&self) -> usize {
        let mut state = self.state.lock().unwrap();
        match state.workers.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                state.workers.push(None);
                state.workers.len() - 1
            }
        }
    }

    /// Replaces `worker` without failing anything: it takes no new work, a
    /// replacement starts, and it stops once drained.
    pub(crate) fn retire(self: &Arc<Self>, worker: &Arc<Worker>, why: &str) {
        if worker.recycling.swap(true, Ordering::SeqCst) || self.is_closed() {
            return;
        }
        tracing::info!(
            pid = worker.pid,
            slot = worker.slot,
            why,
            "recycling worker"
        );
        let pool = Arc::downgrade(self);
        let old = worker.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let Some(slot) = pool.upgrade().map(|inner| inner.free_slot()) else {
                return;
            };
            // The old worker serves until its replacement does.
            replace(pool.clone(), slot).await;
            old.retiring.store(true, Ordering::SeqCst);
            if let Some(inner) = pool.upgrade() {
                inner.stop_if_drained(&old);
            }
        });
    }

    /// Stops a retiring worker once it has no runs and no sessions.
    pub(crate) fn stop_if_drained(&self, worker: &Worker) {
        if worker.retiring.load(Ordering::SeqCst)
            && worker.in_flight.load(Ordering::SeqCst) == 0
            && worker.sessions.load(Ordering::SeqCst) == 0
        {
            worker.retire_now();
        }
    }

    /// Puts a new worker in its slot and gives it waiting runs.
    fn install(self: &Arc<Self>, worker: Arc<Worker>) {
        self.state.lock().unwrap().workers[worker.slot] = Some(worker.clone());
        loop {
            let waiter = {
                let mut state = self.state.lock().unwrap();
                if worker.in_flight.load(Ordering::SeqCst) >= self.max_in_flight {
                    return;
                }
                match state.waiters.pop_front() {
                    Some(waiter) => {
                        worker.in_flight.fetch_add(1, Ordering::SeqCst);
                        waiter
                    }
                    None => return,
                }
            };
            let slot = Slot {
                worker: Some(worker.clone()),
                pool: Arc::downgrade(self),
            };
            // A waiter that gave up drops the slot, which releases it.
            let _ = waiter.send(slot);
        }
    }

    /// Sends a run to the worker of `slot`.
    pub(crate) fn launch(
        self: &Arc<Self>,
        slot: Slot,
        script: LoadedScript,
        session: Option<u64>,
        timeout: Duration,
    ) -> RunHandle {
        let known = slot.worker().knows_script(&script.key);
        let limits = RunLimits {
            timeout,
            max_callbacks: script.max_callbacks.unwrap_or(self.max_callback_calls),
        };
        // Compact globals follow on an attachment line; others go escaped.
        let attachment = script
            .globals
            .clone()
            .filter(|globals| crate::protocol::attachable(globals));
        let attached = attachment.is_some();
        let params = run_params(&script, session, limits, !known, attached);
        let name = script.name.clone();
        let key = script.key.clone();
        let resend = Resend {
            key,
            with_code: if known {
                Some(Box::new(move || {
                    run_params(&script, session, limits, true, attached)
                }))
            } else {
                None
            },
            attachment: attachment.clone(),
        };
        self.launch_request(
            slot,
            "run",
            &params,
            attachment.as_deref(),
            name,
            timeout,
            Some(resend),
        )
    }

    /// Sends a run-like request (`run` or `call`) to the worker of `slot`,
    /// with its attachment line if it has one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn launch_request(
        self: &Arc<Self>,
        slot: Slot,
        method: &str,
        params: &str,
        attachment: Option<&str>,
        name: String,
        timeout: Duration,
        resend: Option<Resend>,
    ) -> RunHandle {
        let worker = slot.worker().clone();
        let id = worker.next_id();
        let span = tracing::info_span!("outrigger.run", run = id, worker = worker.pid, method, script = %name);
        let size = params.len() + attachment.map_or(0, str::len);
        let replies = crate::sandbox::refuse_oversized(size, self.config.max_message_bytes)
            .unwrap_or_else(|| worker.send_request_with(id, method, params, attachment));
        RunHandle::new(
            id,
            worker,
            slot,
            replies,
            timeout,
            name,
            resend,
            self.counters.clone(),
            span,
        )
    }

    fn stats(&self) -> Stats {
        let state = self.state.lock().unwrap();
        let live: Vec<&Arc<Worker>> = state
            .workers
            .iter()
            .flatten()
            .filter(|w| w.accepts_work())
            .collect();
        Stats {
            workers: live.len(),
            in_flight: state
                .workers
                .iter()
                .flatten()
                .map(|w| w.in_flight.load(Ordering::SeqCst))
                .sum(),
            queued: state.waiters.iter().filter(|w| !w.is_closed()).count(),
            completed: self.counters.completed.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            restarts: self.counters.restarts.load(Ordering::Relaxed),
            exits: ExitCauses {
                crashed: self.counters.crashed.load(Ordering::Relaxed),
                stuck: self.counters.stuck.load(Ordering::Relaxed),
                unhealthy: self.counters.unhealthy.load(Ordering::Relaxed),
                protocol: self.counters.protocol.load(Ordering::Relaxed),
                recycled: self.counters.recycled.load(Ordering::Relaxed),
                requested: self.counters.requested.load(Ordering::Relaxed),
                idle: self.counters.idle.load(Ordering::Relaxed),
            },
            latency: self.counters.latency.snapshot(),
            queue_wait: self.counters.queue_wait.snapshot(),
            per_worker: state
                .workers
                .iter()
                .flatten()
                .filter(|w| w.is_alive())
                .map(|w| WorkerCounts {
                    pid: w.pid,
                    in_flight: w.in_flight.load(Ordering::SeqCst),
                    runs: w.runs_done.load(Ordering::Relaxed),
                    sessions: w.sessions.load(Ordering::SeqCst),
                    retiring: w.retiring.load(Ordering::SeqCst),
                })
                .collect(),
        }
    }

    pub(crate) fn live_workers(&self) -> Vec<Arc<Worker>> {
        self.state
            .lock()
            .unwrap()
            .workers
            .iter()
            .flatten()
            .filter(|w| w.accepts_work())
            .cloned()
            .collect()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        let state = self.state.get_mut().unwrap();
        state.waiters.clear();
        for worker in state.workers.iter().flatten() {
            worker.kill("the pool was dropped");
        }
    }
}

/// The limits a run is sent with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunLimits {
    pub(crate) timeout: Duration,
    pub(crate) max_callbacks: u32,
}

/// The params of a `run` request; with `globals_attached`, the globals go on
/// the attachment line rather than in the params.
pub(crate) fn run_params(
    script: &LoadedScript,
    session: Option<u64>,
    limits: RunLimits,
    with_code: bool,
    globals_attached: bool,
) -> String {
    let mut params = String::with_capacity(128 + if with_code { script.code.len() } else { 0 });
    params.push_str(r#"{"kind":""#);
    params.push_str(script.kind.as_str());
    params.push_str(r#"","name":"#);
    params.push_str(&json_string(&script.name));
    if let Some(file) = &script.file {
        params.push_str(r#","file":"#);
        params.push_str(&json_string(file));
    }
    params.push_str(r#","key":""#);
    params.push_str(&script.key);
    params.push('"');
    if with_code {
        params.push_str(r#","code":"#);
        params.push_str(&json_string(&script.code));
    }
    if let Some(globals) = &script.globals {
        if globals_attached {
            params.push_str(r#","attachment":"globals""#);
        } else {
            params.push_str(r#","globals":"#);
            params.push_str(&json_string(globals));
        }
    }
    if let Some(session) = session {
        params.push_str(r#","session":"#);
        params.push_str(&session.to_string());
    }
    params.push_str(r#","timeout":"#);
    params.push_str(&limits.timeout.as_millis().to_string());
    params.push_str(r#","maxCallbacks":"#);
    params.push_str(&limits.max_callbacks.to_string());
    params.push('}');
    params
}

/// Pings every worker now and then: one that does not answer is replaced,
/// one whose heap has grown past the limit is recycled.
async fn check_health(pool: Weak<PoolInner>, interval: Duration, deadline: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = pool.upgrade() else { return };
        if inner.is_closed() {
            return;
        }
        inner.shrink_idle();
        let stats = inner.stats();
        tracing::debug!(
            target: "outrigger::metrics",
            workers = stats.workers,
            in_flight = stats.in_flight,
            queued = stats.queued,
            completed = stats.completed,
            failed = stats.failed,
            restarts = stats.restarts,
            latency_p50_us = stats.latency.p50().as_micros() as u64,
            latency_p99_us = stats.latency.p99().as_micros() as u64,
            queue_wait_p99_us = stats.queue_wait.p99().as_micros() as u64,
            "pool metrics"
        );
        let workers = inner.live_workers();
        let limit = inner.recycle_above_heap;
        drop(inner);
        for worker in workers {
            let pool = pool.clone();
            tokio::spawn(async move {
                if !worker.check_health(deadline).await || limit == 0 {
                    return;
                }
                if let Some(heap) = worker.heap_used(deadline).await {
                    if heap > limit {
                        if let Some(inner) = pool.upgrade() {
                            inner.retire(&worker, &format!("its heap reached {heap} bytes"));
                        }
                    }
                }
            });
        }
    }
}

/// Replaces workers that died, for as long as the pool lives.
async fn supervise(pool: Weak<PoolInner>, mut exits: mpsc::UnboundedReceiver<Exited>) {
    while let Some(exit) = exits.recv().await {
        let Some(inner) = pool.upgrade() else { return };
        if inner.is_closed() {
            continue;
        }
        let retired = {
            let mut state = inner.state.lock().unwrap();
            let current = state.workers[exit.slot].clone();
            match current {
                Some(worker) if worker.pid == exit.pid => {
                    let retired = worker.retiring.load(Ordering::SeqCst);
                    if retired {
                        // Its replacement is already serving.
                        state.workers[exit.slot] = None;
                    }
                    retired
                }
                // Already replaced.
                Some(_) => continue,
                None => true,
            }
        };
        inner.counters.count_exit(exit.cause);
        if retired {
            continue;
        }
        tokio::spawn(replace(Arc::downgrade(&inner), exit.slot));
    }
}

async fn replace(pool: Weak<PoolInner>, slot: usize) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(inner) = pool.upgrade() else { return };
        if inner.is_closed() {
            return;
        }
        match inner.start_worker(slot).await {
            Ok(worker) => {
                if inner.is_closed() {
                    worker.kill("the pool closed during start-up");
                    return;
                }
                tracing::info!(slot, pid = worker.pid, "replacement worker ready");
                inner.install(worker);
                return;
            }
            Err(error) => {
                tracing::error!(slot, %error, ?backoff, "cannot start a replacement worker");
            }
        }
        drop(inner);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
