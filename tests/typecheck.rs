//! Type checks before anything runs: TypeScript scripts checked by the real
//! compiler against the pool's callbacks, the script world and the
//! project's own types; wrong calls found where they are.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use outrigger::{Error, Script};

#[derive(Default)]
struct Shop {
    orders: Arc<AtomicUsize>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Order {
    id: u32,
    total_cents: u64,
}

#[outrigger::callbacks]
impl Shop {
    /// Finds the orders of a customer.
    async fn find_orders(&self, customer: String, limit: Option<u32>) -> Vec<Order> {
        let _ = (customer, limit);
        vec![Order {
            id: 1,
            total_cents: 1250,
        }]
    }

    /// Places an order; returns its id.
    async fn place_order(&self, customer: String, total_cents: u64) -> u32 {
        let _ = (customer, total_cents);
        self.orders.fetch_add(1, Ordering::SeqCst) as u32 + 100
    }
}

fn compiler() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js-client/node_modules/typescript")
}

#[tokio::test]
async fn a_correct_script_checks_and_wrong_calls_are_found_where_they_are() {
    let pool = common::builder()
        .callbacks(Shop::default())
        .typescript_compiler(compiler())
        .build()
        .await
        .unwrap();
    let good = "const orders = await host.findOrders({ customer: 'ada', limit: 5 });\nconst total: number = orders.reduce((s, o) => s + o.totalCents, 0);\nconst res = await fetch('https://example.com');\nconsole.log(res.status, signal.aborted, new URL('https://a.b').host);\nexport default total;";
    assert_eq!(pool.check(&Script::typescript(good)).await.unwrap(), []);

    let bad = "const orders = await host.findOrder({ customer: 'ada' });\nawait host.placeOrder({ customer: 'ada' });\nawait host.placeOrder({ customer: 'ada', totalCents: '12' });\nconst id: string = await host.placeOrder({ customer: 'ada', totalCents: 12 });\nexport default orders;";
    let diagnostics = pool.check(&Script::typescript(bad)).await.unwrap();
    let found: Vec<(u32, u32, u32)> = diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.code))
        .collect();
    // An unknown callback, a missing field, a wrong type, a wrong use of a result.
    assert_eq!(
        found,
        [(1, 27, 2551), (2, 23, 2345), (3, 42, 2322), (4, 7, 2322)],
        "{diagnostics:#?}"
    );
    assert!(
        diagnostics[0]
            .message
            .contains("Did you mean 'findOrders'?"),
        "{}",
        diagnostics[0].message
    );
    assert!(
        diagnostics[1].message.contains("totalCents"),
        "{}",
        diagnostics[1].message
    );
    assert_eq!(
        diagnostics[3].to_string(),
        "module.ts(4,7): error TS2322: Type 'number' is not assignable to type 'string'."
    );
    // JavaScript is not checked.
    assert_eq!(
        pool.check(&Script::module("host.nope(1, 2, 3)"))
            .await
            .unwrap(),
        []
    );
}

#[tokio::test]
async fn a_script_that_does_not_check_never_runs() {
    let shop = Shop::default();
    let orders = shop.orders.clone();
    let pool = common::builder()
        .callbacks(shop)
        .typescript_compiler(compiler())
        .typecheck(true)
        .build()
        .await
        .unwrap();
    let script = Script::typescript(
        "await host.placeOrder({ customer: 'ada', totalCents: 1 });\nconst n: number = 'not a number';\nexport default n;",
    );
    match pool.run(script).await.unwrap_err() {
        Error::Type { diagnostics } => {
            assert_eq!(diagnostics.len(), 1);
            assert_eq!((diagnostics[0].line, diagnostics[0].code), (2, 2322));
        }
        other => panic!("expected a type error, got {other:?}"),
    }
    assert_eq!(orders.load(Ordering::SeqCst), 0, "the script ran");
    // Opting out per script runs it.
    let out = pool
        .run(Script::typescript("export default (await host.placeOrder({ customer: 'ada', totalCents: 1 })) as number;").typecheck(false))
        .await
        .unwrap();
    assert_eq!(out.value, 100);
    // Display is tsc's.
    let error = pool
        .run(Script::typescript("const s: string = 1;\nexport default s;").name("job.ts"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "job.ts(1,7): error TS2322: Type 'number' is not assignable to type 'string'."
    );
}

#[tokio::test]
async fn packages_are_checked_against_their_own_types() {
    let project = std::env::temp_dir().join(format!("outrigger-typecheck-{}", std::process::id()));
    let package = project.join("node_modules/money");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{ "name": "p", "type": "module" }"#,
    )
    .unwrap();
    std::fs::write(
        package.join("package.json"),
        r#"{ "name": "money", "type": "module", "main": "index.js", "types": "index.d.ts" }"#,
    )
    .unwrap();
    std::fs::write(
        package.join("index.js"),
        "export function format(cents) { return `$${(cents / 100).toFixed(2)}`; }\n",
    )
    .unwrap();
    std::fs::write(
        package.join("index.d.ts"),
        "export declare function format(cents: number): string;\n",
    )
    .unwrap();
    let pool = common::builder()
        .project(&project)
        .typescript_compiler(compiler())
        .build()
        .await
        .unwrap();
    let good = Script::typescript("import { format } from 'money';\nexport default format(1250);");
    assert_eq!(pool.check(&good).await.unwrap(), []);
    assert_eq!(pool.run(good).await.unwrap().value, "$12.50");
    let bad = pool
        .check(&Script::typescript(
            "import { format } from 'money';\nexport default format('12.50');",
        ))
        .await
        .unwrap();
    assert_eq!(
        bad.iter().map(|d| (d.line, d.code)).collect::<Vec<_>>(),
        [(2, 2345)],
        "{bad:#?}"
    );
    // A package that is not there is said so.
    let missing = pool
        .check(&Script::typescript(
            "import x from 'monney';\nexport default x;",
        ))
        .await
        .unwrap();
    assert_eq!(missing[0].code, 2307, "{missing:#?}");
}

#[tokio::test]
async fn without_a_compiler_checks_say_how_to_get_one() {
    let error = common::builder()
        .typecheck(true)
        .typescript_compiler("/nowhere/typescript")
        .build()
        .await
        .unwrap_err();
    match error {
        Error::Spawn { message, .. } => {
            assert!(
                message.contains("npm install --save-dev typescript"),
                "{message}"
            );
            assert!(message.contains("/nowhere/typescript"), "{message}");
        }
        other => panic!("expected a spawn error, got {other:?}"),
    }
    let pool = common::pool().await;
    let error = pool
        .check(&Script::typescript("export default 1;"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Spawn { .. }), "{error:?}");
}
