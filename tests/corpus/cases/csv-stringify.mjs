// csv-stringify: the stream API (a Node Transform stream: write records,
// read CSV), and the sync API.
import { stringify } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';

const stream = stringify({ header: true, columns: ['id', 'name', 'note'] });
const chunks = [];
stream.on('readable', () => {
  let chunk;
  while ((chunk = stream.read()) !== null) chunks.push(chunk.toString());
});
const done = new Promise((resolve, reject) => {
  stream.on('end', resolve);
  stream.on('error', reject);
});
stream.write({ id: 1, name: 'Ada', note: 'says "hi"' });
stream.write({ id: 2, name: 'Grace', note: 'a,b' });
stream.end();
await done;

export default {
  streamed: chunks.join(''),
  sync: stringifySync([[1, true, null], ['x\ny', 2.5, '']], { quoted_string: true }),
};
