// `node:fs` under a mount (`PoolBuilder::mount`): the host's file store
// answers, whole files at a time, over the worker's file channel (fd 4,
// see crates/host/src/engine/mounts.rs). Every call is synchronous there:
// Node's sync functions must answer before they return, and the callback
// and promise forms are the same call made a turn later (17_files.mjs).
// Opened files live in memory until closed (or until their context ends),
// then are written back whole. Directories are what the store says: those
// its files imply, and the ones `mkdir` asks it to keep.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Buffer } from 'node:buffer';
import { config } from './02_config.mjs';

const FILES_FD = 4;
const EMPTY = Buffer.alloc(0);

/** The mount `absolute` lies under: its number and the path within it; else undefined. */
export function mountOf(absolute) {
  for (let index = 0; index < config.mounts.length; index++) {
    const root = config.mounts[index];
    if (absolute === root) return { index, rel: '' };
    if (absolute.startsWith(root + '/')) return { index, rel: absolute.slice(root.length + 1) };
  }
  return undefined;
}

const DESCRIPTIONS = {
  ENOENT: 'no such file or directory', EEXIST: 'file already exists', EISDIR: 'illegal operation on a directory',
  ENOTDIR: 'not a directory', ENOTEMPTY: 'directory not empty', EXDEV: 'cross-device link not permitted',
  EBADF: 'bad file descriptor', EINVAL: 'invalid argument', ENOTSUP: 'operation not supported on socket',
  EACCES: 'permission denied', EIO: 'i/o error', EFBIG: 'file too large',
};

/** An error as Node's file functions throw them. */
export function fileError(code, syscall, file, detail) {
  const where = file === undefined ? '' : ` '${file}'`;
  const error = new Error(`${code}: ${detail ?? DESCRIPTIONS[code] ?? code}, ${syscall}${where}`);
  error.errno = -(os.constants.errno[code] ?? 5);
  error.code = code;
  error.syscall = syscall;
  if (file !== undefined) error.path = file;
  return error;
}

/** Leftover bytes read past an answer (none, as answers come one at a time). */
let unread = EMPTY;

function readSome() {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  const n = fs.readSync(FILES_FD, chunk, 0, chunk.length, null);
  if (n === 0) throw fileError('EIO', 'read', undefined, "the host's file channel is closed");
  unread = unread.length === 0 ? chunk.subarray(0, n) : Buffer.concat([unread, chunk.subarray(0, n)]);
}

function writeAll(bytes) {
  let offset = 0;
  while (offset < bytes.length) offset += fs.writeSync(FILES_FD, bytes, offset, bytes.length - offset);
}

/** One request to the store of mount `index`, answered: `{ ok, bytes }`, or a thrown Node error. */
function ask(op, index, rel, syscall, file, payload = EMPTY) {
  writeAll(Buffer.from(JSON.stringify({ op, mount: index, path: rel, len: payload.length }) + '\n'));
  if (payload.length > 0) writeAll(payload);
  let newline;
  while ((newline = unread.indexOf(10)) < 0) readSome();
  const answer = JSON.parse(unread.subarray(0, newline).toString('utf8'));
  unread = unread.subarray(newline + 1);
  const length = answer.len ?? 0;
  while (unread.length < length) readSome();
  const bytes = Buffer.from(unread.subarray(0, length));
  unread = unread.subarray(length);
  if (answer.error) throw fileError(answer.error.code, syscall, file, answer.error.message);
  return { ok: answer.ok, bytes };
}

/** One mount's store, as the file operations below use it. */
function storeOf(where, syscall) {
  const { index, rel, absolute } = where;
  return {
    read: () => {
      const { ok, bytes } = ask('read', index, rel, syscall, absolute);
      return ok.found ? bytes : undefined;
    },
    write: (bytes) => void ask('write', index, rel, syscall, absolute, bytes),
    list: (sub = rel) => ask('list', index, sub, syscall, absolute).ok.entries,
    stat: (sub = rel) => ask('stat', index, sub, syscall, absolute).ok.info,
    remove: (sub = rel) => ask('remove', index, sub, syscall, absolute).ok.removed,
    mkdir: (sub = rel) => void ask('mkdir', index, sub, syscall, absolute),
  };
}

function statsRecord(info) {
  const time = info.mtimeMs ?? 0;
  const size = info.dir ? 0 : info.size;
  return {
    dev: 0, mode: info.dir ? 0o40755 : 0o100644, nlink: 1, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    rdev: 0, blksize: 4096, ino: 0, size, blocks: Math.ceil(size / 512),
    atimeMs: time, mtimeMs: time, ctimeMs: time, birthtimeMs: time,
  };
}

function encodingOf(options) {
  return typeof options === 'string' ? options : options?.encoding ?? undefined;
}

function bytesOf(data, options) {
  if (typeof data === 'string') return Buffer.from(data, encodingOf(options) ?? 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw Object.assign(new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.'), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
}

const join = (dir, name) => (dir === '' ? name : `${dir}/${name}`);

/** The flags of `open` as what they ask for. */
function openMode(flags = 'r') {
  if (typeof flags === 'number') {
    const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL } = fs.constants;
    return {
      read: (flags & 3) !== O_WRONLY, write: (flags & (O_WRONLY | O_RDWR)) !== 0, create: (flags & O_CREAT) !== 0,
      truncate: (flags & O_TRUNC) !== 0, append: (flags & O_APPEND) !== 0, exclusive: (flags & O_EXCL) !== 0,
    };
  }
  const text = String(flags);
  const plus = text.includes('+');
  const kind = text.replace(/[sx+]/g, '');
  return {
    read: kind === 'r' || plus, write: kind !== 'r' || plus, create: kind !== 'r', truncate: kind === 'w',
    append: kind === 'a', exclusive: text.includes('x'),
  };
}

let nextVirtualFd = 1 << 24;

/**
 * The file operation `op` on paths under mounts: `paths` has, for each
 * path argument, `{ absolute, index?, rel? }` (a mount's when `index` is
 * set). `fds` holds the context's descriptors; `real(text, access)` checks
 * and resolves a path outside the mounts (for copies across). Returns the
 * result as 17_files.mjs describes results (stats and entries as records).
 */
export function mountOperation(op, args, paths, fds, real) {
  const syscall = SYSCALLS[op] ?? op;
  const where = paths[0];
  if (typeof args[0] === 'number') return onOpenFile(op, args, fds);
  const store = where.index === undefined ? undefined : storeOf(where, syscall);
  const file = where.absolute;
  const info = () => store.stat();
  switch (op) {
    case 'exists':
      return info() != null;
    case 'access':
      if (info() == null) throw fileError('ENOENT', syscall, file);
      return undefined;
    case 'stat':
    case 'lstat': {
      const found = info();
      if (found == null) {
        if (args[1]?.throwIfNoEntry === false) return undefined;
        throw fileError('ENOENT', syscall, file);
      }
      return statsRecord(found);
    }
    case 'realpath':
      if (info() == null) throw fileError('ENOENT', syscall, file);
      return file;
    case 'readlink':
      if (info() == null) throw fileError('ENOENT', syscall, file);
      throw fileError('EINVAL', syscall, file);
    case 'readFile': {
      const bytes = store.read();
      if (bytes === undefined) {
        // Node opens a directory fine and fails on reading it.
        if (info()?.dir) throw fileError('EISDIR', 'read');
        throw fileError('ENOENT', syscall, file);
      }
      const encoding = encodingOf(args[1]);
      return encoding && encoding !== 'buffer' ? bytes.toString(encoding) : bytes;
    }
    case 'writeFile':
    case 'appendFile': {
      const options = args[2];
      const flag = typeof options === 'object' && options !== null ? options.flag : undefined;
      const mode = openMode(flag ?? (op === 'appendFile' ? 'a' : 'w'));
      const found = info();
      if (found?.dir) throw fileError('EISDIR', syscall, file);
      if (found != null && mode.exclusive) throw fileError('EEXIST', syscall, file);
      const data = bytesOf(args[1], options);
      store.write(mode.append && found != null ? Buffer.concat([store.read() ?? EMPTY, data]) : data);
      return undefined;
    }
    case 'truncate': {
      const bytes = store.read();
      if (bytes === undefined) throw fileError(info()?.dir ? 'EISDIR' : 'ENOENT', syscall, file);
      const length = Math.max(0, Number(args[1] ?? 0));
      const out = Buffer.alloc(length);
      bytes.copy(out, 0, 0, Math.min(length, bytes.length));
      store.write(out);
      return undefined;
    }
    case 'readdir':
      return readDirectory(store, where, args[1], syscall);
    case 'mkdir':
      return makeDirectory(store, where, args[1], syscall);
    case 'mkdtemp': {
      const suffix = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
      const made = { ...where, absolute: where.absolute + suffix, rel: where.rel + suffix };
      makeDirectory(storeOf(made, syscall), made, {}, syscall);
      return made.absolute;
    }
    case 'unlink': {
      const found = info();
      if (found == null) throw fileError('ENOENT', syscall, file);
      if (found.dir) throw fileError('EISDIR', syscall, file);
      store.remove();
      return undefined;
    }
    case 'rmdir': {
      const found = info();
      if (found == null) throw fileError('ENOENT', syscall, file);
      if (!found.dir) throw fileError('ENOTDIR', syscall, file);
      if (store.list().length > 0) {
        if (!args[1]?.recursive) throw fileError('ENOTEMPTY', syscall, file);
        removeTree(store, where.rel);
      }
      store.remove();
      return undefined;
    }
    case 'rm': {
      const found = info();
      if (found == null) {
        if (args[1]?.force) return undefined;
        throw fileError('ENOENT', 'stat', file);
      }
      if (found.dir) {
        if (!args[1]?.recursive) {
          throw Object.assign(new Error(`Path is a directory: rm returned EISDIR (is a directory) ${file}`), {
            code: 'ERR_FS_EISDIR', errno: 21, syscall: 'rm', path: file,
          });
        }
        removeTree(store, where.rel);
      }
      store.remove();
      return undefined;
    }
    case 'rename':
      return rename(store, paths, syscall);
    case 'copyFile':
      return copyFile(paths, args, real, syscall);
    case 'chmod':
    case 'chown':
    case 'lchown':
    case 'utimes':
    case 'lutimes':
      // A store keeps no modes, owners or times of its own: the file must exist.
      if (info() == null) throw fileError('ENOENT', syscall, file);
      return undefined;
    case 'open':
      return openFile(store, where, args[1], fds, syscall);
    default:
      throw fileError('ENOTSUP', syscall, file, `fs.${op} is not available under a host mount (whole files, directories, opened files and streams are)`);
  }
}

const SYSCALLS = { readFile: 'open', writeFile: 'open', appendFile: 'open', readdir: 'scandir', exists: 'access', rm: 'rm', copyFile: 'copyfile' };

function readDirectory(store, where, options, syscall) {
  const found = store.stat();
  if (found == null) throw fileError('ENOENT', syscall, where.absolute);
  if (!found.dir) throw fileError('ENOTDIR', syscall, where.absolute);
  const results = [];
  const walk = (rel, prefix, absolute) => {
    for (const entry of store.list(rel)) {
      const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (options?.withFileTypes) {
        results.push({ name: entry.name, parentPath: absolute, type: entry.dir ? 'dir' : 'file' });
      } else {
        results.push(encodingOf(options) === 'buffer' ? Buffer.from(name) : name);
      }
      if (options?.recursive && entry.dir) walk(join(rel, entry.name), name, `${absolute}/${entry.name}`);
    }
  };
  walk(where.rel, '', where.absolute);
  return results;
}

function makeDirectory(store, where, options, syscall) {
  const recursive = typeof options === 'object' && options !== null && options.recursive;
  const found = store.stat();
  if (found != null) {
    if (recursive && found.dir) return undefined;
    throw fileError('EEXIST', syscall, where.absolute);
  }
  const parts = where.rel.split('/');
  let first;
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join('/');
    const parentInfo = store.stat(parent);
    if (parentInfo == null) {
      if (!recursive) throw fileError('ENOENT', syscall, where.absolute);
      store.mkdir(parent);
      first ??= where.absolute.slice(0, where.absolute.length - where.rel.length) + parent;
    } else if (!parentInfo.dir) {
      throw fileError('ENOTDIR', syscall, where.absolute);
    }
  }
  store.mkdir();
  return recursive ? first ?? where.absolute : undefined;
}

function removeTree(store, rel) {
  for (const entry of store.list(rel)) {
    const child = join(rel, entry.name);
    if (entry.dir) removeTree(store, child);
    store.remove(child);
  }
}

function rename(store, paths, syscall) {
  const [from, to] = paths;
  if (to.index !== from.index) throw fileError('EXDEV', syscall, from.absolute);
  const target = storeOf(to, syscall);
  const found = store.stat();
  if (found == null) throw fileError('ENOENT', syscall, from.absolute);
  if (from.rel === to.rel) return undefined;
  if (!found.dir) {
    if (target.stat()?.dir) throw fileError('EISDIR', syscall, from.absolute);
    target.write(store.read() ?? EMPTY);
    store.remove();
    return undefined;
  }
  if (to.rel.startsWith(from.rel + '/')) throw fileError('EINVAL', syscall, from.absolute);
  const move = (rel, into) => {
    target.mkdir(into);
    for (const entry of store.list(rel)) {
      const child = join(rel, entry.name);
      const moved = join(into, entry.name);
      if (entry.dir) {
        move(child, moved);
      } else {
        const data = storeOf({ ...from, rel: child }, syscall).read() ?? EMPTY;
        storeOf({ ...to, rel: moved }, syscall).write(data);
      }
      store.remove(child);
    }
  };
  move(from.rel, to.rel);
  store.remove();
  return undefined;
}

function copyFile(paths, args, real, syscall) {
  const [from, to] = paths;
  const exclusive = (Number(args[2] ?? 0) & fs.constants.COPYFILE_EXCL) !== 0;
  let bytes;
  if (from.index === undefined) {
    bytes = fs.readFileSync(real(from.absolute, 'read'));
  } else {
    bytes = storeOf(from, syscall).read();
    if (bytes === undefined) throw fileError('ENOENT', syscall, from.absolute);
  }
  if (to.index === undefined) {
    fs.writeFileSync(real(to.absolute, 'write'), bytes, { flag: exclusive ? 'wx' : 'w' });
  } else {
    const target = storeOf(to, syscall);
    if (exclusive && target.stat() != null) {
      const error = fileError('EEXIST', syscall, from.absolute);
      error.message = `EEXIST: file already exists, copyfile '${from.absolute}' -> '${to.absolute}'`;
      error.dest = to.absolute;
      throw error;
    }
    target.write(bytes);
  }
  return undefined;
}

function openFile(store, where, flags, fds, syscall) {
  const mode = openMode(flags ?? 'r');
  const found = store.stat();
  if (found?.dir && mode.write) throw fileError('EISDIR', syscall, where.absolute);
  if (found != null && mode.exclusive) throw fileError('EEXIST', syscall, where.absolute);
  if (found == null && !mode.create) throw fileError('ENOENT', syscall, where.absolute);
  const data = mode.truncate || found == null || found.dir ? EMPTY : store.read() ?? EMPTY;
  const fd = nextVirtualFd++;
  fds.set(fd, {
    write: mode.write,
    mounted: { store, where, data: Buffer.from(data), length: data.length, position: 0, dirty: found == null || mode.truncate, mode },
  });
  return fd;
}

/** Writes an open file back to its store when it changed. */
export function flushOpenFile(open) {
  if (!open.dirty) return;
  open.store.write(open.data.subarray(0, open.length));
  open.dirty = false;
}

function grow(open, size) {
  if (size <= open.data.length) return;
  const bigger = Buffer.alloc(Math.max(size, open.data.length * 2, 4096));
  open.data.copy(bigger, 0, 0, open.length);
  open.data = bigger;
}

/** An operation on a descriptor of a file opened under a mount. */
function onOpenFile(op, args, fds) {
  const fd = args[0];
  const entry = fds.get(fd);
  const open = entry.mounted;
  switch (op) {
    case 'close':
      flushOpenFile(open);
      fds.delete(fd);
      return undefined;
    case 'fsync':
    case 'fdatasync':
      flushOpenFile(open);
      return undefined;
    case 'fstat':
      return statsRecord({ dir: false, size: open.length, mtimeMs: Date.now() });
    case 'fchmod':
    case 'fchown':
    case 'futimes':
      return undefined;
    case 'ftruncate': {
      const length = Math.max(0, Number(args[1] ?? 0));
      grow(open, length);
      if (length > open.length) open.data.fill(0, open.length, length);
      open.length = length;
      open.dirty = true;
      return undefined;
    }
    case 'read': {
      let [, buffer, offset, length, position] = args;
      if (!ArrayBuffer.isView(buffer)) {
        const options = buffer ?? {};
        ({ buffer, offset = 0, length, position = null } = options);
      } else if (offset !== null && typeof offset === 'object') {
        ({ offset = 0, length, position = null } = offset);
      }
      offset ??= 0;
      length ??= buffer.byteLength - offset;
      const at = typeof position === 'number' && position >= 0 ? position : open.position;
      const count = Math.max(0, Math.min(length, open.length - at));
      const target = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      open.data.copy(target, offset, at, at + count);
      if (!(typeof position === 'number' && position >= 0)) open.position += count;
      return count;
    }
    case 'write': {
      let bytes;
      let position;
      if (typeof args[1] === 'string') {
        bytes = Buffer.from(args[1], args[3] ?? 'utf8');
        position = args[2];
      } else {
        const view = bytesOf(args[1]);
        const offset = typeof args[2] === 'object' && args[2] !== null ? args[2].offset ?? 0 : args[2] ?? 0;
        const length = typeof args[2] === 'object' && args[2] !== null ? args[2].length ?? view.length - offset : args[3] ?? view.length - offset;
        position = typeof args[2] === 'object' && args[2] !== null ? args[2].position : args[4];
        bytes = view.subarray(offset, offset + length);
      }
      return writeAt(open, bytes, position);
    }
    case 'writev': {
      let total = 0;
      for (const view of args[1]) total += writeAt(open, bytesOf(view), total === 0 ? args[2] : null);
      return total;
    }
    case 'readv': {
      let total = 0;
      for (const view of args[1]) total += onOpenFile('read', [fd, view, 0, view.byteLength, null], fds);
      return total;
    }
    case 'readFile': {
      const bytes = Buffer.from(open.data.subarray(open.position, open.length));
      open.position = open.length;
      const encoding = encodingOf(args[1]);
      return encoding && encoding !== 'buffer' ? bytes.toString(encoding) : bytes;
    }
    case 'writeFile':
    case 'appendFile':
      writeAt(open, bytesOf(args[1], args[2]), null);
      return undefined;
    default:
      throw fileError('ENOTSUP', op, undefined, `fs.${op} is not available on a file opened under a host mount`);
  }
}

function writeAt(open, bytes, position) {
  const explicit = typeof position === 'number' && position >= 0;
  const at = open.mode.append ? open.length : explicit ? position : open.position;
  grow(open, at + bytes.length);
  if (at > open.length) open.data.fill(0, open.length, at);
  bytes.copy(open.data, at);
  open.length = Math.max(open.length, at + bytes.length);
  if (!explicit) open.position = at + bytes.length;
  open.dirty = true;
  return bytes.length;
}
