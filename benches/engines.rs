//! The engines side by side, in one run: Node.js workers (processes), Deno
//! and Bun workers (processes; `$OUTRIGGER_DENO` / `$OUTRIGGER_BUN`, else
//! the ones scripts/test.sh installs under `target/engines`, else from
//! `PATH`, else their column says they were not found; Bun with
//! `Sandbox::none()`, as it must) and QuickJS engine threads (in process),
//! through the same Pool API. Prints the table of BENCHMARKS.md ("Engines").
//!
//! ```sh
//! cargo bench --features quickjs --bench engines              # ~1 min
//! cargo bench --features quickjs --bench engines -- --quick   # a smoke test
//! ```
//!
//! Like `report.rs`, subjects that are compared are sampled in rotating
//! blocks (the 2-core machine drifts), and everything is warmed up first.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use outrigger::{CallContext, Engine, Isolation, Pool, Sandbox, Script};

/// A callback that answers at once, to measure the round trip.
struct Echo;

#[outrigger::callbacks]
impl Echo {
    /// Gives `n` back.
    async fn echo(&self, _ctx: CallContext, n: u64) -> u64 {
        n
    }
}

struct Plan {
    rounds: usize,
    block: usize,
    throughput: usize,
    callbacks: usize,
    startups: usize,
    memory_runs: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                rounds: 4,
                block: 50,
                throughput: 2_000,
                callbacks: 200,
                startups: 2,
                memory_runs: 1_000,
            }
        } else {
            Plan {
                rounds: 20,
                block: 100,
                throughput: 20_000,
                callbacks: 2_000,
                startups: 8,
                memory_runs: 10_000,
            }
        }
    }
}

/// The Deno or Bun to measure, if there is one: `$variable`, else the one
/// scripts/test.sh installs at `installed`, else `name` from `PATH`.
fn program(variable: &str, installed: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(path.into());
    }
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(installed);
    if installed.exists() {
        return Some(installed);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The process engines besides Node.js, each with its program if found.
fn others() -> [(Engine, &'static str, Option<PathBuf>); 2] {
    [
        (
            Engine::Deno,
            "deno",
            program(
                "OUTRIGGER_DENO",
                "target/engines/deno/node_modules/@deno/linux-x64-glibc/deno",
                "deno",
            ),
        ),
        (
            Engine::Bun,
            "bun",
            program(
                "OUTRIGGER_BUN",
                "target/engines/bun/node_modules/bun/bin/bun.exe",
                "bun",
            ),
        ),
    ]
}

/// A builder on `engine`: Deno and Bun the ones found, Bun's code trusted.
fn builder(engine: Engine) -> outrigger::PoolBuilder {
    let builder = Pool::builder().engine(engine);
    let found = others()
        .into_iter()
        .find(|(other, _, _)| *other == engine)
        .and_then(|(_, _, program)| program);
    match (engine, found) {
        (Engine::Bun, Some(bun)) => builder.engine_path(bun).sandbox(Sandbox::none()),
        (_, Some(program)) => builder.engine_path(program),
        _ => builder,
    }
}

async fn pool(engine: Engine, workers: usize, isolation: Isolation) -> Pool {
    builder(engine)
        .workers(workers)
        .isolation(isolation)
        .timeout(Duration::from_secs(60))
        .max_callback_calls(0)
        .callbacks(Echo)
        .build()
        .await
        .expect("the pool starts")
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Sequential `2 + 2`, the pools' samples taken in rotating blocks.
async fn sequential(pools: &[&Pool], plan: &Plan) -> Vec<Vec<Duration>> {
    let mut samples = vec![Vec::new(); pools.len()];
    for _ in 0..plan.rounds {
        for (pool, taken) in pools.iter().zip(samples.iter_mut()) {
            for _ in 0..plan.block {
                let started = Instant::now();
                assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
                taken.push(started.elapsed());
            }
        }
    }
    samples
}

/// Runs per second with `concurrency` tasks.
async fn throughput(pool: &Pool, concurrency: usize, total: usize) -> f64 {
    let started = Instant::now();
    let per_task = total / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    assert_eq!(pool.eval::<i64>("2 + 2").await.unwrap(), 4);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_task * concurrency) as f64 / started.elapsed().as_secs_f64()
}

/// Mean time of one `await host.echo(...)` in a loop of `n`, in one run.
async fn callback_loop(pool: &Pool, n: usize) -> Duration {
    let script = Script::module(format!(
        "for (let i = 0; i < {n}; i++) await host.echo({{ n: i }});\nexport default 1;"
    ))
    .max_callback_calls(0);
    let started = Instant::now();
    pool.run(script).await.unwrap();
    started.elapsed() / n as u32
}

/// Build to first result.
async fn startup(engine: Engine, workers: usize) -> Duration {
    let started = Instant::now();
    let pool = builder(engine).workers(workers).build().await.unwrap();
    assert_eq!(pool.eval::<i64>("1").await.unwrap(), 1);
    let took = started.elapsed();
    pool.shutdown().await;
    took
}

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

struct Row {
    what: String,
    node: String,
    /// Deno's and Bun's cells.
    others: Vec<String>,
    quickjs: String,
    ratio: String,
    target: String,
}

/// The pools of the other engines found (`None` for one not found).
async fn other_pools(workers: usize, isolation: Isolation) -> Vec<Option<Pool>> {
    let mut pools = Vec::new();
    for (engine, _, program) in others() {
        pools.push(match program {
            Some(_) => Some(pool(engine, workers, isolation).await),
            None => None,
        });
    }
    pools
}

/// The other engines' cells: a value, or why there is none.
fn other_cells(values: Vec<Option<String>>) -> Vec<String> {
    values
        .into_iter()
        .zip(others())
        .map(|(value, (_, name, _))| value.unwrap_or_else(|| format!("(no `{name}` found)")))
        .collect()
}

async fn shut(pools: Vec<Option<Pool>>) {
    for pool in pools.into_iter().flatten() {
        pool.shutdown().await;
    }
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = Plan::new(quick);
    let started = Instant::now();
    let mut rows = Vec::new();

    eprintln!("1. sequential eval, fresh and shared contexts");
    for isolation in [Isolation::Run, Isolation::Worker] {
        let node = pool(Engine::Node, 2, isolation).await;
        let quickjs = pool(Engine::QuickJs, 2, isolation).await;
        let extra = other_pools(2, isolation).await;
        let mut pools = vec![&node, &quickjs];
        pools.extend(extra.iter().flatten());
        sequential(&pools, &plan).await; // warm-up
        let mut samples = sequential(&pools, &plan).await.into_iter();
        let (mut n, mut q) = (samples.next().unwrap(), samples.next().unwrap());
        let (n50, q50) = (percentile(&mut n, 0.5), percentile(&mut q, 0.5));
        let (n99, q99) = (percentile(&mut n, 0.99), percentile(&mut q, 0.99));
        let cells = extra
            .iter()
            .map(|pool| {
                pool.as_ref().map(|_| {
                    let mut d = samples.next().unwrap();
                    let (d50, d99) = (percentile(&mut d, 0.5), percentile(&mut d, 0.99));
                    format!("{} / {}", us(d50), us(d99))
                })
            })
            .collect();
        let label = match isolation {
            Isolation::Run => "fresh context per run (`Isolation::Run`)",
            _ => "shared context (`Isolation::Worker`)",
        };
        rows.push(Row {
            what: format!("sequential `2 + 2`, p50 / p99, {label}"),
            node: format!("{} / {}", us(n50), us(n99)),
            others: other_cells(cells),
            quickjs: format!("{} / {}", us(q50), us(q99)),
            ratio: format!("{:.1}× faster", n50.as_secs_f64() / q50.as_secs_f64()),
            target: "–".into(),
        });
        node.shutdown().await;
        quickjs.shutdown().await;
        shut(extra).await;
    }

    eprintln!("2. fresh-context runs per second");
    for concurrency in [1, 16, 64] {
        let node = pool(Engine::Node, 2, Isolation::Run).await;
        let quickjs = pool(Engine::QuickJs, 2, Isolation::Run).await;
        let extra = other_pools(2, Isolation::Run).await;
        throughput(&node, concurrency, plan.throughput / 4).await;
        throughput(&quickjs, concurrency, plan.throughput / 4).await;
        for pool in extra.iter().flatten() {
            throughput(pool, concurrency, plan.throughput / 4).await;
        }
        // Alternate halves, so that drift hits all.
        let mut n = 0.0;
        let mut q = 0.0;
        let mut d = vec![0.0; extra.len()];
        for _ in 0..2 {
            n += throughput(&node, concurrency, plan.throughput / 2).await / 2.0;
            q += throughput(&quickjs, concurrency, plan.throughput / 2).await / 2.0;
            for (pool, d) in extra.iter().zip(d.iter_mut()) {
                if let Some(pool) = pool {
                    *d += throughput(pool, concurrency, plan.throughput / 2).await / 2.0;
                }
            }
        }
        let ratio = q / n;
        let cells = extra
            .iter()
            .zip(&d)
            .map(|(pool, d)| pool.as_ref().map(|_| format!("{d:.0} /s")))
            .collect();
        rows.push(Row {
            what: format!("fresh-context runs per second, 2 workers, concurrency {concurrency}"),
            node: format!("{n:.0} /s"),
            others: other_cells(cells),
            quickjs: format!("{q:.0} /s"),
            ratio: format!("{ratio:.1}×"),
            target: if concurrency == 64 {
                "–".into()
            } else {
                format!("≥ 10× {}", if ratio >= 10.0 { "✅" } else { "❌" })
            },
        });
        node.shutdown().await;
        quickjs.shutdown().await;
        shut(extra).await;
    }

    eprintln!("3. callback round trips");
    {
        let node = pool(Engine::Node, 1, Isolation::Run).await;
        let quickjs = pool(Engine::QuickJs, 1, Isolation::Run).await;
        let extra = other_pools(1, Isolation::Run).await;
        callback_loop(&node, plan.callbacks).await;
        callback_loop(&quickjs, plan.callbacks).await;
        for pool in extra.iter().flatten() {
            callback_loop(pool, plan.callbacks).await;
        }
        let mut n = Duration::ZERO;
        let mut q = Duration::ZERO;
        let mut d = vec![Duration::ZERO; extra.len()];
        for _ in 0..4 {
            n += callback_loop(&node, plan.callbacks).await / 4;
            q += callback_loop(&quickjs, plan.callbacks).await / 4;
            for (pool, d) in extra.iter().zip(d.iter_mut()) {
                if let Some(pool) = pool {
                    *d += callback_loop(pool, plan.callbacks).await / 4;
                }
            }
        }
        let ratio = n.as_secs_f64() / q.as_secs_f64();
        let cells = extra
            .iter()
            .zip(&d)
            .map(|(pool, d)| pool.as_ref().map(|_| us(*d)))
            .collect();
        rows.push(Row {
            what: format!(
                "callback JS → Rust → JS, `await` in a loop of {} (mean per call)",
                plan.callbacks
            ),
            node: us(n),
            others: other_cells(cells),
            quickjs: us(q),
            ratio: format!("{ratio:.1}× faster"),
            target: format!("≥ 5× faster {}", if ratio >= 5.0 { "✅" } else { "❌" }),
        });
        node.shutdown().await;
        quickjs.shutdown().await;
        shut(extra).await;
    }

    eprintln!("4. start-up");
    for workers in [1, 2] {
        let mut n = Vec::new();
        let mut q = Vec::new();
        let mut d = vec![Vec::new(); 2];
        for _ in 0..plan.startups {
            n.push(startup(Engine::Node, workers).await);
            q.push(startup(Engine::QuickJs, workers).await);
            for ((engine, _, program), d) in others().into_iter().zip(d.iter_mut()) {
                if program.is_some() {
                    d.push(startup(engine, workers).await);
                }
            }
        }
        let (n50, q50) = (percentile(&mut n, 0.5), percentile(&mut q, 0.5));
        let cells = d
            .into_iter()
            .map(|mut d| {
                (!d.is_empty())
                    .then(|| format!("{:.1} ms", percentile(&mut d, 0.5).as_secs_f64() * 1e3))
            })
            .collect();
        rows.push(Row {
            what: format!("start-up to first result, {workers} worker(s), p50"),
            node: format!("{:.1} ms", n50.as_secs_f64() * 1e3),
            others: other_cells(cells),
            quickjs: format!("{:.2} ms", q50.as_secs_f64() * 1e3),
            ratio: format!("{:.0}× faster", n50.as_secs_f64() / q50.as_secs_f64()),
            target: "–".into(),
        });
    }

    eprintln!("5. memory per engine");
    {
        let rss_per_worker =
            |pool: &Pool| pool.worker_pids().iter().map(|&p| rss_of(p)).sum::<u64>() / 2;
        let node = pool(Engine::Node, 2, Isolation::Run).await;
        throughput(&node, 16, plan.memory_runs).await;
        let node_rss = rss_per_worker(&node);
        node.shutdown().await;
        let mut cells = Vec::new();
        for (engine, _, program) in others() {
            cells.push(match program {
                Some(_) => {
                    let pool = pool(engine, 2, Isolation::Run).await;
                    throughput(&pool, 16, plan.memory_runs).await;
                    let rss = rss_per_worker(&pool);
                    pool.shutdown().await;
                    Some(mib(rss))
                }
                None => None,
            });
        }
        // Engine threads live in this process: what 2 more of them add to
        // its resident memory, after the same runs, and what their
        // allocators count.
        let before = rss_of(std::process::id());
        let quickjs = pool(Engine::QuickJs, 2, Isolation::Run).await;
        throughput(&quickjs, 16, plan.memory_runs).await;
        let after = rss_of(std::process::id());
        let counted: u64 = quickjs
            .stats()
            .per_worker
            .iter()
            .map(|w| w.memory)
            .sum::<u64>()
            / 2;
        quickjs.shutdown().await;
        let added = after.saturating_sub(before) / 2;
        rows.push(Row {
            what: format!("memory per engine after {} fresh-context runs: RSS per worker process; QuickJS: host RSS added per engine thread (its allocator's count)", plan.memory_runs),
            node: mib(node_rss),
            others: other_cells(cells),
            quickjs: format!("{} ({})", mib(added), mib(counted)),
            // The host may reuse pages freed by the Node half: the larger
            // of the two QuickJS figures is compared.
            ratio: format!(
                "{:.0}× less",
                node_rss as f64 / added.max(counted).max(1) as f64
            ),
            target: "–".into(),
        });
    }

    println!("| measurement | Node.js workers | Deno workers | Bun workers | QuickJS engine threads | QuickJS against Node.js | target |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.what,
            r.node,
            r.others.join(" | "),
            r.quickjs,
            r.ratio,
            r.target
        );
    }
    let version = |program: PathBuf| {
        std::process::Command::new(program)
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default()
    };
    let node_version = version("node".into());
    let versions: Vec<String> = others()
        .into_iter()
        .map(|(_, name, program)| {
            program.map_or_else(
                || format!("{name} not found"),
                |p| {
                    let said = version(p);
                    match said.starts_with(name) {
                        true => said,
                        false => format!("{name} {said}"),
                    }
                },
            )
        })
        .collect();
    println!(
        "\nMeasured with `cargo bench --features quickjs --bench engines{}`, Node.js {node_version}, {}, quickjs-ng 0.16.2, in {:.0} s.",
        if quick { " -- --quick" } else { "" },
        versions.join(", "),
        started.elapsed().as_secs_f64()
    );
}
