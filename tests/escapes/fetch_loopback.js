const out = [];
for (const u of ['http://127.0.0.1:' + port + '/', 'http://[::1]:' + port + '/', 'http://localhost:' + port + '/', 'http://0.0.0.0:' + port + '/', 'http://2130706433:' + port + '/']) {
  try { await fetch(u); out.push('reached'); } catch (e) { out.push(e.message.includes('Sandbox::allow_fetch') ? 'refused' : e.message); }
}
export default out;
