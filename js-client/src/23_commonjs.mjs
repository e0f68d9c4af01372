// CommonJS files and values as modules of a context: a CommonJS file is a
// function wrapper compiled once and called in each context with a
// context-local `require`, `module` and `exports`; a CommonJS value or a
// built-in is imported through a synthetic module.
//
// `require()` of an ES module (Node's require(esm)) is synchronous, and
// loading a module into a context is not: the ES modules a CommonJS file
// names in literal `require("…")` calls, directly or through other
// CommonJS files, are loaded ahead (`esmRequiredBy`, then 24_imports.mjs
// links them) and evaluated when required.

import vm from 'node:vm';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ImportFailure, importErrorIn } from './05_errors.mjs';
import { cacheStats, callsImport, codeCacheKeepsImport, noteFile, noteOwner, preloadCacheFor, notePreloadCompile, scriptImportCallback, usableCache } from './20_compile.mjs';
import { builtinName, resolveFile, formatOf, readProjectFile } from './21_resolve.mjs';
import { builtinFor, denier } from './22_builtins.mjs';

/**
 * The built-in module `name` for this context; `node:module` is made here,
 * as its `createRequire` gives the context's own `require`.
 */
export function builtinModuleFor(state, name, specifier, referrer, importModuleDynamically) {
  if (name !== 'module') return builtinFor(state, name, specifier, referrer);
  let module = state.builtins.get(name);
  if (module === undefined) {
    const deny = denier(state, 'module');
    module = {
      Module: deny('Module'),
      register: deny('register'),
      syncBuiltinESMExports: deny('syncBuiltinESMExports'),
      findSourceMap: () => undefined,
      builtinModules: [...builtinModules],
      isBuiltin: (id) => builtinName(String(id)) !== undefined,
      // The script's own `require`, resolving from `filename` under the
      // sandbox's rules, like the `require` of a CommonJS file there.
      createRequire(filename) {
        const text = String(filename);
        const file = text.startsWith('file:') ? fileURLToPath(text) : text;
        return state.makeRequire(
          (id) => requireFrom(state, id, file, importModuleDynamically),
          (id) => resolveForRequire(state, id, file),
        );
      },
    };
    state.builtins.set(name, module);
  }
  return module;
}

/**
 * A module exposing a CommonJS value or a built-in: `default` is the value,
 * and its own keys are named exports too (as Node does for CommonJS).
 */
export function syntheticModule(state, identifier, value) {
  const names = value !== null && (typeof value === 'object' || typeof value === 'function')
    ? Object.keys(value).filter((name) => name !== 'default')
    : [];
  const module = new vm.SyntheticModule(['default', ...names], function () {
    this.setExport('default', value);
    for (const name of names) this.setExport(name, value[name]);
  }, { identifier, context: state.context });
  noteOwner(module, state);
  return module;
}

/** The wrapper that makes a CommonJS file a function of the context's realm. */
const CJS_HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const CJS_TAIL = '\n})';

/**
 * The wrapper of a CommonJS file to run in `state`: the one shared by every
 * context, or, when the file calls `import()`, one of the context's own
 * (see `callsImport`), compiled from the shared one's code cache where the
 * engine keeps the `import()` callback of such code (see `usableCache`).
 */
function wrapperIn(state, entry, file, importModuleDynamically) {
  entry.callsImport ??= callsImport(entry.source);
  if (!entry.callsImport) return entry.wrapper;
  // Kept with the context: Node.js holds a script's import() callback only
  // as long as the script lives, and the file's functions outlive this call.
  let own = state.ownScripts.get(entry.wrapper);
  if (own === undefined) {
    if (codeCacheKeepsImport) entry.ownCache ??= entry.wrapper.createCachedData();
    own = new vm.Script(CJS_HEAD + entry.source + CJS_TAIL, {
      filename: file,
      lineOffset: -1,
      cachedData: entry.ownCache,
      importModuleDynamically: scriptImportCallback(importModuleDynamically),
    });
    noteFile(own, file);
    noteOwner(own, state);
    state.ownScripts.set(entry.wrapper, own);
  }
  return own;
}

/**
 * `module.exports` of a CommonJS (or JSON) file, evaluated once per context.
 * `importModuleDynamically` serves the `import()`s of the file's code.
 */
export function requireFile(state, file, format, specifier, referrer, importModuleDynamically) {
  const existing = state.commonjs.get(file);
  if (existing !== undefined) return existing.exports;
  const entry = readProjectFile(file, specifier, referrer);
  if (format === 'json') {
    let value;
    try {
      value = state.jsonParse(entry.source);
    } catch (error) {
      throw new ImportFailure(specifier, referrer, `${file} is not valid JSON: ${error.message}`);
    }
    state.commonjs.set(file, { exports: value });
    return value;
  }
  if (format === 'module') return requireModule(state, file, specifier, referrer);
  if (entry.wrapper === undefined) {
    const given = preloadCacheFor(file, entry.hash);
    const cachedData = usableCache(entry.source, given);
    // `lineOffset` keeps the file's own line numbers in errors and stacks.
    const wrapper = new vm.Script(CJS_HEAD + entry.source + CJS_TAIL, {
      filename: file,
      lineOffset: -1,
      cachedData,
      importModuleDynamically: scriptImportCallback(importModuleDynamically),
    });
    entry.wrapper = wrapper;
    noteFile(wrapper, file);
    const hit = cachedData !== undefined && wrapper.cachedDataRejected === false;
    if (hit) cacheStats.moduleCacheHits++;
    else cacheStats.moduleCompiles++;
    // Made once the preloads have run, with the functions they called.
    // A cache left out on purpose (see `usableCache`) is not one to make again.
    notePreloadCompile(file, entry.hash, () => wrapper.createCachedData(), hit || (given !== undefined && cachedData === undefined));
  } else {
    cacheStats.moduleCacheHits++;
  }
  const module = state.jsonParse('{"exports":{},"loaded":false}');
  module.id = file;
  module.filename = file;
  module.path = path.dirname(file);
  state.commonjs.set(file, module);
  const require = state.makeRequire(
    (id) => requireFrom(state, id, file, importModuleDynamically),
    (id) => resolveForRequire(state, id, file),
  );
  module.require = require;
  const fn = wrapperIn(state, entry, file, importModuleDynamically).runInContext(state.context);
  try {
    fn.call(module.exports, module.exports, require, module, file, path.dirname(file));
  } catch (error) {
    state.commonjs.delete(file);
    throw error;
  }
  module.loaded = true;
  return module.exports;
}

/** `require(id)` inside the CommonJS file `parentFile`. */
function requireFrom(state, id, parentFile, importModuleDynamically) {
  try {
    const builtin = builtinName(id);
    if (builtin !== undefined) return builtinModuleFor(state, builtin, id, parentFile, importModuleDynamically);
    const file = resolveFile(id, parentFile, parentFile, 'require');
    return requireFile(state, file, formatOf(file, id, parentFile), id, parentFile, importModuleDynamically);
  } catch (error) {
    throw error instanceof ImportFailure ? importErrorIn(state, error) : error;
  }
}

/** `require.resolve(id)` inside the CommonJS file `parentFile`. */
function resolveForRequire(state, id, parentFile) {
  try {
    const builtin = builtinName(id);
    if (builtin !== undefined) return id;
    return resolveFile(id, parentFile, parentFile, 'require');
  } catch (error) {
    throw error instanceof ImportFailure ? importErrorIn(state, error) : error;
  }
}

/** A literal `require("…")` call (also matched in comments: harmless, see `esmRequiredBy`). */
const REQUIRE_CALL = /\brequire\s*\(\s*(['"`])([^'"`\n\\$]+)\1\s*\)/g;

/** What the literal require()s of a CommonJS file resolve to: files with their formats. */
function requireTargets(file, entry) {
  if (entry.requireTargets === undefined) {
    const targets = [];
    const seen = new Set();
    for (const match of entry.source.matchAll(REQUIRE_CALL)) {
      const id = match[2];
      if (seen.has(id) || builtinName(id) !== undefined) continue;
      seen.add(id);
      try {
        const target = resolveFile(id, file, file, 'require');
        targets.push({ file: target, format: formatOf(target, id, file) });
      } catch {
        // An optional dependency that is not installed: its require() fails then, as in Node.
      }
    }
    entry.requireTargets = targets;
  }
  return entry.requireTargets;
}

/**
 * The ES module files that the CommonJS file `file`, and the CommonJS files
 * it requires, name in literal require()s and that this context has not
 * loaded yet. A match in a comment or string loads a module early that is
 * never required: its code runs only when required.
 */
export function esmRequiredBy(state, file) {
  const found = [];
  const visit = (cjsFile) => {
    if (state.scanned.has(cjsFile) || state.commonjs.has(cjsFile)) return;
    state.scanned.add(cjsFile);
    let entry;
    try {
      entry = readProjectFile(cjsFile, cjsFile, cjsFile);
    } catch {
      return;
    }
    for (const target of requireTargets(cjsFile, entry)) {
      if (target.format === 'commonjs') visit(target.file);
      else if (target.format === 'module' && !state.modules.has(target.file)
        && !state.requireFailures.has(target.file) && !found.includes(target.file)) found.push(target.file);
    }
  };
  visit(file);
  return found;
}

/**
 * `require()` of an ES module, loaded ahead: evaluated now (synchronously,
 * as V8 evaluates a graph without top-level await), its namespace returned,
 * or its "module.exports" export when it names one (as in Node).
 */
function requireModule(state, file, specifier, referrer) {
  const failure = state.requireFailures.get(file);
  if (failure !== undefined) throw failure;
  const module = state.modules.get(file);
  if (module === undefined || module.status === 'unlinked' || module.status === 'linking') {
    throw new ImportFailure(specifier, referrer, `${file} is an ES module that was not loaded ahead for require(): `
      + 'require() loads the ES modules that CommonJS files name in literal require("…") calls; import this one instead');
  }
  if (module.status === 'linked') {
    // Its failure is read from `status` and `error` below.
    module.evaluate().catch(() => {});
  }
  if (module.status === 'errored') throw module.error;
  if (module.status === 'evaluating') {
    throw new ImportFailure(specifier, referrer, `${file} is still being evaluated (a require() cycle), so require() cannot return it`);
  }
  const namespace = module.namespace;
  return 'module.exports' in namespace ? namespace['module.exports'] : namespace;
}
