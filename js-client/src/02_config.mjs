// The worker's settings: defaults here, filled in by the host's `init`
// request (30_init.mjs), read everywhere else; and the engine it runs on.

/**
 * The engine running this worker: Node.js, or Deno or Bun through their
 * Node compatibility (whose `process.versions.node` names the Node.js they
 * imitate, not themselves).
 */
export const engine = Object.freeze(
  process.versions.deno !== undefined
    ? { name: 'deno', version: process.versions.deno, deno: true, bun: false }
    : process.versions.bun !== undefined
      ? { name: 'bun', version: process.versions.bun, deno: false, bun: true }
      : { name: 'node', version: process.versions.node, deno: false, bun: false },
);

export const config = {
  /** Modules scripts may import by name: name -> source. */
  modules: new Map(),
  /** Compiled scripts kept (content-addressed LRU). */
  scriptCacheSize: 256,
  /** Largest result, event or log line a run may send, in bytes. */
  maxMessageBytes: 64 * 1024 * 1024,
  /** Fresh contexts kept ready for plain runs. */
  spareContexts: 2,
  /** Callbacks the host offers: { name, path: [namespace?, jsName] }. */
  callbacks: [],
  /** 'run': a fresh context per plain run; 'worker': plain runs share one. */
  isolation: 'run',
  /** Quick runs after which code runs without the engine's watchdog (0: never). */
  watchdogTrust: 3,
  /** Frames of the script's stack a callback call keeps (`PoolBuilder::call_site_frames`). */
  callSiteFrames: 1,
  /** While runs are in progress, a `beat` goes out when nothing else did for this long (ms; 0: never). */
  heartbeatMs: 0,
  /** The project directory (absolute) packages and relative imports resolve from, if any. */
  project: undefined,
  /** Modules imported into every context before code runs: [{ name, specifier }]. */
  preloads: [],
  /** Node built-in modules scripts and their dependencies may import, by bare name. */
  allowBuiltins: new Set(),
  /** URL patterns `fetch` may reach (Sandbox::allow_fetch), parsed: none by default. */
  fetchAllow: [],
  /** Paths scripts' `node:fs` may read beside the project (Sandbox::allow_read), absolute. */
  readPaths: [],
  /** Paths scripts' `node:fs` may write and read (Sandbox::allow_write), absolute. */
  writePaths: [],
  /** Mount points of the host's file stores (PoolBuilder::mount), absolute, by number. */
  mounts: [],
  /** Console output one run may send, in bytes of JSON (Sandbox::max_console_bytes; 0: no limit). */
  maxConsoleBytes: 8 * 1024 * 1024,
  /** The bound on this worker's whole memory in MiB (Sandbox::max_memory_mb), named by the errors it causes. */
  maxMemoryMb: undefined,
};
