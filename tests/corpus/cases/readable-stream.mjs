// readable-stream (CommonJS, Node's streams as a package): Readable.from,
// a Transform, pipeline with a callback, async iteration.
import { Readable, Transform, Writable, pipeline } from 'readable-stream';

const upper = new Transform({
  transform(chunk, _encoding, callback) {
    callback(null, String(chunk).toUpperCase());
  },
});
const collected = [];
const sink = new Writable({
  write(chunk, _encoding, callback) {
    collected.push(String(chunk));
    callback();
  },
});
await new Promise((resolve, reject) => {
  pipeline(Readable.from(['a', 'b', 'c']), upper, sink, (error) => (error ? reject(error) : resolve()));
});

const iterated = [];
for await (const item of Readable.from([1, 2, 3], { objectMode: true })) iterated.push(item * 10);

export default { collected, iterated };
