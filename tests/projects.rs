//! Project directories against real Node.js workers: npm packages by bare
//! name (ESM, CommonJS, exports maps), relative imports, module files,
//! preloads, the built-in allowlist, and the errors of each. The fixture
//! project, with its small hand-written `node_modules`, is
//! `tests/fixtures/project`.

mod common;

use std::path::{Path, PathBuf};

use outrigger::{Error, Sandbox, Script};
use serde_json::json;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project")
}

fn canonical(path: &str) -> String {
    std::fs::canonicalize(project().join(path))
        .unwrap()
        .display()
        .to_string()
}

async fn project_pool() -> outrigger::Pool {
    common::builder()
        .project(project())
        .allow_builtin("node:path")
        .preload("_", "tiny-lodash")
        .build()
        .await
        .expect("the pool starts")
}

#[tokio::test]
async fn imports_esm_and_commonjs_packages_by_bare_name() {
    let pool = project_pool().await;
    let out = pool
        .run(Script::module(
            r#"import describe, { flavor } from "dual-pkg";
import { feature } from "dual-pkg/feature";
import cjs, { greet } from "cjs-pkg";
export default { esm: [describe(), flavor, feature], cjs: [greet("rust"), cjs.version, cjs.dualFlavor] };"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!({
            "esm": ["dual-pkg (esm)", "esm", "feature (esm)"],
            // require() inside the CommonJS package takes the "require" condition.
            "cjs": ["hello, rust", "1.0.0", "cjs"],
        })
    );
}

#[tokio::test]
async fn imports_project_files_by_relative_path() {
    let pool = project_pool().await;
    let value: serde_json::Value = pool
        .eval(r#"import("./lib/math.js").then((m) => [m.add(1, 2), m.scaleAll([1, 2], 10)])"#)
        .await
        .unwrap();
    assert_eq!(value, json!([3, [10, 20]]));
}

#[tokio::test]
async fn runs_a_module_file_with_its_relative_imports() {
    // No project set: the file's own location is enough, once the sandbox
    // lets workers read it. One worker, so that the second run meets the
    // first one's caches.
    let dir = tempdir();
    let pool = common::builder()
        .workers(1)
        .sandbox(common::sandbox(Sandbox::strict().allow_read(&dir)))
        .build()
        .await
        .unwrap();
    std::fs::write(
        dir.join("helper.mjs"),
        "export const twice = (x) => x * 2;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.mjs"),
        "import { twice } from './helper.mjs';\nexport default twice(input);\n",
    )
    .unwrap();
    let script = Script::module_file(dir.join("main.mjs")).global("input", 21);
    assert_eq!(pool.run(script.clone()).await.unwrap().value, json!(42));

    // The second run reuses the compiled files: no new compile (Deno's
    // `vm.SourceTextModule` makes no code cache: both files compile again).
    let before = compiles(&pool).await;
    assert_eq!(pool.run(script).await.unwrap().value, json!(42));
    let again = if common::deno() { 2 } else { 0 };
    assert_eq!(compiles(&pool).await, before + again);
    std::fs::remove_dir_all(dir).unwrap();
}

async fn compiles(pool: &outrigger::Pool) -> u64 {
    pool.worker_stats()
        .await
        .unwrap()
        .iter()
        .map(|w| w.module_compiles + w.script_compiles)
        .sum()
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "outrigger-projects-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_preload_is_a_global_once_per_session_context() {
    let pool = project_pool().await;
    let chunks: serde_json::Value = pool.eval("_.chunk([1, 2, 3, 4, 5], 2)").await.unwrap();
    assert_eq!(chunks, json!([[1, 2], [3, 4], [5]]));
    let session = pool.session().await.unwrap();
    session.eval::<bool>("_.seen = true").await.unwrap();
    // The same preloaded object in the next run: not imported again.
    assert!(session.eval::<bool>("_.seen").await.unwrap());
    // Plain runs get fresh contexts, each with its own preload.
    assert_eq!(
        pool.eval::<serde_json::Value>("_.seen").await.unwrap(),
        json!(null)
    );
}

#[tokio::test]
async fn a_missing_preload_fails_build() {
    let error = common::builder()
        .project(project())
        .preload("x", "no-such-package")
        .build()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("no-such-package"), "{text}");
}

#[tokio::test]
async fn a_projects_entry_point_is_callable() {
    let pool = project_pool().await;
    let app = pool
        .load_module_file(project().join("main.mjs"))
        .await
        .unwrap();
    assert!(app.exports().contains(&"summary".to_owned()));
    let summary: serde_json::Value = app.call("summary", ()).await.unwrap();
    assert_eq!(summary["flavor"], "esm");
    assert_eq!(summary["cjsGreeting"], "hello, project");
    assert_eq!(summary["total"], 5);
    let scaled: Vec<i64> = app.call("scaled", (vec![1, 2, 3], 2)).await.unwrap();
    assert_eq!(scaled, vec![2, 4, 6]);
}

#[tokio::test]
async fn a_session_can_have_its_own_project() {
    // A session's project is not the pool's: the sandbox must let workers read it.
    let pool = common::builder()
        .sandbox(common::sandbox(Sandbox::strict().allow_read(project())))
        .build()
        .await
        .unwrap();
    let refused = pool
        .run(Script::module(
            "import x from 'cjs-pkg';\nexport default x;",
        ))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("PoolBuilder::project"),
        "{refused}"
    );
    let session = pool.session_in(project()).await.unwrap();
    let greeting: String = session
        .eval("import('cjs-pkg').then((m) => m.greet('session'))")
        .await
        .unwrap();
    assert_eq!(greeting, "hello, session");
    let module = session
        .load_module_file(project().join("main.mjs"))
        .await
        .unwrap();
    let summary: serde_json::Value = module.call("summary", ()).await.unwrap();
    assert_eq!(summary["total"], 5);

    let missing = pool.session_in(project().join("nope")).await.unwrap_err();
    assert!(matches!(missing, Error::InvalidInput(_)), "{missing:?}");
}

#[tokio::test]
async fn a_capability_a_dependency_uses_is_refused_naming_the_setting() {
    let pool = project_pool().await;
    // The package loads (it requires `fs` at load) and reads the project;
    // reading outside it is refused, naming the setting that would allow it.
    let name: String = pool
        .eval("import('needs-fs').then((m) => JSON.parse(m.default.read('package.json')).name)")
        .await
        .unwrap();
    assert!(!name.is_empty());
    let error = pool
        .run(Script::module(
            "import x from 'needs-fs';\nexport default x.read('/etc/hostname');",
        ))
        .await
        .unwrap_err();
    match error {
        Error::Denied {
            capability,
            setting,
            message,
        } => {
            assert_eq!(capability, "node:fs.readFileSync()");
            assert_eq!(setting, "Sandbox::allow_read");
            assert!(message.contains(&capability), "{message}");
            assert!(message.contains("/etc/hostname"), "{message}");
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    // Allowed: node:path, for the script and for the packages it uses.
    let joined: String = pool
        .eval("import('uses-path').then((m) => m.join('a', 'b'))")
        .await
        .unwrap();
    assert_eq!(joined, "a/b");
    let sep: String = pool
        .run(Script::module(
            "import path from 'node:path';\nexport default path.sep;",
        ))
        .await
        .unwrap()
        .value
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sep, "/");
}

#[tokio::test]
async fn an_allowed_builtin_is_a_frozen_copy() {
    let pool = project_pool().await;
    let value: serde_json::Value = pool
        .run(Script::module(
            "import path from 'node:path';\n'use strict';\nlet replaced;\ntry { path.join = () => 'x'; replaced = path.join('a', 'b') === 'x'; } catch { replaced = false; }\nexport default [Object.isFrozen(path), replaced];",
        ))
        .await
        .unwrap()
        .value;
    assert_eq!(value, json!([true, false]));
}

#[tokio::test]
async fn a_missing_package_or_file_is_an_import_error_saying_what_was_looked_for() {
    let pool = project_pool().await;
    let error = pool
        .run(Script::module(
            "import x from 'left-pad';\nexport default x;",
        ))
        .await
        .unwrap_err();
    match &error {
        Error::Import {
            specifier, message, ..
        } => {
            assert_eq!(specifier, "left-pad");
            assert!(message.contains("package not found"), "{message}");
        }
        other => panic!("expected an import error, got {other:?}"),
    }
    let error = pool
        .run(Script::module(
            "import x from './lib/missing.js';\nexport default x;",
        ))
        .await
        .unwrap_err();
    match &error {
        Error::Import { message, .. } => {
            assert!(
                message.contains(&format!("no such file: {}", canonical("lib"))),
                "{message}"
            );
        }
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_syntax_error_in_a_dependency_names_its_file_line_and_column() {
    let pool = project_pool().await;
    let error = pool
        .run(Script::module(
            "import { ok } from 'broken-pkg';\nexport default ok;",
        ))
        .await
        .unwrap_err();
    match error {
        Error::Script {
            name,
            script,
            line,
            column,
            ..
        } => {
            assert_eq!(name, "SyntaxError");
            assert_eq!(script, canonical("node_modules/broken-pkg/index.js"));
            not_on_deno!("Deno's `vm` reports syntax errors without their place (docs/ENGINES.md)");
            assert_eq!(line, Some(3));
            assert!(column.is_some());
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bad_project_directory_fails_build() {
    let error = common::builder()
        .project(project().join("does-not-exist"))
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("does-not-exist"), "{error}");
}

/// A real package from the npm registry, installed by the test itself: known
/// to work with real-world packages, not only the fixtures. Fails (does not
/// skip) when npm cannot reach the registry.
#[tokio::test]
async fn uses_a_package_installed_from_the_npm_registry() {
    let dir = tempdir();
    let install = std::process::Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg("dayjs@1")
        .output()
        .expect("npm runs (it comes with Node.js)");
    assert!(
        install.status.success(),
        "`npm install dayjs@1` failed; this test needs the npm registry:\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let pool = common::builder()
        .project(&dir)
        .preload("dayjs", "dayjs")
        .build()
        .await
        .unwrap();
    let formatted: String = pool
        .eval("dayjs('2024-02-29T12:00:00').add(1, 'year').format('YYYY-MM-DD')")
        .await
        .unwrap();
    assert_eq!(formatted, "2025-02-28");
    let out = pool
        .run(Script::module(
            "import dayjs from 'dayjs';\nimport utc from 'dayjs/plugin/utc.js';\ndayjs.extend(utc);\nexport default dayjs.utc('2024-01-02T03:04:05Z').format('HH:mm');",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, json!("03:04"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `script` 32 times at once, each with its own `tag` global, and
/// checks that each run answers its own tag: what its `import()`s loaded
/// read the global of the run's context.
async fn each_run_reads_its_own_tag(pool: &outrigger::Pool, script: Script) {
    let runs: Vec<_> = (0..32)
        .map(|n| {
            let (pool, script) = (pool.clone(), script.clone().global("tag", n));
            tokio::spawn(async move { (n, pool.run(script).await) })
        })
        .collect();
    for run in runs {
        let (n, output) = run.await.unwrap();
        assert_eq!(output.unwrap().value, json!(n), "run {n}");
    }
}

/// Many runs of one classic script at once, each in its own context: an
/// `import()` made after an `await`, by the script every context shares,
/// lands in the context of the run that made it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_script_imports_into_the_context_of_its_run() {
    let pool = common::builder()
        .module("tagged", "export const tag = () => globalThis.tag;")
        .build()
        .await
        .unwrap();
    let script = Script::expression(
        "(async () => {\n  await new Promise((r) => setTimeout(r, 5));\n  return (await import('tagged')).tag();\n})()",
    );
    each_run_reads_its_own_tag(&pool, script).await;
}

/// The same through a CommonJS package, whose compiled code every context
/// shares: its `import()` after an `await` lands in its caller's context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commonjs_package_imports_into_the_context_of_its_caller() {
    let pool = project_pool().await;
    let script = Script::module(
        "import { tagLater } from 'imports-later';\nexport default await tagLater();",
    );
    each_run_reads_its_own_tag(&pool, script).await;
}

/// A module that calls `import()`, run again on the same worker: compiled
/// the second time with the first's code cache, its `import()` still works
/// (Node.js 20 drops the callback of code compiled from a cache).
#[tokio::test]
async fn a_module_that_imports_runs_again_on_its_worker() {
    let pool = common::builder()
        .workers(1)
        .module("tagged", "export const tag = () => globalThis.tag;")
        .build()
        .await
        .unwrap();
    for n in 0..3 {
        let out = pool
            .run(
                Script::module("const m = await import('tagged');\nexport default m.tag();")
                    .global("tag", n),
            )
            .await;
        assert_eq!(out.unwrap().value, json!(n), "run {n}");
    }
}
