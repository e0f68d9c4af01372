//! How far past `Sandbox::max_memory_mb` a worker gets, under each layer
//! that holds it on this machine, for tight synchronous allocation loops.
//! Not part of the test suite; its numbers go in BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release --example memory_bound -- [rounds=5] [bound_mb=512]
//! ```
//!
//! A thread watches the worker's `VmHWM` (the kernel's own peak) every
//! millisecond while each loop runs; the peak reported is the larger of
//! its last reading and what the host says the worker reached.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use outrigger::{Error, Pool, Sandbox, Script};

const MIB: u64 = 1024 * 1024;

/// The loops: each allocates far past any bound, as fast as it can.
const LOOPS: &[(&str, &str)] = &[
    (
        "ArrayBuffers, 64 MiB each, filled",
        "const h = []; while (true) h.push(new Uint8Array(64 * 1024 * 1024).fill(1));",
    ),
    (
        "ArrayBuffers, 1 MiB each, filled",
        "const h = []; while (true) h.push(new Uint8Array(1024 * 1024).fill(1));",
    ),
    (
        "WebAssembly memory, grown 64 MiB at a time",
        "const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
         while (true) { m.grow(1024); new Uint8Array(m.buffer).fill(1); }",
    ),
    (
        "heap arrays of 1e6 doubles",
        "const h = []; while (true) h.push(new Array(1e6).fill(1.5));",
    ),
    (
        "heap strings, 16 MiB each",
        "const h = []; const p = 'x'.repeat(16 * 1024 * 1024 - 8);
         for (let i = 0; ; i++) h.push((p + String(i).padStart(8, '0')).toLowerCase());",
    ),
];

/// Watches a process's peak until told to stop or the process is gone.
fn watch_peak(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                break;
            };
            let Some(kib) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().strip_suffix("kB"))
                .and_then(|kib| kib.trim().parse::<u64>().ok())
            else {
                break;
            };
            peak = peak.max(kib * 1024);
            std::thread::sleep(Duration::from_millis(1));
        }
        peak
    })
}

/// `reached N MiB` in a message from the host, in bytes.
fn reached(message: &str) -> u64 {
    message
        .split_once("reached ")
        .and_then(|(_, after)| after.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |mib| mib * MIB)
}

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let bound_mb: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(512);
    println!("| layers | loop | peak, worst of {rounds} (MiB) | worst ÷ bound | how it ended |");
    println!("|---|---|---|---|---|");
    for (layers, data_limit, cgroup) in [
        ("data limit (+ cgroup)", true, true),
        ("cgroup alone", false, true),
        ("sampling alone", false, false),
    ] {
        let pool = Pool::builder()
            .workers(1)
            .sandbox(Sandbox::strict().max_memory_mb(bound_mb))
            .memory_layers(data_limit, cgroup)
            .timeout(Duration::from_secs(60))
            .build()
            .await?;
        let pid = pool.worker_pids()[0];
        let in_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|text| text.contains("/outrigger-"));
        if cgroup && !in_cgroup {
            println!("| {layers} | (no cgroup for workers on this machine) | | | |");
            continue;
        }
        for (name, code) in LOOPS {
            let mut worst = 0;
            let mut endings = Vec::new();
            for _ in 0..rounds {
                let pid = loop {
                    match pool.worker_pids().first() {
                        Some(&pid) => break pid,
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                };
                let stop = Arc::new(AtomicBool::new(false));
                let watcher = watch_peak(pid, stop.clone());
                let started = Instant::now();
                let outcome = pool.run(Script::module(*code)).await;
                let took = started.elapsed();
                let host_peak = AtomicU64::new(0);
                if let Some(worker) = pool.stats().per_worker.iter().find(|w| w.pid == pid) {
                    host_peak.store(worker.peak_memory, Ordering::Relaxed);
                }
                stop.store(true, Ordering::Relaxed);
                let watched = watcher.join().unwrap_or(0);
                let ending = match &outcome {
                    Err(Error::Limit(message)) if message.contains("was refused") => {
                        "refused in the run".to_owned()
                    }
                    Err(Error::Limit(message)) => {
                        host_peak.fetch_max(reached(message), Ordering::Relaxed);
                        "worker ended, run named".to_owned()
                    }
                    Err(Error::WorkerExited { reason, .. }) => {
                        format!(
                            "worker ended: {}",
                            reason.chars().take(80).collect::<String>()
                        )
                    }
                    other => format!("{other:?}"),
                };
                let peak = watched.max(host_peak.load(Ordering::Relaxed));
                worst = worst.max(peak);
                endings.push(format!("{ending} ({} ms)", took.as_millis()));
                // Let a replacement start, and the old worker's memory go.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            endings.sort();
            endings.dedup_by(|a, b| a.split(" (").next() == b.split(" (").next());
            println!(
                "| {layers} | {name} | {} | {:.2} | {} |",
                worst / MIB,
                worst as f64 / (bound_mb * MIB) as f64,
                endings.join(", ")
            );
        }
    }
    Ok(())
}
