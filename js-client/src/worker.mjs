// The outrigger worker runtime: the program every engine process runs.
//
// It speaks JSON-RPC 2.0, one JSON text per line, over the private channel the
// host hands it as file descriptor 3, and runs each script in a `vm` context of
// its own. See ARCHITECTURE.md at the repository root for the protocol.
//
// Plain ESM with no dependencies: the host embeds this file and starts it with
// `node --input-type=module -e <this file>`, so no install step is needed.

import net from 'node:net';
import vm from 'node:vm';
import util from 'node:util';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Buffer } from 'node:buffer';
import { builtinModules, createRequire } from 'node:module';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Version of the wire protocol; the host checks it at start-up. */
const PROTOCOL_VERSION = 1;

/** Error codes shared with the host (crates/host/src/protocol.rs). */
export const CODES = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  SCRIPT: -32000,
  TIMEOUT: -32001,
  CANCELLED: -32002,
  NON_JSON: -32006,
  UNKNOWN_SCRIPT: -32007,
  NOT_FOUND: -32008,
  LIMIT: -32009,
  IMPORT: -32010,
});

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

/**
 * The runtime's own clock, in milliseconds. Not `nowMs()`: the
 * `performance` global loads perf_hooks (~5 ms), which start-up need not pay.
 */
function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

// ---------------------------------------------------------------------------
// Configuration, set by the host's `init` request.

const config = {
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
  /** The project directory (absolute) packages and relative imports resolve from, if any. */
  project: undefined,
  /** Modules imported into every context before code runs: [{ name, specifier }]. */
  preloads: [],
  /** Node built-in modules scripts and their dependencies may import, by bare name. */
  allowBuiltins: new Set(),
  /** URL patterns `fetch` may reach (Sandbox::allow_fetch), parsed: none by default. */
  fetchAllow: [],
  /** Console output one run may send, in bytes of JSON (Sandbox::max_console_bytes; 0: no limit). */
  maxConsoleBytes: 8 * 1024 * 1024,
};

/**
 * The engine's watchdog (vm's `timeout`) stops a synchronous loop without
 * losing the worker, but starts a thread per run. Code that has finished its
 * synchronous part quickly `watchdogTrust` times runs without it; should it
 * loop after all, the host replaces the worker.
 */
const trusted = new Map();
const TRUST_LIMIT = 4096;
const QUICK_MS = 50;

function watchdogFor(key, timeout) {
  if (!(timeout > 0)) return {};
  if (config.watchdogTrust > 0 && key !== undefined && (trusted.get(key) ?? 0) >= config.watchdogTrust) return {};
  return { timeout };
}

function noteSyncTime(key, started) {
  if (key === undefined) return;
  if (nowMs() - started > QUICK_MS) {
    trusted.delete(key);
    return;
  }
  const count = trusted.get(key) ?? 0;
  if (count >= config.watchdogTrust) return;
  trusted.set(key, count + 1);
  if (trusted.size > TRUST_LIMIT) trusted.delete(trusted.keys().next().value);
}

/** The context plain runs share when `isolation` is 'worker'. */
let sharedContext;

// ---------------------------------------------------------------------------
// The channel: line framing in, coalesced writes out.

let channel = null;
let outQueue = [];
let flushScheduled = false;

/** What the channel carried, for the host's `stats` request. */
const channelStats = { reads: 0, messagesIn: 0, writes: 0, messagesOut: 0 };

/**
 * Whether this turn of the event loop has written already. The first write
 * of a turn leaves at once (after the microtasks queued so far: everything a
 * burst of synchronous work sends goes out together); what is sent later in
 * the same turn (many timers or I/O callbacks finishing runs) waits for the
 * end of the turn and goes out in one write.
 */
let wroteThisTurn = false;

function send(text) {
  outQueue.push(text);
  if (!flushScheduled) {
    flushScheduled = true;
    if (wroteThisTurn) setImmediate(flushDeferred);
    else queueMicrotask(flush);
  }
}

function flush() {
  flushScheduled = false;
  if (outQueue.length === 0 || channel === null) return;
  write();
  if (!wroteThisTurn) {
    wroteThisTurn = true;
    setImmediate(endTurn);
  }
}

function flushDeferred() {
  flushScheduled = false;
  if (outQueue.length > 0 && channel !== null) write();
}

function endTurn() {
  wroteThisTurn = false;
}

function write() {
  const data = outQueue.length === 1 ? outQueue[0] + '\n' : outQueue.join('\n') + '\n';
  channelStats.writes++;
  channelStats.messagesOut += outQueue.length;
  outQueue = [];
  channel.write(data);
}

function respond(id, resultJson) {
  send('{"jsonrpc":"2.0","id":' + JSON.stringify(id) + ',"result":' + resultJson + '}');
}

function respondError(id, code, message, data) {
  const error = { code, message };
  if (data !== undefined) error.data = data;
  send(JSON.stringify({ jsonrpc: '2.0', id, error }));
}

function notify(method, paramsJson) {
  send('{"jsonrpc":"2.0","method":"' + method + '","params":' + paramsJson + '}');
}

/** Feeds raw bytes from the channel; calls `onLine` for every complete line. */
export function createLineReader(onLine, maxLineBytes) {
  let parts = [];
  let partBytes = 0;
  return (chunk) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      let line;
      if (parts.length > 0) {
        parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(parts).toString('utf8');
        parts = [];
        partBytes = 0;
      } else {
        line = chunk.toString('utf8', start, nl);
      }
      start = nl + 1;
      if (line.length > 0) onLine(line);
    }
    if (start < chunk.length) {
      parts.push(chunk.subarray(start));
      partBytes += chunk.length - start;
      if (partBytes > maxLineBytes()) {
        throw new Error(`message from the host exceeds ${maxLineBytes()} bytes`);
      }
    }
  };
}

// ---------------------------------------------------------------------------
// Values crossing the channel.

class NonJsonError extends Error {}

/** Where in `value` JSON would silently lose something, or null. */
function findNonJson(value, path) {
  const found = nonJsonIn(value);
  if (found === null) return null;
  return `${path}${found.at.reverse().join('')} ${found.what}`;
}
const IDENT = /^[A-Za-z_$][\w$]*$/;

/**
 * What JSON would lose in `value`: `{ what, at }` with the path's steps
 * innermost first, or null. Paths are built only for a find, so checking
 * a large value allocates nothing per element.
 */
function nonJsonIn(value) {
  const type = typeof value;
  if (type === 'function') return { what: 'is a function', at: [] };
  if (type === 'symbol') return { what: 'is a symbol', at: [] };
  if (type === 'bigint') return { what: 'is a BigInt', at: [] };
  if (type !== 'object' || value === null) return null;
  if (typeof value.toJSON === 'function') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const type = typeof item;
      if (type === 'object' ? item === null : !isLossyType(type)) continue;
      const found = nonJsonIn(item);
      if (found !== null) {
        found.at.push(`[${i}]`);
        return found;
      }
    }
    return null;
  }
  // A plain object (of any realm: its prototype is an Object.prototype, or
  // it has none) is no Map, Set or Promise; only others need asking.
  const proto = Object.getPrototypeOf(value);
  if (proto !== null && Object.getPrototypeOf(proto) !== null) {
    if (util.types.isMap(value)) return { what: 'is a Map (convert it with Object.fromEntries)', at: [] };
    if (util.types.isSet(value)) return { what: 'is a Set (convert it with Array.from)', at: [] };
    if (util.types.isPromise(value)) return { what: 'is a Promise (await it first)', at: [] };
  }
  const keys = Object.keys(value);
  for (let k = 0; k < keys.length; k++) {
    const item = value[keys[k]];
    const type = typeof item;
    if (type === 'object' ? item === null : !isLossyType(type)) continue;
    const found = nonJsonIn(item);
    if (found !== null) {
      const key = keys[k];
      found.at.push(IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
      return found;
    }
  }
  return null;
}
/** Types JSON drops or refuses. */
function isLossyType(type) {
  return type === 'function' || type === 'symbol' || type === 'bigint';
}

/**
 * JSON text for a value, or a NonJsonError saying what JSON cannot carry.
 * `undefined` at the top becomes null, as does a missing value in an array.
 */
export function toJsonText(value, what = 'value') {
  if (value === undefined) return 'null';
  let text;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/BigInt/i.test(message)) {
      const found = findNonJsonSafe(value, what);
      throw new NonJsonError(found ?? `${what} contains a BigInt, which JSON cannot carry`);
    }
    if (/circular/i.test(message)) {
      throw new NonJsonError(`${what} has a cycle, which JSON cannot carry: ${message.split('\n')[0]}`);
    }
    throw new NonJsonError(`${what} cannot be turned into JSON: ${message}`);
  }
  if (text === undefined) {
    throw new NonJsonError(`${what} is a ${typeof value}, which JSON cannot carry`);
  }
  const found = findNonJson(value, what);
  if (found !== null) throw new NonJsonError(`${found}, which JSON cannot carry`);
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so only long texts need counting.
  const bytes = text.length * 3 > config.maxMessageBytes ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > config.maxMessageBytes) {
    const error = new NonJsonError(`${what} is ${bytes} bytes of JSON, over the limit of ${config.maxMessageBytes}`);
    error.code = CODES.LIMIT;
    throw error;
  }
  return text;
}

function findNonJsonSafe(value, what) {
  try {
    return findNonJson(value, what);
  } catch {
    return null;
  }
}

/** A log argument: JSON when it can be, otherwise a readable rendering. */
function logArgJson(value) {
  const type = typeof value;
  if (type === 'string') return JSON.stringify(value);
  if (type === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (type === 'boolean' || value === null) return String(value);
  if (type === 'undefined') return '"undefined"';
  if (type === 'object' && !util.types.isProxy(value)) {
    try {
      const text = JSON.stringify(value);
      if (text !== undefined && findNonJson(value, '') === null && !(util.types.isNativeError(value))) {
        return text;
      }
    } catch {
      // Fall through to the inspected form.
    }
  }
  let shown;
  try {
    shown = util.inspect(value, { customInspect: false, showProxy: true, depth: 4, breakLength: Infinity });
  } catch (e) {
    shown = `[uninspectable ${type}]`;
  }
  return JSON.stringify(shown);
}

// ---------------------------------------------------------------------------
// Errors, as the host sees them.

class ImportFailure extends Error {
  constructor(specifier, referrer, reason) {
    // Node's permission model says only "Access to this API has been restricted".
    const hint = String(reason).includes('has been restricted') ? ' (the sandbox does not let workers read it: Sandbox::allow_read, or PoolBuilder::project)' : '';
    super(`cannot import "${specifier}" from ${referrer}: ${reason}${hint}`);
    this.specifier = specifier;
    this.referrer = referrer;
    this.reason = reason;
  }
}

function safeGet(object, key) {
  try {
    const value = object[key];
    return typeof value === 'string' ? value : value === undefined ? undefined : String(value);
  } catch {
    return undefined;
  }
}

const STACK_FRAME = /^\s+at (?:.*? \()?(.*?):(\d+):(\d+)\)?$/;
const RUNTIME_URL = import.meta.url;

/** Removes node's source-line decoration and the runtime's own frames. */
function cleanStack(stack) {
  let text = stack;
  // `file:LINE\n<source>\n<carets>\n\n` before the error itself.
  const decorated = /^[^\n]*:\d+\n[^\n]*\n\s*\^+\s*\n\n/.exec(text);
  if (decorated) text = text.slice(decorated[0].length);
  return text
    .split('\n')
    .filter((line) => {
      const frame = STACK_FRAME.exec(line);
      if (!frame) return !/^\s+at /.test(line) || !/node:|\[eval\d*\]/.test(line);
      const file = frame[1];
      return !file.startsWith('node:') && file !== RUNTIME_URL && !/\[eval\d*\]/.test(file);
    })
    .join('\n');
}

/** Line and column in `filename` where an error happened, from its stack. */
function locate(stack, filename) {
  if (typeof stack !== 'string') return {};
  const prefix = filename + ':';
  if (stack.startsWith(prefix)) {
    const m = /^(\d+)\n([^\n]*)\n(\s*)\^/.exec(stack.slice(prefix.length));
    if (m) return { line: Number(m[1]), column: m[3].length + 1 };
  }
  for (const line of stack.split('\n')) {
    const frame = STACK_FRAME.exec(line);
    if (frame && frame[1] === filename) return { line: Number(frame[2]), column: Number(frame[3]) };
  }
  return {};
}

/** The first place in a project file (an absolute path) an error's stack names. */
function locateInFile(stack) {
  if (typeof stack !== 'string') return {};
  const header = /^(\/[^\n]*):(\d+)\n[^\n]*\n(\s*)\^/.exec(stack);
  if (header) return { file: header[1], line: Number(header[2]), column: header[3].length + 1 };
  for (const line of stack.split('\n')) {
    const frame = STACK_FRAME.exec(line);
    if (frame && frame[1].startsWith('/')) return { file: frame[1], line: Number(frame[2]), column: Number(frame[3]) };
  }
  return {};
}

/** The JSON-RPC error for something a run threw. */
function errorFor(thrown, filename) {
  if (thrown instanceof NonJsonError) {
    return { code: thrown.code ?? CODES.NON_JSON, message: thrown.message };
  }
  const failure = thrown instanceof ImportFailure ? thrown : importFailures.get(thrown);
  if (failure !== undefined) {
    return {
      code: CODES.IMPORT,
      message: failure.message,
      data: { specifier: failure.specifier, referrer: failure.referrer, reason: failure.reason },
    };
  }
  if (thrown instanceof RunEnded) {
    return { code: thrown.code, message: thrown.message };
  }
  if (thrown && thrown.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
    return { code: CODES.TIMEOUT, message: thrown.message };
  }
  const isError = util.types.isNativeError(thrown)
    || (thrown !== null && typeof thrown === 'object' && typeof safeGet(thrown, 'stack') === 'string');
  if (isError) {
    const rawStack = safeGet(thrown, 'stack');
    let { line, column } = locate(rawStack, filename);
    let file;
    if (line === undefined) {
      // Not in the script itself: in a file it imported (a dependency's syntax error).
      ({ file, line, column } = locateInFile(rawStack));
    }
    const data = {
      name: safeGet(thrown, 'name') ?? 'Error',
      message: safeGet(thrown, 'message') ?? '',
      stack: rawStack === undefined ? null : cleanStack(rawStack),
      line: line ?? null,
      column: column ?? null,
    };
    if (file !== undefined) data.file = file;
    return { code: CODES.SCRIPT, message: `${data.name}: ${data.message}`, data };
  }
  let message;
  try {
    message = typeof thrown === 'string' ? thrown : toJsonText(thrown, 'thrown value');
  } catch {
    message = util.inspect(thrown, { customInspect: false, showProxy: true });
  }
  const name = thrown === null ? 'null' : typeof thrown;
  return {
    code: CODES.SCRIPT,
    message: `uncaught ${name}: ${message}`,
    data: { name, message, stack: null, line: null, column: null },
  };
}

/** Thrown into a run that was cancelled or timed out. */
class RunEnded extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Why a plain run's context ends with it: one shared, frozen reason (an
 * Error captures a stack when made, ~10 µs, and every fresh-context run
 * ends this way). The runtime reads it; scripts see a new DOMException.
 */
const RUN_OVER = Object.freeze(new RunEnded(CODES.CANCELLED, 'the run has ended'));

// ---------------------------------------------------------------------------
// Contexts: one realm per plain run, per session, per loaded module.

const als = new AsyncLocalStorage();

/** The script-facing globals, built inside the context's own realm. */
function contextBootstrap(bridge) {
  'use strict';
  // The API lives on an object put in the global object's prototype chain:
  // defining properties on the global itself goes through node's
  // interceptors. It is one object literal (V8 builds those from a
  // template) rather than a defineProperty per member: building a context's
  // API went from ~100 µs to ~60 µs. Like node's own, the timer functions and
  // fetch are enumerable; the lent web APIs are not (bridge.webDescriptors).
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

const bootstrapScript = new vm.Script(`(${contextBootstrap.toString()})`, { filename: 'outrigger:bootstrap' });
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
const webDescriptors = Object.freeze(Object.fromEntries([
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
let nextTimerId = 1;

/**
 * A context and what belongs to it: its timers, the modules imported into it,
 * and who its logs belong to when no run is current.
 */
class ContextState {
  constructor(project = config.project) {
    this.timers = new Map();
    /** Module instances of this context, by registered name, `node:` name or file path. */
    this.modules = new Map();
    /** CommonJS `module` objects of this context, by file path. */
    this.commonjs = new Map();
    /** The directory packages and relative imports of string scripts resolve from. */
    this.project = project;
    this.disposed = false;
    /** The run that started last here: whose `signal` a callback outside any run sees. */
    this.lastRun = undefined;
    this.context = vm.createContext({}, { codeGeneration: { strings: true, wasm: true } });
    const state = this;
    const bridge = {
      webDescriptors,
      callbacks: config.callbacks,
      now: nowMs,
      log: (level, args) => {
        // Past the console limit: thrown, so that a synchronous loop of logging stops.
        if (!sendLog(level, args, state)) throw currentRun(state).endReason;
      },
      emit: (name, data) => sendEvent(name, data, state),
      call: (method, params) => callHost(method, params, state),
      signal: () => currentRun(state)?.controller.signal,
      fetch: (input, init) => runFetch(input, init, state),
      setTimer: (callback, delay, args, repeat) => state.setTimer(callback, delay, args, repeat),
      clearTimer: (id) => state.clearTimer(id),
    };
    const intrinsics = bootstrapScript.runInContext(this.context)(bridge);
    this.jsonParse = intrinsics.parse;
    this.Error = intrinsics.Error;
    this.makeRequire = intrinsics.makeRequire;
    /** While the preloads are being imported: the promise of it; then null. */
    this.ready = startPreloads(this);
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
  }
}

const spareContexts = [];
let refillScheduled = false;

function freshContext() {
  const state = spareContexts.pop() ?? new ContextState();
  scheduleRefill();
  return state;
}

function scheduleRefill() {
  if (refillScheduled || spareContexts.length >= config.spareContexts) return;
  refillScheduled = true;
  setImmediate(() => {
    refillScheduled = false;
    if (spareContexts.length < config.spareContexts) {
      spareContexts.push(new ContextState());
      scheduleRefill();
    }
  });
}

// ---------------------------------------------------------------------------
// What scripts reach through `console`, `host`, `fetch` and `signal`.

/** The run something belongs to: the current one, else the context's latest. */
function currentRun(state) {
  return als.getStore() ?? state?.lastRun;
}

function sendLog(level, args, state) {
  const run = currentRun(state);
  let params = '{"run":' + (run ? run.id : 'null') + ',"level":"' + level + '","args":[';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) params += ',';
    params += logArgJson(args[i]);
  }
  params += ']}';
  if (run !== undefined && config.maxConsoleBytes > 0 && !run.finished) {
    run.consoleBytes += params.length;
    if (run.consoleBytes > config.maxConsoleBytes) {
      if (run.endReason === undefined) {
        run.end(CODES.LIMIT, `the run's console output passed its limit of ${config.maxConsoleBytes} bytes (Sandbox::max_console_bytes)`);
      }
      return false;
    }
  }
  if (params.length * 3 > config.maxMessageBytes) {
    const bytes = Buffer.byteLength(params, 'utf8');
    if (bytes > config.maxMessageBytes) {
      const notice = `[log line of ${bytes} bytes dropped: over the limit of ${config.maxMessageBytes}]`;
      params = '{"run":' + (run ? run.id : 'null') + ',"level":"' + level + '","args":[' + JSON.stringify(notice) + ']}';
    }
  }
  notify('log', params);
  return true;
}

function sendEvent(name, data, state) {
  const run = currentRun(state);
  const dataJson = toJsonText(data, 'event data');
  notify('event', '{"run":' + (run ? run.id : 'null') + ',"name":' + JSON.stringify(name) + ',"data":' + dataJson + '}');
}

let fetchLoaded = false;

/** A `Sandbox::allow_fetch` pattern, parsed once at `init`. */
function parseFetchPattern(pattern) {
  const url = new URL(String(pattern).replace('://*.', '://wildcard--.'));
  const wildcard = url.hostname.startsWith('wildcard--.');
  return {
    protocol: url.protocol,
    host: wildcard ? url.hostname.slice('wildcard--'.length) : url.hostname,
    wildcard,
    port: url.port,
    path: url.pathname,
  };
}

/** Whether `fetch` may reach `href` (already normalized by `Request`). */
function fetchAllowed(href) {
  const url = new URL(href);
  if (url.protocol === 'data:' || url.protocol === 'blob:') return true;
  return config.fetchAllow.some((p) => p.protocol === url.protocol
    && p.port === url.port
    && (p.wildcard ? url.hostname.endsWith(p.host) : url.hostname === p.host)
    && (p.path === '/' || url.pathname === p.path || url.pathname.startsWith(p.path.endsWith('/') ? p.path : p.path + '/')));
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

function runFetch(input, init, state) {
  if (!fetchLoaded) {
    // What fetch hands back (Response, Headers) is frozen like every lent API.
    for (const name of LAZY_WEB_GLOBALS) lazyWebGlobal(name);
    deepFreeze(fetch);
    fetchLoaded = true;
  }
  const run = als.getStore();
  const options = init ? { ...init } : {};
  if (run && !options.signal) options.signal = run.controller.signal;
  return guardedFetch(input, options, state?.Error ?? Error);
}

/**
 * `fetch` that checks every URL, redirects included, against the allowlist:
 * the request is built once (so the URL checked is the URL fetched, whatever
 * getters the script put on its input) and redirects are followed here.
 */
async function guardedFetch(input, options, ErrorType) {
  const mode = options.redirect ?? (input instanceof Request ? input.redirect : 'follow');
  let request = new Request(input, { ...options, redirect: 'manual' });
  for (let hop = 0; ; hop++) {
    const url = request.url;
    if (!fetchAllowed(url)) {
      const how = hop > 0 ? 'a redirect to ' : '';
      throw new ErrorType(`fetch refused: ${how}${url} is not allowed by the sandbox (Sandbox::allow_fetch)`);
    }
    const again = request.body !== null ? request.clone() : request;
    const response = await fetch(request);
    if (mode === 'manual' || !REDIRECTS.has(response.status)) return response;
    if (mode === 'error') throw new TypeError(`fetch failed: ${url} redirected and the request's redirect mode is "error"`);
    const location = response.headers.get('location');
    if (location === null) return response;
    await response.body?.cancel();
    if (hop >= 20) throw new TypeError(`fetch failed: more than 20 redirects from ${url}`);
    const next = new URL(location, url);
    const toGet = response.status === 303 || ((response.status === 301 || response.status === 302) && again.method === 'POST');
    const headers = new Headers(again.headers);
    if (next.origin !== new URL(url).origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
    if (toGet) {
      headers.delete('content-type');
      headers.delete('content-length');
    }
    request = new Request(next.href, {
      method: toGet ? 'GET' : again.method,
      headers,
      body: toGet ? null : again.body,
      duplex: 'half',
      signal: options.signal,
      redirect: 'manual',
    });
  }
}

let nextCallId = 1;
const pendingCalls = new Map();

/** A request to the host (a callback), answered by a response line. */
function callHost(method, params, state) {
  const run = currentRun(state);
  const ErrorType = state?.Error ?? Error;
  if (run !== undefined) {
    if (run.finished) return Promise.reject(new ErrorType(`${method}: the run has ended`));
    run.callbackCount++;
    if (run.maxCallbacks > 0 && run.callbackCount > run.maxCallbacks) {
      const message = `the run reached its limit of ${run.maxCallbacks} callback calls`;
      run.end(CODES.LIMIT, message);
      return Promise.reject(new ErrorType(message));
    }
  }
  const id = nextCallId++;
  const paramsJson = toJsonText(params === undefined ? {} : params, 'callback params');
  return new Promise((resolve, reject) => {
    pendingCalls.set(id, { resolve, reject, run, state });
    run?.calls.add(id);
    send('{"jsonrpc":"2.0","id":' + id + ',"method":' + JSON.stringify(method) + ',"params":{"run":'
      + (run ? run.id : 'null') + ',"session":' + (state?.sessionId ?? 'null') + ',"args":' + paramsJson + '}}');
  });
}

function onHostResponse(message) {
  const call = pendingCalls.get(message.id);
  if (call === undefined) return;
  pendingCalls.delete(message.id);
  call.run?.calls.delete(message.id);
  const { state } = call;
  const inRealm = (value) => (value === undefined || state === undefined ? value : state.jsonParse(JSON.stringify(value)));
  if (message.error) {
    const error = new (state?.Error ?? Error)(String(message.error.message));
    error.code = message.error.code;
    if (message.error.data !== undefined) error.data = inRealm(message.error.data);
    call.reject(error);
  } else {
    call.resolve(inRealm(message.result));
  }
}

// ---------------------------------------------------------------------------
// Compiling: a content-addressed LRU of scripts, and code caches for modules.

const scriptCache = new Map();
const moduleCodeCache = new Map();
/** What the caches did, for the host's `stats` request. */
const cacheStats = { scriptCompiles: 0, scriptHits: 0, moduleCompiles: 0, moduleCacheHits: 0, fileReads: 0 };

function lruGet(map, key) {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

function lruSet(map, key, value) {
  map.set(key, value);
  while (map.size > config.scriptCacheSize) map.delete(map.keys().next().value);
}

/** The error for a key sent without source that is not cached here. */
function unknownScript(params) {
  return new RunEnded(CODES.UNKNOWN_SCRIPT, `script ${params.key} is not cached here`);
}

/** A classic script: compiled once, run in any context. */
function compileScript(params) {
  const cached = params.key ? lruGet(scriptCache, params.key) : undefined;
  if (cached !== undefined) {
    cacheStats.scriptHits++;
    return cached;
  }
  if (typeof params.code !== 'string') throw unknownScript(params);
  const script = new vm.Script(params.code, {
    filename: params.name,
    importModuleDynamically: dynamicImport,
  });
  cacheStats.scriptCompiles++;
  if (typeof params.file === 'string') filesOf.set(script, params.file);
  if (params.key) lruSet(scriptCache, params.key, script);
  return script;
}

/**
 * A module for one context. A module instance belongs to its context, so the
 * cache keeps its source and V8's code cache, which makes recompiling cheap.
 */
function compileModule(state, params) {
  const { name, key } = params;
  let entry = key ? lruGet(moduleCodeCache, key) : undefined;
  const source = typeof params.code === 'string' ? params.code : entry?.source;
  if (source === undefined) throw unknownScript(params);
  const { file } = params;
  const create = (cachedData) => new vm.SourceTextModule(source, {
    identifier: name,
    context: state.context,
    cachedData,
    importModuleDynamically: dynamicImport,
    initializeImportMeta: file === undefined ? undefined : (meta) => {
      meta.url = pathToFileURL(file).href;
      meta.filename = file;
      meta.dirname = path.dirname(file);
    },
  });
  let module;
  try {
    try {
      module = create(entry?.cachedData);
    } catch (error) {
      if (entry?.cachedData === undefined || error?.code !== 'ERR_VM_MODULE_CACHED_DATA_REJECTED') throw error;
      entry.cachedData = undefined;
      module = create(undefined);
    }
  } catch (error) {
    if (error && error.name === 'SyntaxError') throw locateModuleSyntaxError(error, source, name);
    throw error;
  }
  moduleOwners.set(module, state);
  if (file !== undefined) filesOf.set(module, file);
  if (entry?.cachedData !== undefined) {
    cacheStats.moduleCacheHits++;
  } else {
    cacheStats.moduleCompiles++;
  }
  if (key && entry === undefined) {
    entry = { source, cachedData: undefined };
    lruSet(moduleCodeCache, key, entry);
  }
  if (entry !== undefined && entry.cachedData === undefined) {
    try {
      entry.cachedData = module.createCachedData();
    } catch {
      // A module that cannot produce a code cache is simply compiled each time.
    }
  }
  return module;
}

/**
 * Module syntax errors carry no position in node; find it by compiling the
 * source as a strict async function body with the module-only syntax blanked.
 */
function locateModuleSyntaxError(error, source, name) {
  const prefix = '(async function(){"use strict";';
  const blanked = source
    .replace(/^([ \t]*)import\s+[^;'"]*?(?:from\s*)?(['"])[^'"]*\2[ \t]*;?/gm, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/^([ \t]*)export\s+default\b/gm, (m, indent) => indent + 'void' + ' '.repeat(m.length - indent.length - 4))
    .replace(/^([ \t]*)export\s*\{[^}]*\}[^;\n]*;?/gm, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/^([ \t]*)export\b/gm, (m, indent) => indent + ' '.repeat(m.length - indent.length));
  try {
    new vm.Script(prefix + blanked + '\n})', { filename: name });
  } catch (probe) {
    const where = locate(safeGet(probe, 'stack'), name);
    if (where.line !== undefined && safeGet(probe, 'message') === safeGet(error, 'message')) {
      if (where.line === 1) where.column -= prefix.length;
      const located = new SyntaxError(error.message);
      located.stack = `${name}:${where.line}\n${source.split('\n')[where.line - 1] ?? ''}\n${' '.repeat(Math.max(0, where.column - 1))}^\n\nSyntaxError: ${error.message}\n    at ${name}:${where.line}:${where.column}`;
      return located;
    }
  }
  return error;
}

const moduleOwners = new WeakMap();

// ---------------------------------------------------------------------------
// Imports: registered modules, allowed built-ins, and project files.
//
// Resolution is Node's own: `import.meta.resolve(specifier, parent)` (the
// ESM resolver: exports maps, "import" condition; needs
// --experimental-import-meta-resolve for the parent argument) for imports,
// and `createRequire(file).resolve` (the CommonJS resolver, "require"
// condition) for `require`. Loading is ours, so that every file runs in the
// run's own context: ES modules as `SourceTextModule`s, CommonJS files as a
// function wrapper compiled once and called in each context with a
// context-local `require`, `module` and `exports`.

/** The file a module or script was loaded from: what its relative imports resolve against. */
const filesOf = new WeakMap();
/** Errors of the script's realm that stand for an ImportFailure (see `importErrorIn`). */
const importFailures = new WeakMap();

/** Node's built-in modules, by bare name ("fs", "fs/promises"). */
const BUILTINS = new Set(builtinModules);

/** The bare name of a built-in (`node:fs` → `fs`), or undefined. */
function builtinName(specifier) {
  if (specifier.startsWith('node:')) return specifier.slice(5);
  return BUILTINS.has(specifier) ? specifier : undefined;
}

/**
 * A built-in module the pool allows, as the scripts see it. It is the
 * worker's own module (worker-realm objects: their intrinsics are frozen and
 * their `Function` refuses strings); an object module is handed out as a
 * frozen copy so that a script cannot replace functions the worker itself
 * uses (say `fs.readFileSync`).
 */
const builtinViews = new Map();
function builtinFor(name, specifier, referrer) {
  if (!config.allowBuiltins.has(name)) {
    throw new ImportFailure(specifier, referrer, `Node built-in module "${specifier}" is not allowed in scripts`
      + ` (allow it with PoolBuilder::allow_builtin("node:${name}"))`);
  }
  let view = builtinViews.get(name);
  if (view === undefined) {
    const real = workerRequire(`node:${name}`);
    view = typeof real === 'object' && real !== null ? Object.freeze({ ...real }) : real;
    builtinViews.set(name, view);
  }
  return view;
}
const workerRequire = createRequire(path.join(process.cwd(), '[outrigger-worker]'));

/** Resolutions already made, by the parent's directory and the specifier. */
const resolutions = new Map();
const RESOLUTIONS_LIMIT = 4096;

/**
 * The absolute path `specifier` names, resolved from `parentFile` with Node's
 * resolver: the ESM one for `import`, the CommonJS one for `require`.
 */
function resolveFile(specifier, parentFile, referrer, how) {
  const cacheKey = how + '\0' + path.dirname(parentFile) + '\0' + specifier;
  const cached = resolutions.get(cacheKey);
  if (cached !== undefined) return cached;
  let resolved;
  try {
    if (how === 'require') {
      resolved = createRequire(parentFile).resolve(specifier);
    } else {
      const url = import.meta.resolve(specifier, pathToFileURL(parentFile).href);
      if (!url.startsWith('file:')) throw new Error(`it resolves to ${url}, which is not a file`);
      resolved = fileURLToPath(url);
    }
  } catch (error) {
    throw new ImportFailure(specifier, referrer, notFoundReason(specifier, error));
  }
  resolutions.set(cacheKey, resolved);
  if (resolutions.size > RESOLUTIONS_LIMIT) resolutions.delete(resolutions.keys().next().value);
  return resolved;
}

/** Node's resolver errors, said in terms of what was looked for. */
function notFoundReason(specifier, error) {
  const message = String(error?.message ?? error).split('\n')[0];
  const bare = !/^(\.{0,2}\/|file:)/.test(specifier);
  if (bare && (error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'MODULE_NOT_FOUND') && /package|Cannot find module/.test(message)) {
    return `package not found: ${message} (is it installed in the project's node_modules?)`;
  }
  return message;
}

/** Where relative imports of code that is not a file resolve from: the project directory. */
function anchorIn(state) {
  return state.project === undefined ? undefined : path.join(state.project, '[script]');
}

/** What `specifier`, imported from `parentFile` (or the project), is. */
function resolveImport(state, specifier, parentFile, referrer, how) {
  const builtin = builtinName(specifier);
  if (builtin !== undefined) return { kind: 'builtin', name: builtin };
  if (config.modules.has(specifier)) return { kind: 'registered' };
  const parent = parentFile ?? anchorIn(state);
  if (parent === undefined) {
    const known = [...config.modules.keys()];
    const relative = /^(\.{0,2}\/|file:)/.test(specifier);
    throw new ImportFailure(specifier, referrer, relative
      ? 'a relative import needs a file to resolve against: run the script from a file (Script::module_file) or set a project directory (PoolBuilder::project)'
      : `no module with that name is registered`
        + (known.length ? ` (registered: ${known.join(', ')})` : ' (none are registered)')
        + '; to import npm packages, set a project directory (PoolBuilder::project)');
  }
  const file = resolveFile(specifier, parent, referrer, how);
  return { kind: 'file', file, format: formatOf(file, specifier, referrer) };
}

/** How Node would load a file: 'module', 'commonjs' or 'json'. */
function formatOf(file, specifier, referrer) {
  const ext = path.extname(file);
  if (ext === '.mjs') return 'module';
  if (ext === '.cjs') return 'commonjs';
  if (ext === '.json') return 'json';
  if (ext === '.node') throw new ImportFailure(specifier, referrer, `${file} is a native addon, which scripts cannot load`);
  return packageTypeOf(path.dirname(file)) === 'module' ? 'module' : 'commonjs';
}

/** The "type" of the package.json nearest to `dir` (Node's rule for .js files). */
const packageTypes = new Map();
function packageTypeOf(dir) {
  let type = packageTypes.get(dir);
  if (type !== undefined) return type;
  let manifest;
  try {
    manifest = readFileSync(path.join(dir, 'package.json'), 'utf8');
  } catch {
    manifest = undefined;
  }
  if (manifest !== undefined) {
    try {
      type = JSON.parse(manifest).type === 'module' ? 'module' : 'commonjs';
    } catch {
      type = 'commonjs';
    }
  } else {
    const up = path.dirname(dir);
    type = up === dir ? 'commonjs' : packageTypeOf(up);
  }
  packageTypes.set(dir, type);
  return type;
}

/**
 * A file's source, read again only when its size or modification time
 * changed. The entry is also where its compiled forms are kept, so a file
 * is compiled once however many contexts load it.
 */
const files = new Map();
function readProjectFile(file, specifier, referrer) {
  let stat;
  try {
    stat = statSync(file);
  } catch (error) {
    throw new ImportFailure(specifier, referrer, error?.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${error.message}`);
  }
  let entry = lruGet(files, file);
  if (entry === undefined || entry.mtimeMs !== stat.mtimeMs || entry.size !== stat.size) {
    let source;
    try {
      source = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ImportFailure(specifier, referrer, `cannot read ${file}: ${error.message}`);
    }
    entry = { mtimeMs: stat.mtimeMs, size: stat.size, source, key: `file:${file}:${stat.mtimeMs}:${stat.size}`, wrapper: undefined };
    cacheStats.fileReads++;
    lruSet(files, file, entry);
  }
  return entry;
}

/** The module `specifier` names, for this context (made once per context). */
function importModule(state, specifier, parentFile, referrer) {
  const target = resolveImport(state, specifier, parentFile, referrer, 'import');
  const id = target.kind === 'builtin' ? `node:${target.name}` : target.kind === 'file' ? target.file : specifier;
  const existing = state.modules.get(id);
  if (existing !== undefined) return existing;
  let module;
  if (target.kind === 'builtin') {
    module = syntheticModule(state, id, builtinFor(target.name, specifier, referrer));
  } else if (target.kind === 'registered') {
    const source = config.modules.get(specifier);
    module = compileModule(state, { name: specifier, key: source.key, code: source.code });
  } else if (target.format === 'module') {
    const entry = readProjectFile(target.file, specifier, referrer);
    module = compileModule(state, { name: target.file, key: entry.key, code: entry.source, file: target.file });
  } else {
    module = syntheticModule(state, id, requireFile(state, target.file, target.format, specifier, referrer));
  }
  state.modules.set(id, module);
  return module;
}

/**
 * A module exposing a CommonJS value or a built-in: `default` is the value,
 * and its own keys are named exports too (as Node does for CommonJS).
 */
function syntheticModule(state, identifier, value) {
  const names = value !== null && (typeof value === 'object' || typeof value === 'function')
    ? Object.keys(value).filter((name) => name !== 'default')
    : [];
  const module = new vm.SyntheticModule(['default', ...names], function () {
    this.setExport('default', value);
    for (const name of names) this.setExport(name, value[name]);
  }, { identifier, context: state.context });
  moduleOwners.set(module, state);
  return module;
}

/** The wrapper that makes a CommonJS file a function of the context's realm. */
const CJS_HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const CJS_TAIL = '\n})';

/** `module.exports` of a CommonJS (or JSON) file, evaluated once per context. */
function requireFile(state, file, format, specifier, referrer) {
  const existing = state.commonjs.get(file);
  if (existing !== undefined) return existing.exports;
  const entry = readProjectFile(file, specifier, referrer);
  if (format === 'json') {
    let value;
    try {
      value = state.jsonParse(entry.source);
    } catch (error) {
      throw new ImportFailure(specifier, referrer, `${file} is not valid JSON: ${error.message}`);
    }
    state.commonjs.set(file, { exports: value });
    return value;
  }
  if (format === 'module') {
    throw new ImportFailure(specifier, referrer, `${file} is an ES module, which require() cannot load: use import instead`);
  }
  if (entry.wrapper === undefined) {
    // `lineOffset` keeps the file's own line numbers in errors and stacks.
    entry.wrapper = new vm.Script(CJS_HEAD + entry.source + CJS_TAIL, {
      filename: file,
      lineOffset: -1,
      importModuleDynamically: dynamicImport,
    });
    filesOf.set(entry.wrapper, file);
    cacheStats.moduleCompiles++;
  } else {
    cacheStats.moduleCacheHits++;
  }
  const module = state.jsonParse('{"exports":{},"loaded":false}');
  module.id = file;
  module.filename = file;
  module.path = path.dirname(file);
  state.commonjs.set(file, module);
  const require = state.makeRequire(
    (id) => requireFrom(state, id, file),
    (id) => resolveForRequire(state, id, file),
  );
  module.require = require;
  const fn = entry.wrapper.runInContext(state.context);
  try {
    fn.call(module.exports, module.exports, require, module, file, path.dirname(file));
  } catch (error) {
    state.commonjs.delete(file);
    throw error;
  }
  module.loaded = true;
  return module.exports;
}

/** `require(id)` inside the CommonJS file `parentFile`. */
function requireFrom(state, id, parentFile) {
  try {
    const builtin = builtinName(id);
    if (builtin !== undefined) return builtinFor(builtin, id, parentFile);
    const file = resolveFile(id, parentFile, parentFile, 'require');
    return requireFile(state, file, formatOf(file, id, parentFile), id, parentFile);
  } catch (error) {
    throw error instanceof ImportFailure ? importErrorIn(state, error) : error;
  }
}

function resolveForRequire(state, id, parentFile) {
  try {
    const builtin = builtinName(id);
    if (builtin !== undefined) return id;
    return resolveFile(id, parentFile, parentFile, 'require');
  } catch (error) {
    throw error instanceof ImportFailure ? importErrorIn(state, error) : error;
  }
}

/**
 * An ImportFailure as an error of the script's realm (a script or a package
 * may catch it, and must not get hold of a worker-realm object). The run's
 * answer still reports it as an import error.
 */
function importErrorIn(state, failure) {
  const error = new state.Error(failure.message);
  error.code = 'ERR_OUTRIGGER_IMPORT';
  error.specifier = failure.specifier;
  error.referrer = failure.referrer;
  importFailures.set(error, failure);
  return error;
}

/** The linker of a context: every import of a module graph goes through it. */
function linkerFor(state) {
  return (specifier, referencing) =>
    importModule(state, specifier, filesOf.get(referencing), referencing?.identifier ?? 'the script');
}

async function dynamicImport(specifier, referrer) {
  const state = moduleOwners.get(referrer) ?? als.getStore()?.state;
  if (state === undefined) throw new ImportFailure(specifier, 'a finished run', 'the run has ended');
  try {
    const module = importModule(state, specifier, filesOf.get(referrer), referrer?.identifier ?? filesOf.get(referrer) ?? 'the script');
    if (module.status === 'unlinked') await module.link(linkerFor(state));
    if (module.status === 'linked') await module.evaluate();
    return module;
  } catch (error) {
    throw error instanceof ImportFailure ? importErrorIn(state, error) : error;
  }
}

// ---------------------------------------------------------------------------
// Preloads: modules imported into each context before any code runs there,
// and exposed as globals under chosen names.

/** Starts importing the pool's preloads into a new context; `state.ready` settles when done. */
function startPreloads(state) {
  if (config.preloads.length === 0) return null;
  const ready = (async () => {
    for (const { name, specifier } of config.preloads) {
      const module = importModule(state, specifier, undefined, `preload "${name}"`);
      if (module.status === 'unlinked') await module.link(linkerFor(state));
      if (module.status === 'linked') await module.evaluate();
      const namespace = module.namespace;
      // A module with a default export gives that (lodash's `_`); others their namespace.
      state.context[name] = 'default' in namespace ? namespace.default : namespace;
    }
    state.ready = null;
  })();
  // A failure is reported by each run that waits for it.
  ready.catch(() => {});
  return ready;
}

/** Waits for the context's preloads, unless the run ends first. */
function whenReady(run, state) {
  return Promise.race([state.ready, run.ended]);
}

// ---------------------------------------------------------------------------
// Runs.

const runs = new Map();
const sessions = new Map();
const loadedModules = new Map();

class Run {
  constructor(id, state, timeout, maxCallbacks = 0) {
    this.id = id;
    this.state = state;
    state.lastRun = this;
    /** Callback calls made, the limit (0: none), and those not yet answered. */
    this.callbackCount = 0;
    /** Bytes of console output sent (Sandbox::max_console_bytes). */
    this.consoleBytes = 0;
    this.maxCallbacks = maxCallbacks;
    this.calls = new Set();
    this.finished = false;
    /** Why the run ended early (timeout, cancel, limit), once it has. */
    this.endReason = undefined;
    // The signal and the `ended` promise cost allocations most runs never
    // need: both are made on first use.
    this.abortController = undefined;
    this.endedPromise = undefined;
    this.rejectEnded = undefined;
    watchDeadline(this, timeout);
  }

  /** Aborted when the run ends (early, or when a plain run's context goes). */
  get controller() {
    if (this.abortController === undefined) {
      this.abortController = new AbortController();
      if (this.endReason !== undefined) this.abortController.abort(this.abortReason());
    }
    return this.abortController;
  }

  /** Rejects when the run ends early. */
  get ended() {
    if (this.endedPromise === undefined) {
      this.endedPromise = new Promise((_, reject) => {
        this.rejectEnded = reject;
      });
      this.endedPromise.catch(() => {});
      if (this.endReason !== undefined) this.rejectEnded(this.endReason);
    }
    return this.endedPromise;
  }

  /** What the signal aborts with: a `TimeoutError` or an `AbortError` DOMException. */
  abortReason() {
    const reason = this.endReason;
    return new DOMException(reason.message, reason.code === CODES.TIMEOUT ? 'TimeoutError' : 'AbortError');
  }

  /** Ends the run early: its awaits reject, its signal aborts. */
  end(code, message) {
    if (this.endReason !== undefined) return;
    this.endReason = new RunEnded(code, message);
    this.rejectEnded?.(this.endReason);
    this.abortController?.abort(this.abortReason());
  }

  finish() {
    this.finished = true;
    deadlines.delete(this);
    runs.delete(this.id);
    for (const id of this.calls) {
      const call = pendingCalls.get(id);
      pendingCalls.delete(id);
      call?.reject(new (call.state?.Error ?? Error)('the run ended before the callback answered'));
    }
    this.calls.clear();
  }
}

/**
 * Runs' deadlines, checked by one timer rather than a timer per run (the
 * host keeps the exact deadline; this one stops the JavaScript).
 */
const deadlines = new Set();
let deadlineTimer = null;
const DEADLINE_TICK_MS = 25;

function watchDeadline(run, timeout) {
  if (!(timeout > 0)) return;
  run.deadline = nowMs() + timeout;
  run.timeout = timeout;
  deadlines.add(run);
  if (deadlineTimer === null) {
    deadlineTimer = setInterval(checkDeadlines, DEADLINE_TICK_MS);
    deadlineTimer.unref();
  }
}

function checkDeadlines() {
  const now = nowMs();
  for (const run of deadlines) {
    if (now >= run.deadline) {
      deadlines.delete(run);
      run.end(CODES.TIMEOUT, `run timed out after ${run.timeout} ms`);
    }
  }
  if (deadlines.size === 0) {
    clearInterval(deadlineTimer);
    deadlineTimer = null;
  }
}

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

/** Awaits a value a script produced, unless the run ends first. */
async function settle(run, value) {
  if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function') {
    return await Promise.race([value, run.ended]);
  }
  return value;
}

function contextFor(params) {
  if (params.session === undefined || params.session === null) {
    if (config.isolation === 'worker') {
      sharedContext ??= new ContextState();
      return { state: sharedContext, owned: false };
    }
    return { state: freshContext(), owned: true };
  }
  const state = sessions.get(params.session);
  if (state === undefined) throw new RunEnded(CODES.NOT_FOUND, `session ${params.session} is not open on this worker`);
  return { state, owned: false };
}

/**
 * Runs a script. A classic script whose value is not a promise finishes
 * synchronously, inside the read that brought it, so its answer leaves in
 * the same write pass; anything asynchronous continues in `finishRun`.
 */
function runScript(id, params) {
  let context;
  try {
    context = contextFor(params);
  } catch (thrown) {
    const { code, message, data } = errorFor(thrown, params.name);
    return respondError(id, code, message, data);
  }
  const { state, owned } = context;
  const run = new Run(id, state, params.timeout, params.maxCallbacks);
  runs.set(id, run);
  let pending;
  try {
    pending = als.run(run, () => {
      // A context still importing its preloads runs the script once they are in.
      if (state.ready) return whenReady(run, state).then(() => runBody(run, state, params));
      const value = runBody(run, state, params);
      if (isThenable(value)) return value;
      respond(id, toJsonText(value));
      return undefined;
    });
  } catch (thrown) {
    const { code, message, data } = errorFor(thrown, params.name);
    respondError(id, code, message, data);
  }
  if (pending === undefined) {
    endRun(run, state, owned);
  } else {
    finishRun(id, run, state, owned, pending, params.name);
  }
}

/** Sets a run's globals and evaluates it: its value, or a promise of it. */
function runBody(run, state, params) {
  if (params.globals) {
    const globals = state.jsonParse(params.globals);
    for (const name of Object.keys(globals)) state.context[name] = globals[name];
  }
  if (params.kind === 'module') return evaluateModule(run, state, params);
  const script = compileScript(params);
  const started = nowMs();
  const value = script.runInContext(state.context, { ...watchdogFor(params.key, params.timeout), displayErrors: true });
  noteSyncTime(params.key, started);
  return isThenable(value) ? settle(run, value) : value;
}

async function evaluateModule(run, state, params) {
  const module = compileModule(state, params);
  await Promise.race([module.link(linkerFor(state)), run.ended]);
  const started = nowMs();
  const evaluated = module.evaluate(watchdogFor(params.key, params.timeout));
  noteSyncTime(params.key, started);
  await Promise.race([evaluated, run.ended]);
  return settle(run, module.namespace.default);
}

/** Waits for a run's asynchronous part and answers. */
async function finishRun(id, run, state, owned, pending, name) {
  try {
    const value = await pending;
    respond(id, als.run(run, () => toJsonText(value)));
  } catch (thrown) {
    const { code, message, data } = errorFor(thrown, name);
    respondError(id, code, message, data);
  } finally {
    endRun(run, state, owned);
  }
}

function endRun(run, state, owned) {
  run.finish();
  if (owned) {
    // The context goes with the run: whatever still holds its signal sees it abort.
    if (run.endReason === undefined) run.endReason = RUN_OVER;
    run.abortController?.abort(run.abortReason());
    state.dispose();
  }
}

async function loadModule(id, params) {
  let state;
  if (params.session !== undefined && params.session !== null) {
    state = sessions.get(params.session);
    if (state === undefined) return respondError(id, CODES.NOT_FOUND, `session ${params.session} is not open on this worker`);
  } else {
    state = new ContextState();
  }
  const run = new Run(id, state, params.timeout, params.maxCallbacks);
  runs.set(id, run);
  try {
    await als.run(run, async () => {
      if (state.ready) await whenReady(run, state);
      const module = compileModule(state, params);
      await Promise.race([module.link(linkerFor(state)), run.ended]);
      await Promise.race([module.evaluate(params.timeout > 0 ? { timeout: params.timeout } : {}), run.ended]);
      const exports = Object.keys(module.namespace);
      loadedModules.set(params.handle, { namespace: module.namespace, state, owned: params.session == null, name: params.name });
      respond(id, JSON.stringify({ exports }));
    });
  } catch (thrown) {
    if (params.session == null) state.dispose();
    const { code, message, data } = errorFor(thrown, params.name);
    respondError(id, code, message, data);
  } finally {
    run.finish();
  }
}

const callScript = new vm.Script('globalThis[Symbol.for("outrigger.call")]()', { filename: 'outrigger:call' });

/** Calls `thunk` inside `state`'s context, under the engine's watchdog for the synchronous part. */
function callWithTimeout(state, thunk, timeout, key) {
  const options = watchdogFor(key, timeout);
  if (options.timeout === undefined) {
    const started = nowMs();
    const value = thunk();
    noteSyncTime(key, started);
    return value;
  }
  const slot = Symbol.for('outrigger.call');
  Object.defineProperty(state.context, slot, { value: thunk, configurable: true });
  try {
    const started = nowMs();
    const value = callScript.runInContext(state.context, options);
    noteSyncTime(key, started);
    return value;
  } finally {
    delete state.context[slot];
  }
}

/** Calls a loaded module's export; synchronous results answer at once, as in `runScript`. */
function callExport(id, params) {
  const loaded = loadedModules.get(params.handle);
  if (loaded === undefined) return respondError(id, CODES.NOT_FOUND, `module ${params.handle} is not loaded on this worker`);
  const run = new Run(id, loaded.state, params.timeout, params.maxCallbacks);
  runs.set(id, run);
  let pending;
  try {
    const fn = loaded.namespace[params.export];
    if (typeof fn !== 'function') {
      const names = Object.keys(loaded.namespace).filter((k) => typeof loaded.namespace[k] === 'function');
      throw new RunEnded(CODES.NOT_FOUND, `module "${loaded.name}" has no exported function "${params.export}"`
        + ` (exported functions: ${names.length ? names.join(', ') : 'none'})`);
    }
    pending = als.run(run, () => {
      const args = params.args ? loaded.state.jsonParse(params.args) : [];
      const value = callWithTimeout(loaded.state, () => fn(...args), params.timeout, `call:${params.handle}:${params.export}`);
      if (isThenable(value)) return settle(run, value);
      respond(id, toJsonText(value));
      return undefined;
    });
  } catch (thrown) {
    const { code, message, data } = errorFor(thrown, loaded.name);
    respondError(id, code, message, data);
  }
  if (pending === undefined) {
    run.finish();
  } else {
    finishRun(id, run, loaded.state, false, pending, loaded.name);
  }
}

// ---------------------------------------------------------------------------
// Dispatch.

function handleRequest(message) {
  const { id, method, params } = message;
  switch (method) {
    case 'run':
      return void runScript(id, params);
    case 'call':
      return void callExport(id, params);
    case 'module.load':
      return void loadModule(id, params);
    case 'ping':
      return respond(id, '{}');
    case 'stats':
      return respond(id, JSON.stringify({
        ...cacheStats,
        ...channelStats,
        runs: runs.size,
        sessions: sessions.size,
        loadedModules: loadedModules.size,
        spareContexts: spareContexts.length,
        heapUsed: process.memoryUsage().heapUsed,
      }));
    case 'init':
      for (const [name, source] of Object.entries(params.modules ?? {})) config.modules.set(name, source);
      if (params.scriptCacheSize) config.scriptCacheSize = params.scriptCacheSize;
      if (params.maxMessageBytes) config.maxMessageBytes = params.maxMessageBytes;
      if (params.spareContexts !== undefined) config.spareContexts = params.spareContexts;
      if (params.callbacks) config.callbacks = params.callbacks;
      if (params.watchdogTrust !== undefined) config.watchdogTrust = params.watchdogTrust;
      if (params.isolation === 'worker') {
        config.isolation = 'worker';
        config.spareContexts = 0;
      }
      if (typeof params.project === 'string') {
        if (!isDirectory(params.project)) {
          return respondError(id, CODES.INVALID_PARAMS, `the project directory ${params.project} does not exist or is not a directory`);
        }
        config.project = params.project;
      }
      if (Array.isArray(params.preloads)) config.preloads = params.preloads;
      if (Array.isArray(params.allowBuiltins)) {
        config.allowBuiltins = new Set(params.allowBuiltins.map((name) => builtinName(name) ?? name));
      }
      if (params.sandbox !== undefined && params.sandbox !== null) {
        const sandbox = params.sandbox;
        try {
          config.fetchAllow = (sandbox.fetchAllow ?? []).map(parseFetchPattern);
        } catch (error) {
          return respondError(id, CODES.INVALID_PARAMS, `a Sandbox::allow_fetch pattern is not a URL: ${error.message}`);
        }
        if (typeof sandbox.maxConsoleBytes === 'number') config.maxConsoleBytes = sandbox.maxConsoleBytes;
      }
      if (config.preloads.length > 0) return void initWithPreloads(id);
      scheduleRefill();
      return respond(id, hello());
    case 'session.open': {
      if (sessions.has(params.session)) return respondError(id, CODES.INVALID_PARAMS, `session ${params.session} is already open`);
      const state = new ContextState(typeof params.project === 'string' ? params.project : config.project);
      state.sessionId = params.session;
      sessions.set(params.session, state);
      return respond(id, '{}');
    }
    default:
      return respondError(id, CODES.METHOD_NOT_FOUND, `unknown method "${method}"`);
  }
}

function handleNotification(message) {
  const { method, params } = message;
  switch (method) {
    case 'cancel': {
      const run = runs.get(params.id);
      if (run !== undefined) {
        const timedOut = params.reason === 'timeout';
        run.end(timedOut ? CODES.TIMEOUT : CODES.CANCELLED, timedOut ? 'run timed out' : 'run cancelled');
      }
      return;
    }
    case 'session.close': {
      const state = sessions.get(params.session);
      sessions.delete(params.session);
      if (state !== undefined) state.dispose();
      for (const [handle, loaded] of loadedModules) if (loaded.state === state) loadedModules.delete(handle);
      return;
    }
    case 'module.unload': {
      const loaded = loadedModules.get(params.handle);
      loadedModules.delete(params.handle);
      if (loaded !== undefined && loaded.owned) loaded.state.dispose();
      return;
    }
    case 'shutdown':
      flush();
      channel.end();
      return void setImmediate(() => process.exit(0));
    default:
      return;
  }
}

function isDirectory(dir) {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** The answer to `init`. */
function hello() {
  return JSON.stringify({ protocol: PROTOCOL_VERSION, engine: 'node', version: process.versions.node, pid: process.pid });
}

/**
 * Answers `init` once the preloads have been imported into a first context
 * (kept as a spare one): a preload that cannot be imported fails start-up
 * with its import error, rather than every run later.
 */
async function initWithPreloads(id) {
  const state = new ContextState();
  try {
    await state.ready;
  } catch (thrown) {
    const { code, message, data } = errorFor(thrown, 'preload');
    return respondError(id, code, message, data);
  }
  if (config.isolation === 'run') spareContexts.push(state);
  scheduleRefill();
  respond(id, hello());
}

/** What each method cannot do without. */
const REQUIRED_PARAMS = {
  run: ['kind', 'name'],
  call: ['handle', 'export'],
  'module.load': ['handle', 'name'],
  'session.open': ['session'],
  cancel: ['id'],
  'session.close': ['session'],
  'module.unload': ['handle'],
};

/**
 * A request whose params name an `attachment` waits here for the next line:
 * a large JSON value (globals, arguments) sent as it is rather than escaped
 * into a string, which the context's own `JSON.parse` then reads.
 */
let awaitingAttachment = null;

function handleLine(line) {
  channelStats.messagesIn++;
  if (awaitingAttachment !== null) {
    const message = awaitingAttachment;
    awaitingAttachment = null;
    message.params[message.params.attachment] = line;
    return handleMessage(message);
  }
  let message;
  try {
    message = JSON.parse(line);
  } catch (e) {
    return respondError(null, CODES.PARSE_ERROR, `invalid JSON from the host: ${e.message}`);
  }
  if (message === null || typeof message !== 'object') {
    return respondError(null, CODES.INVALID_REQUEST, 'a message must be a JSON object');
  }
  const attachment = message.params?.attachment;
  if (attachment !== undefined) {
    if (typeof attachment !== 'string' || !ATTACHMENTS.has(attachment)) {
      return respondError(message.id ?? null, CODES.INVALID_PARAMS, `unknown attachment ${JSON.stringify(attachment)}`);
    }
    awaitingAttachment = message;
    return;
  }
  return handleMessage(message);
}

/** The params an attachment line may carry. */
const ATTACHMENTS = new Set(['globals', 'args']);

function handleMessage(message) {
  if (typeof message.method === 'string') {
    const isRequest = message.id !== undefined && message.id !== null;
    if (message.params === undefined) message.params = {};
    const { params } = message;
    const missing = params !== null && typeof params === 'object' && !Array.isArray(params)
      ? (REQUIRED_PARAMS[message.method] ?? []).filter((name) => params[name] === undefined || params[name] === null)
      : ['an object'];
    if (missing.length > 0) {
      if (isRequest) respondError(message.id, CODES.INVALID_PARAMS, `params of "${message.method}" need ${missing.join(', ')}`);
      return;
    }
    try {
      return isRequest ? handleRequest(message) : handleNotification(message);
    } catch (error) {
      if (isRequest) respondError(message.id, CODES.INTERNAL, `${message.method} failed: ${error?.message ?? error}`);
      return;
    }
  }
  if ('result' in message || 'error' in message) return onHostResponse(message);
  return respondError(message.id ?? null, CODES.INVALID_REQUEST, 'a message needs a method, a result or an error');
}

// ---------------------------------------------------------------------------
// Start-up.

/** Connects to the host over the inherited channel and serves until it closes. */
export function serve(fd = 3) {
  process.on('uncaughtException', (error) => {
    sendLog('error', ['Uncaught exception:', error]);
  });
  process.on('unhandledRejection', (reason) => {
    sendLog('error', ['Unhandled promise rejection:', reason]);
  });
  channel = new net.Socket({ fd, readable: true, writable: true });
  const exit = () => process.exit(0);
  channel.on('end', exit);
  channel.on('close', exit);
  channel.on('error', exit);
  const read = createLineReader(handleLine, () => config.maxMessageBytes + 1024 * 1024);
  channel.on('data', (chunk) => {
    channelStats.reads++;
    try {
      read(chunk);
      // Answers ready now go out in one write, without waiting for the loop.
      flush();
    } catch (error) {
      respondError(null, CODES.LIMIT, error.message);
      flush();
      process.exit(3);
    }
  });
}

if (globalThis.__outriggerNoServe !== true) serve();
