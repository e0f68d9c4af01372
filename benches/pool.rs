//! Micro-benchmarks of the pool's paths, with divan: `cargo bench`.
//!
//! Each measures one thing through the public API against real Node.js
//! workers. The side-by-side report against `js_sidecar` and `node -e`, with
//! the targets, is `cargo bench --bench report`
//! (BENCHMARKS.md).

use std::sync::OnceLock;

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use outrigger::{CallContext, Isolation, Pool, Script, Session};
use serde_json::{json, Value};

fn main() {
    divan::main();
}

/// A callback that answers at once.
struct Echo;

#[outrigger::callbacks]
impl Echo {
    /// Returns its argument.
    async fn echo(&self, _ctx: CallContext, n: u64) -> u64 {
        n
    }
}

/// One runtime and the pools every benchmark shares, started once.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    shared: Pool,
    fresh: Pool,
    session: Session,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (shared, fresh, session) = runtime.block_on(async {
            let build = |isolation| {
                Pool::builder()
                    .workers(2)
                    .isolation(isolation)
                    .callbacks(Echo)
                    .build()
            };
            let shared = build(Isolation::Worker).await.expect("the pool starts");
            let fresh = build(Isolation::Run).await.expect("the pool starts");
            // Warm-up: the engines optimize their hot paths.
            for _ in 0..2_000 {
                shared.eval::<i64>("2 + 2").await.unwrap();
            }
            let session = shared.session().await.expect("a session");
            (shared, fresh, session)
        });
        Fixture {
            runtime,
            shared,
            fresh,
            session,
        }
    })
}

/// Round trip to a worker without running code.
#[divan::bench]
fn ping(bencher: Bencher) {
    let f = fixture();
    bencher.bench_local(|| f.runtime.block_on(f.shared.ping()).unwrap());
}

/// `eval("2 + 2")` in a context the worker's runs share.
#[divan::bench]
fn eval_shared_context(bencher: Bencher) {
    let f = fixture();
    bencher.bench_local(|| {
        let four: i64 = f.runtime.block_on(f.shared.eval("2 + 2")).unwrap();
        four
    });
}

/// `eval("2 + 2")` in a fresh context (the default isolation).
#[divan::bench]
fn eval_fresh_context(bencher: Bencher) {
    let f = fixture();
    bencher.bench_local(|| {
        let four: i64 = f.runtime.block_on(f.fresh.eval("2 + 2")).unwrap();
        four
    });
}

/// `n` evals in flight at once on 2 workers: the time per batch, and evals
/// per second as the throughput.
#[divan::bench(args = [16, 64, 256])]
fn evals_in_flight(bencher: Bencher, n: usize) {
    let f = fixture();
    bencher.counter(ItemsCount::new(n)).bench_local(|| {
        f.runtime.block_on(async {
            let mut runs = tokio::task::JoinSet::new();
            for _ in 0..n {
                let pool = f.shared.clone();
                runs.spawn(async move { pool.eval::<i64>("2 + 2").await.unwrap() });
            }
            while let Some(four) = runs.join_next().await {
                assert_eq!(four.unwrap(), 4);
            }
        })
    });
}

/// A script calling a Rust callback 100 times in sequence: JS → Rust → JS.
#[divan::bench]
fn callback_round_trips(bencher: Bencher) {
    let f = fixture();
    let script = Script::module(
        "for (let i = 0; i < 100; i++) await host.echo({ n: i });\nexport default 1;",
    );
    bencher.counter(ItemsCount::new(100usize)).bench_local(|| {
        f.runtime
            .block_on(f.session.run(script.clone()))
            .unwrap()
            .value
    });
}

/// An array of `items` small objects as a global, its length back.
#[divan::bench(args = [100, 10_000])]
fn global_in(bencher: Bencher, items: usize) {
    let f = fixture();
    let value = payload(items);
    let bytes = value.to_string().len();
    let script = Script::expression("input.length").global("input", &value);
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        f.runtime
            .block_on(f.session.run(script.clone()))
            .unwrap()
            .value
    });
}

/// An array of `items` small objects as the result, into a `Value`.
#[divan::bench(args = [100, 10_000])]
fn result_out(bencher: Bencher, items: usize) {
    let f = fixture();
    let bytes = payload(items).to_string().len();
    let code = format!(
        "Array.from({{ length: {items} }}, (_, i) => ({{ id: i, name: 'an item with a name', tags: ['alpha', 'beta', 'gamma'], score: 0.75, active: true }}))"
    );
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        let value: Value = f.runtime.block_on(f.shared.eval(&code)).unwrap();
        value
    });
}

fn payload(items: usize) -> Value {
    Value::Array(
        (0..items)
            .map(|i| json!({ "id": i, "name": "an item with a name", "tags": ["alpha", "beta", "gamma"], "score": 0.75, "active": true }))
            .collect(),
    )
}
