// No require and no process in a module's scope, nor via module or import.meta.
export default [typeof require, typeof process, typeof module, typeof __filename, typeof import.meta.resolve];
