// The type checker of a pool (crates/host/src/checker/mod.rs starts it):
// the real TypeScript compiler, kept warm in this process, checking scripts
// against the pool's host API (the callbacks' generated declarations), the
// script world's globals, the registered modules and the project's own
// packages. One JSON request per line on stdin, one answer per line on
// stdout:
//
//   {"id", "setup": {declarations, modules, project}}  -> {"id", "ok": true}
//   {"id", "check": {name, code}}                       -> {"id", "diagnostics": [...]}
//
// A diagnostic: {file, line, column, code, category, message}, 1-based.
// `process.argv[1]` is the path of the `typescript` module to load.

import { createRequire } from 'node:module';
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const ts = createRequire(import.meta.url)(process.argv[1]);

/** Where the checker's own files live: nowhere on disk. */
const VIRTUAL = '/__outrigger__';
const HOST_FILE = `${VIRTUAL}/host.d.ts`;
const WORLD_FILE = `${VIRTUAL}/world.d.ts`;

/**
 * What the script world has beyond the web APIs of `lib.dom` (those are
 * the same as a browser's: fetch, URL, TextEncoder, streams, crypto, ...):
 * a `process`, `Buffer`, and Node's built-in modules when the project has
 * no `@types/node`; every registered module.
 */
function worldDeclarations(modules, nodeTypes) {
  let text = '';
  if (!nodeTypes) {
    text += `declare const process: {
  env: Record<string, string | undefined>;
  argv: string[];
  version: string;
  versions: Record<string, string>;
  platform: string;
  arch: string;
  cwd(): string;
  exit(code?: number): never;
  nextTick(callback: (...args: any[]) => void, ...args: any[]): void;
  hrtime: { (time?: [number, number]): [number, number]; bigint(): bigint };
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean };
  on(event: string, listener: (...args: any[]) => void): unknown;
};
declare const Buffer: any;
declare const global: typeof globalThis;
`;
    for (const name of builtinModules) {
      text += `declare module ${JSON.stringify(name)} { const value: any; export = value; }\n`;
      text += `declare module ${JSON.stringify(`node:${name}`)} { const value: any; export = value; }\n`;
    }
  }
  for (const name of modules) text += `declare module ${JSON.stringify(name)} { const value: any; export = value; }\n`;
  return text;
}

/** Diagnostic codes that say nothing about the script's use of its world. */
const IGNORED = new Set([
  7016, // a package without types: it is `any`, as in JavaScript
]);

let service;
let files = new Map();
let scriptFile;
let projectRoot;

function setup({ declarations, modules, project }) {
  const root = project ?? VIRTUAL;
  const nodeTypes = project !== null && project !== undefined
    && ts.sys.fileExists(path.join(project, 'node_modules/@types/node/index.d.ts'));
  files = new Map([
    [HOST_FILE, { text: declarations, version: 1 }],
    [WORLD_FILE, { text: worldDeclarations(modules ?? [], nodeTypes), version: 1 }],
  ]);
  projectRoot = root;
  scriptFile = path.join(root, '__outrigger_script__.ts');
  files.set(scriptFile, { text: '', version: 0 });
  const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: nodeTypes ? ['node'] : [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    esModuleInterop: true,
    allowJs: true,
    // Every script is a module (top-level `await` included), as the worker runs it.
    moduleDetection: ts.ModuleDetectionKind.Force,
  };
  const host = {
    getScriptFileNames: () => [HOST_FILE, WORLD_FILE, scriptFile],
    getProjectVersion: () => String(projectVersion),
    getScriptVersion: (file) => String(files.get(file)?.version ?? 0),
    getScriptSnapshot: (file) => {
      const own = files.get(file);
      if (own !== undefined) return ts.ScriptSnapshot.fromString(own.text);
      if (!ts.sys.fileExists(file)) return undefined;
      return ts.ScriptSnapshot.fromString(readFileSync(file, 'utf8'));
    },
    getCurrentDirectory: () => root,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (file) => files.has(file) || ts.sys.fileExists(file),
    readFile: (file) => files.get(file)?.text ?? ts.sys.readFile(file),
    readDirectory: ts.sys.readDirectory,
    directoryExists: (dir) => dir === VIRTUAL || dir === root || ts.sys.directoryExists(dir),
    getDirectories: ts.sys.getDirectories,
  };
  service = ts.createLanguageService(host, ts.createDocumentRegistry());
  // Warm: the libraries and the host's declarations are read and bound now.
  service.getSemanticDiagnostics(scriptFile);
}

let projectVersion = 0;

function check({ name, code, file }) {
  // A script from a file is checked where it is, so that its relative
  // imports resolve; one from a string, at the project's root.
  const where = file ?? path.join(projectRoot, '__outrigger_script__.ts');
  const at = where.endsWith('.ts') || where.endsWith('.mts') ? where : `${where}.ts`;
  if (at !== scriptFile) {
    const previous = files.get(scriptFile);
    files.delete(scriptFile);
    scriptFile = at;
    files.set(scriptFile, { text: '', version: (previous?.version ?? 0) + 1 });
  }
  const entry = files.get(scriptFile);
  entry.text = code;
  entry.version += 1;
  projectVersion += 1;
  const program = service.getProgram();
  const source = program.getSourceFile(scriptFile);
  const found = [...service.getSyntacticDiagnostics(scriptFile), ...service.getSemanticDiagnostics(scriptFile)];
  return found
    .filter((d) => !IGNORED.has(d.code))
    .map((d) => {
      const at = d.file && d.start !== undefined ? (d.file ?? source).getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
      return {
        file: name,
        line: at.line + 1,
        column: at.character + 1,
        code: d.code,
        category: d.category === ts.DiagnosticCategory.Error ? 'error' : d.category === ts.DiagnosticCategory.Warning ? 'warning' : 'suggestion',
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      };
    });
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  let answer;
  try {
    if (request.setup) {
      setup(request.setup);
      answer = { id: request.id, ok: true, version: ts.version };
    } else if (request.check) {
      answer = { id: request.id, diagnostics: check(request.check) };
    } else {
      answer = { id: request.id, error: 'unknown request' };
    }
  } catch (error) {
    answer = { id: request.id, error: String(error?.stack ?? error) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
lines.on('close', () => process.exit(0));
