// The URL checked must be the URL fetched: a Request whose url property lies,
// and an input whose toString changes between reads.
const out = [];
const req = new Request(url);
Object.defineProperty(req, 'url', { value: allowed });
try { await fetch(req); out.push('reached'); } catch (e) { out.push(e.message.includes('Sandbox::allow_fetch') ? 'refused' : e.message); }
let reads = 0;
const shifty = { toString() { reads++; return reads === 1 ? allowed : url; } };
try { const r = await fetch(shifty); out.push(reads === 1 ? 'one read' : 'reached ' + r.status); } catch (e) { out.push(e.message.includes('Sandbox::allow_fetch') ? 'refused' : e.message); }
export default out;
