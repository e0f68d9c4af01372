// Lent worker APIs are deep-frozen: changing them fails (or is a no-op) for everyone.
const out = [];
for (const f of [() => { URL.prototype.toString = () => 'hijacked'; }, () => { Headers.prototype.get = () => 'hijacked'; },
                 () => { Object.getPrototypeOf(signal ?? {}).foo = 1; }]) {
  try { 'use strict'; f(); out.push(URL.prototype.toString === URL.prototype.toString ? 'no error' : 'x'); } catch (e) { out.push(e.name); }
}
export default [out, new URL('https://a.test/').toString()];
