// Runs corpus cases in plain Node.js, the reference side of tests/corpus.rs.
//
//   node tests/corpus/run-node.mjs <name>   prints the case's value as JSON
//   node tests/corpus/run-node.mjs          runs every case, each in a process
//                                           of its own, and says which fail
//
// A case is cases/<name>.mjs; its default export (awaited) is its value.
// Paths are taken from this file, so the working directory does not matter.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CASES = new URL('./cases/', import.meta.url);
const name = process.argv[2];

if (name === undefined) {
  let failed = 0;
  for (const file of readdirSync(CASES).filter((file) => file.endsWith('.mjs')).sort()) {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), file.slice(0, -'.mjs'.length)], { encoding: 'utf8' });
    const ok = run.status === 0;
    if (!ok) failed += 1;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${file}${ok ? '' : `\n${run.stderr.trim()}`}`);
  }
  console.log(`${failed} of the cases failed on Node.js ${process.version}`);
  process.exit(failed === 0 ? 0 : 1);
}

const module = await import(new URL(`${name}.mjs`, CASES).href);
process.stdout.write(`${JSON.stringify(await module.default)}\n`);
// A case may leave timers or handles behind (a cache's, a stream's); its
// value is all that counts.
process.exit(0);
