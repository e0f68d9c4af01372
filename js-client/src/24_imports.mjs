// The import graph of a context: every static and dynamic import goes
// through here. Loading is ours, so that every file runs in the run's own
// context: ES modules as `SourceTextModule`s, CommonJS files through
// 23_commonjs.mjs; one instance of each per context.

import { config } from './02_config.mjs';
import { callHost } from './08_host_calls.mjs';
import { ImportFailure, importErrorIn } from './05_errors.mjs';
import { activeRun } from './06_current_run.mjs';
import { compileModule, fileOf, ownerOf } from './20_compile.mjs';
import { resolveImport, readProjectFile } from './21_resolve.mjs';
import { syntheticModule, requireFile, builtinModuleFor, esmRequiredBy } from './23_commonjs.mjs';

/**
 * The module `specifier` names, for this context (made once per context);
 * a promise of it when ES modules it requires must be loaded first.
 */
export function importModule(state, specifier, parentFile, referrer) {
  const target = resolveImport(state, specifier, parentFile, referrer, 'import');
  const id = target.kind === 'builtin' ? `node:${target.name}` : target.kind === 'file' ? target.file : specifier;
  const existing = state.modules.get(id);
  if (existing !== undefined) return existing;
  let module;
  if (target.kind === 'builtin') {
    module = syntheticModule(state, id, builtinModuleFor(state, target.name, specifier, referrer, dynamicImport));
  } else if (target.kind === 'registered') {
    const source = config.modules.get(specifier);
    module = compileModule(state, { name: specifier, key: source.key, code: source.code }, dynamicImport);
  } else if (target.format === 'module') {
    const entry = readProjectFile(target.file, specifier, referrer);
    if (isTypeScript(target.file) && entry.js === undefined) {
      // Its types erased once per version of the file, then as any module.
      return erasedTypes(entry, target.file).then(() => importModule(state, specifier, parentFile, referrer));
    }
    const code = isTypeScript(target.file) ? entry.js : entry.source;
    module = compileModule(state, { name: target.file, key: entry.key, code, file: target.file, hash: isTypeScript(target.file) ? undefined : entry.hash }, dynamicImport);
  } else if (target.format === 'types') {
    throw new ImportFailure(specifier, referrer, `${target.file} declares types only: import its module, or use \`import type\``);
  } else {
    const ahead = target.format === 'commonjs' ? esmRequiredBy(state, target.file) : [];
    if (ahead.length > 0) {
      return loadForRequire(state, ahead).then(() => importModule(state, specifier, parentFile, referrer));
    }
    module = syntheticModule(state, id, requireFile(state, target.file, target.format, specifier, referrer, dynamicImport));
  }
  state.modules.set(id, module);
  return module;
}

/** Whether a project file is TypeScript. */
function isTypeScript(file) {
  return file.endsWith('.ts') || file.endsWith('.mts');
}

/**
 * Sets `entry.js`: the TypeScript of `file` with its types erased by the
 * host (the same eraser as a TypeScript script's, so every engine erases
 * alike and lines and columns stay). What cannot be erased is a
 * `SyntaxError` at its place in the file.
 */
async function erasedTypes(entry, file) {
  try {
    const answer = await callHost('$strip', { source: entry.source, file });
    entry.js = answer.code;
  } catch (error) {
    const failure = new SyntaxError(String(error.data?.message ?? error.message));
    failure.stack = `SyntaxError: ${failure.message}\n    at ${file}:${error.data?.line ?? 1}:${error.data?.column ?? 1}`;
    throw failure;
  }
}

/** The linker of a context: every import of a module graph goes through it. */
export function linkerFor(state) {
  return (specifier, referencing) =>
    importModule(state, specifier, fileOf(referencing), referencing?.identifier ?? 'the script');
}

/**
 * `import()` in any code the runtime compiles: into the context its code
 * belongs to (a module, or a context's own copy of code that calls
 * `import()`, see `callsImport`), else the context of the run in the async
 * context.
 */
export async function dynamicImport(specifier, referrer) {
  const state = ownerOf(referrer) ?? activeRun()?.state;
  if (state === undefined) {
    throw new ImportFailure(specifier, 'code shared between contexts',
      'its context is not known (its run has ended, or the import() was built from a string)');
  }
  try {
    const module = await importModule(state, specifier, fileOf(referrer), referrer?.identifier ?? fileOf(referrer) ?? 'the script');
    if (module.status === 'unlinked') await module.link(linkerFor(state));
    if (module.status === 'linked') await module.evaluate();
    return module;
  } catch (error) {
    throw error instanceof ImportFailure ? importErrorIn(state, error) : error;
  }
}

/**
 * Compiles and links the ES module files `files`, which CommonJS files
 * about to load require(); each is evaluated by its require(). A failure is
 * kept for the require() to throw, which may sit in a try block.
 */
async function loadForRequire(state, files) {
  for (const file of files) {
    try {
      const entry = readProjectFile(file, file, file);
      const module = compileModule(state, { name: file, key: entry.key, code: entry.source, file, hash: entry.hash }, dynamicImport);
      state.modules.set(file, module);
      if (module.status === 'unlinked') await module.link(linkerFor(state));
    } catch (error) {
      state.requireFailures.set(file, error instanceof ImportFailure ? importErrorIn(state, error) : error);
    }
  }
}
