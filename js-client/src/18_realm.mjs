// The realm's API: what every context is given. The script-facing globals
// are built inside the context's own realm by `contextBootstrap`: console,
// timers, `host`, and the APIs whose results a script keeps (encoders,
// `structuredClone`, the fetch family, crypto, `Buffer`, `process`), made on
// first use from 11_buffer.mjs, 12_node.mjs and 13_web.mjs. Web APIs whose
// objects carry no script data are lent from the worker's realm, frozen,
// through descriptors made once; `fetch` is lent through the sandbox's policy.

import vm from 'node:vm';
import { config, engine } from './02_config.mjs';
import { denial } from './05_errors.mjs';
import { activeRun, currentRun } from './06_current_run.mjs';
import { guardedFetch, fetchAllowed } from './09_fetch_policy.mjs';
import { INTRINSIC_NAMES, workerIntrinsics, bindInstanceChecks, harden } from './10_sharing.mjs';
import { bufferParts, makeBufferModule } from './11_buffer.mjs';
import { makeProcess, makeTimerPromises, makeDiagnosticsChannel, makeStreamConsumers } from './12_node.mjs';
import { webParts, makeRealmCopy, makeEncoding, makeBlobs, makeFetchClasses, makeCrypto, makePerformance } from './13_web.mjs';
import { makeFs } from './14_fs.mjs';
import { pureView } from './15_pure.mjs';

/** Web APIs the worker's realm lends to every context. */
const WEB_GLOBALS = [
  'URL', 'URLSearchParams', 'AbortController', 'AbortSignal', 'Event', 'EventTarget', 'DOMException',
  'atob', 'btoa',
];

/**
 * Web APIs node loads on first use (the fetch implementation costs 15-30 ms
 * to load, streams and WebCrypto a few): lent to contexts on first touch, so
 * start-up does not pay. Their objects hold what the script gives them.
 */
const LAZY_WEB_GLOBALS = [
  'Headers', 'FormData', 'ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader',
  'ReadableStreamBYOBRequest', 'ReadableByteStreamController', 'ReadableStreamDefaultController',
  'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController', 'TransformStream',
  'TransformStreamDefaultController', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy',
  'TextEncoderStream', 'TextDecoderStream', 'CompressionStream', 'DecompressionStream',
  'MessageChannel', 'MessagePort', 'MessageEvent', 'CryptoKey',
];

/**
 * The script-facing globals, built inside the context's own realm. Every
 * fresh context runs this, so it makes little: the timers, `fetch` and the
 * run's `signal` on one object literal put in the global object's prototype
 * chain (defining properties on the global itself goes through node's
 * interceptors), and one `defineProperties` of accessors shared by every
 * context (`globalDescriptors`) for the rest, each made on first touch:
 * `console`, `host`, `process`, `Buffer`, the encoders, the fetch classes,
 * `crypto`, the lent web APIs. The makers of what is built in the realm are
 * compiled once per worker and brought into a context when first needed
 * (`bridge.maker`). Like node's own, the timer functions and fetch are
 * enumerable; the rest is not.
 */
function contextBootstrap(bridge, shared) {
  'use strict';
  // The cross-realm `instanceof` net (10_sharing.mjs) costs a context a
  // property per intrinsic: it is put in place when the script first gets
  // something of the worker's realm (a lent web API, a built-in module, the
  // run's signal, what fetch and callbacks answer), not for every run.
  let checked = false;
  const ensureChecks = () => {
    if (checked) return;
    checked = true;
    bridge.maker('bindInstanceChecks')(shared.intrinsicNames, shared.workerIntrinsics);
  };
  const built = {};
  const made = (name) => built[name] ??= create(name);
  const make = (name, ...args) => bridge.maker(name)(...args);
  function create(name) {
    switch (name) {
      case 'console': return make('makeConsole', bridge);
      case 'host': return make('makeHost', bridge, ensureChecks);
      case 'realmCopy': return make('makeRealmCopy');
      case 'encoding': return make('makeEncoding', shared.web, made('realmCopy'));
      case 'blobs': return make('makeBlobs', shared.web, made('realmCopy'));
      case 'fetchClasses': return make('makeFetchClasses', shared.web, made('blobs'));
      case 'crypto': return make('makeCrypto', shared.web, made('realmCopy'));
      case 'perf': return make('makePerformance', shared.web);
      case 'timerPromises': return make('makeTimerPromises', g);
      case 'diagnosticsChannel': return make('makeDiagnosticsChannel');
      case 'streamConsumers':
        return make('makeStreamConsumers', shared.streamConsumers, made('buffer').Buffer, made('blobs'));
      case 'navigator': return { ...shared.navigator, languages: [...shared.navigator.languages] };
      case 'buffer':
        return make('makeBufferModule', shared.buffer, { Blob: made('blobs').Blob, File: made('blobs').File, atob, btoa });
      case 'process': return make('makeProcess', bridge.processParts, bridge);
      case 'fs': return make('makeFs', bridge.fileParts, made('buffer').Buffer, shared.streams);
      case 'webSocket': return make('makeWebSocket', bridge);
      default: throw new TypeError(`nothing named ${name} is made here`);
    }
  }
  /** The value of the global `name` that `globalDescriptors` makes on first touch. */
  function globalValue(name) {
    switch (name) {
      case 'global': return globalThis;
      case 'console': return made('console');
      case 'host': return made('host');
      case 'process': return made('process');
      case 'Buffer': return made('buffer').Buffer;
      case 'TextEncoder': return made('encoding').TextEncoder;
      case 'TextDecoder': return made('encoding').TextDecoder;
      case 'structuredClone': return made('encoding').structuredClone;
      case 'Blob': return made('blobs').Blob;
      case 'File': return made('blobs').File;
      case 'Response': return made('fetchClasses').Response;
      case 'Request': return made('fetchClasses').Request;
      case 'crypto': return made('crypto');
      case 'performance': return made('perf').performance;
      case 'navigator': return made('navigator');
      case 'WebSocket': return made('webSocket');
      default:
        // A lent web API: of the worker's realm.
        ensureChecks();
        return bridge.lent(name);
    }
  }
  const clear = function (id) {
    bridge.clearTimer(id);
  };
  const g = {
    __proto__: Object.getPrototypeOf(globalThis),
    setTimeout: function setTimeout(callback, delay, ...args) {
      if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
      return bridge.setTimer(callback, Number(delay) || 0, args, false);
    },
    setInterval: function setInterval(callback, delay, ...args) {
      if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
      return bridge.setTimer(callback, Number(delay) || 0, args, true);
    },
    setImmediate: function setImmediate(callback, ...args) {
      if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
      return bridge.setTimer(callback, 0, args, false);
    },
    clearTimeout: clear,
    clearInterval: clear,
    clearImmediate: clear,
    queueMicrotask: function queueMicrotask(callback) {
      if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
      Promise.resolve().then(() => callback());
    },
    fetch: async function fetch(input, init) {
      ensureChecks();
      return made('fetchClasses').adoptResponse(await bridge.fetch(input, init));
    },
    get signal() {
      ensureChecks();
      return bridge.signal();
    },
  };
  // Bun calls a getter of another realm found through a context's global
  // object with `this` undefined, so there each context makes its own.
  const descriptors = shared.descriptorsPerRealm ? realmDescriptors() : shared.globalDescriptors;
  function realmDescriptors() {
    const own = {};
    for (const name of Object.keys(shared.globalDescriptors)) {
      const define = (target, value) =>
        Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
      own[name] = {
        get() {
          const value = globalValue(name);
          define(this, value);
          return value;
        },
        set(value) {
          define(this, value);
        },
        configurable: true,
        enumerable: false,
      };
    }
    return own;
  }
  Object.defineProperties(g, descriptors);
  Object.setPrototypeOf(globalThis, g);
  // V8 gives every context a `console` of its own, which would shadow ours.
  Object.defineProperty(globalThis, 'console', descriptors.console);
  // `require` for CommonJS files, as a function of this realm.
  const makeRequire = (load, resolve) => {
    const require = function require(id) {
      if (typeof id !== 'string') throw new TypeError('require(id): id must be a string');
      return load(id);
    };
    require.resolve = function resolveId(id) {
      if (typeof id !== 'string') throw new TypeError('require.resolve(id): id must be a string');
      return resolve(id);
    };
    require.cache = Object.create(null);
    return require;
  };
  return { parse: JSON.parse, Error, makeRequire, made, globals: g, global: globalThis, ensureChecks, globalValue };
}

/** Runs inside a context: the script's `console`, its output going to the run's logs. */
function makeConsole(bridge) {
  'use strict';
  let counts;
  let timers;
  return {
    log(...args) { bridge.log('log', args); },
    info(...args) { bridge.log('info', args); },
    warn(...args) { bridge.log('warn', args); },
    error(...args) { bridge.log('error', args); },
    debug(...args) { bridge.log('debug', args); },
    trace(...args) { bridge.log('trace', args); },
    dir(value) { bridge.log('log', [value]); },
    table(value) { bridge.log('log', [value]); },
    assert(condition, ...args) {
      if (!condition) bridge.log('error', ['Assertion failed', ...args]);
    },
    count(label = 'default') {
      counts ??= new Map();
      const n = (counts.get(label) || 0) + 1;
      counts.set(label, n);
      bridge.log('info', [`${label}: ${n}`]);
    },
    time(label = 'default') {
      timers ??= new Map();
      timers.set(label, bridge.now());
    },
    timeEnd(label = 'default') {
      const start = timers?.get(label);
      if (start === undefined) return;
      timers.delete(label);
      bridge.log('info', [`${label}: ${(bridge.now() - start).toFixed(3)}ms`]);
    },
  };
}

/**
 * Runs inside a context: the script's `host`, the pool's callbacks by their
 * names (and namespaces) and `emit`.
 */
function makeHost(bridge, ensureChecks) {
  'use strict';
  const host = {};
  Object.defineProperty(host, 'emit', {
    value: function emit(name, data) {
      if (typeof name !== 'string') throw new TypeError('host.emit(name, data): name must be a string');
      bridge.emit(name, data);
    },
    enumerable: true,
  });
  // Frozen: no run can add or change a callback. A name that is not there
  // reads as `undefined`, so that `typeof host.x`, `'x' in host` and
  // `host.x?.()` detect an optional tool; calling it anyway fails with the
  // names that exist (the worker adds them to the TypeError, 05_errors.mjs).
  const strict = (target) => Object.freeze(target);
  // V8 takes as many frames as `Error.stackTraceLimit` says and the call
  // keeps them until it is answered: the limit is the pool's for the
  // capture, unless the script made it unwritable.
  const frames = bridge.callSiteFrames;
  const setLimit = (limit) => {
    try {
      Error.stackTraceLimit = limit;
      return true;
    } catch {
      return false;
    }
  };
  const namespaces = new Map();
  for (const callback of bridge.callbacks) {
    let target = host;
    for (const part of callback.path.slice(0, -1)) {
      if (!namespaces.has(part)) namespaces.set(part, {});
      target = namespaces.get(part);
    }
    const method = callback.name;
    const jsName = callback.path[callback.path.length - 1];
    const call = {
      [jsName](params) {
        ensureChecks();
        // Where the script made the call (the frames below this one), for
        // the error of a failed call and for an approver: captured now, the
        // stack text made only if it is read.
        let site;
        if (frames > 0) {
          site = {};
          const limit = Error.stackTraceLimit;
          if (limit !== frames && setLimit(frames)) {
            Error.captureStackTrace(site, call);
            Error.stackTraceLimit = limit;
          } else {
            Error.captureStackTrace(site, call);
          }
        }
        return bridge.call(method, params, site);
      },
    }[jsName];
    target[jsName] = call;
  }
  for (const [name, members] of namespaces) host[name] = strict(members);
  return strict(host);
}

/** Runs inside a context: the engine's `WebSocket`, each one opened through the fetch allowlist. */
function makeWebSocket(bridge) {
  'use strict';
  const Native = bridge.webSocketClass;
  const WebSocket = function WebSocket(url, protocols) {
    if (new.target === undefined) throw new TypeError("Class constructor WebSocket cannot be invoked without 'new'");
    return bridge.openWebSocket(url, protocols);
  };
  WebSocket.prototype = Native.prototype;
  for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) WebSocket[name] = Native[name];
  return WebSocket;
}

/** Compiled once; run in each new context, it builds the context's globals. */
export const bootstrapScript = new vm.Script(`(${contextBootstrap})`, { filename: 'outrigger:bootstrap' });

/** What runs inside contexts besides the bootstrap, each compiled once per worker when first needed. */
const MAKERS = {
  bindInstanceChecks, makeConsole, makeHost, makeWebSocket, makeRealmCopy, makeEncoding, makeBlobs,
  makeFetchClasses, makeCrypto, makePerformance, makeBufferModule, makeProcess, makeTimerPromises,
  makeDiagnosticsChannel, makeStreamConsumers, makeFs,
};
const makerScripts = new Map();

/** The maker `name` as a function of the realm of `context`. */
export function makerIn(context, name) {
  let script = makerScripts.get(name);
  if (script === undefined) {
    if (!Object.hasOwn(MAKERS, name)) throw new TypeError(`no maker ${name}`);
    script = new vm.Script(`(${MAKERS[name]})`, { filename: `outrigger:${name}` });
    makerScripts.set(name, script);
  }
  return script.runInContext(context);
}
const webGlobals = WEB_GLOBALS.filter((name) => globalThis[name] !== undefined);

/**
 * Freezes the lent web APIs whose objects reach scripts without the script
 * naming them (the run's `signal`, its abort reasons and events), once per
 * worker, before the first of them is handed out.
 */
let eventClassesLent = false;
export function lendEventClasses() {
  if (eventClassesLent) return;
  for (const name of webGlobals) lazyWebGlobal(name);
  eventClassesLent = true;
}

/** Lazily loaded web APIs lent so far, frozen. */
const lent = new Map();

/** A lazily loaded web API, frozen on first use like the others. */
export function lazyWebGlobal(name) {
  if (lent.has(name)) return lent.get(name);
  const value = globalThis[name];
  harden(value);
  // `subtle` is a getter on the prototype, which harden does not call.
  if (name === 'crypto') harden(value?.subtle);
  lent.set(name, value);
  return value;
}

/** What each context's bootstrap returned, by the context's global object: its `globalValue`. */
export const contextGlobals = new WeakMap();

/** The globals made or lent on first touch (see `contextBootstrap`), and the lent web APIs. */
const MADE_GLOBALS = [
  'global', 'console', 'host', 'process', 'Buffer', 'TextEncoder', 'TextDecoder', 'structuredClone', 'Blob', 'File',
  'Response', 'Request', 'crypto', 'performance', 'navigator',
  ...(typeof globalThis.WebSocket === 'function' ? ['WebSocket'] : []),
];

/**
 * How every context gets its globals made on first touch: one
 * `Object.defineProperties` with these descriptors, made once per worker.
 * Each is an accessor that asks the context (found by the global object
 * read through) for the value, then leaves it as a plain, writable,
 * non-enumerable property of that object, as assigning it would. The
 * accessors belong to this realm, so they are frozen.
 */
export const globalDescriptors = Object.freeze(Object.fromEntries(
  [...MADE_GLOBALS, ...webGlobals, ...LAZY_WEB_GLOBALS].map((name) => [name, globalDescriptor(name)]),
));

function globalDescriptor(name) {
  const own = (target, value) =>
    Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  const { get, set } = {
    get() {
      const globalValue = contextGlobals.get(this);
      if (globalValue === undefined) return undefined;
      const value = globalValue(name);
      own(this, value);
      return value;
    },
    set(value) {
      own(this, value);
    },
  };
  return Object.freeze({ get: Object.freeze(get), set: Object.freeze(set), configurable: true, enumerable: false });
}

let bufferHardened = false;
/** What the script's `Buffer` borrows, frozen when a context first makes one. */
function hardenedBufferParts() {
  if (!bufferHardened) {
    for (const descriptor of Object.values(bufferParts.prototype)) harden(descriptor.value ?? descriptor.get);
    harden(bufferParts);
    bufferHardened = true;
  }
  return bufferParts;
}

/** What every context shares: made once, frozen. */
export const sharedParts = Object.freeze({
  /** Whether the engine has `WebSocket` (Node.js 22 and later). */
  hasWebSocket: typeof globalThis.WebSocket === 'function',
  intrinsicNames: INTRINSIC_NAMES,
  workerIntrinsics,
  web: webParts(lazyWebGlobal),
  get buffer() {
    return hardenedBufferParts();
  },
  globalDescriptors,
  /** Whether each context makes its own `globalDescriptors` (see the bootstrap). */
  descriptorsPerRealm: engine.bun,
  get streamConsumers() {
    return pureView('stream/consumers');
  },
  /** The stream classes `node:fs` streams are made of. */
  get streams() {
    return pureView('stream');
  },
  navigator: Object.freeze({
    hardwareConcurrency: 1,
    language: 'en-US',
    languages: Object.freeze(['en-US']),
    platform: process.platform,
    userAgent: `${engine.deno ? 'Deno' : engine.bun ? 'Bun' : 'Node.js'}/${engine.version.split('.')[0]}`,
  }),
});

let fetchLoaded = false;

/** A context's `fetch`: the run's signal by default, the allowlist always. */
export function runFetch(input, init, state) {
  if (!fetchLoaded) {
    lendEventClasses();
    // What fetch hands back (Response, Headers) is frozen like every lent API.
    for (const name of [...LAZY_WEB_GLOBALS, 'Response', 'Request', 'Blob', 'File']) lazyWebGlobal(name);
    harden(fetch);
    fetchLoaded = true;
  }
  const run = state === undefined ? activeRun() : currentRun(state);
  const options = init ? { ...init } : {};
  if (run && !options.signal) options.signal = run.controller.signal;
  return guardedFetch(input, options, (message) => (state === undefined
    ? new Error(message)
    : denial(state, 'fetch()', 'Sandbox::allow_fetch', message)));
}

/**
 * A context's `new WebSocket(url, protocols)`: the engine's, when the URL
 * is in the fetch allowlist (`ws:`/`wss:` as `http:`/`https:`), else a
 * denial. The context closes what is left open when it ends.
 */
export function openWebSocket(url, protocols, state) {
  const Native = lazyWebGlobal('WebSocket');
  let href;
  try {
    href = new URL(String(url)).href;
  } catch {
    // The engine's own error for a URL it cannot take.
    return new Native(url, protocols);
  }
  if (!fetchAllowed(href)) {
    throw denial(state, 'WebSocket', 'Sandbox::allow_fetch',
      `WebSocket refused: ${href} is not allowed by the sandbox (Sandbox::allow_fetch)`);
  }
  const socket = new Native(href, protocols);
  state.sockets.add(socket);
  socket.addEventListener('close', () => state.sockets.delete(socket));
  return socket;
}
