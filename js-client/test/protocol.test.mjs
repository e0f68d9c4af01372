// The channel itself: start-up, framing, malformed input, and the worker's
// life tied to the host's end of the socket pair.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, valueOf, errorOf, isAlive, sleep } from './harness.mjs';

describe('protocol', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('answers init with the protocol version, node version and its pid', () => {
    assert.equal(w.initResult.protocol, 1);
    assert.equal(w.initResult.engine, 'node');
    assert.equal(w.initResult.version, process.versions.node);
    assert.equal(w.initResult.pid, w.child.pid);
    assert.ok(isAlive(w.initResult.pid));
  });

  it('answers ping with an empty object and echoes the request id', async () => {
    const { id, response } = w.requestWithId('ping', {});
    const answer = await response;
    assert.deepEqual(answer, { jsonrpc: '2.0', id, result: {} });
  });

  it('answers an unknown method with -32601', async () => {
    const error = errorOf(await w.request('no.such.method', {}), CODES.METHOD_NOT_FOUND);
    assert.match(error.message, /no\.such\.method/);
  });

  it('takes globals from an attachment line, parsed in the context\'s realm', async () => {
    const params = expr('[input.items.length, Object.getPrototypeOf(input) === Object.prototype, input.items[2].name]');
    delete params.globals;
    params.attachment = 'globals';
    const globals = JSON.stringify({ input: { items: [{ name: 'a' }, { name: 'b' }, { name: 'line\nbreak' }] } });
    // The attachment arrives in two writes, the second well after the request line.
    const response = w.requestWithAttachment('run', params, globals, {
      writeAttachment: (text) => {
        w.channel.write(text.slice(0, 10));
        setTimeout(() => w.channel.write(text.slice(10)), 50);
      },
    });
    assert.deepEqual(valueOf(await response), [3, true, 'line\nbreak']);
    assert.equal(valueOf(await w.run(expr('6 * 7'))), 42);
  });

  it('answers an unknown attachment with -32602', async () => {
    const params = expr('1');
    params.attachment = 'code';
    const error = errorOf(await w.request('run', params), CODES.INVALID_PARAMS);
    assert.match(error.message, /unknown attachment "code"/);
    assert.equal(valueOf(await w.run(expr('6 * 7'))), 42);
  });

  it('answers a garbage line with -32700 and id null, then keeps serving', async () => {
    const before = w.orphans.length;
    w.sendRaw('this is {not json');
    await w.waitFor(() => w.orphans.length > before, 3000, 'the parse error');
    const answer = w.orphans[before];
    assert.equal(answer.jsonrpc, '2.0');
    assert.equal(answer.id, null);
    assert.equal(answer.error.code, CODES.PARSE_ERROR);
    assert.match(answer.error.message, /invalid JSON/);
    assert.deepEqual((await w.request('ping', {})).result, {});
    assert.equal(valueOf(await w.run(expr('6 * 7'))), 42);
  });

  it('answers JSON that is not an object with -32600 and keeps serving', async () => {
    const before = w.orphans.length;
    w.sendRaw('42');
    await w.waitFor(() => w.orphans.length > before, 3000, 'the invalid-request error');
    assert.equal(w.orphans[before].id, null);
    assert.equal(w.orphans[before].error.code, CODES.INVALID_REQUEST);
    assert.deepEqual((await w.request('ping', {})).result, {});
  });

  it('handles several messages in one write and a message split across writes', async () => {
    const a = w.nextId++;
    const b = w.nextId++;
    const seen = () => w.orphans.filter((m) => m.id === a || m.id === b);
    // Responses to ids the client did not register land in `orphans`.
    const text = JSON.stringify({ jsonrpc: '2.0', id: a, method: 'ping', params: {} }) + '\n'
      + JSON.stringify({ jsonrpc: '2.0', id: b, method: 'run', params: expr('"split"') }) + '\n';
    const cut = text.length - 20;
    w.channel.write(text.slice(0, cut));
    await sleep(30);
    w.channel.write(text.slice(cut));
    await w.waitFor(() => seen().length === 2, 3000, 'both answers');
    const byId = Object.fromEntries(seen().map((m) => [m.id, m]));
    assert.deepEqual(byId[a].result, {});
    assert.deepEqual(byId[b].result, 'split');
  });

  it('exits by itself when the host end of the channel closes', async () => {
    const lone = await Worker.start();
    const pid = lone.pid;
    lone.channel.destroy();
    const status = await Promise.race([lone.exited, sleep(5000).then(() => 'still running')]);
    try {
      assert.deepEqual(status, { code: 0, signal: null });
      assert.equal(isAlive(pid), false);
    } finally {
      await lone.kill();
    }
  });

  it('exits by itself when the host only half-closes (end) its side', async () => {
    const lone = await Worker.start();
    lone.channel.end();
    const status = await Promise.race([lone.exited, sleep(5000).then(() => 'still running')]);
    try {
      assert.deepEqual(status, { code: 0, signal: null });
    } finally {
      await lone.kill();
    }
  });

  it('exits with status 0 on a shutdown notification', async () => {
    const lone = await Worker.start();
    lone.notify('shutdown', {});
    const status = await Promise.race([lone.exited, sleep(5000).then(() => 'still running')]);
    try {
      assert.deepEqual(status, { code: 0, signal: null });
    } finally {
      await lone.kill();
    }
  });

  it('answers a request whose params are missing with an error for that id, and keeps serving',
    async () => {
      const lone = await Worker.start();
      try {
        const answer = await lone.request('session.open', undefined, { timeoutMs: 2000 });
        assert.equal(answer.error?.code, CODES.INVALID_PARAMS);
        assert.deepEqual((await lone.request('ping', {})).result, {});
      } finally {
        await lone.kill();
      }
    });
});
