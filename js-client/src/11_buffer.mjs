// `Buffer` and `node:buffer` in the script's own realm. Node's Buffer
// subclasses the worker realm's Uint8Array, so in a context
// `Buffer.from('a') instanceof Uint8Array` would be false and packages that
// check for bytes that way refuse it. The script gets a Buffer class of its
// own realm instead, subclassing its own Uint8Array, whose methods are
// Node's (they work on any realm's bytes: encodings, reads and writes are
// native), and whose constructors allocate in the script's realm.

import { Buffer, constants, isUtf8, isAscii, kMaxLength, kStringMaxLength, transcode, INSPECT_MAX_BYTES } from 'node:buffer';

/** Node's prototype members the script's Buffer does not borrow: they build or name worker-realm buffers. */
const NOT_BORROWED = ['constructor', 'subarray', 'slice', 'toJSON', 'parent', 'offset'];

/** What the script's `node:buffer` is made from, of the worker's realm, frozen. */
export const bufferParts = Object.freeze({
  NodeBuffer: Buffer,
  prototype: Object.freeze(Object.fromEntries(Reflect.ownKeys(Buffer.prototype)
    .filter((key) => !NOT_BORROWED.includes(key))
    .map((key) => [key, Object.getOwnPropertyDescriptor(Buffer.prototype, key)]))),
  byteLength: Buffer.byteLength,
  compare: Buffer.compare,
  isEncoding: Buffer.isEncoding,
  constants,
  isUtf8,
  isAscii,
  kMaxLength,
  kStringMaxLength,
  transcode,
  INSPECT_MAX_BYTES,
});

/**
 * Runs inside a context: the script's `node:buffer` module, built on first
 * use. `parts` is `bufferParts`; `web` gives the realm's Blob, File, atob
 * and btoa.
 */
export function makeBufferModule(parts, web) {
  'use strict';
  const { NodeBuffer } = parts;
  const typeError = (code, message) => Object.assign(new TypeError(message), { code });
  const rangeError = (code, message) => Object.assign(new RangeError(message), { code });
  const isArrayBufferLike = (value) => {
    const tag = Object.prototype.toString.call(value);
    return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
  };

  // As in Node: the bytes are a plain Uint8Array subclass; `Buffer` is a
  // function sharing its prototype, so that `Buffer(x)` without `new`
  // (deprecated, still used by old packages) works, and its statics are
  // enumerable own properties that packages copy with `for...in`.
  class FastBuffer extends Uint8Array {}
  function Buffer(arg, encodingOrOffset, length) {
    if (typeof arg === 'number') {
      if (typeof encodingOrOffset === 'string') {
        throw typeError('ERR_INVALID_ARG_TYPE', 'The "string" argument must be of type string. Received type number');
      }
      return Buffer.alloc(arg);
    }
    return Buffer.from(arg, encodingOrOffset, length);
  }
  Object.setPrototypeOf(Buffer, Uint8Array);
  Buffer.prototype = FastBuffer.prototype;
  Object.defineProperty(FastBuffer.prototype, 'constructor', {
    value: Buffer, writable: true, enumerable: false, configurable: true,
  });
  Object.defineProperty(Buffer, Symbol.hasInstance, {
    // A worker-realm Buffer (from a built-in module) is a Buffer too.
    value(value) {
      return Function.prototype[Symbol.hasInstance].call(this, value)
        || (this === Buffer && Function.prototype[Symbol.hasInstance].call(NodeBuffer, value));
    },
  });

  Buffer.from = function from(value, encodingOrOffset, length) {
    if (typeof value === 'string') return fromString(value, encodingOrOffset);
    if (typeof value === 'object' && value !== null) {
      if (isArrayBufferLike(value)) return new FastBuffer(value, encodingOrOffset, length);
      if (ArrayBuffer.isView(value)) {
        const copy = new FastBuffer(value.length);
        copy.set(value);
        return copy;
      }
      const primitive = value.valueOf?.();
      if (primitive != null && primitive !== value) return Buffer.from(primitive, encodingOrOffset, length);
      if (typeof value.length === 'number' || Array.isArray(value)) return fromArrayLike(value);
      if (value.type === 'Buffer' && Array.isArray(value.data)) return fromArrayLike(value.data);
      if (typeof value[Symbol.toPrimitive] === 'function') {
        return Buffer.from(value[Symbol.toPrimitive]('string'), encodingOrOffset, length);
      }
    }
    throw typeError('ERR_INVALID_ARG_TYPE', 'The first argument must be of type string or an instance of '
      + 'Buffer, ArrayBuffer, or Array or an Array-like Object.' + ` Received ${value === null ? 'null' : typeof value}`);
  };
  Buffer.of = function of(...items) {
    return fromArrayLike(items);
  };
  Buffer.alloc = function alloc(size, fill, encoding) {
    const buffer = new FastBuffer(checkedSize(size));
    if (fill !== undefined && fill !== 0 && buffer.length > 0) buffer.fill(fill, encoding);
    return buffer;
  };
  Buffer.allocUnsafe = function allocUnsafe(size) {
    return new FastBuffer(checkedSize(size));
  };
  Buffer.allocUnsafeSlow = function allocUnsafeSlow(size) {
    return new FastBuffer(checkedSize(size));
  };
  Buffer.isBuffer = function isBuffer(value) {
    return value instanceof Buffer;
  };
  Buffer.concat = function concat(list, totalLength) {
    if (!Array.isArray(list)) throw typeError('ERR_INVALID_ARG_TYPE', 'The "list" argument must be an instance of Array.');
    let length = totalLength;
    if (length === undefined) {
      length = 0;
      for (const item of list) length += item.length;
    }
    const result = new FastBuffer(checkedSize(length));
    let offset = 0;
    for (const item of list) {
      if (!ArrayBuffer.isView(item)) {
        throw typeError('ERR_INVALID_ARG_TYPE', 'The "list" argument must contain only Buffer or Uint8Array instances.');
      }
      if (offset >= length) break;
      const bytes = item.length > length - offset ? item.subarray(0, length - offset) : item;
      result.set(bytes, offset);
      offset += bytes.length;
    }
    if (offset < length) result.fill(0, offset);
    return result;
  };
  Buffer.copyBytesFrom = function copyBytesFrom(view, offset = 0, length) {
    const end = length === undefined ? view.length : offset + length;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const size = view.BYTES_PER_ELEMENT ?? 1;
    return Buffer.from(bytes.subarray(offset * size, end * size));
  };
  Buffer.byteLength = parts.byteLength;
  Buffer.compare = parts.compare;
  Buffer.isEncoding = parts.isEncoding;
  Buffer.poolSize = 8192;

  for (const key of Reflect.ownKeys(parts.prototype)) {
    Object.defineProperty(FastBuffer.prototype, key, parts.prototype[key]);
  }
  Object.defineProperties(FastBuffer.prototype, {
    // Views of the same memory, made by the script's Buffer (the species).
    slice: {
      value: function slice(start, end) { return this.subarray(start, end); }, writable: true, configurable: true,
    },
    toJSON: {
      value: function toJSON() { return { type: 'Buffer', data: Array.from(this) }; }, writable: true, configurable: true,
    },
  });

  function checkedSize(size) {
    if (typeof size !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `The "size" argument must be of type number. Received ${typeof size}`);
    if (!(size >= 0 && size <= parts.kMaxLength)) {
      throw rangeError('ERR_OUT_OF_RANGE', `The value of "size" is out of range. It must be >= 0 && <= ${parts.kMaxLength}. Received ${size}`);
    }
    return size;
  }

  function fromString(string, encoding) {
    if (encoding !== undefined && encoding !== null && typeof encoding === 'string' && !parts.isEncoding(encoding)) {
      throw typeError('ERR_UNKNOWN_ENCODING', `Unknown encoding: ${encoding}`);
    }
    const length = parts.byteLength(string, encoding);
    const buffer = new FastBuffer(length);
    if (length > 0) buffer.write(string, 0, length, encoding ?? 'utf8');
    return buffer;
  }

  function fromArrayLike(items) {
    const buffer = new FastBuffer(items.length >>> 0);
    for (let i = 0; i < buffer.length; i++) buffer[i] = items[i];
    return buffer;
  }

  const SlowBuffer = function SlowBuffer(size) {
    return Buffer.allocUnsafeSlow(size);
  };
  return {
    Buffer,
    SlowBuffer,
    transcode(source, from, to) {
      const out = parts.transcode(source, from, to);
      return new FastBuffer(out.buffer, out.byteOffset, out.length);
    },
    isUtf8: parts.isUtf8,
    isAscii: parts.isAscii,
    kMaxLength: parts.kMaxLength,
    kStringMaxLength: parts.kStringMaxLength,
    constants: { ...parts.constants },
    INSPECT_MAX_BYTES: parts.INSPECT_MAX_BYTES,
    Blob: web.Blob,
    File: web.File,
    atob: web.atob,
    btoa: web.btoa,
  };
}
