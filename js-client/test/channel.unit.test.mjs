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

  it('hands each line the frames sent before it, however the stream is cut', () => {
    const frame = (bytes) => {
      const header = Buffer.alloc(5);
      header.writeUInt32LE(bytes.length, 1);
      return Buffer.concat([header, Buffer.from(bytes)]);
    };
    // Frame bytes that look like newlines and markers must not confuse it.
    const stream = Buffer.concat([
      frame([10, 0, 10]),
      frame([]),
      Buffer.from('{"a":{"$bytes":0}}\n'),
      Buffer.from('{"b":1}\n'),
      frame([1, 2, 3, 4, 5, 6, 7]),
      Buffer.from('{"c":2}\n'),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const size of [1, 3, stream.length]) {
        const seen = [];
        const read = createLineReader((line, frames) => seen.push([line, frames.map((f) => [...f])]), () => 1024);
        for (let at = 0; at < stream.length; ) {
          const end = at < cut ? Math.min(cut, at + size) : Math.min(stream.length, at + size);
          read(stream.subarray(at, end));
          at = end;
        }
        assert.deepEqual(seen, [
          ['{"a":{"$bytes":0}}', [[10, 0, 10], []]],
          ['{"b":1}', []],
          ['{"c":2}', [[1, 2, 3, 4, 5, 6, 7]]],
        ]);
      }
    }
  });

  it('reads any mix of lines and frames cut anywhere as it was sent', () => {
    // A seeded generator: a failure can be replayed.
    let seed = 17;
    const random = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const texts = ['{"id":1}', '"\u4e2d\ud83d\ude00"', '{"a":"é\\n"}', '[1,2,3]', 'null'];
    for (let round = 0; round < 200; round++) {
      const parts = [];
      const expected = [];
      let pending = [];
      for (let i = random(12); i >= 0; i--) {
        if (random(3) === 0) {
          const bytes = Array.from({ length: random(9) }, () => random(256));
          const header = Buffer.alloc(5);
          header.writeUInt32LE(bytes.length, 1);
          parts.push(header, Buffer.from(bytes));
          pending.push(bytes);
        } else {
          const line = texts[random(texts.length)];
          parts.push(Buffer.from(line + '\n'.repeat(1 + random(2))));
          expected.push([line, pending]);
          pending = [];
        }
      }
      const stream = Buffer.concat(parts);
      const seen = [];
      const read = createLineReader((line, frames) => seen.push([line, frames.map((f) => [...f])]), () => 1024);
      for (let at = 0; at < stream.length; ) {
        const end = Math.min(stream.length, at + 1 + random(24));
        read(stream.subarray(at, end));
        at = end;
      }
      assert.deepEqual(seen, expected, `round ${round}`);
    }
  });

  it('refuses frames past the limit', () => {
    const read = createLineReader(() => {}, () => 16);
    const header = Buffer.alloc(5);
    header.writeUInt32LE(17, 1);
    assert.throws(() => read(header), /binary data from the host exceeds 16 bytes/);
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
