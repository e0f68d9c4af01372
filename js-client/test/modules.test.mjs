// Imports of registered in-memory modules, refused imports, and
// `module.load` + `call` + `module.unload`.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf, uniqueKey } from './harness.mjs';

const MODULES = {
  'math': { code: 'export const add = (a, b) => a + b;\nexport default function square(x) { return x * x; }\n', key: 'math-v1' },
  'greet': { code: 'import { add } from "math";\nexport function greet(name) { return `hello ${name} ${add(1, 2)}`; }\n', key: 'greet-v1' },
  'counter': { code: 'let n = 0;\nexport function next() { return ++n; }\n', key: 'counter-v1' },
};

describe('imports', () => {
  let w;
  before(async () => {
    w = await Worker.start({ modules: MODULES });
  });
  after(async () => {
    await w?.kill();
  });

  it('imports a registered module by name in a module run', async () => {
    const code = 'import square, { add } from "math";\nexport default [add(2, 3), square(4)];';
    assert.deepEqual(valueOf(await w.run(mod(code))), [5, 16]);
  });

  it('imports a registered module that itself imports another', async () => {
    assert.equal(valueOf(await w.run(mod('import { greet } from "greet";\nexport default greet("you");'))), 'hello you 3');
  });

  it('imports a registered module dynamically from an expression', async () => {
    assert.equal(valueOf(await w.run(expr('import("math").then((m) => m.add(20, 22))'))), 42);
  });

  it('gives each plain run its own instance of an imported module', async () => {
    const code = 'import { next } from "counter";\nnext(); next();\nexport default next();';
    assert.equal(valueOf(await w.run(mod(code))), 3);
    assert.equal(valueOf(await w.run(mod(code))), 3);
  });

  it('shares one instance of an imported module within a session', async () => {
    await w.request('session.open', { session: 1 });
    try {
      assert.equal(valueOf(await w.run(mod('import { next } from "counter";\nexport default next();', { session: 1 }))), 1);
      assert.equal(valueOf(await w.run(mod('import { next } from "counter";\nexport default next();', { session: 1 }))), 2);
      assert.equal(valueOf(await w.run(expr('import("counter").then((m) => m.next())', { session: 1 }))), 3);
    } finally {
      w.notify('session.close', { session: 1 });
    }
  });

  it('imports node:fs, and refuses a path outside the grants when used, with -32013 naming the setting', async () => {
    assert.equal(valueOf(await w.run(mod('import fs from "node:fs";\nexport default typeof fs.readFileSync;'))), 'function');
    const error = errorOf(await w.run(mod('import fs from "node:fs";\nexport default fs.readFileSync("/etc/passwd", "utf8");')), CODES.DENIED);
    assert.equal(error.data.capability, 'node:fs.readFileSync()');
    assert.equal(error.data.setting, 'Sandbox::allow_read');
    assert.match(error.message, /node:fs\.readFileSync\(\) is not allowed: \/etc\/passwd is outside what scripts may read/);
  });

  it('imports the bare built-in name fs the same way', async () => {
    const code = 'import { readFileSync } from "fs";\ntry { readFileSync("/etc/hostname"); } catch (e) { globalThis.caught = [e instanceof Error, e.code]; }\nexport default caught;';
    assert.deepEqual(valueOf(await w.run(mod(code))), [true, 'ERR_OUTRIGGER_DENIED']);
  });

  it('refuses an unknown name with -32010 listing the registered modules', async () => {
    const error = errorOf(await w.run(mod('import x from "left-pad";\nexport default x;')), CODES.IMPORT);
    assert.equal(error.data.specifier, 'left-pad');
    assert.equal(error.data.referrer, 'script.mjs');
    assert.match(error.data.reason, /no module with that name is registered/);
    assert.match(error.data.reason, /registered: math, greet, counter/);
  });

  it('imports a capability built-in dynamically, and refuses it when used', async () => {
    const code = 'import("node:child_process").then((cp) => { try { cp.spawn("ls"); return "spawned"; } catch (e) { return [e.code, e.message]; } })';
    const [code_, message] = valueOf(await w.run(expr(code)));
    assert.equal(code_, 'ERR_OUTRIGGER_DENIED');
    assert.match(message, /node:child_process\.spawn\(\) is not available to scripts \(PoolBuilder::allow_builtin\("node:child_process"\)\)/);
  });

  it('lets a script catch a refused dynamic import', async () => {
    const code = 'import("node:no-such-module").then(() => "imported", (e) => "caught: " + e.message)';
    assert.match(valueOf(await w.run(expr(code))), /^caught: cannot import "node:no-such-module"/);
  });

  it('says none are registered when init registered none', async () => {
    const bare = await Worker.start();
    try {
      const error = errorOf(await bare.run(mod('import x from "math";\nexport default x;')), CODES.IMPORT);
      assert.match(error.data.reason, /\(none are registered\)/);
    } finally {
      await bare.kill();
    }
  });
});

describe('module.load and call', () => {
  let w;
  before(async () => {
    w = await Worker.start({ modules: MODULES });
  });
  after(async () => {
    await w?.kill();
  });

  const APP = 'import { add } from "math";\n'
    + 'let total = 0;\n'
    + 'export function addTo(x) { total = add(total, x); return total; }\n'
    + 'export async function later(x) { await new Promise((r) => setTimeout(r, 5)); return { x, total }; }\n'
    + 'export function shape(list, obj) { return [Array.isArray(list), list instanceof Array, obj.constructor === Object]; }\n'
    + 'export function fail() { throw new TypeError("from call"); }\n'
    + 'export function noisy() { console.log("in call", total); host.emit("called", total); return null; }\n'
    + 'export const version = 3;\n';

  it('loads a module and lists its exports', async () => {
    const answer = await w.request('module.load', { handle: 1, name: 'app.mjs', key: 'app-v1', code: APP, timeout: 2000 });
    assert.deepEqual(answer.result, { exports: ['addTo', 'fail', 'later', 'noisy', 'shape', 'version'] });
  });

  it('calls an export with JSON args and keeps its state between calls', async () => {
    assert.equal(valueOf(await w.request('call', { handle: 1, export: 'addTo', args: '[5]', timeout: 1000 })), 5);
    assert.equal(valueOf(await w.request('call', { handle: 1, export: 'addTo', args: '[10]', timeout: 1000 })), 15);
    assert.deepEqual(valueOf(await w.request('call', { handle: 1, export: 'later', args: '["x"]', timeout: 1000 })), { x: 'x', total: 15 });
  });

  it('gives call args as values of the module\'s realm', async () => {
    assert.deepEqual(valueOf(await w.request('call', { handle: 1, export: 'shape', args: '[[1], {"a": 1}]', timeout: 1000 })), [true, true, true]);
  });

  it('reports an export that throws as a script error', async () => {
    const error = errorOf(await w.request('call', { handle: 1, export: 'fail', args: '[]', timeout: 1000 }), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'TypeError: from call');
    assert.equal(error.data.line, 6);
  });

  it('tags the logs and events of a call with the call\'s id', async () => {
    const answer = await w.request('call', { handle: 1, export: 'noisy', args: '[]', timeout: 1000 });
    assert.equal(valueOf(answer), null);
    assert.deepEqual(w.logsFor(answer.id).map((l) => l.args), [['in call', 15]]);
    assert.deepEqual(w.eventsFor(answer.id), [{ run: answer.id, name: 'called', data: 15 }]);
  });

  it('answers an unknown export with -32008 listing the exported functions', async () => {
    const error = errorOf(await w.request('call', { handle: 1, export: 'nope', args: '[]', timeout: 1000 }), CODES.NOT_FOUND);
    assert.equal(error.message, 'module "app.mjs" has no exported function "nope" (exported functions: addTo, fail, later, noisy, shape)');
    const notFn = errorOf(await w.request('call', { handle: 1, export: 'version', args: '[]', timeout: 1000 }), CODES.NOT_FOUND);
    assert.match(notFn.message, /no exported function "version"/);
  });

  it('answers a call on an unknown handle with -32008', async () => {
    const error = errorOf(await w.request('call', { handle: 999, export: 'addTo', args: '[1]', timeout: 1000 }), CODES.NOT_FOUND);
    assert.match(error.message, /module 999 is not loaded/);
  });

  it('loads a second instance from the cached key without code, with its own state', async () => {
    const answer = await w.request('module.load', { handle: 2, name: 'app.mjs', key: 'app-v1', timeout: 2000 });
    assert.deepEqual(answer.result.exports.length, 6);
    assert.equal(valueOf(await w.request('call', { handle: 2, export: 'addTo', args: '[1]', timeout: 1000 })), 1);
    assert.equal(valueOf(await w.request('call', { handle: 1, export: 'addTo', args: '[1]', timeout: 1000 })), 16);
  });

  it('answers module.load of an unknown key without code with -32007', async () => {
    errorOf(await w.request('module.load', { handle: 3, name: 'x.mjs', key: uniqueKey('nope'), timeout: 1000 }), CODES.UNKNOWN_SCRIPT);
  });

  it('reports a module.load whose import is refused with -32010', async () => {
    const error = errorOf(await w.request('module.load', { handle: 4, name: 'bad.mjs', key: uniqueKey(), code: 'import "node:no-such-module";\nexport const a = 1;', timeout: 1000 }), CODES.IMPORT);
    assert.equal(error.data.referrer, 'bad.mjs');
    errorOf(await w.request('call', { handle: 4, export: 'a', args: '[]', timeout: 1000 }), CODES.NOT_FOUND);
  });

  it('forgets a module after module.unload', async () => {
    w.notify('module.unload', { handle: 2 });
    errorOf(await w.request('call', { handle: 2, export: 'addTo', args: '[1]', timeout: 1000 }), CODES.NOT_FOUND);
    assert.equal(valueOf(await w.request('call', { handle: 1, export: 'addTo', args: '[0]', timeout: 1000 })), 16);
  });

  it('loads a module into a session, sharing its globals, and drops it on session.close', async () => {
    await w.request('session.open', { session: 9 });
    await w.run(expr('globalThis.base = 100', { session: 9 }));
    const loaded = await w.request('module.load', { handle: 5, name: 's.mjs', key: uniqueKey(), code: 'export function get() { return base + 1; }', timeout: 1000, session: 9 });
    assert.deepEqual(loaded.result, { exports: ['get'] });
    assert.equal(valueOf(await w.request('call', { handle: 5, export: 'get', args: '[]', timeout: 1000 })), 101);
    w.notify('session.close', { session: 9 });
    errorOf(await w.request('call', { handle: 5, export: 'get', args: '[]', timeout: 1000 }), CODES.NOT_FOUND);
  });
});
