// Resolution: what an import or `require` names (a registered module, an
// allowed built-in, or a file) and how Node would load that file; and the
// project's files, read once.
//
// Resolution is Node's own: `import.meta.resolve(specifier, parent)` (the
// ESM resolver: exports maps, "import" condition; needs
// --experimental-import-meta-resolve for the parent argument) for imports,
// and `createRequire(file).resolve` (the CommonJS resolver, "require"
// condition) for `require`. Deno's `import.meta.resolve` takes no parent,
// so there imports go through `resolveEsm`, Node's ESM algorithm written
// out for what packages use (relative and absolute paths, `node_modules`
// lookup, `exports` with conditions and `*` patterns, `main`).

import path from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { config, engine } from './02_config.mjs';
import { ImportFailure } from './05_errors.mjs';
import { cacheStats, lruGet, lruSet, wantsSourceHash, sourceHash } from './20_compile.mjs';

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
      if (engine.deno) {
        resolved = resolveEsm(specifier, parentFile);
      } else {
        const url = import.meta.resolve(specifier, pathToFileURL(parentFile).href);
        if (!url.startsWith('file:')) throw new Error(`it resolves to ${url}, which is not a file`);
        resolved = fileURLToPath(url);
      }
    }
  } catch (error) {
    throw new ImportFailure(specifier, referrer, notFoundReason(specifier, error));
  }
  resolutions.set(cacheKey, resolved);
  if (resolutions.size > RESOLUTIONS_LIMIT) resolutions.delete(resolutions.keys().next().value);
  return resolved;
}

/** The conditions Node's ESM resolver matches in `exports`, in its order. */
const ESM_CONDITIONS = new Set(['node', 'import', 'default']);

/** An error as Node's ESM resolver gives it. */
function resolveError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

/** The ESM resolution of `specifier` from `parentFile`: an absolute path. */
function resolveEsm(specifier, parentFile) {
  if (/^(\.{0,2}\/|file:)/.test(specifier)) {
    const url = new URL(specifier, pathToFileURL(parentFile));
    if (url.protocol !== 'file:') throw new Error(`it resolves to ${url.href}, which is not a file`);
    // As Node's: a file that is not there is for the read to report.
    const file = fileURLToPath(url);
    return isFile(file) || isDirectory(file) ? existingFile(file, specifier, parentFile) : file;
  }
  if (specifier.startsWith('#')) {
    // Package imports: Node's CommonJS resolver reads them the same way.
    return createRequire(parentFile).resolve(specifier);
  }
  if (/^[a-z][a-z\d+.-]*:/i.test(specifier)) {
    throw resolveError('ERR_UNSUPPORTED_ESM_URL_SCHEME', `Only URLs with a scheme in: file, data, and node are supported by the default ESM loader. Received protocol '${specifier.split(':')[0]}:'`);
  }
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const subpath = '.' + specifier.slice(name.length);
  for (let dir = path.dirname(parentFile); ; dir = path.dirname(dir)) {
    const packageDir = path.join(dir, 'node_modules', name);
    if (isDirectory(packageDir)) return resolvePackage(packageDir, subpath, specifier, parentFile);
    if (path.dirname(dir) === dir) break;
  }
  throw resolveError('ERR_MODULE_NOT_FOUND', `Cannot find package '${name}' imported from ${parentFile}`);
}

/** `subpath` (`.` or `./x`) of the package in `packageDir`. */
function resolvePackage(packageDir, subpath, specifier, parentFile) {
  let manifest = {};
  try {
    manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  } catch {
    // No package.json (or an unreadable one): plain files and index.js.
  }
  const exportsField = manifest?.exports;
  if (exportsField !== undefined && exportsField !== null) {
    const sugar = typeof exportsField === 'string' || Array.isArray(exportsField)
      || !Object.keys(exportsField).some((key) => key.startsWith('.'));
    const map = sugar ? { '.': exportsField } : exportsField;
    let target;
    let star;
    if (Object.hasOwn(map, subpath) && !subpath.includes('*')) {
      target = map[subpath];
    } else {
      let best = '';
      for (const key of Object.keys(map)) {
        const at = key.indexOf('*');
        if (at === -1) continue;
        const prefix = key.slice(0, at);
        const suffix = key.slice(at + 1);
        if (subpath.length >= key.length && subpath.startsWith(prefix) && subpath.endsWith(suffix) && prefix.length > best.indexOf('*')) {
          best = key;
          target = map[key];
          star = subpath.slice(prefix.length, subpath.length - suffix.length);
        }
      }
    }
    const file = exportTarget(packageDir, target, star);
    if (file === undefined) {
      throw resolveError('ERR_PACKAGE_PATH_NOT_EXPORTED', `Package subpath '${subpath}' is not defined by "exports" in ${path.join(packageDir, 'package.json')} imported from ${parentFile}`);
    }
    return existingFile(file, specifier, parentFile);
  }
  if (subpath !== '.') return existingFile(path.join(packageDir, subpath), specifier, parentFile);
  const main = typeof manifest?.main === 'string' ? manifest.main : undefined;
  const candidates = main === undefined
    ? ['index.js']
    : [main, `${main}.js`, `${main}.json`, `${main}.node`, `${main}/index.js`, `${main}/index.json`, `${main}/index.node`, 'index.js'];
  for (const candidate of candidates) {
    const file = path.join(packageDir, candidate);
    if (isFile(file)) return realpathSync(file);
  }
  throw resolveError('ERR_MODULE_NOT_FOUND', `Cannot find package '${packageDir}' imported from ${parentFile}`);
}

/** An `exports` target with the conditions matched: a path, or undefined. */
function exportTarget(packageDir, target, star) {
  if (typeof target === 'string') {
    if (!target.startsWith('./')) return undefined;
    return path.join(packageDir, star === undefined ? target : target.replaceAll('*', star));
  }
  if (Array.isArray(target)) {
    for (const each of target) {
      const file = exportTarget(packageDir, each, star);
      if (file !== undefined) return file;
    }
    return undefined;
  }
  if (target !== null && typeof target === 'object') {
    for (const [condition, each] of Object.entries(target)) {
      if (!ESM_CONDITIONS.has(condition)) continue;
      const file = exportTarget(packageDir, each, star);
      if (file !== undefined) return file;
    }
  }
  return undefined;
}

/** `file` with its symbolic links resolved, as Node's resolver gives it. */
function existingFile(file, specifier, parentFile) {
  if (isFile(file)) return realpathSync(file);
  if (isDirectory(file)) {
    throw resolveError('ERR_UNSUPPORTED_DIR_IMPORT', `Directory import '${file}' is not supported resolving ES modules imported from ${parentFile}`);
  }
  throw resolveError('ERR_MODULE_NOT_FOUND', `Cannot find module '${file}' imported from ${parentFile}`);
}

function isFile(file) {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(dir) {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
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
    let bytes;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new ImportFailure(specifier, referrer, `cannot read ${file}: ${error.message}`);
    }
    const source = bytes.toString('utf8');
    // What a code cache of the preloads was made from (20_compile.mjs).
    const hash = wantsSourceHash(file) ? sourceHash(bytes) : undefined;
    entry = { mtimeMs: stat.mtimeMs, size: stat.size, source, hash, key: `file:${file}:${stat.mtimeMs}:${stat.size}`, wrapper: undefined };
    cacheStats.fileReads++;
    lruSet(files, file, entry);
  }
  return entry;
}
