// The runtime's clock.

/**
 * Milliseconds from an arbitrary start. Not `performance.now()`: the
 * `performance` global loads perf_hooks (~5 ms), which start-up need not pay.
 */
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Microseconds of the system's monotonic clock (`CLOCK_MONOTONIC`, the
 * host's clock too): the unit of a request's start deadline (`startBy`).
 */
export function nowMicros() {
  return Number(process.hrtime.bigint() / 1000n);
}
