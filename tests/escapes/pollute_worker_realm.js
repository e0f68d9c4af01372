// The worker realm's intrinsics, reached from a script: its `Object` is the
// global's constructor, its arrays come back from that `Object`'s functions,
// its errors from what they throw. Changing any of them fails; an object
// that inherits from them can still take a property of its own where code
// commonly assigns one (`name`, `toString`).
const WorkerObject = globalThis.constructor;
const workerArray = WorkerObject.keys({ a: 1 });
let workerError;
try {
  WorkerObject.defineProperty(1, 'x', {});
} catch (e) {
  workerError = e;
}
const targets = [
  WorkerObject.prototype,
  Object.getPrototypeOf(WorkerObject),
  Object.getPrototypeOf(workerArray),
  Object.getPrototypeOf(workerError),
  Object.getPrototypeOf(Object.getPrototypeOf(workerError)),
  WorkerObject,
];
const fromTheWorker = targets.every((target) => ![Object.prototype, Function.prototype, Array.prototype, TypeError.prototype, Error.prototype, Object].includes(target));
const attempts = [];
for (const target of targets) {
  const key = Reflect.ownKeys(target).find((k) => typeof k === 'string' && k !== 'constructor' && k !== 'prototype' && k !== 'length' && k !== 'name' && k !== '__proto__') ?? 'toString';
  for (const attempt of [
    () => { target[key] = () => 'hijacked'; },
    () => { target.polluted = 'yes'; },
    () => { Object.defineProperty(target, key, { value: 'hijacked' }); },
    () => { delete target[key]; },
    () => { Object.setPrototypeOf(target, Object.create(null)); },
  ]) {
    try {
      attempt();
      attempts.push(`changed ${String(key)}`);
    } catch (e) {
      attempts.push(e.name);
    }
  }
}
const derived = WorkerObject.create(WorkerObject.prototype);
derived.toString = () => 'its own';
workerError.name = 'Renamed';
export default [
  fromTheWorker,
  [...new Set(attempts)],
  String(derived),
  workerError.name,
  Object.getPrototypeOf(workerError).name,
  WorkerObject.prototype.polluted === undefined && workerArray.includes('a'),
];
