// What JSON can carry: toJsonText's answers and refusals, and log arguments.

import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { CODES } from '../src/00_codes.mjs';
import { config } from '../src/02_config.mjs';
import { NonJsonError, toJsonText, logArgJson } from '../src/04_json.mjs';

/** The NonJsonError toJsonText throws for `value`. */
function refusal(value, what) {
  try {
    toJsonText(value, what);
  } catch (error) {
    assert.ok(error instanceof NonJsonError, `not a NonJsonError: ${error}`);
    return error;
  }
  assert.fail(`toJsonText accepted ${String(value)}`);
}

describe('toJsonText', () => {
  const limit = config.maxMessageBytes;
  afterEach(() => {
    config.maxMessageBytes = limit;
  });

  it('gives JSON text, with undefined at the top as null', () => {
    assert.equal(toJsonText({ a: [1, 'two', null, true], b: { c: 1.5 } }), '{"a":[1,"two",null,true],"b":{"c":1.5}}');
    assert.equal(toJsonText(undefined), 'null');
    assert.equal(toJsonText([undefined, 1]), '[null,1]');
    assert.equal(toJsonText({ toJSON: () => ({ via: 'toJSON' }) }), '{"via":"toJSON"}');
    assert.equal(toJsonText(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  });

  it('takes plain objects of another realm as plain objects', () => {
    const foreign = vm.runInNewContext('({ list: [1, { n: Object.create(null) }] })');
    assert.equal(toJsonText(foreign), '{"list":[1,{"n":{}}]}');
  });

  it('names the path of what JSON would drop', () => {
    assert.equal(refusal({ a: { b: () => 1 } }).message, 'value.a.b is a function, which JSON cannot carry');
    assert.equal(refusal({ 'odd key': [0, Symbol('s')] }).message, 'value["odd key"][1] is a symbol, which JSON cannot carry');
    assert.equal(refusal([1, [2, [3, 4n]]], 'result').message, 'result[1][1][1] is a BigInt');
    assert.equal(refusal(() => 1).message, 'value is a function, which JSON cannot carry');
  });

  it('refuses Maps, Sets and Promises with a hint', () => {
    assert.match(refusal(new Map()).message, /^value is a Map \(convert it with Object\.fromEntries\)/);
    assert.match(refusal({ s: new Set() }).message, /^value\.s is a Set \(convert it with Array\.from\)/);
    assert.match(refusal([Promise.resolve()]).message, /^value\[0\] is a Promise \(await it first\)/);
  });

  it('refuses a cycle', () => {
    const o = { a: 1 };
    o.self = o;
    assert.match(refusal(o).message, /^value has a cycle, which JSON cannot carry/);
  });

  it('refuses JSON over maxMessageBytes with -32009, counting UTF-8 bytes', () => {
    config.maxMessageBytes = 100;
    assert.equal(toJsonText('x'.repeat(90)).length, 92);
    const error = refusal('\u4e2d'.repeat(40), 'event data');
    assert.equal(error.code, CODES.LIMIT);
    assert.equal(error.message, 'event data is 122 bytes of JSON, over the limit of 100');
    assert.equal(refusal(1n).code, undefined);
  });
});

describe('logArgJson', () => {
  it('gives JSON values as they are', () => {
    assert.equal(logArgJson('s'), '"s"');
    assert.equal(logArgJson(2.5), '2.5');
    assert.equal(logArgJson(null), 'null');
    assert.equal(logArgJson({ a: [1] }), '{"a":[1]}');
  });

  it('renders what JSON cannot carry as a string', () => {
    assert.equal(logArgJson(undefined), '"undefined"');
    assert.equal(logArgJson(NaN), '"NaN"');
    assert.equal(logArgJson(5n), '"5n"');
    assert.equal(logArgJson({ f() {} }), JSON.stringify('{ f: [Function: f] }'));
    assert.match(JSON.parse(logArgJson(new TypeError('bad'))), /^TypeError: bad\n\s+at /);
    const cycle = { n: 1 };
    cycle.c = cycle;
    assert.match(JSON.parse(logArgJson(cycle)), /Circular/);
  });
});
