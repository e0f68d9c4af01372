// Globals are JSON parsed in the script's realm: plain data, no getters, no Proxy,
// no foreign prototypes to climb.
export default [
  input.constructor === Object,
  Object.getPrototypeOf(input) === Object.prototype,
  typeof Object.getOwnPropertyDescriptor(input, 'a').get,
  input.constructor.constructor('return typeof globalThis.process?.binding')(),
];
