// fflate: gzip (mtime fixed, so bytes are known), zip and unzip, string
// conversion helpers.
import { gzipSync, gunzipSync, zipSync, unzipSync, strToU8, strFromU8, deflateSync, inflateSync } from 'fflate';

const data = strToU8('hello fflate '.repeat(20));
const gz = gzipSync(data, { level: 6, mtime: 0 });
const zip = zipSync({ 'a.txt': strToU8('alpha'), 'dir/b.txt': [strToU8('beta'), { level: 0 }] }, { mtime: new Date(Date.UTC(2024, 1, 29)) });
const files = unzipSync(zip);

export default {
  realm: { strToU8IsUint8Array: data instanceof Uint8Array },
  gz: { length: gz.length, back: strFromU8(gunzipSync(gz)) === strFromU8(data) },
  deflate: strFromU8(inflateSync(deflateSync(strToU8('abcabcabc')))),
  zip: Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, strFromU8(bytes)])),
  zipLength: zip.length,
};
