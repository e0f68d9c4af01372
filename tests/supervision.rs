//! Workers that die are replaced; requests on them end with `WorkerExited`;
//! no worker outlives its host.

mod common;

use std::process::Command;
use std::time::Duration;

use outrigger::{Error, Script};

#[tokio::test]
async fn a_killed_worker_fails_its_requests_and_is_replaced() {
    node_only!("SIGKILL to a worker process (an engine thread is ended with Pool::kill_worker)");
    let pool = common::builder().workers(1).build().await.unwrap();
    let old_pid = pool.worker_pids()[0];
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(Script::expression("new Promise(() => {})")).await })
        })
        .collect();
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().in_flight == 5).await);
    // A crash from outside, as the OOM killer would do it.
    unsafe { libc::kill(old_pid as i32, libc::SIGKILL) };
    for run in runs {
        match run.await.unwrap() {
            Err(Error::WorkerExited { pid, reason }) => {
                assert_eq!(pid, old_pid);
                assert!(reason.contains("signal 9"), "{reason}");
            }
            other => panic!("expected WorkerExited, got {other:?}"),
        }
    }
    assert!(
        common::eventually(Duration::from_secs(10), || pool.stats().workers == 1).await,
        "{:?}",
        pool.stats()
    );
    assert_eq!(pool.eval::<i64>("40 + 2").await.unwrap(), 42);
    let stats = pool.stats();
    assert_eq!((stats.restarts, stats.failed, stats.in_flight), (1, 5, 0));
    assert_ne!(pool.worker_pids()[0], old_pid);
    assert!(!common::process_alive(old_pid));
}

#[tokio::test]
async fn the_rest_of_the_pool_goes_on_while_one_worker_restarts() {
    let pool = common::builder().workers(2).build().await.unwrap();
    let victim = pool.kill_worker(0).unwrap();
    // Runs keep succeeding throughout: on the other worker, then on both.
    for n in 0..50 {
        assert_eq!(pool.eval::<i64>(&format!("{n}")).await.unwrap(), n);
    }
    assert!(common::eventually(Duration::from_secs(10), || pool.stats().workers == 2).await);
    assert!(!pool.worker_pids().contains(&victim));
}

#[tokio::test]
async fn runs_queued_while_every_worker_is_down_are_served_by_the_replacement() {
    let pool = common::builder()
        .workers(1)
        .max_in_flight_per_worker(1)
        .build()
        .await
        .unwrap();
    pool.kill_worker(0).unwrap();
    let value: i64 = pool.eval("7 * 6").await.unwrap();
    assert_eq!(value, 42);
}

#[tokio::test]
async fn dropping_the_pool_kills_the_workers() {
    let pool = common::pool().await;
    let pids = pool.worker_pids();
    assert_eq!(pids.len(), 2);
    drop(pool);
    assert!(
        common::eventually(Duration::from_secs(5), || pids
            .iter()
            .all(|&p| !common::process_alive(p)))
        .await,
        "workers {pids:?} still running"
    );
}

#[tokio::test]
async fn shutdown_waits_for_runs_then_stops_the_workers() {
    let pool = common::pool().await;
    let pids = pool.worker_pids();
    let slow = common::spawn_eval(&pool, "new Promise(r => setTimeout(() => r(9), 100))");
    assert!(common::eventually(Duration::from_secs(5), || pool.stats().in_flight == 1).await);
    pool.shutdown().await;
    assert_eq!(slow.await.unwrap().unwrap(), 9);
    assert!(matches!(pool.eval::<i64>("1").await, Err(Error::Closed)));
    assert!(pids.iter().all(|&p| !common::process_alive(p)));
    assert_eq!(
        pool.stats().restarts,
        0,
        "a shut-down pool does not replace its workers"
    );
}

/// Run as a child process by the test below: starts a pool, prints its
/// worker pids, and waits to be killed.
#[test]
fn orphan_host() {
    if std::env::var_os("OUTRIGGER_ORPHAN_HOST").is_none() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pool = common::builder().workers(2).build().await.unwrap();
        // A worker busy in a synchronous loop cannot notice its channel
        // closing; the parent-death signal covers it.
        let busy = pool.clone();
        tokio::spawn(async move {
            busy.run(Script::module("await null; while (true) {}"))
                .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
        println!("PIDS {}", pids.join(","));
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

#[test]
fn no_worker_outlives_a_host_killed_with_sigkill() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "orphan_host", "--nocapture", "--test-threads=1"])
        .env("OUTRIGGER_ORPHAN_HOST", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut pids = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.unwrap();
        // libtest prints "test orphan_host ... " on the same line.
        if let Some((_, list)) = line.split_once("PIDS ") {
            pids = list.split(',').map(|p| p.parse::<u32>().unwrap()).collect();
            break;
        }
    }
    assert_eq!(pids.len(), 2, "the host printed its workers");
    assert!(pids.iter().all(|&p| common::process_alive(p)));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline && pids.iter().any(|&p| common::process_alive(p)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&p| common::process_alive(p))
        .collect();
    assert!(
        left.is_empty(),
        "workers {left:?} outlived their host by more than a second"
    );
}
