// What lets the host route around a worker stuck in synchronous code: start
// deadlines the worker keeps, and heartbeats while runs wait.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf } from './harness.mjs';
import { nowMicros } from '../src/01_clock.mjs';

describe('start deadlines', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('refuses a run read after its start deadline, without running it', async () => {
    const late = expr('globalThis.sideEffect = 1; 2', { startBy: nowMicros() - 1000 });
    const error = errorOf(await w.run(late), CODES.NOT_STARTED);
    assert.match(error.message, /not started/);
    // It did not run: a run with a deadline still ahead does.
    assert.equal(valueOf(await w.run(expr('3', { startBy: nowMicros() + 10_000_000 }))), 3);
  });

  it('refuses a call read after its start deadline', async () => {
    await w.request('module.load', { handle: 7, name: 'm.mjs', key: 'blocking-m', code: 'export function f() { return 1; }', timeout: 1000 });
    const late = await w.request('call', { handle: 7, export: 'f', args: '[]', timeout: 1000, startBy: nowMicros() - 1 });
    errorOf(late, CODES.NOT_STARTED);
    assert.equal(valueOf(await w.request('call', { handle: 7, export: 'f', args: '[]', timeout: 1000 })), 1);
  });

  it('reads the host\'s clock', () => {
    assert.ok(Math.abs(w.initResult.clock - nowMicros()) < 10_000_000, JSON.stringify(w.initResult));
  });
});

describe('heartbeats', () => {
  let w;
  before(async () => {
    w = await Worker.start({ init: { heartbeatMs: 10 } });
  });
  after(async () => {
    await w?.kill();
  });

  const beats = () => w.received.filter((m) => m.method === 'beat').length;

  it('go out while a run waits, and stop when none is left', async () => {
    const before = beats();
    assert.equal(valueOf(await w.run(mod('await new Promise((r) => setTimeout(r, 120));\nexport default 1;'))), 1);
    const during = beats() - before;
    assert.ok(during >= 3, `${during} beats in 120 ms at one per 10 ms of silence`);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(beats() - before - during <= 1, 'beats went on with no run left');
  });

  it('are not sent for a run that answers at once', async () => {
    const before = beats();
    for (let i = 0; i < 5; i++) assert.equal(valueOf(await w.run(expr(String(i)))), i);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(beats(), before);
  });
});
