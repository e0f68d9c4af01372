//! A worker as the dispatcher counts it: its runs in flight, runs done,
//! sessions pinned to it and when it last finished work.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Worker;

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
    joined: Instant,
    /// Milliseconds after `joined` when it last finished work.
    last_active_ms: AtomicU64,
}

impl Member {
    pub(crate) fn new(worker: Arc<Worker>) -> Self {
        Member {
            worker,
            in_flight: AtomicUsize::new(0),
            runs_done: AtomicU64::new(0),
            sessions: AtomicUsize::new(0),
            joined: Instant::now(),
            last_active_ms: AtomicU64::new(0),
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
        let now = u64::try_from(self.joined.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(now, Ordering::Relaxed);
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
        let last = Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed));
        self.joined.elapsed().saturating_sub(last)
    }

    /// Whether it has nothing left to do: no runs, no sessions.
    pub(crate) fn is_drained(&self) -> bool {
        self.in_flight() == 0 && self.sessions() == 0
    }
}
