// Worker→host requests: callbacks a script reaches through `host`.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf, sleep } from './harness.mjs';

const CALLBACKS = [
  { name: 'x', path: ['x'] },
  { name: 'db.get', path: ['db', 'get'] },
  { name: 'db.put', path: ['db', 'put'] },
  { name: 'slow', path: ['slow'] },
];

describe('callbacks', () => {
  let w;
  const seen = [];
  before(async () => {
    w = await Worker.start({
      callbacks: CALLBACKS,
      onCallback: async (method, params) => {
        seen.push({ method, params });
        switch (method) {
          case 'x':
            if (params.args && params.args.fail) {
              throw { code: 4242, message: 'the host said no', data: { reason: 'fail was set', retry: false } };
            }
            return { echoed: params.args, list: [1, 2] };
          case 'db.get':
            return params.args === 'missing' ? null : `value of ${params.args}`;
          case 'db.put':
            return true;
          case 'slow':
            await sleep(100);
            return 'slow answer';
          default:
            throw { code: CODES.METHOD_NOT_FOUND, message: `no ${method}` };
        }
      },
    });
  });
  after(async () => {
    await w?.kill();
  });

  it('sends a request with the callback name as method and {run, args}, and resolves with its result', async () => {
    const response = await w.run(expr('(async () => { const r = await host.x({ a: 1 }); return r; })()'));
    assert.deepEqual(valueOf(response), { echoed: { a: 1 }, list: [1, 2] });
    const request = w.callbackRequests.find((m) => m.params.run === response.id);
    assert.ok(request, 'no callback request tagged with the run id');
    assert.equal(request.jsonrpc, '2.0');
    assert.equal(request.method, 'x');
    assert.equal(typeof request.id, 'number');
    assert.deepEqual(request.params, { run: response.id, session: null, args: { a: 1 } });
  });

  it('rejects the script\'s promise with an Error carrying the error response\'s code and data', async () => {
    const code = '(async () => {\n'
      + '  try { await host.x({ fail: true }); return "resolved"; }\n'
      + '  catch (e) { return { message: e.message, code: e.code, data: e.data, hasStack: typeof e.stack === "string" }; }\n'
      + '})()';
    assert.deepEqual(valueOf(await w.run(expr(code))), {
      message: 'the host said no',
      code: 4242,
      data: { reason: 'fail was set', retry: false },
      hasStack: true,
    });
  });

  it('fails the run with -32000 when the script does not catch the rejection', async () => {
    const error = errorOf(await w.run(expr('host.x({ fail: true })')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'Error: the host said no');
  });

  it('throws at once for a name that is not a callback, listing those that are', async () => {
    const error = errorOf(await w.run(expr('host.db.gte("k")')), CODES.SCRIPT_ERROR);
    assert.equal(error.data.message, 'host.db.gte is not a callback (callbacks: x, db.get, db.put, slow)');
    assert.deepEqual(valueOf(await w.run(expr('[typeof host.x, typeof host.db.get, "nope" in host, typeof host.then]'))),
      ['function', 'function', false, 'undefined']);
  });

  it('tells the host which session called', async () => {
    await w.request('session.open', { session: 77 });
    const response = await w.run(expr('host.x({ s: 1 })', { session: 77 }));
    valueOf(response);
    const request = w.callbackRequests.find((m) => m.params.run === response.id);
    assert.equal(request.params.session, 77);
  });

  it('ends the run with -32009 at its callback limit', async () => {
    const response = await w.run(expr('(async () => { for (let i = 0; i < 5; i++) await host.x({ i }); return "done"; })()', { maxCallbacks: 3 }));
    const error = errorOf(response, CODES.LIMIT);
    assert.match(error.message, /limit of 3 callback calls/);
    assert.equal(w.callbackRequests.filter((m) => m.params.run === response.id).length, 3);
  });

  it('nests callbacks by path: db.get and db.put', async () => {
    const code = '(async () => [typeof host.db, await host.db.get("k1"), await host.db.get("missing"), await host.db.put({ k: "v" })])()';
    const response = await w.run(expr(code));
    assert.deepEqual(valueOf(response), ['object', 'value of k1', null, true]);
    const methods = w.callbackRequests.filter((m) => m.params.run === response.id).map((m) => [m.method, m.params.args]);
    assert.deepEqual(methods, [['db.get', 'k1'], ['db.get', 'missing'], ['db.put', { k: 'v' }]]);
  });

  it('sends {} as args when the script passes none', async () => {
    const response = await w.run(expr('host.db.put()'));
    assert.equal(valueOf(response), true);
    const request = w.callbackRequests.find((m) => m.params.run === response.id);
    assert.deepEqual(request.params.args, {});
  });

  it('keeps concurrent callbacks apart by request id', async () => {
    const code = '(async () => Promise.all([host.slow(), host.db.get("a"), host.x([1]), host.db.get("b")]))()';
    assert.deepEqual(valueOf(await w.run(expr(code))), ['slow answer', 'value of a', { echoed: [1], list: [1, 2] }, 'value of b']);
  });

  it('works from a module with top-level await and from a called export', async () => {
    assert.equal(valueOf(await w.run(mod('export default await host.db.get("from module");'))), 'value of from module');
    await w.request('module.load', { handle: 1, name: 'cb.mjs', key: 'cb-v1', code: 'export async function read(k) { return host.db.get(k); }', timeout: 1000 });
    const answer = await w.request('call', { handle: 1, export: 'read', args: '["from call"]', timeout: 1000 });
    assert.equal(valueOf(answer), 'value of from call');
    const request = w.callbackRequests.find((m) => m.params.run === answer.id);
    assert.equal(request.method, 'db.get');
  });

  it('gives callback results and errors as values of the script\'s realm',
    async () => {
      const code = '(async () => {\n'
        + '  const r = await host.x({});\n'
        + '  let e; try { await host.x({ fail: true }); } catch (caught) { e = caught; }\n'
        + '  return [r.constructor === Object, r.list instanceof Array, e instanceof Error, e.data.constructor === Object];\n'
        + '})()';
      assert.deepEqual(valueOf(await w.run(expr(code))), [true, true, true, true]);
    });
});

describe('callbacks not declared', () => {
  let w;
  before(async () => {
    w = await Worker.start({ callbacks: [] });
  });
  after(async () => {
    await w?.kill();
  });

  it('exist only when init declared them', async () => {
    assert.deepEqual(valueOf(await w.run(expr('["x" in host, "db" in host, Object.keys(host)]'))), [false, false, ['emit']]);
    const error = errorOf(await w.run(expr('host.x({ a: 1 })')), CODES.SCRIPT_ERROR);
    assert.equal(error.data.name, 'TypeError');
    assert.equal(error.data.message, 'host.x is not a callback (callbacks: none are registered)');
    assert.equal(w.callbackRequests.length, 0);
  });
});

describe('callbacks as an agent uses them', () => {
  let w;
  before(async () => {
    w = await Worker.start({
      callbacks: [...CALLBACKS, { name: 'send', path: ['send'], approval: true }],
      onCallback: async (method, params, message) => {
        if (method === 'x') throw { code: 4242, message: 'the host said no' };
        if (method === 'send') {
          if (params.args?.deny) throw { code: CODES.APPROVAL_DENIED, message: '`send` was not approved: not now' };
          // As the host does while an approver decides: the run's clock stops.
          w.notify('hold', { run: params.run });
          await sleep(params.args?.wait ?? 0);
          w.notify('release', { run: params.run });
          return { sent: true, site: params.site };
        }
        return null;
      },
    });
  });
  after(async () => {
    await w?.kill();
  });

  it('lets a script detect an optional tool: a missing name reads as undefined', async () => {
    const code = '[typeof host.nope, "nope" in host, host.nope?.({}) ?? "skipped", typeof host.db.nope, host.db.nope?.() ?? "skipped"]';
    assert.deepEqual(valueOf(await w.run(expr(code))), ['undefined', false, 'skipped', 'undefined', 'skipped']);
  });

  it('reports a failed call at the line and column of the call in the script', async () => {
    const code = 'const a = 1;\nconst b = 2;\n  await host.x({ fail: true });\nexport default a + b;';
    const error = errorOf(await w.run(mod(code)), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'Error: the host said no');
    assert.deepEqual([error.data.line, error.data.column], [3, 14]);
    assert.match(error.data.stack, /^Error: the host said no\n\s+at script\.mjs:3:14/);
  });

  it('sends where a call that needs approval was made', async () => {
    const out = valueOf(await w.run(mod('\nexport default await   host.send({});')));
    assert.deepEqual(out, { sent: true, site: { file: 'script.mjs', line: 2, column: 29 } });
  });

  it('stops the run\'s clock while a call waits for approval', async () => {
    const code = 'export default await host.send({ wait: 600 });';
    assert.equal(valueOf(await w.run(mod(code, { timeout: 300 }))).sent, true);
    // The same wait without a hold is past the timeout.
    errorOf(await w.run(mod('export default await new Promise((r) => setTimeout(r, 600));', { timeout: 300 })), CODES.TIMEOUT);
  });

  it('rejects a denied call with code APPROVAL_DENIED and the reason', async () => {
    const code = 'try { await host.send({ deny: true }); } catch (e) { globalThis.caught = [e instanceof Error, e.code, e.message]; }\nexport default caught;';
    assert.deepEqual(valueOf(await w.run(mod(code))), [true, 'APPROVAL_DENIED', '`send` was not approved: not now']);
  });
});
