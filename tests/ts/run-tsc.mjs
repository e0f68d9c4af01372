// Runs a TypeScript module the reference way, for tests/ts_scripts.rs: the
// TypeScript compiler (js-client's devDependency) transpiles it, plain
// Node.js runs it, and its default export is printed as JSON.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(new URL('../../js-client/package.json', import.meta.url));
const ts = require('typescript');
const source = readFileSync(process.argv[2], 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
});
const dir = mkdtempSync(path.join(tmpdir(), 'outrigger-tsc-'));
const file = path.join(dir, 'case.mjs');
writeFileSync(file, outputText);
try {
  const { default: value } = await import(file);
  process.stdout.write(JSON.stringify(value ?? null));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
