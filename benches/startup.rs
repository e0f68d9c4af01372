//! Start-up, side by side in one run (BENCHMARKS.md, "Start-up"): a pool to
//! its first result against `js_sidecar` 0.1.0, and a pool whose workers
//! preload a heavy package (a generated 10 MB CommonJS module of many
//! functions, a tenth of them called as it loads), with the preloads' code
//! cache on and off: the first pool ever, later pools, a worker restarted
//! after a crash, and a plain run in a fresh context, which imports the
//! preload again.
//!
//! Run it with `cargo bench --bench startup` (about two minutes);
//! `--quick` runs every row with fewer rounds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use outrigger::Pool;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A project whose `node_modules/heavy` is a CommonJS module of about
/// `megabytes` MB: functions that each build a small list and add it up,
/// every tenth called while the module loads (as a package that sets up
/// tables does), exported on one object.
fn heavy_project(dir: &Path, megabytes: usize) {
    let package = dir.join("node_modules/heavy");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(dir.join("package.json"), r#"{ "name": "startup-bench" }"#).unwrap();
    std::fs::write(
        package.join("package.json"),
        r#"{ "name": "heavy", "main": "index.js" }"#,
    )
    .unwrap();
    let mut source = String::from("'use strict';\nconst table = Object.create(null);\n");
    let mut count = 0;
    while source.len() < megabytes * 1024 * 1024 {
        let i = count;
        source.push_str(&format!(
            "function f{i}(a, b) {{ const list = [a, b, {i}, 'name {i}']; let total = 0; for (const x of list) {{ total += typeof x === 'number' ? x : x.length; }} if (total > {}) {{ return {{ id: {i}, total, label: 'f{i}:' + total }}; }} return {{ id: {i}, total: total * 2, label: 'small' }}; }}\n",
            i * 7 + 3
        ));
        count += 1;
    }
    for i in (0..count).step_by(10) {
        source.push_str(&format!("table.f{i} = f{i}({i}, 1);\n"));
    }
    source.push_str("module.exports = { table, count: ");
    source.push_str(&count.to_string());
    source.push_str(", fns: { ");
    for i in 0..count {
        source.push_str(&format!("f{i}, "));
    }
    source.push_str("} };\n");
    std::fs::write(package.join("index.js"), source).unwrap();
}

/// A new directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "outrigger-startup-bench-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HEAVY_CHECK: &str = "heavy.fns.f3(1, 2).id + heavy.count * 0";

/// A pool of `workers` preloading the heavy package of `project`, to its
/// first result (the pool is returned, running).
async fn heavy_pool(project: &Path, workers: usize, cache: bool) -> (Duration, Pool) {
    let started = Instant::now();
    let pool = Pool::builder()
        .workers(workers)
        .project(project)
        .preload("heavy", "heavy")
        .preload_cache(cache)
        .build()
        .await
        .expect("the pool starts");
    assert_eq!(pool.eval::<i64>(HEAVY_CHECK).await.unwrap(), 3);
    (started.elapsed(), pool)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 10 };
    let started_all = Instant::now();
    let mut rows: Vec<[String; 4]> = Vec::new();

    // 1. An empty pool to its first result, against js_sidecar, taking turns.
    eprintln!("start-up to first result");
    for workers in [1usize, 2] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let started = Instant::now();
            let pool = Pool::builder().workers(workers).build().await.unwrap();
            assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
            ours.push(started.elapsed());
            pool.shutdown().await;
            let started = Instant::now();
            let mut sidecar = js_sidecar::JsSidecar::new(Some(workers as u32))
                .await
                .unwrap();
            {
                let mut conn = sidecar.connect().await.unwrap();
                conn.run_script_and_wait(js_sidecar::RunScriptArgs {
                    code: "2 + 2".to_owned().into(),
                    expr: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            theirs.push(started.elapsed());
            sidecar.close().await;
        }
        let (o, t) = (percentile(&mut ours, 0.5), percentile(&mut theirs, 0.5));
        rows.push([
            format!("start-up to first result, {workers} worker(s), p50"),
            ms(o),
            ms(t),
            format!("{:.2}× js_sidecar", o.as_secs_f64() / t.as_secs_f64()),
        ]);
    }

    // 2. The heavy preload: without the cache, the first pool ever, later pools.
    eprintln!("a heavy preload");
    let megabytes = 10;
    let shared = TempDir::new("later");
    heavy_project(&shared.0, megabytes);
    let size = std::fs::metadata(shared.0.join("node_modules/heavy/index.js"))
        .unwrap()
        .len();
    let (_, warm) = heavy_pool(&shared.0, 1, true).await;
    warm.shutdown().await;
    let (mut off, mut first, mut later) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (took, pool) = heavy_pool(&shared.0, 2, false).await;
        off.push(took);
        pool.shutdown().await;
        // A project of its own: no cache yet for its preloads.
        let fresh = TempDir::new(&format!("first-{round}"));
        heavy_project(&fresh.0, megabytes);
        let (took, pool) = heavy_pool(&fresh.0, 2, true).await;
        first.push(took);
        pool.shutdown().await;
        let (took, pool) = heavy_pool(&shared.0, 2, true).await;
        later.push(took);
        pool.shutdown().await;
    }
    let off = percentile(&mut off, 0.5);
    let label = format!(
        "2 workers preloading a {:.1} MB package, to first result, p50",
        size as f64 / 1e6
    );
    for (what, took) in [
        ("cache off: every worker imports it fresh", off),
        (
            "cache on, the first pool ever (its workers make it)",
            percentile(&mut first, 0.5),
        ),
        ("cache on, a later pool", percentile(&mut later, 0.5)),
    ] {
        rows.push([
            format!("{label}: {what}"),
            ms(took),
            "–".into(),
            format!(
                "{:.2}× faster than cache off",
                off.as_secs_f64() / took.as_secs_f64()
            ),
        ]);
    }

    // 3. A worker restarted after a crash: kill to the replacement's first result.
    eprintln!("a restarted worker");
    let mut restart = [Vec::new(), Vec::new()];
    for cache in [false, true] {
        let (_, pool) = heavy_pool(&shared.0, 1, cache).await;
        for _ in 0..rounds {
            let started = Instant::now();
            pool.kill_worker(0).unwrap();
            assert_eq!(pool.eval::<i64>(HEAVY_CHECK).await.unwrap(), 3);
            restart[usize::from(cache)].push(started.elapsed());
        }
        pool.shutdown().await;
    }
    let (off, on) = (
        percentile(&mut restart[0], 0.5),
        percentile(&mut restart[1], 0.5),
    );
    rows.push([
        "a worker killed, to its replacement's first result (1 worker), p50: cache off / on".into(),
        format!("{} / {}", ms(off), ms(on)),
        "–".into(),
        format!("{:.2}× faster", off.as_secs_f64() / on.as_secs_f64()),
    ]);

    // 4. Plain runs in fresh contexts, each of which imports the preload.
    eprintln!("fresh-context runs with the preload");
    let runs = if quick { 30 } else { 200 };
    let mut fresh = [Vec::new(), Vec::new()];
    for cache in [false, true] {
        let (_, pool) = heavy_pool(&shared.0, 2, cache).await;
        // Past the spare contexts made at start-up.
        for _ in 0..8 {
            pool.eval::<i64>(HEAVY_CHECK).await.unwrap();
        }
        for _ in 0..runs {
            let started = Instant::now();
            pool.eval::<i64>(HEAVY_CHECK).await.unwrap();
            fresh[usize::from(cache)].push(started.elapsed());
        }
        pool.shutdown().await;
    }
    let (off, on) = (
        percentile(&mut fresh[0], 0.5),
        percentile(&mut fresh[1], 0.5),
    );
    rows.push([
        "a plain run (fresh context, the preload imported into it), sequential p50: cache off / on"
            .into(),
        format!("{} / {}", ms(off), ms(on)),
        "–".into(),
        format!("{:.2}× faster", off.as_secs_f64() / on.as_secs_f64()),
    ]);

    println!("| measurement | outrigger | js_sidecar 0.1.0 | ratio |");
    println!("|---|---|---|---|");
    for [what, ours, theirs, ratio] in &rows {
        println!("| {what} | {ours} | {theirs} | {ratio} |");
    }
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!(
        "\nMeasured with `cargo bench --bench startup{}`, Node.js {node}, in {:.0} s.",
        if quick { " -- --quick" } else { "" },
        started_all.elapsed().as_secs_f64()
    );
}
