//! Type checks of TypeScript scripts before they run: the real TypeScript
//! compiler, kept warm in a Node.js process of its own (`checker.mjs`),
//! checking each script against the pool's host API, the script world and
//! the project's own types. Started on the first check (or at `build()`
//! when checks are the default); found in the project's `node_modules`
//! unless `PoolBuilder::typescript_compiler` names it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};

/// The checker's program, run with `-e`.
const PROGRAM: &str = include_str!("checker.mjs");

/// How long the compiler may take to load and read the host's declarations.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// How to install the compiler, said whenever it is missing.
const INSTALL: &str = "install it in the project with `npm install --save-dev typescript`, or name it with PoolBuilder::typescript_compiler";

/// What the checker checks against, fixed at `build()`.
#[derive(Debug, Clone)]
pub(crate) struct CheckerSettings {
    /// The Node.js program that runs the compiler.
    pub(crate) node: PathBuf,
    /// The compiler: a `typescript` package directory or its main file, if named.
    pub(crate) compiler: Option<PathBuf>,
    /// The pool's `.d.ts` (every callback, `host.$tools`, `signal`).
    pub(crate) declarations: String,
    /// Registered modules, importable by name.
    pub(crate) modules: Vec<String>,
    /// The project directory (absolute), where packages and their types are.
    pub(crate) project: Option<String>,
}

/// The checker of a pool: its process, started when first needed.
#[derive(Debug)]
pub(crate) struct Checker {
    settings: CheckerSettings,
    process: tokio::sync::Mutex<Option<Process>>,
}

#[derive(Debug)]
struct Process {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

#[derive(Deserialize)]
struct Answer {
    id: u64,
    #[serde(default)]
    diagnostics: Vec<Diagnostic>,
    #[serde(default)]
    error: Option<String>,
}

impl Checker {
    pub(crate) fn new(settings: CheckerSettings) -> Checker {
        Checker {
            settings,
            process: tokio::sync::Mutex::new(None),
        }
    }

    /// The compiler's main module: as named, or in the project's `node_modules`.
    pub(crate) fn compiler(&self) -> Result<PathBuf> {
        let missing = |message: String| Error::Spawn {
            program: "typescript".into(),
            message,
        };
        let candidate = match (&self.settings.compiler, &self.settings.project) {
            (Some(named), _) => named.clone(),
            (None, Some(project)) => Path::new(project).join("node_modules/typescript"),
            (None, None) => {
                return Err(missing(format!(
                    "type checks need the TypeScript compiler, and the pool has no project to find it in: {INSTALL}"
                )))
            }
        };
        let main = if candidate.is_dir() {
            candidate.join("lib/typescript.js")
        } else {
            candidate.clone()
        };
        if main.is_file() {
            Ok(main)
        } else {
            Err(missing(format!(
                "the TypeScript compiler is not at {}: {INSTALL}",
                candidate.display()
            )))
        }
    }

    /// Starts the compiler now, so that the first check finds it warm.
    pub(crate) async fn warm(&self) -> Result<()> {
        let mut process = self.process.lock().await;
        if process.is_none() {
            *process = Some(self.start().await?);
        }
        Ok(())
    }

    async fn start(&self) -> Result<Process> {
        let compiler = self.compiler()?;
        let spawn_error = |message: String| Error::Spawn {
            program: self.settings.node.display().to_string(),
            message,
        };
        let mut child = tokio::process::Command::new(&self.settings.node)
            .arg("--input-type=module")
            .arg("-e")
            .arg(PROGRAM)
            .arg(&compiler)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn_error(format!("cannot start the type checker: {e}")))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut process = Process {
            _child: child,
            stdin,
            stdout,
            next_id: 1,
        };
        let started = std::time::Instant::now();
        let setup = json!({
            "declarations": self.settings.declarations,
            "modules": self.settings.modules,
            "project": self.settings.project,
        });
        tokio::time::timeout(SETUP_TIMEOUT, process.ask(json!({ "setup": setup })))
            .await
            .map_err(|_| spawn_error("the type checker did not start in time".into()))?
            .map_err(|e| spawn_error(format!("the type checker failed to start: {e}")))?;
        tracing::debug!(compiler = %compiler.display(), elapsed_ms = started.elapsed().as_millis() as u64, "type checker started");
        Ok(process)
    }

    /// The diagnostics of the TypeScript module `code` named `name` (from
    /// `file`, when it was read from one).
    pub(crate) async fn check(
        &self,
        name: &str,
        code: &str,
        file: Option<&str>,
    ) -> Result<Vec<Diagnostic>> {
        let mut guard = self.process.lock().await;
        if guard.is_none() {
            *guard = Some(self.start().await?);
        }
        let process = guard.as_mut().expect("started");
        let started = std::time::Instant::now();
        let request = json!({ "check": { "name": name, "code": code, "file": file } });
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, process.ask(request)).await;
        let answer = match outcome {
            Ok(Ok(answer)) => answer,
            Ok(Err(message)) => {
                // A dead checker is started again for the next check.
                *guard = None;
                return Err(Error::Protocol(format!(
                    "the type checker failed: {message}"
                )));
            }
            Err(_) => {
                *guard = None;
                return Err(Error::Timeout {
                    after: CHECK_TIMEOUT,
                });
            }
        };
        tracing::debug!(
            script = name,
            diagnostics = answer.diagnostics.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "type check"
        );
        Ok(answer.diagnostics)
    }
}

impl Process {
    /// One request, answered.
    async fn ask(&mut self, mut request: serde_json::Value) -> std::result::Result<Answer, String> {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = id.into();
        let mut line = request.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("cannot write to it: {e}"))?;
        loop {
            let Some(line) = self
                .stdout
                .next_line()
                .await
                .map_err(|e| format!("cannot read from it: {e}"))?
            else {
                return Err("it exited".into());
            };
            let Ok(answer) = serde_json::from_str::<Answer>(&line) else {
                continue;
            };
            if answer.id != id {
                continue;
            }
            if let Some(error) = answer.error {
                return Err(error);
            }
            return Ok(answer);
        }
    }
}
