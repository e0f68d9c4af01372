// URL (lent by the worker): its Function refuses strings. TextEncoder,
// structuredClone and crypto are made in the script's realm: their Function
// sees only the script's own process, which has no \`binding\`.
const out = [];
for (const f of [() => URL.constructor('return process')(), () => TextEncoder.constructor('return process')(),
                 () => structuredClone.constructor('return process')(), () => crypto.constructor.constructor('return process')()]) {
  try { out.push(typeof f()?.binding === 'function' ? 'reached' : 'inert'); } catch (e) { out.push(e.name); }
}
export default out;
