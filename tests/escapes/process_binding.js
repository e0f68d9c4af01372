import process from 'node:process';
const out = [];
for (const f of [() => process.binding('fs'), () => process.dlopen({ exports: {} }, '/nonexistent.node')]) {
  try { f(); out.push('reached'); } catch (e) { out.push(e.code ?? e.name); }
}
export default out;
