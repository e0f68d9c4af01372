// `log` and `event` notifications: levels, rendering, order, run tagging, and
// timers ending with a plain run.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf, sleep } from './harness.mjs';

describe('console and host.emit', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('sends one log notification per call, at each level, tagged with the run id', async () => {
    const code = 'console.log("at log"); console.info("at info"); console.warn("at warn");\n'
      + 'console.error("at error"); console.debug("at debug"); console.trace("at trace"); "done"';
    const response = await w.run(expr(code));
    assert.equal(valueOf(response), 'done');
    const logs = w.logsFor(response.id);
    assert.deepEqual(logs.map((l) => [l.level, l.args]), [
      ['log', ['at log']],
      ['info', ['at info']],
      ['warn', ['at warn']],
      ['error', ['at error']],
      ['debug', ['at debug']],
      ['trace', ['at trace']],
    ]);
    for (const log of logs) assert.equal(log.run, response.id);
  });

  it('sends strings, numbers, booleans and null as JSON, objects as JSON values', async () => {
    const response = await w.run(expr('console.log("s", 1, 2.5, -3, true, null, { b: [2, { c: "d" }] }, [1, "two"]); 0'));
    const [log] = w.logsFor(response.id);
    assert.deepEqual(log.args, ['s', 1, 2.5, -3, true, null, { b: [2, { c: 'd' }] }, [1, 'two']]);
  });

  it('renders functions, errors, undefined, NaN and non-JSON objects as strings', async () => {
    const code = 'function named() {}\n'
      + 'console.log(() => 3, named, new TypeError("bad thing"), undefined, NaN, Infinity, 5n, new Map([["k", 1]]), Symbol("sym")); 0';
    const response = await w.run(expr(code));
    const [log] = w.logsFor(response.id);
    const [arrow, fn, error, undef, nan, inf, big, map, sym] = log.args;
    assert.equal(arrow, '[Function (anonymous)]');
    assert.equal(fn, '[Function: named]');
    assert.equal(typeof error, 'string');
    assert.match(error, /^TypeError: bad thing\n\s+at script\.js:2:/);
    assert.equal(undef, 'undefined');
    assert.equal(nan, 'NaN');
    assert.equal(inf, 'Infinity');
    assert.equal(big, '5n');
    assert.equal(map, "Map(1) { 'k' => 1 }");
    assert.equal(sym, 'Symbol(sym)');
  });

  it('renders an object holding a function or a cycle as a string instead of dropping it', async () => {
    const response = await w.run(expr('const o = { f() {} }; const c = { n: 1 }; c.c = c; console.log(o, c); 0'));
    const [log] = w.logsFor(response.id);
    assert.equal(typeof log.args[0], 'string');
    assert.match(log.args[0], /f: \[Function: f\]/);
    assert.equal(typeof log.args[1], 'string');
    assert.match(log.args[1], /Circular/);
  });

  it('sends the logs before the response', async () => {
    const code = '(async () => { console.log("first"); await new Promise((r) => setTimeout(r, 10)); console.warn("second"); return 1; })()';
    const response = await w.run(expr(code));
    const responseAt = w.received.indexOf(response);
    const logAt = w.received
      .map((m, i) => (m.method === 'log' && m.params.run === response.id ? i : -1))
      .filter((i) => i >= 0);
    assert.equal(logAt.length, 2);
    assert.ok(logAt.every((i) => i < responseAt), `logs at ${logAt}, response at ${responseAt}`);
  });

  it('keeps the console helpers: count, assert, time/timeEnd, dir, table', async () => {
    const code = 'console.count(); console.count(); console.count("x"); console.assert(1 === 2, "not equal", 3);\n'
      + 'console.assert(true, "never"); console.time("t"); console.timeEnd("t"); console.dir({ d: 1 }); console.table([1]); 0';
    const response = await w.run(expr(code));
    const logs = w.logsFor(response.id).map((l) => [l.level, l.args]);
    assert.deepEqual(logs.slice(0, 4), [
      ['info', ['default: 1']],
      ['info', ['default: 2']],
      ['info', ['x: 1']],
      ['error', ['Assertion failed', 'not equal', 3]],
    ]);
    assert.equal(logs[4][0], 'info');
    assert.match(logs[4][1][0], /^t: \d+\.\d{3}ms$/);
    assert.deepEqual(logs.slice(5), [['log', [{ d: 1 }]], ['log', [[1]]]]);
  });

  it('tags logs with the right run id when two runs interleave', async () => {
    const script = (tag, offset) => expr(
      `(async () => {\n`
      + `  await new Promise((r) => setTimeout(r, ${offset}));\n`
      + `  for (let i = 0; i < 4; i++) {\n`
      + `    console.log("${tag}", i);\n`
      + `    await new Promise((r) => setTimeout(r, 40));\n`
      + `  }\n`
      + `  return "${tag}";\n`
      + `})()`);
    const a = w.requestWithId('run', script('A', 0));
    const b = w.requestWithId('run', script('B', 20));
    const [ra, rb] = await Promise.all([a.response, b.response]);
    assert.equal(valueOf(ra), 'A');
    assert.equal(valueOf(rb), 'B');
    const logsA = w.logsFor(a.id);
    const logsB = w.logsFor(b.id);
    assert.deepEqual(logsA.map((l) => l.args), [['A', 0], ['A', 1], ['A', 2], ['A', 3]]);
    assert.deepEqual(logsB.map((l) => l.args), [['B', 0], ['B', 1], ['B', 2], ['B', 3]]);
    // They really did interleave: B's first log came before A's last.
    assert.ok(w.logs.indexOf(logsB[0]) < w.logs.indexOf(logsA[3]));
  });

  it('tags logs from a module run and from a timer callback with the run id', async () => {
    const response = await w.run(mod('await new Promise((r) => setTimeout(() => { console.info("from timer"); r(); }, 5));\nexport default 1;'));
    assert.deepEqual(w.logsFor(response.id).map((l) => l.args), [['from timer']]);
  });

  it('sends host.emit events with name, data and run id, before the response', async () => {
    const response = await w.run(expr('host.emit("progress", { pct: 50 }); host.emit("done", null); host.emit("list", [1, "a"]); "emitted"'));
    assert.equal(valueOf(response), 'emitted');
    assert.deepEqual(w.eventsFor(response.id), [
      { run: response.id, name: 'progress', data: { pct: 50 } },
      { run: response.id, name: 'done', data: null },
      { run: response.id, name: 'list', data: [1, 'a'] },
    ]);
    const responseAt = w.received.indexOf(response);
    const eventAt = w.received.findIndex((m) => m.method === 'event' && m.params.run === response.id);
    assert.ok(eventAt >= 0 && eventAt < responseAt);
  });

  it('rejects host.emit with a non-string name or data JSON cannot carry', async () => {
    const named = await w.run(expr('try { host.emit(1, {}); "no" } catch (e) { e.name + ": " + e.message }'));
    assert.equal(valueOf(named), 'TypeError: host.emit(name, data): name must be a string');
    const error = errorOf(await w.run(expr('host.emit("bad", { f() {} }); 1')), CODES.NON_JSON);
    assert.match(error.message, /event data\.f is a function/);
    assert.equal(w.events.filter((e) => e.name === 'bad').length, 0);
  });

  it('clears the timers of a plain run when it ends: an endless interval logs nothing after the response', async () => {
    const code = 'let n = 0;\n'
      + 'setInterval(() => console.log("tick", n++), 5);\n'
      + 'setTimeout(() => host.emit("late", 1), 60);\n'
      + 'new Promise((r) => setTimeout(() => r(n), 40))';
    const response = await w.run(expr(code));
    const ticks = valueOf(response);
    assert.ok(ticks >= 1, `only ${ticks} ticks before the end`);
    const atResponse = w.logsFor(response.id).length;
    assert.equal(atResponse, ticks);
    await sleep(150);
    assert.equal(w.logsFor(response.id).length, atResponse, 'the interval kept running after the run ended');
    assert.equal(w.eventsFor(response.id).length, 0, 'a timeout fired after the run ended');
  });

  it('logs an exception thrown by a timer callback instead of crashing', async () => {
    const code = 'new Promise((r) => { setTimeout(() => { throw new Error("in timer"); }, 1); setTimeout(() => r("survived"), 20); })';
    const response = await w.run(expr(code));
    assert.equal(valueOf(response), 'survived');
    const errors = w.logsFor(response.id).filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].args[0], 'Uncaught exception in timer callback:');
    assert.match(errors[0].args[1], /^Error: in timer/);
  });
});
