// What the worker's realm shares with contexts, and how: hardened, so that
// no run can change it for another (or for the worker), and recognized by
// the contexts' `instanceof`.
//
// Instance checks across realms. A context has intrinsics of its own
// (`Object`, `Uint8Array`, `Error`, ...), and what the worker's realm hands a
// script (a value decoded by a built-in module, an error thrown by a lent
// API) is built from the worker's. What the world's common producers return
// is rebuilt in the script's realm (see 11_buffer.mjs, 13_web.mjs); this is
// the safety net for the rest: `instanceof` on a context's intrinsic also
// answers true for the worker realm's counterpart, as it would in plain
// Node, where there is only one realm.

/**
 * Intrinsic constructors whose instances the worker's realm may hand a
 * script: what pure built-ins return (objects, arrays, promises, bytes,
 * dates) and the errors lent APIs throw. Each costs every new context a
 * property, so the rarely met (`WeakMap`, `DataView`, the other typed
 * arrays) are left out.
 */
export const INTRINSIC_NAMES = Object.freeze([
  'Object', 'Function', 'Array', 'Error', 'TypeError', 'RangeError', 'SyntaxError', 'Promise', 'Date',
  'RegExp', 'Map', 'Set', 'ArrayBuffer', 'Uint8Array',
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

/**
 * Hardens `root` and everything reachable from it through values and
 * prototypes, so that no script can change it for other runs or for the
 * worker (whose own channel is a stream and an event emitter): no property
 * can be added, removed, redefined or (but for the few Node made writable
 * and not configurable) assigned. Each
 * writable data property becomes a getter and a setter first: assigning it
 * on an object that inherits it then defines the object's own property, as
 * it does when nothing is frozen. Without this, the common
 * `Sub.prototype.method = f` and `this.field = x` of code that extends a
 * frozen class would throw (the "override mistake"), Node's own lazily
 * loaded internals included.
 */
export function harden(root) {
  const seen = new WeakSet();
  const walk = (value) => {
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) return;
    seen.add(value);
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!('value' in descriptor)) continue;
      walk(descriptor.value);
      if (descriptor.writable && descriptor.configurable) tame(value, key, descriptor);
    }
    walk(Object.getPrototypeOf(value));
    // Sealed rather than frozen: a writable property Node made
    // non-configurable (a few internal symbols, such as events' capture
    // default) can be neither tamed nor frozen without breaking Node itself.
    Object.seal(value);
  };
  walk(root);
  return root;
}

function tame(object, key, { value, enumerable }) {
  const accessors = {
    get() {
      return value;
    },
    set(next) {
      if (this === object) {
        throw new TypeError(`Cannot assign to read only property '${String(key)}' of a shared object`);
      }
      Object.defineProperty(this, key, { value: next, writable: true, enumerable: true, configurable: true });
    },
  };
  Object.freeze(accessors.get);
  Object.freeze(accessors.set);
  Object.defineProperty(object, key, { get: accessors.get, set: accessors.set, enumerable, configurable: false });
}
