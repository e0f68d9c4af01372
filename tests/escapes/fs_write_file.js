import fs from 'node:fs';
let r; try { fs.writeFileSync('/tmp/outrigger-escape-write', 'x'); r = 'written'; } catch (e) { r = e.code ?? e.name; }
export default r;
