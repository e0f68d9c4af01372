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

/// Milliseconds of the system's coarse monotonic clock: as old as the last
/// timer tick (a few ms at most), and a fraction of the cost of a precise
/// reading. For bookkeeping that every run updates and that is only ever
/// compared in seconds, such as when a worker last finished work.
pub(crate) fn coarse_millis() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    now.tv_sec as u64 * 1_000 + now.tv_nsec as u64 / 1_000_000
}

/// One reading of [`monotonic_micros`], taken the first time it is asked
/// for: a choice among several workers reads the clock once at most.
#[derive(Debug, Default)]
pub(crate) struct Reading(std::cell::OnceCell<u64>);

impl Reading {
    /// The reading, taken now if it was not yet.
    pub(crate) fn micros(&self) -> u64 {
        *self.0.get_or_init(monotonic_micros)
    }
}
