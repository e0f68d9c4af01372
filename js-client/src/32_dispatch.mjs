// Dispatch: every line from the host, parsed, checked and handed to what
// handles its method; responses to the worker's own requests go to their
// callbacks.

import { CODES } from './00_codes.mjs';
import { respond, respondError, closeChannel, channelCounters } from './03_channel.mjs';
import { onHostResponse } from './08_host_calls.mjs';
import { cacheStats } from './20_compile.mjs';
import { spareCount } from './25_preloads.mjs';
import { runById, runCount } from './26_run.mjs';
import { openSession, closeSession, unloadModule, openCounts } from './28_sessions.mjs';
import { runScript, loadModule, callExport } from './29_jobs.mjs';
import { init } from './30_init.mjs';
import { readRunLine, fastRunLines } from './31_run_line.mjs';

function handleRequest(message) {
  const { id, method, params } = message;
  switch (method) {
    case 'run':
      return void runScript(id, params);
    case 'call':
      return void callExport(id, params);
    case 'module.load':
      return void loadModule(id, params);
    case 'ping':
      return respond(id, '{}');
    case 'stats': {
      const { sessions, loadedModules } = openCounts();
      return respond(id, JSON.stringify({
        ...cacheStats,
        ...channelCounters(),
        fastRunLines: fastRunLines(),
        runs: runCount(),
        sessions,
        loadedModules,
        spareContexts: spareCount(),
        heapUsed: process.memoryUsage().heapUsed,
      }));
    }
    case 'init':
      return init(id, params);
    case 'session.open':
      if (!openSession(params.session, params.project)) {
        return respondError(id, CODES.INVALID_PARAMS, `session ${params.session} is already open`);
      }
      return respond(id, '{}');
    default:
      return respondError(id, CODES.METHOD_NOT_FOUND, `unknown method "${method}"`);
  }
}

function handleNotification(message) {
  const { method, params } = message;
  switch (method) {
    case 'cancel': {
      const run = runById(params.id);
      if (run !== undefined) {
        const timedOut = params.reason === 'timeout';
        run.end(timedOut ? CODES.TIMEOUT : CODES.CANCELLED, timedOut ? 'run timed out' : 'run cancelled');
      }
      return;
    }
    case 'hold':
      return runById(params.run)?.hold();
    case 'release':
      return runById(params.run)?.release();
    case 'session.close':
      return closeSession(params.session);
    case 'module.unload':
      return unloadModule(params.handle);
    case 'shutdown':
      closeChannel();
      return void setImmediate(() => process.exit(0));
    default:
      return;
  }
}

/** What `params` lacks of what `method` needs (undefined: nothing), allocating nothing when complete: every line passes here. */
function missingParams(method, params) {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return ['an object'];
  const required = REQUIRED_PARAMS[method];
  if (required === undefined) return undefined;
  for (const name of required) {
    if (params[name] === undefined || params[name] === null) {
      return required.filter((each) => params[each] === undefined || params[each] === null);
    }
  }
  return undefined;
}

/** What each method cannot do without. */
const REQUIRED_PARAMS = {
  run: ['key'],
  call: ['handle', 'export'],
  'module.load': ['handle', 'name'],
  'session.open': ['session'],
  cancel: ['id'],
  hold: ['run'],
  release: ['run'],
  'session.close': ['session'],
  'module.unload': ['handle'],
};

/**
 * A request whose params name an `attachment` waits here for the next line:
 * a large JSON value (globals, arguments) sent as it is rather than escaped
 * into a string, which the context's own `JSON.parse` then reads.
 */
let awaitingAttachment = null;

/** The params an attachment line may carry. */
const ATTACHMENTS = new Set(['globals', 'args']);

/** Handles one line from the host, with the frames (binary values) that came before it. */
export function handleLine(line, frames) {
  if (awaitingAttachment !== null) {
    const message = awaitingAttachment;
    awaitingAttachment = null;
    message.params[message.params.attachment] = line;
    return handleMessage(message);
  }
  // Frames never come with a run by key alone (they are its globals').
  let message = frames === undefined || frames.length === 0 ? readRunLine(line) : undefined;
  if (message !== undefined) return handleMessage(message);
  try {
    message = JSON.parse(line);
  } catch (e) {
    return respondError(null, CODES.PARSE_ERROR, `invalid JSON from the host: ${e.message}`);
  }
  if (message === null || typeof message !== 'object') {
    return respondError(null, CODES.INVALID_REQUEST, 'a message must be a JSON object');
  }
  // Frames belong to the request whose params' placeholders refer to them,
  // or to the response whose result's do.
  if (frames !== undefined && frames.length > 0) {
    if (message.params !== null && typeof message.params === 'object') message.params.frames = frames;
    else message.frames = frames;
  }
  const attachment = message.params?.attachment;
  if (attachment !== undefined) {
    if (typeof attachment !== 'string' || !ATTACHMENTS.has(attachment)) {
      return respondError(message.id ?? null, CODES.INVALID_PARAMS, `unknown attachment ${JSON.stringify(attachment)}`);
    }
    awaitingAttachment = message;
    return;
  }
  return handleMessage(message);
}

function handleMessage(message) {
  if (typeof message.method === 'string') {
    const isRequest = message.id !== undefined && message.id !== null;
    if (message.params === undefined) message.params = {};
    const { params } = message;
    const missing = missingParams(message.method, params);
    if (missing !== undefined) {
      if (isRequest) respondError(message.id, CODES.INVALID_PARAMS, `params of "${message.method}" need ${missing.join(', ')}`);
      return;
    }
    try {
      return isRequest ? handleRequest(message) : handleNotification(message);
    } catch (error) {
      if (isRequest) respondError(message.id, CODES.INTERNAL_ERROR, `${message.method} failed: ${error?.message ?? error}`);
      return;
    }
  }
  if ('result' in message || 'error' in message) return onHostResponse(message);
  return respondError(message.id ?? null, CODES.INVALID_REQUEST, 'a message needs a method, a result or an error');
}
