// What outlives a request: sessions (a context several runs share), the
// one context plain runs share under 'worker' isolation, and loaded modules.

import { CODES } from './00_codes.mjs';
import { config } from './02_config.mjs';
import { RunEnded } from './05_errors.mjs';
import { createContext, freshContext } from './25_preloads.mjs';

const sessions = new Map();
/** Modules loaded by `module.load`, by handle: { namespace, state, owned, name }. */
const loadedModules = new Map();
/** Where plain runs go when `isolation` is 'worker': the context they share. */
let sharedTarget;

/** Opens session `session`; false when it is open already. */
export function openSession(session, project) {
  if (sessions.has(session)) return false;
  const state = createContext(typeof project === 'string' ? project : config.project);
  state.sessionId = session;
  sessions.set(session, state);
  return true;
}

/** Closes a session: its context and the modules loaded into it go. */
export function closeSession(session) {
  const state = sessions.get(session);
  sessions.delete(session);
  if (state !== undefined) state.dispose();
  for (const [handle, loaded] of loadedModules) if (loaded.state === state) loadedModules.delete(handle);
}

/** The context of an open session; a RunEnded (-32008) when it is not open. */
export function sessionContext(session) {
  const state = sessions.get(session);
  if (state === undefined) throw new RunEnded(CODES.NOT_FOUND, `session ${session} is not open on this worker`);
  return state;
}

/** Where a run goes: its session's context, or for a plain run one it owns (or the shared one). */
export function contextFor(session) {
  if (session === undefined || session === null) {
    if (config.isolation === 'worker') {
      // One answer for every run: nothing changes it.
      sharedTarget ??= Object.freeze({ state: createContext(), owned: false });
      return sharedTarget;
    }
    return { state: freshContext(), owned: true };
  }
  return { state: sessionContext(session), owned: false };
}

export function loadedModule(handle) {
  return loadedModules.get(handle);
}

export function keepLoadedModule(handle, loaded) {
  loadedModules.set(handle, loaded);
}

/** Forgets a loaded module; a context made for it goes with it. */
export function unloadModule(handle) {
  const loaded = loadedModules.get(handle);
  loadedModules.delete(handle);
  if (loaded !== undefined && loaded.owned) loaded.state.dispose();
}

/** How many sessions and loaded modules are open, for the host's `stats` request. */
export function openCounts() {
  return { sessions: sessions.size, loadedModules: loadedModules.size };
}
