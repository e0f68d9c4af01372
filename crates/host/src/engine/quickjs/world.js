// The script's world on the QuickJS engine: what each global is made of,
// built inside the script's own realm the first time a script touches it
// (see world.rs). `bridge` holds the host functions of this realm.
(function (bridge) {
  'use strict';
  const made = new Map();
  const make = (name) => {
    if (!made.has(name)) made.set(name, MAKERS[name]());
    return made.get(name);
  };
  const fn = (callback, what) => {
    if (typeof callback !== 'function') throw new TypeError(`${what}: the callback must be a function`);
    return callback;
  };
  const denied = (capability, setting, message) => {
    const error = new Error(message);
    error.code = 'ERR_OUTRIGGER_DENIED';
    error.capability = capability;
    error.setting = setting;
    return error;
  };

  function makeDomException() {
    const CODES = {
      IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
      NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
      SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
      TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
      QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
    };
    class DOMException extends Error {
      #name;
      constructor(message = '', options = 'Error') {
        super(String(message));
        this.#name = typeof options === 'object' && options !== null ? String(options.name ?? 'Error') : String(options);
        if (typeof options === 'object' && options !== null && 'cause' in options) this.cause = options.cause;
      }
      get name() { return this.#name; }
      get code() { return CODES[this.#name] ?? 0; }
      get [Symbol.toStringTag]() { return 'DOMException'; }
    }
    return DOMException;
  }
  const DOMException = (...args) => new (make('domException'))(...args);

  function makeConsole() {
    let counts;
    let timers;
    const log = (level) => function (...args) {
      bridge.log(level, args);
    };
    return {
      log: log('log'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      debug: log('debug'),
      trace: log('trace'),
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
      countReset(label = 'default') { counts?.delete(label); },
      time(label = 'default') {
        timers ??= new Map();
        timers.set(label, bridge.now());
      },
      timeLog(label = 'default', ...args) {
        const start = timers?.get(label);
        if (start !== undefined) bridge.log('info', [`${label}: ${(bridge.now() - start).toFixed(3)}ms`, ...args]);
      },
      timeEnd(label = 'default') {
        const start = timers?.get(label);
        if (start === undefined) return;
        timers.delete(label);
        bridge.log('info', [`${label}: ${(bridge.now() - start).toFixed(3)}ms`]);
      },
      group() {},
      groupCollapsed() {},
      groupEnd() {},
    };
  }

  function makeHost() {
    const callbacks = bridge.callbacks();
    // The engine takes as many frames as `Error.stackTraceLimit` says and
    // the call keeps them until it is answered: the limit is the pool's for
    // the capture, unless the script made it unwritable.
    const frames = bridge.callSiteFrames();
    const setLimit = (limit) => {
      try {
        Error.stackTraceLimit = limit;
        return true;
      } catch {
        return false;
      }
    };
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
    // `host.x?.()` detect an optional tool.
    const strict = (target) => Object.freeze(target);
    const namespaces = new Map();
    for (const callback of callbacks) {
      let target = host;
      for (const part of callback.path.slice(0, -1)) {
        if (!namespaces.has(part)) namespaces.set(part, {});
        target = namespaces.get(part);
      }
      const method = callback.name;
      const jsName = callback.path[callback.path.length - 1];
      const call = {
        [jsName](params) {
          // Where the script made the call (the frames below this one), for
          // the error of a failed call and for an approver.
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

  function makeTimers() {
    const clear = function (id) { bridge.clearTimer(id); };
    return {
      setTimeout: function setTimeout(callback, delay, ...args) {
        return bridge.setTimer(fn(callback, 'setTimeout'), Number(delay) || 0, args, false);
      },
      setInterval: function setInterval(callback, delay, ...args) {
        return bridge.setTimer(fn(callback, 'setInterval'), Number(delay) || 0, args, true);
      },
      setImmediate: function setImmediate(callback, ...args) {
        return bridge.setTimer(fn(callback, 'setImmediate'), 0, args, false);
      },
      clearTimeout: clear,
      clearInterval: clear,
      clearImmediate: clear,
      queueMicrotask: function queueMicrotask(callback) {
        fn(callback, 'queueMicrotask');
        Promise.resolve().then(() => callback());
      },
    };
  }

  function makeEncoding() {
    class TextEncoder {
      get encoding() { return 'utf-8'; }
      encode(input = '') { return new Uint8Array(bridge.encodeUtf8(String(input))); }
      encodeInto(input, dest) {
        const bytes = this.encode(input);
        const n = Math.min(bytes.length, dest.length);
        dest.set(bytes.subarray(0, n));
        return { read: n === bytes.length ? String(input).length : n, written: n };
      }
    }
    class TextDecoder {
      #fatal;
      #ignoreBOM;
      constructor(label = 'utf-8', options = {}) {
        const name = String(label).trim().toLowerCase();
        if (name !== 'utf-8' && name !== 'utf8' && name !== 'unicode-1-1-utf-8') {
          throw new RangeError(`TextDecoder: the encoding "${label}" is not supported (the QuickJS engine decodes UTF-8 only)`);
        }
        this.#fatal = Boolean(options.fatal);
        this.#ignoreBOM = Boolean(options.ignoreBOM);
      }
      get encoding() { return 'utf-8'; }
      get fatal() { return this.#fatal; }
      get ignoreBOM() { return this.#ignoreBOM; }
      decode(input) {
        if (input === undefined) return '';
        let bytes;
        if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
        else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
        else throw new TypeError('TextDecoder.decode: input must be an ArrayBuffer or a view of one');
        let text = bridge.decodeUtf8(bytes.slice().buffer, this.#fatal);
        if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        return text;
      }
    }
    return { TextEncoder, TextDecoder };
  }

  function makeBase64() {
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const invalid = (what) => DOMException(`${what}: The string to be decoded is not correctly encoded.`, 'InvalidCharacterError');
    return {
      btoa: function btoa(data) {
        const text = String(data);
        let out = '';
        for (let i = 0; i < text.length; i += 3) {
          const a = text.charCodeAt(i);
          const b = text.charCodeAt(i + 1);
          const c = text.charCodeAt(i + 2);
          if (a > 255 || b > 255 || c > 255) {
            throw DOMException('btoa: Invalid character', 'InvalidCharacterError');
          }
          const n = (a << 16) | ((b || 0) << 8) | (c || 0);
          out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63]
            + (Number.isNaN(b) ? '=' : ALPHABET[(n >> 6) & 63]) + (Number.isNaN(c) ? '=' : ALPHABET[n & 63]);
        }
        return out;
      },
      atob: function atob(data) {
        let text = String(data).replace(/[\t\n\f\r ]/g, '');
        if (text.length % 4 === 0) text = text.replace(/==?$/, '');
        if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) throw invalid('atob');
        let out = '';
        let bits = 0;
        let value = 0;
        for (const ch of text) {
          value = (value << 6) | ALPHABET.indexOf(ch);
          bits += 6;
          if (bits >= 8) {
            bits -= 8;
            out += String.fromCharCode((value >> bits) & 255);
          }
        }
        return out;
      },
    };
  }

  function structuredClone(value, options) {
    if (options !== undefined && options !== null && options.transfer !== undefined && options.transfer.length > 0) {
      throw DOMException('structuredClone: transfer is not supported by the QuickJS engine', 'DataCloneError');
    }
    const seen = new Map();
    const clone = (v) => {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
        if (typeof v === 'symbol') throw DOMException(`${String(v)} could not be cloned.`, 'DataCloneError');
        return v;
      }
      if (typeof v === 'function') throw DOMException(`${v.name || 'function'} could not be cloned.`, 'DataCloneError');
      if (seen.has(v)) return seen.get(v);
      let out;
      if (Array.isArray(v)) {
        out = new Array(v.length);
        seen.set(v, out);
        for (let i = 0; i < v.length; i++) out[i] = clone(v[i]);
        return out;
      }
      if (v instanceof Date) out = new Date(v.getTime());
      else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
      else if (v instanceof ArrayBuffer) out = v.slice(0);
      else if (ArrayBuffer.isView(v)) out = new v.constructor(v.buffer.slice(0), v.byteOffset, v instanceof DataView ? v.byteLength : v.length);
      else if (v instanceof Map) {
        out = new Map();
        seen.set(v, out);
        for (const [k, item] of v) out.set(clone(k), clone(item));
        return out;
      } else if (v instanceof Set) {
        out = new Set();
        seen.set(v, out);
        for (const item of v) out.add(clone(item));
        return out;
      } else if (v instanceof Error) {
        out = new Error(v.message);
        out.name = v.name;
        if (v.stack !== undefined) out.stack = v.stack;
      } else if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
        throw DOMException(`${Object.prototype.toString.call(v)} could not be cloned.`, 'DataCloneError');
      } else {
        out = {};
        seen.set(v, out);
        for (const key of Object.keys(v)) out[key] = clone(v[key]);
        return out;
      }
      seen.set(v, out);
      return out;
    };
    return clone(value);
  }

  function makeEvents() {
    const listeners = new WeakMap();
    class Event {
      #type;
      #defaultPrevented = false;
      #stopped = false;
      constructor(type, options = {}) {
        if (arguments.length === 0) throw new TypeError('Event: the type is required');
        this.#type = String(type);
        this.bubbles = Boolean(options.bubbles);
        this.cancelable = Boolean(options.cancelable);
        this.composed = Boolean(options.composed);
        this.timeStamp = bridge.now();
        this.target = null;
        this.currentTarget = null;
      }
      get type() { return this.#type; }
      get defaultPrevented() { return this.#defaultPrevented; }
      preventDefault() { if (this.cancelable) this.#defaultPrevented = true; }
      stopImmediatePropagation() { this.#stopped = true; }
      stopPropagation() {}
      get [Symbol.toStringTag]() { return 'Event'; }
      static isStopped(event) { return event.#stopped; }
    }
    class EventTarget {
      addEventListener(type, listener, options) {
        if (listener === null || listener === undefined) return;
        const once = typeof options === 'object' && options !== null && Boolean(options.once);
        const signal = typeof options === 'object' && options !== null ? options.signal : undefined;
        if (signal !== undefined && signal.aborted) return;
        let all = listeners.get(this);
        if (all === undefined) listeners.set(this, (all = new Map()));
        let list = all.get(type);
        if (list === undefined) all.set(type, (list = []));
        if (list.some((entry) => entry.listener === listener)) return;
        const entry = { listener, once };
        list.push(entry);
        signal?.addEventListener('abort', () => this.removeEventListener(type, listener), { once: true });
      }
      removeEventListener(type, listener) {
        const list = listeners.get(this)?.get(type);
        if (list === undefined) return;
        const at = list.findIndex((entry) => entry.listener === listener);
        if (at >= 0) list.splice(at, 1);
      }
      dispatchEvent(event) {
        try {
          event.target = this;
          event.currentTarget = this;
        } catch {
          // A frozen event keeps its fields.
        }
        const handler = this[`on${event.type}`];
        const list = [...(listeners.get(this)?.get(event.type) ?? [])];
        if (typeof handler === 'function') list.unshift({ listener: handler, once: false });
        for (const entry of list) {
          if (entry.once) this.removeEventListener(event.type, entry.listener);
          try {
            if (typeof entry.listener === 'function') entry.listener.call(this, event);
            else entry.listener.handleEvent(event);
          } catch (error) {
            Promise.reject(error);
          }
          if (Event.isStopped(event)) break;
        }
        return !event.defaultPrevented;
      }
    }
    return { Event, EventTarget };
  }

  function makeAbort() {
    const { Event, EventTarget } = make('events');
    const create = Symbol('create');
    class AbortSignal extends EventTarget {
      #aborted = false;
      #reason = undefined;
      constructor(key) {
        if (key !== create) throw new TypeError('Illegal constructor');
        super();
        this.onabort = null;
      }
      get aborted() { return this.#aborted; }
      get reason() { return this.#reason; }
      throwIfAborted() { if (this.#aborted) throw this.#reason; }
      static abort(reason) {
        const signal = new AbortSignal(create);
        AbortSignal.fire(signal, reason === undefined ? DOMException('This operation was aborted', 'AbortError') : reason);
        return signal;
      }
      static timeout(ms) {
        const signal = new AbortSignal(create);
        bridge.setTimer(() => AbortSignal.fire(signal, DOMException('The operation timed out.', 'TimeoutError')), Number(ms) || 0, [], false);
        return signal;
      }
      static any(signals) {
        const signal = new AbortSignal(create);
        for (const s of signals) {
          if (s.aborted) {
            AbortSignal.fire(signal, s.reason);
            return signal;
          }
        }
        for (const s of signals) s.addEventListener('abort', () => AbortSignal.fire(signal, s.reason), { once: true });
        return signal;
      }
      static fire(signal, reason) {
        if (signal.#aborted) return;
        signal.#aborted = true;
        signal.#reason = reason;
        signal.dispatchEvent(new Event('abort'));
      }
      static make() { return new AbortSignal(create); }
      get [Symbol.toStringTag]() { return 'AbortSignal'; }
    }
    class AbortController {
      #signal = AbortSignal.make();
      get signal() { return this.#signal; }
      abort(reason) {
        AbortSignal.fire(this.#signal, reason === undefined ? DOMException('This operation was aborted', 'AbortError') : reason);
      }
      get [Symbol.toStringTag]() { return 'AbortController'; }
    }
    return { AbortSignal, AbortController };
  }

  function makeUrl() {
    class URLSearchParams {
      #list = [];
      #url = null;
      constructor(init = '') {
        if (typeof init === 'string') {
          this.#parse(init);
        } else if (init !== null && typeof init === 'object') {
          if (typeof init[Symbol.iterator] === 'function') {
            for (const pair of init) {
              const [k, v] = [...pair];
              this.#list.push([String(k), String(v)]);
            }
          } else {
            for (const key of Object.keys(init)) this.#list.push([key, String(init[key])]);
          }
        }
      }
      #parse(text) {
        this.#list = [];
        const query = text.startsWith('?') ? text.slice(1) : text;
        if (query === '') return;
        const decode = (s) => {
          try {
            return decodeURIComponent(s.replace(/\+/g, ' '));
          } catch {
            return s;
          }
        };
        for (const part of query.split('&')) {
          if (part === '') continue;
          const eq = part.indexOf('=');
          this.#list.push(eq < 0 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))]);
        }
      }
      static attach(params, url, search) {
        params.#url = url;
        params.#parse(search);
      }
      #update() {
        if (this.#url !== null) this.#url.search = this.toString();
      }
      get size() { return this.#list.length; }
      append(name, value) { this.#list.push([String(name), String(value)]); this.#update(); }
      delete(name, value) {
        this.#list = this.#list.filter(([k, v]) => k !== String(name) || (value !== undefined && v !== String(value)));
        this.#update();
      }
      get(name) { return this.#list.find(([k]) => k === String(name))?.[1] ?? null; }
      getAll(name) { return this.#list.filter(([k]) => k === String(name)).map(([, v]) => v); }
      has(name, value) { return this.#list.some(([k, v]) => k === String(name) && (value === undefined || v === String(value))); }
      set(name, value) {
        const at = this.#list.findIndex(([k]) => k === String(name));
        if (at < 0) this.#list.push([String(name), String(value)]);
        else {
          this.#list[at] = [String(name), String(value)];
          this.#list = this.#list.filter(([k], i) => i <= at || k !== String(name));
        }
        this.#update();
      }
      sort() { this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this.#update(); }
      forEach(callback, thisArg) { for (const [k, v] of this.#list) callback.call(thisArg, v, k, this); }
      keys() { return this.#list.map(([k]) => k)[Symbol.iterator](); }
      values() { return this.#list.map(([, v]) => v)[Symbol.iterator](); }
      entries() { return this.#list.map(([k, v]) => [k, v])[Symbol.iterator](); }
      [Symbol.iterator]() { return this.entries(); }
      toString() {
        const encode = (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
        return this.#list.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
      }
      get [Symbol.toStringTag]() { return 'URLSearchParams'; }
    }
    class URL {
      #parts;
      #params = null;
      constructor(url, base) {
        if (arguments.length === 0) throw new TypeError('URL: the url is required');
        const parts = bridge.parseUrl(String(url), base === undefined ? undefined : String(base));
        if (parts === null) throw new TypeError(`Invalid URL: ${String(url)}`);
        this.#parts = parts;
      }
      static canParse(url, base) {
        return bridge.parseUrl(String(url), base === undefined ? undefined : String(base)) !== null;
      }
      static parse(url, base) {
        try {
          return new URL(url, base);
        } catch {
          return null;
        }
      }
      #set(part, value) {
        const parts = bridge.setUrlPart(this.#parts.href, part, String(value));
        if (parts !== null) this.#parts = parts;
        if (this.#params !== null && part !== 'search') URLSearchParams.attach(this.#params, this, this.#parts.search);
      }
      get searchParams() {
        if (this.#params === null) {
          this.#params = new URLSearchParams();
          URLSearchParams.attach(this.#params, this, this.#parts.search);
        }
        return this.#params;
      }
      get href() { return this.#parts.href; }
      set href(value) { this.#set('href', value); }
      get origin() { return this.#parts.origin; }
      get protocol() { return this.#parts.protocol; }
      set protocol(value) { this.#set('protocol', value); }
      get username() { return this.#parts.username; }
      set username(value) { this.#set('username', value); }
      get password() { return this.#parts.password; }
      set password(value) { this.#set('password', value); }
      get host() { return this.#parts.host; }
      set host(value) { this.#set('host', value); }
      get hostname() { return this.#parts.hostname; }
      set hostname(value) { this.#set('hostname', value); }
      get port() { return this.#parts.port; }
      set port(value) { this.#set('port', value); }
      get pathname() { return this.#parts.pathname; }
      set pathname(value) { this.#set('pathname', value); }
      get search() { return this.#parts.search; }
      set search(value) { this.#set('search', value); }
      get hash() { return this.#parts.hash; }
      set hash(value) { this.#set('hash', value); }
      toString() { return this.#parts.href; }
      toJSON() { return this.#parts.href; }
      get [Symbol.toStringTag]() { return 'URL'; }
    }
    return { URL, URLSearchParams };
  }

  function makeCrypto() {
    const getRandomValues = function getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
        throw new TypeError('crypto.getRandomValues: the argument must be an integer typed array');
      }
      if (array.byteLength > 65536) {
        throw DOMException(`crypto.getRandomValues: ${array.byteLength} bytes asked, more than 65536`, 'QuotaExceededError');
      }
      const bytes = new Uint8Array(bridge.randomBytes(array.byteLength));
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
      return array;
    };
    const randomUUID = function randomUUID() {
      const b = new Uint8Array(bridge.randomBytes(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    };
    const crypto = { getRandomValues, randomUUID };
    Object.defineProperty(crypto, 'subtle', {
      get() { throw denied('crypto.subtle', 'Engine::Node', 'crypto.subtle is not available on the QuickJS engine (Engine::Node has it)'); },
    });
    return crypto;
  }

  function makeFetch() {
    class Headers {
      #map = new Map();
      constructor(init) {
        if (init === undefined || init === null) return;
        if (init instanceof Headers) {
          for (const [k, v] of init) this.append(k, v);
        } else if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const [k, v] = [...pair];
            this.append(k, v);
          }
        } else {
          for (const key of Object.keys(init)) this.append(key, init[key]);
        }
      }
      append(name, value) {
        const key = String(name).toLowerCase();
        const prior = this.#map.get(key);
        this.#map.set(key, prior === undefined ? String(value) : `${prior}, ${value}`);
      }
      set(name, value) { this.#map.set(String(name).toLowerCase(), String(value)); }
      get(name) { return this.#map.get(String(name).toLowerCase()) ?? null; }
      has(name) { return this.#map.has(String(name).toLowerCase()); }
      delete(name) { this.#map.delete(String(name).toLowerCase()); }
      forEach(callback, thisArg) { for (const [k, v] of this) callback.call(thisArg, v, k, this); }
      *entries() { yield* [...this.#map].sort(([a], [b]) => (a < b ? -1 : 1)); }
      keys() { return [...this.entries()].map(([k]) => k)[Symbol.iterator](); }
      values() { return [...this.entries()].map(([, v]) => v)[Symbol.iterator](); }
      [Symbol.iterator]() { return this.entries(); }
      get [Symbol.toStringTag]() { return 'Headers'; }
    }
    const { TextEncoder, TextDecoder } = make('encoding');
    const toBytes = (body) => {
      if (body === undefined || body === null) return null;
      if (typeof body === 'string') return new TextEncoder().encode(body);
      if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
      if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
      if (body instanceof make('url').URLSearchParams) return new TextEncoder().encode(body.toString());
      return new TextEncoder().encode(String(body));
    };
    class Body {
      #bytes;
      #used = false;
      constructor(bytes) { this.#bytes = bytes; }
      get bodyUsed() { return this.#used; }
      get body() { return null; }
      #take() {
        if (this.#used) return Promise.reject(new TypeError('Body has already been used'));
        this.#used = true;
        return Promise.resolve(this.#bytes ?? new Uint8Array(0));
      }
      async arrayBuffer() { return (await this.#take()).slice().buffer; }
      async bytes() { return (await this.#take()).slice(); }
      async text() { return new TextDecoder().decode(await this.#take()); }
      async json() { return JSON.parse(await this.text()); }
      static bytesOf(body) { return body.#bytes; }
    }
    class Request extends Body {
      constructor(input, init = {}) {
        const from = input instanceof Request ? input : null;
        super(init.body !== undefined ? toBytes(init.body) : from !== null ? Body.bytesOf(from) : null);
        this.url = from !== null ? from.url : new (make('url').URL)(String(input)).href;
        this.method = String(init.method ?? from?.method ?? 'GET').toUpperCase();
        this.headers = new Headers(init.headers ?? from?.headers);
        this.signal = init.signal ?? from?.signal ?? null;
        this.redirect = init.redirect ?? from?.redirect ?? 'follow';
      }
      get [Symbol.toStringTag]() { return 'Request'; }
    }
    class Response extends Body {
      constructor(body = null, init = {}) {
        super(toBytes(body));
        this.status = init.status ?? 200;
        this.statusText = init.statusText ?? '';
        this.headers = new Headers(init.headers);
        this.url = init.url ?? '';
        this.redirected = Boolean(init.redirected);
        this.type = 'default';
      }
      get ok() { return this.status >= 200 && this.status < 300; }
      static json(data, init = {}) {
        const headers = new Headers(init.headers);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
        return new Response(JSON.stringify(data), { ...init, headers });
      }
      static error() {
        const response = new Response(null, { status: 0 });
        response.type = 'error';
        return response;
      }
      get [Symbol.toStringTag]() { return 'Response'; }
    }
    const fetch = async function fetch(input, init) {
      const request = new Request(input, init);
      if (request.signal?.aborted) throw request.signal.reason;
      const answer = await bridge.fetch(request.url, request.method, [...request.headers], Body.bytesOf(request), request.redirect);
      return new Response(new Uint8Array(answer.body), {
        status: answer.status,
        statusText: answer.statusText,
        headers: answer.headers,
        url: answer.url,
        redirected: answer.redirected,
      });
    };
    return { Headers, Request, Response, fetch };
  }

  function makePerformance() {
    const timeOrigin = Date.now() - bridge.now();
    return {
      now: function now() { return bridge.now(); },
      timeOrigin,
      toJSON() { return { timeOrigin }; },
    };
  }

  const MAKERS = {
    domException: makeDomException,
    console: makeConsole,
    host: makeHost,
    timers: makeTimers,
    encoding: makeEncoding,
    base64: makeBase64,
    events: makeEvents,
    abort: makeAbort,
    url: makeUrl,
    crypto: makeCrypto,
    fetch: makeFetch,
    performance: makePerformance,
  };

  /** Each lazy global: the maker that holds it, and the member it is. */
  const GLOBALS = {
    DOMException: ['domException'],
    console: ['console'],
    host: ['host'],
    setTimeout: ['timers', 'setTimeout'],
    setInterval: ['timers', 'setInterval'],
    setImmediate: ['timers', 'setImmediate'],
    clearTimeout: ['timers', 'clearTimeout'],
    clearInterval: ['timers', 'clearInterval'],
    clearImmediate: ['timers', 'clearImmediate'],
    queueMicrotask: ['timers', 'queueMicrotask'],
    TextEncoder: ['encoding', 'TextEncoder'],
    TextDecoder: ['encoding', 'TextDecoder'],
    atob: ['base64', 'atob'],
    btoa: ['base64', 'btoa'],
    Event: ['events', 'Event'],
    EventTarget: ['events', 'EventTarget'],
    AbortController: ['abort', 'AbortController'],
    AbortSignal: ['abort', 'AbortSignal'],
    URL: ['url', 'URL'],
    URLSearchParams: ['url', 'URLSearchParams'],
    crypto: ['crypto'],
    fetch: ['fetch', 'fetch'],
    Headers: ['fetch', 'Headers'],
    Request: ['fetch', 'Request'],
    Response: ['fetch', 'Response'],
    performance: ['performance'],
  };

  return {
    /** The value of lazy global `name`. */
    global(name) {
      if (name === 'structuredClone') return structuredClone;
      const [maker, member] = GLOBALS[name];
      const value = make(maker);
      return member === undefined ? value : value[member];
    },
    /** A new AbortController, for a run's `signal`. */
    controller() {
      return new (make('abort').AbortController)();
    },
    /** Aborts a run's controller: the run timed out, or was ended otherwise. */
    abortRun(controller, timedOut) {
      controller.abort(timedOut
        ? DOMException('The operation timed out.', 'TimeoutError')
        : DOMException('This operation was aborted', 'AbortError'));
    },
  };
})
