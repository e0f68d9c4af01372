//! Configuring a pool: every setting with a default that works, and
//! `build()`, which starts the workers.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::supervisor::{Health, Supervisor};
use super::{Pool, PoolInner};
use crate::callbacks::{CallbackSet, Registry};
use crate::checker::{Checker, CheckerSettings};
use crate::declarations::Declarations;
use crate::dispatch::{Counters, Dispatcher, Limits};
use crate::engine::{
    default_bound_mb, Engine, EngineSettings, MemoryLayers, MemoryPolicy, Mount, WorkerConfig,
};
use crate::error::{Error, Result};
use crate::module::ModuleRegistry;
use crate::paths::absolute_dir;
use crate::runner::{RunDefaults, Runner};
use crate::sandbox::Sandbox;
use crate::script::ScriptKind;
use crate::script_key::script_key;
use crate::store::FileStore;
use crate::wire::methods::{Init, Preload, RegisteredModule};

/// Configures and starts a [`Pool`].
///
/// Every setting has a default that works; see each method.
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    workers: usize,
    max_workers: Option<usize>,
    idle_timeout: Duration,
    engine: Engine,
    program: Option<PathBuf>,
    engine_args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    startup_timeout: Duration,
    cancel_grace: Duration,
    max_in_flight_per_worker: usize,
    queue_bound: usize,
    queue_timeout: Option<Duration>,
    recycle_after_runs: u64,
    recycle_above_heap: u64,
    recycle_above_memory: Option<u64>,
    memory_layers: MemoryLayers,
    health_interval: Duration,
    health_timeout: Option<Duration>,
    blocked_after: Duration,
    hang_timeout: Duration,
    script_cache_size: NonZeroUsize,
    max_message_bytes: usize,
    spare_contexts: usize,
    modules: BTreeMap<String, String>,
    project: Option<PathBuf>,
    preloads: Vec<(String, String)>,
    preload_cache: bool,
    allowed_builtins: BTreeSet<String>,
    max_callback_calls: u32,
    isolation: Isolation,
    watchdog_trust: u32,
    call_site_frames: u32,
    pub(super) registry: Registry,
    pub(super) registration_errors: Vec<String>,
    sandbox: Sandbox,
    mounts: Vec<Mount>,
    /// Callbacks named in `require_approval`, checked at `build()`.
    pub(super) approvals: Vec<String>,
    typecheck: bool,
    typescript_compiler: Option<PathBuf>,
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
            engine: Engine::default(),
            program: None,
            engine_args: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_secs(30),
            startup_timeout: Duration::from_secs(20),
            cancel_grace: Duration::from_millis(500),
            max_in_flight_per_worker: 64,
            queue_bound: 10_000,
            queue_timeout: None,
            recycle_after_runs: 0,
            recycle_above_heap: 1024 * 1024 * 1024,
            recycle_above_memory: None,
            memory_layers: MemoryLayers::default(),
            health_interval: Duration::from_secs(2),
            health_timeout: None,
            blocked_after: Duration::from_millis(50),
            hang_timeout: Duration::from_millis(500),
            script_cache_size: NonZeroUsize::new(256).expect("non-zero"),
            max_message_bytes: 64 * 1024 * 1024,
            spare_contexts: 2,
            modules: BTreeMap::new(),
            project: None,
            preloads: Vec::new(),
            preload_cache: true,
            allowed_builtins: BTreeSet::new(),
            max_callback_calls: 10_000,
            isolation: Isolation::Run,
            watchdog_trust: 3,
            call_site_frames: 1,
            registry: Registry::default(),
            registration_errors: Vec::new(),
            sandbox: Sandbox::default(),
            mounts: Vec::new(),
            approvals: Vec::new(),
            typecheck: false,
            typescript_compiler: None,
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

    /// The JavaScript engine the workers run (default [`Engine::Node`]).
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// The engine's program, whichever [`engine`](Self::engine) it is: a
    /// path, or a name looked up in `PATH` (default `node` for
    /// [`Engine::Node`], `deno` for [`Engine::Deno`], `bun` for
    /// [`Engine::Bun`]).
    pub fn engine_path(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Node.js's spelling of [`engine_path`](Self::engine_path): the
    /// `node` program, 20 or newer. With the QuickJS engine, the Node.js
    /// that runs the type checker.
    pub fn node(self, program: impl Into<PathBuf>) -> Self {
        self.engine_path(program)
    }

    /// An extra command-line argument for the engine, e.g.
    /// `--max-old-space-size=256` for Node.js; for Deno, a `deno run` flag,
    /// e.g. `--v8-flags=--max-old-space-size=256`.
    pub fn node_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.engine_args.push(arg.into());
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

    /// Replaces a worker, the same way, once its whole resident memory
    /// passes this many bytes (default: three quarters of
    /// [`Sandbox::max_memory_mb`]; 0: never), so that a worker whose runs
    /// leave memory behind is replaced before it reaches its bound. Checked
    /// with the health pings, from what the host reads of the worker.
    pub fn recycle_above_memory(mut self, bytes: u64) -> Self {
        self.recycle_above_memory = Some(bytes);
        self
    }

    /// Which layers hold [`Sandbox::max_memory_mb`], where the host can have
    /// them (default: all): the kernel's data limit, a cgroup per worker;
    /// sampling always runs. Turning one off is for measuring the others.
    #[doc(hidden)]
    pub fn memory_layers(mut self, data_limit: bool, cgroup: bool) -> Self {
        self.memory_layers = MemoryLayers { data_limit, cgroup };
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

    /// How long a worker with work may say nothing before it is taken to be
    /// blocked in synchronous code (default 50 ms; zero turns this off).
    ///
    /// A blocked worker gets no new runs while others answer (with none
    /// answering and [`max_workers`](Self::max_workers) above the size, the
    /// pool grows). Runs already sent to it that it has not read are taken
    /// back and run elsewhere, never twice: each carries a start deadline
    /// (twice this setting ahead), past which the worker refuses it. A
    /// worker that is only waiting (timers, fetches, callbacks) says it is
    /// alive every third of this, so it is never taken for blocked.
    /// [`Stats::blocked`](crate::Stats::blocked) and
    /// [`Stats::moved`](crate::Stats::moved) count what happened. On a
    /// machine short of CPU a heartbeat can come late, and a waiting worker
    /// then reads as blocked for a moment (runs go to others meanwhile);
    /// raise this if that matters more than a stuck worker does.
    pub fn blocked_after(mut self, silence: Duration) -> Self {
        self.blocked_after = silence;
        self
    }

    /// How long a worker with no run in flight may stay blocked (a finished
    /// run's leftover microtasks or timers spinning) before it is replaced
    /// (default 500 ms). The pool pings a worker once it has been idle for
    /// [`blocked_after`](Self::blocked_after), so such a worker is found and
    /// gets no runs well before this.
    pub fn hang_timeout(mut self, timeout: Duration) -> Self {
        self.hang_timeout = timeout;
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
        let (name, mut source) = (name.into(), source.into());
        // A module named `*.ts` is TypeScript: its types are erased here.
        if crate::strip::is_typescript(&name) {
            match crate::strip::strip(&source) {
                Ok(code) => source = code,
                Err(error) => self.registration_errors.push(format!(
                    "module `{name}`: {}:{}: {}",
                    error.line, error.column, error.message
                )),
            }
        }
        self.modules.insert(name, source);
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

    /// Whether the host keeps a V8 code cache of the preloads (default
    /// `true`, on Node.js): the first worker makes it once its preloads
    /// have run, and every later worker (new, restarted, or of a later pool
    /// with the same preloads in this process) imports them from it instead
    /// of parsing and compiling them again. V8 refuses a cache of another
    /// engine build or other flags, and a file whose source changed is
    /// compiled from its source: a cache never changes what runs, only how
    /// soon. Deno, Bun and QuickJS have none (docs/ENGINES.md).
    ///
    /// ```no_run
    /// # async fn demo() -> outrigger_host::Result<()> {
    /// // Measuring the import itself: every worker compiles the preload.
    /// let pool = outrigger_host::Pool::builder()
    ///     .project("./scripts")
    ///     .preload("_", "lodash")
    ///     .preload_cache(false)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn preload_cache(mut self, keep: bool) -> Self {
        self.preload_cache = keep;
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

    /// Whether TypeScript scripts are type-checked before they run (default
    /// off; [`Script::typecheck`](crate::Script::typecheck) decides per script): one that does not
    /// check fails with [`Error::Type`] and nothing of it runs. On, the
    /// compiler is started by [`build`](Self::build), which fails with
    /// [`Error::Spawn`] when it cannot be found. See [`Pool::check`].
    pub fn typecheck(mut self, check: bool) -> Self {
        self.typecheck = check;
        self
    }

    /// The TypeScript compiler type checks use: a `typescript` package
    /// directory (or its `lib/typescript.js`). Default: the project's
    /// `node_modules/typescript`; install it there with
    /// `npm install --save-dev typescript`. Checks run it with the pool's
    /// Node.js, in a process of their own, kept warm.
    pub fn typescript_compiler(mut self, path: impl Into<PathBuf>) -> Self {
        self.typescript_compiler = Some(path.into());
        self
    }

    /// How many callback calls one run may make (default 10,000); the call
    /// past the limit ends the run with [`Error::Limit`]. `0` means no limit.
    /// [`Script::max_callback_calls`](crate::Script::max_callback_calls) overrides it per run.
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

    /// How many frames of the script's stack a callback call keeps (default
    /// 1: the call itself; `0`: none).
    ///
    /// A failed call rejects with an error whose `stack` is these frames,
    /// so that it is reported where the call was made, and an approver sees
    /// the first as [`ApprovalRequest::position`](crate::ApprovalRequest).
    /// The engine captures them when the call is made and keeps them until
    /// it is answered, a large part of a call's cost in the worker: with
    /// 1,000 calls in flight, ten frames a call instead of one cost about a
    /// quarter of the calls a worker makes per second (BENCHMARKS.md,
    /// "What was found", 21). Raise it
    /// to see, in a failed call's error, the callers of the function that
    /// made the call. Every engine; Bun's frames carry no places
    /// (docs/ENGINES.md).
    pub fn call_site_frames(mut self, frames: u32) -> Self {
        self.call_site_frames = frames;
        self
    }

    /// What scripts may reach and how much they may take (default
    /// [`Sandbox::strict`]): fetch allowlist, file access, environment
    /// passthrough, heap size, console output per run. See SECURITY.md.
    pub fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// Mounts a file store the host provides at `path` (absolute, e.g.
    /// `/data`): scripts' `node:fs` calls under it (read and write whole
    /// files, list, stat, remove, rename, copy; also opened files and
    /// streams, held in memory until closed) are answered by `store`, in
    /// the sync, callback and promise forms alike. Paths elsewhere stay as
    /// the sandbox decides. A mount is not a grant of the real file system:
    /// nothing under `path` on the host's disk is reachable through it.
    /// Not available on [`Engine::Deno`] or [`Engine::Bun`]: `build()` says
    /// so with [`Error::InvalidInput`].
    ///
    /// ```no_run
    /// # async fn demo() -> outrigger_host::Result<()> {
    /// use outrigger_host::{MemoryStore, Pool, Script};
    /// let pool = Pool::builder().mount("/data", MemoryStore::new()).build().await?;
    /// let out = pool.run(Script::module(
    ///     "import fs from 'node:fs';\n\
    ///      fs.writeFileSync('/data/count.txt', '1');\n\
    ///      export default fs.readFileSync('/data/count.txt', 'utf8');",
    /// )).await?;
    /// # Ok(()) }
    /// ```
    pub fn mount(mut self, path: impl Into<String>, store: impl FileStore) -> Self {
        self.mounts.push(Mount {
            path: path.into(),
            store: Arc::new(store),
        });
        self
    }

    /// Refuses mount points scripts could not use as given: relative,
    /// unnormalized, the root, or one inside another.
    fn check_mounts(&self) -> Result<()> {
        for (i, mount) in self.mounts.iter().enumerate() {
            let path = &mount.path;
            let normal = path.starts_with('/')
                && path.len() > 1
                && !path.ends_with('/')
                && path[1..]
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != "..");
            if !normal {
                return Err(Error::InvalidInput(format!(
                    "PoolBuilder::mount({path:?}): a mount point is an absolute, normalized path other than \"/\" (e.g. \"/data\")"
                )));
            }
            for other in &self.mounts[..i] {
                let nested = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
                if nested(path, &other.path) || nested(&other.path, path) {
                    return Err(Error::InvalidInput(format!(
                        "PoolBuilder::mount({path:?}): it overlaps the mount at {:?}",
                        other.path
                    )));
                }
            }
        }
        if self.engine == Engine::Deno && !self.mounts.is_empty() {
            // A mount's reads and writes are synchronous on the file
            // channel, an inherited descriptor, which Deno's `node:fs`
            // cannot use (its descriptors are its own resource ids).
            return Err(Error::InvalidInput(
                "PoolBuilder::mount is not available on Engine::Deno: Deno's node:fs cannot read \
                 and write the file channel synchronously; use Engine::Node, or give scripts the \
                 files with Sandbox::allow_read/allow_write"
                    .into(),
            ));
        }
        if self.engine == Engine::Bun && !self.mounts.is_empty() {
            // The runtime serves mounts by reading and writing the file
            // channel synchronously through `node:fs` on its descriptor,
            // which Bun's sockets are not made for; not worked out on Bun.
            return Err(Error::InvalidInput(
                "PoolBuilder::mount is not available on Engine::Bun: the runtime's file channel \
                 is not served on Bun; use Engine::Node, or give scripts the files (trusted code \
                 on Bun reaches them anyway)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Refuses Bun unless the code is said to be trusted, and the settings
    /// Bun has no means for.
    fn check_bun(&self) -> Result<()> {
        if self.engine != Engine::Bun {
            return Ok(());
        }
        if self.sandbox.permission_model_enabled() {
            return Err(Error::InvalidInput(
                "Engine::Bun runs trusted code only: Bun has no permissions to hold a sandbox and \
                 no way to turn off code generation from strings, so a script reaches the whole \
                 worker process (its files, network and processes). Say the code is trusted with \
                 PoolBuilder::sandbox(Sandbox::none()), or use Engine::Node or Engine::Deno"
                    .into(),
            ));
        }
        if self.sandbox.heap_mb().is_some() {
            return Err(Error::InvalidInput(
                "Sandbox::max_heap_mb is not available on Engine::Bun: its engine \
                 (JavaScriptCore) has no heap limit; bound the whole worker with \
                 Sandbox::max_memory_mb"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Refuses built-ins allowed whole that the engine's sandbox cannot
    /// hold. Deno's permissions do not cover threads: a worker thread runs
    /// outside the script's context with the worker's own descriptors, its
    /// channel among them (Node's permission model refuses to start one).
    /// WASI is refused with it: Deno's `node:wasi` is not vouched for.
    fn check_builtins(&self) -> Result<()> {
        if self.engine != Engine::Deno || !self.sandbox.permission_model_enabled() {
            return Ok(());
        }
        for name in ["worker_threads", "wasi"] {
            if self.allowed_builtins.contains(name) {
                return Err(Error::InvalidInput(format!(
                    "PoolBuilder::allow_builtin(\"node:{name}\") is not available on Engine::Deno: \
                     Deno's permissions cannot keep it in the sandbox (trusted code may turn the \
                     sandbox off with Sandbox::permission_model(false))"
                )));
            }
        }
        Ok(())
    }

    /// Starts the workers (in parallel) and returns once all have answered.
    pub async fn build(mut self) -> Result<Pool> {
        if let Some(error) = self.registration_errors.first() {
            return Err(Error::Registration(error.clone()));
        }
        for name in std::mem::take(&mut self.approvals) {
            self.registry
                .require_approval(&name)
                .map_err(Error::Registration)?;
        }
        self.sandbox.check()?;
        self.check_bun()?;
        self.check_mounts()?;
        self.check_builtins()?;
        // Tool discovery (`host.$tools`) answers from the other callbacks.
        let tools = Arc::new(self.registry.declarations());
        for (decl, handler) in crate::discovery::builtins(tools) {
            self.registry
                .add_builtin(decl, handler)
                .map_err(Error::Registration)?;
        }
        let declarations = Declarations::from_decls(self.registry.declarations());
        let typescript = declarations
            .typescript()
            .map_err(|e| Error::Registration(e.to_string()))?;
        let max_workers = self.max_workers.unwrap_or(self.workers).max(self.workers);
        let memory_mb = self
            .sandbox
            .memory_mb()
            .unwrap_or_else(|| default_bound_mb(max_workers));
        let launch = self
            .engine
            .prepare(&EngineSettings {
                program: self.program.as_deref(),
                args: &self.engine_args,
                env: &self.env,
                sandbox: &self.sandbox,
                memory_mb,
                project: self.project.as_deref(),
                cached_preloads: if self.preload_cache {
                    &self.preloads
                } else {
                    &[]
                },
            })
            .await?;
        let program = launch.program();
        let checker = Arc::new(Checker::new(CheckerSettings {
            node: launch.node_for_tools(self.program.as_deref()),
            compiler: self.typescript_compiler.clone(),
            declarations: typescript.clone(),
            modules: self.modules.keys().cloned().collect(),
            project: self.project.as_deref().map(absolute_dir),
        }));
        if self.typecheck {
            // Asked for by default: a missing compiler fails now, and the
            // first check finds it warm.
            checker.warm().await?;
        }
        let memory = MemoryPolicy::new(memory_mb, self.sandbox.heap_mb(), self.memory_layers);
        let config = Arc::new(WorkerConfig {
            launch,
            init: self.init(memory_mb),
            startup_timeout: self.startup_timeout,
            max_message_bytes: self.max_message_bytes,
            script_cache_size: self.script_cache_size,
            cancel_grace: self.cancel_grace,
            registry: Arc::new(self.registry.clone()),
            mounts: self.mounts.clone().into(),
            memory: Arc::new(memory),
        });
        let counters = Arc::new(Counters::default());
        let (dispatcher, signals) = Dispatcher::new(
            self.workers,
            Limits {
                max_in_flight: self.max_in_flight_per_worker,
                queue_bound: self.queue_bound,
                queue_timeout: self.queue_timeout,
                recycle_after_runs: self.recycle_after_runs,
                blocked_after: (!self.blocked_after.is_zero()).then_some(self.blocked_after),
            },
            counters.clone(),
        );
        let ids = Arc::new(AtomicU64::new(1));
        let modules = Arc::new(ModuleRegistry::default());
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let supervisor = Arc::new(Supervisor {
            dispatcher: Arc::downgrade(&dispatcher),
            config,
            modules: modules.clone(),
            ids: ids.clone(),
            exits: exits_tx,
            counters,
            module_timeout: self.timeout,
            min_workers: self.workers,
            max_workers,
            idle_timeout: self.idle_timeout,
            recycle_above_heap: self.recycle_above_heap,
            recycle_above_memory: self
                .recycle_above_memory
                .unwrap_or(memory_mb * 1024 * 1024 / 4 * 3),
            starting: Default::default(),
        });
        let started = Instant::now();
        let starts: Vec<_> = (0..self.workers)
            .map(|_| {
                let supervisor = supervisor.clone();
                tokio::spawn(async move { supervisor.start_worker().await })
            })
            .collect();
        let mut workers = Vec::with_capacity(self.workers);
        let mut first_error = None;
        for start in starts {
            match start.await {
                Ok(Ok(worker)) => workers.push(worker),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(join) => {
                    first_error.get_or_insert(Error::Spawn {
                        program: program.clone(),
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
        let engine = workers.first().map(|w| w.engine.to_string());
        for (position, worker) in workers.into_iter().enumerate() {
            dispatcher.install(position, worker);
        }
        let health = Health {
            interval: self.health_interval,
            deadline: self
                .health_timeout
                .unwrap_or(self.timeout + self.cancel_grace + Duration::from_secs(5)),
            blocked_after: self.blocked_after,
            hang_timeout: self.hang_timeout,
        };
        // Its tasks keep it for as long as the dispatcher lives.
        supervisor.watch(exits, signals, health);
        tracing::info!(workers = self.workers, engine = engine.as_deref().unwrap_or(self.engine.name()), elapsed = ?started.elapsed(), "pool started");
        let runner = Runner::new(
            dispatcher,
            ids,
            RunDefaults {
                timeout: self.timeout,
                max_callback_calls: self.max_callback_calls,
                typecheck: self.typecheck,
            },
            checker,
        );
        Ok(Pool {
            inner: Arc::new(PoolInner {
                runner,
                modules,
                declarations,
                typescript,
            }),
        })
    }

    /// What each worker is told at start-up; `memory_mb` is the bound in force.
    fn init(&self, memory_mb: u64) -> Init {
        Init {
            modules: self
                .modules
                .iter()
                .map(|(name, code)| {
                    let module = RegisteredModule {
                        code: code.clone(),
                        key: script_key(ScriptKind::Module.as_str(), name, code),
                    };
                    (name.clone(), module)
                })
                .collect(),
            script_cache_size: self.script_cache_size.get(),
            max_message_bytes: self.max_message_bytes,
            spare_contexts: self.spare_contexts,
            callbacks: self.registry.paths(),
            watchdog_trust: self.watchdog_trust,
            call_site_frames: self.call_site_frames,
            project: self.project.as_deref().map(absolute_dir),
            preloads: self
                .preloads
                .iter()
                .map(|(name, specifier)| Preload {
                    name: name.clone(),
                    specifier: specifier.clone(),
                })
                .collect(),
            allow_builtins: self.allowed_builtins.clone(),
            sandbox: self.sandbox.init(memory_mb),
            mounts: self.mounts.iter().map(|m| m.path.clone()).collect(),
            isolation: match self.isolation {
                Isolation::Run => "run",
                Isolation::Worker => "worker",
            },
            heartbeat_ms: match self.blocked_after.as_millis() as u64 {
                0 => 0,
                ms => (ms / 3).max(1),
            },
        }
    }
}
