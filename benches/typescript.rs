//! TypeScript's costs, with divan (`cargo bench --bench typescript`):
//! erasing the types of a 30-line and a 3,000-line script, a 30-line run in
//! TypeScript against the same run in JavaScript, and a warm type check of
//! a 30-line script against the declarations of 50 callbacks.

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::Bencher;
use outrigger::{Pool, Script};
use serde_json::{json, Value};

fn main() {
    divan::main();
}

/// A 30-line TypeScript script that calls tools, of the kind a model writes.
const SCRIPT: &str = r#"interface Row { id: number; name: string; score?: number }
type Summary = { count: number; best: string | null; average: number };

function summarize(rows: Row[]): Summary {
  let best: Row | null = null;
  let total = 0;
  for (const row of rows) {
    const score: number = row.score ?? 0;
    total += score;
    if (best === null || score > (best.score ?? 0)) best = row;
  }
  return {
    count: rows.length,
    best: best?.name ?? null,
    average: rows.length > 0 ? total / rows.length : 0,
  };
}

const rows: Row[] = Array.from({ length: 20 }, (_, i): Row => ({
  id: i,
  name: `row ${i}`,
  score: (i * 37) % 11,
}));

const summary = summarize(rows) satisfies Summary;
const labels = rows.map((r) => r.name.toUpperCase() as string);
const first = labels[0]!;
export default { ...summary, first, n: labels.length as number };
"#;

/// The 30-line script checked against the tools: it calls two of them.
const CHECKED: &str = r#"interface Row { id: number; name: string; score?: number }

async function collect(limit: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (let i = 0; i < limit; i++) {
    const found = await host.tool7({ query: `q${i}`, limit: 3 });
    rows.push({ id: i, name: found.items.join(','), score: found.total });
  }
  return rows;
}

function best(rows: Row[]): Row | undefined {
  let top: Row | undefined;
  for (const row of rows) {
    if (top === undefined || (row.score ?? 0) > (top.score ?? 0)) top = row;
  }
  return top;
}

const rows = await collect(3);
const top = best(rows);
const saved = await host.tool42({ query: top?.name ?? 'none', limit: 1 });
console.log(saved.total);
const names: string[] = rows.map((r) => r.name);
export default {
  count: rows.length,
  top: top?.id ?? null,
  names,
  total: saved.total satisfies number,
};
"#;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    pool: Pool,
    js: String,
}

fn compiler() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js-client/node_modules/typescript")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let pool = runtime.block_on(async {
            let mut builder = Pool::builder().workers(1).typescript_compiler(compiler());
            // The declarations of 50 tools.
            for i in 0..50 {
                builder = builder.tool(
                    format!("tool{i}"),
                    format!("Tool number {i}: finds things."),
                    json!({ "type": "object", "properties": { "query": { "type": "string" }, "limit": { "type": "integer" } }, "required": ["query"] }),
                    json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "type": "string" } }, "total": { "type": "number" } }, "required": ["items", "total"] }),
                    |_: Value| async { Ok(json!({ "items": ["a"], "total": 1 })) },
                );
            }
            let pool = builder.build().await.expect("the pool starts");
            // Warm: the engine, and the checker's libraries.
            for _ in 0..200 {
                pool.run(Script::typescript(SCRIPT)).await.unwrap();
            }
            assert!(pool.check(&Script::typescript(CHECKED)).await.unwrap().is_empty());
            pool
        });
        let js = outrigger::__private::erase_types(SCRIPT).expect("it erases");
        Fixture { runtime, pool, js }
    })
}

/// Erasing the types of the 30-line script.
#[divan::bench]
fn erase_30_lines() -> String {
    outrigger::__private::erase_types(divan::black_box(SCRIPT)).unwrap()
}

/// Erasing the types of a 3,000-line script (the 30 lines, 100 times, in blocks).
#[divan::bench]
fn erase_3000_lines(bencher: Bencher) {
    let big: String = (0..100)
        .map(|i| {
            format!(
                "{{\n{}\n}}\n",
                SCRIPT
                    .replace("export default", &format!("const out{i} ="))
                    .replace("interface Row", &format!("interface Row{i}"))
            )
        })
        .collect();
    assert!(big.lines().count() >= 3000);
    bencher.bench(|| outrigger::__private::erase_types(divan::black_box(&big)).unwrap());
}

/// A 30-line run from TypeScript (types erased on the way).
#[divan::bench]
fn run_typescript(bencher: Bencher) {
    let f = fixture();
    bencher.bench(|| {
        f.runtime
            .block_on(f.pool.run(Script::typescript(SCRIPT)))
            .unwrap()
    });
}

/// The same run from the JavaScript it erases to.
#[divan::bench]
fn run_javascript(bencher: Bencher) {
    let f = fixture();
    bencher.bench(|| {
        f.runtime
            .block_on(f.pool.run(Script::module(f.js.clone())))
            .unwrap()
    });
}

/// A warm type check of a 30-line script against the declarations of 50 tools.
#[divan::bench(sample_count = 50)]
fn check_30_lines_50_tools(bencher: Bencher) {
    let f = fixture();
    let mut n = 0;
    bencher.bench_local(|| {
        // A different script each time, as each model turn writes one.
        n += 1;
        let script = Script::typescript(CHECKED.replace("limit: 1", &format!("limit: {n}")));
        f.runtime.block_on(f.pool.check(&script)).unwrap()
    });
}
