//! A soak run: a steady mixed load for minutes, reporting throughput, p99
//! latency and the engines' RSS every interval, so leaks and slowdowns show.
//! Not part of the test suite; its numbers go in BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release --example soak -- [seconds=300] [concurrency=32] [--kill]
//! ```
//!
//! `--kill` also SIGKILLs a random worker every 5 seconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outrigger::{CallContext, Error, Pool, Script};

/// A callback the load calls now and then.
struct Lookup;

#[outrigger::callbacks]
impl Lookup {
    /// Squares a number after a short pause.
    async fn square(&self, _ctx: CallContext, n: u64) -> u64 {
        tokio::time::sleep(Duration::from_micros(200)).await;
        n * n
    }
}

fn rss_mib(pids: &[u32]) -> f64 {
    let bytes: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<u64>().ok())
                })
        })
        .sum::<u64>()
        * 1024;
    bytes as f64 / 1048576.0
}

/// One unit of the mixed load.
async fn one(pool: &Pool, n: u64) -> outrigger::Result<()> {
    match n % 4 {
        0 => {
            let value: u64 = pool.eval(&format!("{n} % 1000 + 1")).await?;
            assert_eq!(value, n % 1000 + 1);
        }
        1 => {
            let out = pool
                .run(
                    Script::module(
                        "console.log('item', input); export default { doubled: input * 2 };",
                    )
                    .global("input", n),
                )
                .await?;
            assert_eq!(out.value["doubled"], n * 2);
        }
        2 => {
            let value: u64 = pool
                .eval(&format!("host.square({{ n: {} }})", n % 100))
                .await?;
            assert_eq!(value, (n % 100) * (n % 100));
        }
        _ => {
            let session = pool.session().await?;
            session.eval::<u64>("globalThis.count = 1").await?;
            assert_eq!(session.eval::<u64>("++count").await?, 2);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let seconds = numbers.first().copied().unwrap_or(300);
    let concurrency = numbers.get(1).copied().unwrap_or(32);
    let kill = args.iter().any(|a| a == "--kill");
    let interval = Duration::from_secs(10.min(seconds.max(1)));

    let pool = Pool::builder().workers(2).callbacks(Lookup).build().await?;
    let done = Arc::new(AtomicU64::new(0));
    let exited = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (pool, done, exited, latencies, stop, next) = (
                pool.clone(),
                done.clone(),
                exited.clone(),
                latencies.clone(),
                stop.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    match one(&pool, n).await {
                        Ok(()) => {}
                        Err(Error::WorkerExited { .. }) => {
                            exited.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => panic!("unit {n} failed: {other}"),
                    }
                    latencies.lock().unwrap().push(started.elapsed());
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    println!("| elapsed | runs/s | p50 | p99 | engines' RSS | workers | restarts | worker exits under a run |");
    println!("|---|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let mut last_done = 0;
    let mut last_kill = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let tick = Instant::now();
        while tick.elapsed() < interval {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if kill && last_kill.elapsed() >= Duration::from_secs(5) {
                last_kill = Instant::now();
                let pids = pool.worker_pids();
                if let Some(&pid) =
                    pids.get(next.load(Ordering::Relaxed) as usize % pids.len().max(1))
                {
                    // SAFETY: kill(2) on a worker this process started.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
            }
        }
        let mut samples = std::mem::take(&mut *latencies.lock().unwrap());
        samples.sort();
        let pick = |q: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        let total = done.load(Ordering::Relaxed);
        let stats = pool.stats();
        println!(
            "| {:.0} s | {:.0} | {:.2} ms | {:.2} ms | {:.1} MiB | {} | {} | {} |",
            started.elapsed().as_secs_f64(),
            (total - last_done) as f64 / tick.elapsed().as_secs_f64(),
            pick(0.5).as_secs_f64() * 1e3,
            pick(0.99).as_secs_f64() * 1e3,
            rss_mib(&pool.worker_pids()),
            stats.workers,
            stats.restarts,
            exited.load(Ordering::Relaxed),
        );
        last_done = total;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a load task panicked");
    }
    let stats = pool.stats();
    println!(
        "\n{} units in {:.0} s; pool latency p50 {:?}, p99 {:?}; queue wait p99 {:?}; exits {:?}",
        done.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        stats.latency.p50(),
        stats.latency.p99(),
        stats.queue_wait.p99(),
        stats.exits
    );
    pool.shutdown().await;
    Ok(())
}
