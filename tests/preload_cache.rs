//! The code cache of the preloads (`PoolBuilder::preload_cache`), on
//! Node.js: later pools and restarted workers import the preloads from the
//! cache the first worker made, with the same results; a damaged cache or
//! a changed source is compiled as without one. Each test has a project of
//! its own, so that the caches the host keeps for this process are its own.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use outrigger::{Pool, WorkerStats};
use serde_json::{json, Value};

/// A project with a CommonJS package whose import calls some of its
/// functions (so that the cache holds compiled functions, not only the top
/// level) and an ES module package.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(name: &str) -> Project {
        let dir = std::env::temp_dir().join(format!(
            "outrigger-preload-cache-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let cjs = dir.join("node_modules/many-fns");
        let esm = dir.join("node_modules/esm-fns");
        std::fs::create_dir_all(&cjs).unwrap();
        std::fs::create_dir_all(&esm).unwrap();
        std::fs::write(dir.join("package.json"), r#"{ "name": "cache-test" }"#).unwrap();
        std::fs::write(
            cjs.join("package.json"),
            r#"{ "name": "many-fns", "main": "index.js" }"#,
        )
        .unwrap();
        std::fs::write(cjs.join("index.js"), cjs_source(7)).unwrap();
        std::fs::write(
            esm.join("package.json"),
            r#"{ "name": "esm-fns", "type": "module", "exports": "./index.js" }"#,
        )
        .unwrap();
        std::fs::write(
            esm.join("index.js"),
            "export const twice = (x) => x * 2;\nexport const label = 'esm';\n",
        )
        .unwrap();
        Project { dir }
    }

    fn pool(&self, workers: usize) -> outrigger::PoolBuilder {
        common::node_builder(Pool::builder())
            .workers(workers)
            .timeout(Duration::from_secs(10))
            .project(&self.dir)
            .preload("fns", "many-fns")
            .preload("esm", "esm-fns")
    }

    fn package_file(&self) -> PathBuf {
        self.dir.join("node_modules/many-fns/index.js")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CommonJS module of many small functions, a tenth of them called as it
/// loads; `base` is what `fns.answer()` gives.
fn cjs_source(base: u32) -> String {
    let mut source = String::from("'use strict';\nconst table = {};\n");
    for i in 0..400 {
        source.push_str(&format!(
            "function f{i}(a) {{ const list = [a, {i}, 'v{i}']; let t = 0; for (const x of list) t += typeof x === 'number' ? x : x.length; return t; }}\n"
        ));
    }
    for i in (0..400).step_by(10) {
        source.push_str(&format!("table.f{i} = f{i}({i});\n"));
    }
    source.push_str(&format!(
        "module.exports = {{ table, answer: () => {base} * 6, f399 }};\n"
    ));
    source
}

/// What the scripts below read of the preloads, in a fresh context.
async fn results(pool: &Pool) -> Value {
    pool.eval("[fns.answer(), fns.table.f390, fns.f399(1), esm.label, esm.twice(21)]")
        .await
        .unwrap()
}

fn expected(base: i64) -> Value {
    json!([base * 6, 390 + 390 + 4, 1 + 399 + 4, "esm", 42])
}

/// Preload files each worker compiled without a cache, and took from one.
fn compiles_and_hits(stats: &[WorkerStats]) -> (Vec<u64>, Vec<u64>) {
    (
        stats.iter().map(|s| s.module_compiles).collect(),
        stats.iter().map(|s| s.module_cache_hits).collect(),
    )
}

fn skip() -> bool {
    if common::engine() != common::TestEngine::Node {
        eprintln!("skipped: the preloads' code cache is Node.js's (docs/ENGINES.md)");
        return true;
    }
    false
}

#[tokio::test]
async fn later_pools_import_the_preloads_from_the_cache_with_the_same_results() {
    if skip() {
        return;
    }
    let project = Project::new("same");
    let first = project.pool(1).build().await.unwrap();
    assert_eq!(results(&first).await, expected(7));
    let (compiles, _) = compiles_and_hits(&first.worker_stats().await.unwrap());
    assert_eq!(compiles, [2], "the first worker compiles both packages");
    first.shutdown().await;

    let later = project.pool(2).build().await.unwrap();
    for _ in 0..5 {
        assert_eq!(results(&later).await, expected(7));
    }
    let (compiles, hits) = compiles_and_hits(&later.worker_stats().await.unwrap());
    assert_eq!(compiles, [0, 0], "later workers compile neither package");
    assert!(hits.iter().all(|&hits| hits >= 2), "{hits:?}");
    let session = later.session().await.unwrap();
    assert_eq!(
        session
            .eval::<Value>("fns.answer() + esm.twice(1)")
            .await
            .unwrap(),
        json!(44)
    );
    later.shutdown().await;

    let without = project.pool(1).preload_cache(false).build().await.unwrap();
    assert_eq!(results(&without).await, expected(7));
    let (compiles, _) = compiles_and_hits(&without.worker_stats().await.unwrap());
    assert_eq!(compiles, [2], "without the cache every worker compiles");
    without.shutdown().await;
}

#[tokio::test]
async fn a_restarted_worker_takes_the_cache() {
    if skip() {
        return;
    }
    let project = Project::new("restart");
    let pool = project.pool(1).build().await.unwrap();
    assert_eq!(results(&pool).await, expected(7));
    let killed = pool.kill_worker(0).unwrap();
    let mut stats = Vec::new();
    for _ in 0..200 {
        stats = pool.worker_stats().await.unwrap_or_default();
        if stats.len() == 1 && stats[0].pid != killed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(stats.len() == 1 && stats[0].pid != killed, "replaced");
    assert_eq!(results(&pool).await, expected(7));
    let (compiles, hits) = compiles_and_hits(&pool.worker_stats().await.unwrap());
    assert_eq!(compiles, [0], "the replacement compiles neither package");
    assert!(hits[0] >= 2, "{hits:?}");
    pool.shutdown().await;
}

#[tokio::test]
async fn a_damaged_cache_is_refused_and_the_preloads_compiled() {
    if skip() {
        return;
    }
    let project = Project::new("damaged");
    let first = project.pool(1).build().await.unwrap();
    first.shutdown().await;
    assert_eq!(outrigger::drills::corrupt_preload_caches(&project.dir), 1);

    // V8 refuses the damaged data: the files are compiled from source.
    let refused = project.pool(1).build().await.unwrap();
    assert_eq!(results(&refused).await, expected(7));
    let (compiles, _) = compiles_and_hits(&refused.worker_stats().await.unwrap());
    assert_eq!(
        compiles,
        [1],
        "the CommonJS package, whose cache was damaged"
    );
    refused.shutdown().await;

    // That worker left a sound cache in its place.
    let healed = project.pool(1).build().await.unwrap();
    assert_eq!(results(&healed).await, expected(7));
    let (compiles, _) = compiles_and_hits(&healed.worker_stats().await.unwrap());
    assert_eq!(compiles, [0]);
    healed.shutdown().await;
}

#[tokio::test]
async fn a_changed_source_is_compiled_again() {
    if skip() {
        return;
    }
    let project = Project::new("changed");
    let first = project.pool(1).build().await.unwrap();
    assert_eq!(results(&first).await, expected(7));
    first.shutdown().await;

    // The same length, so that only the source's hash tells (V8 checks the length).
    let (old, new) = (cjs_source(7), cjs_source(8));
    assert_eq!(old.len(), new.len());
    write_later(&project.package_file(), &new);
    let changed = project.pool(1).build().await.unwrap();
    assert_eq!(results(&changed).await, expected(8));
    let (compiles, _) = compiles_and_hits(&changed.worker_stats().await.unwrap());
    assert_eq!(
        compiles,
        [1],
        "the changed file, not the unchanged ES module"
    );
    changed.shutdown().await;
}

/// Writes `file` with a modification time of its own (coarse clocks).
fn write_later(file: &Path, text: &str) {
    let before = std::fs::metadata(file).unwrap().modified().unwrap();
    loop {
        std::fs::write(file, text).unwrap();
        if std::fs::metadata(file).unwrap().modified().unwrap() != before {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
