//! Dispatch: which worker a run goes to. Least runs in flight among the
//! workers that take work, up to a per-worker limit; beyond it, a bounded
//! FIFO queue whose runs get capacity as soon as any is given back. What the
//! pool should do about its size (grow when runs wait, replace a worker used
//! up) is signalled to the supervisor, not done here.

mod member;
mod stats;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

pub(crate) use member::Member;
pub(crate) use stats::Counters;
pub use stats::{ExitCauses, Stats, WorkerCounts};

use crate::engine::{Cause, Reading, Worker};
use crate::error::{Error, Result};

/// The dispatcher's limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Runs one worker interleaves at most.
    pub(crate) max_in_flight: usize,
    /// Runs that may wait for a worker.
    pub(crate) queue_bound: usize,
    /// How long a run may wait.
    pub(crate) queue_timeout: Option<Duration>,
    /// Runs after which a worker is replaced (0: never).
    pub(crate) recycle_after_runs: u64,
    /// Silence after which a worker with work is taken to be blocked in
    /// synchronous code and gets no new runs (`None`: never).
    pub(crate) blocked_after: Option<Duration>,
}

/// What the dispatcher tells the supervisor.
#[derive(Debug)]
pub(crate) enum Signal {
    /// A run had to queue: the pool may grow.
    Waiting,
    /// A worker should be replaced, without failing anything.
    Retire { member: Arc<Member>, why: String },
}

/// The pool's workers, by position, and the runs waiting for one.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    table: Mutex<Table>,
    limits: Limits,
    closed: AtomicBool,
    counters: Arc<Counters>,
    signals: mpsc::UnboundedSender<Signal>,
    /// Woken when work is handed out (the supervisor watches for blocked
    /// workers only while there is some).
    activity: Notify,
}

#[derive(Debug)]
struct Table {
    /// A position is empty while its worker is being replaced.
    members: Vec<Option<Arc<Member>>>,
    waiters: VecDeque<oneshot::Sender<Lease>>,
}

/// A claim on one worker's capacity, given back when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    member: Option<Arc<Member>>,
    dispatcher: Weak<Dispatcher>,
}

impl Lease {
    pub(crate) fn member(&self) -> &Arc<Member> {
        self.member
            .as_ref()
            .expect("a lease holds its member until dropped")
    }

    pub(crate) fn worker(&self) -> &Arc<Worker> {
        &self.member().worker
    }

    fn into_member(mut self) -> Arc<Member> {
        self.member
            .take()
            .expect("a lease holds its member until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(member) = self.member.take() {
            match self.dispatcher.upgrade() {
                Some(dispatcher) => dispatcher.release(member),
                None => member.sub_in_flight(),
            }
        }
    }
}

impl Dispatcher {
    /// A dispatcher with `positions` empty places for workers, and where it
    /// sends its signals.
    pub(crate) fn new(
        positions: usize,
        limits: Limits,
        counters: Arc<Counters>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Signal>) {
        let (signals, receiver) = mpsc::unbounded_channel();
        let dispatcher = Arc::new(Dispatcher {
            table: Mutex::new(Table {
                members: vec![None; positions],
                waiters: VecDeque::new(),
            }),
            limits,
            closed: AtomicBool::new(false),
            counters,
            signals,
            activity: Notify::new(),
        });
        (dispatcher, receiver)
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Resolves when work is next handed out, or a run starts waiting.
    pub(crate) async fn activity(&self) {
        self.activity.notified().await;
    }

    /// Whether new runs may go to `member`: it takes work and is not blocked
    /// (`now` is read only if that has to be asked).
    fn takes_runs(&self, member: &Member, now: &Reading) -> bool {
        member.worker.accepts_work()
            && !self
                .limits
                .blocked_after
                .is_some_and(|after| member.worker.is_blocked(after, now))
    }

    fn lease(self: &Arc<Self>, member: Arc<Member>) -> Lease {
        self.activity.notify_one();
        Lease {
            member: Some(member),
            dispatcher: Arc::downgrade(self),
        }
    }

    /// Waits for capacity on the least busy worker.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<Lease> {
        loop {
            let waiting = {
                let mut table = self.table.lock().unwrap();
                if self.is_closed() {
                    return Err(Error::Closed);
                }
                let now = Reading::default();
                let best = table
                    .members
                    .iter()
                    .flatten()
                    .filter(|m| self.takes_runs(m, &now))
                    // Among the least busy, one that is idle now (an engine
                    // thread preparing a spare context is not: the run would
                    // wait for it). A process always is.
                    .min_by_key(|m| (m.in_flight(), !m.worker.is_idle()))
                    .filter(|m| m.in_flight() < self.limits.max_in_flight)
                    .cloned();
                if let Some(member) = best {
                    member.add_in_flight();
                    return Ok(self.lease(member));
                }
                if table.waiters.len() >= self.limits.queue_bound {
                    table.waiters.retain(|w| !w.is_closed());
                    if table.waiters.len() >= self.limits.queue_bound {
                        return Err(Error::Overloaded {
                            bound: self.limits.queue_bound,
                        });
                    }
                }
                let (tx, rx) = oneshot::channel();
                table.waiters.push_back(tx);
                drop(table);
                let _ = self.signals.send(Signal::Waiting);
                // The watcher of blocked workers hands it to the first that
                // answers again (it may not have seen them blocked).
                self.activity.notify_one();
                rx
            };
            let queued_at = Instant::now();
            let answer = match self.limits.queue_timeout {
                Some(limit) => match tokio::time::timeout(limit, waiting).await {
                    Ok(answer) => answer,
                    Err(_) => return Err(Error::QueueTimeout { waited: limit }),
                },
                None => waiting.await,
            };
            self.counters.queue_wait.record(queued_at.elapsed());
            match answer {
                Ok(lease) if lease.worker().accepts_work() => return Ok(lease),
                Ok(_dead) => continue,
                Err(_) => return Err(Error::Closed),
            }
        }
    }

    /// Capacity on one given worker (sessions are pinned), past the limit.
    pub(crate) fn claim(self: &Arc<Self>, member: &Arc<Member>) -> Result<Lease> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        member.add_in_flight();
        Ok(self.lease(member.clone()))
    }

    /// Gives capacity back, straight to the first waiter if there is one.
    fn release(self: &Arc<Self>, mut member: Arc<Member>) {
        let done = member.finish_run();
        let recycle = self.limits.recycle_after_runs;
        if recycle > 0 && done >= recycle && member.worker.accepts_work() {
            let _ = self.signals.send(Signal::Retire {
                member: member.clone(),
                why: format!("it finished {done} runs"),
            });
        }
        loop {
            let waiter = {
                let mut table = self.table.lock().unwrap();
                // Nearly every release finds no waiter: ask the clock
                // whether the worker is blocked only when one waits.
                if !table.waiters.is_empty()
                    && self.takes_runs(&member, &Reading::default())
                    && !self.is_closed()
                {
                    table.waiters.pop_front()
                } else {
                    None
                }
            };
            let Some(waiter) = waiter else {
                member.sub_in_flight();
                self.stop_if_drained(&member);
                return;
            };
            match waiter.send(self.lease(member)) {
                Ok(()) => return,
                Err(lease) => member = lease.into_member(),
            }
        }
    }

    /// Stops a worker taken out of service once it has no runs and no sessions.
    pub(crate) fn stop_if_drained(&self, member: &Member) {
        if member.worker.is_retired() && member.is_drained() {
            member.worker.stop();
        }
    }

    /// Puts a new worker at `position` and gives it waiting runs.
    pub(crate) fn install(self: &Arc<Self>, position: usize, worker: Arc<Worker>) {
        let member = Arc::new(Member::new(worker));
        self.table.lock().unwrap().members[position] = Some(member.clone());
        self.serve_waiters(&member);
    }

    /// Gives runs waiting in the queue to `member`, up to its limit (a new
    /// worker, or one that is no longer blocked).
    pub(crate) fn serve_waiters(self: &Arc<Self>, member: &Arc<Member>) {
        if !self.takes_runs(member, &Reading::default()) {
            return;
        }
        loop {
            let waiter = {
                let mut table = self.table.lock().unwrap();
                if member.in_flight() >= self.limits.max_in_flight {
                    return;
                }
                match table.waiters.pop_front() {
                    Some(waiter) => {
                        member.add_in_flight();
                        waiter
                    }
                    None => return,
                }
            };
            // A waiter that gave up drops the lease, which releases it.
            let _ = waiter.send(self.lease(member.clone()));
        }
    }

    /// A position with no worker in it, added if there is none.
    pub(crate) fn free_position(&self) -> usize {
        let mut table = self.table.lock().unwrap();
        match table.members.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                table.members.push(None);
                table.members.len() - 1
            }
        }
    }

    /// What to do about a worker that ended: the position to start its
    /// replacement at, or `None` when it needs none (drained on purpose, or
    /// already replaced). A drained worker's position is freed.
    pub(crate) fn vacate(&self, pid: u32, retired: bool) -> Option<usize> {
        let mut table = self.table.lock().unwrap();
        let position = table
            .members
            .iter()
            .position(|m| m.as_ref().is_some_and(|m| m.worker.pid == pid))?;
        if retired {
            table.members[position] = None;
            return None;
        }
        Some(position)
    }

    /// The pool's size for growing: workers not taken out of service, dead
    /// ones awaiting their replacement included.
    pub(crate) fn size(&self) -> usize {
        self.table
            .lock()
            .unwrap()
            .members
            .iter()
            .flatten()
            .filter(|m| !m.worker.is_retired())
            .count()
    }

    /// Whether runs are waiting for a worker.
    pub(crate) fn has_waiters(&self) -> bool {
        self.table
            .lock()
            .unwrap()
            .waiters
            .iter()
            .any(|w| !w.is_closed())
    }

    /// The workers that take work.
    pub(crate) fn members(&self) -> Vec<Arc<Member>> {
        self.table
            .lock()
            .unwrap()
            .members
            .iter()
            .flatten()
            .filter(|m| m.worker.accepts_work())
            .cloned()
            .collect()
    }

    /// Every worker in the table with its load, whatever its state.
    pub(crate) fn all_members(&self) -> Vec<Arc<Member>> {
        self.table
            .lock()
            .unwrap()
            .members
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Every worker in the table, whatever its state.
    pub(crate) fn all_workers(&self) -> Vec<Arc<Worker>> {
        self.table
            .lock()
            .unwrap()
            .members
            .iter()
            .flatten()
            .map(|m| m.worker.clone())
            .collect()
    }

    /// The worker at `position`, if there is one.
    pub(crate) fn worker_at(&self, position: usize) -> Option<Arc<Worker>> {
        let table = self.table.lock().unwrap();
        table
            .members
            .get(position)?
            .as_ref()
            .map(|m| m.worker.clone())
    }

    /// Takes workers beyond `keep` that have been idle for `idle` out of
    /// service, and stops them.
    pub(crate) fn retire_idle(&self, keep: usize, idle: Duration) {
        let members = self.members();
        let surplus = members.len().saturating_sub(keep);
        for member in members
            .iter()
            .filter(|m| m.is_drained() && m.idle_for() >= idle)
            .take(surplus)
        {
            tracing::info!(pid = member.worker.pid, "retiring an idle worker");
            member.worker.drain(Cause::Idle);
            self.stop_if_drained(member);
        }
    }

    /// Stops taking work; runs waiting are told the pool closed.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let waiters = std::mem::take(&mut self.table.lock().unwrap().waiters);
        drop(waiters);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A snapshot of the counters and of every worker's load and memory.
    pub(crate) fn stats(&self) -> Stats {
        let (mut stats, live) = {
            let table = self.table.lock().unwrap();
            let members = || table.members.iter().flatten();
            let mut stats = Stats {
                workers: members().filter(|m| m.worker.accepts_work()).count(),
                in_flight: members().map(|m| m.in_flight()).sum(),
                queued: table.waiters.iter().filter(|w| !w.is_closed()).count(),
                ..self.counters.snapshot()
            };
            // Episodes still going on count too.
            let now = crate::engine::monotonic_micros();
            stats.blocked += members()
                .map(|m| Duration::from_micros(m.blocked_for(now)))
                .sum::<Duration>();
            let live: Vec<Arc<Member>> =
                members().filter(|m| m.worker.is_alive()).cloned().collect();
            (stats, live)
        };
        stats.engine = live.first().map(|m| m.worker.engine.clone());
        // Memory is read from the kernel, outside the table's lock.
        stats.per_worker = live
            .iter()
            .map(|m| {
                let memory = m.worker.memory();
                WorkerCounts {
                    pid: m.worker.pid,
                    in_flight: m.in_flight(),
                    runs: m.runs_done(),
                    sessions: m.sessions(),
                    retiring: m.worker.is_retired(),
                    blocked: m.is_blocked(),
                    blocked_time: m.blocked_time(),
                    memory: memory.resident,
                    peak_memory: memory.peak,
                }
            })
            .collect();
        stats
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        let table = self.table.get_mut().unwrap();
        table.waiters.clear();
        for member in table.members.iter().flatten() {
            member.worker.kill("the pool was dropped");
        }
    }
}
