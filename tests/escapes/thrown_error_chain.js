// An error thrown by the worker (a refused fetch, a bad timer) is of the script's realm or inert.
const out = [];
try { await fetch('https://example.invalid/'); } catch (e) {
  try { out.push(e.constructor.constructor('return typeof globalThis.process?.binding')()); } catch (e2) { out.push(e2.name); }
}
try { setTimeout('code'); } catch (e) {
  try { out.push(e.constructor.constructor('return typeof globalThis.process?.binding')()); } catch (e2) { out.push(e2.name); }
}
export default out;
