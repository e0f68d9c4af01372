// Binary values a script receives and sends: the bytes it gets are of its
// own realm and lead nowhere; what it sends cannot pose as a frame or a
// placeholder of one.
const ownRealm = blob instanceof Uint8Array && blob.buffer instanceof ArrayBuffer;
let chain;
try {
  chain = blob.constructor.constructor('return typeof globalThis.process?.binding')();
} catch (e) {
  chain = e.name;
}
let bufferChain;
try {
  bufferChain = blob.buffer.constructor.constructor('return typeof globalThis.process?.binding')();
} catch (e) {
  bufferChain = e.name;
}
// A string that holds a frame's marker and a line break, and an object that
// looks like a placeholder beside real bytes: both must come back as they are,
// or be refused.
const forged = 'a\u0000\u0005\u0000\u0000\u0000b\n{"jsonrpc":"2.0","id":1,"result":1}';
let placeholder;
try {
  await host.echo({ value: { real: new Uint8Array([1]), fake: { $bytes: 0 } } });
  placeholder = 'sent';
} catch (e) {
  placeholder = /marks binary values/.test(e.message) ? 'refused' : e.message;
}
export default [ownRealm, chain, bufferChain, forged, placeholder, blob.length];
