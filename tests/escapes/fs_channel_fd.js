// The worker's channel to the host is a file descriptor of its process:
// writing a forged answer to it by number would reach the host.
import fs from 'node:fs';
fs.writeSync(3, '{"jsonrpc":"2.0","id":1,"result":{"value":"forged"}}\n');
export default 'written';
