//! The tour: evaluate, run a module, capture console output, stream an event,
//! keep state in a session, and call a loaded module's functions.
//!
//! Run it with `cargo run --example quickstart`.

use std::time::Duration;

use outrigger::{Pool, Script};
use serde_json::json;

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let pool = Pool::builder()
        .workers(2)
        .timeout(Duration::from_secs(5))
        .build()
        .await?;

    // 1. An expression; a promise is awaited.
    let four: i64 = pool.eval("2 + 2").await?;
    let five: i64 = pool.eval("Promise.resolve(5)").await?;
    println!("eval: 2 + 2 = {four}, Promise.resolve(5) = {five}");
    assert_eq!((four, five), (4, 5));

    // 2. An ES module with inputs, top-level await and console output.
    let output = pool
        .run(
            Script::module(
                r#"
                console.log("summing", input.numbers.length, "numbers");
                const total = await Promise.resolve(input.numbers.reduce((a, b) => a + b, 0));
                export default { total };
                "#,
            )
            .name("sum.mjs")
            .global("input", json!({ "numbers": [1, 2, 3, 4] })),
        )
        .await?;
    println!(
        "module: {} (logs: {:?})",
        output.value,
        output.logs.iter().map(|l| l.message()).collect::<Vec<_>>()
    );

    // 3. Events stream before the result.
    let mut run = pool
        .start(Script::module(
            r#"
            for (let step = 1; step <= 3; step++) {
              host.emit("progress", { step });
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            export default "done";
            "#,
        ))
        .await?;
    let mut steps = 0;
    while let Some(event) = run.next_event().await {
        println!("event: {} {}", event.name, event.data);
        steps += 1;
    }
    let result = run.output().await?.value;
    println!("result: {result}");
    assert_eq!((steps, result), (3, json!("done")));

    // 4. A session keeps one context across runs.
    let session = pool.session().await?;
    session
        .run(Script::expression("globalThis.visits = 0"))
        .await?;
    for _ in 0..3 {
        session.eval::<i64>("++visits").await?;
    }
    let visits: i64 = session.eval("visits").await?;
    println!("session: visits = {visits}");
    assert_eq!(visits, 3);

    // 5. A module loaded once, its functions called many times.
    let app = pool
        .load_module(
            "app.mjs",
            r#"
            export async function work(input) { return { total: input.a + input.b }; }
            export function format(result) { return `total: ${result.total}`; }
            "#,
        )
        .await?;
    let result: serde_json::Value = app.call("work", (json!({ "a": 20, "b": 22 }),)).await?;
    let text: String = app.call("format", (result,)).await?;
    println!("module call: {text}");
    assert_eq!(text, "total: 42");

    // 6. Errors are typed, with positions in the script.
    let error = pool.eval::<i64>("let x = 1;\nx +* 2").await.unwrap_err();
    println!("error: {error}");
    assert!(matches!(
        error,
        outrigger::Error::Script {
            line: Some(2),
            column: Some(4),
            ..
        }
    ));

    println!("stats: {:?}", pool.stats());
    pool.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The example is a test too: it must run to the end without an error.
    #[test]
    fn quickstart_runs() {
        super::main().expect("the quickstart runs");
    }
}
