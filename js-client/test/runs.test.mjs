// `run`: expressions, modules, globals, and what results JSON can and cannot carry.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf } from './harness.mjs';

describe('run: values', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('evaluates an expression and answers {value}', async () => {
    const response = await w.run(expr('1 + 2'));
    assert.deepEqual(response.result, 3);
  });

  it('answers with the completion value of the last statement', async () => {
    assert.deepEqual(valueOf(await w.run(expr('const a = [1, 2, 3];\nlet sum = 0;\nfor (const x of a) sum += x;\n({ sum, list: a.map(String), nested: { ok: true, none: null } })'))),
      { sum: 6, list: ['1', '2', '3'], nested: { ok: true, none: null } });
  });

  it('awaits a promise the expression evaluates to', async () => {
    assert.equal(valueOf(await w.run(expr('Promise.resolve(41).then((x) => x + 1)'))), 42);
    const late = '(async () => { await new Promise((r) => setTimeout(r, 20)); return "late"; })()';
    assert.equal(valueOf(await w.run(expr(late))), 'late');
  });

  it('runs a module with top-level await and answers its default export', async () => {
    const code = 'const v = await new Promise((r) => setTimeout(() => r(21), 10));\n'
      + 'export const other = 1;\n'
      + 'export default { doubled: v * 2, kind: typeof v };\n';
    assert.deepEqual(valueOf(await w.run(mod(code))), { doubled: 42, kind: 'number' });
  });

  it('answers null for a module without a default export', async () => {
    assert.equal(valueOf(await w.run(mod('export const x = 1;'))), null);
  });

  it('answers null for undefined, and for a promise of undefined', async () => {
    assert.deepEqual((await w.run(expr('undefined'))).result, null);
    assert.deepEqual((await w.run(expr('Promise.resolve()'))).result, null);
    assert.deepEqual((await w.run(expr('void 0'))).result, null);
  });

  it('passes strings, unicode and special numbers the way JSON does', async () => {
    assert.equal(valueOf(await w.run(expr('"line\\nbreak \\"quoted\\" \u00e9\u4e2d\ud83d\ude00"'))), 'line\nbreak "quoted" \u00e9\u4e2d\ud83d\ude00');
    assert.deepEqual(valueOf(await w.run(expr('[NaN, Infinity, -0, 1e21]'))), [null, null, 0, 1e21]);
    assert.equal(valueOf(await w.run(expr('new Date(0)'))), '1970-01-01T00:00:00.000Z');
  });

  it('gives globals as plain objects of the script\'s own realm', async () => {
    const globals = JSON.stringify({ input: { list: [1, 2, 3], nested: { a: 'b' } }, limit: 2, name: 'n' });
    const code = '({\n'
      + '  isObject: input.constructor === Object,\n'
      + '  protoIsRealm: Object.getPrototypeOf(input) === Object.prototype,\n'
      + '  isArray: Array.isArray(input.list),\n'
      + '  instanceOfArray: input.list instanceof Array,\n'
      + '  nestedIsObject: input.nested.constructor === Object,\n'
      + '  sliced: input.list.slice(0, limit),\n'
      + '  name,\n'
      + '})';
    assert.deepEqual(valueOf(await w.run(expr(code, { globals }))), {
      isObject: true,
      protoIsRealm: true,
      isArray: true,
      instanceOfArray: true,
      nestedIsObject: true,
      sliced: [1, 2],
      name: 'n',
    });
  });

  it('gives globals to modules too', async () => {
    const globals = JSON.stringify({ input: { n: 20 } });
    assert.equal(valueOf(await w.run(mod('export default input.n + 1 + (input.constructor === Object ? 1 : 0);', { globals }))), 22);
  });

  it('rejects a BigInt result with -32006', async () => {
    const error = errorOf(await w.run(expr('10n')), CODES.NON_JSON);
    assert.match(error.message, /BigInt/);
    const nested = errorOf(await w.run(expr('({ a: [1, 2n] })')), CODES.NON_JSON);
    assert.match(nested.message, /value\.a\[1\] is a BigInt/);
  });

  it('rejects a function inside an object with -32006 naming its path', async () => {
    const error = errorOf(await w.run(expr('({ a: { b: () => 1 } })')), CODES.NON_JSON);
    assert.match(error.message, /value\.a\.b is a function/);
    assert.match(error.message, /JSON cannot carry/);
    const odd = errorOf(await w.run(expr('({ "odd key": [0, function f() {}] })')), CODES.NON_JSON);
    assert.match(odd.message, /value\["odd key"\]\[1\] is a function/);
  });

  it('rejects a top-level function or symbol with -32006', async () => {
    assert.match(errorOf(await w.run(expr('(function named() {})')), CODES.NON_JSON).message, /value is a function/);
    assert.match(errorOf(await w.run(expr('Symbol("s")')), CODES.NON_JSON).message, /value is a symbol/);
  });

  it('rejects a cycle with -32006', async () => {
    const error = errorOf(await w.run(expr('const o = { a: 1 }; o.self = o; o')), CODES.NON_JSON);
    assert.match(error.message, /cycle/);
  });

  it('rejects a Map, a Set and a nested Promise with -32006 and a hint', async () => {
    assert.match(errorOf(await w.run(expr('new Map([[1, 2]])')), CODES.NON_JSON).message, /value is a Map \(convert it with Object\.fromEntries\)/);
    assert.match(errorOf(await w.run(expr('({ s: new Set([1]) })')), CODES.NON_JSON).message, /value\.s is a Set/);
    assert.match(errorOf(await w.run(expr('({ p: Promise.resolve(1) })')), CODES.NON_JSON).message, /value\.p is a Promise \(await it first\)/);
  });

  it('rejects a module default export JSON cannot carry with -32006', async () => {
    assert.match(errorOf(await w.run(mod('export default { m: new Map() };')), CODES.NON_JSON).message, /value\.m is a Map/);
  });

  it('keeps working after all of those', async () => {
    assert.equal(valueOf(await w.run(expr('"still fine"'))), 'still fine');
  });
});

describe('run: maxMessageBytes', () => {
  let w;
  before(async () => {
    w = await Worker.start({ init: { maxMessageBytes: 1000 } });
  });
  after(async () => {
    await w?.kill();
  });

  it('rejects a result over the limit with -32009 and keeps smaller ones', async () => {
    const error = errorOf(await w.run(expr('"x".repeat(2000)')), CODES.LIMIT);
    assert.match(error.message, /over the limit of 1000/);
    assert.equal(valueOf(await w.run(expr('"x".repeat(500)'))), 'x'.repeat(500));
  });

  it('rejects event data over the limit with -32009', async () => {
    const error = errorOf(await w.run(expr('host.emit("big", "z".repeat(5000)); 1')), CODES.LIMIT);
    assert.match(error.message, /event data/);
    assert.equal(w.events.filter((e) => e.name === 'big').length, 0);
  });

  it('counts the limit in UTF-8 bytes, not UTF-16 code units',
    async () => {
      const error = errorOf(await w.run(expr('"\u4e2d".repeat(900)')), CODES.LIMIT);
      assert.match(error.message, /over the limit of 1000/);
    });

  it('never sends a log line the host would reject (limit + 64 KiB envelope)',
    async () => {
      const response = await w.run(expr('console.log("y".repeat(100000)); 1'));
      assert.equal(valueOf(response), 1);
      const id = response.id;
      for (const message of w.received) {
        if (message.method === 'log' && message.params.run === id) {
          assert.ok(Buffer.byteLength(JSON.stringify(message)) <= 1000 + 64 * 1024, 'log line too long');
        }
      }
    });
});
