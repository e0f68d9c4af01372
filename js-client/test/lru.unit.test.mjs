// The caches' least-recently-used order (scripts, module code, project files).

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { config } from '../src/02_config.mjs';
import { lruGet, lruSet } from '../src/20_compile.mjs';

function filled() {
  const map = new Map();
  for (let i = 0; i < config.scriptCacheSize; i++) lruSet(map, `k${i}`, i);
  return map;
}

it('keeps what was hit and lets the oldest go, also after hits on the newest', () => {
  const map = filled();
  const newest = `k${config.scriptCacheSize - 1}`;
  assert.equal(lruGet(map, newest), config.scriptCacheSize - 1);
  assert.equal(lruGet(map, 'k0'), 0);
  // k0 is the newest now: hits on it move nothing, and the old newest is not newest any more.
  assert.equal(lruGet(map, 'k0'), 0);
  assert.equal(lruGet(map, newest), config.scriptCacheSize - 1);
  lruSet(map, 'extra', -1);
  assert.equal(map.size, config.scriptCacheSize);
  assert.equal(map.has('k1'), false, 'the oldest entry goes');
  assert.equal(map.has('k0'), true, 'a hit entry stays');
  assert.deepEqual([...map.keys()].slice(-3), ['k0', newest, 'extra']);
});

it('moves a key set again to the end', () => {
  const map = filled();
  lruSet(map, 'k0', 'again');
  lruSet(map, 'extra', -1);
  assert.equal(map.get('k0'), 'again');
  assert.equal(map.has('k1'), false);
});

it('misses leave the order alone', () => {
  const map = filled();
  assert.equal(lruGet(map, 'absent'), undefined);
  assert.deepEqual([...map.keys()][0], 'k0');
});

it('keeps the newest key per map', () => {
  const a = filled();
  const b = filled();
  lruGet(a, 'k0');
  // b's newest is still its last key: a hit on k0 there moves it.
  lruGet(b, 'k0');
  assert.equal([...b.keys()].at(-1), 'k0');
  assert.equal([...a.keys()].at(-1), 'k0');
});
