// A link found in a readable directory (placed there by someone else), pointing out of every grant.
import fs from 'node:fs';
import path from 'node:path';
export default fs.readFileSync(path.join(dir, 'found-link'), 'utf8');
