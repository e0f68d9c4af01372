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
    // A constructor the script froze (as a lockdown of its realm does) keeps
    // the ordinary check: the worker's objects are then not its instances.
    try {
      Object.defineProperty(constructor, Symbol.hasInstance, { value: hasInstance, configurable: true });
    } catch {}
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

/**
 * Freezes the worker realm's intrinsics and everything they reach, once, before the
 * worker serves, on every engine: no script that reaches them (`globalThis.constructor` is the worker's
 * `Object`; lent APIs return the worker's arrays and throw its errors) can change them
 * for another run or for the worker. The roots are ECMAScript's intrinsics, the hidden
 * ones (iterator and generator prototypes, `%TypedArray%`, `%ThrowTypeError%`), the
 * timers, `console`, `Intl` and `WebAssembly`: what Node's `--frozen-intrinsics` freezes.
 *
 * Unlike that flag, this does not turn every method of every intrinsic prototype into a
 * getter and a setter. Those accessors (against the "override mistake", see `harden`)
 * make V8 give up its fast paths: a changed `Array.prototype.constructor` or
 * `Promise.prototype.then` switches off its array and promise shortcuts, so the
 * runtime's own code ran at about half speed, and making them cost each worker's start
 * ~20 ms. Only the properties code assigns on derived objects become accessors: all of
 * `Object.prototype`'s, the errors' `constructor`, `name`, `message` and `toString`,
 * and `Function.prototype.toString`: every Node.js built-in module loads with them,
 * where three throw while loading without any.
 *
 * What freezing costs all the same: a frozen `Object.prototype` or `Array.prototype`
 * switches off V8's no-elements protector for the whole engine, so every store that
 * grows an array (the runtime's, and Node's own bookkeeping of each callback and tick)
 * takes the engine's slow path. It is the price of the guarantee; BENCHMARKS.md
 * measures it (the hardened floor).
 */
export function freezeWorkerRealm() {
  const protoOf = Object.getPrototypeOf;
  const errors = [Error, AggregateError, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];
  for (const key of Reflect.ownKeys(Object.prototype)) {
    if (key !== '__proto__') tameIntrinsic(Object.prototype, key);
  }
  for (const { prototype } of errors) {
    for (const key of ['constructor', 'name', 'message', 'toString']) tameIntrinsic(prototype, key);
  }
  tameIntrinsic(Function.prototype, 'toString');

  const arrayIterator = protoOf([][Symbol.iterator]());
  const pending = [
    ...ECMASCRIPT_GLOBALS.map((name) => globalThis[name]),
    Object.getOwnPropertyDescriptor(Function.prototype, 'caller')?.get,
    arrayIterator,
    protoOf(arrayIterator),
    protoOf(''[Symbol.iterator]()),
    protoOf(/e/[Symbol.matchAll]('')),
    protoOf(new Map()[Symbol.iterator]()),
    protoOf(new Set()[Symbol.iterator]()),
    protoOf(protoOf(protoOf((async function* () {})()))),
    protoOf(function* () {}),
    protoOf(async function* () {}),
    protoOf(async function () {}),
    protoOf(Uint8Array),
    setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate,
    globalThis.console,
  ];
  const frozen = new Set();
  while (pending.length > 0) {
    const value = pending.pop();
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || frozen.has(value)) continue;
    frozen.add(value);
    Object.freeze(value);
    pending.push(protoOf(value));
    for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(value))) {
      if ('value' in descriptor) pending.push(descriptor.value);
      else pending.push(descriptor.get, descriptor.set);
    }
  }
  Object.defineProperty(globalThis, 'globalThis', { value: globalThis, writable: false, configurable: false });
}

/** The global names of ECMAScript's intrinsics (and `Intl`, `WebAssembly`), where the engine has them. */
const ECMASCRIPT_GLOBALS = Object.freeze([
  'Object', 'Function', 'Boolean', 'Symbol', 'Error', 'AggregateError', 'EvalError', 'RangeError',
  'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'Number', 'BigInt', 'Math', 'Date', 'String',
  'RegExp', 'Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array',
  'BigUint64Array', 'Map', 'Set', 'WeakMap', 'WeakSet', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Atomics', 'JSON', 'WeakRef', 'FinalizationRegistry', 'Iterator', 'Promise', 'Reflect', 'Proxy', 'Intl',
  'WebAssembly', 'eval', 'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'decodeURI', 'decodeURIComponent',
  'encodeURI', 'encodeURIComponent', 'escape', 'unescape',
]);

/** `tame` for an intrinsic's own data property that can still be changed. */
function tameIntrinsic(object, key) {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  if (descriptor?.writable && descriptor.configurable) tame(object, key, descriptor);
}
