// Promises and responses fetch hands back lead nowhere either: they are of the
// script's realm (whose Function sees only the script's own process), or of
// the worker's, whose Function compiles nothing.
const p = fetch('data:text/plain,x');
const r = await p;
const out = [];
for (const f of [() => p.constructor.constructor('return process')(), () => r.constructor.constructor('return process')(),
                 () => r.text.constructor('return process')()]) {
  try { out.push(typeof f()?.binding === 'function' ? 'reached' : 'inert'); } catch (e) { out.push(e.name); }
}
export default out;
