// CommonJS files and values as modules of a context: a CommonJS file is a
// function wrapper compiled once and called in each context with a
// context-local `require`, `module` and `exports`; a CommonJS value or a
// built-in is imported through a synthetic module.

import vm from 'node:vm';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ImportFailure, importErrorIn } from './05_errors.mjs';
import { cacheStats, noteFile, noteOwner } from './16_compile.mjs';
import { builtinName, resolveFile, formatOf, readProjectFile } from './17_resolve.mjs';
import { builtinFor, denier } from './18_builtins.mjs';

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
  if (format === 'module') {
    throw new ImportFailure(specifier, referrer, `${file} is an ES module, which require() cannot load: use import instead`);
  }
  if (entry.wrapper === undefined) {
    // `lineOffset` keeps the file's own line numbers in errors and stacks.
    entry.wrapper = new vm.Script(CJS_HEAD + entry.source + CJS_TAIL, {
      filename: file,
      lineOffset: -1,
      importModuleDynamically,
    });
    noteFile(entry.wrapper, file);
    cacheStats.moduleCompiles++;
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
  const fn = entry.wrapper.runInContext(state.context);
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
