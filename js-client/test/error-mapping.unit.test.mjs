// What the host sees of a thrown value (errorFor), clean stacks, and where
// an error happened (locate, locateInFile).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { CODES } from '../src/00_codes.mjs';
import { NonJsonError } from '../src/04_json.mjs';
import {
  ImportFailure, RunEnded, importErrorIn, runtimeFilesOf, cleanStack, locate, locateInFile, errorFor,
} from '../src/05_errors.mjs';

/** What a script named `filename` throws, from a realm of its own. */
function thrownBy(code, filename = 'script.js') {
  try {
    new vm.Script(code, { filename }).runInNewContext({});
  } catch (error) {
    return error;
  }
  assert.fail('nothing thrown');
}

const RUNTIME_DIR = new URL('../src/', import.meta.url).href;

describe('runtimeFilesOf', () => {
  it('under -e, is the one URL of the program, not its neighbours', () => {
    const isRuntime = runtimeFilesOf('file:///work/app/[eval1]');
    assert.equal(isRuntime('file:///work/app/[eval1]'), true);
    assert.equal(isRuntime('file:///work/app/main.mjs'), false);
    assert.equal(isRuntime('file:///work/app/12_compile.mjs'), false);
  });

  it('from the files, is every numbered file of their directory and nothing else', () => {
    const isRuntime = runtimeFilesOf(`${RUNTIME_DIR}05_errors.mjs`);
    assert.equal(isRuntime(`${RUNTIME_DIR}20_jobs.mjs`), true);
    assert.equal(isRuntime(`${RUNTIME_DIR}00_codes.mjs`), true);
    assert.equal(isRuntime(`${RUNTIME_DIR}notes.mjs`), false);
    assert.equal(isRuntime(`${RUNTIME_DIR}sub/20_jobs.mjs`), false);
    assert.equal(isRuntime('file:///elsewhere/20_jobs.mjs'), false);
    assert.equal(isRuntime('/work/app/20_jobs.mjs'), false);
  });
});

describe('cleanStack', () => {
  it('drops node\'s, the eval wrapper\'s and the runtime\'s frames, and keeps the script\'s', () => {
    const stack = [
      'TypeError: boom',
      '    at f (script.js:2:5)',
      '    at file:///home/user/project/lib/util.mjs:3:1',
      '    at Object.<anonymous> (/home/user/project/node_modules/p/index.js:1:7)',
      `    at runBody (${RUNTIME_DIR}20_jobs.mjs:44:30)`,
      `    at ${RUNTIME_DIR}18_lifecycle.mjs:37:20`,
      '    at Script.runInContext (node:vm:149:12)',
      '    at AsyncLocalStorage.run (node:internal/async_local_storage/async_hooks:91:14)',
      '    at file:///tmp/[eval1]:1:34',
      '    at async Promise.all (index 0)',
    ].join('\n');
    assert.equal(cleanStack(stack), [
      'TypeError: boom',
      '    at f (script.js:2:5)',
      '    at file:///home/user/project/lib/util.mjs:3:1',
      '    at Object.<anonymous> (/home/user/project/node_modules/p/index.js:1:7)',
      '    at async Promise.all (index 0)',
    ].join('\n'));
  });

  it('drops the source-line decoration of a syntax error', () => {
    const stack = 'script.js:2\n  (a +;\n      ^\n\nSyntaxError: Unexpected token \';\'\n    at new Script (node:vm:117:7)';
    assert.equal(cleanStack(stack), 'SyntaxError: Unexpected token \';\'');
  });
});

describe('locate', () => {
  it('reads the line and column of a syntax error from its decoration', () => {
    assert.deepEqual(locate('script.js:2\n  (a +;\n      ^\n\nSyntaxError: x', 'script.js'), { line: 2, column: 7 });
  });

  it('reads the first frame in the file', () => {
    const stack = 'Error: x\n    at g (other.js:9:9)\n    at f (script.js:3:11)\n    at script.js:5:1';
    assert.deepEqual(locate(stack, 'script.js'), { line: 3, column: 11 });
    assert.deepEqual(locate(stack, 'missing.js'), {});
    assert.deepEqual(locate(undefined, 'script.js'), {});
  });

  it('finds the first absolute path when the script itself is not named', () => {
    assert.deepEqual(locateInFile('/p/node_modules/b/index.js:3\n  let = ;\n      ^\n\nSyntaxError: x'),
      { file: '/p/node_modules/b/index.js', line: 3, column: 7 });
    assert.deepEqual(locateInFile('Error: x\n    at script.js:1:1\n    at f (/p/lib/a.js:4:2)'), { file: '/p/lib/a.js', line: 4, column: 2 });
  });
});

describe('errorFor', () => {
  it('gives a script error with name, message, clean stack, line and column', () => {
    const error = errorFor(thrownBy('const o = null;\n  o.foo'), 'script.js');
    assert.equal(error.code, CODES.SCRIPT_ERROR);
    assert.equal(error.message, "TypeError: Cannot read properties of null (reading 'foo')");
    assert.equal(error.data.name, 'TypeError');
    assert.equal(error.data.line, 2);
    assert.equal(error.data.column, 5);
    assert.match(error.data.stack, /^TypeError: Cannot read properties of null \(reading 'foo'\)\n {4}at script\.js:2:5\n/);
    assert.doesNotMatch(error.data.stack, /node:/);
  });

  it('names the file of an error that happened in a dependency', () => {
    const error = errorFor(thrownBy('throw new Error("deep")', '/p/node_modules/dep/index.js'), 'script.mjs');
    assert.deepEqual([error.data.file, error.data.line, error.data.column], ['/p/node_modules/dep/index.js', 1, 1]);
  });

  it('reports thrown values that are not errors as uncaught values', () => {
    assert.deepEqual(errorFor('boom', 'script.js'), {
      code: CODES.SCRIPT_ERROR,
      message: 'uncaught string: boom',
      data: { name: 'string', message: 'boom', stack: null, line: null, column: null },
    });
    assert.equal(errorFor({ code: 1 }, 'script.js').message, 'uncaught object: {"code":1}');
    assert.equal(errorFor(null, 'script.js').message, 'uncaught null: null');
    assert.equal(errorFor(10n, 'script.js').message, 'uncaught bigint: 10n');
  });

  it('gives the runtime\'s own errors their codes', () => {
    assert.deepEqual(errorFor(new RunEnded(CODES.CANCELLED, 'run cancelled'), 'script.js'), { code: CODES.CANCELLED, message: 'run cancelled' });
    assert.deepEqual(errorFor(new NonJsonError('value is a function'), 'script.js'), { code: CODES.NON_JSON, message: 'value is a function' });
    const tooBig = Object.assign(new NonJsonError('too big'), { code: CODES.LIMIT });
    assert.equal(errorFor(tooBig, 'script.js').code, CODES.LIMIT);
    const timedOut = Object.assign(new Error('Script execution timed out after 5ms'), { code: 'ERR_SCRIPT_EXECUTION_TIMEOUT' });
    assert.deepEqual(errorFor(timedOut, 'script.js'), { code: CODES.TIMEOUT, message: 'Script execution timed out after 5ms' });
  });

  it('reports an import failure, also when a script got it as an error of its own realm', () => {
    const failure = new ImportFailure('node:fs', 'script.mjs', 'not allowed');
    const expected = {
      code: CODES.IMPORT,
      message: 'cannot import "node:fs" from script.mjs: not allowed',
      data: { specifier: 'node:fs', referrer: 'script.mjs', reason: 'not allowed' },
    };
    assert.deepEqual(errorFor(failure, 'script.mjs'), expected);
    const realmError = vm.runInNewContext('Error');
    const inRealm = importErrorIn({ Error: realmError }, failure);
    assert.ok(inRealm instanceof realmError);
    assert.equal(inRealm.code, 'ERR_OUTRIGGER_IMPORT');
    assert.deepEqual(errorFor(inRealm, 'script.mjs'), expected);
  });

  it('hints at the sandbox when the permission model refused a read', () => {
    const failure = new ImportFailure('./a.js', 'script.mjs', 'Access to this API has been restricted');
    assert.match(failure.message, /Sandbox::allow_read, or PoolBuilder::project\)$/);
  });
  it('gives a refused allocation the memory limit, naming the setting', () => {
    for (const thrown of [
      "new RangeError('Array buffer allocation failed')",
      "new RangeError('WebAssembly.Memory.grow(): Unable to grow instance memory')",
      "new RangeError('WebAssembly.Memory(): could not allocate memory')",
      "new RangeError('ArrayBuffer.prototype.resize: Out of memory')",
      "new Error('Failed to allocate memory')",
    ]) {
      const error = errorFor(thrownBy(`throw ${thrown}`), 'script.js');
      assert.equal(error.code, CODES.LIMIT, thrown);
      assert.match(error.message, /\(Sandbox::max_memory_mb\) and was refused: \w*Error: /);
      assert.deepEqual(error.data, { limit: 'memory' });
    }
    for (const thrown of ["new RangeError('Invalid array buffer length')", "new RangeError('Invalid string length')", "'out of memory'"]) {
      assert.equal(errorFor(thrownBy(`throw ${thrown}`), 'script.js').code, CODES.SCRIPT_ERROR, thrown);
    }
  });
});
