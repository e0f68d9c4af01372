//! What a worker answers to `init`, `module.load` and `stats`.

use serde::Deserialize;

/// The answer to `init`.
#[derive(Debug, Deserialize)]
pub(crate) struct Hello {
    /// The protocol version the runtime speaks.
    pub(crate) protocol: u32,
    /// The engine's version (`22.3.0`).
    pub(crate) version: String,
    /// The worker's monotonic clock, in microseconds, when it answered: start
    /// deadlines are written in it (see `methods::Run::start_by`).
    #[serde(default)]
    pub(crate) clock: Option<u64>,
}

/// The answer to `module.load`.
#[derive(Debug, Deserialize)]
pub(crate) struct Loaded {
    /// The names the module exports.
    pub(crate) exports: Vec<String>,
}

/// One worker's own counters, from [`Pool::worker_stats`](crate::Pool::worker_stats).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
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
    /// Modules compiled without a code cache (CommonJS files included).
    pub module_compiles: u64,
    /// Modules compiled with V8's code cache from an earlier compile
    /// (CommonJS wrappers reused included).
    pub module_cache_hits: u64,
    /// Project files read from disk (a file is read again only when it changed).
    #[serde(default)]
    pub file_reads: u64,
    /// Runs and calls in progress.
    pub runs: u64,
    /// Open sessions.
    pub sessions: u64,
    /// Loaded modules (pool-wide and per session).
    pub loaded_modules: u64,
    /// Fresh contexts prepared ahead for plain runs.
    #[serde(default)]
    pub spare_contexts: u64,
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
    /// Requests of runs by key (nearly every run of a script the worker
    /// has compiled) read in the one shape the host writes them, without
    /// the JSON parser. Every other line is parsed as JSON.
    #[serde(default)]
    pub fast_run_lines: u64,
}
