// The current run: which run the code executing now belongs to. A context
// that holds one run at a time (a plain run's own) answers it itself
// (`lastRun`); where runs share a context (`Isolation::Worker`, sessions,
// loaded modules) an AsyncLocalStorage carries the run across awaits,
// timers and callbacks. Where the engine has no async context frame
// (Node.js 20; 22 without its flag) that storage works through async hooks,
// which every promise in the worker calls once any run has entered it, so
// plain runs do not enter it.

import { AsyncLocalStorage } from 'node:async_hooks';

const als = new AsyncLocalStorage();

/** Calls `fn` as part of `run`: what it starts belongs to the run too. */
export function inRun(run, fn) {
  return als.run(run, fn);
}

/** The run the executing code belongs to, where a shared context's run entered the storage. */
export function activeRun() {
  return als.getStore();
}

/** The run something in `state` belongs to: the current one, else the context's latest. */
export function currentRun(state) {
  const run = als.getStore();
  return run !== undefined && run.state === state ? run : state?.lastRun;
}
