// Up from a plain function, an async function and a generator.
const found = [
  (() => 0).constructor('return typeof process')(),
  await (async () => 0).constructor('return typeof process')(),
  Object.getPrototypeOf(function* () {}).constructor('yield typeof require')().next().value,
];
export default found;
