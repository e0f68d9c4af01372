// A timer id is a number, not a worker Timeout object with its internals.
const id = setTimeout(() => {}, 1000);
clearTimeout(id);
export default [typeof id, setTimeout.constructor('return typeof globalThis.process?.binding')()];
