// Pollute what can be polluted; another run must not see it.
Object.prototype.polluted = 'yes';
Array.prototype.push = () => 'hijacked';
JSON.parse = () => ({ hijacked: true });
globalThis.leftBehind = 'secret';
console.log('secret log of run one');
export default 'polluted';
