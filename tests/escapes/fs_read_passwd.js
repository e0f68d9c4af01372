import fs from 'node:fs';
let r; try { r = fs.readFileSync('/etc/passwd', 'utf8'); } catch (e) { r = e.code ?? e.name; }
export default r;
