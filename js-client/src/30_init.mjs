// `init`: the settings the host sends once, before anything else, and the
// answer that tells it who this worker is.

import { statSync } from 'node:fs';
import { PROTOCOL_VERSION, CODES } from './00_codes.mjs';
import { nowMicros, followHostClock } from './01_clock.mjs';
import { config, engine } from './02_config.mjs';
import { respond, respondError } from './03_channel.mjs';
import { respondThrown } from './05_errors.mjs';
import { parseFetchPattern } from './09_fetch_policy.mjs';
import { takePreloadCaches, collectPreloadCaches, leavePreloadCaches } from './20_compile.mjs';
import { builtinName } from './21_resolve.mjs';
import { createContext, addSpare, scheduleRefill } from './25_preloads.mjs';

/** Fills `config` from `init`'s params and answers. */
export function init(id, params) {
  if (engine.deno && typeof params.clock === 'number') followHostClock(params.clock);
  for (const [name, source] of Object.entries(params.modules ?? {})) config.modules.set(name, source);
  if (params.scriptCacheSize) config.scriptCacheSize = params.scriptCacheSize;
  if (params.maxMessageBytes) config.maxMessageBytes = params.maxMessageBytes;
  if (params.spareContexts !== undefined) config.spareContexts = params.spareContexts;
  if (params.callbacks) config.callbacks = params.callbacks;
  if (params.watchdogTrust !== undefined) config.watchdogTrust = params.watchdogTrust;
  if (Number.isInteger(params.callSiteFrames) && params.callSiteFrames >= 0) config.callSiteFrames = params.callSiteFrames;
  if (typeof params.heartbeatMs === 'number') config.heartbeatMs = params.heartbeatMs;
  if (params.isolation === 'worker') {
    config.isolation = 'worker';
    config.spareContexts = 0;
  }
  if (typeof params.project === 'string') {
    if (!isDirectory(params.project)) {
      return respondError(id, CODES.INVALID_PARAMS, `the project directory ${params.project} does not exist or is not a directory`);
    }
    config.project = params.project;
  }
  if (Array.isArray(params.preloads)) config.preloads = params.preloads;
  if (Array.isArray(params.allowBuiltins)) {
    config.allowBuiltins = new Set(params.allowBuiltins.map((name) => builtinName(name) ?? name));
  }
  if (Array.isArray(params.mounts)) config.mounts = params.mounts.filter((p) => typeof p === 'string');
  if (params.sandbox !== undefined && params.sandbox !== null) {
    const sandbox = params.sandbox;
    try {
      config.fetchAllow = (sandbox.fetchAllow ?? []).map(parseFetchPattern);
    } catch (error) {
      return respondError(id, CODES.INVALID_PARAMS, `a Sandbox::allow_fetch pattern is not a URL: ${error.message}`);
    }
    if (typeof sandbox.maxConsoleBytes === 'number') config.maxConsoleBytes = sandbox.maxConsoleBytes;
    if (Array.isArray(sandbox.readPaths)) config.readPaths = sandbox.readPaths.filter((p) => typeof p === 'string');
    if (Array.isArray(sandbox.writePaths)) config.writePaths = sandbox.writePaths.filter((p) => typeof p === 'string');
    if (typeof sandbox.maxMemoryMb === 'number') config.maxMemoryMb = sandbox.maxMemoryMb;
  }
  if (config.preloads.length > 0) {
    // Node.js's arguments after the program are the host's (Deno's name environment variables).
    if (engine.name === 'node') takePreloadCaches(process.argv.slice(2));
    return void initWithPreloads(id);
  }
  refillOnceSettled();
  return respond(id, hello());
}

/**
 * Spare contexts are made once start-up has settled: the host sends its
 * first requests as soon as `init` is answered, and a context being made
 * (with its preloads run in it) would hold them up. A plain run before then
 * takes the context `init` made, or makes one, and refills after itself.
 */
const SETTLE_MS = 50;

function refillOnceSettled() {
  setTimeout(scheduleRefill, SETTLE_MS);
}

function isDirectory(dir) {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** The answer to `init`. */
function hello() {
  return JSON.stringify({ protocol: PROTOCOL_VERSION, engine: engine.name, version: engine.version, pid: process.pid, clock: nowMicros() });
}

/**
 * Answers `init` once the preloads have been imported into a first context
 * (kept as a spare one): a preload that cannot be imported fails start-up
 * with its import error, rather than every run later.
 */
async function initWithPreloads(id) {
  collectPreloadCaches();
  const state = createContext();
  try {
    await state.ready;
  } catch (thrown) {
    return respondThrown(id, thrown, 'preload');
  }
  leavePreloadCaches();
  if (config.isolation === 'run') addSpare(state);
  refillOnceSettled();
  respond(id, hello());
}
