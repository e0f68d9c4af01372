// Performance entries are the context's own: another run's marks and the
// worker's resource timings are not there, and what this run marks stays.
import { performance as hooked } from 'node:perf_hooks';
const before = performance.getEntries().map((e) => e.name);
performance.mark('mine');
await fetch('data:text/plain,x').then((r) => r.text());
export default [before, performance.getEntriesByType('resource').length, hooked.getEntriesByName('mine').length, hooked === performance];
