// The runtime's clock.

/**
 * Milliseconds from an arbitrary start. Not `performance.now()`: the
 * `performance` global loads perf_hooks (~5 ms), which start-up need not pay.
 * Nor `process.hrtime.bigint()`, which makes a BigInt to convert: every run
 * reads the clock two or three times, and the pair costs half as much.
 */
export function nowMs() {
  const [seconds, nanos] = process.hrtime();
  return seconds * 1e3 + nanos / 1e6;
}

/** What to add to `process.hrtime` for the host's clock (see `followHostClock`). */
let hostOffsetMicros = 0;

/**
 * Microseconds of the system's monotonic clock (`CLOCK_MONOTONIC`, the
 * host's clock too): the unit of a request's start deadline (`startBy`).
 */
export function nowMicros() {
  return hostMicrosAt(nowMs());
}

/**
 * A reading of `nowMs` in the host's microseconds: one reading of the clock
 * serves both. A Number holds the nanoseconds exactly for 104 days of
 * uptime, and to a few nanoseconds after: far below the microsecond.
 */
export function hostMicrosAt(ms) {
  return Math.floor(ms * 1000) + hostOffsetMicros;
}

/**
 * Reckons the host's clock from its reading `hostMicros` just sent, for an
 * engine whose `process.hrtime` is not `CLOCK_MONOTONIC` (Deno's counts from
 * its start): late by the message's transit, tens of microseconds.
 */
export function followHostClock(hostMicros) {
  hostOffsetMicros = hostMicros - Number(process.hrtime.bigint() / 1000n);
}
