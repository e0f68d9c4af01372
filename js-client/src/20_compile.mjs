// Compiling: a content-addressed LRU of scripts, code caches for modules,
// which compiled code belongs to which file and context, and which code has
// earned running without the engine's watchdog.

import vm from 'node:vm';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CODES } from './00_codes.mjs';
import { nowMs } from './01_clock.mjs';
import { config, engine } from './02_config.mjs';
import { RunEnded, locate, safeGet } from './05_errors.mjs';

const scriptCache = new Map();
const moduleCodeCache = new Map();
/** What the caches did, for the host's `stats` request. */
export const cacheStats = { scriptCompiles: 0, scriptHits: 0, moduleCompiles: 0, moduleCacheHits: 0, fileReads: 0 };

export function lruGet(map, key) {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

export function lruSet(map, key, value) {
  map.set(key, value);
  while (map.size > config.scriptCacheSize) map.delete(map.keys().next().value);
}

/** The file a module or script was loaded from: what its relative imports resolve against. */
const filesOf = new WeakMap();
/** The context each module instance belongs to: where its dynamic imports go. */
const moduleOwners = new WeakMap();

export function fileOf(code) {
  return filesOf.get(code);
}

export function noteFile(code, file) {
  filesOf.set(code, file);
}

export function ownerOf(module) {
  return moduleOwners.get(module);
}

export function noteOwner(module, state) {
  moduleOwners.set(module, state);
}

/** The error for a key sent without source that is not cached here. */
function unknownScript(params) {
  return new RunEnded(CODES.UNKNOWN_SCRIPT, `script ${params.key} is not cached here`);
}

/**
 * Bun takes what a classic script's `importModuleDynamically` gives as the
 * namespace itself (a module's, as the module): there it gives the
 * namespace, the module evaluated first as Node.js would.
 */
function asNamespace(load) {
  if (typeof load !== 'function') return load;
  return async (...args) => {
    const module = await load(...args);
    if (!(module instanceof vm.Module)) return module;
    if (module.status === 'linked') await module.evaluate();
    return module.namespace;
  };
}

/**
 * Bun names the frames of a `vm.SourceTextModule` `unknown`, whatever its
 * identifier, but takes a `sourceURL` comment: one at the end names them
 * and moves no line.
 */
function namedForBun(source, name) {
  return /[\r\n\u2028\u2029]/.test(name) ? source : `${source}\n//# sourceURL=${name}`;
}

/** A classic script: compiled once, run in any context. */
export function compileScript(params, importModuleDynamically) {
  const cached = params.key ? lruGet(scriptCache, params.key) : undefined;
  if (cached !== undefined) {
    cacheStats.scriptHits++;
    return cached;
  }
  if (typeof params.code !== 'string') throw unknownScript(params);
  const script = new vm.Script(params.code, {
    filename: params.name,
    importModuleDynamically: engine.bun ? asNamespace(importModuleDynamically) : importModuleDynamically,
  });
  cacheStats.scriptCompiles++;
  if (typeof params.file === 'string') filesOf.set(script, params.file);
  if (params.key) lruSet(scriptCache, params.key, script);
  return script;
}

/**
 * A module for one context. A module instance belongs to its context, so the
 * cache keeps its source and V8's code cache, which makes recompiling cheap.
 */
export function compileModule(state, params, importModuleDynamically) {
  const { name, key } = params;
  let entry = key ? lruGet(moduleCodeCache, key) : undefined;
  const source = typeof params.code === 'string' ? params.code : entry?.source;
  if (source === undefined) throw unknownScript(params);
  const { file } = params;
  const create = (cachedData) => new vm.SourceTextModule(engine.bun ? namedForBun(source, name) : source, {
    identifier: name,
    context: state.context,
    cachedData,
    importModuleDynamically,
    initializeImportMeta: file === undefined ? undefined : (meta) => {
      meta.url = pathToFileURL(file).href;
      meta.filename = file;
      meta.dirname = path.dirname(file);
    },
  });
  let module;
  try {
    try {
      module = create(entry?.cachedData);
    } catch (error) {
      if (entry?.cachedData === undefined || error?.code !== 'ERR_VM_MODULE_CACHED_DATA_REJECTED') throw error;
      entry.cachedData = undefined;
      module = create(undefined);
    }
  } catch (error) {
    if (error && error.name === 'SyntaxError') throw locateModuleSyntaxError(error, source, name);
    throw error;
  }
  moduleOwners.set(module, state);
  if (file !== undefined) filesOf.set(module, file);
  if (entry?.cachedData !== undefined) {
    cacheStats.moduleCacheHits++;
  } else {
    cacheStats.moduleCompiles++;
  }
  if (key && entry === undefined) {
    entry = { source, cachedData: undefined };
    lruSet(moduleCodeCache, key, entry);
  }
  if (entry !== undefined && entry.cachedData === undefined) {
    try {
      entry.cachedData = module.createCachedData();
    } catch {
      // A module that cannot produce a code cache is simply compiled each time.
    }
  }
  return module;
}

/**
 * Module syntax errors carry no position in node; find it by compiling the
 * source as a strict async function body with the module-only syntax blanked.
 */
function locateModuleSyntaxError(error, source, name) {
  const prefix = '(async function(){"use strict";';
  const blanked = source
    .replace(/^([ \t]*)import\s+[^;'"]*?(?:from\s*)?(['"])[^'"]*\2[ \t]*;?/gm, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/^([ \t]*)export\s+default\b/gm, (m, indent) => indent + 'void' + ' '.repeat(m.length - indent.length - 4))
    .replace(/^([ \t]*)export\s*\{[^}]*\}[^;\n]*;?/gm, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/^([ \t]*)export\b/gm, (m, indent) => indent + ' '.repeat(m.length - indent.length));
  try {
    new vm.Script(prefix + blanked + '\n})', { filename: name });
  } catch (probe) {
    const where = locate(safeGet(probe, 'stack'), name);
    if (where.line !== undefined && safeGet(probe, 'message') === safeGet(error, 'message')) {
      if (where.line === 1) where.column -= prefix.length;
      const located = new SyntaxError(error.message);
      located.stack = `${name}:${where.line}\n${source.split('\n')[where.line - 1] ?? ''}\n${' '.repeat(Math.max(0, where.column - 1))}^\n\nSyntaxError: ${error.message}\n    at ${name}:${where.line}:${where.column}`;
      return located;
    }
  }
  if (engine.deno && name.startsWith('/')) {
    // Deno's `vm` gives no place: at least name the file that failed.
    const named = new SyntaxError(error.message);
    named.stack = `SyntaxError: ${error.message}\n    at ${name}`;
    return named;
  }
  return error;
}

/**
 * The engine's watchdog (vm's `timeout`) stops a synchronous loop without
 * losing the worker, but starts a thread per run. Code that has finished its
 * synchronous part quickly `watchdogTrust` times runs without it; should it
 * loop after all, the host replaces the worker.
 */
const trusted = new Map();
const TRUST_LIMIT = 4096;
const QUICK_MS = 50;

/** The vm options that put the code with this key under the watchdog, if it still needs it. */
export function watchdogFor(key, timeout) {
  if (!(timeout > 0)) return {};
  if (config.watchdogTrust > 0 && key !== undefined && (trusted.get(key) ?? 0) >= config.watchdogTrust) return {};
  return { timeout };
}

/** Counts a quick synchronous part towards trust; a slow one loses it. */
export function noteSyncTime(key, started) {
  if (key === undefined) return;
  if (nowMs() - started > QUICK_MS) {
    trusted.delete(key);
    return;
  }
  const count = trusted.get(key) ?? 0;
  if (count >= config.watchdogTrust) return;
  trusted.set(key, count + 1);
  if (trusted.size > TRUST_LIMIT) trusted.delete(trusted.keys().next().value);
}
