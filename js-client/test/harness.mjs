// Test harness: starts the worker runtime the way the Rust host does and
// speaks its JSON-RPC 2.0 / NDJSON protocol over file descriptor 3.
//
// Not a test file itself; importing it starts nothing.

import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION, CODES } from '../src/00_codes.mjs';

/** Error codes of the protocol, from the runtime itself. */
export { CODES };

const SRC = new URL('../src/', import.meta.url);

/** The flags crates/host passes to node before `--input-type=module -e <program>`. */
export const NODE_FLAGS = JSON.parse(readFileSync(new URL('engine-flags.json', SRC), 'utf8')).node;

/**
 * The program a worker runs: the runtime's files as they are (their last
 * file exports `serve`, which the host's assembled program calls too), or,
 * when OUTRIGGER_WORKER_MJS names one, an assembled single-file program.
 */
function defaultSource() {
  if (process.env.OUTRIGGER_WORKER_MJS) return readFileSync(process.env.OUTRIGGER_WORKER_MJS, 'utf8');
  const main = readdirSync(SRC).filter((name) => /^\d\d_[\w-]+\.mjs$/.test(name)).sort().at(-1);
  return `import { serve } from ${JSON.stringify(new URL(main, SRC).href)}; serve();`;
}
const DEFAULT_SOURCE = defaultSource();

let keyCounter = 0;
/** A script key no other run in this test process has used. */
export function uniqueKey(prefix = 'k') {
  keyCounter += 1;
  return `${prefix}-${process.pid}-${keyCounter}-${Math.random().toString(36).slice(2)}`;
}

/** Params for an expression run. */
export function expr(code, extra = {}) {
  return { kind: 'expression', name: 'script.js', key: uniqueKey('expr'), code, globals: '{}', timeout: 5000, ...extra };
}

/** Params for a module run. */
export function mod(code, extra = {}) {
  return { kind: 'module', name: 'script.mjs', key: uniqueKey('mod'), code, globals: '{}', timeout: 5000, ...extra };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of a successful run response; fails the test on an error response. */
export function valueOf(response) {
  assert.equal(response.error, undefined, `expected a result, got error ${JSON.stringify(response.error)}`);
  assert.ok('result' in response, `no result in ${JSON.stringify(response)}`);
  return response.result;
}

/** The error object of a failed response; fails the test when the code differs. */
export function errorOf(response, code) {
  assert.equal(response.result, undefined, `expected error ${code}, got result ${JSON.stringify(response.result)}`);
  assert.ok(response.error, `no error in ${JSON.stringify(response)}`);
  if (code !== undefined) assert.equal(response.error.code, code, `unexpected error ${JSON.stringify(response.error)}`);
  return response.error;
}

/**
 * One worker process and a tiny JSON-RPC client for it.
 *
 * - `request(method, params)` resolves with the whole response message
 *   (`{jsonrpc, id, result}` or `{jsonrpc, id, error}`).
 * - `log` / `event` notifications are kept in `logs` / `events`, with
 *   `logsFor(runId)` / `eventsFor(runId)` to pick one run's.
 * - `waiting` notifications add their runs to `waiting`.
 * - Worker→host callback requests go to `onCallback(method, params, message)`;
 *   what it returns (or resolves to) is the result, what it throws is the
 *   error (`{code, message, data}` when it throws such an object).
 * - Every message received is appended to `received`, so tests can check order.
 * - `source` is the program to run (default: the runtime under test).
 */
export class Worker {
  constructor({ onCallback, source = DEFAULT_SOURCE, flags = [] } = {}) {
    this.onCallback = onCallback ?? (() => {
      throw { code: CODES.METHOD_NOT_FOUND, message: 'no callback handler in this test' };
    });
    this.nextId = 1;
    this.pending = new Map();
    this.received = [];
    this.logs = [];
    this.events = [];
    /** Runs the worker reported waiting at an await (see `park` in 18_lifecycle.mjs). */
    this.waiting = [];
    this.callbackRequests = [];
    this.orphans = []; // responses whose id matches no pending request (e.g. id null)
    this.waiters = [];
    this.stderr = '';
    this.buffer = '';

    this.child = spawn(process.execPath, [...NODE_FLAGS, ...flags, '--input-type=module', '-e', source], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    this.pid = this.child.pid;
    this.channel = this.child.stdio[3];
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
    this.channel.setEncoding('utf8');
    this.channel.on('data', (text) => this.onData(text));
    this.channel.on('error', () => {});
    this.channel.on('close', () => {
      for (const { reject, method } of this.pending.values()) {
        reject(new Error(`channel closed before the answer to ${method}; stderr: ${this.stderr}`));
      }
      this.pending.clear();
    });
  }

  /** Starts a worker and sends `init`; resolves with the worker and init's result. */
  static async start({ modules = {}, callbacks = [], onCallback, init = {}, source, flags } = {}) {
    const worker = new Worker({ onCallback, source, flags });
    const response = await worker.request('init', {
      modules,
      scriptCacheSize: 256,
      maxMessageBytes: 67108864,
      spareContexts: 2,
      callbacks,
      ...init,
    });
    assert.equal(response.error, undefined, `init failed: ${JSON.stringify(response.error)}`);
    worker.initResult = response.result;
    assert.equal(response.result.protocol, PROTOCOL_VERSION);
    assert.equal(response.result.version, process.versions.node);
    assert.equal(response.result.pid, worker.pid);
    return worker;
  }

  onData(text) {
    this.buffer += text;
    let nl;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.length === 0) continue;
      let message;
      try {
        message = JSON.parse(line);
      } catch (error) {
        message = { unparseable: line, error: String(error) };
      }
      this.onMessage(message);
    }
  }

  onMessage(message) {
    this.received.push(message);
    if (typeof message.method === 'string' && message.id !== undefined && message.id !== null) {
      this.callbackRequests.push(message);
      void this.answerCallback(message);
    } else if (message.method === 'log') {
      this.logs.push(message.params);
    } else if (message.method === 'event') {
      this.events.push(message.params);
    } else if (message.method === 'waiting') {
      this.waiting.push(...message.params.runs);
    } else if ('result' in message || 'error' in message) {
      const pending = this.pending.get(message.id);
      if (pending !== undefined) {
        this.pending.delete(message.id);
        clearTimeout(pending.timer);
        pending.resolve(message);
      } else {
        this.orphans.push(message);
      }
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate()) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        waiter.resolve();
      }
    }
  }

  async answerCallback(message) {
    let reply;
    try {
      const result = await this.onCallback(message.method, message.params, message);
      reply = { jsonrpc: '2.0', id: message.id, result: result === undefined ? null : result };
    } catch (thrown) {
      const error = thrown instanceof Error
        ? { code: CODES.INTERNAL_ERROR, message: thrown.message }
        : thrown;
      reply = { jsonrpc: '2.0', id: message.id, error };
    }
    this.sendRaw(JSON.stringify(reply));
  }

  /** Writes one line (a newline is added). */
  sendRaw(line) {
    if (!this.channel.destroyed) this.channel.write(line + '\n');
  }

  /**
   * Sends a request whose params name an attachment, then the attachment line
   * (`writeAttachment` delays or splits its write, as a socket may).
   */
  requestWithAttachment(method, params, attachmentLine, { writeAttachment } = {}) {
    const { id, response } = this.requestWithId(method, params, { send: false });
    this.sendRaw(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    if (writeAttachment) writeAttachment(attachmentLine + '\n');
    else this.sendRaw(attachmentLine);
    return response;
  }

  /** Sends a request; resolves with the response message, rejects after `timeoutMs`. */
  request(method, params, { timeoutMs = 8000, send = true } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${method} #${id} within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, method });
      if (send) this.sendRaw(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Like `request`, but also returns the id it used (for `cancel`). */
  requestWithId(method, params, options) {
    const id = this.nextId;
    return { id, response: this.request(method, params, options) };
  }

  notify(method, params) {
    this.sendRaw(JSON.stringify({ jsonrpc: '2.0', method, params }));
  }

  run(params, options) {
    return this.request('run', params, options);
  }

  logsFor(runId) {
    return this.logs.filter((log) => log.run === runId);
  }

  eventsFor(runId) {
    return this.events.filter((event) => event.run === runId);
  }

  /** Resolves once `predicate()` holds, checked after every message; rejects after `timeoutMs`. */
  waitFor(predicate, timeoutMs = 5000, what = 'a condition') {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Ends the process (SIGKILL) and waits for it to go. */
  async kill() {
    if (this.exitStatus === undefined) this.child.kill('SIGKILL');
    this.channel.destroy();
    return this.exited;
  }
}

/** True while a process with this pid exists. */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
