// Resolution: what an import or `require` names (a registered module, an
// allowed built-in, or a file) and how Node would load that file; and the
// project's files, read once.
//
// Resolution is Node's own: `import.meta.resolve(specifier, parent)` (the
// ESM resolver: exports maps, "import" condition; needs
// --experimental-import-meta-resolve for the parent argument) for imports,
// and `createRequire(file).resolve` (the CommonJS resolver, "require"
// condition) for `require`.

import path from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { config } from './02_config.mjs';
import { ImportFailure } from './05_errors.mjs';
import { cacheStats, lruGet, lruSet } from './20_compile.mjs';

/** Node's built-in modules, by bare name ("fs", "fs/promises"). */
const BUILTINS = new Set(builtinModules);

/** The bare name of a built-in (`node:fs` → `fs`), or undefined. */
export function builtinName(specifier) {
  if (specifier.startsWith('node:')) return specifier.slice(5);
  return BUILTINS.has(specifier) ? specifier : undefined;
}

/** Resolutions already made, by the parent's directory and the specifier. */
const resolutions = new Map();
const RESOLUTIONS_LIMIT = 4096;

/**
 * The absolute path `specifier` names, resolved from `parentFile` with Node's
 * resolver: the ESM one for `import`, the CommonJS one for `require`.
 */
export function resolveFile(specifier, parentFile, referrer, how) {
  const cacheKey = how + '\0' + path.dirname(parentFile) + '\0' + specifier;
  const cached = resolutions.get(cacheKey);
  if (cached !== undefined) return cached;
  let resolved;
  try {
    if (how === 'require') {
      resolved = createRequire(parentFile).resolve(specifier);
    } else {
      const url = import.meta.resolve(specifier, pathToFileURL(parentFile).href);
      if (!url.startsWith('file:')) throw new Error(`it resolves to ${url}, which is not a file`);
      resolved = fileURLToPath(url);
    }
  } catch (error) {
    throw new ImportFailure(specifier, referrer, notFoundReason(specifier, error));
  }
  resolutions.set(cacheKey, resolved);
  if (resolutions.size > RESOLUTIONS_LIMIT) resolutions.delete(resolutions.keys().next().value);
  return resolved;
}

/** Node's resolver errors, said in terms of what was looked for. */
function notFoundReason(specifier, error) {
  const message = String(error?.message ?? error).split('\n')[0];
  const bare = !/^(\.{0,2}\/|file:)/.test(specifier);
  if (bare && (error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'MODULE_NOT_FOUND') && /package|Cannot find module/.test(message)) {
    return `package not found: ${message} (is it installed in the project's node_modules?)`;
  }
  return message;
}

/** Where relative imports of code that is not a file resolve from: the project directory. */
function anchorIn(state) {
  return state.project === undefined ? undefined : path.join(state.project, '[script]');
}

/** What `specifier`, imported from `parentFile` (or the project), is. */
export function resolveImport(state, specifier, parentFile, referrer, how) {
  const builtin = builtinName(specifier);
  if (builtin !== undefined) return { kind: 'builtin', name: builtin };
  if (config.modules.has(specifier)) return { kind: 'registered' };
  const parent = parentFile ?? anchorIn(state);
  if (parent === undefined) {
    const known = [...config.modules.keys()];
    const relative = /^(\.{0,2}\/|file:)/.test(specifier);
    throw new ImportFailure(specifier, referrer, relative
      ? 'a relative import needs a file to resolve against: run the script from a file (Script::module_file) or set a project directory (PoolBuilder::project)'
      : `no module with that name is registered`
        + (known.length ? ` (registered: ${known.join(', ')})` : ' (none are registered)')
        + '; to import npm packages, set a project directory (PoolBuilder::project)');
  }
  const file = resolveFile(specifier, parent, referrer, how);
  return { kind: 'file', file, format: formatOf(file, specifier, referrer) };
}

/** How Node would load a file: 'module', 'commonjs' or 'json'. */
export function formatOf(file, specifier, referrer) {
  const ext = path.extname(file);
  if (ext === '.mjs') return 'module';
  // TypeScript, its types erased (24_imports.mjs): ES modules, but `.cts`.
  if (ext === '.ts' || ext === '.mts') return file.endsWith('.d.ts') ? 'types' : 'module';
  if (ext === '.cts') return 'commonjs';
  if (ext === '.cjs') return 'commonjs';
  if (ext === '.json') return 'json';
  if (ext === '.node') throw new ImportFailure(specifier, referrer, `${file} is a native addon, which scripts cannot load`);
  return packageTypeOf(path.dirname(file)) === 'module' ? 'module' : 'commonjs';
}

/** The "type" of the package.json nearest to `dir` (Node's rule for .js files). */
const packageTypes = new Map();
function packageTypeOf(dir) {
  let type = packageTypes.get(dir);
  if (type !== undefined) return type;
  let manifest;
  try {
    manifest = readFileSync(path.join(dir, 'package.json'), 'utf8');
  } catch {
    manifest = undefined;
  }
  if (manifest !== undefined) {
    try {
      type = JSON.parse(manifest).type === 'module' ? 'module' : 'commonjs';
    } catch {
      type = 'commonjs';
    }
  } else {
    const up = path.dirname(dir);
    type = up === dir ? 'commonjs' : packageTypeOf(up);
  }
  packageTypes.set(dir, type);
  return type;
}

/**
 * A file's source, read again only when its size or modification time
 * changed. The entry is also where its compiled forms are kept, so a file
 * is compiled once however many contexts load it.
 */
const files = new Map();
export function readProjectFile(file, specifier, referrer) {
  let stat;
  try {
    stat = statSync(file);
  } catch (error) {
    throw new ImportFailure(specifier, referrer, error?.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${error.message}`);
  }
  let entry = lruGet(files, file);
  if (entry === undefined || entry.mtimeMs !== stat.mtimeMs || entry.size !== stat.size) {
    let source;
    try {
      source = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ImportFailure(specifier, referrer, `cannot read ${file}: ${error.message}`);
    }
    entry = { mtimeMs: stat.mtimeMs, size: stat.size, source, key: `file:${file}:${stat.mtimeMs}:${stat.size}`, wrapper: undefined };
    cacheStats.fileReads++;
    lruSet(files, file, entry);
  }
  return entry;
}
