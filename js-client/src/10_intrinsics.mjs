// Instance checks across realms. A context has intrinsics of its own
// (`Object`, `Uint8Array`, `Error`, ...), and what the worker's realm hands a
// script (a value decoded by a built-in module, an error thrown by a lent
// API) is built from the worker's. What the world's common producers return
// is rebuilt in the script's realm (see 11_buffer.mjs, 13_web.mjs); this is
// the safety net for the rest: `instanceof` on a context's intrinsic also
// answers true for the worker realm's counterpart, as it would in plain
// Node, where there is only one realm.

/** Intrinsic constructors whose instances the worker's realm may hand a script. */
export const INTRINSIC_NAMES = Object.freeze([
  'Object', 'Function', 'Array', 'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError',
  'EvalError', 'URIError', 'AggregateError', 'Promise', 'Date', 'RegExp', 'Map', 'Set', 'WeakMap',
  'WeakSet', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Uint8Array', 'Int8Array',
  'Uint8ClampedArray', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array',
  'Float64Array', 'BigInt64Array', 'BigUint64Array',
]);

/** The worker realm's constructors, in the order of `INTRINSIC_NAMES`. */
export const workerIntrinsics = Object.freeze(INTRINSIC_NAMES.map((name) => globalThis[name]));

/**
 * Runs inside a context (its source is part of the bootstrap): gives each of
 * the context's intrinsics named in `names` a `Symbol.hasInstance` that also
 * accepts instances of the worker realm's counterpart in `workers`. A
 * subclass keeps the ordinary check.
 */
export function bindInstanceChecks(names, workers) {
  'use strict';
  const ordinary = Function.prototype[Symbol.hasInstance];
  const workerOf = new Map();
  for (let i = 0; i < names.length; i++) workerOf.set(globalThis[names[i]], workers[i]);
  const hasInstance = {
    [Symbol.hasInstance](value) {
      if (ordinary.call(this, value)) return true;
      const worker = workerOf.get(this);
      return worker !== undefined && ordinary.call(worker, value);
    },
  }[Symbol.hasInstance];
  for (const constructor of workerOf.keys()) {
    Object.defineProperty(constructor, Symbol.hasInstance, { value: hasInstance, configurable: true });
  }
}
