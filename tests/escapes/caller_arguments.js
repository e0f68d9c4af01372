// .caller from a callback the worker calls: modules are strict, so reading it throws.
let seen = 'none';
function sloppy() { try { const c = sloppy.caller; seen = c === null ? 'null' : typeof c; } catch (e) { seen = e.name; } }
const arr = [1];
arr.forEach(sloppy);
let fromTimer = 'none';
await new Promise((resolve) => setTimeout(function t() { try { fromTimer = t.caller === null ? 'null' : typeof t.caller; } catch (e) { fromTimer = e.name; } resolve(); }, 0));
export default [seen, fromTimer];
