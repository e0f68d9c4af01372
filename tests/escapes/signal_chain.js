// The signal is lent from the worker's realm, whose Function compiles nothing.
let outcome;
try {
  signal.constructor.constructor('return process')();
  outcome = 'reached';
} catch (e) {
  outcome = e.name;
}
export default outcome;
