// The life of a run, written once for every job that executes code (a
// script run, a module load, a call of an export): make the run, execute
// the job's body as part of it, answer, finish.

import { CODES } from './00_codes.mjs';
import { respond } from './03_channel.mjs';
import { RunEnded, respondThrown } from './05_errors.mjs';
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
 *   body(run)         its value, or a promise of it
 *   encode(value)     the answer's JSON text
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
  const run = new Run(id, state, job.timeout, job.maxCallbacks);
  let pending;
  try {
    pending = inRun(run, () => {
      // A context still importing its preloads runs the job once they are in.
      if (state.ready) return settle(run, whenReady(run, state).then(() => job.body(run)));
      const value = job.body(run);
      if (isThenable(value)) return settle(run, value);
      answer(id, run, job, value);
      return undefined;
    });
  } catch (thrown) {
    fail(id, job, thrown);
  }
  if (pending === undefined) {
    end(run, job);
  } else {
    beatWhileBusy();
    finish(id, run, job, pending);
  }
}

/** Waits for a job's asynchronous part and answers. */
async function finish(id, run, job, pending) {
  try {
    const value = await pending;
    // Under the run: a value's toJSON may log.
    inRun(run, () => answer(id, run, job, value));
  } catch (thrown) {
    fail(id, job, thrown);
  } finally {
    end(run, job);
  }
}

function answer(id, run, job, value) {
  // A run that ended early (a limit, `process.exit()`) ends so even when the
  // script caught what was thrown at it.
  if (run.endReason !== undefined) throw run.endReason;
  const text = job.encode(value);
  job.succeeded?.(value);
  respond(id, text);
}

function fail(id, job, thrown) {
  job.failed?.();
  respondThrown(id, thrown, job.name);
}

function end(run, job) {
  run.finish();
  if (job.owned) {
    // The context goes with the run: whatever still holds its signal sees it abort.
    if (run.endReason === undefined) run.endReason = RUN_OVER;
    run.abortController?.abort(run.abortReason());
    job.state.dispose();
  }
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
