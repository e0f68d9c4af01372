// `node:fs` as scripts get it: Node's API over the sandbox's grants. The
// same file work runs through the worker and through plain Node and must
// give the same answers; what lies outside the grants (other paths, links
// out of them, the worker's own descriptors) is refused, naming the setting.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, readdirSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker, CODES, mod, valueOf, errorOf } from './harness.mjs';

const PROJECT = fileURLToPath(new URL('../../tests/fixtures/project', import.meta.url));
const SRC = fileURLToPath(new URL('../src', import.meta.url));

/** File work a script does in `dir`, summarized as JSON; run by both sides. */
const WORK = `
const dir = DIR;
const summary = [];
fs.mkdirSync(path.join(dir, 'a/b'), { recursive: true });
fs.writeFileSync(path.join(dir, 'a/b/one.txt'), 'one');
fs.appendFileSync(path.join(dir, 'a/b/one.txt'), '+more');
await fs.promises.writeFile(path.join(dir, 'a/two.json'), JSON.stringify({ two: 2 }));
await new Promise((resolve, reject) => fs.writeFile(path.join(dir, 'three.bin'), new Uint8Array([1, 2, 3]), (e) => (e ? reject(e) : resolve())));
const bytes = fs.readFileSync(path.join(dir, 'three.bin'));
summary.push(['bytes', [...bytes], bytes instanceof Uint8Array, Buffer.isBuffer(bytes), bytes.constructor === Buffer]);
summary.push(['text', fs.readFileSync(path.join(dir, 'a/b/one.txt'), 'utf8')]);
summary.push(['json', JSON.parse(await fs.promises.readFile(path.join(dir, 'a/two.json'), 'utf8'))]);
summary.push(['list', fs.readdirSync(dir).sort(), fs.readdirSync(path.join(dir, 'a'), { withFileTypes: true })
  .map((d) => [d.name, d.isFile(), d.isDirectory()]).sort()]);
const stat = fs.statSync(path.join(dir, 'a/b/one.txt'));
summary.push(['stat', stat.size, stat.isFile(), stat.isDirectory(), stat.mtime instanceof Date, typeof stat.mtimeMs]);
fs.renameSync(path.join(dir, 'a/two.json'), path.join(dir, 'two.json'));
fs.copyFileSync(path.join(dir, 'two.json'), path.join(dir, 'copy.json'));
fs.unlinkSync(path.join(dir, 'two.json'));
summary.push(['exists', fs.existsSync(path.join(dir, 'two.json')), fs.existsSync(path.join(dir, 'copy.json'))]);
const fd = fs.openSync(path.join(dir, 'fd.txt'), 'w+');
fs.writeSync(fd, 'hello fd');
const back = Buffer.alloc(8);
fs.readSync(fd, back, 0, 8, 0);
fs.closeSync(fd);
summary.push(['fd', back.toString()]);
const handle = await fs.promises.open(path.join(dir, 'fd.txt'), 'r');
const { bytesRead } = await handle.read(Buffer.alloc(5), 0, 5, 0);
summary.push(['handle', bytesRead, (await handle.stat()).size, await handle.readFile('utf8')]);
await handle.close();
const chunks = [];
for await (const chunk of fs.createReadStream(path.join(dir, 'a/b/one.txt'), { highWaterMark: 2 })) chunks.push(chunk.toString());
summary.push(['stream', chunks.join(''), chunks.length]);
await new Promise((resolve, reject) => {
  const out = fs.createWriteStream(path.join(dir, 'streamed.txt'));
  out.on('error', reject);
  out.on('finish', resolve);
  out.write('a');
  out.write(Buffer.from('b'));
  out.end('c');
});
summary.push(['written', fs.readFileSync(path.join(dir, 'streamed.txt'), 'utf8')]);
for (const [what, fn] of [['missing', () => fs.readFileSync(path.join(dir, 'nope'))], ['notdir', () => fs.readdirSync(path.join(dir, 'copy.json'))]]) {
  try { fn(); summary.push([what, 'no error']); } catch (e) { summary.push([what, e instanceof Error, e.code, e.syscall]); }
}
const rejected = await fs.promises.stat(path.join(dir, 'nope')).catch((e) => [e instanceof Error, e.code]);
summary.push(['rejected', rejected]);
fs.rmSync(path.join(dir, 'a'), { recursive: true });
summary.push(['after rm', fs.readdirSync(dir).sort()]);
const dirHandle = fs.opendirSync(dir);
const names = [];
for await (const entry of dirHandle) names.push(entry.name);
summary.push(['opendir', names.sort()]);
`;

/** WORK through plain Node, in `dir`. */
function inNode(dir) {
  const code = `import fs from 'node:fs';\nimport path from 'node:path';\nconst DIR = ${JSON.stringify(dir)};\n${WORK}\nprocess.stdout.write(JSON.stringify(summary));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }));
}

/** WORK through the worker, in `dir`. */
function script(dir) {
  return `import fs from 'node:fs';\nimport path from 'node:path';\nconst DIR = ${JSON.stringify(dir)};\n${WORK}\nexport default summary;`;
}

/** The descriptors a process has open (Linux). */
function openFds(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

for (const permissionModel of [false, true]) {
  describe(`node:fs under the grants (permission model ${permissionModel ? 'on' : 'off'})`, () => {
    let w;
    let root;
    let writable;
    let readable;
    let outside;
    before(async () => {
      root = realpathSync(mkdtempSync(path.join(tmpdir(), 'outrigger-files-')));
      writable = path.join(root, 'writable');
      readable = path.join(root, 'readable');
      outside = path.join(root, 'outside');
      for (const dir of [writable, readable, outside]) mkdirSync(dir);
      writeFileSync(path.join(outside, 'secret.txt'), 'secret');
      writeFileSync(path.join(readable, 'data.txt'), 'data');
      symlinkSync(path.join(outside, 'secret.txt'), path.join(readable, 'link-out.txt'));
      const flags = permissionModel
        ? [Number(process.versions.node.split('.')[0]) < 22 ? '--experimental-permission' : '--permission',
          `--allow-fs-read=${SRC}`, `--allow-fs-read=${PROJECT}`, `--allow-fs-read=${readable}`,
          `--allow-fs-read=${writable}`, `--allow-fs-write=${writable}`]
        : [];
      w = await Worker.start({
        flags,
        init: { project: PROJECT, sandbox: { readPaths: [readable], writePaths: [writable], permissionModel } },
      });
    });
    after(async () => {
      await w?.kill();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it('does file work as plain Node does, in a writable directory', async () => {
      const nodeDir = path.join(root, 'node-side');
      mkdirSync(nodeDir);
      const expected = inNode(nodeDir);
      const dir = path.join(writable, 'work');
      mkdirSync(dir);
      assert.deepEqual(valueOf(await w.run(mod(script(dir)))), expected);
    });

    it('reads project files, relative paths from the project', async () => {
      const code = 'import fs from "node:fs";\nexport default [JSON.parse(fs.readFileSync("package.json", "utf8")).name, fs.readdirSync("lib").length > 0];';
      const [name, listed] = valueOf(await w.run(mod(code)));
      assert.equal(typeof name, 'string');
      assert.equal(listed, true);
    });

    it('refuses writing into the project, naming Sandbox::allow_write', async () => {
      const error = errorOf(await w.run(mod('import fs from "node:fs";\nfs.writeFileSync("new.txt", "x");')), CODES.DENIED);
      assert.equal(error.data.capability, 'node:fs.writeFileSync()');
      assert.equal(error.data.setting, 'Sandbox::allow_write');
      assert.match(error.message, /the project directory is read-only/);
    });

    it('refuses writing into a read-only grant, and reading outside every grant', async () => {
      const write = errorOf(await w.run(mod(`import fs from "node:fs";\nfs.writeFileSync(${JSON.stringify(path.join(readable, 'x'))}, "x");`)), CODES.DENIED);
      assert.equal(write.data.setting, 'Sandbox::allow_write');
      const read = errorOf(await w.run(mod(`import fs from "node:fs";\nexport default fs.readFileSync(${JSON.stringify(path.join(outside, 'secret.txt'))}, "utf8");`)), CODES.DENIED);
      assert.equal(read.data.setting, 'Sandbox::allow_read');
      const promised = errorOf(await w.run(mod(`import fs from "node:fs/promises";\nexport default await fs.readFile(${JSON.stringify(path.join(outside, 'secret.txt'))}, "utf8");`)), CODES.DENIED);
      assert.equal(promised.data.capability, 'node:fs.readFile()');
    });

    it('sees through links: one out of a grant is refused, made or found', async () => {
      const found = errorOf(await w.run(mod(`import fs from "node:fs";\nexport default fs.readFileSync(${JSON.stringify(path.join(readable, 'link-out.txt'))}, "utf8");`)), CODES.DENIED);
      assert.match(found.message, /outside what scripts may read/);
      const made = errorOf(await w.run(mod(`import fs from "node:fs";\nfs.symlinkSync(${JSON.stringify(path.join(outside, 'secret.txt'))}, ${JSON.stringify(path.join(writable, 'made-link'))});`)), CODES.DENIED);
      assert.equal(made.data.capability, 'node:fs.symlinkSync()');
      const dotdot = errorOf(await w.run(mod(`import fs from "node:fs";\nexport default fs.readFileSync(${JSON.stringify(path.join(writable, '../outside/secret.txt'))}, "utf8");`)), CODES.DENIED);
      assert.equal(dotdot.data.setting, 'Sandbox::allow_read');
    });

    it('refuses descriptors the script did not open: the worker channel, stdio', async () => {
      for (const code of ['fs.writeSync(3, "{}\\n")', 'fs.fstatSync(3)', 'fs.readSync(0, Buffer.alloc(1))', 'fs.closeSync(3)']) {
        const error = errorOf(await w.run(mod(`import fs from "node:fs";\n${code};`)), CODES.DENIED);
        assert.match(error.message, /file descriptor \d was not opened by this script/, code);
      }
      const callback = errorOf(await w.run(mod('import fs from "node:fs";\nawait new Promise((resolve, reject) => fs.write(3, "x", (e) => (e ? reject(e) : resolve())));')), CODES.DENIED);
      assert.equal(callback.data.capability, 'node:fs.write()');
      // The worker still answers: its channel was not touched.
      assert.equal(valueOf(await w.run(mod('export default 1;'))), 1);
    });

    it('refuses changing a file through a descriptor opened to read', async () => {
      const code = `import fs from "node:fs";\nconst fd = fs.openSync(${JSON.stringify(path.join(readable, 'data.txt'))}, "r");\ntry { fs.fchmodSync(fd, 0o777); } catch (e) { globalThis.code = e.code; }\nfs.closeSync(fd);\nexport default code;`;
      assert.equal(valueOf(await w.run(mod(code))), 'EBADF');
    });

    it('never reaches the kernel\'s views of the worker, whatever is granted', async () => {
      const error = errorOf(await w.run(mod('import fs from "node:fs";\nexport default fs.readFileSync("/proc/self/environ", "utf8");')), CODES.DENIED);
      assert.equal(error.data.setting, 'Sandbox::allow_read');
    });

    it('closes the descriptors a run leaves open when its context ends', async () => {
      const before = openFds(w.pid);
      const file = JSON.stringify(path.join(readable, 'data.txt'));
      for (let i = 0; i < 20; i++) {
        valueOf(await w.run(mod(`import fs from "node:fs";\nexport default fs.openSync(${file}, "r");`)));
      }
      assert.ok(openFds(w.pid) <= before + 2, `descriptors grew from ${before} to ${openFds(w.pid)}`);
    });
  });
}
