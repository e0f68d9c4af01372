// `node:fs` and `node:fs/promises` in the script's own realm: Node's API
// (sync, callback and promise forms, file handles, directories, streams)
// over the guard of 17_files.mjs, which checks every path and descriptor
// against the sandbox's grants. Results are rebuilt here, so that bytes are
// the script's `Buffer`s, stats its `Stats`, errors its `Error`s.

/**
 * Runs inside a context: the script's `{ fs, promises }`. `parts` is the
 * context's guard (`fileParts`), `Buffer` the realm's, `streams` Node's
 * frozen `stream` module (its `Readable` and `Writable`).
 */
export function makeFs(parts, Buffer, streams) {
  'use strict';
  const S_IFMT = 0o170000;
  const TYPES = { file: 0o100000, dir: 0o040000, link: 0o120000, fifo: 0o010000, socket: 0o140000, char: 0o020000, block: 0o060000 };

  class Stats {
    constructor(record) {
      Object.assign(this, record);
      const big = typeof record.mode === 'bigint';
      for (const name of ['atime', 'mtime', 'ctime', 'birthtime']) {
        const ms = record[`${name}Ms`];
        this[name] = new Date(big ? Number(ms) : ms);
      }
      if (!big) for (const name of ['atimeNs', 'mtimeNs', 'ctimeNs', 'birthtimeNs']) delete this[name];
    }

    #type() {
      return Number(this.mode) & S_IFMT;
    }

    isFile() { return this.#type() === TYPES.file; }
    isDirectory() { return this.#type() === TYPES.dir; }
    isSymbolicLink() { return this.#type() === TYPES.link; }
    isFIFO() { return this.#type() === TYPES.fifo; }
    isSocket() { return this.#type() === TYPES.socket; }
    isCharacterDevice() { return this.#type() === TYPES.char; }
    isBlockDevice() { return this.#type() === TYPES.block; }
  }

  class Dirent {
    #type;
    constructor(record) {
      this.name = record.name;
      this.parentPath = record.parentPath;
      this.path = record.parentPath;
      this.#type = record.type;
    }

    isFile() { return this.#type === 'file'; }
    isDirectory() { return this.#type === 'dir'; }
    isSymbolicLink() { return this.#type === 'link'; }
    isFIFO() { return this.#type === 'fifo'; }
    isSocket() { return this.#type === 'socket'; }
    isCharacterDevice() { return this.#type === 'char'; }
    isBlockDevice() { return this.#type === 'block'; }
  }

  const ERROR_TYPES = { TypeError, RangeError, SyntaxError };
  /** A worker error as one of this realm (the guard's own denials already are). */
  function adoptError(error) {
    if (error instanceof Error) return error;
    const Type = ERROR_TYPES[error?.name] ?? Error;
    const adopted = new Type(String(error?.message ?? error));
    for (const key of ['code', 'errno', 'syscall', 'path', 'dest']) {
      if (error?.[key] !== undefined) adopted[key] = error[key];
    }
    return adopted;
  }

  /** Bytes of the worker's realm as a `Buffer` of this one; anything else as it is. */
  function bytes(value) {
    return value !== null && typeof value === 'object' && ArrayBuffer.isView(value) ? Buffer.from(value) : value;
  }

  /** A result of `op`, rebuilt in this realm. */
  function adopt(op, value) {
    switch (op) {
      case 'stat':
      case 'lstat':
      case 'fstat':
        return value === undefined ? undefined : new Stats(value);
      case 'readdir':
        return Array.from(value, (entry) => (entry !== null && typeof entry === 'object' && !ArrayBuffer.isView(entry)
          ? new Dirent(entry) : bytes(entry)));
      case 'statfs':
        return { ...value };
      default:
        return bytes(value);
    }
  }

  const call = (op, args) => {
    try {
      return adopt(op, parts.sync(op, args));
    } catch (error) {
      throw adoptError(error);
    }
  };
  const start = (op, args, done) => parts.start(op, args, (error, result, ...rest) => {
    if (error) done(adoptError(error));
    else done(null, adopt(op, result), ...rest);
  });
  const promised = (op, args) => new Promise((resolve, reject) => {
    start(op, args, (error, result) => (error ? reject(error) : resolve(result)));
  });

  const OPS = [
    'access', 'readFile', 'readdir', 'readlink', 'realpath', 'stat', 'lstat', 'statfs', 'open', 'writeFile',
    'appendFile', 'truncate', 'chmod', 'chown', 'utimes', 'lchown', 'lutimes', 'mkdir', 'mkdtemp', 'rename', 'rm',
    'rmdir', 'unlink', 'link', 'copyFile', 'cp', 'symlink', 'close', 'fstat', 'read', 'readv', 'fsync', 'fdatasync',
    'write', 'writev', 'ftruncate', 'fchmod', 'fchown', 'futimes',
  ];
  const fs = {};
  for (const op of OPS) {
    fs[`${op}Sync`] = { [`${op}Sync`](...args) { return call(op, args); } }[`${op}Sync`];
    fs[op] = {
      [op](...args) {
        const callback = args.pop();
        if (typeof callback !== 'function') {
          throw Object.assign(new TypeError(`The "cb" argument of fs.${op} must be of type function`), { code: 'ERR_INVALID_ARG_TYPE' });
        }
        start(op, args, callback);
      },
    }[op];
  }
  fs.existsSync = function existsSync(path) {
    try {
      return parts.sync('exists', [path]);
    } catch {
      return false;
    }
  };
  fs.exists = function exists(path, callback) {
    parts.start('exists', [path], (error, found) => callback(!error && found));
  };
  fs.realpathSync.native = fs.realpathSync;
  fs.realpath.native = fs.realpath;
  for (const op of ['watch', 'watchFile', 'unwatchFile', 'openAsBlob']) {
    fs[op] = { [op]() { return parts.deny(op); } }[op];
  }

  /** `fs.opendir`'s `Dir`: the directory's entries, read when opened. */
  class Dir {
    #entries;
    #closed = false;
    constructor(dirPath, entries) {
      this.path = dirPath;
      this.#entries = entries;
    }

    readSync() {
      return this.#entries.shift() ?? null;
    }

    read(callback) {
      const next = this.readSync();
      if (typeof callback === 'function') return void queueMicrotask(() => callback(null, next));
      return Promise.resolve(next);
    }

    closeSync() {
      this.#closed = true;
    }

    close(callback) {
      this.#closed = true;
      if (typeof callback === 'function') return void queueMicrotask(() => callback(null));
      return Promise.resolve();
    }

    async *entries() {
      while (!this.#closed && this.#entries.length > 0) yield this.#entries.shift();
    }

    [Symbol.asyncIterator]() {
      return this.entries();
    }
  }
  fs.opendirSync = function opendirSync(dirPath) {
    return new Dir(String(dirPath), fs.readdirSync(dirPath, { withFileTypes: true }));
  };
  fs.opendir = function opendir(dirPath, options, callback) {
    const done = typeof options === 'function' ? options : callback;
    fs.readdir(dirPath, { withFileTypes: true }, (error, entries) => done(error, error ? undefined : new Dir(String(dirPath), entries)));
  };

  const { Readable, Writable } = streams;
  /** `fs.createReadStream`: Node's options (`start`, `end`, `encoding`, `highWaterMark`, `fd`, `flags`). */
  function createReadStream(file, given) {
    const options = typeof given === 'string' ? { encoding: given } : { ...given };
    const end = options.end ?? Infinity;
    const size = options.highWaterMark ?? 64 * 1024;
    let fd = typeof options.fd === 'number' ? options.fd : options.fd?.fd ?? null;
    let position = options.start ?? 0;
    const stream = new Readable({
      highWaterMark: size,
      encoding: options.encoding,
      construct(done) {
        if (fd !== null) return done();
        fs.open(file, options.flags ?? 'r', options.mode ?? 0o666, (error, opened) => {
          if (error) return done(error);
          fd = opened;
          stream.fd = fd;
          stream.emit('open', fd);
          stream.emit('ready');
          done();
        });
      },
      read() {
        const want = Math.min(size, end - position + 1);
        if (want <= 0) return void this.push(null);
        const chunk = Buffer.allocUnsafe(want);
        fs.read(fd, chunk, 0, want, position, (error, count) => {
          if (error) return void this.destroy(error);
          if (count === 0) return void this.push(null);
          position += count;
          stream.bytesRead += count;
          this.push(chunk.subarray(0, count));
        });
      },
      destroy(error, done) {
        if (fd === null || options.autoClose === false) return done(error);
        fs.close(fd, (closeError) => {
          stream.emit('close');
          done(error ?? closeError);
        });
        fd = null;
      },
      emitClose: false,
    });
    stream.path = file;
    stream.fd = fd;
    stream.bytesRead = 0;
    stream.close = (callback) => stream.destroy(null, callback);
    return stream;
  }

  /** `fs.createWriteStream`: Node's options (`flags`, `start`, `encoding`, `fd`, `mode`). */
  function createWriteStream(file, given) {
    const options = typeof given === 'string' ? { encoding: given } : { ...given };
    let fd = typeof options.fd === 'number' ? options.fd : options.fd?.fd ?? null;
    let position = options.start ?? null;
    const stream = new Writable({
      decodeStrings: true,
      defaultEncoding: options.encoding ?? 'utf8',
      highWaterMark: options.highWaterMark,
      construct(done) {
        if (fd !== null) return done();
        fs.open(file, options.flags ?? 'w', options.mode ?? 0o666, (error, opened) => {
          if (error) return done(error);
          fd = opened;
          stream.fd = fd;
          stream.emit('open', fd);
          stream.emit('ready');
          done();
        });
      },
      write(chunk, encoding, done) {
        fs.write(fd, chunk, 0, chunk.length, position, (error, written) => {
          if (error) return done(error);
          if (position !== null) position += written;
          stream.bytesWritten += written;
          done();
        });
      },
      destroy(error, done) {
        if (fd === null || options.autoClose === false) return done(error);
        fs.close(fd, (closeError) => {
          stream.emit('close');
          done(error ?? closeError);
        });
        fd = null;
      },
      emitClose: false,
    });
    stream.path = file;
    stream.fd = fd;
    stream.bytesWritten = 0;
    stream.close = (callback) => stream.end(callback);
    return stream;
  }
  fs.createReadStream = createReadStream;
  fs.createWriteStream = createWriteStream;

  /** `fs.promises.open`'s handle: the descriptor's operations as promises. */
  class FileHandle {
    #fd;
    constructor(fd) {
      this.#fd = fd;
    }

    get fd() {
      return this.#fd;
    }

    async read(buffer, offset, length, position) {
      if (buffer === undefined || (buffer !== null && typeof buffer === 'object' && !ArrayBuffer.isView(buffer))) {
        const options = buffer ?? {};
        buffer = options.buffer ?? Buffer.alloc(16384);
        offset = options.offset ?? 0;
        length = options.length ?? buffer.byteLength - offset;
        position = options.position ?? null;
      }
      const bytesRead = await promised('read', [this.#fd, buffer, offset ?? 0, length ?? buffer.byteLength - (offset ?? 0), position ?? null]);
      return { bytesRead, buffer };
    }

    async write(data, ...rest) {
      const bytesWritten = await promised('write', [this.#fd, data, ...rest]);
      return { bytesWritten, buffer: data };
    }

    readFile(options) { return promised('readFile', [this.#fd, options]); }
    writeFile(data, options) { return promised('writeFile', [this.#fd, data, options]); }
    appendFile(data, options) { return promised('appendFile', [this.#fd, data, options]); }
    stat(options) { return promised('fstat', [this.#fd, options]); }
    truncate(length) { return promised('ftruncate', [this.#fd, length]); }
    sync() { return promised('fsync', [this.#fd]); }
    datasync() { return promised('fdatasync', [this.#fd]); }
    chmod(mode) { return promised('fchmod', [this.#fd, mode]); }
    chown(uid, gid) { return promised('fchown', [this.#fd, uid, gid]); }
    utimes(atime, mtime) { return promised('futimes', [this.#fd, atime, mtime]); }
    createReadStream(options) { return createReadStream(null, { ...options, fd: this.#fd }); }
    createWriteStream(options) { return createWriteStream(null, { ...options, fd: this.#fd }); }

    async *readLines(options) {
      const text = await this.readFile({ encoding: options?.encoding ?? 'utf8' });
      const lines = text.split(/\r?\n/);
      if (lines.at(-1) === '') lines.pop();
      yield* lines;
    }

    async close() {
      if (this.#fd === -1) return;
      const fd = this.#fd;
      this.#fd = -1;
      await promised('close', [fd]);
    }

    [Symbol.asyncDispose]() {
      return this.close();
    }
  }

  /** A `FileHandle` argument as its descriptor. */
  const unwrap = (args) => {
    if (args[0] instanceof FileHandle) args[0] = args[0].fd;
    return args;
  };
  const PROMISED = [
    'access', 'readFile', 'readdir', 'readlink', 'realpath', 'stat', 'lstat', 'statfs', 'writeFile', 'appendFile',
    'truncate', 'chmod', 'chown', 'utimes', 'lchown', 'lutimes', 'mkdir', 'mkdtemp', 'rename', 'rm', 'rmdir', 'unlink',
    'link', 'copyFile', 'cp', 'symlink',
  ];
  const promises = {};
  for (const op of PROMISED) {
    promises[op] = { [op](...args) { return promised(op, unwrap(args)); } }[op];
  }
  promises.open = async function open(file, flags, mode) {
    return new FileHandle(await promised('open', [file, flags ?? 'r', mode]));
  };
  promises.opendir = async function opendir(dirPath) {
    return new Dir(String(dirPath), await promises.readdir(dirPath, { withFileTypes: true }));
  };
  promises.watch = function watch() {
    return parts.deny('watch');
  };
  promises.constants = { ...parts.constants };

  const constants = { ...parts.constants };
  Object.assign(fs, {
    promises,
    constants,
    F_OK: constants.F_OK,
    R_OK: constants.R_OK,
    W_OK: constants.W_OK,
    X_OK: constants.X_OK,
    Stats,
    Dirent,
    Dir,
    ReadStream: createReadStream,
    WriteStream: createWriteStream,
  });
  return { fs, promises };
}
