// The engine thread's own helpers, compiled once into a private realm that
// no script sees: values from any realm of the runtime are handed to them.
// Strict, so that no stack trace a script's code sees can give it one of
// these functions.
(function () {
  'use strict';
  const IDENT = /^[A-Za-z_$][\w$]*$/;
  const isLossyType = (type) => type === 'function' || type === 'symbol' || type === 'bigint';
  // Brand checks work across realms where `instanceof` does not.
  const brand = (method) => (value) => {
    try {
      method.call(value);
      return true;
    } catch {
      return false;
    }
  };
  const sizeOf = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const isMap = brand(sizeOf(Map.prototype, 'size'));
  const isSet = brand(sizeOf(Set.prototype, 'size'));
  const isPromise = (value) => {
    try {
      Promise.prototype.then.call(value, undefined, () => {});
      return true;
    } catch {
      return false;
    }
  };
  // A Uint8Array (of any realm) is a typed array whose tag says so; an
  // ArrayBuffer has the getter of its byte length.
  const typedArrayTag = sizeOf(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag);
  const isArrayBuffer = brand(sizeOf(ArrayBuffer.prototype, 'byteLength'));
  const isDataView = brand(sizeOf(DataView.prototype, 'byteLength'));
  const tagOf = (value) => typedArrayTag.call(value);
  const isBinary = (value) => tagOf(value) === 'Uint8Array' || isArrayBuffer(value);
  const BYTES_KEY = '$bytes';
  /** Set by `nonJsonIn` when it passes a binary value. */
  let binarySeen = false;
  const isError = (value) => {
    if (value === null || typeof value !== 'object') return false;
    try {
      return typeof value.stack === 'string' || Object.prototype.toString.call(value) === '[object Error]';
    } catch {
      return false;
    }
  };

  /** What JSON would lose in `value`: { what, at } (innermost step first), or null. */
  function nonJsonIn(value) {
    const type = typeof value;
    if (type === 'function') return { what: 'is a function', at: [] };
    if (type === 'symbol') return { what: 'is a symbol', at: [] };
    if (type === 'bigint') return { what: 'is a BigInt', at: [] };
    if (type !== 'object' || value === null) return null;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        const t = typeof item;
        if (t === 'object' ? item === null : !isLossyType(t)) continue;
        const found = nonJsonIn(item);
        if (found !== null) {
          found.at.push(`[${i}]`);
          return found;
        }
      }
      return null;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== null && Object.getPrototypeOf(proto) !== null) {
      if (isBinary(value)) {
        binarySeen = true;
        return null;
      }
      const tag = tagOf(value);
      if (tag !== undefined || isDataView(value)) {
        return { what: `is a ${tag ?? 'DataView'} (send its bytes as a Uint8Array, or convert it with Array.from)`, at: [] };
      }
      if (isMap(value)) return { what: 'is a Map (convert it with Object.fromEntries)', at: [] };
      if (isSet(value)) return { what: 'is a Set (convert it with Array.from)', at: [] };
      if (isPromise(value)) return { what: 'is a Promise (await it first)', at: [] };
    }
    if (typeof value.toJSON === 'function') return null;
    const keys = Object.keys(value);
    for (let k = 0; k < keys.length; k++) {
      const item = value[keys[k]];
      const t = typeof item;
      if (t === 'object' ? item === null : !isLossyType(t)) continue;
      const found = nonJsonIn(item);
      if (found !== null) {
        const key = keys[k];
        found.at.push(IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
        return found;
      }
    }
    return null;
  }

  function findNonJson(value, path) {
    try {
      const found = nonJsonIn(value);
      return found === null ? null : `${path}${found.at.reverse().join('')} ${found.what}`;
    } catch {
      return null;
    }
  }

  /**
   * JSON text of a value, or { error, limit } saying why JSON cannot carry
   * it. With `frames` (an array), binary values are pushed there and
   * written as placeholders `{"$bytes": n}`; without, they are refused.
   */
  function toJson(value, what, maxBytes, frames) {
    if (value === undefined) return 'null';
    // Found before writing: a typed array would be written as an object of
    // its elements.
    binarySeen = false;
    let found = null;
    try {
      found = nonJsonIn(value);
    } catch {
      // A cycle, or a getter that throws: JSON.stringify says which.
      binarySeen = false;
    }
    if (found !== null) {
      const where = `${what}${found.at.reverse().join('')} ${found.what}`;
      return { error: `${where}, which JSON cannot carry` };
    }
    if (binarySeen && frames === undefined) {
      return { error: `${what} holds binary data (a Uint8Array or ArrayBuffer), which cannot be sent here` };
    }
    let text;
    try {
      text = binarySeen ? stringifyWithFrames(value, frames, what) : JSON.stringify(value);
    } catch (e) {
      if (e !== null && typeof e === 'object' && e.reserved === true) return { error: e.message };
      const message = e !== null && typeof e === 'object' ? String(e.message) : String(e);
      if (/BigInt/i.test(message)) {
        return { error: `${findNonJson(value, what) ?? `${what} contains a BigInt`}, which JSON cannot carry` };
      }
      if (/circular/i.test(message)) {
        return { error: `${what} has a cycle, which JSON cannot carry: ${message.split('\n')[0]}` };
      }
      if (/out of memory/i.test(message)) return { error: message, memory: true };
      return { error: `${what} cannot be turned into JSON: ${message}` };
    }
    if (text === undefined) return { error: `${what} is a ${typeof value}, which JSON cannot carry` };
    // Every UTF-16 unit is at least one byte of UTF-8; the host counts the
    // bytes of what passes this.
    if (text.length > maxBytes) {
      return { error: `${what} is over ${text.length} bytes of JSON, over the limit of ${maxBytes}`, limit: true };
    }
    return text;
  }

  /** JSON text with every binary value replaced by a placeholder for a new frame. */
  function stringifyWithFrames(value, frames, what) {
    const placeholders = new WeakSet();
    return JSON.stringify(value, function replace(key, item) {
      const original = key === '' ? value : this[key];
      if (original !== null && typeof original === 'object' && isBinary(original)) {
        frames.push(isArrayBuffer(original) ? new Uint8Array(original) : original);
        const placeholder = { [BYTES_KEY]: frames.length - 1 };
        placeholders.add(placeholder);
        return placeholder;
      }
      if (key === BYTES_KEY && !placeholders.has(this)) {
        const error = new Error(`${what} has a key "${BYTES_KEY}", which marks binary values beside binary data: rename it`);
        error.reserved = true;
        throw error;
      }
      return item;
    });
  }

  /**
   * Puts what `frame(n, text)` makes of frame `n` of `count` where its
   * placeholder is: a Uint8Array of the value's realm, or the host's long string.
   */
  function withFrames(value, count, frame) {
    const visit = (item) => {
      if (item === null || typeof item !== 'object') return item;
      if (Array.isArray(item)) {
        for (let i = 0; i < item.length; i++) item[i] = visit(item[i]);
        return item;
      }
      const keys = Object.keys(item);
      if (keys.length === 1 && (keys[0] === BYTES_KEY || keys[0] === '$text')) {
        const n = item[keys[0]];
        if (Number.isInteger(n) && n >= 0 && n < count) return frame(n, keys[0] !== BYTES_KEY);
      }
      for (let k = 0; k < keys.length; k++) item[keys[k]] = visit(item[keys[k]]);
      return item;
    };
    return visit(value);
  }

  /** A readable rendering of any value, as console output shows what JSON cannot. */
  function inspect(value, depth, seen) {
    const type = typeof value;
    if (type === 'string') return depth === 0 ? value : JSON.stringify(value);
    if (type === 'bigint') return `${value}n`;
    if (type === 'symbol') return value.toString();
    if (type === 'function') return `[Function: ${value.name || '(anonymous)'}]`;
    if (type !== 'object' || value === null) return String(value);
    if (seen.includes(value)) return '[Circular]';
    if (isError(value)) {
      const stack = value.stack;
      const head = `${value.name}: ${value.message}`;
      return typeof stack === 'string' && stack.length > 0 ? `${head}\n${stack}` : head;
    }
    if (depth > 3) return Array.isArray(value) ? '[Array]' : '[Object]';
    const next = seen.concat([value]);
    const show = (v) => inspect(v, depth + 1, next);
    if (Array.isArray(value)) return `[ ${value.map(show).join(', ')} ]`;
    if (isMap(value)) return `Map(${value.size}) { ${[...value].map(([k, v]) => `${show(k)} => ${show(v)}`).join(', ')} }`;
    if (isSet(value)) return `Set(${value.size}) { ${[...value].map(show).join(', ')} }`;
    if (isPromise(value)) return 'Promise { <pending> }';
    if (isBinary(value)) {
      const bytes = isArrayBuffer(value) ? new Uint8Array(value) : value;
      const shown = Array.from(bytes.subarray(0, 50), (b) => b.toString(16).padStart(2, '0')).join(' ');
      return `${isArrayBuffer(value) ? 'ArrayBuffer' : 'Uint8Array'}(${bytes.length}) [ ${shown}${bytes.length > 50 ? ' ...' : ''} ]`;
    }
    const keys = Object.keys(value);
    const body = keys.map((k) => `${IDENT.test(k) ? k : JSON.stringify(k)}: ${show(value[k])}`).join(', ');
    return keys.length === 0 ? '{}' : `{ ${body} }`;
  }

  /** A console argument as JSON text: JSON where it can be, otherwise a readable string. */
  function logArg(value) {
    const type = typeof value;
    if (type === 'string') return JSON.stringify(value);
    if (type === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
    if (type === 'boolean' || value === null) return String(value);
    if (type === 'undefined') return '"undefined"';
    if (type === 'object' && !isError(value)) {
      try {
        const text = JSON.stringify(value);
        binarySeen = false;
        if (text !== undefined && findNonJson(value, '') === null && !binarySeen) return text;
      } catch {
        // Shown instead.
      }
    }
    let shown;
    try {
      shown = inspect(value, 0, []);
    } catch {
      shown = `[uninspectable ${type}]`;
    }
    return JSON.stringify(shown);
  }

  /** The JSON text of a console call's arguments. */
  function logArgs(args) {
    let text = '[';
    for (let i = 0; i < args.length; i++) {
      if (i > 0) text += ',';
      text += logArg(args[i]);
    }
    return text + ']';
  }

  const safeGet = (object, key) => {
    try {
      const value = object[key];
      return typeof value === 'string' ? value : value === undefined ? undefined : String(value);
    } catch {
      return undefined;
    }
  };

  /** What was thrown, as the host reports it. */
  function describe(thrown) {
    if (thrown !== null && typeof thrown === 'object') {
      const code = safeGet(thrown, 'code');
      const out = {
        isError: isError(thrown),
        name: safeGet(thrown, 'name') ?? 'Error',
        message: safeGet(thrown, 'message') ?? '',
        stack: safeGet(thrown, 'stack') ?? null,
        code: code ?? null,
      };
      if (code === 'ERR_OUTRIGGER_DENIED') {
        out.capability = safeGet(thrown, 'capability') ?? '';
        out.setting = safeGet(thrown, 'setting') ?? '';
      }
      if (code === 'ERR_OUTRIGGER_IMPORT') {
        out.specifier = safeGet(thrown, 'specifier') ?? '';
        out.referrer = safeGet(thrown, 'referrer') ?? '';
      }
      if (out.isError) return out;
    }
    let text;
    if (typeof thrown === 'string') {
      text = thrown;
    } else {
      const json = toJson(thrown, 'thrown value', 1 << 20);
      text = typeof json === 'string' ? json : inspect(thrown, 0, []);
    }
    return { isError: false, name: thrown === null ? 'null' : typeof thrown, message: text, stack: null, code: null };
  }

  /** The names a module namespace exports. */
  const exportNames = (namespace) => Object.keys(namespace);

  /** Freezes everything reachable from `root`: properties, accessors, prototypes. */
  function harden(root) {
    const seen = new Set();
    const stack = [root];
    while (stack.length > 0) {
      const o = stack.pop();
      if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue;
      seen.add(o);
      Object.freeze(o);
      stack.push(Object.getPrototypeOf(o));
      for (const key of Reflect.ownKeys(o)) {
        const d = Object.getOwnPropertyDescriptor(o, key);
        if ('value' in d) stack.push(d.value);
        else stack.push(d.get, d.set);
      }
    }
  }

  return { toJson, withFrames, logArgs, describe, exportNames, harden };
})()
