// The error code table, which crates/host also reads line by line.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROTOCOL_VERSION, CODES } from '../src/00_codes.mjs';


// The table itself is checked against crates/host/src/wire/codes.rs by a Rust test.
it('is frozen, names one code once, and speaks protocol 1', () => {
  assert.ok(Object.isFrozen(CODES));
  assert.ok(Object.values(CODES).every((code) => Number.isInteger(code) && code < 0));
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
  assert.deepEqual(Object.fromEntries(entries), { ...CODES });
});
