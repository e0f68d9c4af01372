// A result with a Proxy, getters that throw, or Symbol keys cannot trip the
// worker into leaking or crashing: it is refused or stringified as data.
const evil = new Proxy({}, {
  get(_, key) { if (key === 'toJSON') return () => ({ leaked: typeof process.binding }); return undefined; },
  ownKeys() { throw new Error('ownKeys trap'); },
});
export default evil;
