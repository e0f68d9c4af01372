// The error code table, which crates/host also reads line by line.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROTOCOL_VERSION, CODES } from '../src/00_codes.mjs';

const EXPECTED = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  SCRIPT_ERROR: -32000,
  TIMEOUT: -32001,
  CANCELLED: -32002,
  WORKER_EXITED: -32003,
  OVERLOADED: -32004,
  CALLBACK_FAILED: -32005,
  NON_JSON: -32006,
  UNKNOWN_SCRIPT: -32007,
  NOT_FOUND: -32008,
  LIMIT: -32009,
  IMPORT: -32010,
};

it('holds every code of crates/host/src/wire/codes.rs, by the same names, frozen', () => {
  assert.deepEqual({ ...CODES }, EXPECTED);
  assert.ok(Object.isFrozen(CODES));
  assert.equal(new Set(Object.values(CODES)).size, Object.keys(CODES).length, 'two names share a code');
  assert.equal(PROTOCOL_VERSION, 1);
});

it('writes one entry a line, `  NAME: -32xxx,`, inside the frozen object', () => {
  const source = readFileSync(new URL('../src/00_codes.mjs', import.meta.url), 'utf8');
  const table = /^export const CODES = Object\.freeze\(\{\n([\s\S]*?)\n\}\);$/m.exec(source);
  assert.ok(table, 'no `export const CODES = Object.freeze({ ... });` block');
  const entries = table[1].split('\n').map((line) => {
    const m = /^ {2}([A-Z_]+): (-32\d{3}),$/.exec(line);
    assert.ok(m, `not an entry line: ${JSON.stringify(line)}`);
    return [m[1], Number(m[2])];
  });
  assert.deepEqual(Object.fromEntries(entries), EXPECTED);
});
