// Promises the worker hands back (fetch of a data: URL) lead nowhere either.
const p = fetch('data:text/plain,x');
const r = await p;
const out = [];
for (const f of [() => p.constructor.constructor('return process')(), () => r.constructor.constructor('return process')(),
                 () => r.text.constructor('return process')()]) {
  try { f(); out.push('reached'); } catch (e) { out.push(e.name); }
}
export default out;
