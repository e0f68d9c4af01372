// Files, as the sandbox grants them: the guard between a script's `node:fs`
// (built in its realm by 14_fs.mjs) and the worker's own.
//
// Every path a script names is resolved the way the kernel will (relative
// to the script's working directory, through symbolic links) and must lie
// under a grant: the project directory and `Sandbox::allow_read` paths to
// read, `Sandbox::allow_write` paths to write (and read). The check holds
// whether or not the engine's permission model is on, and sees through the
// links that model follows. File descriptors are the script's only if its
// context opened them: the worker's own (its channel to the host among
// them) are not reachable by number. A refusal is a denial naming the
// setting that would allow it. Paths under a mount of the host's file
// stores go to 16_mounts.mjs instead, whatever the grants.

import fs from 'node:fs';
import path from 'node:path';
import { Buffer } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { config } from './02_config.mjs';
import { deniedIn } from './05_errors.mjs';
import { sendLog } from './07_console.mjs';
import { mountOf, mountOperation, flushOpenFile } from './16_mounts.mjs';

const READ = 'read';
const WRITE = 'write';

/**
 * The operations a script may ask for, by the name of Node's callback
 * function (the sync one adds `Sync`): which arguments are paths, with the
 * access each needs and whether its last component is followed when it is
 * a link; `fdFirst` when the first argument may be a descriptor instead;
 * `flagsAt` when the access depends on the open flags there, `optionFlag`
 * when on an options object's `flag`.
 */
const PATH_OPS = {
  access: { paths: [[0, READ, true]] },
  exists: { paths: [[0, READ, true]] },
  readFile: { paths: [[0, READ, true]], fdFirst: true, optionFlag: 1 },
  readdir: { paths: [[0, READ, true]] },
  readlink: { paths: [[0, READ, false]] },
  realpath: { paths: [[0, READ, true]] },
  stat: { paths: [[0, READ, true]] },
  lstat: { paths: [[0, READ, false]] },
  statfs: { paths: [[0, READ, true]] },
  open: { paths: [[0, READ, true]], flagsAt: 1 },
  writeFile: { paths: [[0, WRITE, true]], fdFirst: true, optionFlag: 2 },
  appendFile: { paths: [[0, WRITE, true]], fdFirst: true, optionFlag: 2 },
  truncate: { paths: [[0, WRITE, true]] },
  chmod: { paths: [[0, WRITE, true]] },
  chown: { paths: [[0, WRITE, true]] },
  utimes: { paths: [[0, WRITE, true]] },
  lchown: { paths: [[0, WRITE, false]] },
  lutimes: { paths: [[0, WRITE, false]] },
  mkdir: { paths: [[0, WRITE, false]] },
  mkdtemp: { paths: [[0, WRITE, false]] },
  rename: { paths: [[0, WRITE, false], [1, WRITE, false]] },
  rm: { paths: [[0, WRITE, false]] },
  rmdir: { paths: [[0, WRITE, false]] },
  unlink: { paths: [[0, WRITE, false]] },
  // A hard link shares the file: writing through it writes the original.
  link: { paths: [[0, WRITE, true], [1, WRITE, false]] },
  copyFile: { paths: [[0, READ, true], [1, WRITE, true]] },
  cp: { paths: [[0, READ, true], [1, WRITE, false]] },
  symlink: { paths: [[1, WRITE, false]], linkTarget: true },
};

/** Operations on a descriptor (its first argument), and whether they change the file. */
const FD_OPS = {
  close: false, fstat: false, read: false, readv: false, fsync: false, fdatasync: false,
  write: true, writev: true, ftruncate: true, fchmod: true, fchown: true, futimes: true,
};

/** Where the kernel keeps what no grant may reach: the worker's own memory, descriptors and devices. */
const NEVER = ['/proc', '/dev/fd', '/sys'];

const O_ACCMODE = 3;
const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;

/** The grants, real paths, computed once per worker (the host sends them absolute). */
let grants;
function grantsNow() {
  if (grants === undefined) {
    const real = (file) => {
      try {
        return fs.realpathSync.native(file);
      } catch {
        return path.resolve(file);
      }
    };
    const write = config.writePaths.map(real);
    const read = [...config.readPaths.map(real), ...write];
    if (config.project !== undefined) read.push(real(config.project));
    grants = { read, write };
  }
  return grants;
}

function under(file, roots) {
  return roots.some((root) => file === root || file.startsWith(root.endsWith('/') ? root : root + '/'));
}

/** The working directory relative paths resolve from: the script's `process.cwd()`. */
function cwdOf(state) {
  return state.project ?? '/';
}

/** A path argument (string, bytes or `file:` URL) as a string, read once; refused with a NUL byte, as Node does. */
function pathText(value, name) {
  const text = pathString(value, name);
  if (text.includes('\0')) {
    throw Object.assign(new TypeError(`The argument 'path' must be a string, Uint8Array, or URL without null bytes. Received ${JSON.stringify(text)}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  return text;
}

function pathString(value, name) {
  if (typeof value === 'string') return value;
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (value !== null && typeof value === 'object') {
    const href = value.href;
    if (typeof href === 'string' && href.startsWith('file:')) return fileURLToPath(href);
  }
  throw Object.assign(new TypeError(`The "path" argument of fs.${name} must be of type string or an instance of Buffer or URL.`), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
}

/** `dir` through its links, or as far as it exists (what follows it does not exist yet). */
function realDir(dir) {
  try {
    return fs.realpathSync.native(dir);
  } catch (error) {
    const parent = path.dirname(dir);
    if (parent === dir || (error?.code !== 'ENOENT' && error?.code !== 'ENOTDIR')) return dir;
    return path.join(realDir(parent), path.basename(dir));
  }
}

/**
 * The real path `text` names, checked against the grants for `access`;
 * `follow`: whether its last component is followed when it is a link.
 */
function checkedPath(state, op, text, access, follow) {
  const absolute = path.resolve(cwdOf(state), text);
  let real = absolute === '/' ? '/' : path.join(realDir(path.dirname(absolute)), path.basename(absolute));
  if (follow) {
    try {
      real = fs.realpathSync.native(real);
    } catch {
      // It does not exist (yet): the path as its directory makes it.
    }
  }
  const roots = access === WRITE ? grantsNow().write : grantsNow().read;
  if (!under(real, roots) || under(real, NEVER)) {
    const shown = real === absolute ? absolute : `${absolute} (${real})`;
    const setting = access === WRITE ? 'Sandbox::allow_write' : 'Sandbox::allow_read';
    const why = access === WRITE
      ? `is not allowed: ${shown} is outside what scripts may write${config.project !== undefined && under(real, [config.project]) ? ' (the project directory is read-only)' : ''}`
      : `is not allowed: ${shown} is outside what scripts may read`;
    throw deniedIn(state, `node:fs.${op}()`, setting, why);
  }
  return real;
}

/** The access an `open` flags argument asks for. */
function accessOfFlags(flags) {
  if (flags === undefined || flags === null) return READ;
  if (typeof flags === 'number') {
    const mode = flags & O_ACCMODE;
    return mode !== O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) !== 0 ? WRITE : READ;
  }
  return /[wa+]/.test(String(flags)) ? WRITE : READ;
}

/** An options argument copied once into a plain object (or kept when a string or absent). */
function copiedOptions(value) {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const copy = {};
  for (const key of Object.keys(value)) copy[key] = value[key];
  return copy;
}

/** The worker-realm values a result holds, as plain data the script's realm rebuilds. */
function described(op, result, args) {
  if (op === 'stat' || op === 'lstat' || op === 'fstat') return statsRecord(result);
  if (op === 'readdir' && Array.isArray(result) && copiedOptions(args[1])?.withFileTypes) {
    return result.map((entry) => ({
      name: entry.name,
      parentPath: entry.parentPath ?? entry.path,
      type: entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : entry.isSymbolicLink() ? 'link'
        : entry.isFIFO() ? 'fifo' : entry.isSocket() ? 'socket' : entry.isCharacterDevice() ? 'char' : entry.isBlockDevice() ? 'block' : 'unknown',
    }));
  }
  if (op === 'statfs' && result !== null && typeof result === 'object') return { ...result };
  return result;
}

function statsRecord(stats) {
  if (stats === undefined || stats === null) return stats;
  return {
    dev: stats.dev, mode: stats.mode, nlink: stats.nlink, uid: stats.uid, gid: stats.gid, rdev: stats.rdev,
    blksize: stats.blksize, ino: stats.ino, size: stats.size, blocks: stats.blocks,
    atimeMs: stats.atimeMs, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, birthtimeMs: stats.birthtimeMs,
    atimeNs: stats.atimeNs, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs, birthtimeNs: stats.birthtimeNs,
  };
}

/**
 * The guard of one context: what its `node:fs` calls. `sync(op, args)` and
 * `start(op, args, done)` run Node's sync and callback functions after the
 * checks; results come back as plain data (`described`), errors as the
 * worker's (the script's realm rebuilds both).
 */
export function fileParts(state) {
  /** Descriptors this context opened: fd -> whether it may write. */
  const fds = new Map();
  state.fds = fds;

  function ownFd(op, fd, writes) {
    // `op` here is the name the script called (`readFileSync`, `readFile`).
    const entry = fds.get(fd);
    if (entry === undefined) {
      throw deniedIn(state, `node:fs.${op}()`, 'open the file with fs.open',
        `is not allowed: file descriptor ${fd} was not opened by this script`);
    }
    if (writes && !entry.write) {
      throw Object.assign(new state.Error(`EBADF: bad file descriptor, ${op}`), { code: 'EBADF', errno: -9, syscall: op });
    }
  }

  /**
   * The arguments of `op` as Node will get them: paths real and checked,
   * options copied; or, when a path lies under a mount or a descriptor is
   * of a file opened there, `mounted` with each path's place.
   */
  function prepare(op, given, called) {
    if (Object.hasOwn(FD_OPS, op)) {
      const args = Array.from(given);
      ownFd(called, args[0], FD_OPS[op]);
      if (fds.get(args[0]).mounted) return { args, mounted: [{}] };
      return { args, write: FD_OPS[op] };
    }
    const spec = PATH_OPS[op];
    if (spec === undefined) throw new state.Error(`fs.${op} is not a file operation`);
    const args = Array.from(given);
    for (let i = 1; i < args.length; i++) args[i] = copiedOptions(args[i]);
    if (spec.fdFirst && typeof args[0] === 'number') {
      ownFd(called, args[0], spec.paths[0][1] === WRITE);
      if (fds.get(args[0]).mounted) return { args, mounted: [{}] };
      return { args };
    }
    if (config.mounts.length > 0) {
      const places = spec.paths.map(([index]) => {
        const absolute = path.resolve(cwdOf(state), pathText(args[index], called));
        args[index] = absolute;
        return { absolute, ...mountOf(absolute) };
      });
      if (places.some((place) => place.index !== undefined)) return { args, mounted: places };
    }
    let openAccess;
    if (spec.flagsAt !== undefined) openAccess = accessOfFlags(args[spec.flagsAt]);
    if (spec.optionFlag !== undefined) {
      const options = args[spec.optionFlag];
      if (options !== null && typeof options === 'object' && options.flag !== undefined) openAccess = accessOfFlags(options.flag);
    }
    for (const [index, access, follow] of spec.paths) {
      const text = pathText(args[index], called);
      args[index] = checkedPath(state, called, text, openAccess === WRITE ? WRITE : access, follow);
    }
    if (spec.linkTarget) {
      // A link is checked where it is used; one made here must still point
      // within what scripts may read.
      const target = pathText(args[0], called);
      const from = path.dirname(args[1]);
      checkedPath(state, called, path.resolve(from, target), READ, true);
      args[0] = target;
    }
    if (op === 'cp') {
      // Copying must not follow links out of what scripts may read.
      args[2] = { ...(args[2] && typeof args[2] === 'object' ? args[2] : {}), dereference: false };
    }
    return { args, write: openAccess === WRITE };
  }

  function opened(op, fd, write) {
    if (op === 'open' && typeof fd === 'number') fds.set(fd, { write });
  }

  /** Checks a path outside the mounts for an operation that also has one inside. */
  const realFor = (called) => (file, access) => checkedPath(state, called, file, access, true);

  return Object.freeze({
    sync(op, given) {
      const called = op === 'exists' ? 'existsSync' : `${op}Sync`;
      const { args, write, mounted } = prepare(op, given, called);
      if (mounted) return mountOperation(op, args, mounted, fds, realFor(called));
      if (op === 'exists') return fs.existsSync(args[0]);
      const result = fs[`${op}Sync`](...args);
      opened(op, result, write);
      if (op === 'close') fds.delete(args[0]);
      return described(op, result, args);
    },
    start(op, given, done) {
      let prepared;
      try {
        prepared = prepare(op, given, op);
      } catch (error) {
        queueMicrotask(() => deliver(done, [error]));
        return;
      }
      const { args, write, mounted } = prepared;
      if (mounted) {
        // The store answers synchronously; the callback still comes later, as Node's do.
        let outcome;
        try {
          outcome = [null, mountOperation(op, args, mounted, fds, realFor(op))];
        } catch (error) {
          outcome = [error];
        }
        setImmediate(() => deliver(done, outcome));
        return;
      }
      if (op === 'close') fds.delete(args[0]);
      if (op === 'exists') {
        fs.access(args[0], (error) => deliver(done, [null, !error]));
        return;
      }
      fs[op](...args, (error, result, ...rest) => {
        if (!error) opened(op, result, write);
        deliver(done, error ? [error] : [null, described(op, result, args), ...rest]);
      });
    },
    /** Closes what the context left open. */
    closeAll() {
      for (const [fd, entry] of fds) {
        try {
          if (entry.mounted) flushOpenFile(entry.mounted);
          else fs.closeSync(fd);
        } catch {
          // Already closed by the kernel's account; nothing to free.
        }
      }
      fds.clear();
    },
    /** Refuses `op`, which no grant allows. */
    deny(op) {
      throw deniedIn(state, `node:fs.${op}()`, 'PoolBuilder::allow_builtin("node:fs")',
        'is not available to scripts: watching outlives the run');
    },
    constants: fileConstants,
  });

  /** Calls a script's callback, unless its context is gone; what it throws goes to the run's logs. */
  function deliver(done, args) {
    if (state.disposed) return;
    try {
      done(...args);
    } catch (error) {
      sendLog('error', ['Uncaught exception in fs callback:', error], state);
    }
  }
}

/** `fs.constants`, as plain data. */
const fileConstants = Object.freeze({ ...fs.constants });
