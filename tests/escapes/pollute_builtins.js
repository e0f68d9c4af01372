// The pure built-ins are shared by every context and by the worker (whose
// channel is a stream and an event emitter): changing them fails.
import events, { EventEmitter } from 'node:events';
import stream from 'node:stream';
import util from 'node:util';
const out = [];
for (const attempt of [
  () => { EventEmitter.prototype.emit = () => false; },
  () => { stream.Readable.prototype.push = () => false; },
  () => { util.inspect = () => 'hijacked'; },
  () => { events.once = () => 'hijacked'; },
  () => { Object.defineProperty(stream.Writable.prototype, 'write', { value: () => true }); },
]) {
  try { attempt(); out.push('changed'); } catch (e) { out.push(e.name); }
}
export default [out, typeof EventEmitter.prototype.emit, util.inspect({ a: 1 })];
