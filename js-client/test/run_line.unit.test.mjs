// A run's request line read without the JSON parser: whatever it reads, it
// reads as `JSON.parse` does, and it leaves every other line to it.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readRunLine, fastRunLines } from '../src/31_run_line.mjs';

/** A small seeded generator, so that a failure can be replayed. */
function random(seed) {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state % n;
  };
}

const HEX = '0123456789abcdef';
const NAMES = ['session', 'timeout', 'maxCallbacks', 'startBy'];

function integer(pick) {
  switch (pick(5)) {
    case 0: return 0;
    case 1: return pick(10);
    case 2: return 30000;
    case 3: return 1e14 + pick(1e9);
    default: return 999999999999999 - pick(1000);
  }
}

/** A line in the shape the host writes for a run by key (any of its params, in its order), or `shuffled`. */
function hostLine(pick, shuffled = false) {
  let key = '';
  const keyLength = pick(3) === 0 ? 1 + pick(40) : 32;
  for (let i = 0; i < keyLength; i++) key += HEX[pick(16)];
  const names = NAMES.filter(() => pick(2) === 0);
  for (let i = names.length - 1; shuffled && i > 0; i--) {
    const j = pick(i + 1);
    [names[i], names[j]] = [names[j], names[i]];
  }
  const params = names.map((name) => `,"${name}":${integer(pick)}`).join('');
  return `{"jsonrpc":"2.0","id":${integer(pick)},"method":"run","params":{"key":"${key}"${params}}}`;
}

it('reads every line in the host’s shape as JSON.parse does', () => {
  const pick = random(1);
  const before = fastRunLines();
  for (let i = 0; i < 5000; i++) {
    const line = hostLine(pick);
    const read = readRunLine(line);
    assert.notEqual(read, undefined, line);
    assert.deepStrictEqual(read, JSON.parse(line), line);
    assert.deepStrictEqual(Object.keys(read.params).sort(), Object.keys(JSON.parse(line).params).sort(), line);
  }
  assert.equal(fastRunLines() - before, 5000);
});

it('reads the line of a run the host sends today', () => {
  // As `wire::encode::request` writes a run by key on a pool of two workers.
  const line = '{"jsonrpc":"2.0","id":41,"method":"run","params":{"key":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","timeout":30000,"startBy":81234567891}}';
  assert.deepStrictEqual(readRunLine(line), JSON.parse(line));
});

it('leaves every other line to JSON.parse', () => {
  const key = '0123456789abcdef0123456789abcdef';
  const head = `{"jsonrpc":"2.0","id":1,"method":"run","params":{"key":"${key}"`;
  for (const line of [
    `${head},"timeout":1,"timeout":2}}`, // named twice: JSON.parse keeps the last
    `${head},"startBy":1,"timeout":2}}`, // not in the host's order
    `${head},"timeout":01}}`, // not JSON
    `${head},"timeout":-1}}`,
    `${head},"timeout":1.5}}`,
    `${head},"timeout":1e3}}`,
    `${head},"timeout":1234567890123456}}`, // 16 digits
    `${head},"timeout":}}`,
    `${head}, "timeout":1}}`,
    `${head},"code":"2 + 2"}}`,
    `${head},"kind":"expression","name":"x.js"}}`,
    `${head},"attachment":"globals"}}`,
    `${head},"session":null}}`,
    `${head}}} `,
    `${head}}}}`,
    `${head}}`,
    `${head}`,
    `{"jsonrpc":"2.0","id":1,"method":"run","params":{"key":"ABCDEF"}}`,
    `{"jsonrpc":"2.0","id":1,"method":"run","params":{"key":"ab\\u0063"}}`,
    `{"jsonrpc":"2.0","id":1,"method":"run","params":{"key":""}}`,
    `{"jsonrpc":"2.0","id":1,"method":"call","params":{"handle":1,"export":"f"}}`,
    `{"jsonrpc":"2.0","id":"1","method":"run","params":{"key":"${key}"}}`,
    `{"jsonrpc":"2.0","id":1,"result":{}}`,
    `{"jsonrpc":"2.0","id":1,"method":"run","params":{"key":"${key}${'0'.repeat(300)}"}}`,
  ]) {
    assert.equal(readRunLine(line), undefined, line);
  }
});

it('reads nothing JSON.parse would read otherwise, whatever is changed in a line', () => {
  const pick = random(2);
  const alphabet = '0123456789abcdefABE"{}[],: \\-.+enulltrue\u00e9\n';
  let read = 0;
  for (let i = 0; i < 20000; i++) {
    let line = hostLine(pick, pick(4) === 0);
    for (let edits = 1 + pick(3); edits > 0; edits--) {
      const at = pick(line.length + 1);
      const char = alphabet[pick(alphabet.length)];
      switch (pick(3)) {
        case 0: line = line.slice(0, at) + char + line.slice(at); break;
        case 1: line = line.slice(0, at) + line.slice(at + 1); break;
        default: line = line.slice(0, at) + char + line.slice(at + 1);
      }
    }
    const fast = readRunLine(line);
    if (fast === undefined) continue;
    read++;
    assert.deepStrictEqual(fast, JSON.parse(line), line);
  }
  // Some edits keep the shape (a digit for a digit): those must have been read too.
  assert.ok(read > 1000, `${read} edited lines read`);
});
