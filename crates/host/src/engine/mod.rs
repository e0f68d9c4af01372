//! Engines: everything that depends on which JavaScript engine runs the
//! workers sits behind [`Engine`]. Its job is to turn the pool's settings
//! into a [`Launch`] (the command line, the sandbox mapped onto the engine's
//! own means, the runtime program), and to say which versions it accepts.
//! The rest of this module is what every process engine shares: starting a
//! process with its channel ([`spawn`]), the channel ([`connection`],
//! [`outbox`]), the callbacks a worker asks for ([`calls`]), the file
//! stores it reads and writes under its mounts ([`mounts`]), the bound on a
//! worker's whole memory ([`memory`]), and the worker itself ([`worker`])
//! with its [`lifecycle`].

mod answer;
mod approval;
mod bun;
mod calls;
mod clock;
mod connection;
mod deno;
mod id_map;
mod lifecycle;
mod memory;
mod mounts;
mod node;
mod outbox;
mod preload_cache;
mod process;
#[cfg(feature = "quickjs")]
mod quickjs;
mod replies;
mod runtime;
mod script_cache;
mod socket;
mod spawn;
mod worker;

use std::ffi::OsString;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use clock::{coarse_millis, monotonic_micros, Reading};
pub(crate) use connection::Reply;
pub(crate) use lifecycle::Cause;
pub(crate) use memory::{default_bound_mb, Layers as MemoryLayers, MemoryPolicy};
pub(crate) use mounts::Mount;
pub use preload_cache::corrupt_preload_caches;
pub(crate) use replies::{channel as reply_channel, Replies, ReplySender};
pub(crate) use spawn::EngineCommand;
pub(crate) use worker::{Exited, Worker};

use crate::callbacks::Registry;
use crate::error::Result;
use crate::sandbox::Sandbox;
use crate::wire::methods::Init;
use crate::wire::{Hello, PROTOCOL_VERSION};

/// The JavaScript engine a pool's workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Engine {
    /// Node.js 20 or newer, from `PATH` or
    /// [`PoolBuilder::node`](crate::PoolBuilder::node). The default.
    #[default]
    Node,
    /// Deno 2 or newer, from `PATH` or
    /// [`PoolBuilder::engine_path`](crate::PoolBuilder::engine_path). It runs
    /// the same worker runtime through its Node.js compatibility, and maps
    /// the sandbox onto its own permissions, which also cover the network
    /// (`Sandbox::allow_fetch` hosts become `--allow-net`). docs/ENGINES.md
    /// lists what differs.
    Deno,
    /// Bun 1 or newer, from `PATH` or
    /// [`PoolBuilder::engine_path`](crate::PoolBuilder::engine_path), for
    /// trusted code only: Bun has no permissions and cannot turn off code
    /// generation from strings, so `build()` refuses it with
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) unless the
    /// sandbox is [`Sandbox::none`](crate::Sandbox::none). It runs the same
    /// worker runtime through its Node.js compatibility; docs/ENGINES.md
    /// lists what differs, SECURITY.md why it cannot be a sandbox.
    Bun,
    /// QuickJS (quickjs-ng, through rquickjs) inside the host: each worker
    /// is an engine thread with its own QuickJS runtime, so no engine
    /// program is needed. Needs the `quickjs` feature. See the engine table
    /// in the README for what its scripts have, and SECURITY.md for what
    /// isolates them.
    #[cfg(feature = "quickjs")]
    QuickJs,
}

impl Engine {
    /// The engine's name, as errors and tracing say it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Node => "Node.js",
            Engine::Deno => "Deno",
            Engine::Bun => "Bun",
            #[cfg(feature = "quickjs")]
            Engine::QuickJs => "QuickJS",
        }
    }

    /// Prepares the command that starts this engine's workers.
    pub(crate) async fn prepare(self, settings: &EngineSettings<'_>) -> Result<Launch> {
        match self {
            Engine::Node => node::prepare(settings).await,
            Engine::Deno => deno::prepare(settings).await,
            Engine::Bun => bun::prepare(settings).await,
            #[cfg(feature = "quickjs")]
            Engine::QuickJs => Ok(Launch::InProcess(quickjs::Launch::new(settings.memory_mb))),
        }
    }
}

/// An engine and its version, in [`Stats::engine`](crate::Stats::engine).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineInfo {
    /// The engine.
    pub engine: Engine,
    /// As the engine says it: `22.3.0` (Node.js), `2.9.6` (Deno), `1.4.5` (Bun),
    /// `quickjs-ng 0.16.2`.
    pub version: String,
}

impl EngineInfo {
    pub(crate) fn new(engine: Engine, version: String) -> Self {
        EngineInfo { engine, version }
    }
}

impl std::fmt::Display for EngineInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.engine.name(), self.version)
    }
}

/// What the pool tells an engine about the workers it wants.
#[derive(Debug)]
pub(crate) struct EngineSettings<'a> {
    /// The program the user named, if any.
    pub(crate) program: Option<&'a Path>,
    /// Extra command-line arguments from the user.
    pub(crate) args: &'a [OsString],
    /// Environment variables from the user (besides the sandbox's passthrough).
    pub(crate) env: &'a [(OsString, OsString)],
    pub(crate) sandbox: &'a Sandbox,
    /// The bound on a worker's whole memory, in MiB (the sandbox's, or the
    /// default for the pool's size).
    pub(crate) memory_mb: u64,
    /// The project directory, readable by workers.
    pub(crate) project: Option<&'a Path>,
    /// The preloads (name, specifier) whose code cache the host keeps for
    /// later workers, where the engine has one (none: no cache).
    pub(crate) cached_preloads: &'a [(String, String)],
}

impl EngineSettings<'_> {
    /// The worker's whole environment: the sandbox's passthrough, then the
    /// user's variables (the engine's own come after, where it needs any).
    pub(crate) fn worker_env(&self) -> Vec<(OsString, OsString)> {
        self.sandbox
            .env()
            .into_iter()
            .chain(self.env.iter().cloned())
            .collect()
    }
}

/// The names in `env`, sorted, once each: for engines whose runtime reads
/// the user's variables by name (they are its arguments), because the
/// engine lists none (Deno without every variable allowed) or adds its own
/// (Bun).
pub(crate) fn env_names(env: &[(OsString, OsString)]) -> Vec<OsString> {
    let mut names: Vec<OsString> = env.iter().map(|(name, _)| name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// A prepared engine: how to start one of its workers.
#[derive(Debug, Clone)]
pub(crate) enum Launch {
    /// Each worker is a process.
    Process(ProcessLaunch),
    /// Each worker is a thread of the host running QuickJS.
    #[cfg(feature = "quickjs")]
    InProcess(quickjs::Launch),
}

impl Launch {
    /// The Node.js that runs tools beside the workers (the type checker):
    /// the workers' own, else (QuickJS) the one named, else `node` from `PATH`.
    #[cfg_attr(not(feature = "quickjs"), allow(unused_variables))]
    pub(crate) fn node_for_tools(&self, named: Option<&Path>) -> std::path::PathBuf {
        match self {
            Launch::Process(launch) if launch.engine == Engine::Node => {
                launch.command.program.clone()
            }
            Launch::Process(_) => "node".into(),
            #[cfg(feature = "quickjs")]
            Launch::InProcess(_) => named.map_or_else(|| "node".into(), Path::to_path_buf),
        }
    }

    /// What the engine is, for errors: the program, or the in-process engine.
    pub(crate) fn program(&self) -> String {
        match self {
            Launch::Process(launch) => launch.command.program.display().to_string(),
            #[cfg(feature = "quickjs")]
            Launch::InProcess(_) => quickjs::PROGRAM.to_owned(),
        }
    }
}

/// How to start one process of an engine, and which of its versions may
/// serve.
#[derive(Debug, Clone)]
pub(crate) struct ProcessLaunch {
    pub(crate) engine: Engine,
    pub(crate) command: EngineCommand,
    /// The oldest major version that may serve.
    pub(crate) min_major: u32,
    /// Whether a line the engine wrote to stderr says it ran out of memory.
    pub(crate) out_of_memory: fn(&str) -> Option<memory::EngineOutOfMemory>,
    /// A directory the engine keeps its own files in while the pool lives.
    pub(crate) _private_dir: Option<Arc<deno::PrivateDir>>,
    /// The code cache of the preloads, handed to each worker started.
    pub(crate) preload_cache: Option<Arc<preload_cache::PreloadCache>>,
}

impl ProcessLaunch {
    /// Checks a worker's answer to `init`: its version (returned) and the
    /// protocol it speaks.
    pub(crate) fn check(&self, hello: &Hello) -> Result<String, String> {
        let major = hello
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        if major < self.min_major || hello.protocol != PROTOCOL_VERSION {
            return Err(format!(
                "found {} {} (protocol {}), but outrigger needs {} {} or newer (protocol {})",
                self.engine.name(),
                hello.version,
                hello.protocol,
                self.engine.name(),
                self.min_major,
                PROTOCOL_VERSION
            ));
        }
        Ok(hello.version.clone())
    }
}

/// Settings every worker of a pool shares.
#[derive(Debug)]
pub(crate) struct WorkerConfig {
    pub(crate) launch: Launch,
    /// What each worker is told at start-up.
    pub(crate) init: Init,
    pub(crate) startup_timeout: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) script_cache_size: NonZeroUsize,
    pub(crate) cancel_grace: Duration,
    pub(crate) registry: Arc<Registry>,
    /// The host's file stores, by mount point (`PoolBuilder::mount`).
    pub(crate) mounts: Arc<[Mount]>,
    pub(crate) memory: Arc<MemoryPolicy>,
}
