// lru-cache: eviction order, sizes, peek, fetch with a loader.
import { LRUCache } from 'lru-cache';

const cache = new LRUCache({ max: 3 });
cache.set('a', 1).set('b', 2).set('c', 3);
cache.get('a');
cache.set('d', 4);
const sized = new LRUCache({ maxSize: 10, sizeCalculation: (value) => value.length });
sized.set('x', 'aaaa');
sized.set('y', 'bbbbbb');
sized.set('z', 'c');
const loading = new LRUCache({ max: 10, fetchMethod: async (key) => `loaded:${key}` });

export default {
  keys: [...cache.keys()],
  hasB: cache.has('b'),
  peek: cache.peek('c'),
  sized: [...sized.keys()],
  total: sized.calculatedSize,
  fetched: await loading.fetch('k'),
};
