// The current run: which run the code executing now belongs to, carried
// across awaits, timers and callbacks by an AsyncLocalStorage.

import { AsyncLocalStorage } from 'node:async_hooks';

const als = new AsyncLocalStorage();

/** Calls `fn` as part of `run`: what it starts belongs to the run too. */
export function inRun(run, fn) {
  return als.run(run, fn);
}

/** The run the executing code belongs to, if any. */
export function activeRun() {
  return als.getStore();
}

/** The run something belongs to: the current one, else the context's latest. */
export function currentRun(state) {
  return als.getStore() ?? state?.lastRun;
}
