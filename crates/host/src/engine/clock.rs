//! The clock host and workers share: `CLOCK_MONOTONIC`, in microseconds.
//! A request's start deadline is written in it (see `wire::methods::Run`).

/// Microseconds of the system's monotonic clock.
pub(crate) fn monotonic_micros() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}
