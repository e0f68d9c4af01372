// The kernel's views of the worker process: its environment, memory, open descriptors.
import fs from 'node:fs';
export default fs.readFileSync('/proc/self/environ', 'utf8');
