// pako: deflate/inflate and gzip round trips on strings and bytes.
import { deflate, inflate, gzip, ungzip } from 'pako';

const text = 'outrigger '.repeat(50);
const compressed = deflate(text);
const zipped = gzip(new TextEncoder().encode(text));

export default {
  realm: { resultIsUint8Array: compressed instanceof Uint8Array },
  size: [text.length, compressed.length],
  head: Array.from(compressed.subarray(0, 4)),
  roundTrip: inflate(compressed, { toText: true }) === text,
  gunzipped: new TextDecoder().decode(ungzip(zipped)) === text,
  gzipHead: Array.from(zipped.subarray(0, 3)),
};
