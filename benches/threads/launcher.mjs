// The thread topology the `threads` bench measures: one Node.js process
// whose main thread starts a worker thread per channel the host passed
// (fd 3 onwards), each running the worker runtime on its own channel.
//
// The bench puts three constants in front of this file: RUNTIME (the
// runtime program, which ends by calling `serve()`), WORKERS (how many
// channels) and HEAP_MB (each thread's old-space limit, as
// `--max-old-space-size` is for a process; 0: the engine's default).

import { Worker } from 'node:worker_threads';

let online = 0;
for (let i = 0; i < WORKERS; i++) {
  const fd = 3 + i;
  const source = RUNTIME.replace(/\.serve\(\);\s*$/, `.serve(${fd});`);
  const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(source)), {
    resourceLimits: HEAP_MB > 0 ? { maxOldGenerationSizeMb: HEAP_MB } : undefined,
  });
  // A thread that ends takes its channel with it; the others go on.
  worker.on('error', (error) => console.error(`worker thread on fd ${fd}:`, error?.message ?? error));
  // The sources built here are garbage once every thread runs its own,
  // well before the threads answer `init`: collected then, this thread's
  // memory is what it keeps (the engine starts with `--expose-gc`).
  worker.once('online', () => {
    if (++online === WORKERS) globalThis.gc?.();
  });
}
