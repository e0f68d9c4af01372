// Errors, as the host sees them: what a run threw, turned into a JSON-RPC
// error with a clean stack and the place in the script it came from.

import util from 'node:util';
import { CODES } from './00_codes.mjs';
import { config, engine } from './02_config.mjs';
import { respondError } from './03_channel.mjs';
import { NonJsonError, toJsonText } from './04_json.mjs';

/** An import that cannot be resolved or is not allowed (-32010). */
export class ImportFailure extends Error {
  constructor(specifier, referrer, reason) {
    // Node's permission model says only "Access to this API has been restricted".
    const hint = String(reason).includes('has been restricted') ? ' (the sandbox does not let workers read it: Sandbox::allow_read, or PoolBuilder::project)' : '';
    super(`cannot import "${specifier}" from ${referrer}: ${reason}${hint}`);
    this.specifier = specifier;
    this.referrer = referrer;
    this.reason = reason;
  }
}

/** Thrown into a run that was cancelled or timed out, or answered for one that cannot start. */
export class RunEnded extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/** Errors of the script's realm that stand for a capability refused (see `deniedIn`). */
const denials = new WeakMap();

/**
 * The error a script gets for using a capability the sandbox withholds: an
 * `Error` of its realm, `code` `ERR_OUTRIGGER_DENIED`, naming what was used
 * and the setting that would allow it. Uncaught, the run ends with it as a
 * denial (the host's `Error::Denied`).
 */
export function deniedIn(state, capability, setting, why = 'is not available to scripts') {
  return denial(state, capability, setting, `${capability} ${why} (${setting})`);
}

/** A denial (see `deniedIn`) with a message of its own, which should name the setting. */
export function denial(state, capability, setting, message) {
  const error = new state.Error(message);
  error.code = 'ERR_OUTRIGGER_DENIED';
  denials.set(error, { capability, setting });
  return error;
}

/** Errors of the script's realm that stand for an ImportFailure (see `importErrorIn`). */
const importFailures = new WeakMap();

/**
 * An ImportFailure as an error of the script's realm (a script or a package
 * may catch it, and must not get hold of a worker-realm object). The run's
 * answer still reports it as an import error.
 */
export function importErrorIn(state, failure) {
  const error = new state.Error(failure.message);
  error.code = 'ERR_OUTRIGGER_IMPORT';
  error.specifier = failure.specifier;
  error.referrer = failure.referrer;
  importFailures.set(error, failure);
  return error;
}

/** `object[key]` as a string, or undefined; a throwing getter gives undefined. */
export function safeGet(object, key) {
  try {
    const value = object[key];
    return typeof value === 'string' ? value : value === undefined ? undefined : String(value);
  } catch {
    return undefined;
  }
}

const STACK_FRAME = /^\s+at (?:.*? \()?(.*?):(\d+):(\d+)\)?$/;
const RUNTIME_FILE = /^\d\d_[\w-]+\.mjs$/;

/**
 * Which files of stack frames are the runtime's own, for the runtime at
 * `url`. Assembled into one program and run with `-e`, the runtime is that
 * one URL (`file:///<cwd>/[eval1]`: the user's files may share the
 * directory). Loaded from its files (the tests), it is every numbered file
 * of its directory.
 */
export function runtimeFilesOf(url) {
  const dir = url.slice(0, url.lastIndexOf('/') + 1);
  if (!RUNTIME_FILE.test(url.slice(dir.length))) {
    // Bun names it as a path in its frames (`/<cwd>/[stdin]`).
    const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
    return (file) => file === url || file === path;
  }
  return (file) => file.startsWith(dir) && RUNTIME_FILE.test(file.slice(dir.length));
}
const isRuntimeFile = runtimeFilesOf(import.meta.url);

/** Removes node's source-line decoration and the runtime's own frames. */
export function cleanStack(stack) {
  let text = stack;
  // `file:LINE\n<source>\n<carets>\n\n` before the error itself.
  const decorated = /^[^\n]*:\d+\n[^\n]*\n\s*\^+\s*\n\n/.exec(text);
  if (decorated) text = text.slice(decorated[0].length);
  return text
    .split('\n')
    .filter((line) => {
      const frame = STACK_FRAME.exec(line);
      if (!frame) return !/^\s+at /.test(line) || !/node:|ext:|outrigger:|\[eval\d*\]/.test(line);
      const file = frame[1];
      // The runtime's own frames: the engine's (Node's `node:`, Deno's
      // `ext:`), the runtime's files, what it compiles into contexts
      // (`outrigger:bootstrap`, `outrigger:call`).
      return !file.startsWith('node:') && !file.startsWith('ext:') && !file.startsWith('outrigger:') && !isRuntimeFile(file) && !/\[eval\d*\]/.test(file);
    })
    .join('\n');
}

/** Line and column in `filename` where an error happened, from its stack. */
export function locate(stack, filename) {
  if (typeof stack !== 'string') return {};
  const prefix = filename + ':';
  if (stack.startsWith(prefix)) {
    const m = /^(\d+)\n([^\n]*)\n(\s*)\^/.exec(stack.slice(prefix.length));
    if (m) return { line: Number(m[1]), column: m[3].length + 1 };
  }
  for (const line of stack.split('\n')) {
    const frame = STACK_FRAME.exec(line);
    if (frame && frame[1] === filename) return { line: Number(frame[2]), column: Number(frame[3]) };
  }
  return {};
}

/** The first place in a project file (an absolute path) an error's stack names. */
export function locateInFile(stack) {
  if (typeof stack !== 'string') return {};
  const header = /^(\/[^\n]*):(\d+)\n[^\n]*\n(\s*)\^/.exec(stack);
  if (header) return { file: header[1], line: Number(header[2]), column: header[3].length + 1 };
  for (const line of stack.split('\n')) {
    const frame = STACK_FRAME.exec(line);
    if (frame && frame[1].startsWith('/') && !isRuntimeFile(frame[1])) return { file: frame[1], line: Number(frame[2]), column: Number(frame[3]) };
  }
  // A file without a place (a syntax error on Deno, see 20_compile.mjs).
  const bare = /^\s+at (\/[^\n]*)$/m.exec(stack);
  if (bare && !/:\d+:\d+\)?$/.test(bare[1])) return { file: bare[1] };
  return {};
}

/**
 * What the engine throws when the system refuses it memory outside the
 * heap. Under the data limit the host sets for Sandbox::max_memory_mb, an
 * allocation that does not fit fails where it is made, inside the run that
 * asked: ArrayBuffers, typed arrays and Buffers ("Array buffer allocation
 * failed"; resizable ones "...resize: Out of memory"), WebAssembly memories
 * ("could not allocate memory", "Unable to grow instance memory", "Out of
 * memory: Cannot allocate Wasm memory..."), structured clones ("Data cannot
 * be cloned, out of memory."), strings kept outside the heap ("Failed to
 * allocate memory"). A script that throws such a message itself gets the
 * limit error for its own run, which is all it can get.
 */
const ALLOCATION_FAILED = /^(?:Array buffer allocation failed|Failed to allocate memory)$|out of memory|could not allocate memory|unable to grow instance memory/i;

/** Whether a run ended with an allocation the system refused. */
export function isAllocationFailure(thrown) {
  if (thrown === null || typeof thrown !== 'object') return false;
  const message = safeGet(thrown, 'message');
  return message !== undefined && ALLOCATION_FAILED.test(message);
}

/** The LIMIT error for a run whose allocation was refused. */
function memoryLimitError(thrown) {
  const bound = config.maxMemoryMb === undefined ? '' : ` of ${config.maxMemoryMb} MiB`;
  const what = `${safeGet(thrown, 'name') ?? 'Error'}: ${safeGet(thrown, 'message')}`;
  return {
    code: CODES.LIMIT,
    message: `the run asked for memory past its worker's bound${bound} (Sandbox::max_memory_mb) and was refused: ${what}`,
    data: { limit: 'memory' },
  };
}

/** The JSON-RPC error for something a run threw. */
export function errorFor(thrown, filename) {
  if (thrown instanceof NonJsonError) {
    return { code: thrown.code ?? CODES.NON_JSON, message: thrown.message };
  }
  const failure = thrown instanceof ImportFailure ? thrown : importFailures.get(thrown);
  if (failure !== undefined) {
    return {
      code: CODES.IMPORT,
      message: failure.message,
      data: { specifier: failure.specifier, referrer: failure.referrer, reason: failure.reason },
    };
  }
  if (thrown instanceof RunEnded) {
    const error = { code: thrown.code, message: thrown.message };
    if (thrown.data !== undefined) error.data = thrown.data;
    return error;
  }
  const denial = denials.get(thrown);
  if (denial !== undefined) {
    return { code: CODES.DENIED, message: thrown.message, data: denial };
  }
  if (thrown && thrown.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
    return { code: CODES.TIMEOUT, message: thrown.message };
  }
  if (isAllocationFailure(thrown)) return memoryLimitError(thrown);
  const decorated = decoratedByDeno(thrown);
  const isError = util.types.isNativeError(thrown)
    || (!decorated && thrown !== null && typeof thrown === 'object' && typeof safeGet(thrown, 'stack') === 'string');
  if (isError) {
    const rawStack = safeGet(thrown, 'stack');
    let { line, column } = locate(rawStack, filename);
    let file;
    if (line === undefined) {
      // Not in the script itself: in a file it imported (a dependency's syntax error).
      ({ file, line, column } = locateInFile(rawStack));
    }
    const data = {
      name: safeGet(thrown, 'name') ?? 'Error',
      message: callbackHint(safeGet(thrown, 'message') ?? ''),
      stack: rawStack === undefined ? null : cleanStack(rawStack),
      line: line ?? null,
      column: column ?? null,
    };
    if (file !== undefined) data.file = file;
    return { code: CODES.SCRIPT_ERROR, message: `${data.name}: ${data.message}`, data };
  }
  let message;
  try {
    message = typeof thrown === 'string' ? thrown : toJsonText(decorated ? withoutStack(thrown) : thrown, 'thrown value');
  } catch {
    message = util.inspect(thrown, { customInspect: false, showProxy: true });
  }
  const name = thrown === null ? 'null' : typeof thrown;
  return {
    code: CODES.SCRIPT_ERROR,
    message: `uncaught ${name}: ${message}`,
    data: { name, message, stack: null, line: null, column: null },
  };
}

/**
 * Deno's `vm` gives a thrown object that is not an error a `stack` of its
 * own, as Node does only to errors: the place, the source line and a caret,
 * then "undefined" where an error's own stack would be. Such an object is
 * still the plain value the script threw.
 */
function decoratedByDeno(thrown) {
  if (!engine.deno || thrown === null || typeof thrown !== 'object' || util.types.isNativeError(thrown)) return false;
  try {
    const stack = Object.getOwnPropertyDescriptor(thrown, 'stack')?.value;
    return typeof stack === 'string' && /^[^\n]*:\d+\n[^\n]*\n\s*\^+\s*\n\nundefined$/.test(stack);
  } catch {
    return false;
  }
}

/** A copy of a thrown object without the `stack` Deno gave it. */
function withoutStack(thrown) {
  const copy = Object.assign({}, thrown);
  delete copy.stack;
  return copy;
}

/**
 * `host.x` reads as `undefined` when no callback has that name (so that
 * scripts can detect optional tools); calling it anyway says which exist.
 */
function callbackHint(message) {
  // V8's words, or JavaScriptCore's (Bun): `... is not a function. (In '...', ...)`.
  const call = /^(host(?:\.[\w$]+)+) is not a function(?:$|\. \(In )/.exec(message);
  if (call === null) return message;
  const names = config.callbacks.map((callback) => callback.name);
  return `${call[1]} is not a callback (callbacks: ${names.length > 0 ? names.join(', ') : 'none are registered'})`;
}

/** Answers request `id` with the error for what was thrown (located in `filename`). */
export function respondThrown(id, thrown, filename) {
  const { code, message, data } = errorFor(thrown, filename);
  respondError(id, code, message, data);
}
