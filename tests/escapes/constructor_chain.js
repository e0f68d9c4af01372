// The classic: the global's constructor chain, to a Function that sees the
// worker's process (the script's own `process` has no \`binding\`).
// `this` is undefined in a module; the global's constructor is the worker's
// Object (vm forwards to the worker-realm sandbox object), whose Function
// refuses to compile strings.
const viaThis = this?.constructor?.constructor('return typeof globalThis.process?.binding')() ?? 'no this';
let viaGlobal;
try {
  viaGlobal = globalThis.constructor.constructor('return typeof globalThis.process?.binding')();
} catch (e) {
  viaGlobal = e.name;
}
const viaObject = ({}).constructor.constructor('return typeof globalThis.process?.binding')();
export default [viaThis, viaGlobal, viaObject];
