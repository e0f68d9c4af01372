//! The worker runtime: the JavaScript program every engine process runs,
//! embedded so that no install step is needed.
//!
//! It is written as ES modules in `js-client/src` (this crate's `runtime`
//! directory links there), numbered in load order, each one concern, and
//! assembled here into the one program an engine is started with. The
//! files keep to a small contract so that assembling needs no JavaScript
//! parser (`js-client/test/contract.test.mjs` checks it on the JS side):
//!
//! - imports one per line: `import x from 'node:m';` or
//!   `import { a, b } from 'node:m';` (a local name means the same import in
//!   every file), and `import { a, b } from './NN_name.mjs';` from a file
//!   that loads earlier;
//! - exports only as `export function|async function|class|const NAME` at
//!   the start of a line;
//! - the last file exports `serve`, which the program calls.
//!
//! Each file becomes a function scope of its own returning its exports, so
//! its private names stay private as they are when the files are loaded as
//! modules (as the runtime's own tests do).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

/// A runtime file: its name and its source.
macro_rules! module {
    ($file:literal) => {
        ($file, include_str!(concat!("../../runtime/", $file)))
    };
}

/// The runtime's files, in load order.
const MODULES: &[(&str, &str)] = &[
    module!("00_codes.mjs"),
    module!("01_clock.mjs"),
    module!("02_config.mjs"),
    module!("03_channel.mjs"),
    module!("04_json.mjs"),
    module!("05_errors.mjs"),
    module!("06_current_run.mjs"),
    module!("07_console.mjs"),
    module!("08_host_calls.mjs"),
    module!("09_fetch_policy.mjs"),
    module!("10_sharing.mjs"),
    module!("11_buffer.mjs"),
    module!("12_node.mjs"),
    module!("13_web.mjs"),
    module!("14_fs.mjs"),
    module!("15_pure.mjs"),
    module!("16_mounts.mjs"),
    module!("17_files.mjs"),
    module!("18_realm.mjs"),
    module!("19_contexts.mjs"),
    module!("20_compile.mjs"),
    module!("21_resolve.mjs"),
    module!("22_builtins.mjs"),
    module!("23_commonjs.mjs"),
    module!("24_imports.mjs"),
    module!("25_preloads.mjs"),
    module!("26_run.mjs"),
    module!("27_lifecycle.mjs"),
    module!("28_sessions.mjs"),
    module!("29_jobs.mjs"),
    module!("30_init.mjs"),
    module!("31_run_line.mjs"),
    module!("32_dispatch.mjs"),
    module!("33_main.mjs"),
];

/// How the assembled program takes the built-in modules its files import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtins {
    /// `import fs from 'node:fs';`, as the files say.
    Import,
    /// `const fs = require('node:fs');`, through one `createRequire`:
    /// Node.js makes an ES module of each built-in imported, with every one
    /// of its exports, which cost ~5 ms of each worker's start-up; a
    /// `require` hands over the same object.
    Require,
}

/// The program, as Deno and Bun are given it (assembled once, shared by
/// every worker).
pub(crate) fn program_arc() -> Arc<str> {
    static PROGRAM: OnceLock<Arc<str>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            assemble(MODULES, Builtins::Import)
                .expect("the embedded runtime keeps the contract")
                .into()
        })
        .clone()
}

/// The program, as Node.js is given it.
pub(crate) fn node_program_arc() -> Arc<str> {
    static PROGRAM: OnceLock<Arc<str>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            assemble(MODULES, Builtins::Require)
                .expect("the embedded runtime keeps the contract")
                .into()
        })
        .clone()
}

/// Assembles modules (file name, source) into one program; an error names
/// the file and line that break the contract.
pub(crate) fn assemble(modules: &[(&str, &str)], builtins: Builtins) -> Result<String, String> {
    // Local name of a `node:` import -> the module and what it takes from it
    // (`None`: the default export).
    let mut bound: BTreeMap<&str, (&str, Option<&str>)> = BTreeMap::new();
    // Files assembled so far, with their exports.
    let mut loaded: Vec<(String, Vec<String>)> = Vec::new();
    let mut bodies = String::new();
    let mut last_exports = Vec::new();
    for (file, source) in modules {
        let scope = scope_name(file)?;
        let mut exports = Vec::new();
        let mut body = String::new();
        for (number, line) in source.lines().enumerate() {
            let at = || format!("{file}:{}", number + 1);
            if let Some(rest) = line.strip_prefix("import ") {
                let (names, from) = parse_import(rest).ok_or_else(|| {
                    format!(
                        "{}: an import the runtime's assembly does not take: {line}",
                        at()
                    )
                })?;
                if from.starts_with("node:") {
                    let bindings: Vec<(&str, Option<&str>)> = match &names {
                        Imported::Default(name) => vec![(name, None)],
                        Imported::Named(names) => names.iter().map(|n| (*n, Some(*n))).collect(),
                    };
                    for (local, taken) in bindings {
                        match bound.insert(local, (from, taken)) {
                            Some(previous) if previous != (from, taken) => {
                                return Err(format!(
                                    "{}: `{local}` is bound by another import elsewhere (from {})",
                                    at(),
                                    previous.0
                                ))
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                let (target, exported) = from
                    .strip_prefix("./")
                    .and_then(|target| loaded.iter().find(|(l, _)| l == target))
                    .ok_or_else(|| {
                        format!(
                            "{}: `{from}` is not a runtime file that loads earlier",
                            at()
                        )
                    })?;
                let Imported::Named(names) = names else {
                    return Err(format!(
                        "{}: runtime files import each other by name only",
                        at()
                    ));
                };
                if let Some(missing) = names.iter().find(|n| !exported.iter().any(|e| e == *n)) {
                    return Err(format!("{}: {target} does not export `{missing}`", at()));
                }
                writeln!(
                    body,
                    "const {{ {} }} = {};",
                    names.join(", "),
                    scope_name(target)?
                )
                .expect("writing to a String");
                continue;
            }
            if let Some(declaration) = line.strip_prefix("export ") {
                let name = exported_name(declaration).ok_or_else(|| {
                    format!(
                        "{}: an export the runtime's assembly does not take: {line}",
                        at()
                    )
                })?;
                exports.push(name.to_owned());
                body.push_str(declaration);
                body.push('\n');
                continue;
            }
            body.push_str(line);
            body.push('\n');
        }
        writeln!(
            bodies,
            "// {file}\nconst {scope} = (() => {{\n{body}return {{ {} }};\n}})();",
            exports.join(", ")
        )
        .expect("writing to a String");
        last_exports = exports.clone();
        loaded.push(((*file).to_owned(), exports));
    }
    let Some((last, _)) = modules.last() else {
        return Err("the runtime has no files".into());
    };
    if !last_exports.iter().any(|name| name == "serve") {
        return Err(format!("{last}, the last file, does not export `serve`"));
    }
    let mut program = String::with_capacity(bodies.len() + 1024);
    program.push_str("// The outrigger worker runtime, assembled from js-client/src.\n");
    if builtins == Builtins::Require {
        program.push_str(
            "import { createRequire as $createRequire } from 'node:module';\n\
             const $require = $createRequire(import.meta.url);\n",
        );
    }
    let mut named: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (local, (from, taken)) in &bound {
        match (taken, builtins) {
            (None, Builtins::Import) => writeln!(program, "import {local} from '{from}';"),
            (None, Builtins::Require) => writeln!(program, "const {local} = $require('{from}');"),
            (Some(_), _) => {
                named.entry(from).or_default().push(local);
                Ok(())
            }
        }
        .expect("writing to a String");
    }
    for (from, names) in named {
        let names = names.join(", ");
        match builtins {
            Builtins::Import => writeln!(program, "import {{ {names} }} from '{from}';"),
            Builtins::Require => writeln!(program, "const {{ {names} }} = $require('{from}');"),
        }
        .expect("writing to a String");
    }
    program.push_str(&bodies);
    writeln!(program, "{}.serve();", scope_name(last)?).expect("writing to a String");
    Ok(program)
}

/// The name of the scope a file becomes: `03_channel.mjs` -> `$03_channel`.
fn scope_name(file: &str) -> Result<String, String> {
    let stem = file
        .strip_suffix(".mjs")
        .filter(|stem| {
            stem.len() > 3
                && stem.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                && stem.as_bytes()[2] == b'_'
                && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .ok_or_else(|| format!("`{file}` is not named NN_name.mjs"))?;
    Ok(format!("${stem}"))
}

/// What an import statement binds.
enum Imported<'a> {
    /// `import x from '...'`
    Default(&'a str),
    /// `import { a, b } from '...'`
    Named(Vec<&'a str>),
}

/// Parses what follows `import ` on a line: `x from 'm';` or
/// `{ a, b } from 'm';`.
fn parse_import(rest: &str) -> Option<(Imported<'_>, &str)> {
    let (what, from) = rest.trim_end().strip_suffix(';')?.split_once(" from ")?;
    let from = from.trim();
    let quote = from.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let from = from.strip_prefix(quote)?.strip_suffix(quote)?;
    let what = what.trim();
    let imported = match what.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
        Some(names) => Imported::Named(
            names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| is_identifier(n).then_some(n))
                .collect::<Option<Vec<_>>>()?,
        ),
        None if is_identifier(what) => Imported::Default(what),
        None => return None,
    };
    Some((imported, from))
}

/// The name an `export` declaration line declares.
fn exported_name(declaration: &str) -> Option<&str> {
    let rest = ["async function ", "function ", "class ", "const "]
        .iter()
        .find_map(|keyword| declaration.strip_prefix(keyword))?;
    let rest = rest.strip_prefix('*').unwrap_or(rest).trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    is_identifier(name).then_some(name)
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_files_into_scopes_in_load_order() {
        let files = [
            ("00_a.mjs", "import vm from 'node:vm';\nconst hidden = 1;\nexport const A = hidden + 1;\nexport function twice(x) { return x * 2; }\n"),
            ("01_b.mjs", "import vm from 'node:vm';\nimport { A, twice } from './00_a.mjs';\nimport { Buffer } from 'node:buffer';\nconst hidden = 2;\nexport async function serve() { return twice(A) + hidden; }\n"),
        ];
        let program = assemble(&files, Builtins::Import).unwrap();
        assert_eq!(
            program.matches("import vm from 'node:vm';").count(),
            1,
            "{program}"
        );
        assert!(program.contains("const { A, twice } = $00_a;"), "{program}");
        assert!(program.contains("return { A, twice };"), "{program}");
        assert!(program.trim_end().ends_with("$01_b.serve();"), "{program}");
        let required = assemble(&files, Builtins::Require).unwrap();
        assert!(
            required.contains("const vm = $require('node:vm');"),
            "{required}"
        );
        assert!(
            required.contains("const { Buffer } = $require('node:buffer');"),
            "{required}"
        );
        assert!(!required.contains("import vm"), "{required}");
    }

    #[test]
    fn the_embedded_runtime_is_every_file_in_load_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".mjs"))
            .collect();
        files.sort();
        let embedded: Vec<&str> = MODULES.iter().map(|(file, _)| *file).collect();
        assert_eq!(
            embedded, files,
            "MODULES must list every file of js-client/src, in order"
        );
        for program in [program_arc(), node_program_arc()] {
            assert!(program.contains("serve();"));
            assert!(!program.lines().any(|line| line.starts_with("export ")));
        }
    }

    #[test]
    fn refuses_what_breaks_the_contract() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (
                &[
                    ("00_a.mjs", "export const A = 1;\n"),
                    (
                        "01_b.mjs",
                        "import { B } from './00_a.mjs';\nexport function serve() {}\n",
                    ),
                ],
                "does not export `B`",
            ),
            (
                &[(
                    "00_a.mjs",
                    "import { x } from './01_b.mjs';\nexport function serve() {}\n",
                )],
                "loads earlier",
            ),
            (
                &[(
                    "00_a.mjs",
                    "import * as vm from 'node:vm';\nexport function serve() {}\n",
                )],
                "does not take",
            ),
            (&[("00_a.mjs", "export default 1;\n")], "does not take"),
            (
                &[
                    ("00_a.mjs", "import vm from 'node:vm';\n"),
                    (
                        "01_b.mjs",
                        "import { Script as vm } from 'node:vm';\nexport function serve() {}\n",
                    ),
                ],
                "does not take",
            ),
            (
                &[
                    ("00_a.mjs", "import vm from 'node:vm';\n"),
                    (
                        "01_b.mjs",
                        "import vm from 'node:fs';\nexport function serve() {}\n",
                    ),
                ],
                "bound by another import",
            ),
            (&[("a.mjs", "export function serve() {}\n")], "NN_name.mjs"),
        ];
        for (modules, expected) in cases {
            let error = assemble(modules, Builtins::Import).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        assert!(assemble(
            &[("00_a.mjs", "export function other() {}\n")],
            Builtins::Import
        )
        .unwrap_err()
        .contains("does not export `serve`"));
    }
}
