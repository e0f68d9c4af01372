// executionAsyncResource() would hand over whatever resource the worker is
// running (its channel's socket among them); createHook would see every
// run's promises. Both are refused when called.
import { executionAsyncResource, createHook, AsyncLocalStorage } from 'node:async_hooks';
const out = [];
for (const attempt of [() => executionAsyncResource(), () => createHook({ init() {} }).enable()]) {
  try { attempt(); out.push('reached'); } catch (e) { out.push(e.code); }
}
// What stays: a store of the script's own.
const store = new AsyncLocalStorage();
out.push(await store.run('mine', async () => { await null; return store.getStore(); }));
export default out;
