// How runs end early: timeouts (synchronous and asynchronous) and `cancel`.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf, sleep } from './harness.mjs';

describe('timeouts', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('ends a synchronous endless loop in an expression with -32001, and the worker stays usable', async () => {
    const started = Date.now();
    const error = errorOf(await w.run(expr('while (true) {}', { timeout: 200 })), CODES.TIMEOUT);
    const took = Date.now() - started;
    assert.match(error.message, /timed out after 200/);
    assert.ok(took >= 190 && took < 3000, `took ${took} ms`);
    assert.deepEqual((await w.request('ping', {})).result, {});
    assert.equal(valueOf(await w.run(expr('"alive"'))), 'alive');
  });

  it('ends a synchronous endless loop in a module with -32001', async () => {
    const error = errorOf(await w.run(mod('let i = 0;\nwhile (true) { i++; }\nexport default i;', { timeout: 200 })), CODES.TIMEOUT);
    assert.match(error.message, /timed out/);
    assert.equal(valueOf(await w.run(mod('export default "alive";'))), 'alive');
  });

  it('ends a promise that never resolves with -32001 after the timeout', async () => {
    const started = Date.now();
    const error = errorOf(await w.run(expr('new Promise(() => {})', { timeout: 150 })), CODES.TIMEOUT);
    const took = Date.now() - started;
    assert.equal(error.message, 'run timed out after 150 ms');
    assert.ok(took >= 140 && took < 3000, `took ${took} ms`);
    assert.equal(valueOf(await w.run(expr('1'))), 1);
  });

  it('ends a module whose top-level await never settles with -32001', async () => {
    const error = errorOf(await w.run(mod('await new Promise(() => {});\nexport default 1;', { timeout: 150 })), CODES.TIMEOUT);
    assert.equal(error.message, 'run timed out after 150 ms');
  });

  it('aborts signal with a TimeoutError when the run times out', async () => {
    await w.request('session.open', { session: 501 });
    try {
      const code = 'const s = signal;\nnew Promise((r) => s.addEventListener("abort", () => { globalThis.seen = [s.aborted, s.reason.name]; }))';
      errorOf(await w.run(expr(code, { session: 501, timeout: 100 })), CODES.TIMEOUT);
      assert.deepEqual(valueOf(await w.run(expr('seen', { session: 501 }))), [true, 'TimeoutError']);
    } finally {
      w.notify('session.close', { session: 501 });
    }
  });

  it('does not time out a run that finishes in time, and stops its timer', async () => {
    const response = await w.run(expr('new Promise((r) => setTimeout(() => r("in time"), 20))', { timeout: 1000 }));
    assert.equal(valueOf(response), 'in time');
  });
});

describe('cancel', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('ends a running script with -32002 and aborts its signal, which the script sees', async () => {
    const code = '(async () => {\n'
      + '  const reason = await new Promise((r) => signal.addEventListener("abort", () => r(signal.reason)));\n'
      + '  console.log("saw abort", signal.aborted, String(reason.message));\n'
      + '  return "unreachable";\n'
      + '})()';
    const { id, response } = w.requestWithId('run', expr(code, { timeout: 5000 }));
    await sleep(50);
    const started = Date.now();
    w.notify('cancel', { id });
    const error = errorOf(await response, CODES.CANCELLED);
    assert.equal(error.message, 'run cancelled');
    assert.ok(Date.now() - started < 1000);
    await w.waitFor(() => w.logsFor(id).length > 0, 2000, 'the log from the abort listener');
    assert.deepEqual(w.logsFor(id)[0].args, ['saw abort', true, 'run cancelled']);
  });

  it('lets a session script record that it saw the abort', async () => {
    await w.request('session.open', { session: 7 });
    try {
      const code = 'globalThis.sawAbort = false;\n'
        + 'const s = signal;\nnew Promise((r) => s.addEventListener("abort", () => { globalThis.sawAbort = s.aborted; r(); }))';
      const { id, response } = w.requestWithId('run', expr(code, { session: 7 }));
      await sleep(30);
      w.notify('cancel', { id });
      errorOf(await response, CODES.CANCELLED);
      assert.equal(valueOf(await w.run(expr('sawAbort', { session: 7 }))), true);
    } finally {
      w.notify('session.close', { session: 7 });
    }
  });

  it('cancels a module run awaiting at top level', async () => {
    const { id, response } = w.requestWithId('run', mod('await new Promise(() => {});\nexport default 1;'));
    await sleep(30);
    w.notify('cancel', { id });
    errorOf(await response, CODES.CANCELLED);
  });

  it('reports -32001 when the host cancels with reason "timeout"', async () => {
    const { id, response } = w.requestWithId('run', expr('new Promise(() => {})'));
    await sleep(30);
    w.notify('cancel', { id, reason: 'timeout' });
    const error = errorOf(await response, CODES.TIMEOUT);
    assert.equal(error.message, 'run timed out');
  });

  it('ignores a cancel for a run that is not running', async () => {
    w.notify('cancel', { id: 987654 });
    assert.equal(valueOf(await w.run(expr('"fine"'))), 'fine');
  });

  it('stops the cancelled run\'s timers', async () => {
    const { id, response } = w.requestWithId('run', expr('setInterval(() => console.log("tick"), 5); new Promise(() => {})'));
    await sleep(40);
    w.notify('cancel', { id });
    errorOf(await response, CODES.CANCELLED);
    const count = w.logsFor(id).length;
    assert.ok(count >= 1);
    await sleep(100);
    assert.equal(w.logsFor(id).length, count);
  });
});

describe('end of a plain run', () => {
  it('aborts the run\'s signal once the run has answered (ARCHITECTURE.md: "its timers cleared, its signal aborted")',
    async () => {
      const w = await Worker.start();
      try {
        const response = await w.run(expr('signal.addEventListener("abort", () => console.log("aborted at end")); "done"'));
        assert.equal(valueOf(response), 'done');
        await w.waitFor(() => w.logsFor(response.id).length > 0, 500, 'the abort listener\'s log');
        assert.deepEqual(w.logsFor(response.id)[0].args, ['aborted at end']);
      } finally {
        await w.kill();
      }
    });
});

describe('timeouts of calls', () => {
  it('ends a synchronous endless loop in a called export with -32001',
    async () => {
      const w = await Worker.start();
      try {
        const loaded = await w.request('module.load', { handle: 1, name: 'spin.mjs', key: 'spin', code: 'export function spin() { while (true) {} }', timeout: 1000 });
        assert.deepEqual(loaded.result, { exports: ['spin'] });
        const answer = await w.request('call', { handle: 1, export: 'spin', args: '[]', timeout: 200 }, { timeoutMs: 1500 });
        errorOf(answer, CODES.TIMEOUT);
      } finally {
        await w.kill();
      }
    });
});

describe('runs waiting at an await', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('are reported once the event loop turns; runs that finish first are not', async () => {
    const sync = w.requestWithId('run', expr('1'));
    const microtasks = w.requestWithId('run', expr('Promise.resolve().then(() => 2)'));
    const timer = w.requestWithId('run', mod('await new Promise((r) => setTimeout(r, 50));\nexport default 3;'));
    assert.deepEqual(
      [valueOf(await sync.response), valueOf(await microtasks.response), valueOf(await timer.response)],
      [1, 2, 3],
    );
    assert.deepEqual(w.waiting, [timer.id]);
  });

  it('are not reported while a synchronous loop holds the worker', async () => {
    w.waiting.length = 0;
    const looping = w.requestWithId('run', expr('const end = Date.now() + 200; while (Date.now() < end) {} 4'));
    const behind = w.requestWithId('run', mod('await new Promise((r) => setTimeout(r, 10));\nexport default 5;'));
    assert.equal(valueOf(await looping.response), 4);
    assert.equal(valueOf(await behind.response), 5);
    assert.deepEqual(w.waiting, [behind.id], 'reported only once the loop let go');
  });
});

describe('a refused allocation', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('ends its run with the memory limit, answered once what the run held is collected', async () => {
    // The engine refuses allocations only under the host's data limit; the
    // error it throws then is thrown here by hand, with memory held.
    const code = "const held = new Uint8Array(64 * 1024 * 1024).fill(1);\nif (held.length) throw new RangeError('Array buffer allocation failed');\nexport default 1;";
    const error = errorOf(await w.run(mod(code)), CODES.LIMIT);
    assert.match(error.message, /Sandbox::max_memory_mb\) and was refused: RangeError: Array buffer allocation failed$/);
    assert.deepEqual(error.data, { limit: 'memory' });
    const sync = errorOf(await w.run(expr("throw new RangeError('Array buffer allocation failed')")), CODES.LIMIT);
    assert.deepEqual(sync.data, { limit: 'memory' });
    assert.equal(valueOf(await w.run(expr('new Uint8Array(1024).length'))), 1024);
  });
});
