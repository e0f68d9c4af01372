// No require, module or __filename in a module's scope; its `process` is the
// script's own, with nothing of the worker's.
export default [typeof require, typeof process.binding, typeof module, typeof __filename, typeof import.meta.resolve];
