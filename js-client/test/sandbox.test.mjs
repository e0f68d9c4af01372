// What a script's realm has and has not: no Node globals, no code generation
// in the worker's realm, eval in its own, and the web APIs.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Worker, CODES, expr, mod, valueOf, errorOf } from './harness.mjs';

describe('sandbox', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('keeps instanceof true for what the worker realm hands a script, as in plain Node', async () => {
    const code = `import assert from 'node:assert';
import { once, EventEmitter } from 'node:events';
import zlib from 'node:zlib';
const out = [];
try { new URL('not a url'); } catch (e) { out.push(e instanceof TypeError, e instanceof Error); }
try { assert.equal(1, 2); } catch (e) { out.push(e instanceof Error); }
const emitter = new EventEmitter();
const waiting = once(emitter, 'go');
out.push(waiting instanceof Promise);
emitter.emit('go', 1);
const got = await waiting;
out.push(got instanceof Array, zlib.gzipSync('x') instanceof Uint8Array, signal instanceof Object);
export default out;`;
    const expected = [true, true, true, true, true, true, true];
    assert.deepEqual(valueOf(await w.run(mod(code))), expected);
  });

  it('has a process and a Buffer of its own, and no require, module or __dirname', async () => {
    const code = '[typeof process, typeof require, typeof Buffer, typeof module, typeof __dirname, global === globalThis, typeof process.binding, typeof process.dlopen, typeof process.kill, typeof process.chdir, process.mainModule]';
    assert.deepEqual(valueOf(await w.run(expr(code))), ['object', 'undefined', 'function', 'undefined', 'undefined', true, 'undefined', 'undefined', 'undefined', 'undefined', null]);
    assert.deepEqual(valueOf(await w.run(mod('import p from "node:process";\nexport default [p === process, typeof require, typeof import.meta, process.env.NODE_ENV];'))),
      [true, 'undefined', 'object', 'production']);
  });

  it('throws on this.constructor.constructor("return process")(): no code generation in the worker\'s realm', async () => {
    const code = 'try { const p = this.constructor.constructor("return process")(); "escaped: " + typeof p; }\n'
      + 'catch (e) { [e.name, e.message]; }';
    const [name, message] = valueOf(await w.run(expr(code)));
    assert.equal(name, 'EvalError');
    assert.match(message, /Code generation from strings disallowed/);
  });

  it('throws the same way through a lent web global and a host promise', async () => {
    const code = 'const out = [];\n'
      + 'for (const f of [() => URL.constructor("return process")(), () => host.emit.constructor("return 1")(), () => signal?.constructor.constructor("return 1")(), () => fetch.constructor("return 1")()]) {\n'
      + '  try { out.push("ran: " + f()); } catch (e) { out.push(e.name); }\n'
      + '}\n'
      + 'out';
    const out = valueOf(await w.run(expr(code)));
    // URL and the signal belong to the worker's realm: code generation is off there.
    assert.equal(out[0], 'EvalError');
    assert.equal(out[2], 'EvalError');
    // host.emit and fetch (an async function) are made inside the script's
    // realm, where Function works but sees only the script's own world.
    assert.deepEqual([out[1], out[3]], ['ran: 1', 'ran: [object Promise]']);
  });

  it('builds console and host inside the script\'s own realm', async () => {
    const code = '[console.log.constructor === Function, host.emit.constructor === Function, Object.getPrototypeOf(console) === Object.prototype]';
    assert.deepEqual(valueOf(await w.run(expr(code))), [true, true, true]);
  });

  it('allows eval and new Function inside scripts', async () => {
    assert.deepEqual(valueOf(await w.run(expr('[eval("1+1"), new Function("return 2")(), new Function("a", "b", "return a * b")(3, 4)]'))), [2, 2, 12]);
    // What eval sees is the script's own world: its own `process`, not the worker's.
    assert.deepEqual(valueOf(await w.run(mod('export default eval("[typeof process, typeof process.binding, process === globalThis.process]");'))), ['object', 'undefined', true]);
  });

  it('has fetch, and it works on a data: URL', async () => {
    assert.equal(valueOf(await w.run(expr('fetch("data:text/plain,hello%20there").then((r) => r.text())'))), 'hello there');
  });

  it('has URL, URLSearchParams, TextEncoder and TextDecoder', async () => {
    const code = 'const u = new URL("https://example.test/a/b?q=1&r=two#h");\n'
      + '[u.hostname, u.pathname, u.searchParams.get("r"), new URLSearchParams({ x: "1 2" }).toString(),\n'
      + ' Array.from(new TextEncoder().encode("\u00e9")), new TextDecoder().decode(new Uint8Array([104, 105]))]';
    assert.deepEqual(valueOf(await w.run(expr(code))), ['example.test', '/a/b', 'two', 'x=1+2', [195, 169], 'hi']);
  });

  it('has structuredClone, AbortController, atob and btoa', async () => {
    const code = 'const o = { a: [1, { b: 2 }], d: new Date(0) };\n'
      + 'const c = structuredClone(o);\n'
      + 'const ac = new AbortController(); let heard = false;\n'
      + 'ac.signal.addEventListener("abort", () => { heard = true; }); ac.abort("why");\n'
      + '[c !== o, c.a[1] !== o.a[1], c.a[1].b, c.d.getTime(), ac.signal.aborted, ac.signal.reason, heard, btoa("hi"), atob("aGk=")]';
    assert.deepEqual(valueOf(await w.run(expr(code))), [true, true, 2, 0, true, 'why', true, 'aGk=', 'hi']);
  });

  it('has crypto.randomUUID and crypto.getRandomValues', async () => {
    const [a, b, bytes] = valueOf(await w.run(expr('[crypto.randomUUID(), crypto.randomUUID(), crypto.getRandomValues(new Uint8Array(4)).length]')));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a, b);
    assert.equal(bytes, 4);
  });

  it('has queueMicrotask, running before timers', async () => {
    const code = 'new Promise((r) => { const order = [];\n'
      + '  setTimeout(() => { order.push("timeout"); r(order); }, 0);\n'
      + '  queueMicrotask(() => order.push("microtask"));\n'
      + '  order.push("sync"); })';
    assert.deepEqual(valueOf(await w.run(expr(code))), ['sync', 'microtask', 'timeout']);
  });

  it('has setTimeout/clearTimeout, setImmediate and performance.now', async () => {
    const code = 'new Promise((r) => { const out = [];\n'
      + '  const t = setTimeout(() => out.push("cleared timer ran"), 1); clearTimeout(t);\n'
      + '  setImmediate((x) => out.push(x), "immediate arg");\n'
      + '  setTimeout(() => { out.push(typeof performance.now()); r(out); }, 10); })';
    assert.deepEqual(valueOf(await w.run(expr(code))), ['immediate arg', 'number']);
  });

  it('has a frozen host object with emit', async () => {
    const code = '"use strict";\nlet threw = false;\ntry { host.extra = 1; } catch { threw = true; }\n[Object.isFrozen(host), threw, typeof host.emit, Object.keys(host)]';
    assert.deepEqual(valueOf(await w.run(expr(code))), [true, true, 'function', ['emit']]);
  });

  it('gives each run a signal that is not aborted while it runs', async () => {
    assert.deepEqual(valueOf(await w.run(expr('[typeof signal, signal.aborted]'))), ['object', false]);
  });
});

describe('sandbox settings from init', () => {
  let w;
  before(async () => {
    w = await Worker.start({ init: { sandbox: { fetchAllow: ['https://*.example.test/v1/'], maxConsoleBytes: 2000 } } });
  });
  after(async () => {
    await w?.kill();
  });

  it('refuses fetch outside the allowlist, naming the URL and the setting', async () => {
    for (const url of ['http://127.0.0.1:9/', 'https://api.example.test/v2/x', 'https://example.test.evil/v1/']) {
      const code = `fetch(${JSON.stringify(url)}).then(() => 'reached', (e) => e.message)`;
      const message = valueOf(await w.run(expr(code)));
      assert.match(message, /fetch refused: .* is not allowed by the sandbox \(Sandbox::allow_fetch\)/);
      assert.ok(message.includes(new URL(url).href), message);
    }
    // Uncaught, the refusal ends the run as a denial naming the setting.
    const error = errorOf(await w.run(mod('await fetch("http://127.0.0.1:9/");')), CODES.DENIED);
    assert.equal(error.data.capability, 'fetch()');
    assert.equal(error.data.setting, 'Sandbox::allow_fetch');
  });

  it('ends a run whose console output passes the limit, and throws in a logging loop', async () => {
    const response = await w.run(mod('let n = 0;\nfor (;;) { console.log("x".repeat(100)); n++; }\nexport default n;'));
    assert.equal(response.error.code, -32009);
    assert.match(response.error.message, /Sandbox::max_console_bytes/);
    assert.equal(valueOf(await w.run(expr('console.log("fine"); 1'))), 1);
  });
});

it('refuses a fetch allowlist pattern that is not a URL at init', async () => {
  const w = await Worker.start({ init: {} });
  const response = await w.request('init', { sandbox: { fetchAllow: ['not a url'] } });
  assert.equal(response.error.code, -32602);
  assert.match(response.error.message, /Sandbox::allow_fetch/);
  await w.kill();
});

/** A WebSocket server on loopback that greets every connection with one text message; counts upgrades by path. */
async function webSocketServer(greeting) {
  const upgrades = [];
  const server = http.createServer();
  server.on('upgrade', (request, socket) => {
    upgrades.push(request.url);
    const accept = createHash('sha1').update(`${request.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const payload = Buffer.from(greeting);
    socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
    socket.on('error', () => {});
    socket.on('data', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, upgrades, base: `127.0.0.1:${server.address().port}` };
}

describe('WebSocket through the fetch allowlist', () => {
  let w;
  let ws;
  before(async () => {
    ws = await webSocketServer('hello from the server');
    w = await Worker.start({ init: { sandbox: { fetchAllow: [`http://${ws.base}/ok/`] } } });
  });
  after(async () => {
    await w?.kill();
    ws?.server.close();
  });

  it('is there exactly when the engine has it', async () => {
    assert.equal(valueOf(await w.run(expr('typeof WebSocket'))), typeof globalThis.WebSocket);
  });

  it('connects to an allowed URL, ws: checked as http:', { skip: typeof globalThis.WebSocket !== 'function' }, async () => {
    const code = `const socket = new WebSocket("ws://${ws.base}/ok/feed");
const message = await new Promise((resolve, reject) => {
  socket.onmessage = (event) => resolve(event.data);
  socket.onerror = () => reject(new Error('the socket failed'));
});
socket.close();
export default [message, socket instanceof WebSocket];`;
    assert.deepEqual(valueOf(await w.run(mod(code))), ['hello from the server', true]);
  });

  it('refuses a URL outside the allowlist before connecting, naming the setting', { skip: typeof globalThis.WebSocket !== 'function' }, async () => {
    const before = ws.upgrades.length;
    const error = errorOf(await w.run(mod(`new WebSocket("ws://${ws.base}/secret");`)), CODES.DENIED);
    assert.equal(error.data.capability, 'WebSocket');
    assert.equal(error.data.setting, 'Sandbox::allow_fetch');
    assert.match(error.message, /WebSocket refused: ws:\/\/127\.0\.0\.1:\d+\/secret is not allowed/);
    assert.equal(ws.upgrades.length, before);
  });
});
