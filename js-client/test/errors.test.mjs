// What the host sees when a script fails: -32000 with name, message, stack,
// line and column.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, CODES, expr, mod, valueOf, errorOf } from './harness.mjs';

/** The stack must speak of the script, not of the runtime around it. */
function assertCleanStack(stack) {
  assert.equal(typeof stack, 'string');
  assert.doesNotMatch(stack, /node:vm|node:internal|\[eval\d*\]|worker\.mjs/, `runtime frames in ${stack}`);
}

describe('script errors', () => {
  let w;
  before(async () => {
    w = await Worker.start();
  });
  after(async () => {
    await w?.kill();
  });

  it('reports a syntax error in an expression with its line and column', async () => {
    const error = errorOf(await w.run(expr('const a = 1;\n  (a +;\n')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, "SyntaxError: Unexpected token ';'");
    assert.equal(error.data.name, 'SyntaxError');
    assert.equal(error.data.message, "Unexpected token ';'");
    assert.equal(error.data.line, 2);
    assert.equal(error.data.column, 7);
    assertCleanStack(error.data.stack);
  });

  it('reports a syntax error on the first line of an expression', async () => {
    const error = errorOf(await w.run(expr('let = = 2')), CODES.SCRIPT_ERROR);
    assert.equal(error.data.name, 'SyntaxError');
    assert.equal(error.data.line, 1);
    assert.equal(typeof error.data.column, 'number');
  });

  it('reports a syntax error in a module with its line and column', async () => {
    const code = 'import x from "nothing-needed-before-the-error";\nexport const a = 1;\n  let c = ;\n';
    const error = errorOf(await w.run(mod(code)), CODES.SCRIPT_ERROR);
    assert.equal(error.data.name, 'SyntaxError');
    assert.equal(error.data.message, "Unexpected token ';'");
    assert.equal(error.data.line, 3);
    assert.equal(error.data.column, 11);
    assertCleanStack(error.data.stack);
  });

  it('reports a module-only syntax error (duplicate export) in a module', async () => {
    const error = errorOf(await w.run(mod('export const a = 1;\nexport const a = 2;\n')), CODES.SCRIPT_ERROR);
    assert.equal(error.data.name, 'SyntaxError');
    assert.match(error.data.message, /a/);
  });

  it('reports a runtime TypeError in an expression with line and column', async () => {
    const error = errorOf(await w.run(expr('const o = null;\n  o.foo')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, "TypeError: Cannot read properties of null (reading 'foo')");
    assert.equal(error.data.name, 'TypeError');
    assert.equal(error.data.line, 2);
    assert.equal(error.data.column, 5);
    assert.match(error.data.stack, /^TypeError: Cannot read properties of null/);
    assert.match(error.data.stack, /script\.js:2:5/);
    assertCleanStack(error.data.stack);
  });

  it('reports a runtime TypeError in a module with line and column', async () => {
    const error = errorOf(await w.run(mod('const o = undefined;\nexport default o.bar;')), CODES.SCRIPT_ERROR);
    assert.equal(error.data.name, 'TypeError');
    assert.equal(error.data.line, 2);
    assert.equal(error.data.column, 18);
    assert.match(error.data.stack, /script\.mjs:2:18/);
  });

  it('reports where an error thrown after an await happened', async () => {
    const code = '(async () => {\n  await null;\n  throw new RangeError("late");\n})()';
    const error = errorOf(await w.run(expr(code)), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'RangeError: late');
    assert.equal(error.data.line, 3);
    assert.equal(error.data.column, 9);
  });

  it('reports a custom error class by its name', async () => {
    const code = 'class AppError extends Error { constructor(m) { super(m); this.name = "AppError"; } }\nthrow new AppError("custom");';
    const error = errorOf(await w.run(expr(code)), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'AppError: custom');
    assert.equal(error.data.name, 'AppError');
    assert.equal(error.data.line, 2);
  });

  it('reports throw "boom" as an uncaught string', async () => {
    const error = errorOf(await w.run(expr('throw "boom"')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'uncaught string: boom');
    assert.deepEqual(error.data, { name: 'string', message: 'boom', stack: null, line: null, column: null });
  });

  it('reports throw {code: 1} as an uncaught object rendered as JSON', async () => {
    const error = errorOf(await w.run(expr('throw {code: 1}')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'uncaught object: {"code":1}');
    assert.deepEqual(error.data, { name: 'object', message: '{"code":1}', stack: null, line: null, column: null });
  });

  it('reports a rejected promise like a throw', async () => {
    const error = errorOf(await w.run(expr('Promise.reject(new Error("rejected"))')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'Error: rejected');
    assert.equal(error.data.line, 1);
    const plain = errorOf(await w.run(expr('Promise.reject(7)')), CODES.SCRIPT_ERROR);
    assert.equal(plain.message, 'uncaught number: 7');
  });

  it('reports a module whose top-level await rejects', async () => {
    const error = errorOf(await w.run(mod('await null;\nthrow new Error("tla");\n')), CODES.SCRIPT_ERROR);
    assert.equal(error.message, 'Error: tla');
    assert.equal(error.data.line, 2);
  });

  it('keeps serving after script errors', async () => {
    assert.equal(valueOf(await w.run(expr('"ok"'))), 'ok');
  });
});
