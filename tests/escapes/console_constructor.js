// console's methods are made in the script's realm: their Function sees no process.
export default [
  console.log.constructor('return typeof globalThis.process?.binding')(),
  console.constructor.constructor('return typeof require')(),
];
