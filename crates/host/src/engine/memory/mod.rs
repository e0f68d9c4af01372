//! A worker's whole memory (`Sandbox::max_memory_mb`): its JavaScript heap,
//! and everything outside it (ArrayBuffers, WebAssembly memories, strings
//! kept outside the heap, the engine's own allocations). Layers, each
//! where the host can have it, the first that applies doing the work:
//!
//! 1. **The kernel's data limit** (`RLIMIT_DATA`; Linux, any user). Once a
//!    worker has started, it may map only as much more private writable
//!    memory as the bound leaves above what it is using then. Every
//!    allocation is counted when it is made, not when it is touched, so no
//!    loop outruns it: an ArrayBuffer, `Buffer`, WebAssembly memory or
//!    outside-the-heap string that does not fit is refused where it is
//!    asked for, inside the run that asked (which ends with a `LIMIT` error
//!    naming the setting, and the worker goes on); a heap that cannot grow
//!    ends the engine (see [`WorkerMemory::end_of`]).
//! 2. **A cgroup per worker** ([`cgroup`]; where the host may make one), at
//!    the ceiling: counts what the data limit does not (file pages, shared
//!    memory, kernel buffers); past it the kernel's OOM killer ends the
//!    worker, and only it.
//! 3. **Sampling**, for a worker without a cgroup: while it has requests,
//!    the host reads its resident memory every [`SAMPLE_EVERY`] and kills
//!    it past the ceiling. Resident memory counts pages of the engine's
//!    binary the cgroup does not (they were charged to whoever read them
//!    first), so with a cgroup the kernel alone holds the ceiling.
//! 4. **The machine's OOM killer** is told to take workers first
//!    (`oom_score_adj` 1000), so the host is never the process it ends.
//!
//! The engine's own heap limit is set to the bound too (`engine/node.rs`),
//! so its collector works against it. Elsewhere than Linux only that holds.
//! An engine in the host's own process (none is yet) cannot be told apart
//! from the host by any of these: it has to bound its own allocator.

pub(crate) mod cgroup;
mod procfs;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cgroup::{Cgroup, CgroupParent};

use super::spawn::Liveness;

/// How often a worker with requests in flight has its memory read.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The room a worker needs above what it uses once started, for a bound to
/// be usable at all.
const MIN_ROOM: u64 = 32 * MIB;

const MIB: u64 = 1024 * 1024;

/// The default bound: a share of the machine's memory (physical memory, or
/// the host's own cgroup limit when that is lower) such that every worker
/// at its bound still leaves the host a share as large; at least 256 MiB
/// (what a worker needs to do real work) and at most 4 GiB (no single
/// runaway takes more). In MiB.
pub(crate) fn default_bound_mb(max_workers: usize) -> u64 {
    let machine = [procfs::physical_memory(), cgroup::host_limit()]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(8 * 1024 * MIB);
    share_mb(machine, max_workers)
}

fn share_mb(machine: u64, max_workers: usize) -> u64 {
    let shares = u64::try_from(max_workers)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    (machine / shares / MIB).clamp(256, 4096)
}

/// Which layers a pool uses, where they are available (all by default;
/// turning one off is for measuring the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layers {
    /// The kernel's data limit.
    pub(crate) data_limit: bool,
    /// A cgroup per worker.
    pub(crate) cgroup: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            data_limit: true,
            cgroup: true,
        }
    }
}

/// How a pool holds its workers' memory.
#[derive(Debug)]
pub(crate) struct MemoryPolicy {
    /// Bytes a worker may take in all.
    bound: u64,
    /// Resident bytes past which a worker is killed: the bound plus a
    /// quarter, room for what the data limit does not count.
    ceiling: u64,
    data_limit: bool,
    /// Where worker cgroups are made, when the host may make them.
    cgroups: Option<CgroupParent>,
    /// The heap limit the user set (`Sandbox::max_heap_mb`), in MiB: a heap
    /// that reaches it is named by that setting.
    heap_mb: Option<u64>,
}

impl MemoryPolicy {
    pub(crate) fn new(bound_mb: u64, heap_mb: Option<u64>, layers: Layers) -> MemoryPolicy {
        let bound = bound_mb.saturating_mul(MIB);
        let cgroups = if layers.cgroup {
            CgroupParent::find()
        } else {
            None
        };
        tracing::debug!(
            bound_mb,
            data_limit = layers.data_limit,
            cgroup = cgroups.as_ref().map(CgroupParent::version),
            "worker memory policy"
        );
        MemoryPolicy {
            bound,
            ceiling: bound.saturating_add(bound / 4),
            data_limit: layers.data_limit,
            cgroups,
            heap_mb,
        }
    }

    /// A cgroup for a new worker, if the host may make one.
    fn cgroup(&self) -> Option<Cgroup> {
        let parent = self.cgroups.as_ref()?;
        parent
            .create(self.ceiling)
            .map_err(|error| tracing::warn!(%error, "cannot make a cgroup for a worker; it runs without one"))
            .ok()
    }

    fn setting(&self) -> String {
        format!(
            "its bound of {} MiB (Sandbox::max_memory_mb)",
            self.bound / MIB
        )
    }
}

/// What an engine said on its way out when it ran out of memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineOutOfMemory {
    /// Whether its heap reached its configured limit (rather than failing
    /// to get memory from the system).
    pub(crate) heap_limit: bool,
    /// The line that said so.
    pub(crate) line: String,
}

/// One worker's memory: its layers, and what was last read of it.
#[derive(Debug)]
pub(crate) struct WorkerMemory {
    pid: u32,
    policy: Arc<MemoryPolicy>,
    /// Reads and limits happen only while the process is not yet reaped,
    /// so that its pid cannot be another process's.
    liveness: Liveness,
    cgroup: Mutex<Option<Cgroup>>,
    resident: AtomicU64,
    peak: AtomicU64,
}

/// A worker's memory as last read, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Resident now.
    pub(crate) resident: u64,
    /// The most it has been resident.
    pub(crate) peak: u64,
}

impl WorkerMemory {
    /// Takes over a started worker: moves it into a cgroup of its own if
    /// the host may make one (blocking; see [`Cgroup::add`]), and tells the
    /// machine's OOM killer to take it first.
    pub(crate) fn new(pid: u32, policy: Arc<MemoryPolicy>, liveness: Liveness) -> WorkerMemory {
        let cgroup = policy
            .cgroup()
            .filter(|cgroup| match liveness.while_alive(|| cgroup.add(pid)) {
                Some(Ok(())) => true,
                Some(Err(error)) => {
                    tracing::warn!(pid, %error, "cannot move the worker into its cgroup; it runs without one");
                    false
                }
                None => false,
            });
        liveness.while_alive(|| {
            if let Err(error) = procfs::prefer_as_oom_victim(pid) {
                tracing::debug!(pid, %error, "cannot raise the worker's oom_score_adj");
            }
        });
        WorkerMemory {
            pid,
            policy,
            liveness,
            cgroup: Mutex::new(cgroup),
            resident: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    /// Whether it runs in a cgroup of its own.
    pub(crate) fn has_cgroup(&self) -> bool {
        self.cgroup.lock().unwrap().is_some()
    }

    /// Sets the data limit once the worker has started (and answered
    /// `init`): what it maps privately from now on may grow by what the bound
    /// leaves above its resident memory now. Fails when the bound leaves it
    /// no room to work.
    pub(crate) fn limit_from_now(&self) -> Result<(), String> {
        let Some(Ok(usage)) = self.liveness.while_alive(|| procfs::usage(self.pid)) else {
            // No /proc to read: only the engine's heap limit holds.
            return Ok(());
        };
        self.record(usage.resident, usage.peak);
        let bound = self.policy.bound;
        if usage.resident.saturating_add(MIN_ROOM) > bound {
            return Err(format!(
                "Sandbox::max_memory_mb is {} MiB, but a worker uses {} MiB once started; allow at least {} MiB",
                bound / MIB,
                usage.resident.div_ceil(MIB),
                (usage.resident + MIN_ROOM).div_ceil(MIB)
            ));
        }
        if self.policy.data_limit {
            let limit = usage.data + (bound - usage.resident);
            match self
                .liveness
                .while_alive(|| procfs::limit_data(self.pid, limit))
            {
                Some(Err(error)) => {
                    tracing::warn!(pid = self.pid, %error, "cannot set the worker's data limit; sampling holds its memory")
                }
                _ => tracing::debug!(
                    pid = self.pid,
                    data_mb = usage.data / MIB,
                    resident_mb = usage.resident / MIB,
                    limit_mb = limit / MIB,
                    "worker data limit set"
                ),
            }
        }
        Ok(())
    }

    /// Reads its resident memory; past the ceiling, the reason to kill it.
    pub(crate) fn check(&self) -> Option<String> {
        let resident = self
            .liveness
            .while_alive(|| procfs::resident(self.pid).ok())
            .flatten()?;
        self.record(resident, resident);
        (resident > self.policy.ceiling).then(|| {
            format!(
                "its resident memory reached {} MiB, past the ceiling of {} MiB kept for {}, and the host killed it",
                resident / MIB,
                self.policy.ceiling / MIB,
                self.policy.setting()
            )
        })
    }

    /// Its memory now, and its peak as the kernel keeps it (exact, however
    /// rarely read); what was last read once the process has ended.
    pub(crate) fn usage(&self) -> Usage {
        if let Some(Ok(usage)) = self.liveness.while_alive(|| procfs::usage(self.pid)) {
            self.record(usage.resident, usage.peak);
        }
        Usage {
            resident: self.resident.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
        }
    }

    fn record(&self, resident: u64, peak: u64) {
        self.resident.store(resident, Ordering::Relaxed);
        self.peak.fetch_max(peak, Ordering::Relaxed);
    }

    /// Why a worker that ended by itself ran out of memory, if it did: the
    /// kernel's OOM killer ended it in its cgroup, or its engine said so on
    /// stderr (`oom`). Says which setting it went past.
    pub(crate) fn end_of(&self, oom: Option<EngineOutOfMemory>) -> Option<String> {
        let cgroup = self.cgroup.lock().unwrap();
        // The cgroup keeps the exact peak; otherwise the last one read.
        let peak = cgroup
            .as_ref()
            .and_then(Cgroup::peak)
            .unwrap_or_else(|| self.peak.load(Ordering::Relaxed))
            / MIB;
        if cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0) {
            return Some(format!(
                "the kernel's OOM killer ended it at the limit of its cgroup, {} MiB, kept for {}; it reached {peak} MiB",
                self.policy.ceiling / MIB,
                self.policy.setting(),
            ));
        }
        let oom = oom?;
        Some(match self.policy.heap_mb {
            Some(heap_mb) if oom.heap_limit => format!(
                "its JavaScript heap reached its limit of {heap_mb} MiB (Sandbox::max_heap_mb): {}",
                oom.line
            ),
            None if oom.heap_limit => format!(
                "its JavaScript heap reached its limit, which is {} unless an engine argument sets another (its whole memory reached {peak} MiB): {}",
                self.policy.setting(),
                oom.line
            ),
            _ => format!(
                "its engine could not get more memory within {} (its whole memory reached {peak} MiB): {}",
                self.policy.setting(),
                oom.line
            ),
        })
    }

    /// Removes its cgroup once the process has been reaped.
    pub(crate) fn release(&self) {
        self.cgroup.lock().unwrap().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_the_host_a_share_within_sensible_bounds() {
        const GIB: u64 = 1024 * MIB;
        // 24 GiB, 2 workers: 8 GiB each would be a third; capped at 4 GiB.
        assert_eq!(share_mb(24 * GIB, 2), 4096);
        // 8 GiB, 4 workers: workers and the host get 1.6 GiB each.
        assert_eq!(share_mb(8 * GIB, 4), 1638);
        // A small container, many workers: still room to work.
        assert_eq!(share_mb(GIB, 16), 256);
    }

    #[test]
    fn the_ceiling_is_a_quarter_above_the_bound() {
        let policy = MemoryPolicy::new(
            512,
            None,
            Layers {
                data_limit: true,
                cgroup: false,
            },
        );
        assert_eq!((policy.bound / MIB, policy.ceiling / MIB), (512, 640));
    }
}
