//! A worker as the dispatcher counts it: its runs in flight, runs done,
//! sessions pinned to it and when it last finished work.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{coarse_millis, Worker};

/// One worker of the pool and its load.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) worker: Arc<Worker>,
    /// Runs and calls on it now (leases held).
    in_flight: AtomicUsize,
    /// Runs and calls it has finished (for recycling).
    runs_done: AtomicU64,
    /// Open sessions pinned to it.
    sessions: AtomicUsize,
    /// When it last finished work (or joined the pool), in ms of the coarse
    /// monotonic clock: every run sets it, and idle time is counted in seconds.
    last_active_ms: AtomicU64,
    /// Since when it has been blocked (µs, monotonic; 0: it is not).
    blocked_since: AtomicU64,
    /// Time it spent blocked in earlier episodes, in µs.
    blocked_before: AtomicU64,
    /// How many requests it had been sent when it was last probed.
    probed_at: AtomicU64,
    /// Since when it has been blocked with no run in flight (µs; 0: not).
    hung_since: AtomicU64,
}

impl Member {
    pub(crate) fn new(worker: Arc<Worker>) -> Self {
        Member {
            worker,
            in_flight: AtomicUsize::new(0),
            runs_done: AtomicU64::new(0),
            sessions: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(coarse_millis()),
            blocked_since: AtomicU64::new(0),
            blocked_before: AtomicU64::new(0),
            probed_at: AtomicU64::new(0),
            hung_since: AtomicU64::new(0),
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn runs_done(&self) -> u64 {
        self.runs_done.load(Ordering::Relaxed)
    }

    pub(crate) fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    pub(crate) fn add_in_flight(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn sub_in_flight(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Records a finished run; returns how many it has finished.
    pub(crate) fn finish_run(&self) -> u64 {
        let done = self.runs_done.fetch_add(1, Ordering::Relaxed) + 1;
        self.last_active_ms
            .store(coarse_millis(), Ordering::Relaxed);
        done
    }

    pub(crate) fn open_session(&self) {
        self.sessions.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn close_session(&self) {
        self.sessions.fetch_sub(1, Ordering::SeqCst);
    }

    /// How long since it last finished work (or joined the pool).
    pub(crate) fn idle_for(&self) -> Duration {
        let last = self.last_active_ms.load(Ordering::Relaxed);
        Duration::from_millis(coarse_millis().saturating_sub(last))
    }

    /// Records whether it is blocked now (µs, monotonic). Returns the time an
    /// episode that just ended lasted, in µs.
    pub(crate) fn note_blocked(&self, blocked: bool, now: u64) -> Option<u64> {
        let since = self.blocked_since.load(Ordering::Relaxed);
        match (blocked, since) {
            (true, 0) => {
                self.blocked_since.store(now.max(1), Ordering::Relaxed);
                None
            }
            (false, since) if since > 0 => {
                self.blocked_since.store(0, Ordering::Relaxed);
                let lasted = now.saturating_sub(since);
                self.blocked_before.fetch_add(lasted, Ordering::Relaxed);
                Some(lasted)
            }
            _ => None,
        }
    }

    /// How long it has been blocked with no run in flight, in µs (0: it is
    /// not): what is left spinning belongs to no run, so nothing will stop it.
    pub(crate) fn hung_for(&self, blocked: bool, now: u64) -> u64 {
        if !blocked || self.in_flight() > 0 {
            self.hung_since.store(0, Ordering::Relaxed);
            return 0;
        }
        match self.hung_since.load(Ordering::Relaxed) {
            0 => {
                self.hung_since.store(now.max(1), Ordering::Relaxed);
                0
            }
            since => now.saturating_sub(since),
        }
    }

    /// Whether it was blocked when last looked at.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked_since.load(Ordering::Relaxed) > 0
    }

    /// How long the episode going on has lasted, in µs (0: none).
    pub(crate) fn blocked_for(&self, now: u64) -> u64 {
        match self.blocked_since.load(Ordering::Relaxed) {
            0 => 0,
            since => now.saturating_sub(since),
        }
    }

    /// Time it spent blocked, the episode going on included.
    pub(crate) fn blocked_time(&self) -> Duration {
        let now = crate::engine::monotonic_micros();
        Duration::from_micros(self.blocked_before.load(Ordering::Relaxed) + self.blocked_for(now))
    }

    /// Whether it is due a probe: idle, and given requests since it was last
    /// probed.
    pub(crate) fn probe_due(&self) -> bool {
        self.worker.outstanding() == 0
            && self.probed_at.load(Ordering::Relaxed) != self.worker.requests_sent()
    }

    /// Notes that it is being probed now.
    pub(crate) fn mark_probed(&self) {
        // The probe itself is one more request.
        self.probed_at
            .store(self.worker.requests_sent() + 1, Ordering::Relaxed);
    }

    /// Whether it has nothing left to do: no runs, no sessions.
    pub(crate) fn is_drained(&self) -> bool {
        self.in_flight() == 0 && self.sessions() == 0
    }
}
