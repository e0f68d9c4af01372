//! The pool's counters, and the [`Stats`] snapshot made of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::{Cause, EngineInfo};
use crate::metrics::{Histogram, Recorder};

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Live worker processes.
    pub workers: usize,
    /// Runs and calls on workers now.
    pub in_flight: usize,
    /// Runs waiting for a worker.
    pub queued: usize,
    /// Runs that ended with a value.
    pub completed: u64,
    /// Runs that ended with an error (timeouts and cancellations included).
    pub failed: u64,
    /// Runs that ended with [`Error::Limit`](crate::Error::Limit) for their
    /// worker's memory bound ([`Sandbox::max_memory_mb`](crate::Sandbox::max_memory_mb)),
    /// counted in `failed` too.
    pub memory_limited: u64,
    /// Workers started to replace one that died.
    pub restarts: u64,
    /// Why replaced workers ended (recycles included).
    pub exits: ExitCauses,
    /// Time from sending a run to its result, for every finished run.
    pub latency: Histogram,
    /// Time runs spent in the queue waiting for a worker (those that waited).
    pub queue_wait: Histogram,
    /// Time workers spent blocked in synchronous code with work waiting
    /// (see [`PoolBuilder::blocked_after`](crate::PoolBuilder::blocked_after)),
    /// added over workers, ended episodes of replaced workers included.
    pub blocked: Duration,
    /// Runs and calls taken back from a blocked worker that had not started
    /// them, and run on another.
    pub moved: u64,
    /// Each live worker's own counts.
    pub per_worker: Vec<WorkerCounts>,
    /// The engine the workers run and its version, as a live worker reports
    /// it (`None` while none is live).
    pub engine: Option<EngineInfo>,
}

/// One worker's counts, in [`Stats::per_worker`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WorkerCounts {
    /// Its process id.
    pub pid: u32,
    /// Runs and calls on it now.
    pub in_flight: usize,
    /// Runs and calls it has finished.
    pub runs: u64,
    /// Sessions pinned to it.
    pub sessions: usize,
    /// Whether it is being recycled (takes no new work).
    pub retiring: bool,
    /// Whether it is blocked in synchronous code now (gets no new runs).
    pub blocked: bool,
    /// Time it spent blocked so far.
    pub blocked_time: Duration,
    /// Its resident memory, in bytes (0 where the host cannot read it).
    pub memory: u64,
    /// The most memory it has held resident, in bytes, as the kernel
    /// keeps it (exact, not sampled).
    pub peak_memory: u64,
}

/// Workers replaced, by why the old one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExitCauses {
    /// Died by themselves: a crash, a kill from outside.
    pub crashed: u64,
    /// Went past their memory bound
    /// ([`Sandbox::max_memory_mb`](crate::Sandbox::max_memory_mb), or a heap
    /// limit): killed by the host or the kernel, or their engine could not
    /// get more memory.
    pub memory: u64,
    /// Did not stop a cancelled or timed-out run (stuck in synchronous code).
    pub stuck: u64,
    /// Did not answer a health ping in time.
    pub unhealthy: u64,
    /// Sent something the host could not understand.
    pub protocol: u64,
    /// Replaced on purpose after a number of runs or past a heap size,
    /// once drained (not counted in `restarts`).
    pub recycled: u64,
    /// Killed on request (`Pool::kill_worker`).
    pub requested: u64,
    /// Retired after staying idle beyond the minimum size (not counted in
    /// `restarts`).
    pub idle: u64,
}

/// The counters behind [`Stats`], recorded without locks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) latency: Recorder,
    pub(crate) queue_wait: Recorder,
    completed: AtomicU64,
    failed: AtomicU64,
    memory_limited: AtomicU64,
    restarts: AtomicU64,
    crashed: AtomicU64,
    memory: AtomicU64,
    stuck: AtomicU64,
    unhealthy: AtomicU64,
    protocol: AtomicU64,
    recycled: AtomicU64,
    requested: AtomicU64,
    idle: AtomicU64,
    blocked_us: AtomicU64,
    moved: AtomicU64,
}

impl Counters {
    /// Counts a worker that ended; all but planned ends count as restarts.
    pub(crate) fn count_exit(&self, cause: Cause) {
        let counter = match cause {
            Cause::Crashed => &self.crashed,
            Cause::Memory => &self.memory,
            Cause::Stuck => &self.stuck,
            Cause::Unhealthy => &self.unhealthy,
            Cause::Protocol => &self.protocol,
            Cause::Recycled => &self.recycled,
            Cause::Requested => &self.requested,
            Cause::Idle => &self.idle,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !matches!(cause, Cause::Recycled | Cause::Idle) {
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a run sent to another worker because a blocked one never started it.
    pub(crate) fn moved(&self) {
        self.moved.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds an ended episode of a worker blocked in synchronous code.
    pub(crate) fn blocked_for(&self, micros: u64) {
        self.blocked_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a run that ended on its worker's memory bound.
    pub(crate) fn memory_limited(&self) {
        self.memory_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The pool-wide part of a [`Stats`] snapshot.
    pub(crate) fn snapshot(&self) -> Stats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            completed: load(&self.completed),
            failed: load(&self.failed),
            memory_limited: load(&self.memory_limited),
            restarts: load(&self.restarts),
            exits: ExitCauses {
                crashed: load(&self.crashed),
                memory: load(&self.memory),
                stuck: load(&self.stuck),
                unhealthy: load(&self.unhealthy),
                protocol: load(&self.protocol),
                recycled: load(&self.recycled),
                requested: load(&self.requested),
                idle: load(&self.idle),
            },
            latency: self.latency.snapshot(),
            queue_wait: self.queue_wait.snapshot(),
            blocked: Duration::from_micros(load(&self.blocked_us)),
            moved: load(&self.moved),
            ..Stats::default()
        }
    }
}
