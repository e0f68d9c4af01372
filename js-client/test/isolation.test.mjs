// The script cache, what plain runs do (not) share, and sessions.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf, sleep, uniqueKey } from './harness.mjs';

describe('script cache', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('runs an expression again by key alone, in a fresh context each time', async () => {
    const key = uniqueKey('cached');
    const code = 'globalThis.n = (globalThis.n ?? 0) + 1;\n[input * 2, n]';
    const first = await w.run(expr(code, { key, globals: '{"input": 5}' }));
    assert.deepEqual(valueOf(first), [10, 1]);
    const params = expr('', { key, globals: '{"input": 7}' });
    delete params.code;
    assert.deepEqual(valueOf(await w.run(params)), [14, 1]);
  });

  it('runs a module again by key alone', async () => {
    const key = uniqueKey('cached-mod');
    assert.equal(valueOf(await w.run(mod('export default input + 1;', { key, globals: '{"input": 1}' }))), 2);
    const params = mod('', { key, globals: '{"input": 41}' });
    delete params.code;
    assert.equal(valueOf(await w.run(params)), 42);
  });

  it('runs a script sent by key alone without its kind and name as it first came', async () => {
    const key = uniqueKey('bare-key');
    const code = 'if (input.fail) throw new Error("boom");\nexport default input.v;';
    assert.equal(valueOf(await w.run(mod(code, { key, name: 'named.mjs', globals: '{"input": {"v": 1}}' }))), 1);
    const again = (globals) => {
      const params = mod('', { key, globals });
      delete params.code;
      delete params.kind;
      delete params.name;
      return w.run(params);
    };
    // A module still (`export default` is its value), under its own name.
    assert.equal(valueOf(await again('{"input": {"v": 2}}')), 2);
    const error = errorOf(await again('{"input": {"fail": true}}'), CODES.SCRIPT_ERROR);
    assert.match(JSON.stringify(error), /named\.mjs/);
    const unknown = { key: uniqueKey('bare-unknown'), timeout: 1000 };
    errorOf(await w.run(unknown), CODES.UNKNOWN_SCRIPT);
  });

  it('needs the kind and name of a script sent with its code', async () => {
    const params = expr('1');
    delete params.kind;
    const error = errorOf(await w.run(params), CODES.INVALID_PARAMS);
    assert.match(error.message, /kind, name/);
    assert.equal(valueOf(await w.run(expr('6 * 7'))), 42);
  });

  it('answers an unknown key without code with -32007', async () => {
    const key = uniqueKey('never-sent');
    const params = expr('', { key });
    delete params.code;
    const error = errorOf(await w.run(params), CODES.UNKNOWN_SCRIPT);
    assert.match(error.message, new RegExp(key));
    const modParams = mod('', { key: uniqueKey('never-sent-mod') });
    delete modParams.code;
    errorOf(await w.run(modParams), CODES.UNKNOWN_SCRIPT);
  });

  it('forgets the oldest script beyond scriptCacheSize', async () => {
    const small = await Worker.start({ init: { scriptCacheSize: 2 } });
    try {
      const keys = [uniqueKey('lru'), uniqueKey('lru'), uniqueKey('lru')];
      for (const [i, key] of keys.entries()) assert.equal(valueOf(await small.run(expr(String(i), { key }))), i);
      const again = (key) => {
        const params = expr('', { key });
        delete params.code;
        return small.run(params);
      };
      errorOf(await again(keys[0]), CODES.UNKNOWN_SCRIPT);
      assert.equal(valueOf(await again(keys[2])), 2);
      assert.equal(valueOf(await again(keys[1])), 1);
    } finally {
      await small.kill();
    }
  });
});

describe('plain runs are isolated', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('do not share globals, var or let bindings', async () => {
    assert.equal(valueOf(await w.run(expr('globalThis.leak = 1; var v = 2; let l = 3; this.also = 4; "set"'))), 'set');
    assert.deepEqual(valueOf(await w.run(expr('[typeof leak, typeof v, typeof l, typeof also]'))),
      ['undefined', 'undefined', 'undefined', 'undefined']);
  });

  it('do not share intrinsics: a polluted prototype stays in its run', async () => {
    assert.equal(valueOf(await w.run(expr('Object.prototype.polluted = 1; Array.prototype.push = null; JSON.stringify = () => "x"; 1'))), 1);
    assert.deepEqual(valueOf(await w.run(expr('[typeof ({}).polluted, typeof [].push, JSON.stringify({ a: 1 })]'))),
      ['undefined', 'function', '{"a":1}']);
  });

  it('do not share globals passed in by the host', async () => {
    assert.equal(valueOf(await w.run(expr('typeof secret', { globals: '{"secret": "s1"}' }))), 'string');
    assert.equal(valueOf(await w.run(expr('typeof secret'))), 'undefined');
  });

  it('do not share the web globals lent from the worker\'s realm',
    async () => {
      const lone = await Worker.start();
      try {
        await lone.run(expr('crypto.leak = 1; TextEncoder.prototype.leak = 2; URL.leak = 3; structuredClone.leak = 4; 0'));
        assert.deepEqual(valueOf(await lone.run(expr('[typeof crypto.leak, typeof TextEncoder.prototype.leak, typeof URL.leak, typeof structuredClone.leak]'))),
          ['undefined', 'undefined', 'undefined', 'undefined']);
      } finally {
        await lone.kill();
      }
    });

  it('lend web APIs on first touch, let scripts replace them, and keep the accessors shared but frozen', async () => {
    const code = `(() => {
      const api = Object.getPrototypeOf(globalThis);
      const lazy = Object.getOwnPropertyDescriptor(api, 'Headers');
      const grew = Reflect.set(lazy.get, 'leak', 1);
      const uuid = crypto.randomUUID() + String(new Headers({ a: 'b' }).get('a')).slice(1);
      globalThis.performance = 'mine';
      return [
        typeof lazy.get, Object.isFrozen(lazy.get), 'leak' in lazy.get, grew,
        /^[0-9a-f-]{36}$/.test(uuid), performance,
        Object.getOwnPropertyDescriptor(api, 'URL').enumerable,
        Object.getOwnPropertyDescriptor(api, 'setTimeout').enumerable,
        Object.getOwnPropertyDescriptor(api, 'host').enumerable,
        Object.keys(globalThis).includes('setTimeout'),
      ];
    })()`;
    assert.deepEqual(valueOf(await w.run(expr(code))), ['function', true, false, false, true, 'mine', false, true, false, false]);
    // The next run starts from the lent API again.
    assert.deepEqual(valueOf(await w.run(expr('[typeof performance.now(), typeof crypto.subtle]'))), ['number', 'object']);
  });
});

describe('sessions', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('share globals, var and let bindings between runs', async () => {
    assert.deepEqual((await w.request('session.open', { session: 1 })).result, {});
    try {
      assert.equal(valueOf(await w.run(expr('globalThis.counter = 1; var v = 5; let l = 6; counter', { session: 1 }))), 1);
      assert.deepEqual(valueOf(await w.run(expr('counter += 1; [counter, v, l]', { session: 1 }))), [2, 5, 6]);
      assert.equal(valueOf(await w.run(mod('export default counter * 10;', { session: 1 }))), 20);
      // A plain run between them sees none of it.
      assert.deepEqual(valueOf(await w.run(expr('[typeof counter, typeof v]'))), ['undefined', 'undefined']);
    } finally {
      w.notify('session.close', { session: 1 });
    }
  });

  it('keep two sessions apart', async () => {
    await w.request('session.open', { session: 2 });
    await w.request('session.open', { session: 3 });
    try {
      await w.run(expr('globalThis.who = "two"', { session: 2 }));
      await w.run(expr('globalThis.who = "three"', { session: 3 }));
      assert.equal(valueOf(await w.run(expr('who', { session: 2 }))), 'two');
      assert.equal(valueOf(await w.run(expr('who', { session: 3 }))), 'three');
    } finally {
      w.notify('session.close', { session: 2 });
      w.notify('session.close', { session: 3 });
    }
  });

  it('refuse to open a session id twice with -32602', async () => {
    await w.request('session.open', { session: 4 });
    try {
      const error = errorOf(await w.request('session.open', { session: 4 }), CODES.INVALID_PARAMS);
      assert.match(error.message, /already open/);
    } finally {
      w.notify('session.close', { session: 4 });
    }
  });

  it('keep a session\'s timers across runs, and session.close stops them', async () => {
    await w.request('session.open', { session: 5 });
    const response = await w.run(expr('setInterval(() => console.log("session tick"), 5); "started"', { session: 5 }));
    assert.equal(valueOf(response), 'started');
    await w.waitFor(() => w.logsFor(response.id).length >= 2, 2000, 'ticks after the run ended');
    w.notify('session.close', { session: 5 });
    assert.deepEqual((await w.request('ping', {})).result, {});
    const count = w.logsFor(response.id).length;
    await sleep(100);
    assert.equal(w.logsFor(response.id).length, count, 'ticks continued after session.close');
  });

  it('after session.close, module.load in that session answers -32008', async () => {
    await w.request('session.open', { session: 6 });
    w.notify('session.close', { session: 6 });
    const error = errorOf(await w.request('module.load', { handle: 60, name: 'm.mjs', key: uniqueKey(), code: 'export const a = 1;', timeout: 1000, session: 6 }), CODES.NOT_FOUND);
    assert.match(error.message, /session 6 is not open/);
  });

  it('after session.close, a run in that session answers -32008',
    async () => {
      const lone = await Worker.start();
      try {
        await lone.request('session.open', { session: 1 });
        assert.equal(valueOf(await lone.run(expr('1', { session: 1 }))), 1);
        lone.notify('session.close', { session: 1 });
        const error = errorOf(await lone.run(expr('1', { session: 1 }), { timeoutMs: 1500 }), CODES.NOT_FOUND);
        assert.match(error.message, /session 1 is not open/);
      } finally {
        await lone.kill();
      }
    });
});
