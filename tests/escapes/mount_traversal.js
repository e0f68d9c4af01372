// Out of a mount by path: `..` segments, a NUL byte, the file channel's
// descriptor written by number. A mount holds only its store's files.
import fs from 'node:fs';
const out = [];
for (const attempt of [
  () => fs.readFileSync('/data/../etc/passwd', 'utf8'),
  () => fs.readFileSync('/data/a/../../etc/passwd', 'utf8'),
  () => fs.writeFileSync('/data/a\0b', 'x'),
  () => fs.writeSync(4, '{"op":"read","mount":0,"path":"../../etc/passwd","len":0}\n'),
  () => fs.readdirSync('/data/..'),
]) {
  try { const value = attempt(); out.push(typeof value === 'string' && value.includes('root:') ? 'leaked' : 'no error'); } catch (e) { out.push(e.code); }
}
export default out;
