// The runtime's clock.

/**
 * Milliseconds from an arbitrary start. Not `performance.now()`: the
 * `performance` global loads perf_hooks (~5 ms), which start-up need not pay.
 */
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}
