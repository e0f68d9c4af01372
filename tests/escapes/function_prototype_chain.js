// Up from a plain function, an async function and a generator.
const found = [
  (() => 0).constructor('return typeof globalThis.process?.binding')(),
  await (async () => 0).constructor('return typeof globalThis.process?.binding')(),
  Object.getPrototypeOf(function* () {}).constructor('yield typeof require')().next().value,
];
export default found;
