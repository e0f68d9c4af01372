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
    if (/circular|cyclic/i.test(message)) {
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
export function logArgJson(value) {
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
