// A scan of everything a script reaches under the defaults: the global
// object and every built-in module, walked through own properties (getters
// called), prototypes and function properties. It looks for what would
// reopen the sandbox: the worker's real `process`, a Function of another
// realm that compiles code, the worker's module loader, a handle on the
// channel's descriptor, and process, thread, network or native-code
// functions that do anything but refuse.
import { builtinModules } from 'node:module';

const roots = [['globalThis', globalThis]];
for (const name of builtinModules) {
  try {
    roots.push([`node:${name}`, await import(`node:${name}`)]);
  } catch (e) {
    roots.push([`node:${name} (import failed: ${e.code ?? e.name})`, null]);
  }
}

const findings = [];
const seen = new Set();
const compilers = new Set();
const OWN = new Set([Function, Object.getPrototypeOf(async () => {}).constructor,
  Object.getPrototypeOf(function* () {}).constructor, Object.getPrototypeOf(async function* () {}).constructor]);
/** Functions of capabilities, called with harmless arguments: each must refuse as a denial. */
const PROBES = {
  spawn: ['true'], spawnSync: ['true'], exec: ['true'], execSync: ['true'], execFile: ['true'], execFileSync: ['true'],
  fork: ['/dev/null'], dlopen: [{}, '/dev/null'], binding: ['fs'], _linkedBinding: ['fs'], _load: ['fs'],
  connect: [9, '127.0.0.1'], createConnection: [9, '127.0.0.1'], createServer: [], lookup: ['localhost'],
  Worker: ['1', { eval: true }], runInThisContext: ['1'], setFlagsFromString: ['--no-opt'], open: [],
  writeHeapSnapshot: [], getHeapSnapshot: [], kill: [process.pid ?? 1, 0], openSync: ['/etc/hostname'],
  writeSync: [3, 'x'], readFileSync: ['/proc/self/environ'],
};
let visited = 0;
const queue = roots.map(([path, value]) => [path, value, 0]);
while (queue.length > 0 && visited < 300000) {
  const [path, value, depth] = queue.shift();
  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
  seen.add(value);
  visited++;
  await inspect(path, value);
  if (depth >= 8) continue;
  let proto;
  try { proto = Object.getPrototypeOf(value); } catch { proto = null; }
  if (proto) queue.push([`${path}.__proto__`, proto, depth + 1]);
  let keys = [];
  try { keys = Reflect.ownKeys(value); } catch { /* a revoked proxy */ }
  for (const key of keys) {
    let child;
    try {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      child = descriptor && ('value' in descriptor ? descriptor.value : descriptor.get?.call(value));
    } catch { continue; }
    queue.push([`${path}.${String(key)}`, child, depth + 1]);
  }
}

async function inspect(path, value) {
  try {
    if (typeof value.binding === 'function' && typeof value.dlopen === 'function') findings.push(`${path}: the worker's process`);
    if (value.fd === 3 || value._handle?.fd === 3) findings.push(`${path}: a handle on descriptor 3`);
    if (typeof value._load === 'function' && typeof value._resolveFilename === 'function') findings.push(`${path}: the worker's module loader`);
  } catch { /* a throwing getter or trap */ }
  if (typeof value !== 'function') return;
  let ctor;
  try { ctor = value.constructor; } catch { ctor = undefined; }
  if (typeof ctor === 'function' && !OWN.has(ctor) && !compilers.has(ctor)) {
    compilers.add(ctor);
    try {
      ctor('return 1');
      findings.push(`${path}.constructor: a Function of another realm compiles code`);
    } catch { /* refused, as it must be */ }
  }
  const name = path.split('.').pop();
  if (Object.hasOwn(PROBES, name) && typeof value === 'function') {
    try {
      const result = Reflect.apply(value, undefined, PROBES[name]);
      if (typeof result?.then === 'function') await result;
      findings.push(`${path}: ran`);
    } catch (e) {
      if (e?.code !== 'ERR_OUTRIGGER_DENIED' && e?.name !== 'TypeError' && e?.code !== 'ENOENT' && !String(e?.code).startsWith('ERR_INVALID_ARG')) {
        findings.push(`${path}: ${e?.code ?? e?.name}: ${String(e?.message).slice(0, 80)}`);
      }
    }
  }
}

export default { findings, enough: visited > 2000, modules: roots.length > 50 };
