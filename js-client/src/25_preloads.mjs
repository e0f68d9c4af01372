// New contexts: made with the pool's preloads (modules imported into each
// context before any code runs there, exposed as globals under chosen
// names), and a few kept spare so that a plain run need not wait for one.

import { config } from './02_config.mjs';
import { ContextState } from './19_contexts.mjs';
import { importModule, linkerFor } from './24_imports.mjs';

/** A new context, its preloads on their way in (`state.ready`). */
export function createContext(project) {
  const state = new ContextState(project);
  state.ready = startPreloads(state);
  return state;
}

/** Starts importing the pool's preloads into a new context; `state.ready` settles when done. */
function startPreloads(state) {
  if (config.preloads.length === 0) return null;
  const ready = (async () => {
    for (const { name, specifier } of config.preloads) {
      const module = await importModule(state, specifier, undefined, `preload "${name}"`);
      if (module.status === 'unlinked') await module.link(linkerFor(state));
      if (module.status === 'linked') await module.evaluate();
      const namespace = module.namespace;
      // A module with a default export gives that (lodash's `_`); others their namespace.
      state.context[name] = 'default' in namespace ? namespace.default : namespace;
    }
    state.ready = null;
  })();
  // A failure is reported by each run that waits for it.
  ready.catch(() => {});
  return ready;
}

const spareContexts = [];
let refillScheduled = false;

/** A context for one plain run: a spare one when there is one. */
export function freshContext() {
  const state = spareContexts.pop() ?? createContext();
  scheduleRefill();
  return state;
}

/** Keeps `state` (unused so far) for a later plain run. */
export function addSpare(state) {
  spareContexts.push(state);
}

export function spareCount() {
  return spareContexts.length;
}

/** Makes spare contexts, one per turn of the event loop, up to `config.spareContexts`. */
export function scheduleRefill() {
  if (refillScheduled || spareContexts.length >= config.spareContexts) return;
  refillScheduled = true;
  setImmediate(() => {
    refillScheduled = false;
    if (spareContexts.length < config.spareContexts) {
      spareContexts.push(createContext());
      scheduleRefill();
    }
  });
}
