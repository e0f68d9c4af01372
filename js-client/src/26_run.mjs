// A run: one request executing code (a `run`, a `module.load`, a `call`),
// from its start to its answer. It can end early (timeout, cancel, a limit):
// its awaits then reject and its signal aborts.

import { CODES } from './00_codes.mjs';
import { nowMs } from './01_clock.mjs';
import { config } from './02_config.mjs';
import { notify, sinceLastWrite } from './03_channel.mjs';
import { RunEnded } from './05_errors.mjs';
import { rejectCalls } from './08_host_calls.mjs';

/** Runs not yet finished, by request id: what `cancel` finds. */
const runs = new Map();

export function runById(id) {
  return runs.get(id);
}

export function runCount() {
  return runs.size;
}

export class Run {
  /** `started`: when its request was read (ms, `nowMs`), which its deadline counts from. */
  constructor(id, state, timeout, maxCallbacks = 0, started = nowMs()) {
    this.id = id;
    this.state = state;
    state.lastRun = this;
    /** Callback calls made, the limit (0: none), and those not yet answered. */
    this.callbackCount = 0;
    /** Bytes of console output sent (Sandbox::max_console_bytes). */
    this.consoleBytes = 0;
    this.maxCallbacks = maxCallbacks;
    /** Ids of its callback calls not yet answered (made on the first call: most runs make none). */
    this.calls = undefined;
    this.finished = false;
    /** Whether it outlived its synchronous part (`register`). */
    this.registered = false;
    /** Its answer, when it ended with an allocation the system refused (sent once the memory is back). */
    this.refusal = undefined;
    /** Why the run ended early (timeout, cancel, limit), once it has. */
    this.endReason = undefined;
    // The signal and the `ended` promise cost allocations most runs never
    // need: both are made on first use.
    this.abortController = undefined;
    this.endedPromise = undefined;
    this.rejectEnded = undefined;
    this.timeout = timeout;
    this.deadline = timeout > 0 ? started + timeout : undefined;
    /** When its body started (ms): a synchronous part's time counts from it. */
    this.bodyStarted = started;
  }

  /**
   * The run outlives its synchronous part: from now on a `cancel` finds it
   * and its deadline is watched. A run that answers at once is never
   * registered; nothing can reach it by id while it holds the thread.
   */
  register() {
    this.registered = true;
    runs.set(this.id, this);
    if (this.deadline !== undefined && !this.finished) watchDeadline(this);
  }

  /** Aborted when the run ends (early, or when a plain run's context goes). */
  get controller() {
    if (this.abortController === undefined) {
      this.abortController = new AbortController();
      if (this.endReason !== undefined) this.abortController.abort(this.abortReason());
    }
    return this.abortController;
  }

  /** Rejects when the run ends early. */
  get ended() {
    if (this.endedPromise === undefined) {
      this.endedPromise = new Promise((_, reject) => {
        this.rejectEnded = reject;
      });
      this.endedPromise.catch(() => {});
      if (this.endReason !== undefined) this.rejectEnded(this.endReason);
    }
    return this.endedPromise;
  }

  /** What the signal aborts with: a `TimeoutError` or an `AbortError` DOMException. */
  abortReason() {
    const reason = this.endReason;
    return new DOMException(reason.message, reason.code === CODES.TIMEOUT ? 'TimeoutError' : 'AbortError');
  }

  /** Ends the run early: its awaits reject, its signal aborts. */
  end(code, message, data) {
    if (this.endReason !== undefined) return;
    this.endReason = new RunEnded(code, message, data);
    this.rejectEnded?.(this.endReason);
    this.abortController?.abort(this.abortReason());
  }

  /**
   * A call of the run waits for approval (`hold`) or no longer does
   * (`release`): its deadline stands still while any waits.
   */
  hold() {
    this.holds = (this.holds ?? 0) + 1;
    if (this.holds === 1 && deadlines.delete(this)) this.remaining = this.deadline - nowMs();
  }

  release() {
    if (!(this.holds > 0)) return;
    this.holds--;
    if (this.holds === 0 && this.remaining !== undefined && !this.finished) {
      this.deadline = nowMs() + this.remaining;
      this.remaining = undefined;
      deadlines.add(this);
      startDeadlineTimer();
    }
  }

  /** The run has answered: it leaves the registry and the deadlines, and its unanswered callbacks reject. */
  finish() {
    this.finished = true;
    // Only a registered run is in the registry and the deadlines; any run
    // may have left a callback call unanswered.
    if (this.registered) {
      deadlines.delete(this);
      runs.delete(this.id);
    }
    rejectCalls(this);
  }
}

/**
 * Runs' deadlines, checked by one timer rather than a timer per run (the
 * host keeps the exact deadline; this one stops the JavaScript).
 */
const deadlines = new Set();
let deadlineTimer = null;
const DEADLINE_TICK_MS = 25;

function watchDeadline(run) {
  deadlines.add(run);
  startDeadlineTimer();
}

function startDeadlineTimer() {
  if (deadlineTimer === null) {
    deadlineTimer = setInterval(checkDeadlines, DEADLINE_TICK_MS);
    deadlineTimer.unref();
  }
}

function checkDeadlines() {
  const now = nowMs();
  for (const run of deadlines) {
    if (now >= run.deadline) {
      deadlines.delete(run);
      run.end(CODES.TIMEOUT, `run timed out after ${run.timeout} ms`);
    }
  }
  if (deadlines.size === 0) {
    clearInterval(deadlineTimer);
    deadlineTimer = null;
  }
}

/**
 * Signs of life while runs are in progress: the host takes a worker that has
 * work and says nothing for a while to be stuck in synchronous code, and
 * sends new runs elsewhere. A worker that is only waiting (for timers, a
 * fetch, a callback) says `beat` when nothing else went out for
 * `heartbeatMs`. Started by a run that goes asynchronous, stopped when no run
 * is left, so runs that answer at once never start it.
 */
let beatTimer = null;

export function beatWhileBusy() {
  if (beatTimer !== null || !(config.heartbeatMs > 0)) return;
  beatTimer = setInterval(beat, config.heartbeatMs);
  beatTimer.unref();
}

function beat() {
  if (runs.size === 0) {
    clearInterval(beatTimer);
    beatTimer = null;
    return;
  }
  if (sinceLastWrite() >= config.heartbeatMs) notify('beat', '{}');
}
