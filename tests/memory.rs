//! The bound on a worker's whole memory (`Sandbox::max_memory_mb`): scripts
//! that allocate far past it, outside the JavaScript heap and in it, end
//! with `Error::Limit` naming the setting; the worker never gets to twice
//! the bound; nothing else on it hangs; the pool serves afterwards. Each
//! enforcement layer is exercised where this machine has it (the tests say
//! which). See SECURITY.md and `crates/host/src/engine/memory`.

mod common;

use std::time::Duration;

use outrigger::{Error, Isolation, Pool, PoolBuilder, Sandbox, Script};

const BOUND_MB: u64 = 512;
const MIB: u64 = 1024 * 1024;

/// 3 GB of ArrayBuffers, each filled (made resident) as it is made.
const ARRAY_BUFFERS: &str = "const hoard = [];
for (let i = 0; i < 30; i++) hoard.push(new Uint8Array(100 * 1024 * 1024).fill(1));
export default hoard.length;";

/// Strings in the JavaScript heap, each flat and 32 MB, until 3 GB.
const HEAP_STRINGS: &str = "const hoard = [];
const part = 'x'.repeat(32 * 1024 * 1024 - 8);
for (let i = 0; i < 96; i++) hoard.push((part + String(i).padStart(8, '0')).toLowerCase());
export default hoard.length;";

/// One worker whose memory is bounded at [`BOUND_MB`].
fn bounded() -> PoolBuilder {
    common::builder()
        .workers(1)
        .sandbox(Sandbox::strict().max_memory_mb(BOUND_MB))
}

fn memory_limit_message(error: Error) -> String {
    match error {
        Error::Limit(message) if message.contains("Sandbox::max_memory_mb") => message,
        other => panic!("expected a memory limit, got {other:?}"),
    }
}

/// The MiB a worker reached, as a message from the host says it
/// (`reached N MiB`).
fn reached_mib(message: &str) -> u64 {
    let (_, after) = message
        .split_once("reached ")
        .unwrap_or_else(|| panic!("no `reached` in: {message}"));
    after
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after `reached` in: {message}"))
}

/// The pool answers, and a worker can take 100 MB again.
async fn serves(pool: &Pool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let code = "new Uint8Array(100 * 1024 * 1024).fill(1).length";
    loop {
        match pool.eval::<u64>(code).await {
            Ok(length) => {
                assert_eq!(length, 100 * MIB);
                return;
            }
            Err(Error::WorkerExited { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the pool no longer serves: {error:?}"),
        }
    }
}

/// The one worker's peak, as the kernel kept it.
fn peak_mib(pool: &Pool) -> u64 {
    let stats = pool.stats();
    assert_eq!(stats.per_worker.len(), 1, "{stats:?}");
    stats.per_worker[0].peak_memory / MIB
}

/// A memory limit held below twice the bound, by either path: the
/// allocation was refused in the run (the worker goes on, its peak in the
/// stats), or the worker ended once the room was gone (when the engine
/// itself then needed memory) and the run was named (its peak in the message).
fn assert_held(pool: &Pool, error: Error) {
    let message = memory_limit_message(error);
    let peak = if message.contains("ran out of memory") {
        reached_mib(&message)
    } else {
        assert!(message.contains("was refused"), "{message}");
        peak_mib(pool)
    };
    assert!(peak < 2 * BOUND_MB, "peak {peak} MiB: {message}");
}

#[tokio::test]
async fn three_gigabytes_of_array_buffers_end_in_a_limit_and_the_worker_goes_on() {
    let pool = bounded().build().await.unwrap();
    let pid = pool.worker_pids()[0];
    let error = pool.run(Script::module(ARRAY_BUFFERS)).await.unwrap_err();
    let message = memory_limit_message(error);
    assert!(message.contains("512 MiB"), "{message}");
    assert!(
        message.contains("Array buffer allocation failed"),
        "{message}"
    );
    let peak = peak_mib(&pool);
    eprintln!("ArrayBuffers under the data limit: peak {peak} MiB for a bound of {BOUND_MB} MiB");
    assert!(
        peak > BOUND_MB / 2 && peak < 2 * BOUND_MB,
        "peak {peak} MiB"
    );
    let stats = pool.stats();
    assert_eq!((stats.memory_limited, stats.restarts), (1, 0));
    assert_eq!(pool.worker_pids(), vec![pid], "the same worker serves");
    serves(&pool).await;
}

#[tokio::test]
async fn buffers_and_strings_outside_the_heap_end_in_a_limit() {
    let pool = bounded()
        .allow_builtin("node:buffer")
        .build()
        .await
        .unwrap();
    let buffers = "import { Buffer } from 'node:buffer';
const hoard = [];
for (let i = 0; i < 30; i++) hoard.push(Buffer.alloc(100 * 1024 * 1024, i));
export default hoard.length;";
    let strings = "import { Buffer } from 'node:buffer';
const hoard = [];
const bytes = Buffer.alloc(100 * 1024 * 1024, 97);
for (let i = 0; i < 30; i++) hoard.push(bytes.toString('latin1'));
export default hoard.length;";
    for code in [buffers, strings] {
        let error = pool.run(Script::module(code)).await.unwrap_err();
        assert_held(&pool, error);
        // A worker that ended has its replacement serving first.
        serves(&pool).await;
    }
    assert_eq!(pool.stats().memory_limited, 2);
}

#[tokio::test]
async fn webassembly_memory_past_the_bound_ends_in_a_limit() {
    let pool = bounded().build().await.unwrap();
    let grown = "const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
for (let i = 0; i < 48; i++) { memory.grow(1024); new Uint8Array(memory.buffer).fill(1); }
export default memory.buffer.byteLength;";
    let made = "const hoard = [];
for (let i = 0; i < 48; i++) { const m = new WebAssembly.Memory({ initial: 1024 }); new Uint8Array(m.buffer).fill(1); hoard.push(m); }
export default hoard.length;";
    for code in [grown, made] {
        let error = pool.run(Script::module(code)).await.unwrap_err();
        assert_held(&pool, error);
        serves(&pool).await;
    }
}

#[tokio::test]
async fn strings_in_the_heap_past_the_bound_end_the_worker_and_the_run_with_a_limit() {
    let pool = bounded().build().await.unwrap();
    let error = pool.run(Script::module(HEAP_STRINGS)).await.unwrap_err();
    let message = memory_limit_message(error);
    assert!(message.contains("this run was the one on it"), "{message}");
    let stats = pool.stats();
    assert_eq!((stats.exits.memory, stats.memory_limited), (1, 1));
    serves(&pool).await;
}

#[tokio::test]
async fn other_runs_on_the_worker_end_as_for_a_crash_and_none_hangs() {
    let pool = bounded().build().await.unwrap();
    // Runs waiting for a timer when the hoarder starts, and runs sent while
    // its synchronous loop holds the worker.
    let waiting = || {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(Script::module(
                "await new Promise((resolve) => setTimeout(resolve, 300)); export default 7;",
            ))
            .await
        })
    };
    let before: Vec<_> = (0..3).map(|_| waiting()).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let hoarder = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(Script::module(HEAP_STRINGS)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after: Vec<_> = (0..3).map(|_| waiting()).collect();
    let within = Duration::from_secs(20);
    let runs = before.into_iter().chain([hoarder]).chain(after);
    for (index, run) in runs.enumerate() {
        let outcome = tokio::time::timeout(within, run)
            .await
            .expect("no run hangs")
            .unwrap();
        match outcome {
            Err(Error::Limit(message)) if index == 3 => {
                assert!(
                    message.contains("oldest not waiting at an await"),
                    "{message}"
                );
            }
            Err(Error::WorkerExited { reason, .. }) if index != 3 => {
                assert!(reason.contains("Sandbox::max_memory_mb"), "{reason}");
            }
            // A run sent while the loop held the worker may never have been
            // read by it: such a run is moved to a worker that serves (the
            // replacement), and answers.
            Ok(output) if index > 3 => assert_eq!(output.value, 7),
            other => panic!("run {index}: unexpected {other:?}"),
        }
    }
    serves(&pool).await;
}

#[tokio::test]
async fn memory_taken_after_an_await_is_pinned_on_no_run() {
    let pool = bounded().build().await.unwrap();
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(Script::module(
                "await new Promise((resolve) => setTimeout(resolve, 5000)); export default 7;",
            ))
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Each string is made after a turn of the event loop.
    let hoarder = pool
        .run(Script::module(
            "const hoard = [];
const part = 'x'.repeat(32 * 1024 * 1024 - 8);
for (let i = 0; i < 96; i++) {
  await new Promise((resolve) => setTimeout(resolve, 1));
  hoard.push((part + String(i).padStart(8, '0')).toLowerCase());
}
export default hoard.length;",
        ))
        .await;
    for outcome in [hoarder, waiting.await.unwrap()] {
        assert!(
            matches!(&outcome, Err(Error::WorkerExited { reason, .. }) if reason.contains("Sandbox::max_memory_mb")),
            "{outcome:?}"
        );
    }
    let stats = pool.stats();
    assert_eq!((stats.exits.memory, stats.memory_limited), (1, 0));
    serves(&pool).await;
}

/// A script that catches every refusal and keeps what it got gets no
/// further: it ends normally, or (when the engine itself then needs memory
/// the room no longer has) its worker ends and it is named.
#[tokio::test]
async fn a_script_catching_every_refusal_gets_no_further() {
    let pool = bounded().build().await.unwrap();
    let pid = pool.worker_pids()[0];
    let outcome = pool
        .run(Script::module(
            "const hoard = [];
for (let i = 0; i < 48; i++) {
  try { hoard.push(new Uint8Array(64 * 1024 * 1024).fill(1)); } catch {}
}
export default hoard.length;",
        ))
        .await;
    match outcome {
        Ok(output) => {
            let kept = output.value.as_u64().unwrap();
            assert!(kept * 64 < BOUND_MB, "kept {kept} × 64 MiB");
            assert!(peak_mib(&pool) < 2 * BOUND_MB);
        }
        Err(error) => {
            let message = memory_limit_message(error);
            assert!(message.contains(&format!("worker {pid}")), "{message}");
        }
    }
    serves(&pool).await;
}

#[tokio::test]
async fn runs_beside_a_refused_allocation_finish() {
    let pool = bounded().build().await.unwrap();
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(Script::module(
                    "const mine = new Uint8Array(1024 * 1024).fill(1);
await new Promise((resolve) => setTimeout(resolve, 300));
export default mine.length;",
                ))
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    memory_limit_message(pool.run(Script::module(ARRAY_BUFFERS)).await.unwrap_err());
    for run in waiting {
        assert_eq!(run.await.unwrap().unwrap().value, 1024 * 1024);
    }
}

/// Each layer alone, where this machine has it: the cgroup (the kernel's
/// OOM killer at the ceiling) and the host's sampling, with the data limit
/// off.
#[tokio::test]
async fn without_the_data_limit_the_cgroup_or_the_sampling_holds_the_bound() {
    for (cgroup, layer) in [(true, "cgroup"), (false, "sampling")] {
        let pool = bounded()
            .memory_layers(false, cgroup)
            .build()
            .await
            .unwrap();
        let pid = pool.worker_pids()[0];
        let in_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|text| text.contains("/outrigger-"));
        if cgroup && !in_cgroup {
            eprintln!("no cgroup for workers on this machine: that layer is not exercised");
            continue;
        }
        let error = pool.run(Script::module(ARRAY_BUFFERS)).await.unwrap_err();
        let message = memory_limit_message(error);
        let reached = reached_mib(&message);
        eprintln!(
            "ArrayBuffers under {layer} alone: reached {reached} MiB for a bound of {BOUND_MB} MiB"
        );
        let expected = if cgroup {
            "OOM killer"
        } else {
            "the host killed it"
        };
        assert!(message.contains(expected), "{message}");
        assert!(reached < 2 * BOUND_MB, "{message}");
        let stats = pool.stats();
        assert_eq!((stats.exits.memory, stats.memory_limited), (1, 1));
        serves(&pool).await;
    }
}

#[tokio::test]
async fn a_bound_below_what_a_worker_needs_fails_build() {
    let error = common::builder()
        .workers(1)
        .sandbox(Sandbox::strict().max_memory_mb(40))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Spawn { message, .. } if message.contains("Sandbox::max_memory_mb is 40 MiB")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_worker_holding_memory_is_recycled_before_its_bound() {
    let pool = bounded()
        .isolation(Isolation::Worker)
        .recycle_above_memory(200 * MIB)
        .health_check(Duration::from_millis(50), Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let first = pool.worker_pids()[0];
    pool.eval::<u64>("globalThis.kept = new Uint8Array(250 * 1024 * 1024).fill(1); kept.length")
        .await
        .unwrap();
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().exits.recycled == 1).await);
    assert_ne!(pool.worker_pids(), vec![first]);
    let kept: bool = pool.eval("typeof kept !== 'undefined'").await.unwrap();
    assert!(!kept, "the new worker starts clean");
    assert_eq!(pool.stats().restarts, 0, "a recycle is not a restart");
}

#[tokio::test]
async fn stats_report_each_workers_memory_and_peak() {
    let pool = bounded().workers(2).build().await.unwrap();
    let stats = pool.stats();
    assert_eq!(stats.per_worker.len(), 2);
    for worker in &stats.per_worker {
        assert!(
            worker.memory > 10 * MIB && worker.peak_memory >= worker.memory,
            "{worker:?}"
        );
    }
}
