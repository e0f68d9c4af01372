// Callbacks: requests from the worker to the host, made by `host.<name>()`
// in a script, and the host's answers to them.

import { CODES } from './00_codes.mjs';
import { config } from './02_config.mjs';
import { send } from './03_channel.mjs';
import { toJsonText, withFrames } from './04_json.mjs';
import { currentRun } from './06_current_run.mjs';

let nextCallId = 1;
/** Calls not yet answered, by request id: { resolve, reject, run, state }. */
const pendingCalls = new Map();

/** The callbacks whose calls wait for approval, by wire name (from `init`). */
let needingApproval;
function needsApproval(method) {
  needingApproval ??= new Set(config.callbacks.filter((callback) => callback.approval).map((callback) => callback.name));
  return needingApproval.has(method);
}

const FRAME = /^\s+at (?:.*? \()?(.*?):(\d+):(\d+)\)?$/;

/** The frames of a captured call site (`Error.captureStackTrace`), as stack text; '' when unreadable. */
function framesOf(site) {
  let stack;
  try {
    stack = site?.stack;
  } catch {
    return '';
  }
  if (typeof stack !== 'string') return '';
  const newline = stack.indexOf('\n');
  return newline < 0 ? '' : stack.slice(newline + 1);
}

/** Where a call was made: the first frame of its site. */
function positionOf(site) {
  const frame = FRAME.exec(framesOf(site).split('\n')[0] ?? '');
  return frame ? { file: frame[1], line: Number(frame[2]), column: Number(frame[3]) } : null;
}

/** A request to the host (a callback), answered by a response line. */
export function callHost(method, params, state, site) {
  const run = currentRun(state);
  const ErrorType = state?.Error ?? Error;
  if (run !== undefined) {
    if (run.finished) return Promise.reject(new ErrorType(`${method}: the run has ended`));
    run.callbackCount++;
    if (run.maxCallbacks > 0 && run.callbackCount > run.maxCallbacks) {
      const message = `the run reached its limit of ${run.maxCallbacks} callback calls`;
      run.end(CODES.LIMIT, message);
      return Promise.reject(new ErrorType(message));
    }
  }
  const id = nextCallId++;
  const frames = [];
  const paramsJson = toJsonText(params === undefined ? {} : params, 'callback params', frames);
  const where = needsApproval(method) ? ',"site":' + JSON.stringify(positionOf(site)) : '';
  return new Promise((resolve, reject) => {
    pendingCalls.set(id, { resolve, reject, run, state, site });
    if (run) (run.calls ??= new Set()).add(id);
    send('{"jsonrpc":"2.0","id":' + id + ',"method":' + JSON.stringify(method) + ',"params":{"run":'
      + (run ? run.id : 'null') + ',"session":' + (state?.sessionId ?? 'null') + ',"args":' + paramsJson + where + '}}', frames);
  });
}

/** Settles the call a response from the host answers, with values of the caller's realm. */
export function onHostResponse(message) {
  const call = pendingCalls.get(message.id);
  if (call === undefined) return;
  pendingCalls.delete(message.id);
  call.run?.calls?.delete(message.id);
  const { state } = call;
  // Objects are remade in the caller's realm; a primitive belongs to none.
  const inRealm = (value) => (value === null || typeof value !== 'object' || state === undefined ? value : state.jsonParse(JSON.stringify(value)));
  const frames = message.frames;
  if (message.error) {
    const error = new (state?.Error ?? Error)(String(message.error.message));
    error.code = message.error.code === CODES.APPROVAL_DENIED ? 'APPROVAL_DENIED' : message.error.code;
    if (message.error.data !== undefined) error.data = inRealm(message.error.data);
    // The stack of the call in the script: a failed call is reported where it was made.
    const frames = framesOf(call.site);
    if (frames !== '') error.stack = `${error.name}: ${error.message}\n${frames}`;
    call.reject(error);
  } else {
    call.resolve(withFrames(inRealm(message.result), frames, state?.Uint8Array ?? Uint8Array));
  }
}

/** Rejects the calls of a run that has finished: their answers would come too late. */
export function rejectCalls(run) {
  if (run.calls === undefined) return;
  for (const id of run.calls) {
    const call = pendingCalls.get(id);
    pendingCalls.delete(id);
    call?.reject(new (call.state?.Error ?? Error)('the run ended before the callback answered'));
  }
  run.calls.clear();
}
