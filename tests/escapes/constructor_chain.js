// The classic: the global's constructor chain, to a Function that sees process.
// `this` is undefined in a module; the global's constructor is the worker's
// Object (vm forwards to the worker-realm sandbox object), whose Function
// refuses to compile strings.
const viaThis = this?.constructor?.constructor('return typeof process')() ?? 'no this';
let viaGlobal;
try {
  viaGlobal = globalThis.constructor.constructor('return typeof process')();
} catch (e) {
  viaGlobal = e.name;
}
const viaObject = ({}).constructor.constructor('return typeof process')();
export default [viaThis, viaGlobal, viaObject];
