// How answers leave the worker: a synchronous answer is sent inside the read
// that brought its request, and the answers of one read leave in one write.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, expr, valueOf } from './harness.mjs';

it('answers a run or a call whose value is not a promise before the microtasks it queued run', async () => {
  const w = await Worker.start();
  try {
    await w.request('session.open', { session: 1 });
    const queue = 'queueMicrotask(() => console.log("microtask"));';
    await w.request('module.load', { handle: 1, name: 'm.mjs', key: 'writes-q', code: `export function f() { ${queue} return "value"; }`, session: 1, timeout: 1000 });
    for (const request of [
      () => w.run(expr(`${queue} "value"`, { session: 1 })),
      () => w.request('call', { handle: 1, export: 'f', args: '[]', timeout: 1000 }),
    ]) {
      const response = await request();
      assert.equal(valueOf(response), 'value');
      await w.waitFor(() => w.logsFor(response.id).length === 1, 2000, 'the log of the microtask');
      const at = (predicate) => w.received.findIndex(predicate);
      assert.ok(at((m) => m === response) < at((m) => m.method === 'log' && m.params.run === response.id));
    }
  } finally {
    await w.kill();
  }
});

it('answers synchronous runs and calls in one write for the read that brought them', async () => {
  const w = await Worker.start();
  try {
    await w.request('module.load', { handle: 1, name: 'm.mjs', key: 'writes-m', code: 'export function id(x) { return x; }', timeout: 1000 });
    const stats = async () => valueOf(await w.request('stats', {}));
    // The requests must reach the worker in one read; should the pipe split them, try again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = await stats();
      const ids = [];
      let lines = '';
      for (let i = 0; i < 10; i++) {
        const id = w.nextId++;
        ids.push(id);
        const message = i % 2 === 0
          ? { jsonrpc: '2.0', id, method: 'run', params: expr(String(i)) }
          : { jsonrpc: '2.0', id, method: 'call', params: { handle: 1, export: 'id', args: `[${i}]`, timeout: 1000 } };
        lines += JSON.stringify(message) + '\n';
      }
      w.channel.write(lines);
      await w.waitFor(() => ids.every((id) => w.orphans.some((m) => m.id === id)), 3000, 'the ten answers');
      const after = await stats();
      if (after.reads - before.reads !== 2) continue;
      // One write answered the first `stats`, one all ten requests.
      assert.equal(after.writes - before.writes, 2);
      assert.deepEqual(ids.map((id) => w.orphans.find((m) => m.id === id).result), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      return;
    }
    assert.fail('the requests never arrived in one read');
  } finally {
    await w.kill();
  }
});
