//! Scripts that use npm packages and files: a project directory, a preload,
//! a module file with relative imports, a project's entry point called from
//! Rust, and what the sandbox refuses (when used, not when imported).
//!
//! It uses the fixture project in `tests/fixtures/project` (a `package.json`
//! and a small hand-written `node_modules`). Run it with
//! `cargo run --example project`.

use std::path::PathBuf;
use std::time::Duration;

use outrigger::{Error, Pool, Script};

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project");
    let pool = Pool::builder()
        .workers(2)
        .timeout(Duration::from_secs(5))
        // Packages by bare name, project files by relative path.
        .project(&project)
        // `_` in every context, imported before the script runs.
        .preload("_", "tiny-lodash")
        .build()
        .await?;

    // 1. A string: a one-line expression using the preload.
    let chunks: serde_json::Value = pool.eval("_.chunk([1, 2, 3, 4, 5], 2)").await?;
    println!("string + preload: {chunks}");

    // 2. A string importing packages (ESM with an exports map, CommonJS)
    //    and a project file.
    let out = pool
        .run(Script::module(
            r#"
            import { flavor } from "dual-pkg";
            import { greet } from "cjs-pkg";
            import { add } from "./lib/math.js";
            export default { flavor, greeting: greet("world"), sum: add(20, 22) };
            "#,
        ))
        .await?;
    println!("packages: {}", out.value);
    assert_eq!(out.value["sum"], 42);

    // 3. A file: a module read from disk, its relative imports resolved
    //    from its own directory.
    let app = pool.load_module_file(project.join("main.mjs")).await?;
    let summary: serde_json::Value = app.call("summary", ()).await?;
    let scaled: Vec<i64> = app.call("scaled", (vec![1, 2, 3], 10)).await?;
    println!("entry point: summary() = {summary}, scaled() = {scaled:?}");
    assert_eq!(scaled, vec![10, 20, 30]);

    // 4. A package that uses `fs` reads the project (readable by default);
    //    a path outside what the sandbox grants fails with an error naming
    //    what was used and the setting that would allow it.
    let manifest: String = pool
        .eval("import('needs-fs').then((m) => m.default.read('package.json').length > 0 ? 'read' : 'empty')")
        .await?;
    println!("package.json through node:fs: {manifest}");
    let refused = pool
        .run(Script::module(
            "import fsUser from 'needs-fs';\nexport default fsUser.read('/etc/passwd');",
        ))
        .await
        .unwrap_err();
    println!("refused: {refused}");
    assert!(matches!(refused, Error::Denied { .. }));

    pool.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The example is a test too: it must run to the end without an error.
    #[test]
    fn project_runs() {
        super::main().expect("the project example runs");
    }
}
