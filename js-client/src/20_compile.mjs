// Compiling: a content-addressed LRU of scripts, code caches for modules
// and for the preloads' files (from the host, across workers), which
// compiled code belongs to which file and context, and which code has
// earned running without the engine's watchdog.

import vm from 'node:vm';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CODES } from './00_codes.mjs';
import { nowMs } from './01_clock.mjs';
import { config, engine } from './02_config.mjs';
import { RunEnded, locate, safeGet } from './05_errors.mjs';
import { workerRequire } from './15_pure.mjs';

const scriptCache = new Map();
const moduleCodeCache = new Map();
/** What the caches did, for the host's `stats` request. */
export const cacheStats = { scriptCompiles: 0, scriptHits: 0, moduleCompiles: 0, moduleCacheHits: 0, fileReads: 0 };

/**
 * V8 code caches of the files the preloads are made of, across workers.
 * The host names, as the runtime's arguments, a file of caches to take
 * (`--code-cache-in=`) and a file to leave them in should none fit
 * (`--code-cache-out=`), which it reads when `init` is answered: before
 * any script ran here, so no script can write what other workers take. A cache is made once the preloads have run in the first context,
 * so the functions they called are compiled in it. Each file's cache goes
 * with the SHA-256 of its source: V8 checks its version, its flags and
 * the length of the source, not the source itself, so a changed file of
 * the same length would otherwise run the old code.
 */
const preloadCache = {
  /** file -> { hash, data } taken from the host. */
  given: new Map(),
  /** Where to leave the caches made here, if the host wants them. */
  out: undefined,
  /** Whether the preloads are being imported into the first context. */
  collecting: false,
  /** file -> { hash, make() } compiled while collecting. */
  made: new Map(),
  /** Whether a file compiled while collecting took no cache (none, stale or rejected). */
  missed: false,
};

/** Reads the caches the host names in the runtime's arguments (`init` on Node.js). */
export function takePreloadCaches(args) {
  for (const arg of args) {
    if (arg.startsWith('--code-cache-out=')) preloadCache.out = arg.slice('--code-cache-out='.length);
    if (!arg.startsWith('--code-cache-in=')) continue;
    try {
      for (const [file, entry] of readCacheFile(readFileSync(arg.slice('--code-cache-in='.length)))) {
        preloadCache.given.set(file, entry);
      }
    } catch {
      // Unreadable or malformed: the preloads are compiled from their sources.
    }
  }
}

/**
 * A file of caches: a 4-byte little-endian length, a JSON header of
 * `[file, hash, bytes]` triples, then the caches one after another.
 */
function readCacheFile(bytes) {
  const length = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.toString('utf8', 4, 4 + length));
  const entries = [];
  let offset = 4 + length;
  for (const [file, hash, size] of header) {
    if (typeof file !== 'string' || typeof hash !== 'string' || !(size >= 0) || offset + size > bytes.length) break;
    entries.push([file, { hash, data: bytes.subarray(offset, offset + size) }]);
    offset += size;
  }
  return entries;
}

function writeCacheFile(target, entries) {
  const header = Buffer.from(JSON.stringify(entries.map(([file, hash, data]) => [file, hash, data.length])));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  writeFileSync(target, Buffer.concat([length, header, ...entries.map(([, , data]) => data)]));
}

/** Whether reading `file` should hash its source, for the preloads' caches. */
export function wantsSourceHash(file) {
  return preloadCache.collecting || preloadCache.given.has(file);
}

/**
 * The SHA-256 of a preload's source. `node:crypto` is loaded here, on first
 * use: loading it costs a worker's start-up ~5 ms, and only the preloads'
 * caches need it.
 */
export function sourceHash(bytes) {
  return workerRequire('node:crypto').createHash('sha256').update(bytes).digest('base64');
}

/** The host's cache for `file`, if it was made from this source (`hash`). */
export function preloadCacheFor(file, hash) {
  const entry = hash === undefined ? undefined : preloadCache.given.get(file);
  return entry !== undefined && entry.hash === hash ? entry.data : undefined;
}

/** Notes a file compiled while the preloads are imported; `make` gives its cache when they have run. */
export function notePreloadCompile(file, hash, make, tookCache) {
  if (!preloadCache.collecting || hash === undefined) return;
  preloadCache.made.set(file, { hash, make });
  if (!tookCache) preloadCache.missed = true;
}

/** The preloads are about to be imported into the worker's first context. */
export function collectPreloadCaches() {
  preloadCache.collecting = preloadCache.out !== undefined;
}

/**
 * The preloads have run: leaves their caches where the host reads them,
 * when a file took none of the host's, and lets go of the host's (a file
 * compiled later is compiled from its source). A cache that cannot be made
 * or written only means later workers compile as this one did.
 */
export function leavePreloadCaches() {
  preloadCache.given.clear();
  if (!preloadCache.collecting) return;
  preloadCache.collecting = false;
  const made = [...preloadCache.made];
  preloadCache.made.clear();
  if (!preloadCache.missed || made.length === 0) return;
  try {
    const entries = [];
    for (const [file, { hash, make }] of made) {
      const data = make();
      if (data !== undefined && data.length > 0) entries.push([file, hash, data]);
    }
    writeCacheFile(preloadCache.out, entries);
  } catch {
    // See above.
  }
}

/**
 * The caches below are maps in least-recently-used order: a hit moves its
 * key to the end, and past the size the oldest goes. Each map keeps its
 * newest value (`newestValue`, a property of the map itself), so a hit on
 * it (the same script again, the common case) moves nothing. Their values
 * are objects, one for each key: the newest is known by identity, where
 * knowing it by its key would compare two long strings (a key read from a
 * run's line is a slice of it, compared in the runtime).
 */
export function lruGet(map, key) {
  const value = map.get(key);
  if (value !== undefined && map.newestValue !== value) {
    map.delete(key);
    map.set(key, value);
    map.newestValue = value;
  }
  return value;
}

export function lruSet(map, key, value) {
  map.delete(key);
  map.set(key, value);
  map.newestValue = value;
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
 * A `vm.Script`'s `importModuleDynamically`. Bun takes what a classic
 * script's callback gives as the namespace itself (a module's, as the
 * module): there it gives the namespace, the module evaluated first as
 * Node.js would.
 */
export function scriptImportCallback(load) {
  if (!engine.bun || typeof load !== 'function') return load;
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

/**
 * Whether code calls `import()`. Code shared between contexts (a cached
 * classic script, a package's CommonJS wrapper) reaches `dynamicImport`
 * with nothing but itself, and a plain run's own context is not entered in
 * the runtime's `AsyncLocalStorage` (06_current_run.mjs), so such code gets
 * a copy of its own in each context (`scriptIn`, `wrapperIn` in
 * 23_commonjs.mjs), which knows its owner.
 * Loose on purpose (a comment that mentions it matches too): a miss costs
 * the `import()` its context, a false match a compile.
 */
export function callsImport(source) {
  return IMPORT_CALL.test(source);
}

const IMPORT_CALL = /\bimport\s*\(/;

/**
 * Whether code compiled from a code cache keeps its `import()` callback.
 * Node.js 20 drops it (`import()` then throws "A dynamic import callback was
 * not specified"), so there code that calls `import()` compiles from source.
 */
export const codeCacheKeepsImport = engine.deno || engine.bun || Number(engine.version.split('.')[0]) >= 22;

/** `cachedData` for compiling `source`, unless it would cost the code its `import()`s. */
export function usableCache(source, cachedData) {
  return cachedData !== undefined && !codeCacheKeepsImport && callsImport(source) ? undefined : cachedData;
}

/** Shared classic scripts that call `import()`: their source, for `scriptIn`. */
const importingSources = new WeakMap();

/**
 * The script to run in `state`: the shared one, or, when it calls
 * `import()`, the context's own copy of it (see `callsImport`).
 */
export function scriptIn(state, script, params, importModuleDynamically) {
  const source = importingSources.get(script);
  if (source === undefined) return script;
  let own = state.ownScripts.get(script);
  if (own === undefined) {
    own = new vm.Script(source, {
      filename: params.name,
      importModuleDynamically: scriptImportCallback(importModuleDynamically),
    });
    moduleOwners.set(own, state);
    const file = filesOf.get(script);
    if (file !== undefined) filesOf.set(own, file);
    state.ownScripts.set(script, own);
  }
  return own;
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
    importModuleDynamically: scriptImportCallback(importModuleDynamically),
  });
  cacheStats.scriptCompiles++;
  if (callsImport(params.code)) importingSources.set(script, params.code);
  if (typeof params.file === 'string') filesOf.set(script, params.file);
  if (params.key) lruSet(scriptCache, params.key, script);
  return script;
}

/**
 * A module for one context. A module instance belongs to its context, so the
 * cache keeps its source and V8's code cache, which makes recompiling cheap.
 */
export function compileModule(state, params, importModuleDynamically) {
  const { name, key, file } = params;
  let entry = key ? lruGet(moduleCodeCache, key) : undefined;
  const source = typeof params.code === 'string' ? params.code : entry?.source;
  if (source === undefined) throw unknownScript(params);
  if (key && entry === undefined && file !== undefined) {
    const given = preloadCacheFor(file, params.hash);
    if (given !== undefined) {
      entry = { source, cachedData: given };
      lruSet(moduleCodeCache, key, entry);
    }
  }
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
  let cachedData = usableCache(source, entry?.cachedData);
  // A cache left out on purpose (see `usableCache`) is not one to make again.
  const declined = entry?.cachedData !== undefined && cachedData === undefined;
  try {
    try {
      module = create(cachedData);
    } catch (error) {
      if (cachedData === undefined || error?.code !== 'ERR_VM_MODULE_CACHED_DATA_REJECTED') throw error;
      entry.cachedData = undefined;
      cachedData = undefined;
      module = create(undefined);
    }
  } catch (error) {
    if (error && error.name === 'SyntaxError') throw locateModuleSyntaxError(error, source, name);
    throw error;
  }
  moduleOwners.set(module, state);
  if (file !== undefined) filesOf.set(module, file);
  const hit = cachedData !== undefined;
  if (hit) {
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
  // A module's cache is made before it is evaluated (Node.js makes none after):
  // its top level, not the functions it calls.
  if (file !== undefined && entry !== undefined) {
    notePreloadCompile(file, params.hash, () => entry.cachedData, hit || declined);
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

/** The options of code that runs without the watchdog: one object for every run. */
const UNWATCHED = Object.freeze({ displayErrors: true });
/** The same, for code trusted to run without it: `noteSyncTime` need not count it again. */
const TRUSTED = Object.freeze({ displayErrors: true });

/** The vm options that put the code with this key under the watchdog, if it still needs it. */
export function watchdogFor(key, timeout) {
  if (!(timeout > 0)) return UNWATCHED;
  if (config.watchdogTrust > 0 && key !== undefined && (trusted.get(key) ?? 0) >= config.watchdogTrust) return TRUSTED;
  return { timeout, displayErrors: true };
}

/**
 * Counts a quick synchronous part towards trust; a slow one loses it.
 * `options`: what `watchdogFor` gave the code.
 */
export function noteSyncTime(key, started, options) {
  if (key === undefined) return;
  if (nowMs() - started > QUICK_MS) {
    trusted.delete(key);
    return;
  }
  if (options === TRUSTED) return;
  const count = trusted.get(key) ?? 0;
  if (count >= config.watchdogTrust) return;
  trusted.set(key, count + 1);
  if (trusted.size > TRUST_LIMIT) trusted.delete(trusted.keys().next().value);
}
