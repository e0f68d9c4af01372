// URL, TextEncoder, fetch's Response: worker-realm objects, but their Function refuses strings.
const out = [];
for (const f of [() => URL.constructor('return process')(), () => TextEncoder.constructor('return process')(),
                 () => structuredClone.constructor('return process')(), () => crypto.constructor.constructor('return process')()]) {
  try { f(); out.push('reached'); } catch (e) { out.push(e.name); }
}
export default out;
