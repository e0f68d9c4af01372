//! User-written formulas, run in process on QuickJS: no Node.js needed.
//!
//! A price sheet whose cells are JavaScript expressions its users write
//! (`price * qty`, `await host.rate({ currency: "EUR" }) * total`). Each
//! formula runs in a fresh context with the row as its globals, under a
//! short timeout and a small memory bound, and may call back into Rust for
//! exchange rates. A formula that loops, allocates without end or throws
//! gets a typed error for its cell; the others go on.
//!
//! ```sh
//! cargo run --features quickjs --example formulas
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use outrigger::{CallbackError, Engine, Error, Pool, Sandbox, Script};
use serde_json::json;

/// What formulas may ask the host.
struct Rates {
    per_usd: BTreeMap<&'static str, f64>,
}

#[outrigger::callbacks]
impl Rates {
    /// How many units of `currency` one US dollar buys.
    async fn rate(&self, currency: String) -> Result<f64, CallbackError> {
        self.per_usd
            .get(currency.as_str())
            .copied()
            .ok_or_else(|| CallbackError::new(format!("no rate for {currency}")))
    }
}

/// Evaluates every formula against `row`; one result (or error) per cell.
async fn evaluate(
    pool: &Pool,
    row: &serde_json::Value,
    formulas: &[(&str, &str)],
) -> Vec<(String, outrigger::Result<serde_json::Value>)> {
    let mut cells = Vec::new();
    for (cell, formula) in formulas {
        let mut script = Script::expression(*formula).name(format!("{cell}.js"));
        for (name, value) in row.as_object().into_iter().flatten() {
            script = script.global(name, value);
        }
        let value = pool.run(script).await.map(|out| out.value);
        cells.push(((*cell).to_owned(), value));
    }
    cells
}

async fn sheet() -> outrigger::Result<Vec<(String, outrigger::Result<serde_json::Value>)>> {
    let pool = Pool::builder()
        .engine(Engine::QuickJs)
        .workers(2)
        .timeout(Duration::from_millis(500))
        .sandbox(Sandbox::strict().max_memory_mb(32))
        .callbacks(Rates {
            per_usd: BTreeMap::from([("EUR", 0.9), ("JPY", 150.0)]),
        })
        .build()
        .await?;
    let row = json!({ "price": 12.5, "qty": 4, "currency": "EUR" });
    let formulas = [
        ("total", "price * qty"),
        (
            "local",
            "host.rate({ currency }).then((r) => Math.round(price * qty * r * 100) / 100)",
        ),
        ("label", "`${qty} × ${price.toFixed(2)} ${currency}`"),
        ("missing", "host.rate({ currency: 'XYZ' })"),
        ("typo", "prcie * qty"),
        ("forever", "while (true) {}"),
        (
            "hoard",
            "const a = []; for (;;) a.push('x'.repeat(1e6) + a.length)",
        ),
    ];
    Ok(evaluate(&pool, &row, &formulas).await)
}

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    for (cell, value) in sheet().await? {
        match value {
            Ok(value) => println!("{cell:>8} = {value}"),
            Err(Error::Timeout { .. }) => println!("{cell:>8} ! took too long"),
            Err(Error::Limit(_)) => println!("{cell:>8} ! used too much memory"),
            Err(error) => println!("{cell:>8} ! {error}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_cell_gets_a_value_or_its_own_error() {
        let cells: std::collections::BTreeMap<_, _> =
            super::sheet().await.unwrap().into_iter().collect();
        assert_eq!(cells["total"].as_ref().unwrap(), 50.0);
        assert_eq!(cells["local"].as_ref().unwrap(), 45.0);
        assert_eq!(cells["label"].as_ref().unwrap(), "4 × 12.50 EUR");
        assert!(
            matches!(&cells["missing"], Err(outrigger::Error::Script { message, .. }) if message.contains("no rate for XYZ"))
        );
        assert!(
            matches!(&cells["typo"], Err(outrigger::Error::Script { name, .. }) if name == "ReferenceError")
        );
        assert!(matches!(
            cells["forever"],
            Err(outrigger::Error::Timeout { .. })
        ));
        assert!(matches!(cells["hoard"], Err(outrigger::Error::Limit(_))));
    }
}
