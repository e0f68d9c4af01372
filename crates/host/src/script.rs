//! What a run is made of: a [`Script`], and the same script loaded (its
//! source in memory, its content address computed) to be sent.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::callbacks::{Approval, ApprovalRequest, Approver};
use crate::error::{Error, Result};
use crate::script_key::{recent_key, script_key};

/// How a script's source is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptKind {
    /// A classic script; its value is the value of its last statement
    /// (`2 + 2`, or `const x = 1; x + 1`). A promise is awaited.
    Expression,
    /// An ES module with top-level `await`; its value is the default export
    /// (awaited if it is a promise).
    Module,
}

impl ScriptKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ScriptKind::Expression => "expression",
            ScriptKind::Module => "module",
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    Code(Arc<str>),
    File(PathBuf),
}

/// A piece of JavaScript to run, with its inputs.
///
/// ```no_run
/// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
/// use outrigger_host::Script;
/// let out = pool
///     .run(Script::module("export default input.a + input.b;").global("input", serde_json::json!({"a": 1, "b": 2})))
///     .await?;
/// assert_eq!(out.value, 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Script {
    kind: ScriptKind,
    source: Source,
    name: Option<Arc<str>>,
    globals: Vec<(String, Result<String, String>)>,
    /// The frames of the globals' binary values (see [`Script::global`]).
    frames: Vec<bytes::Bytes>,
    timeout: Option<Duration>,
    max_callbacks: Option<u32>,
    retries: u32,
    key: Arc<OnceLock<Arc<str>>>,
    approver: Option<Approver>,
    /// Its source is TypeScript: the types are erased before it is sent.
    typescript: bool,
    /// Whether it is type-checked before it runs (`None`: the pool's default).
    typecheck: Option<bool>,
}

impl Script {
    fn new(kind: ScriptKind, source: Source) -> Self {
        let typescript = matches!(&source, Source::File(path) if path.to_str().is_some_and(crate::strip::is_typescript));
        Script {
            kind,
            source,
            name: None,
            globals: Vec::new(),
            frames: Vec::new(),
            timeout: None,
            max_callbacks: None,
            retries: 0,
            approver: None,
            key: Arc::default(),
            typescript,
            typecheck: None,
        }
    }

    /// A classic script whose completion value is the result.
    pub fn expression(code: impl Into<String>) -> Self {
        Self::new(ScriptKind::Expression, Source::Code(code.into().into()))
    }

    /// An ES module whose default export is the result.
    pub fn module(code: impl Into<String>) -> Self {
        Self::new(ScriptKind::Module, Source::Code(code.into().into()))
    }

    /// An ES module in TypeScript whose default export is the result. Its
    /// types are erased, not compiled: the JavaScript left keeps every line
    /// and column, so errors and stacks point into the TypeScript as
    /// written. What erasing cannot turn into JavaScript (enums, namespaces
    /// with values, parameter properties, `import x = require()`) is an
    /// [`Error::Script`] (`SyntaxError`) saying so. Types are not checked
    /// unless asked ([`Script::typecheck`], [`Pool::check`](crate::Pool::check)).
    /// Its name defaults to `module.ts`.
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// use outrigger_host::Script;
    /// let out = pool.run(Script::typescript(
    ///     "interface Point { x: number; y: number }\n\
    ///      const p: Point = { x: 1, y: 2 };\n\
    ///      export default p.x + p.y satisfies number;",
    /// )).await?;
    /// # Ok(()) }
    /// ```
    pub fn typescript(code: impl Into<String>) -> Self {
        let mut script = Self::new(ScriptKind::Module, Source::Code(code.into().into()));
        script.typescript = true;
        script
    }

    /// Whether this script is type-checked before it runs (against the
    /// pool's host API, the script world and the project's types): one that
    /// does not check fails with [`Error::Type`] before any of it runs.
    /// Defaults to [`PoolBuilder::typecheck`](crate::PoolBuilder::typecheck).
    pub fn typecheck(mut self, check: bool) -> Self {
        self.typecheck = Some(check);
        self
    }

    pub(crate) fn typecheck_or(&self, default: bool) -> bool {
        self.typecheck.unwrap_or(default)
    }

    /// The absolute path of a script read from a file.
    pub(crate) fn file(&self) -> Option<String> {
        match &self.source {
            Source::File(path) => Some(crate::paths::absolute_file(path)),
            Source::Code(_) => None,
        }
    }

    /// Whether the source is TypeScript.
    pub fn is_typescript(&self) -> bool {
        self.typescript
    }

    /// The source as written (TypeScript or JavaScript), read from disk for
    /// file scripts, and the name errors give it.
    pub(crate) async fn source(&self) -> Result<(Arc<str>, Arc<str>)> {
        let code = match &self.source {
            Source::Code(code) => code.clone(),
            Source::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|source| Error::ReadScript {
                    path: path.clone(),
                    source,
                })?
                .into(),
        };
        Ok((self.display_name(), code))
    }

    /// A classic script read from a file when it runs. Its name defaults to
    /// the file's path.
    pub fn expression_file(path: impl Into<PathBuf>) -> Self {
        Self::new(ScriptKind::Expression, Source::File(path.into()))
    }

    /// An ES module read from a file when it runs. Its name defaults to the
    /// file's path. A `.ts` or `.mts` file is TypeScript (see
    /// [`Script::typescript`]).
    pub fn module_file(path: impl Into<PathBuf>) -> Self {
        Self::new(ScriptKind::Module, Source::File(path.into()))
    }

    /// Makes `value` a global variable `name` of the run. It crosses as
    /// JSON, except its binary parts: a [`Bytes`](bytes::Bytes), a
    /// `serde_bytes` buffer or a non-empty `Vec<u8>` becomes a `Uint8Array`,
    /// sent as raw bytes beside the request (never as base64 or an array
    /// of numbers).
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// use outrigger_host::{Bytes, Script};
    /// let image = Bytes::from(std::fs::read("photo.jpg").unwrap());
    /// let size: u64 = pool
    ///     .run(Script::expression("image.byteLength").global("image", image))
    ///     .await?
    ///     .value_as()?;
    /// # Ok(()) }
    /// ```
    pub fn global(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        let json =
            crate::binary::to_script_into(&value, &mut self.frames).map_err(|e| e.to_string());
        self.globals.push((name.into(), json));
        self
    }

    /// The name stack traces and errors show for this script (the file name
    /// of its frames). Defaults to `script.js` / `module.mjs`, or the path.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into().into());
        self.key = Arc::default();
        self
    }

    /// A timeout for this run, instead of the pool's default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How many callback calls this run may make, instead of the pool's
    /// default (`0`: no limit). The call past the limit ends the run with
    /// [`Error::Limit`].
    pub fn max_callback_calls(mut self, max: u32) -> Self {
        self.max_callbacks = Some(max);
        self
    }

    /// Who decides on this run's calls of callbacks that need approval,
    /// instead of the pool's [`approver`](crate::PoolBuilder::approver).
    /// While a call waits, the run's timeout clock is paused; the time is
    /// reported in [`Output::approval_wait`](crate::Output::approval_wait).
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// use outrigger_host::{Approval, Script};
    /// let out = pool.run(Script::module("export default await host.sendEmail({ to: 'a@b.c' });")
    ///     .approver(|request| async move {
    ///         println!("{} wants {} at {:?}", request.run, request.callback, request.position);
    ///         Approval::Approve
    ///     })).await?;
    /// # Ok(()) }
    /// ```
    pub fn approver<F, Fut>(mut self, decide: F) -> Self
    where
        F: Fn(ApprovalRequest) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Approval> + Send + 'static,
    {
        self.approver = Some(Approver::new(decide));
        self
    }

    /// Marks the run idempotent: if its worker dies under it
    /// ([`Error::WorkerExited`]), [`Pool::run`](crate::Pool::run) runs it again
    /// on another worker, up to `times` more times. Never done by default, as
    /// a script may have had effects (callbacks, fetches) before the crash.
    pub fn retry_on_worker_exit(mut self, times: u32) -> Self {
        self.retries = times;
        self
    }

    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// How the source is evaluated.
    pub fn kind(&self) -> ScriptKind {
        self.kind
    }

    pub(crate) fn timeout_or(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }

    pub(crate) fn display_name(&self) -> Arc<str> {
        match (&self.name, &self.source) {
            (Some(name), _) => name.clone(),
            (None, Source::File(path)) => path.display().to_string().into(),
            (None, Source::Code(_)) => default_name(self.kind, self.typescript),
        }
    }

    /// The source text, read from disk for file scripts (its types erased
    /// when it is TypeScript).
    pub(crate) async fn load(&self) -> Result<LoadedScript> {
        let (name, code) = self.source().await?;
        let code: Arc<str> = if self.typescript {
            crate::strip::strip(&code)
                .map_err(|e| crate::strip::script_error(e, &name))?
                .into()
        } else {
            code
        };
        let (key, file) = match &self.source {
            Source::Code(_) => (
                self.key
                    .get_or_init(|| recent_key(self.kind.as_str(), &name, &code))
                    .clone(),
                None,
            ),
            Source::File(path) => {
                // The worker resolves the file's relative imports against
                // its absolute path, so the path is part of its identity.
                let file = crate::paths::absolute_file(path);
                let key = script_key(self.kind.as_str(), &format!("{name}\0{file}"), &code);
                (key.into(), Some(file))
            }
        };
        let globals = self.globals_json()?.map(Arc::from);
        Ok(LoadedScript {
            frames: self.frames.clone(),
            kind: self.kind,
            name,
            code,
            key,
            file,
            globals,
            max_callbacks: self.max_callbacks,
            approver: self.approver.clone(),
        })
    }

    fn globals_json(&self) -> Result<Option<String>> {
        if self.globals.is_empty() {
            return Ok(None);
        }
        let mut text = String::from("{");
        for (i, (name, value)) in self.globals.iter().enumerate() {
            let value = value.as_ref().map_err(|e| {
                Error::InvalidInput(format!("global `{name}` cannot be turned into JSON: {e}"))
            })?;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&crate::wire::json_string(name));
            text.push(':');
            text.push_str(value);
        }
        text.push('}');
        Ok(Some(text))
    }
}

/// The name of a script given as text without one. Shared: every run
/// carries its name along.
fn default_name(kind: ScriptKind, typescript: bool) -> Arc<str> {
    static DEFAULT: LazyLock<[Arc<str>; 3]> =
        LazyLock::new(|| ["script.js".into(), "module.ts".into(), "module.mjs".into()]);
    match kind {
        ScriptKind::Expression => DEFAULT[0].clone(),
        ScriptKind::Module if typescript => DEFAULT[1].clone(),
        ScriptKind::Module => DEFAULT[2].clone(),
    }
}

/// A script with its source in memory and its cache key computed.
#[derive(Debug, Clone)]
pub(crate) struct LoadedScript {
    pub(crate) kind: ScriptKind,
    pub(crate) name: Arc<str>,
    pub(crate) code: Arc<str>,
    pub(crate) key: Arc<str>,
    /// The absolute path of a script read from a file.
    pub(crate) file: Option<String>,
    pub(crate) globals: Option<Arc<str>>,
    /// The frames of the globals' binary values.
    pub(crate) frames: Vec<bytes::Bytes>,
    pub(crate) max_callbacks: Option<u32>,
    pub(crate) approver: Option<Approver>,
}

impl LoadedScript {
    /// What `eval` sends: an expression with nothing else set, loaded
    /// without waiting, as [`Script::expression`]'s [`Script::load`] would be.
    pub(crate) fn expression(code: &str) -> LoadedScript {
        let name = default_name(ScriptKind::Expression, false);
        LoadedScript {
            key: recent_key(ScriptKind::Expression.as_str(), &name, code),
            kind: ScriptKind::Expression,
            name,
            code: code.into(),
            file: None,
            globals: None,
            frames: Vec::new(),
            max_callbacks: None,
            approver: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn an_eval_sends_what_its_script_would() {
        for code in ["2 + 2", "", "'é'", &"x".repeat(5000)] {
            let loaded = Script::expression(code)
                .load()
                .now_or_never()
                .expect("a script in memory loads without waiting")
                .unwrap();
            let direct = LoadedScript::expression(code);
            assert_eq!(format!("{direct:?}"), format!("{loaded:?}"));
        }
    }
}
