//! The npm corpus, run differentially. Every case in `tests/corpus/cases`
//! (one popular package each, pinned in `tests/corpus/package.json`) runs in
//! plain Node.js (`run-node.mjs`, on the engine the pool uses) and through
//! outrigger with the default, strict sandbox and no allowed built-ins (the
//! pool sets only `project`, two workers and a generous timeout), and the
//! two JSON values are compared.
//!
//! `tests/corpus/expect.json` says, per package, `"works"` or how it fails
//! today, in the words `reason` derives from the failure (no paths, no line
//! numbers). A package that starts working, or fails another way, fails the
//! test until the file says so; `OUTRIGGER_CORPUS_BLESS=1` rewrites it from
//! the run, with the table in `docs/ECOSYSTEM.md`. A case that fails in plain
//! Node.js is a bug in the case.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use outrigger::{Error, Output, Script};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The expectation of a package that gives what it gives in plain Node.js.
const WORKS: &str = "works";
/// Set (to anything but `0`) to rewrite `expect.json` and the table from a run.
const BLESS: &str = "OUTRIGGER_CORPUS_BLESS";
/// How long one case may take either way: a large package loaded into a
/// fresh context on a busy machine included.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);
/// The pool's engine processes.
const WORKERS: usize = 2;
/// The generated part of `docs/ECOSYSTEM.md` lies between these.
const TABLE_START: &str = "<!-- corpus-table:";
const TABLE_END: &str = "<!-- /corpus-table -->";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os(BLESS).is_some_and(|value| !value.is_empty() && value != "0")
}

/// The engine the pool runs, for the reference side too.
fn engine() -> PathBuf {
    std::env::var_os("OUTRIGGER_TEST_NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from)
}

/// The case file of a package: `@noble/hashes` → `cases/noble-hashes.mjs`.
fn case_name(package: &str) -> String {
    package.trim_start_matches('@').replace('/', "-")
}

/// The corpus as committed: its packages at their locked versions, and what
/// is expected of each.
struct Corpus {
    dir: PathBuf,
    /// Package → the exact version `package-lock.json` has.
    versions: BTreeMap<String, String>,
    /// Package → `"works"` or the reason it fails.
    expect: BTreeMap<String, String>,
}

impl Corpus {
    fn load() -> Corpus {
        let dir = repository().join("tests/corpus");
        let manifest = read_json(&dir.join("package.json"));
        let lock = read_json(&dir.join("package-lock.json"));
        let dependencies = manifest["dependencies"]
            .as_object()
            .expect("tests/corpus/package.json has dependencies");
        let mut versions = BTreeMap::new();
        for (package, spec) in dependencies {
            let key = format!("node_modules/{package}");
            let locked = lock["packages"][key.as_str()]["version"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("{package} is not in tests/corpus/package-lock.json: run `npm install --prefix tests/corpus`")
                });
            assert_eq!(
                spec.as_str(),
                Some(locked),
                "tests/corpus/package.json must pin {package} to the exact version it is locked at"
            );
            versions.insert(package.clone(), locked.to_string());
        }
        let expect = serde_json::from_value(read_json(&dir.join("expect.json")))
            .expect("tests/corpus/expect.json maps package names to strings");
        Corpus {
            dir,
            versions,
            expect,
        }
    }

    /// Fails, saying what to run, unless `node_modules` holds the locked versions.
    fn check_installed(&self) {
        let modules = self.dir.join("node_modules");
        assert!(
            modules.is_dir(),
            "tests/corpus/node_modules is missing: run `npm ci --prefix tests/corpus` (scripts/test.sh does)"
        );
        let stale: Vec<String> = self
            .versions
            .iter()
            .filter_map(|(package, version)| {
                let installed = std::fs::read_to_string(modules.join(package).join("package.json"))
                    .ok()
                    .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                    .and_then(|manifest| manifest["version"].as_str().map(str::to_string));
                if installed.as_deref() == Some(version.as_str()) {
                    None
                } else {
                    Some(format!(
                        "{package} {version} (installed: {})",
                        installed.as_deref().unwrap_or("none")
                    ))
                }
            })
            .collect();
        assert!(
            stale.is_empty(),
            "tests/corpus/node_modules does not match package-lock.json: run `npm ci --prefix tests/corpus` ({})",
            stale.join(", ")
        );
    }

    /// The table of `docs/ECOSYSTEM.md`, its markers included.
    fn table(&self, expect: &BTreeMap<String, String>) -> String {
        let works = expect.values().filter(|status| *status == WORKS).count();
        let mut table = format!(
            "{TABLE_START} generated by tests/corpus.rs from tests/corpus/expect.json and package-lock.json -->\n\
             {works} of {} packages work unchanged under the default settings.\n\n\
             | package | version | works / why not |\n| --- | --- | --- |\n",
            self.versions.len()
        );
        for (package, version) in &self.versions {
            let status = expect
                .get(package)
                .map_or("(no expectation)", String::as_str);
            table.push_str(&format!(
                "| [{package}](https://www.npmjs.com/package/{package}) | {version} | {} |\n",
                status.replace('|', "\\|")
            ));
        }
        table.push('\n');
        table.push_str(TABLE_END);
        table
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

fn doc_path() -> PathBuf {
    repository().join("docs/ECOSYSTEM.md")
}

/// Where the generated table is in the doc, markers included.
fn table_span(doc: &str) -> Option<Range<usize>> {
    let start = doc.find(TABLE_START)?;
    let end = start + doc[start..].find(TABLE_END)? + TABLE_END.len();
    Some(start..end)
}

#[test]
fn every_package_has_a_case_and_an_expectation() {
    let corpus = Corpus::load();
    let packages: BTreeSet<&String> = corpus.versions.keys().collect();
    let expected: BTreeSet<&String> = corpus.expect.keys().collect();
    assert_eq!(
        expected, packages,
        "tests/corpus/expect.json names exactly the dependencies of tests/corpus/package.json"
    );
    assert!(
        corpus
            .expect
            .values()
            .all(|status| !status.trim().is_empty()),
        "every expectation is \"works\" or a reason"
    );
    let cases: BTreeSet<String> = std::fs::read_dir(corpus.dir.join("cases"))
        .expect("tests/corpus/cases exists")
        .map(|entry| entry.expect("a readable directory entry").file_name())
        .filter_map(|name| {
            name.to_str()
                .and_then(|name| name.strip_suffix(".mjs"))
                .map(str::to_string)
        })
        .collect();
    let wanted: BTreeSet<String> = corpus
        .versions
        .keys()
        .map(|package| case_name(package))
        .collect();
    assert_eq!(
        cases, wanted,
        "one case, tests/corpus/cases/<name>.mjs, per dependency"
    );
}

#[test]
fn the_published_table_is_current() {
    if blessing() {
        return; // the differential test rewrites it from its run
    }
    let corpus = Corpus::load();
    let doc = std::fs::read_to_string(doc_path()).expect("docs/ECOSYSTEM.md exists");
    let span =
        table_span(&doc).expect("docs/ECOSYSTEM.md has the corpus table between its markers");
    let wanted = corpus.table(&corpus.expect);
    assert!(
        doc[span] == wanted,
        "docs/ECOSYSTEM.md's table is not the one tests/corpus/expect.json and package-lock.json give; \
         run `{BLESS}=1 cargo test --test corpus`, or put this in:\n\n{wanted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_run_as_in_plain_node() {
    let corpus = Corpus::load();
    corpus.check_installed();
    let started = Instant::now();
    let pool = common::builder()
        .workers(WORKERS)
        .project(corpus.dir.clone())
        .timeout(CASE_TIMEOUT)
        .build()
        .await
        .expect("the pool starts");
    let node = engine();
    // Plain node processes run beside the pool; a few at a time is enough
    // to keep the cores busy.
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let slots = Arc::new(Semaphore::new(parallel * 2));
    // One run per worker at a time: loading a package is synchronous work,
    // so a second run on a worker would only wait behind it (and be moved
    // off the blocked worker, which is tests/blocking.rs's subject, not this
    // one's).
    let pool_slots = Arc::new(Semaphore::new(WORKERS));
    let mut runs = JoinSet::new();
    for package in corpus.versions.keys() {
        let (package, pool, node, dir, slots, pool_slots) = (
            package.clone(),
            pool.clone(),
            node.clone(),
            corpus.dir.clone(),
            slots.clone(),
            pool_slots.clone(),
        );
        runs.spawn(async move {
            let name = case_name(&package);
            let script = Script::module(format!(
                "import value from './cases/{name}.mjs';\nexport default await value;\n"
            ))
            .name(format!("corpus/{name}.mjs"));
            let reference = async {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .expect("the semaphore stays open");
                in_node(&node, &dir, &name).await
            };
            let ours = async {
                let _slot = pool_slots
                    .acquire_owned()
                    .await
                    .expect("the semaphore stays open");
                pool.run(script).await
            };
            let (reference, ours) = tokio::join!(reference, ours);
            (package, reference, ours)
        });
    }

    let mut outcomes = BTreeMap::new();
    let mut broken_cases = BTreeMap::new();
    let mut problems = BTreeMap::new();
    while let Some(joined) = runs.join_next().await {
        let (package, reference, ours) = joined.expect("a case's task does not panic");
        let name = case_name(&package);
        let reference = match reference {
            Ok(value) => value,
            Err(why) => {
                broken_cases.insert(
                    package,
                    format!("tests/corpus/cases/{name}.mjs fails in plain Node.js (`node tests/corpus/run-node.mjs {name}`): {why}"),
                );
                continue;
            }
        };
        let outcome = compare(&reference, ours);
        let expected = corpus
            .expect
            .get(&package)
            .map_or("(nothing)", String::as_str);
        let problem = match &outcome {
            Outcome::Works if expected == WORKS => None,
            Outcome::Works => Some(format!(
                "works now, but expect.json says: {expected}. Mark it \"works\"."
            )),
            Outcome::Fails { detail, .. } if expected == WORKS => Some(format!(
                "works in plain Node.js, not in outrigger: {}\n{detail}",
                outcome.status()
            )),
            Outcome::Fails { reason, .. } if reason == expected => None,
            Outcome::Fails { reason, detail } => Some(format!(
                "fails another way than expect.json says\n  expected: {expected}\n  now:      {reason}\n{detail}"
            )),
        };
        if let Some(problem) = problem {
            problems.insert(package.clone(), problem);
        }
        outcomes.insert(package, outcome.status().to_string());
    }
    let works = outcomes.values().filter(|status| *status == WORKS).count();
    println!(
        "corpus: {works} of {} packages work; {} cases run both ways in {:.1?}",
        corpus.versions.len(),
        outcomes.len(),
        started.elapsed()
    );

    assert!(
        broken_cases.is_empty(),
        "cases that fail in plain Node.js are bugs in the corpus:\n\n{}",
        listing(&broken_cases)
    );
    if blessing() {
        bless(&corpus, &outcomes);
        return;
    }
    assert!(
        problems.is_empty(),
        "{} of {} corpus packages do not do what tests/corpus/expect.json says \
         ({BLESS}=1 rewrites it and docs/ECOSYSTEM.md from this run):\n\n{}",
        problems.len(),
        corpus.versions.len(),
        listing(&problems)
    );
}

fn listing(entries: &BTreeMap<String, String>) -> String {
    entries
        .iter()
        .map(|(package, text)| format!("── {package}: {text}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Writes this run's outcomes to `expect.json` and the doc's table.
fn bless(corpus: &Corpus, outcomes: &BTreeMap<String, String>) {
    for (package, status) in outcomes {
        if corpus.expect.get(package) != Some(status) {
            println!("{package}: {status}");
        }
    }
    let json = serde_json::to_string_pretty(outcomes).expect("strings serialize");
    std::fs::write(corpus.dir.join("expect.json"), format!("{json}\n"))
        .expect("expect.json is writable");
    let mut doc = std::fs::read_to_string(doc_path()).expect("docs/ECOSYSTEM.md exists");
    let span =
        table_span(&doc).expect("docs/ECOSYSTEM.md has the corpus table between its markers");
    doc.replace_range(span, &corpus.table(outcomes));
    std::fs::write(doc_path(), doc).expect("docs/ECOSYSTEM.md is writable");
}

/// The case's value in plain Node.js, or why it has none. The environment is
/// emptied as the pool's workers' is (no `TZ`, `LANG`, `NODE_OPTIONS`), but
/// for `PATH`, to find the engine.
async fn in_node(node: &Path, dir: &Path, name: &str) -> Result<Value, String> {
    let mut command = tokio::process::Command::new(node);
    command
        .arg(dir.join("run-node.mjs"))
        .arg(name)
        .env_clear()
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let output = match tokio::time::timeout(CASE_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("cannot start {}: {error}", node.display())),
        Err(_) => return Err(format!("no answer within {CASE_TIMEOUT:?}")),
    };
    if !output.status.success() {
        return Err(format!(
            "{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "its output is not JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A case through outrigger, set against plain Node.js.
enum Outcome {
    /// The same value.
    Works,
    /// An error or another value: `reason` in expect.json's words, `detail`
    /// for the one who fixes it.
    Fails { reason: String, detail: String },
}

impl Outcome {
    fn status(&self) -> &str {
        match self {
            Outcome::Works => WORKS,
            Outcome::Fails { reason, .. } => reason,
        }
    }
}

fn compare(reference: &Value, ours: outrigger::Result<Output>) -> Outcome {
    match ours {
        Ok(output) if output.value == *reference => Outcome::Works,
        Ok(output) => {
            let (path, node_side, our_side) =
                first_difference(reference, &output.value, String::new());
            let path = if path.is_empty() {
                "the top".to_string()
            } else {
                path
            };
            Outcome::Fails {
                reason: format!(
                    "value differs at {path}: node {}, outrigger {}",
                    brief(node_side),
                    brief(our_side)
                ),
                detail: format!(
                    "plain node: {}\noutrigger:  {}",
                    clip(&reference.to_string(), 4000),
                    clip(&output.value.to_string(), 4000)
                ),
            }
        }
        Err(error) => Outcome::Fails {
            reason: reason(&error),
            detail: match &error {
                Error::Script {
                    stack: Some(stack), ..
                } => format!("{error}\n{stack}"),
                _ => error.to_string(),
            },
        },
    }
}

/// A failed run in a few words that hold across machines and Node.js
/// versions: which import was refused and who asked for it, or the error
/// and the package that threw it.
fn reason(error: &Error) -> String {
    match error {
        Error::Import {
            specifier,
            referrer,
            message,
            ..
        } => {
            let by =
                package_of(referrer).map_or_else(String::new, |package| format!(" (by {package})"));
            if message.contains("is not allowed") {
                format!("import of \"{specifier}\" refused{by}")
            } else {
                let why = message
                    .split_once(&format!("{referrer}: "))
                    .map_or(message.as_str(), |(_, why)| why);
                format!("import of \"{specifier}\" failed{by}: {}", clip(why, 120))
            }
        }
        Error::Script {
            name,
            message,
            stack,
            ..
        } => {
            let first_line = message.lines().next().unwrap_or_default();
            let place = stack
                .as_deref()
                .and_then(thrower)
                .map_or_else(String::new, |place| format!(" (in {place})"));
            format!("{name}: {}{place}", clip(first_line, 160))
        }
        other => clip(other.to_string().lines().next().unwrap_or_default(), 160),
    }
}

/// Where a stack says its error was thrown: the package of the innermost
/// frame in `node_modules`, or the case itself.
fn thrower(stack: &str) -> Option<String> {
    stack
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with("at "))
        .find_map(|line| {
            if line.contains("node_modules/") {
                package_of(line)
            } else if line.contains("/cases/") {
                Some("the case".to_string())
            } else {
                None
            }
        })
}

/// The npm package a path (or a stack line) is in: what follows its last
/// `node_modules/`.
fn package_of(path: &str) -> Option<String> {
    const MODULES: &str = "node_modules/";
    let rest = &path[path.rfind(MODULES)? + MODULES.len()..];
    let mut parts = rest.split('/');
    let first = parts.next()?;
    if first.starts_with('@') {
        Some(format!("{first}/{}", parts.next()?))
    } else {
        Some(first.to_string())
    }
}

/// Where two JSON values first differ (object keys in order, array items
/// by index), and each side's value there (`None`: absent).
fn first_difference<'a>(
    a: &'a Value,
    b: &'a Value,
    path: String,
) -> (String, Option<&'a Value>, Option<&'a Value>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let step = if is_identifier(key) {
                    format!("{path}.{key}")
                } else {
                    format!("{path}[{}]", Value::String(key.clone()))
                };
                let step = step.trim_start_matches('.').to_string();
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) if p == q => {}
                    (Some(p), Some(q)) => return first_difference(p, q, step),
                    (p, q) => return (step, p, q),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return first_difference(p, q, format!("{path}[{i}]"));
                }
            }
        }
        _ => {}
    }
    (path, Some(a), Some(b))
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn brief(value: Option<&Value>) -> String {
    value.map_or_else(
        || "(absent)".to_string(),
        |value| clip(&value.to_string(), 60),
    )
}

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
