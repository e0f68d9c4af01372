//! Supervision: starting workers, replacing the ones that end, growing the
//! pool under load and shrinking it when idle, recycling used-up workers,
//! and the health pings that find the stuck ones.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::dispatch::{Counters, Dispatcher, Member, Signal};
use crate::engine::{Cause, Exited, Worker, WorkerConfig};
use crate::error::Result;
use crate::module::ModuleRegistry;

/// How often workers are pinged, and how long each has to answer; when a
/// worker counts as blocked, and how long an idle one may stay so.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Health {
    pub(crate) interval: Duration,
    pub(crate) deadline: Duration,
    pub(crate) blocked_after: Duration,
    pub(crate) hang_timeout: Duration,
}

/// What keeps a pool's workers coming. Its tasks live as long as the
/// dispatcher does (the pool, or a session or module still in use).
#[derive(Debug)]
pub(crate) struct Supervisor {
    pub(crate) dispatcher: Weak<Dispatcher>,
    pub(crate) config: Arc<WorkerConfig>,
    pub(crate) modules: Arc<ModuleRegistry>,
    pub(crate) ids: Arc<AtomicU64>,
    pub(crate) exits: mpsc::UnboundedSender<Exited>,
    pub(crate) counters: Arc<Counters>,
    /// How long loading the pool's modules into a new worker may take.
    pub(crate) module_timeout: Duration,
    pub(crate) min_workers: usize,
    pub(crate) max_workers: usize,
    pub(crate) idle_timeout: Duration,
    /// Heap size past which a worker is recycled (0: never).
    pub(crate) recycle_above_heap: u64,
    /// Resident memory past which a worker is recycled (0: never).
    pub(crate) recycle_above_memory: u64,
    /// Workers being started to grow the pool.
    pub(crate) starting: AtomicUsize,
}

impl Supervisor {
    /// Starts a worker and loads the pool's modules into it.
    pub(crate) async fn start_worker(&self) -> Result<Arc<Worker>> {
        let worker = Worker::start(&self.config, self.ids.clone(), self.exits.clone()).await?;
        self.modules.load_all_on(&worker, self.module_timeout).await;
        Ok(worker)
    }

    /// The dispatcher, while the pool is open.
    fn open_dispatcher(&self) -> Option<Arc<Dispatcher>> {
        self.dispatcher.upgrade().filter(|d| !d.is_closed())
    }

    /// Starts the tasks that replace ended workers, act on the
    /// dispatcher's signals, and check health.
    pub(crate) fn watch(
        self: Arc<Self>,
        exits: mpsc::UnboundedReceiver<Exited>,
        signals: mpsc::UnboundedReceiver<Signal>,
        health: Health,
    ) {
        tokio::spawn(self.clone().replace_ended(exits));
        tokio::spawn(self.clone().follow(signals));
        if !health.blocked_after.is_zero() {
            tokio::spawn(self.clone().watch_blocked(health));
        }
        tokio::spawn(self.check_health(health));
    }

    /// Replaces workers that died, for as long as the pool lives.
    async fn replace_ended(self: Arc<Self>, mut exits: mpsc::UnboundedReceiver<Exited>) {
        while let Some(exit) = exits.recv().await {
            let Some(dispatcher) = self.dispatcher.upgrade() else {
                return;
            };
            if dispatcher.is_closed() {
                continue;
            }
            let Some(position) = dispatcher.vacate(exit.pid, exit.retired) else {
                if exit.retired {
                    self.counters.count_exit(exit.cause);
                }
                continue;
            };
            self.counters.count_exit(exit.cause);
            tokio::spawn(self.clone().replace(position));
        }
    }

    /// Acts on what the dispatcher asks for.
    async fn follow(self: Arc<Self>, mut signals: mpsc::UnboundedReceiver<Signal>) {
        while let Some(signal) = signals.recv().await {
            match signal {
                Signal::Waiting => self.grow(),
                Signal::Retire { member, why } => self.retire(&member, &why),
            }
        }
    }

    /// Starts a worker at `position`, again and again with back-off, until
    /// one serves or the pool closes.
    async fn replace(self: Arc<Self>, position: usize) {
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.open_dispatcher().is_none() {
                return;
            }
            match self.start_worker().await {
                Ok(worker) => {
                    let Some(dispatcher) = self.open_dispatcher() else {
                        worker.kill("the pool closed during start-up");
                        return;
                    };
                    tracing::info!(position, pid = worker.pid, "replacement worker ready");
                    dispatcher.install(position, worker);
                    return;
                }
                Err(error) => {
                    tracing::error!(position, %error, ?backoff, "cannot start a replacement worker");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Starts one more worker if the pool may grow and none is starting.
    fn grow(self: &Arc<Self>) {
        let Some(dispatcher) = self.open_dispatcher() else {
            return;
        };
        if dispatcher.size() + self.starting.load(Ordering::SeqCst) >= self.max_workers {
            return;
        }
        if self
            .starting
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let position = dispatcher.free_position();
        drop(dispatcher);
        let supervisor = self.clone();
        tokio::spawn(async move {
            tracing::info!(position, "growing the pool under load");
            supervisor.clone().replace(position).await;
            supervisor.starting.store(0, Ordering::SeqCst);
            // Still runs waiting: grow again, up to the maximum.
            if supervisor
                .dispatcher
                .upgrade()
                .is_some_and(|d| d.has_waiters())
            {
                supervisor.grow();
            }
        });
    }

    /// Replaces a worker without failing anything: it serves until its
    /// replacement does, then takes no new work and stops once drained.
    fn retire(self: &Arc<Self>, member: &Arc<Member>, why: &str) {
        if self.open_dispatcher().is_none() || !member.worker.begin_replacement() {
            return;
        }
        tracing::info!(pid = member.worker.pid, why, "recycling worker");
        let supervisor = self.clone();
        let old = member.clone();
        tokio::spawn(async move {
            let Some(position) = supervisor.dispatcher.upgrade().map(|d| d.free_position()) else {
                return;
            };
            supervisor.clone().replace(position).await;
            old.worker.drain(Cause::Recycled);
            if let Some(dispatcher) = supervisor.dispatcher.upgrade() {
                dispatcher.stop_if_drained(&old);
            }
        });
    }

    /// While there is work, looks at every worker each half `blocked_after`:
    /// takes back from a blocked one the runs it never read, notes when it
    /// answers again (giving it queued runs), pings one that has gone idle
    /// after work (a finished run may have left it spinning), and replaces
    /// one that stays blocked with no run in flight past `hang_timeout`.
    async fn watch_blocked(self: Arc<Self>, health: Health) {
        let tick = health.blocked_after / 2;
        let hang = health.hang_timeout.as_micros() as u64;
        loop {
            let Some(dispatcher) = self.open_dispatcher() else {
                return;
            };
            // Runs queued while every worker looked blocked (perhaps only
            // because the host was not reading them) go to the first that
            // takes runs again.
            let waiters = dispatcher.has_waiters();
            let mut busy = waiters;
            let reading = crate::engine::Reading::default();
            let now = reading.micros();
            for member in dispatcher.all_members() {
                let worker = &member.worker;
                if !worker.is_alive() {
                    continue;
                }
                let blocked = worker.is_blocked(health.blocked_after, &reading);
                let hung = member.hung_for(blocked, now);
                if let Some(lasted) = member.note_blocked(blocked, now) {
                    self.counters.blocked_for(lasted);
                    dispatcher.serve_waiters(&member);
                } else if waiters && !blocked {
                    dispatcher.serve_waiters(&member);
                }
                if blocked {
                    busy = true;
                    let moved = worker.withdraw_unread();
                    if moved > 0 {
                        tracing::info!(
                            pid = worker.pid,
                            moved,
                            "worker blocked: its unread runs go elsewhere"
                        );
                    }
                    if hung > hang {
                        worker.kill_for(
                            Cause::Unhealthy,
                            &format!(
                                "killed: blocked for {:?} with no run in flight (a finished run's leftover work spinning?)",
                                Duration::from_micros(hung)
                            ),
                        );
                    }
                } else if worker.outstanding() > 0 {
                    busy = true;
                } else if member.probe_due() {
                    // Keep watching until it has answered a probe.
                    busy = true;
                    if worker.silent_for() > health.blocked_after.as_micros() as u64 {
                        member.mark_probed();
                        worker.probe();
                    }
                }
            }
            drop(dispatcher);
            if busy {
                tokio::time::sleep(tick).await;
            } else {
                // Nothing to watch until work is handed out again.
                let Some(dispatcher) = self.dispatcher.upgrade() else {
                    return;
                };
                tokio::select! {
                    () = dispatcher.activity() => {}
                    () = tokio::time::sleep(health.interval) => {}
                }
            }
        }
    }

    /// Now and then: retires idle workers beyond the minimum, reports the
    /// pool's metrics, pings every worker (one that does not answer is
    /// replaced) and recycles those whose memory or heap has grown past its
    /// limit.
    async fn check_health(self: Arc<Self>, health: Health) {
        loop {
            tokio::time::sleep(health.interval).await;
            let Some(dispatcher) = self.open_dispatcher() else {
                return;
            };
            dispatcher.retire_idle(self.min_workers, self.idle_timeout);
            let stats = dispatcher.stats();
            tracing::debug!(
                target: "outrigger::metrics",
                workers = stats.workers,
                in_flight = stats.in_flight,
                queued = stats.queued,
                completed = stats.completed,
                failed = stats.failed,
                restarts = stats.restarts,
                latency_p50_us = stats.latency.p50().as_micros() as u64,
                latency_p99_us = stats.latency.p99().as_micros() as u64,
                queue_wait_p99_us = stats.queue_wait.p99().as_micros() as u64,
                "pool metrics"
            );
            let members = dispatcher.members();
            drop(dispatcher);
            for member in members {
                let supervisor = self.clone();
                tokio::spawn(async move {
                    if !member.worker.check_health(health.deadline).await {
                        return;
                    }
                    let memory = member.worker.memory().resident;
                    let limit = supervisor.recycle_above_memory;
                    if limit > 0 && memory > limit {
                        let why = format!("its resident memory reached {memory} bytes");
                        supervisor.retire(&member, &why);
                        return;
                    }
                    let limit = supervisor.recycle_above_heap;
                    if limit == 0 {
                        return;
                    }
                    if let Ok(stats) = member.worker.stats(health.deadline).await {
                        if stats.heap_used > limit {
                            let why = format!("its heap reached {} bytes", stats.heap_used);
                            supervisor.retire(&member, &why);
                        }
                    }
                });
            }
        }
    }
}
