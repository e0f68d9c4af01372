// The web APIs whose results a script keeps, rebuilt in the script's own
// realm: what they hand back (encoded bytes, clones, response bodies, digests,
// blobs) is made of the script's own intrinsics, so `instanceof Uint8Array`,
// `instanceof Object` and `Object.getPrototypeOf` answer as in plain Node.
// The work itself stays with the worker's implementation (encodings, the
// HTTP client, WebCrypto); only values cross, copied into the realm.
//
// Everything here but `webParts` runs inside a context: each factory builds
// one group of globals on first use (see the bootstrap in 18_realm.mjs).

/**
 * The worker-realm implementations the script's APIs delegate to. Read
 * through getters, so that what loads on first use (the fetch family,
 * WebCrypto, streams) loads only when a script needs it; `lend` freezes a
 * global as it is lent (see 18_realm.mjs).
 */
export function webParts(lend) {
  return Object.freeze({
    get TextEncoder() { return lend('TextEncoder'); },
    get TextDecoder() { return lend('TextDecoder'); },
    get structuredClone() { return lend('structuredClone'); },
    utf8Length: Object.freeze((text) => Buffer.byteLength(text, 'utf8')),
    utf8Write: Object.freeze((bytes, text) => Buffer.prototype.utf8Write.call(bytes, text, 0, bytes.length)),
    get Blob() { return lend('Blob'); },
    get File() { return lend('File'); },
    get ReadableStream() { return lend('ReadableStream'); },
    get Response() { return lend('Response'); },
    get Request() { return lend('Request'); },
    get crypto() { return lend('crypto'); },
    get subtle() { return lend('crypto').subtle; },
    now: Object.freeze(() => performance.now()),
    get timeOrigin() { return performance.timeOrigin; },
  });
}

/**
 * Runs inside a context: copies what the worker's realm returned into this
 * realm. Bytes are copied; plain objects, arrays, dates, maps and errors are
 * rebuilt; class instances of the worker (a CryptoKey, a Blob) are kept, as
 * their classes are the ones the script sees.
 */
export function makeRealmCopy() {
  'use strict';
  const tagOf = (value) => Object.prototype.toString.call(value).slice(8, -1);
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError };
  const TYPED = {
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  };
  function copy(value, seen = new Map()) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value;
    if (seen.has(value)) return seen.get(value);
    const tag = tagOf(value);
    if (tag === 'ArrayBuffer') {
      const out = new ArrayBuffer(value.byteLength);
      new Uint8Array(out).set(new Uint8Array(value));
      seen.set(value, out);
      return out;
    }
    if (ArrayBuffer.isView(value)) {
      const buffer = copy(value.buffer, seen);
      const Type = tag === 'DataView' ? DataView : TYPED[tag];
      if (Type === undefined) return value;
      const length = tag === 'DataView' ? value.byteLength : value.length;
      const out = new Type(buffer, value.byteOffset, length);
      seen.set(value, out);
      return out;
    }
    const proto = Object.getPrototypeOf(value);
    const plain = proto === null || Object.getPrototypeOf(proto) === null;
    if (Array.isArray(value)) {
      const out = new Array(value.length);
      seen.set(value, out);
      for (let i = 0; i < value.length; i++) out[i] = copy(value[i], seen);
      return out;
    }
    if (tag === 'Date') return new Date(value.getTime());
    if (tag === 'RegExp') return new RegExp(value.source, value.flags);
    if (tag === 'Map') {
      const out = new Map();
      seen.set(value, out);
      for (const [k, v] of value) out.set(copy(k, seen), copy(v, seen));
      return out;
    }
    if (tag === 'Set') {
      const out = new Set();
      seen.set(value, out);
      for (const v of value) out.add(copy(v, seen));
      return out;
    }
    if (tag === 'Error' && Object.hasOwn(ERRORS, value.name)) {
      const out = new ERRORS[value.name](value.message);
      seen.set(value, out);
      for (const key of Object.keys(value)) out[key] = copy(value[key], seen);
      if (typeof value.stack === 'string') out.stack = value.stack;
      if ('cause' in value) out.cause = copy(value.cause, seen);
      return out;
    }
    if (!plain || typeof value === 'function') return value;
    const out = {};
    seen.set(value, out);
    for (const key of Object.keys(value)) out[key] = copy(value[key], seen);
    return out;
  }
  return copy;
}

/** Runs inside a context: TextEncoder, TextDecoder and structuredClone of this realm. */
export function makeEncoding(parts, realmCopy) {
  'use strict';
  const rethrow = (error) => {
    throw realmCopy(error);
  };
  let encoder;
  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }

    encode(input = '') {
      const text = String(input);
      const bytes = new Uint8Array(parts.utf8Length(text));
      if (bytes.length > 0) parts.utf8Write(bytes, text);
      return bytes;
    }

    encodeInto(source, destination) {
      encoder ??= new parts.TextEncoder();
      const { read, written } = encoder.encodeInto(String(source), destination);
      return { read, written };
    }
  }
  class TextDecoder {
    #decoder;

    constructor(label = 'utf-8', options = {}) {
      try {
        this.#decoder = new parts.TextDecoder(label, options);
      } catch (error) {
        rethrow(error);
      }
    }

    get encoding() {
      return this.#decoder.encoding;
    }

    get fatal() {
      return this.#decoder.fatal;
    }

    get ignoreBOM() {
      return this.#decoder.ignoreBOM;
    }

    decode(input, options) {
      try {
        return this.#decoder.decode(input, options);
      } catch (error) {
        return rethrow(error);
      }
    }
  }
  for (const Class of [TextEncoder, TextDecoder]) {
    Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: Class.name, configurable: true });
  }

  /**
   * The structured clone algorithm, building the clone in this realm; what
   * only the worker's clone knows (Blobs, transfers) goes through it.
   */
  function structuredClone(value, options) {
    if (arguments.length === 0) throw new TypeError('The "value" argument must be specified');
    if (options?.transfer !== undefined) {
      try {
        return realmCopy(parts.structuredClone(value, options));
      } catch (error) {
        return rethrow(error);
      }
    }
    return cloneValue(value, new Map());
  }
  const uncloneable = (what) => new DOMException(`${what} could not be cloned.`, 'DataCloneError');
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  const TYPED = {
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  };
  function cloneValue(value, memory) {
    const type = typeof value;
    if (type === 'symbol') throw uncloneable(String(value));
    if (type === 'function') throw uncloneable(`${value.toString().split('\n')[0]}`);
    if (value === null || type !== 'object') return value;
    if (memory.has(value)) return memory.get(value);
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    let out;
    switch (tag) {
      case 'Boolean': case 'Number': case 'String': case 'BigInt':
        return Object(value.valueOf());
      case 'Date':
        return new Date(value.getTime());
      case 'RegExp':
        return new RegExp(value.source, value.flags);
      case 'ArrayBuffer':
        out = new ArrayBuffer(value.byteLength);
        new Uint8Array(out).set(new Uint8Array(value));
        memory.set(value, out);
        return out;
      case 'SharedArrayBuffer':
        return value;
      case 'DataView':
        out = new DataView(cloneValue(value.buffer, memory), value.byteOffset, value.byteLength);
        memory.set(value, out);
        return out;
      case 'Map':
        out = new Map();
        memory.set(value, out);
        for (const [k, v] of value) out.set(cloneValue(k, memory), cloneValue(v, memory));
        return out;
      case 'Set':
        out = new Set();
        memory.set(value, out);
        for (const v of value) out.add(cloneValue(v, memory));
        return out;
      case 'Error': {
        const Type = Object.hasOwn(ERRORS, value.name) ? ERRORS[value.name] : Error;
        out = new Type(String(value.message));
        memory.set(value, out);
        if (typeof value.stack === 'string') out.stack = value.stack;
        if ('cause' in value) out.cause = cloneValue(value.cause, memory);
        return out;
      }
      case 'Array':
        out = new Array(value.length);
        memory.set(value, out);
        for (const key of Object.keys(value)) out[key] = cloneValue(value[key], memory);
        return out;
      case 'Object':
        if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) throw uncloneable(tag);
        break;
      default:
        if (TYPED[tag] !== undefined && ArrayBuffer.isView(value)) {
          out = new TYPED[tag](cloneValue(value.buffer, memory), value.byteOffset, value.length);
          memory.set(value, out);
          return out;
        }
        if (tag === 'Blob' || tag === 'File' || tag === 'CryptoKey') {
          try {
            out = parts.structuredClone(value);
          } catch (error) {
            rethrow(error);
          }
          memory.set(value, out);
          return out;
        }
        throw uncloneable(tag);
    }
    out = {};
    memory.set(value, out);
    for (const key of Object.keys(value)) out[key] = cloneValue(value[key], memory);
    return out;
  }
  return { TextEncoder, TextDecoder, structuredClone };
}

/**
 * Runs inside a context: Blob and File of this realm, and the helpers the
 * fetch family shares with them (bodies read into this realm's values).
 */
export function makeBlobs(parts, realmCopy) {
  'use strict';
  const ordinary = Function.prototype[Symbol.hasInstance];
  const bytes = (buffer) => {
    const out = new Uint8Array(buffer.byteLength);
    out.set(new Uint8Array(buffer));
    return out;
  };
  const rethrow = (error) => {
    throw realmCopy(error);
  };
  const bodies = new WeakMap();
  /** A body stream whose chunks are copied into this realm (one per body). */
  const realmStream = (owner, stream) => {
    if (stream === null || stream === undefined) return stream;
    let copied = bodies.get(owner);
    if (copied === undefined) {
      const reader = stream.getReader();
      copied = new parts.ReadableStream({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(ArrayBuffer.isView(value) ? bytes(value) : value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      });
      bodies.set(owner, copied);
    }
    return copied;
  };
  const adopt = (object, Class) => {
    if (object !== null && typeof object === 'object' && Object.getPrototypeOf(object) !== Class.prototype) {
      Object.setPrototypeOf(object, Class.prototype);
    }
    return object;
  };
  const acceptWorkerInstances = (Class, Worker) => {
    Object.defineProperty(Class, Symbol.hasInstance, {
      value(value) {
        return ordinary.call(this, value) || (this === Class && ordinary.call(Worker, value));
      },
      configurable: true,
    });
  };
  const blobMembers = (Base, Sliced) => ({
    async arrayBuffer() {
      return bytes(await Base.prototype.arrayBuffer.call(this)).buffer;
    },
    async bytes() {
      return bytes(await Base.prototype.arrayBuffer.call(this));
    },
    slice(start, end, type) {
      return adopt(Base.prototype.slice.call(this, start, end, type), Sliced());
    },
    stream() {
      return realmStream(this, Base.prototype.stream.call(this));
    },
  });
  // Methods defined, not assigned: the lent classes' own are frozen.
  const define = (Class, members) => {
    for (const name of Object.keys(members)) {
      Object.defineProperty(Class.prototype, name, { value: members[name], writable: true, configurable: true, enumerable: false });
    }
  };
  class Blob extends parts.Blob {}
  define(Blob, blobMembers(parts.Blob, () => Blob));
  class File extends parts.File {}
  define(File, blobMembers(parts.File, () => Blob));
  acceptWorkerInstances(Blob, parts.Blob);
  acceptWorkerInstances(File, parts.File);
  return { Blob, File, bytes, rethrow, realmStream, adopt, acceptWorkerInstances, define };
}

/**
 * Runs inside a context: Response and Request of this realm. Bodies are
 * read into this realm's values; a response `fetch` returns is adopted
 * (given these classes' prototypes, keeping its own state).
 */
export function makeFetchClasses(parts, blobs) {
  'use strict';
  const { bytes, rethrow, realmStream, adopt, acceptWorkerInstances, define, Blob } = blobs;
  // The members every body has, reading into this realm.
  const bodyMembers = (Base) => ({
    async json() {
      return JSON.parse(await Base.prototype.text.call(this));
    },
    async arrayBuffer() {
      return bytes(await Base.prototype.arrayBuffer.call(this)).buffer;
    },
    async bytes() {
      return bytes(await Base.prototype.arrayBuffer.call(this));
    },
    async blob() {
      return adopt(await Base.prototype.blob.call(this), Blob);
    },
  });
  class Response extends parts.Response {
    constructor(body, init) {
      try {
        super(body, init);
      } catch (error) {
        rethrow(error);
      }
    }

    get body() {
      return realmStream(this, super.body);
    }

    clone() {
      return adopt(super.clone(), Response);
    }

    static json(data, init) {
      return adopt(parts.Response.json(data, init), Response);
    }

    static error() {
      return adopt(parts.Response.error(), Response);
    }

    static redirect(url, status) {
      return adopt(parts.Response.redirect(url, status), Response);
    }
  }
  define(Response, bodyMembers(parts.Response));
  class Request extends parts.Request {
    constructor(input, init) {
      try {
        super(input, init);
      } catch (error) {
        rethrow(error);
      }
    }

    get body() {
      return realmStream(this, super.body);
    }

    clone() {
      return adopt(super.clone(), Request);
    }
  }
  define(Request, bodyMembers(parts.Request));
  acceptWorkerInstances(Response, parts.Response);
  acceptWorkerInstances(Request, parts.Request);
  return { Response, Request, adoptResponse: (response) => adopt(response, Response) };
}

/** Runs inside a context: WebCrypto of the worker, with results copied into this realm. */
export function makeCrypto(parts, realmCopy) {
  'use strict';
  const rethrow = (error) => {
    throw realmCopy(error);
  };
  const subtle = {};
  for (const name of ['encrypt', 'decrypt', 'sign', 'verify', 'digest', 'generateKey', 'deriveKey',
    'deriveBits', 'importKey', 'exportKey', 'wrapKey', 'unwrapKey']) {
    subtle[name] = async function (...args) {
      let result;
      try {
        result = await parts.subtle[name](...args);
      } catch (error) {
        rethrow(error);
      }
      return realmCopy(result);
    };
  }
  return {
    subtle,
    getRandomValues(array) {
      try {
        return parts.crypto.getRandomValues(array);
      } catch (error) {
        return rethrow(error);
      }
    },
    randomUUID() {
      return parts.crypto.randomUUID();
    },
  };
}

/**
 * Runs inside a context: `performance` and `PerformanceObserver` with the
 * marks and measures of this context only: the worker's timeline also holds
 * other runs' entries (every fetch's URL, for one).
 */
export function makePerformance(parts) {
  'use strict';
  const entries = [];
  const observers = new Set();
  const record = (item) => {
    entries.push(item);
    for (const observer of observers) observer.notify(item);
    return item;
  };
  const entry = (name, entryType, startTime, duration, detail) => ({ name, entryType, startTime, duration, detail: detail ?? null });
  const startOf = (mark) => (typeof mark === 'number' ? mark : entries.findLast((e) => e.name === mark)?.startTime);
  const clear = (type, name) => {
    for (let i = entries.length - 1; i >= 0; i--) {
      if (entries[i].entryType === type && (name === undefined || entries[i].name === name)) entries.splice(i, 1);
    }
  };
  class PerformanceObserver {
    #callback;
    #types = new Set();
    #queue = [];

    constructor(callback) {
      if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
      this.#callback = callback;
    }

    static get supportedEntryTypes() {
      return ['mark', 'measure'];
    }

    observe(options = {}) {
      for (const type of options.entryTypes ?? [options.type]) this.#types.add(type);
      observers.add(this);
    }

    disconnect() {
      observers.delete(this);
    }

    takeRecords() {
      return this.#queue.splice(0);
    }

    notify(item) {
      if (!this.#types.has(item.entryType)) return;
      if (this.#queue.push(item) === 1) {
        queueMicrotask(() => {
          const items = this.takeRecords();
          if (items.length > 0) this.#callback({ getEntries: () => items, getEntriesByType: (t) => items.filter((e) => e.entryType === t), getEntriesByName: (n) => items.filter((e) => e.name === n) }, this);
        });
      }
    }
  }
  const performance = {
    timeOrigin: parts.timeOrigin,
    now() {
      return parts.now();
    },
    mark(name, options = {}) {
      return record(entry(String(name), 'mark', options.startTime ?? parts.now(), 0, options.detail));
    },
    measure(name, startOrOptions, endMark) {
      const options = typeof startOrOptions === 'object' && startOrOptions !== null ? startOrOptions : { start: startOrOptions, end: endMark };
      const start = options.start === undefined ? 0 : startOf(options.start);
      const end = options.end === undefined ? parts.now() : startOf(options.end);
      if (start === undefined || end === undefined) throw new DOMException('The mark does not exist.', 'SyntaxError');
      return record(entry(String(name), 'measure', start, end - start, options.detail));
    },
    getEntries() {
      return entries.slice();
    },
    getEntriesByName(name, type) {
      return entries.filter((e) => e.name === name && (type === undefined || e.entryType === type));
    },
    getEntriesByType(type) {
      return entries.filter((e) => e.entryType === type);
    },
    clearMarks(name) {
      clear('mark', name);
    },
    clearMeasures(name) {
      clear('measure', name);
    },
    clearResourceTimings() {},
    setResourceTimingBufferSize() {},
    toJSON() {
      return { timeOrigin: parts.timeOrigin };
    },
  };
  return { performance, PerformanceObserver };
}
