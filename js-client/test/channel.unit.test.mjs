// Line framing of what the host sends (createLineReader).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createLineReader } from '../src/03_channel.mjs';

function reader(limit = 1024) {
  const lines = [];
  return { lines, read: createLineReader((line) => lines.push(line), () => limit) };
}

describe('createLineReader', () => {
  it('gives every complete line of a chunk, in order, and keeps the rest for later', () => {
    const { lines, read } = reader();
    read(Buffer.from('{"a":1}\n{"b":2}\n{"c":'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    read(Buffer.from('3}\n'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('joins a line split over many chunks', () => {
    const { lines, read } = reader();
    for (const part of ['{"lo', 'ng', '":', '"line"', '}']) read(Buffer.from(part));
    assert.deepEqual(lines, []);
    read(Buffer.from('\n'));
    assert.deepEqual(lines, ['{"long":"line"}']);
  });

  it('decodes a UTF-8 character split between chunks', () => {
    const { lines, read } = reader();
    const bytes = Buffer.from('"\u4e2d\ud83d\ude00"\n');
    read(bytes.subarray(0, 2));
    read(bytes.subarray(2, 6));
    read(bytes.subarray(6));
    assert.deepEqual(lines, ['"\u4e2d\ud83d\ude00"']);
  });

  it('skips empty lines', () => {
    const { lines, read } = reader();
    read(Buffer.from('\n\n1\n\n2\n'));
    assert.deepEqual(lines, ['1', '2']);
  });

  it('throws once an unfinished line passes the limit, not for long complete lines', () => {
    const { lines, read } = reader(8);
    read(Buffer.from('0123456789abcdef\n'));
    assert.deepEqual(lines, ['0123456789abcdef']);
    read(Buffer.from('01234'));
    assert.throws(() => read(Buffer.from('56789')), /message from the host exceeds 8 bytes/);
  });
});
