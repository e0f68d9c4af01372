// The three jobs that execute code, each a thin description for
// `execute` (27_lifecycle.mjs): run a script, load a module, call an
// export of a loaded module.

import vm from 'node:vm';
import { CODES } from './00_codes.mjs';
import { nowMs, hostMicrosAt } from './01_clock.mjs';
import { respondError } from './03_channel.mjs';
import { toJsonText, withFrames } from './04_json.mjs';
import { RunEnded, respondThrown } from './05_errors.mjs';
import { compileScript, compileModule, scriptIn, watchdogFor, noteSyncTime, lruGet, lruSet } from './20_compile.mjs';
import { linkerFor, dynamicImport } from './24_imports.mjs';
import { createContext } from './25_preloads.mjs';
import { execute } from './27_lifecycle.mjs';
import { contextFor, sessionContext, loadedModule, keepLoadedModule } from './28_sessions.mjs';

/**
 * Whether a request read at `now` (ms, `nowMs`) came too late to start: past
 * its `startBy` (µs on the monotonic clock) the host may already have sent
 * it to another worker, so it is refused, never run twice. Only requests the
 * host can move carry one.
 */
function tooLate(id, params, now) {
  if (params.startBy === undefined || hostMicrosAt(now) <= params.startBy) return false;
  respondError(id, CODES.NOT_STARTED, 'not started: the worker was busy past the start deadline; the host runs it elsewhere');
  return true;
}

/** A result's JSON text, its binary values pushed to `frames`. */
const encodeResult = (value, frames) => toJsonText(value, 'value', frames);

/**
 * The kind and name of each script run here, by key, kept by the rule and
 * to the size of the host's mirror of the compiled scripts
 * (`engine/script_cache.rs`): a run the host sends by key alone leaves them
 * out, as its line is parsed on every run.
 */
const runNames = new Map();

/**
 * Completes `params` of a run sent by key alone with its kind and name;
 * false (answered) when this worker does not know the key or they are
 * missing from a run with its source.
 */
function withKindAndName(id, params) {
  if (params.kind !== undefined && params.name !== undefined) {
    if (typeof params.code === 'string') lruSet(runNames, params.key, { kind: params.kind, name: params.name });
    else lruGet(runNames, params.key);
    return true;
  }
  if (typeof params.code === 'string') {
    respondError(id, CODES.INVALID_PARAMS, 'params of "run" with its code need kind, name');
    return false;
  }
  const known = lruGet(runNames, params.key);
  if (known === undefined) {
    respondError(id, CODES.UNKNOWN_SCRIPT, `script ${params.key} is not cached here`);
    return false;
  }
  params.kind = known.kind;
  params.name = known.name;
  return true;
}

/** `run`: a classic script or a module, in a fresh context, the shared one or a session's. */
export function runScript(id, params) {
  // One reading of the clock serves the start deadline, the run's own
  // deadline and its synchronous part's time.
  const now = nowMs();
  if (!withKindAndName(id, params) || tooLate(id, params, now)) return;
  let target;
  try {
    target = contextFor(params.session);
  } catch (thrown) {
    return respondThrown(id, thrown, params.name);
  }
  const { state, owned } = target;
  execute(id, {
    state,
    owned,
    name: params.name,
    timeout: params.timeout,
    maxCallbacks: params.maxCallbacks,
    started: now,
    body: (run) => runBody(run, state, params),
    encode: encodeResult,
  });
}

/** Sets a run's globals and evaluates it: its value, or a promise of it. */
function runBody(run, state, params) {
  if (params.globals) {
    const globals = withFrames(state.jsonParse(params.globals), params.frames, state.Uint8Array);
    for (const name of Object.keys(globals)) state.context[name] = globals[name];
  }
  if (params.kind === 'module') return evaluateModule(run, state, params);
  const script = scriptIn(state, compileScript(params, dynamicImport), params, dynamicImport);
  const options = watchdogFor(params.key, params.timeout);
  const value = script.runInContext(state.context, options);
  // Timed from the body's start: globals or a compile that take long cost
  // the script its trust, and a watchdog costs little beside them.
  noteSyncTime(params.key, run.bodyStarted, options);
  return value;
}

async function evaluateModule(run, state, params) {
  const module = compileModule(state, params, dynamicImport);
  await Promise.race([module.link(linkerFor(state)), run.ended]);
  const started = nowMs();
  const options = watchdogFor(params.key, params.timeout);
  const evaluated = module.evaluate(options);
  noteSyncTime(params.key, started, options);
  await Promise.race([evaluated, run.ended]);
  return module.namespace.default;
}

/**
 * `module.load`: a module kept under a handle for later calls, in a session's
 * context or in a context of its own, which it keeps once loaded.
 */
export function loadModule(id, params) {
  const own = params.session === undefined || params.session === null;
  let state;
  try {
    state = own ? createContext() : sessionContext(params.session);
  } catch (thrown) {
    return respondThrown(id, thrown, params.name);
  }
  execute(id, {
    state,
    owned: false,
    name: params.name,
    timeout: params.timeout,
    maxCallbacks: params.maxCallbacks,
    // The module itself, not its namespace: a namespace with a `then` export would be awaited.
    body: async (run) => {
      const module = compileModule(state, params, dynamicImport);
      await Promise.race([module.link(linkerFor(state)), run.ended]);
      await Promise.race([module.evaluate(params.timeout > 0 ? { timeout: params.timeout } : {}), run.ended]);
      return module;
    },
    encode: (module) => JSON.stringify({ exports: Object.keys(module.namespace) }),
    succeeded: (module) => keepLoadedModule(params.handle, { namespace: module.namespace, state, owned: own, name: params.name }),
    failed: () => {
      if (own) state.dispose();
    },
  });
}

/** `call`: an export of a loaded module, with JSON arguments. */
export function callExport(id, params) {
  const now = nowMs();
  if (tooLate(id, params, now)) return;
  const loaded = loadedModule(params.handle);
  if (loaded === undefined) return respondError(id, CODES.NOT_FOUND, `module ${params.handle} is not loaded on this worker`);
  const { state, namespace } = loaded;
  execute(id, {
    state,
    owned: false,
    name: loaded.name,
    timeout: params.timeout,
    maxCallbacks: params.maxCallbacks,
    started: now,
    body: (run) => {
      const fn = namespace[params.export];
      if (typeof fn !== 'function') {
        const names = Object.keys(namespace).filter((k) => typeof namespace[k] === 'function');
        throw new RunEnded(CODES.NOT_FOUND, `module "${loaded.name}" has no exported function "${params.export}"`
          + ` (exported functions: ${names.length ? names.join(', ') : 'none'})`);
      }
      const args = params.args ? withFrames(state.jsonParse(params.args), params.frames, state.Uint8Array) : [];
      return callWithTimeout(state, () => fn(...args), params.timeout, `call:${params.handle}:${params.export}`, run.bodyStarted);
    },
    encode: encodeResult,
  });
}

const callScript = new vm.Script('globalThis[Symbol.for("outrigger.call")]()', { filename: 'outrigger:call' });

/**
 * Calls `thunk` inside `state`'s context, under the engine's watchdog for the
 * synchronous part, which starts at `started` (ms).
 */
function callWithTimeout(state, thunk, timeout, key, started) {
  const options = watchdogFor(key, timeout);
  if (options.timeout === undefined) {
    const value = thunk();
    noteSyncTime(key, started, options);
    return value;
  }
  const slot = Symbol.for('outrigger.call');
  Object.defineProperty(state.context, slot, { value: thunk, configurable: true });
  try {
    const value = callScript.runInContext(state.context, options);
    noteSyncTime(key, started, options);
    return value;
  } finally {
    delete state.context[slot];
  }
}
