// vm would run code in the worker's realm; v8 would change the engine's flags.
import vm from 'node:vm';
import v8 from 'node:v8';
const out = [];
for (const attempt of [() => vm.runInThisContext('process.binding'), () => new vm.Script('process').runInThisContext(),
  () => v8.setFlagsFromString('--allow-natives-syntax'), () => v8.writeHeapSnapshot()]) {
  try { attempt(); out.push('reached'); } catch (e) { out.push(e.code); }
}
export default out;
