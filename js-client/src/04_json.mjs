// Values crossing the channel: what JSON can carry, and what it would
// silently lose.

import util from 'node:util';
import { Buffer } from 'node:buffer';
import { CODES } from './00_codes.mjs';
import { config } from './02_config.mjs';

/** A value JSON cannot carry (-32006), or one over the size limit (`code` -32009). */
export class NonJsonError extends Error {}

/** Where in `value` JSON would silently lose something, or null. */
function findNonJson(value, path) {
  const found = nonJsonIn(value);
  if (found === null) return null;
  return `${path}${found.at.reverse().join('')} ${found.what}`;
}
const IDENT = /^[A-Za-z_$][\w$]*$/;

/** Set by `nonJsonIn` when it passes a binary value (which it does not count as lost). */
let binarySeen = false;

/**
 * What JSON would lose in `value`: `{ what, at }` with the path's steps
 * innermost first, or null. Paths are built only for a find, so checking
 * a large value allocates nothing per element. Binary values (a
 * `Uint8Array`, `Buffer` or `ArrayBuffer`) are not lost: they travel as
 * frames; `binarySeen` says whether there were any.
 */
function nonJsonIn(value) {
  const type = typeof value;
  if (type === 'function') return { what: 'is a function', at: [] };
  if (type === 'symbol') return { what: 'is a symbol', at: [] };
  if (type === 'bigint') return { what: 'is a BigInt', at: [] };
  if (type !== 'object' || value === null) return null;
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
  // it has none) is no Map, Set, Promise or binary value; only others need asking.
  const proto = Object.getPrototypeOf(value);
  if (proto !== null && Object.getPrototypeOf(proto) !== null) {
    if (isBinary(value)) {
      binarySeen = true;
      return null;
    }
    if (util.types.isArrayBufferView(value)) {
      const kind = util.types.isDataView(value) ? 'DataView' : value[Symbol.toStringTag];
      return { what: `is a ${kind} (send its bytes as a Uint8Array, or convert it with Array.from)`, at: [] };
    }
    if (util.types.isMap(value)) return { what: 'is a Map (convert it with Object.fromEntries)', at: [] };
    if (util.types.isSet(value)) return { what: 'is a Set (convert it with Array.from)', at: [] };
    if (util.types.isPromise(value)) return { what: 'is a Promise (await it first)', at: [] };
  }
  if (typeof value.toJSON === 'function') return null;
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

/** Whether `value` travels as a frame: a `Uint8Array` (a `Buffer` too) or an `ArrayBuffer`, of any realm. */
export function isBinary(value) {
  return util.types.isUint8Array(value) || util.types.isAnyArrayBuffer(value);
}

/** The key of a placeholder, `{"$bytes": n}`: the value of frame `n`. */
export const BYTES_KEY = '$bytes';
/** The key of the host's placeholder of a long string, `{"$text": n}`: frame `n` holds its UTF-8. */
const TEXT_KEY = '$text';

/** A copy of a binary value's bytes: the script may change its own after sending. */
function frameOf(value) {
  return util.types.isAnyArrayBuffer(value) ? Buffer.from(new Uint8Array(value)) : Buffer.from(value);
}

/** Bytes a message's frames take on the wire. */
export function framesBytes(frames) {
  let bytes = 0;
  for (let i = 0; i < frames.length; i++) bytes += frames[i].length + 5;
  return bytes;
}

/**
 * JSON text for a value, or a NonJsonError saying what JSON cannot carry.
 * `undefined` at the top becomes null, as does a missing value in an array.
 * With `frames` (an array), binary values are pushed there and written as
 * placeholders; without, a binary value is refused like anything else JSON
 * cannot carry.
 */
export function toJsonText(value, what = 'value', frames = undefined) {
  if (value === undefined) return 'null';
  // Most values are a number or a boolean: nothing to look for, no limit to reach.
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  // What JSON would lose, and whether there are binary values, is found
  // before writing: a typed array would be written as an object of its
  // elements. A cycle overflows the walk; JSON.stringify then names it.
  binarySeen = false;
  let found;
  try {
    found = nonJsonIn(value);
  } catch {
    // A cycle (or a getter that throws): JSON.stringify says what it is.
    found = null;
    binarySeen = false;
  }
  if (found !== null) {
    const where = `${what}${found.at.reverse().join('')} ${found.what}`;
    throw new NonJsonError(found.what === 'is a BigInt' ? where : `${where}, which JSON cannot carry`);
  }
  if (binarySeen && frames === undefined) {
    throw new NonJsonError(`${what} holds binary data (a Uint8Array or ArrayBuffer), which cannot be sent here`);
  }
  let text;
  try {
    text = binarySeen ? stringifyWithFrames(value, frames, what) : JSON.stringify(value);
  } catch (e) {
    if (e instanceof NonJsonError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (/BigInt/i.test(message)) {
      const found = findNonJsonSafe(value, what);
      throw new NonJsonError(found ?? `${what} contains a BigInt, which JSON cannot carry`);
    }
    if (/circular|cyclic/i.test(message)) {
      throw new NonJsonError(`${what} has a cycle, which JSON cannot carry: ${message.split('\n')[0]}`);
    }
    throw new NonJsonError(`${what} cannot be turned into JSON: ${message}`);
  }
  if (text === undefined) {
    throw new NonJsonError(`${what} is a ${typeof value}, which JSON cannot carry`);
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so only long texts need counting.
  const framed = frames === undefined || frames.length === 0 ? 0 : framesBytes(frames);
  const bytes = (text.length * 3 + framed > config.maxMessageBytes ? Buffer.byteLength(text, 'utf8') : text.length) + framed;
  if (bytes > config.maxMessageBytes) {
    const error = new NonJsonError(`${what} is ${bytes} bytes${framed > 0 ? ` (${framed} of them binary)` : ' of JSON'}, over the limit of ${config.maxMessageBytes}`);
    error.code = CODES.LIMIT;
    throw error;
  }
  return text;
}

/** JSON text with every binary value replaced by a placeholder for a new frame. */
function stringifyWithFrames(value, frames, what) {
  const placeholders = new WeakSet();
  return JSON.stringify(value, function replace(key, item) {
    // `this[key]` is the value before its `toJSON` (a Buffer's) ran.
    const original = key === '' ? value : this[key];
    if (original !== null && typeof original === 'object' && isBinary(original)) {
      frames.push(frameOf(original));
      const placeholder = { [BYTES_KEY]: frames.length - 1 };
      placeholders.add(placeholder);
      return placeholder;
    }
    if (key === BYTES_KEY && !placeholders.has(this)) {
      throw new NonJsonError(`${what} has a key "${BYTES_KEY}", which marks binary values beside binary data: rename it`);
    }
    return item;
  });
}

/**
 * Puts the binary values back into a parsed value: each placeholder
 * `{"$bytes": n}` becomes a `Uint8Array` (of `Uint8Array`'s realm) holding
 * frame `n`, and each `{"$text": n}` the string frame `n` holds. Returns the
 * value (a new one when the top is a placeholder).
 */
export function withFrames(value, frames, Uint8Array) {
  if (frames === undefined || frames.length === 0) return value;
  const toBytes = (frame) => {
    const bytes = new Uint8Array(frame.length);
    bytes.set(frame);
    return bytes;
  };
  const visit = (item) => {
    if (item === null || typeof item !== 'object') return item;
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) item[i] = visit(item[i]);
      return item;
    }
    const keys = Object.keys(item);
    if (keys.length === 1 && (keys[0] === BYTES_KEY || keys[0] === TEXT_KEY)) {
      const n = item[keys[0]];
      if (Number.isInteger(n) && n >= 0 && n < frames.length) {
        return keys[0] === BYTES_KEY ? toBytes(frames[n]) : frames[n].toString('utf8');
      }
    }
    for (let k = 0; k < keys.length; k++) item[keys[k]] = visit(item[keys[k]]);
    return item;
  };
  return visit(value);
}

function findNonJsonSafe(value, what) {
  try {
    return findNonJson(value, what);
  } catch {
    return null;
  }
}

/** A log argument: JSON when it can be, otherwise a readable rendering. */
export function logArgJson(value) {
  const type = typeof value;
  if (type === 'string') return JSON.stringify(value);
  if (type === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (type === 'boolean' || value === null) return String(value);
  if (type === 'undefined') return '"undefined"';
  if (type === 'object' && !util.types.isProxy(value)) {
    try {
      const text = JSON.stringify(value);
      binarySeen = false;
      if (text !== undefined && findNonJson(value, '') === null && !binarySeen && !(util.types.isNativeError(value))) {
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
