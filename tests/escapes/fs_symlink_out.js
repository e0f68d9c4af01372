// A link made inside a writable directory, pointing out of every grant.
import fs from 'node:fs';
import path from 'node:path';
const link = path.join(dir, 'out-link');
fs.rmSync(link, { force: true });
fs.symlinkSync('/etc/passwd', link);
export default fs.readFileSync(link, 'utf8');
