// The realm's API: what every context is given. The script-facing globals
// are built inside the context's own realm by `contextBootstrap`; the web
// APIs are lent from the worker's realm, frozen, through descriptors made
// once; `fetch` is lent through the sandbox's policy.

import vm from 'node:vm';
import { activeRun } from './06_current_run.mjs';
import { guardedFetch } from './09_fetch_policy.mjs';

/** Web APIs the worker's realm lends to every context. */
const WEB_GLOBALS = [
  'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal',
  'Event', 'EventTarget', 'Blob', 'DOMException', 'atob', 'btoa', 'structuredClone',
];

/**
 * Web APIs node loads on first use (the fetch implementation costs 15-30 ms
 * to load): lent to contexts on first touch, so start-up does not pay.
 */
const LAZY_WEB_GLOBALS = ['Headers', 'Request', 'Response', 'FormData', 'crypto', 'performance'];

/** The script-facing globals, built inside the context's own realm. */
function contextBootstrap(bridge) {
  'use strict';
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
    fetch: function fetch(input, init) {
      return bridge.fetch(input, init);
    },
    get signal() {
      return bridge.signal();
    },
  };
  Object.defineProperties(g, bridge.webDescriptors);

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
    target[jsName] = { [jsName](params) { return bridge.call(method, params); } }[jsName];
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
  return { parse: JSON.parse, Error, makeRequire };
}

/** Compiled once; run in each new context, it returns the function that builds the context's API. */
export const bootstrapScript = new vm.Script(`(${contextBootstrap.toString()})`, { filename: 'outrigger:bootstrap' });
const webGlobals = WEB_GLOBALS.filter((name) => globalThis[name] !== undefined).map((name) => [name, globalThis[name]]);

/** Freezes what every context shares, so one run cannot change it for the next. */
function deepFreeze(value, seen = new WeakSet()) {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) return;
  seen.add(value);
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if ('value' in descriptor) deepFreeze(descriptor.value, seen);
  }
  deepFreeze(Object.getPrototypeOf(value), seen);
}
for (const [, value] of webGlobals) deepFreeze(value);

/** A lazily loaded web API, frozen on first use like the others. */
function lazyWebGlobal(name) {
  const value = globalThis[name];
  deepFreeze(value);
  // `subtle` is a getter on the prototype, which deepFreeze does not call.
  if (name === 'crypto') deepFreeze(value?.subtle);
  return value;
}

/**
 * How every context gets the lent web APIs: one `Object.defineProperties`
 * with these descriptors, made once (non-enumerable, as node's own are).
 * The lazily loaded ones are accessors that lend the API on first touch and
 * then leave it as a plain value on the object read through (the global).
 * Their functions belong to this realm, so they are frozen like the APIs.
 */
export const webDescriptors = Object.freeze(Object.fromEntries([
  ...webGlobals.map(([name, value]) => [name, Object.freeze({ value, writable: true, configurable: true, enumerable: false })]),
  ...LAZY_WEB_GLOBALS.map((name) => {
    const own = (target, value) =>
      Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
    const { get, set } = {
      get() {
        const value = lazyWebGlobal(name);
        own(this, value);
        return value;
      },
      set(value) {
        own(this, value);
      },
    };
    return [name, Object.freeze({ get: Object.freeze(get), set: Object.freeze(set), configurable: true, enumerable: false })];
  }),
]));

let fetchLoaded = false;

/** A context's `fetch`: the run's signal by default, the allowlist always. */
export function runFetch(input, init, state) {
  if (!fetchLoaded) {
    // What fetch hands back (Response, Headers) is frozen like every lent API.
    for (const name of LAZY_WEB_GLOBALS) lazyWebGlobal(name);
    deepFreeze(fetch);
    fetchLoaded = true;
  }
  const run = activeRun();
  const options = init ? { ...init } : {};
  if (run && !options.signal) options.signal = run.controller.signal;
  return guardedFetch(input, options, state?.Error ?? Error);
}
