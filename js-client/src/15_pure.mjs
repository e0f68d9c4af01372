// Node's pure built-in modules (they compute, and hold nothing of the
// process), as every context shares them: the worker's own, each module
// object copied once and frozen with everything reachable from it, so that
// no script can change them for other runs or for the worker (whose channel
// is a stream and an event emitter). 22_builtins.mjs decides who gets them.

import path from 'node:path';
import { createRequire } from 'node:module';
import { engine } from './02_config.mjs';
import { harden } from './10_sharing.mjs';

/** `require` of the worker's own realm, for its built-in modules. */
export const workerRequire = createRequire(path.join(process.cwd(), '[outrigger-worker]'));

/** Modules that compute and hold nothing of the process: Node's own, frozen. */
export const PURE = new Set([
  'assert', 'assert/strict', 'constants', 'crypto', 'events', 'path', 'path/posix', 'path/win32', 'punycode',
  'querystring', 'stream', 'stream/promises', 'stream/web', 'string_decoder', 'sys', 'url', 'util',
  'util/types', 'zlib', '_stream_duplex', '_stream_passthrough', '_stream_readable', '_stream_transform',
  '_stream_writable',
]);

/** Members of pure modules left out: they change the whole process or load native code. */
const LEFT_OUT = {
  crypto: ['setEngine', 'setFips', 'secureHeapUsed'],
};

/**
 * Deno's stand-ins for some modules finish setting up their prototypes on
 * first use (`createHash` sets its `Hash`'s), which they cannot do once
 * frozen: each is used once before.
 */
const DENO_WARM_UP = {
  crypto: (crypto) => {
    crypto.createHash('sha1').update('').digest();
    crypto.createHmac('sha1', 'key').update('').digest();
  },
};

/** Worker-wide frozen views of pure modules, by name. */
const pureViews = new Map();

/** The frozen view of the pure module `name`, made once per worker. */
export function pureView(name) {
  let view = pureViews.get(name);
  if (view === undefined) {
    const real = workerRequire(`node:${name}`);
    if (engine.deno) DENO_WARM_UP[name]?.(real);
    const leftOut = LEFT_OUT[name] ?? [];
    view = typeof real === 'function' ? real : Object.fromEntries(Object.keys(real)
      .filter((key) => !leftOut.includes(key))
      .map((key) => [key, real[key]]));
    harden(view);
    pureViews.set(name, view);
  }
  return view;
}
