// Node's built-in modules, as scripts and the packages they load see them.
// The sandbox withholds capabilities, not features: every built-in can be
// imported; what it does decides what a script gets.
//
// - Pure modules (events, util, path, stream, zlib, crypto, ...) are Node's
//   own, frozen (a script cannot change them for other runs, nor for the
//   worker, whose channel is a stream and an event emitter), with the few
//   members that would reach the process or other runs left out or made the
//   context's own: `process`, `buffer`, `console`, `timers` and
//   `diagnostics_channel` are each context's, `async_hooks` offers
//   AsyncLocalStorage but no hooks.
// - Capability modules (files, network, processes, threads, `vm`, `v8`,
//   the inspector, ...) import fine, and each function refuses when called,
//   with an error naming the setting that would allow it.
// - `PoolBuilder::allow_builtin` gives the worker's own module, whole.
//
// SECURITY.md says why each module is where it is.

import { config } from './02_config.mjs';
import { ImportFailure, deniedIn } from './05_errors.mjs';
import { harden } from './10_sharing.mjs';
import { PURE, pureView, workerRequire } from './15_pure.mjs';
import { lazyWebGlobal } from './18_realm.mjs';

/** Modules of the network: `fetch`, through the allowlist, is the way out. */
const NETWORK = new Set([
  'net', 'http', 'https', 'http2', 'tls', 'dgram', 'dns', 'dns/promises', '_http_agent', '_http_client',
  '_http_common', '_http_incoming', '_http_outgoing', '_http_server', '_tls_common', '_tls_wrap', '_stream_wrap',
]);

/** Modules whose import would load something a script may not: listed, not loaded. */
const NOT_LOADED = new Set(['test', 'test/reporters', 'sea', 'sqlite', 'inspector/promises']);

/**
 * The module a script gets for the built-in `name` (a bare name), in the
 * context of `state`. `specifier` and `referrer` name the import in errors.
 */
export function builtinFor(state, name, specifier, referrer) {
  // Built-in modules hand out objects of the worker's realm.
  state.ensureChecks();
  if (config.allowBuiltins.has(name)) return allowedView(name);
  const cached = state.builtins.get(name);
  if (cached !== undefined) return cached;
  const module = contextModule(state, name) ?? (PURE.has(name) ? pureView(name) : deniedModule(state, name));
  if (module === undefined) {
    throw new ImportFailure(specifier, referrer, `no built-in module "${specifier}" is known`);
  }
  state.builtins.set(name, module);
  return module;
}

/** What `PoolBuilder::allow_builtin` gives: the worker's own module (an object one as a frozen copy). */
const allowedViews = new Map();
function allowedView(name) {
  let view = allowedViews.get(name);
  if (view === undefined) {
    const real = workerRequire(`node:${name}`);
    view = typeof real === 'object' && real !== null ? Object.freeze({ ...real }) : real;
    allowedViews.set(name, view);
  }
  return view;
}

/** Modules every context has its own of, or undefined for the others. */
function contextModule(state, name) {
  switch (name) {
    case 'process':
      return state.made('process');
    case 'buffer':
      return state.made('buffer');
    case 'fs':
      return state.made('fs').fs;
    case 'fs/promises':
      return state.made('fs').promises;
    case 'console':
      return consoleModule(state);
    case 'timers':
      return timersModule(state);
    case 'timers/promises':
      return state.made('timerPromises');
    case 'diagnostics_channel':
      return state.made('diagnosticsChannel');
    case 'perf_hooks':
      return perfHooksModule(state);
    case 'async_hooks':
      return asyncHooksModule(state);
    case 'util':
      return utilModule(state);
    case 'crypto':
      return cryptoModule(state);
    case 'stream/consumers':
      return state.made('streamConsumers');
    case 'tty':
      return ttyModule(state);
    case 'os':
      return osModule(state);
    case 'worker_threads':
      return workerThreadsModule(state);
    default:
      return undefined;
  }
}

function consoleModule(state) {
  const console = state.made('console');
  return { ...console, Console: function Console() { return console; }, default: undefined };
}

function timersModule(state) {
  const g = state.globals;
  return {
    setTimeout: g.setTimeout,
    clearTimeout: g.clearTimeout,
    setInterval: g.setInterval,
    clearInterval: g.clearInterval,
    setImmediate: g.setImmediate,
    clearImmediate: g.clearImmediate,
    promises: state.made('timerPromises'),
  };
}

function perfHooksModule(state) {
  const real = pureView('perf_hooks');
  return {
    performance: state.made('perf').performance,
    PerformanceObserver: state.made('perf').PerformanceObserver,
    monitorEventLoopDelay: real.monitorEventLoopDelay,
    createHistogram: real.createHistogram,
    constants: real.constants,
  };
}

function asyncHooksModule(state) {
  const real = pureView('async_hooks');
  const denied = (member) => () => {
    throw deniedIn(state, `node:async_hooks.${member}()`, 'it would see every run of the worker', 'is not available to scripts');
  };
  return {
    AsyncLocalStorage: real.AsyncLocalStorage,
    AsyncResource: real.AsyncResource,
    executionAsyncId: real.executionAsyncId,
    triggerAsyncId: real.triggerAsyncId,
    createHook: denied('createHook'),
    executionAsyncResource: denied('executionAsyncResource'),
  };
}

function utilModule(state) {
  const real = pureView('util');
  const encoding = state.made('encoding');
  return {
    ...real,
    TextEncoder: encoding.TextEncoder,
    TextDecoder: encoding.TextDecoder,
    // Its default arguments would be the worker's command line.
    parseArgs: (options = {}) => real.parseArgs({ args: [], ...options }),
  };
}

function cryptoModule(state) {
  const real = pureView('crypto');
  const web = state.made('crypto');
  return { ...real, webcrypto: web, subtle: web.subtle, getRandomValues: (array) => web.getRandomValues(array) };
}

function ttyModule(state) {
  const deny = denier(state, 'tty');
  // No terminal: the worker's stdio is not one, and a script has none.
  return { isatty: () => false, ReadStream: deny('ReadStream'), WriteStream: deny('WriteStream') };
}

/** `os`: what the platform is, as `process` says; nothing about the host. */
function osModule(state) {
  const real = workerRequire('node:os');
  const deny = denier(state, 'os');
  const module = {};
  for (const key of Object.keys(real)) {
    module[key] = typeof real[key] === 'function' ? deny(key, real[key]) : undefined;
  }
  return {
    ...module,
    EOL: real.EOL,
    devNull: real.devNull,
    constants: real.constants,
    platform: () => process.platform,
    arch: () => process.arch,
    type: () => real.type(),
    endianness: () => real.endianness(),
    availableParallelism: () => 1,
  };
}

/** Helpers of `worker_threads` that only mark or read the objects given them. */
const THREAD_HELPERS = ['markAsUncloneable', 'markAsUntransferable', 'isMarkedAsUntransferable', 'receiveMessageOnPort'];

let threadHelpers;
function workerThreadsModule(state) {
  if (threadHelpers === undefined) {
    const real = workerRequire('node:worker_threads');
    threadHelpers = Object.fromEntries(THREAD_HELPERS.filter((name) => typeof real[name] === 'function').map((name) => [name, real[name]]));
    harden(threadHelpers);
  }
  const helpers = threadHelpers;
  // The worker's environment data is one map for the process: each context has its own.
  const environment = new Map();
  return {
    ...deniedModule(state, 'worker_threads'),
    ...helpers,
    getEnvironmentData: (key) => environment.get(key),
    setEnvironmentData: (key, value) => {
      if (value === undefined) environment.delete(key);
      else environment.set(key, value);
    },
    isMainThread: true,
    parentPort: null,
    workerData: null,
    threadId: 0,
    resourceLimits: {},
    MessageChannel: lazyWebGlobal('MessageChannel'),
    MessagePort: lazyWebGlobal('MessagePort'),
  };
}

/** The setting that would give a script what module `name` does. */
function settingFor(name) {
  if (NETWORK.has(name)) return 'the network is reached through fetch: Sandbox::allow_fetch';
  return `PoolBuilder::allow_builtin("node:${name}")`;
}

/** Makes functions that refuse when called (and constructed), one per member of `name`. */
export function denier(state, name) {
  const setting = settingFor(name);
  return (member, original) => {
    const denied = {
      [member]: function () {
        throw deniedIn(state, `node:${name}.${member}()`, setting);
      },
    }[member];
    if (original !== undefined) {
      try {
        Object.defineProperty(denied, 'length', { value: original.length });
      } catch {
        // Only cosmetic.
      }
    }
    return denied;
  };
}

/**
 * A capability module as a script gets it: the same export names, each
 * function refusing when called; plain constants kept.
 */
function deniedModule(state, name) {
  const deny = denier(state, name);
  if (NOT_LOADED.has(name)) return {};
  let real;
  try {
    real = workerRequire(`node:${name}`);
  } catch {
    return undefined;
  }
  return stubOf(real, name, deny, 0);
}

function stubOf(real, name, deny, depth) {
  const stub = {};
  for (const key of Object.keys(real)) {
    const value = real[key];
    if (typeof value === 'function') {
      stub[key] = deny(key, value);
    } else if (value === null || typeof value !== 'object') {
      stub[key] = value;
    } else if (depth < 2 && isPlainData(value)) {
      stub[key] = structuredClone(value);
    } else if (depth < 2 && Object.getPrototypeOf(value) === Object.prototype) {
      stub[key] = stubOf(value, `${name}.${key}`, (member, original) => deny(`${key}.${member}`, original), depth + 1);
    } else {
      stub[key] = Object.freeze({});
    }
  }
  return stub;
}

/** Whether `value` is JSON-like data (constants, status codes), to be copied. */
function isPlainData(value, depth = 0) {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol';
  if (depth > 4) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  return Object.values(value).every((item) => isPlainData(item, depth + 1));
}
