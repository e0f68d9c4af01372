// The realm's API: what every context is given. The script-facing globals
// are built inside the context's own realm by `contextBootstrap`: console,
// timers, `host`, and the APIs whose results a script keeps (encoders,
// `structuredClone`, the fetch family, crypto, `Buffer`, `process`), made on
// first use from 11_buffer.mjs, 12_node.mjs and 13_web.mjs. Web APIs whose
// objects carry no script data are lent from the worker's realm, frozen,
// through descriptors made once; `fetch` is lent through the sandbox's policy.

import vm from 'node:vm';
import { config } from './02_config.mjs';
import { denial } from './05_errors.mjs';
import { activeRun } from './06_current_run.mjs';
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

/** The script-facing globals, built inside the context's own realm. */
function contextBootstrap(bridge, shared, make) {
  'use strict';
  // The cross-realm `instanceof` net (10_sharing.mjs) costs a context a
  // property per intrinsic: it is put in place when the script first gets
  // something of the worker's realm (a lent web API, a built-in module, the
  // run's signal, what fetch and callbacks answer), not for every run.
  let checked = false;
  const ensureChecks = () => {
    if (checked) return;
    checked = true;
    make.bindInstanceChecks(shared.intrinsicNames, shared.workerIntrinsics);
  };
  // The API lives on an object put in the global object's prototype chain:
  // defining properties on the global itself goes through node's
  // interceptors. It is one object literal (V8 builds those from a
  // template) rather than a defineProperty per member, as every fresh
  // context builds it. Like node's own, the timer functions and fetch are
  // enumerable; the lent web APIs are not (bridge.webDescriptors).
  let counts;
  let timers;
  const consoleObject = {
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
  // What is built on first use, once per context.
  const built = {};
  const makers = {
    realmCopy: () => make.makeRealmCopy(),
    encoding: () => make.makeEncoding(shared.web, made('realmCopy')),
    blobs: () => make.makeBlobs(shared.web, made('realmCopy')),
    fetchClasses: () => make.makeFetchClasses(shared.web, made('blobs')),
    crypto: () => make.makeCrypto(shared.web, made('realmCopy')),
    perf: () => make.makePerformance(shared.web),
    timerPromises: () => make.makeTimerPromises(g),
    diagnosticsChannel: () => make.makeDiagnosticsChannel(),
    streamConsumers: () => make.makeStreamConsumers(shared.streamConsumers, made('buffer').Buffer, made('blobs')),
    navigator: () => ({ ...shared.navigator, languages: [...shared.navigator.languages] }),
    buffer: () => make.makeBufferModule(shared.buffer, { Blob: made('blobs').Blob, File: made('blobs').File, atob, btoa }),
    process: () => make.makeProcess(bridge.processParts, bridge),
    fs: () => make.makeFs(bridge.fileParts, made('buffer').Buffer, shared.streams),
    webSocket: () => {
      // The engine's WebSocket, each one opened through the fetch allowlist.
      const Native = bridge.webSocketClass;
      const WebSocket = function WebSocket(url, protocols) {
        if (new.target === undefined) throw new TypeError("Class constructor WebSocket cannot be invoked without 'new'");
        return bridge.openWebSocket(url, protocols);
      };
      WebSocket.prototype = Native.prototype;
      for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) WebSocket[name] = Native[name];
      return WebSocket;
    },
  };
  function made(name) {
    return built[name] ??= makers[name]();
  }
  const fetchClasses = () => made('fetchClasses');
  // A global made on first use becomes a plain property of the object read
  // through, as assigning it would make it.
  const own = (target, name, value) => {
    Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
    return value;
  };
  const clear = function (id) {
    bridge.clearTimer(id);
  };
  const g = {
    __proto__: Object.getPrototypeOf(globalThis),
    console: consoleObject,
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
      return fetchClasses().adoptResponse(await bridge.fetch(input, init));
    },
    get signal() {
      ensureChecks();
      return bridge.signal();
    },
  };
  // Made on first use (see `made`), and not enumerable, as node's own are
  // not: only timers, fetch, console and queueMicrotask show in
  // `Object.keys(globalThis)` there. One `defineProperties` for them all.
  const lazy = (name, value) => ({
    get() { return own(this, name, value()); },
    set(next) { own(this, name, next); },
    configurable: true,
    enumerable: false,
  });
  Object.defineProperties(g, {
    global: { value: globalThis, writable: true, configurable: true, enumerable: false },
    process: lazy('process', () => made('process')),
    Buffer: lazy('Buffer', () => made('buffer').Buffer),
    TextEncoder: lazy('TextEncoder', () => made('encoding').TextEncoder),
    TextDecoder: lazy('TextDecoder', () => made('encoding').TextDecoder),
    structuredClone: lazy('structuredClone', () => made('encoding').structuredClone),
    Blob: lazy('Blob', () => made('blobs').Blob),
    File: lazy('File', () => made('blobs').File),
    Response: lazy('Response', () => fetchClasses().Response),
    Request: lazy('Request', () => fetchClasses().Request),
    crypto: lazy('crypto', () => made('crypto')),
    performance: lazy('performance', () => made('perf').performance),
    navigator: lazy('navigator', () => made('navigator')),
  });
  Object.defineProperties(g, shared.webDescriptors);
  if (shared.hasWebSocket) Object.defineProperty(g, 'WebSocket', lazy('WebSocket', () => made('webSocket')));

  const host = {};
  Object.defineProperty(host, 'emit', {
    value: function emit(name, data) {
      if (typeof name !== 'string') throw new TypeError('host.emit(name, data): name must be a string');
      bridge.emit(name, data);
    },
    enumerable: true,
  });
  const names = bridge.callbacks.map((callback) => callback.name);
  const listing = names.length > 0 ? names.join(', ') : 'none are registered';
  // A name that is not a callback throws at once, saying what exists.
  const strict = (target, where) => new Proxy(Object.freeze(target), {
    get(object, key, receiver) {
      if (typeof key === 'symbol' || key in object || key === 'then' || key === 'toJSON') {
        return Reflect.get(object, key, receiver);
      }
      throw new TypeError(`${where}.${key} is not a callback (callbacks: ${listing})`);
    },
  });
  const namespaces = new Map();
  for (const callback of bridge.callbacks) {
    let target = host;
    for (const part of callback.path.slice(0, -1)) {
      if (!namespaces.has(part)) namespaces.set(part, {});
      target = namespaces.get(part);
    }
    const method = callback.name;
    const jsName = callback.path[callback.path.length - 1];
    target[jsName] = {
      [jsName](params) {
        ensureChecks();
        return bridge.call(method, params);
      },
    }[jsName];
  }
  for (const [name, members] of namespaces) host[name] = strict(members, `host.${name}`);
  Object.defineProperty(g, 'host', { value: strict(host, 'host'), writable: true, configurable: true, enumerable: false });
  Object.setPrototypeOf(globalThis, g);
  // V8 gives every context a `console` of its own, which would shadow ours.
  Object.defineProperty(globalThis, 'console', { value: g.console, writable: true, configurable: true, enumerable: false });
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
  return { parse: JSON.parse, Error, makeRequire, made, globals: g, global: globalThis, ensureChecks };
}

/**
 * Compiled once; run in each new context, it returns the function that
 * builds the context's API. The makers of the APIs built in the context are
 * part of its source.
 */
export const bootstrapScript = new vm.Script(`(function (bridge, shared) {
  const make = {
    bindInstanceChecks: (${bindInstanceChecks}),
    makeRealmCopy: (${makeRealmCopy}),
    makeEncoding: (${makeEncoding}),
    makeBlobs: (${makeBlobs}),
    makeFetchClasses: (${makeFetchClasses}),
    makeCrypto: (${makeCrypto}),
    makePerformance: (${makePerformance}),
    makeBufferModule: (${makeBufferModule}),
    makeProcess: (${makeProcess}),
    makeTimerPromises: (${makeTimerPromises}),
    makeDiagnosticsChannel: (${makeDiagnosticsChannel}),
    makeStreamConsumers: (${makeStreamConsumers}),
    makeFs: (${makeFs}),
  };
  return (${contextBootstrap})(bridge, shared, make);
})`, { filename: 'outrigger:bootstrap' });
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

/**
 * How every context gets the lent web APIs: one `Object.defineProperties`
 * with these descriptors, made once (non-enumerable, as node's own are):
 * accessors that lend the API on first touch (loading it then, for the
 * lazily loaded ones) and then leave it as a plain value on the object read
 * through (the global). Their functions belong to this realm, so they are
 * frozen like the APIs.
 */
export const webDescriptors = Object.freeze(Object.fromEntries([
  ...[...webGlobals, ...LAZY_WEB_GLOBALS].map((name) => [name, lentDescriptor(name, () => lazyWebGlobal(name))]),
]));

/**
 * The global object of each context, with what puts its instance checks in
 * place (`ensureChecks` of its bootstrap): a lent API's first touch does.
 */
export const instanceChecksOf = new WeakMap();

/** An accessor lending the web API `name` on first touch, then a plain value of the global read through. */
function lentDescriptor(name, lend) {
  const own = (target, value) =>
    Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  const { get, set } = {
    get() {
      const value = lend();
      instanceChecksOf.get(this)?.();
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
  webDescriptors,
  intrinsicNames: INTRINSIC_NAMES,
  workerIntrinsics,
  web: webParts(lazyWebGlobal),
  get buffer() {
    return hardenedBufferParts();
  },
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
    userAgent: `Node.js/${process.versions.node.split('.')[0]}`,
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
  const run = activeRun();
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
