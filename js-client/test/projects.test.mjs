// Project directories: packages by bare name (ESM, CommonJS, exports maps),
// relative imports, files run by path, preloads, and the built-in allowlist.
// The fixture project is tests/fixtures/project at the repository root.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { Worker, CODES, expr, mod, valueOf, errorOf } from './harness.mjs';

const PROJECT = fileURLToPath(new URL('../../tests/fixtures/project', import.meta.url));

describe('a project directory', () => {
  let w;
  before(async () => {
    w = await Worker.start({
      init: {
        project: PROJECT,
        allowBuiltins: ['node:path'],
        preloads: [{ name: '_', specifier: 'tiny-lodash' }],
      },
    });
  });
  after(async () => {
    await w?.kill();
  });

  it('imports an ESM package through the "import" condition of its exports map', async () => {
    const code = 'import describe, { flavor } from "dual-pkg";\nimport { feature } from "dual-pkg/feature";\nexport default [describe(), flavor, feature];';
    assert.deepEqual(valueOf(await w.run(mod(code))), ['dual-pkg (esm)', 'esm', 'feature (esm)']);
  });

  it('imports a CommonJS package: default and named exports, require inside it with the "require" condition', async () => {
    const code = 'import cjs, { greet } from "cjs-pkg";\nexport default [greet("you"), cjs.version, cjs.dualFlavor, cjs.filename];';
    assert.deepEqual(valueOf(await w.run(mod(code))), ['hello, you', '1.0.0', 'cjs', 'cjs-pkg/lib/index.js']);
  });

  it('keeps objects of a CommonJS package in the script\'s realm', async () => {
    const code = 'import cjs from "cjs-pkg";\nexport default cjs.constructor === Object && typeof require;';
    assert.equal(valueOf(await w.run(mod(code))), 'undefined');
  });

  it('lets CommonJS require() ES modules named in literal require() calls, as Node does', async () => {
    const code = 'import m from "requires-esm";\nexport default [m.shout("hi"), m.count, m.nested(4), globalThis.neverRan];';
    // Plain Node: `HI!`, 1 evaluation, the "module.exports" export, and a
    // module named only in a comment never run.
    assert.deepEqual(valueOf(await w.run(mod(code))), ['HI!', 1, 8, null]);
  });

  it('refuses require() of an ES module it could not load ahead, saying what to do', async () => {
    const error = errorOf(await w.run(mod('import m from "requires-esm";\nexport default m.computed();')), CODES.IMPORT);
    assert.match(error.data.reason, /computed\.mjs is an ES module that was not loaded ahead for require\(\)/);
    assert.match(error.data.reason, /import this one instead/);
  });

  it('imports project files by relative path from a string script', async () => {
    const code = 'import { add, scaleAll } from "./lib/math.js";\nexport default [add(1, 2), scaleAll([1, 2], 3)];';
    assert.deepEqual(valueOf(await w.run(mod(code))), [3, [3, 6]]);
  });

  it('runs a module file with its own relative imports', async () => {
    const file = `${PROJECT}/main.mjs`;
    const code = readFileSync(file, 'utf8') + '\nexport default summary();';
    const value = valueOf(await w.run(mod(code, { name: file, file })));
    assert.deepEqual(value, { flavor: 'esm', cjsGreeting: 'hello, project', total: 5, calls: 1 });
  });

  it('gives project files their import.meta.url', async () => {
    assert.equal(valueOf(await w.run(mod('import url from "./lib/uses-meta.mjs";\nexport default url;'))), `file://${PROJECT}/lib/uses-meta.mjs`);
  });

  it('imports packages dynamically from an expression', async () => {
    assert.equal(valueOf(await w.run(expr('import("cjs-pkg").then((m) => m.greet("dyn"))'))), 'hello, dyn');
  });

  it('exposes a preload as a global in every context', async () => {
    assert.deepEqual(valueOf(await w.run(expr('_.chunk([1, 2, 3], 2)'))), [[1, 2], [3]]);
    assert.equal(valueOf(await w.run(expr('_.sum([1, 2, 3])'))), 6);
  });

  it('preloads once per session context, not per run', async () => {
    await w.request('session.open', { session: 5 });
    try {
      valueOf(await w.run(expr('_.marked = true', { session: 5 })));
      assert.equal(valueOf(await w.run(expr('_.marked', { session: 5 }))), true);
    } finally {
      w.notify('session.close', { session: 5 });
    }
  });

  it('allows an allowed built-in to a dependency', async () => {
    const code = 'import { join } from "uses-path";\nexport default join("a", "b");';
    assert.equal(valueOf(await w.run(mod(code))), 'a/b');
  });

  it('lets a dependency read project files through node:fs, and nothing outside the project', async () => {
    const inside = 'import x from "needs-fs";\nexport default [x.exists("package.json"), JSON.parse(x.read("package.json")).name];';
    const manifest = JSON.parse(readFileSync(`${PROJECT}/package.json`, 'utf8'));
    assert.deepEqual(valueOf(await w.run(mod(inside))), [true, manifest.name]);
    const error = errorOf(await w.run(mod('import x from "needs-fs";\nexport default x.read("/etc/hostname");')), CODES.DENIED);
    assert.equal(error.data.capability, 'node:fs.readFileSync()');
    assert.equal(error.data.setting, 'Sandbox::allow_read');
    // A path the sandbox does not grant does not exist, as far as existsSync says.
    assert.equal(valueOf(await w.run(mod('import x from "needs-fs";\nexport default x.exists("/etc/hostname");'))), false);
  });

  it('refuses a missing package, saying what was looked for', async () => {
    const error = errorOf(await w.run(mod('import x from "left-pad";\nexport default x;')), CODES.IMPORT);
    assert.equal(error.data.specifier, 'left-pad');
    assert.match(error.data.reason, /package not found/);
    assert.match(error.data.reason, /left-pad/);
  });

  it('refuses a missing project file, naming its path', async () => {
    const error = errorOf(await w.run(mod('import x from "./lib/nope.js";\nexport default x;')), CODES.IMPORT);
    assert.match(error.data.reason, new RegExp(`no such file: ${PROJECT}/lib/nope.js`));
  });

  it('refuses a path the exports map does not export', async () => {
    const error = errorOf(await w.run(mod('import x from "dual-pkg/esm/hidden.mjs";\nexport default x;')), CODES.IMPORT);
    assert.match(error.data.reason, /not exported|ERR_PACKAGE_PATH_NOT_EXPORTED|Package subpath/);
  });

  it('reports a syntax error inside a dependency with its file, line and column', async () => {
    const error = errorOf(await w.run(mod('import { ok } from "broken-pkg";\nexport default ok;')), CODES.SCRIPT_ERROR);
    assert.equal(error.data.name, 'SyntaxError');
    assert.equal(error.data.file, `${PROJECT}/node_modules/broken-pkg/index.js`);
    assert.equal(error.data.line, 3);
    assert.equal(typeof error.data.column, 'number');
  });

  it('lets a package catch a refused capability as an error of its own realm', async () => {
    const code = 'import x from "needs-fs";\ntry { x.read("/etc/hostname"); } catch (e) { globalThis.caught = [e instanceof Error, e.code]; }\nexport default caught;';
    assert.deepEqual(valueOf(await w.run(mod(code))), [true, 'ERR_OUTRIGGER_DENIED']);
  });

  it('does not recompile project files on later runs', async () => {
    const code = 'import { add } from "./lib/math.js";\nexport default add(1, 1);';
    valueOf(await w.run(mod(code)));
    const before = valueOf(await w.request('stats', {}));
    valueOf(await w.run(mod(code)));
    const after = valueOf(await w.request('stats', {}));
    assert.equal(after.fileReads, before.fileReads);
    assert.ok(after.moduleCacheHits > before.moduleCacheHits);
  });
});

describe('a session with its own project', () => {
  it('resolves from the directory given to session.open', async () => {
    const w = await Worker.start();
    try {
      const none = errorOf(await w.run(mod('import x from "cjs-pkg";\nexport default x;')), CODES.IMPORT);
      assert.match(none.data.reason, /PoolBuilder::project/);
      await w.request('session.open', { session: 1, project: PROJECT });
      assert.equal(valueOf(await w.run(mod('import { greet } from "cjs-pkg";\nexport default greet("s");', { session: 1 }))), 'hello, s');
    } finally {
      await w.kill();
    }
  });

  it('fails init when a preload cannot be imported', async () => {
    const w = new Worker();
    try {
      const response = await w.request('init', { project: PROJECT, preloads: [{ name: 'x', specifier: 'no-such-pkg' }] });
      const error = errorOf(response, CODES.IMPORT);
      assert.equal(error.data.specifier, 'no-such-pkg');
    } finally {
      await w.kill();
    }
  });
});
