// The life of a run, written once for every job that executes code (a
// script run, a module load, a call of an export): make the run, execute
// the job's body as part of it, answer, finish.

import v8 from 'node:v8';
import vm from 'node:vm';
import { CODES } from './00_codes.mjs';
import { nowMs } from './01_clock.mjs';
import { engine } from './02_config.mjs';
import { notify, respond, respondError } from './03_channel.mjs';
import { RunEnded, errorFor, isAllocationFailure, respondThrown } from './05_errors.mjs';
import { inRun } from './06_current_run.mjs';
import { Run, beatWhileBusy } from './26_run.mjs';

/**
 * Why a plain run's context ends with it: one shared, frozen reason (an
 * Error captures a stack when made, ~10 µs, and every fresh-context run
 * ends this way). The runtime reads it; scripts see a new DOMException.
 */
const RUN_OVER = Object.freeze(new RunEnded(CODES.CANCELLED, 'the run has ended'));

/**
 * Executes `job` as run `id` and answers request `id`. A job is
 *   state             the context it runs in
 *   owned             whether that context ends with the run (a plain run's own)
 *   name              the file name its errors are located in
 *   timeout           in ms (0 or absent: none)
 *   maxCallbacks      callback calls allowed (0 or absent: any number)
 *   started           when its request was read (ms, `nowMs`)
 *   body(run)         its value, or a promise of it
 *   encode(value, frames)  the answer's JSON text, its binary values pushed to `frames`
 *   succeeded(value)  optional, called before a success is answered
 *   failed()          optional, called before a failure is answered
 * `body` and `encode` execute as part of the run.
 *
 * A value that is not a promise (in a context that is ready) is answered
 * synchronously, inside the read that brought the request: the answer
 * leaves in the write that ends that read, before any microtask runs. A
 * promise is awaited unless the run ends first.
 */
export function execute(id, job) {
  const { state } = job;
  const run = new Run(id, state, job.timeout, job.maxCallbacks, job.started);
  const start = () => {
    // A context still importing its preloads runs the job once they are in.
    if (state.ready) {
      return settle(run, whenReady(run, state).then(() => {
        run.bodyStarted = nowMs();
        return job.body(run);
      }));
    }
    const value = job.body(run);
    if (isThenable(value)) return settle(run, value);
    answer(id, run, job, value);
    return undefined;
  };
  let pending;
  try {
    // A plain run's own context holds no other run: its `lastRun` is the run,
    // and the async context, which costs every promise on Node.js 20
    // (06_current_run.mjs), is left out.
    pending = job.owned ? start() : inRun(run, start);
  } catch (thrown) {
    fail(run, id, job, thrown);
  }
  if (pending === undefined) {
    end(run, job);
  } else {
    run.register();
    beatWhileBusy();
    park(run);
    finish(id, run, job, pending);
  }
}

/**
 * Runs whose synchronous part ended with a promise, to be reported as
 * waiting once the event loop turns. When the worker runs out of memory
 * the host names the run that took it by this: a run reported waiting was
 * parked at an await, not the one allocating in a synchronous loop (which
 * holds the loop, so no report follows it). Reported once per turn, for
 * the runs still unfinished then; a run that finishes in microtasks is
 * never reported.
 */
const parked = [];

function park(run) {
  if (parked.push(run) === 1) setImmediate(reportParked);
}

function reportParked() {
  let ids = '';
  for (const run of parked) {
    if (!run.finished) ids += (ids === '' ? '' : ',') + run.id;
  }
  parked.length = 0;
  if (ids !== '') notify('waiting', '{"runs":[' + ids + ']}');
}

/** Waits for a job's asynchronous part and answers. */
async function finish(id, run, job, pending) {
  try {
    const value = await pending;
    // Under the run: a value's toJSON may log.
    if (job.owned) answer(id, run, job, value);
    else inRun(run, () => answer(id, run, job, value));
  } catch (thrown) {
    fail(run, id, job, thrown);
  } finally {
    end(run, job);
  }
}

function answer(id, run, job, value) {
  // A run that ended early (a limit, `process.exit()`) ends so even when the
  // script caught what was thrown at it.
  if (run.endReason !== undefined) throw run.endReason;
  const frames = [];
  const text = job.encode(value, frames);
  job.succeeded?.(value);
  respond(id, text, frames);
}

function fail(run, id, job, thrown) {
  job.failed?.();
  if (!isAllocationFailure(thrown)) return respondThrown(id, thrown, job.name);
  // Answered once what the run held is back (`end`). The error goes to text
  // now: the error object would keep the run's realm, and its memory, alive.
  const { code, message, data } = errorFor(thrown, job.name);
  run.refusal = () => respondError(id, code, message, data);
}

/**
 * The engine's full collection, for the runtime alone. V8 gives `gc` to
 * contexts made while `--expose-gc` is on: one is made at start-up and the
 * flag goes off again, so no script's context has it. Bun (JavaScriptCore)
 * has its own, `Bun.gc(true)`.
 */
const collectGarbage = (() => {
  if (engine.bun) return () => globalThis.Bun.gc(true);
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc');
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
})();

/**
 * Answers a run whose allocation the system refused (Sandbox::max_memory_mb)
 * once its memory is back. The worker's room is full of what the run held,
 * garbage once its context is gone, and the engine does not always wait for
 * its collector before it needs memory itself (a young generation it cannot
 * commit ends the process): so the garbage goes first (~25 ms for 300 MB),
 * from a later turn, where no frame of the run still holds any of it. Should
 * the engine end while collecting, this run is still the one in flight, and
 * the host names it.
 */
function answerRefusal(answer) {
  setImmediate(() => {
    collectGarbage();
    answer();
  });
}

function end(run, job) {
  run.finish();
  if (job.owned) {
    // The context goes with the run: whatever still holds its signal sees it abort.
    if (run.endReason === undefined) run.endReason = RUN_OVER;
    run.abortController?.abort(run.abortReason());
    job.state.dispose();
  }
  // The run (and through it, its context) is not kept for the answer.
  if (run.refusal !== undefined) answerRefusal(run.refusal);
}

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

/** Awaits a job's promise, unless the run ends first. */
async function settle(run, promise) {
  return await Promise.race([promise, run.ended]);
}

/** Waits for the context's preloads, unless the run ends first. */
function whenReady(run, state) {
  return Promise.race([state.ready, run.ended]);
}
