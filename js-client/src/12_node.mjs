// Node APIs made in the script's own realm, one per context, so that
// nothing a run sets there is seen by another: `process` and `node:process`,
// `node:timers/promises`, `node:diagnostics_channel`, `node:stream/consumers`.
//
// The script's `process` has the parts of Node's that packages read (the
// environment the sandbox passes through, versions, the platform,
// `nextTick`, `hrtime`, stdout and stderr, events). Nothing on it reaches
// the worker: no `binding`, `dlopen`, `kill`, `chdir` or `mainModule`, and
// `exit()` ends the run, not the worker.

import { engine } from './02_config.mjs';

/** What the script's `process` is made from: plain data, read once. */
export function processParts(project) {
  const env = readEnv();
  env.NODE_ENV ??= 'production';
  return Object.freeze({
    envJson: JSON.stringify(env),
    versionsJson: JSON.stringify(process.versions),
    releaseJson: JSON.stringify({ name: process.release.name, lts: process.release.lts }),
    version: process.version,
    platform: process.platform,
    arch: process.arch,
    pid: process.pid,
    cwd: project ?? '/',
  });
}

/**
 * The worker's environment. Deno lists it only with every variable allowed,
 * so there the host allows the ones it passes by name and names them as the
 * program's arguments; Bun adds variables of its own, so there the host
 * names the ones it passes the same way.
 */
function readEnv() {
  if (!engine.deno && !engine.bun) return { ...process.env };
  const env = {};
  for (const name of process.argv.slice(2)) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Runs inside a context: builds the script's `process`. `parts` is
 * `processParts(...)`; `bridge` gives `log(level, args)`, `exit(code)`,
 * `hrtime()` (ns as a bigint), `memoryUsage()` and `uptime()`.
 */
export function makeProcess(parts, bridge) {
  'use strict';
  // Each emitter (the process, stdout, stderr, stdin) keeps its own listeners.
  const makeEmitter = () => {
  const listeners = new Map();
  const emitter = {
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(listener);
      return this;
    },
    prependListener(event, listener) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).unshift(listener);
      return this;
    },
    once(event, listener) {
      const once = (...args) => {
        this.off(event, once);
        listener.apply(this, args);
      };
      once.listener = listener;
      return this.on(event, once);
    },
    off(event, listener) {
      const list = listeners.get(event);
      if (list === undefined) return this;
      const at = list.findIndex((l) => l === listener || l.listener === listener);
      if (at !== -1) list.splice(at, 1);
      return this;
    },
    emit(event, ...args) {
      const list = listeners.get(event);
      if (list === undefined || list.length === 0) return false;
      for (const listener of [...list]) listener.apply(this, args);
      return true;
    },
    removeAllListeners(event) {
      if (event === undefined) listeners.clear();
      else listeners.delete(event);
      return this;
    },
    listeners(event) {
      return (listeners.get(event) ?? []).map((l) => l.listener ?? l);
    },
    listenerCount(event) {
      return listeners.get(event)?.length ?? 0;
    },
    eventNames() {
      return [...listeners.keys()];
    },
    setMaxListeners() {
      return this;
    },
    getMaxListeners() {
      return 10;
    },
  };
  emitter.addListener = emitter.on;
  emitter.prependOnceListener = emitter.once;
  emitter.removeListener = emitter.off;
  return emitter;
  };

  const stream = (fd, level) => ({
    fd,
    isTTY: false,
    writable: true,
    write(chunk, encoding, callback) {
      const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
      bridge.log(level, [text]);
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') queueMicrotask(done);
      return true;
    },
    end(chunk, encoding, callback) {
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') this.write(chunk, encoding);
      const done = [chunk, encoding, callback].find((arg) => typeof arg === 'function');
      if (done !== undefined) queueMicrotask(done);
      return this;
    },
    hasColors() {
      return false;
    },
    getColorDepth() {
      return 1;
    },
    ...makeEmitter(),
  });

  function hrtime(previous) {
    const now = bridge.hrtime();
    let seconds = Number(now / 1000000000n);
    let nanos = Number(now % 1000000000n);
    if (Array.isArray(previous)) {
      seconds -= previous[0];
      nanos -= previous[1];
      if (nanos < 0) {
        seconds -= 1;
        nanos += 1e9;
      }
    }
    return [seconds, nanos];
  }
  hrtime.bigint = () => bridge.hrtime();

  const process = {
    __proto__: makeEmitter(),
    title: 'node',
    version: parts.version,
    versions: JSON.parse(parts.versionsJson),
    release: JSON.parse(parts.releaseJson),
    platform: parts.platform,
    arch: parts.arch,
    pid: parts.pid,
    ppid: 0,
    env: JSON.parse(parts.envJson),
    argv: ['node', 'script'],
    argv0: 'node',
    execArgv: [],
    execPath: 'node',
    exitCode: undefined,
    features: {},
    config: { variables: {} },
    allowedNodeEnvironmentFlags: new Set(),
    stdout: stream(1, 'log'),
    stderr: stream(2, 'error'),
    stdin: { fd: 0, isTTY: false, readable: false, ...makeEmitter() },
    cwd() {
      return parts.cwd;
    },
    hrtime,
    uptime() {
      return bridge.uptime();
    },
    memoryUsage: Object.assign(() => ({ ...bridge.memoryUsage() }), { rss: () => bridge.memoryUsage().rss }),
    nextTick(callback, ...args) {
      if (typeof callback !== 'function') {
        throw Object.assign(new TypeError('The "callback" argument must be of type function'), { code: 'ERR_INVALID_ARG_TYPE' });
      }
      queueMicrotask(() => callback(...args));
    },
    emitWarning(warning, options) {
      const type = typeof options === 'string' ? options : options?.type ?? warning?.name ?? 'Warning';
      const message = typeof warning === 'string' ? warning : warning?.message;
      bridge.log('warn', [`(node) ${type}: ${message}`]);
    },
    umask() {
      return 0o22;
    },
    exit(code) {
      bridge.exit(code ?? process.exitCode ?? 0);
    },
    abort() {
      bridge.exit(134);
    },
    [Symbol.toStringTag]: 'process',
  };
  return process;
}

/**
 * Runs inside a context: `node:timers/promises` on the context's own timers
 * (`g` is the context's globals), which end with the run's context.
 */
export function makeTimerPromises(g) {
  'use strict';
  const aborted = (signal) => Object.assign(new Error('The operation was aborted'), {
    name: 'AbortError',
    code: 'ABORT_ERR',
    cause: signal.reason,
  });
  function setTimeout(delay, value, options = {}) {
    return new Promise((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) {
        reject(aborted(signal));
        return;
      }
      const onAbort = () => {
        g.clearTimeout(id);
        reject(aborted(signal));
      };
      const id = g.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      }, delay);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  function setImmediate(value, options) {
    return setTimeout(0, value, options);
  }
  async function* setInterval(delay, value, options) {
    for (;;) yield await setTimeout(delay, value, options);
  }
  const scheduler = {
    wait: (delay, options) => setTimeout(delay, undefined, options),
    yield: () => setImmediate(),
  };
  return { setTimeout, setImmediate, setInterval, scheduler };
}

/**
 * Runs inside a context: `node:diagnostics_channel` for this context alone.
 * Node's own channels carry the worker's requests and sockets, other runs'
 * included; a script publishes and subscribes among its own channels only.
 */
export function makeDiagnosticsChannel() {
  'use strict';
  const channels = new Map();
  class Channel {
    #subscribers = [];

    constructor(name) {
      this.name = name;
    }

    get hasSubscribers() {
      return this.#subscribers.length > 0;
    }

    subscribe(subscriber) {
      if (typeof subscriber !== 'function') throw new TypeError('The "subscription" argument must be of type function');
      this.#subscribers.push(subscriber);
    }

    unsubscribe(subscriber) {
      const at = this.#subscribers.indexOf(subscriber);
      if (at === -1) return false;
      this.#subscribers.splice(at, 1);
      return true;
    }

    publish(message) {
      for (const subscriber of [...this.#subscribers]) {
        try {
          subscriber(message, this.name);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }

    bindStore() {}

    unbindStore() {
      return false;
    }

    runStores(data, fn, thisArg, ...args) {
      this.publish(data);
      return fn.apply(thisArg, args);
    }
  }
  function channel(name) {
    let found = channels.get(name);
    if (found === undefined) {
      found = new Channel(name);
      channels.set(name, found);
    }
    return found;
  }
  const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'];
  class TracingChannel {
    constructor(nameOrChannels) {
      for (const event of EVENTS) {
        this[event] = typeof nameOrChannels === 'string'
          ? channel(`tracing:${nameOrChannels}:${event}`)
          : nameOrChannels[event];
      }
    }

    get hasSubscribers() {
      return EVENTS.some((event) => this[event].hasSubscribers);
    }

    subscribe(handlers) {
      for (const event of EVENTS) if (handlers[event]) this[event].subscribe(handlers[event]);
    }

    unsubscribe(handlers) {
      let done = true;
      for (const event of EVENTS) if (handlers[event] && !this[event].unsubscribe(handlers[event])) done = false;
      return done;
    }

    traceSync(fn, context = {}, thisArg, ...args) {
      if (!this.hasSubscribers) return fn.apply(thisArg, args);
      this.start.publish(context);
      try {
        const result = fn.apply(thisArg, args);
        context.result = result;
        return result;
      } catch (error) {
        context.error = error;
        this.error.publish(context);
        throw error;
      } finally {
        this.end.publish(context);
      }
    }

    tracePromise(fn, context = {}, thisArg, ...args) {
      if (!this.hasSubscribers) return fn.apply(thisArg, args);
      this.start.publish(context);
      try {
        return Promise.resolve(fn.apply(thisArg, args)).then((result) => {
          context.result = result;
          this.asyncStart.publish(context);
          this.asyncEnd.publish(context);
          return result;
        }, (error) => {
          context.error = error;
          this.error.publish(context);
          this.asyncStart.publish(context);
          this.asyncEnd.publish(context);
          throw error;
        });
      } finally {
        this.end.publish(context);
      }
    }

    traceCallback(fn, position = -1, context = {}, thisArg, ...args) {
      if (!this.hasSubscribers) return fn.apply(thisArg, args);
      const at = position < 0 ? args.length + position : position;
      const callback = args[at];
      args[at] = (error, result) => {
        if (error) {
          context.error = error;
          this.error.publish(context);
        } else {
          context.result = result;
        }
        this.asyncStart.publish(context);
        try {
          return callback(error, result);
        } finally {
          this.asyncEnd.publish(context);
        }
      };
      return this.traceSync(fn, context, thisArg, ...args);
    }
  }
  return {
    Channel,
    channel,
    hasSubscribers: (name) => channels.get(name)?.hasSubscribers ?? false,
    subscribe: (name, subscriber) => channel(name).subscribe(subscriber),
    unsubscribe: (name, subscriber) => channel(name).unsubscribe(subscriber),
    tracingChannel: (nameOrChannels) => new TracingChannel(nameOrChannels),
  };
}

/**
 * Runs inside a context: `node:stream/consumers`, reading into this realm's
 * values (`parts` is Node's module, `Buffer` and `blobs` this realm's).
 */
export function makeStreamConsumers(parts, Buffer, blobs) {
  'use strict';
  return {
    text: (stream) => parts.text(stream),
    async json(stream) {
      return JSON.parse(await parts.text(stream));
    },
    async arrayBuffer(stream) {
      return blobs.bytes(await parts.arrayBuffer(stream)).buffer;
    },
    async buffer(stream) {
      return Buffer.from(blobs.bytes(await parts.arrayBuffer(stream)));
    },
    async blob(stream) {
      return blobs.adopt(await parts.blob(stream), blobs.Blob);
    },
  };
}
