//! Modules loaded once and called many times from Rust.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::dispatch::Member;
use crate::engine::Worker;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::run::RunHandle;
use crate::runner::Runner;
use crate::script::ScriptKind;
use crate::script_key::script_key;
use crate::wire::methods::{ModuleLoad, ModuleUnload};
use crate::wire::Loaded;

/// A module's source and the handle workers know it by.
#[derive(Debug, Clone)]
pub(crate) struct ModuleSpec {
    pub(crate) handle: u64,
    pub(crate) name: String,
    code: Arc<str>,
    key: String,
    /// The absolute path of a module loaded from a file: what its relative
    /// imports resolve against.
    file: Option<String>,
}

impl ModuleSpec {
    pub(crate) fn new(handle: u64, name: String, code: String, file: Option<String>) -> Self {
        let key = match &file {
            Some(file) => script_key(
                ScriptKind::Module.as_str(),
                &format!("{name}\0{file}"),
                &code,
            ),
            None => script_key(ScriptKind::Module.as_str(), &name, &code),
        };
        ModuleSpec {
            handle,
            name,
            code: code.into(),
            key,
            file,
        }
    }

    /// Loads the module on one worker (into a session's context, or a
    /// context of its own); returns its export names.
    async fn load_on(
        &self,
        worker: &Arc<Worker>,
        session: Option<u64>,
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let request = ModuleLoad {
            handle: self.handle,
            name: &self.name,
            key: &self.key,
            code: &self.code,
            timeout,
            session,
            file: self.file.as_deref(),
        };
        let raw = worker.ask(&request, &self.name, timeout).await?;
        let loaded: Loaded = serde_json::from_str(raw.get())
            .map_err(|e| Error::Protocol(format!("malformed module.load answer: {e}")))?;
        Ok(loaded.exports)
    }
}

/// The modules loaded into every worker of a pool: a worker that starts
/// later loads them too.
#[derive(Debug, Default)]
pub(crate) struct ModuleRegistry {
    modules: Mutex<BTreeMap<u64, ModuleSpec>>,
}

impl ModuleRegistry {
    /// Loads every registered module into a new worker.
    pub(crate) async fn load_all_on(&self, worker: &Arc<Worker>, timeout: Duration) {
        let modules: Vec<ModuleSpec> = self.modules.lock().unwrap().values().cloned().collect();
        for module in modules {
            if let Err(error) = module.load_on(worker, None, timeout).await {
                tracing::error!(pid = worker.pid, module = %module.name, %error, "loading a module into a new worker failed");
            }
        }
    }
}

/// An ES module loaded once (into every worker of a pool, or into a
/// session), whose exported functions Rust calls with JSON arguments.
///
/// ```no_run
/// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
/// let app = pool.load_module("app", r#"
///     export async function work(input) { return { total: input.a + input.b }; }
///     export function format(result) { return `total: ${result.total}`; }
/// "#).await?;
/// let result: serde_json::Value = app.call("work", (serde_json::json!({"a": 1, "b": 2}),)).await?;
/// let text: String = app.call("format", (result,)).await?;
/// assert_eq!(text, "total: 3");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct JsModule {
    inner: Arc<ModuleInner>,
}

#[derive(Debug)]
struct ModuleInner {
    runner: Runner,
    spec: ModuleSpec,
    exports: Vec<String>,
    place: Place,
}

/// Where a module is loaded.
#[derive(Debug)]
enum Place {
    /// Every worker of the pool, now and later.
    Pool(Arc<ModuleRegistry>),
    /// One session's context, on its worker.
    Session(Arc<Member>),
}

impl JsModule {
    /// Loads `spec` into every worker, and into every worker started later.
    pub(crate) async fn load_into_pool(
        runner: Runner,
        registry: Arc<ModuleRegistry>,
        spec: ModuleSpec,
    ) -> Result<JsModule> {
        registry
            .modules
            .lock()
            .unwrap()
            .insert(spec.handle, spec.clone());
        let timeout = runner.defaults.timeout;
        let loads: Vec<_> = runner
            .dispatcher
            .members()
            .into_iter()
            .map(|member| {
                let spec = spec.clone();
                tokio::spawn(async move { spec.load_on(&member.worker, None, timeout).await })
            })
            .collect();
        let mut exports = Vec::new();
        let mut failure = None;
        for load in loads {
            match load.await {
                Ok(Ok(names)) => exports = names,
                Ok(Err(error)) => {
                    failure.get_or_insert(error);
                }
                Err(join) => {
                    failure
                        .get_or_insert(Error::Protocol(format!("module load task failed: {join}")));
                }
            }
        }
        let module = JsModule {
            inner: Arc::new(ModuleInner {
                runner,
                spec,
                exports,
                place: Place::Pool(registry),
            }),
        };
        match failure {
            // Dropping the handle unloads the module everywhere.
            Some(error) => Err(error),
            None => Ok(module),
        }
    }

    /// Loads `spec` into the context of session `session` on `member`.
    pub(crate) async fn load_into_session(
        runner: Runner,
        member: Arc<Member>,
        session: u64,
        spec: ModuleSpec,
    ) -> Result<JsModule> {
        let exports = spec
            .load_on(&member.worker, Some(session), runner.defaults.timeout)
            .await?;
        Ok(JsModule {
            inner: Arc::new(ModuleInner {
                runner,
                spec,
                exports,
                place: Place::Session(member),
            }),
        })
    }

    /// The module's name (used in its stack traces).
    pub fn name(&self) -> &str {
        &self.inner.spec.name
    }

    /// The names the module exports.
    pub fn exports(&self) -> &[String] {
        &self.inner.exports
    }

    /// Calls an exported function and deserializes what it returns (a
    /// promise is awaited). `args` must serialize to a JSON array: use a
    /// tuple (`(a, b)`, `(a,)` for one argument, `()` for none), an array or
    /// a `Vec`.
    pub async fn call<T: DeserializeOwned>(&self, export: &str, args: impl Serialize) -> Result<T> {
        let mut handle = self.start_call(export, args).await?;
        let raw = handle.finish().await?;
        raw.read().map_err(Error::Deserialize)
    }

    /// Calls an exported function and returns its value with the logs and
    /// events of the call.
    pub async fn call_output(&self, export: &str, args: impl Serialize) -> Result<Output> {
        self.start_call(export, args).await?.output().await
    }

    /// Starts a call; its events stream before its result, as for runs.
    pub async fn start_call(&self, export: &str, args: impl Serialize) -> Result<RunHandle> {
        let mut frames = Vec::new();
        let mut json = crate::binary::to_script_into(&args, &mut frames).map_err(|e| {
            Error::InvalidInput(format!(
                "arguments of `{export}` cannot be turned into JSON: {e}"
            ))
        })?;
        if json == "null" {
            // `()`: no arguments.
            json = "[]".into();
        }
        if !json.starts_with('[') {
            let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            return Err(Error::InvalidInput(format!(
                "arguments of `{export}` must serialize to a JSON array (use a tuple such as `(value,)`), got {}",
                if crate::binary::placeholder(&value, &frames).is_some() { "bytes" } else { kind_of(&value) }
            )));
        }
        let inner = &self.inner;
        let (lease, pinned) = match &inner.place {
            Place::Session(member) => (inner.runner.dispatcher.claim(member)?, true),
            Place::Pool(_) => (inner.runner.dispatcher.acquire().await?, false),
        };
        // The arguments follow on an attachment line, as they are.
        Ok(inner.runner.start_call(
            lease,
            inner.spec.handle,
            export,
            (json, frames),
            pinned,
            inner.spec.name.clone(),
        ))
    }
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        let unload = ModuleUnload {
            handle: self.spec.handle,
        };
        match &self.place {
            Place::Session(member) => member.worker.notify(&unload),
            Place::Pool(registry) => {
                registry.modules.lock().unwrap().remove(&self.spec.handle);
                for member in self.runner.dispatcher.members() {
                    member.worker.notify(&unload);
                }
            }
        }
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
