// Contexts: one realm per plain run, per session, per loaded module, and
// what belongs to each (its timers, the modules imported into it).

import vm from 'node:vm';
import { nowMs } from './01_clock.mjs';
import { config } from './02_config.mjs';
import { currentRun } from './06_current_run.mjs';
import { sendLog, sendEvent } from './07_console.mjs';
import { callHost } from './08_host_calls.mjs';
import { CODES } from './00_codes.mjs';
import { processParts } from './12_node.mjs';
import { fileParts } from './17_files.mjs';
import { bootstrapScript, sharedParts, runFetch, openWebSocket, lazyWebGlobal, contextGlobals, lendEventClasses, makerIn } from './18_realm.mjs';

let nextTimerId = 1;

/**
 * A context and what belongs to it: its timers, the modules imported into it,
 * and who its logs belong to when no run is current. Made by `createContext`
 * (25_preloads.mjs), which also starts importing the pool's preloads into it.
 */
export class ContextState {
  constructor(project = config.project) {
    this.timers = new Map();
    /** Module instances of this context, by registered name, `node:` name or file path. */
    this.modules = new Map();
    /** CommonJS `module` objects of this context, by file path. */
    this.commonjs = new Map();
    // CommonJS files searched for ES modules they require (23_commonjs.mjs),
    // and the ES modules that failed to load ahead for a require().
    this.scanned = new Set();
    this.requireFailures = new Map();
    /** Built-in modules as this context's scripts see them, by bare name. */
    this.builtins = new Map();
    /** The directory packages and relative imports of string scripts resolve from. */
    this.project = project;
    /** The guard of the script's `node:fs` (17_files.mjs), once it is used. */
    this.files = undefined;
    /** WebSockets opened here and not closed yet: closed with the context. */
    this.sockets = new Set();
    this.disposed = false;
    /** The run that started last here: whose `signal` a callback outside any run sees. */
    this.lastRun = undefined;
    /** This context's copies of shared code that calls `import()`, by the shared script (see `scriptIn`). */
    this.ownScripts = new WeakMap();
    this.context = vm.createContext({}, { codeGeneration: { strings: true, wasm: true } });
    const state = this;
    const bridge = {
      callbacks: config.callbacks,
      callSiteFrames: config.callSiteFrames,
      now: nowMs,
      log: (level, args) => {
        // Past the console limit: thrown, so that a synchronous loop of logging stops.
        if (!sendLog(level, args, state)) throw currentRun(state).endReason;
      },
      emit: (name, data) => sendEvent(name, data, state),
      call: (method, params, site) => callHost(method, params, state, site),
      signal: () => {
        lendEventClasses();
        return currentRun(state)?.controller.signal;
      },
      fetch: (input, init) => runFetch(input, init, state),
      // What runs in the realm besides the bootstrap, brought in when first needed.
      maker: (name) => (state.makers ??= {})[name] ??= makerIn(state.context, name),
      lent: (name) => lazyWebGlobal(name),
      get webSocketClass() {
        return lazyWebGlobal('WebSocket');
      },
      openWebSocket: (url, protocols) => openWebSocket(url, protocols, state),
      setTimer: (callback, delay, args, repeat) => state.setTimer(callback, delay, args, repeat),
      clearTimer: (id) => state.clearTimer(id),
      // The guard of the script's `node:fs`, made on first use.
      get fileParts() {
        state.files ??= fileParts(state);
        return state.files;
      },
      // For the script's `process`, made on first use.
      get processParts() {
        return processParts(state.project);
      },
      exit: (code) => {
        const run = currentRun(state);
        run?.end(CODES.EXIT, `the script called process.exit(${Number(code) | 0})`, { exitCode: Number(code) | 0 });
        throw run?.endReason ?? new state.Error('process.exit() was called outside a run');
      },
      hrtime: () => process.hrtime.bigint(),
      uptime: () => process.uptime(),
      memoryUsage: () => process.memoryUsage(),
    };
    const intrinsics = bootstrapScript.runInContext(this.context)(bridge, sharedParts);
    this.jsonParse = intrinsics.parse;
    /** The context's `Uint8Array`: binary values it receives are of its realm. */
    this.Uint8Array = intrinsics.global.Uint8Array;
    /** Puts the context's cross-realm instance checks in place (once). */
    this.ensureChecks = intrinsics.ensureChecks;
    // Read through the global object, or, for what is defined on it itself
    // (`console`), through the object node keeps its properties on.
    contextGlobals.set(intrinsics.global, intrinsics.globalValue);
    contextGlobals.set(this.context, intrinsics.globalValue);
    this.Error = intrinsics.Error;
    this.makeRequire = intrinsics.makeRequire;
    /** Builds (once) what the context makes on first use: `made('process')`, `made('buffer')`. */
    this.made = intrinsics.made;
    /** The script-facing globals (console, timers), for the built-in modules that offer them. */
    this.globals = intrinsics.globals;
    /** While the preloads are being imported: the promise of it; then null. */
    this.ready = null;
  }

  setTimer(callback, delay, args, repeat) {
    if (this.disposed) return 0;
    const id = nextTimerId++;
    const fire = () => {
      if (!repeat) this.timers.delete(id);
      try {
        callback(...args);
      } catch (error) {
        sendLog('error', ['Uncaught exception in timer callback:', error], this);
      }
    };
    const handle = repeat ? setInterval(fire, delay) : setTimeout(fire, delay);
    this.timers.set(id, handle);
    return id;
  }

  clearTimer(id) {
    const handle = this.timers.get(id);
    if (handle === undefined) return;
    clearTimeout(handle);
    clearInterval(handle);
    this.timers.delete(id);
  }

  dispose() {
    this.disposed = true;
    for (const handle of this.timers.values()) {
      clearTimeout(handle);
      clearInterval(handle);
    }
    this.timers.clear();
    this.modules.clear();
    this.commonjs.clear();
    this.scanned.clear();
    this.requireFailures.clear();
    this.builtins.clear();
    this.files?.closeAll();
    for (const socket of this.sockets) socket.close();
    this.sockets.clear();
  }
}
