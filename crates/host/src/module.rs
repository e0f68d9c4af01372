//! Modules loaded once and called many times from Rust.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::protocol::json_string;
use crate::run::RunHandle;
use crate::script::{script_key, Output, ScriptKind};
use crate::worker::Worker;

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

#[derive(Deserialize)]
struct Loaded {
    exports: Vec<String>,
}

impl ModuleSpec {
    fn new(handle: u64, name: String, code: String, file: Option<String>) -> Self {
        let key = match &file {
            Some(file) => script_key(ScriptKind::Module, &format!("{name}\0{file}"), &code),
            None => script_key(ScriptKind::Module, &name, &code),
        };
        ModuleSpec {
            handle,
            name,
            code: code.into(),
            key,
            file,
        }
    }

    fn params(&self, session: Option<u64>, timeout: Duration) -> String {
        let session = session.map_or_else(String::new, |s| format!(r#","session":{s}"#));
        let file = self
            .file
            .as_ref()
            .map_or_else(String::new, |f| format!(r#","file":{}"#, json_string(f)));
        format!(
            r#"{{"handle":{},"name":{},"key":"{}","code":{},"timeout":{}{session}{file}}}"#,
            self.handle,
            json_string(&self.name),
            self.key,
            json_string(&self.code),
            timeout.as_millis()
        )
    }

    /// Loads the module on one worker; returns its export names.
    pub(crate) async fn load_on(
        &self,
        worker: &Arc<Worker>,
        timeout: Duration,
    ) -> Result<Vec<String>> {
        self.load_with(worker, None, timeout).await
    }

    async fn load_with(
        &self,
        worker: &Arc<Worker>,
        session: Option<u64>,
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let raw = worker
            .request_value(
                "module.load",
                &self.params(session, timeout),
                &self.name,
                timeout,
            )
            .await?;
        let loaded: Loaded = serde_json::from_str(raw.get())
            .map_err(|e| Error::Protocol(format!("malformed module.load answer: {e}")))?;
        Ok(loaded.exports)
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
    pool: Pool,
    spec: ModuleSpec,
    exports: Vec<String>,
    /// The worker and session for a module loaded into a session.
    session: Option<(Arc<Worker>, u64)>,
}

impl JsModule {
    pub(crate) async fn load_into_pool(
        pool: Pool,
        name: String,
        code: String,
        file: Option<String>,
    ) -> Result<JsModule> {
        let handle = pool
            .inner
            .ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let spec = ModuleSpec::new(handle, name, code, file);
        pool.inner
            .modules
            .lock()
            .unwrap()
            .insert(handle, spec.clone());
        let timeout = pool.inner.timeout;
        let loads: Vec<_> = pool
            .inner
            .live_workers()
            .into_iter()
            .map(|worker| {
                let spec = spec.clone();
                tokio::spawn(async move { spec.load_on(&worker, timeout).await })
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
                pool,
                spec,
                exports,
                session: None,
            }),
        };
        match failure {
            // Dropping the handle unloads the module everywhere.
            Some(error) => Err(error),
            None => Ok(module),
        }
    }

    pub(crate) async fn load_into_session(
        pool: Pool,
        worker: Arc<Worker>,
        session: u64,
        name: String,
        code: String,
        file: Option<String>,
    ) -> Result<JsModule> {
        let handle = pool
            .inner
            .ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let spec = ModuleSpec::new(handle, name, code, file);
        let exports = spec
            .load_with(&worker, Some(session), pool.inner.timeout)
            .await?;
        Ok(JsModule {
            inner: Arc::new(ModuleInner {
                pool,
                spec,
                exports,
                session: Some((worker, session)),
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
        serde_json::from_str(raw.get()).map_err(Error::Deserialize)
    }

    /// Calls an exported function and returns its value with the logs and
    /// events of the call.
    pub async fn call_output(&self, export: &str, args: impl Serialize) -> Result<Output> {
        self.start_call(export, args).await?.output().await
    }

    /// Starts a call; its events stream before its result, as for runs.
    pub async fn start_call(&self, export: &str, args: impl Serialize) -> Result<RunHandle> {
        let mut args = serde_json::to_value(&args).map_err(|e| {
            Error::InvalidInput(format!(
                "arguments of `{export}` cannot be turned into JSON: {e}"
            ))
        })?;
        if args.is_null() {
            // `()`: no arguments.
            args = serde_json::Value::Array(Vec::new());
        }
        if !args.is_array() {
            return Err(Error::InvalidInput(format!(
                "arguments of `{export}` must serialize to a JSON array (use a tuple such as `(value,)`), got {}",
                kind_of(&args)
            )));
        }
        let inner = &self.inner;
        let timeout = inner.pool.inner.timeout;
        // The arguments follow on an attachment line, as they are.
        let args = args.to_string();
        let params = format!(
            r#"{{"handle":{},"export":{},"attachment":"args","timeout":{},"maxCallbacks":{}}}"#,
            inner.spec.handle,
            json_string(export),
            timeout.as_millis(),
            inner.pool.inner.max_callback_calls
        );
        let slot = match &inner.session {
            Some((worker, _)) => inner.pool.inner.claim(worker)?,
            None => inner.pool.inner.acquire().await?,
        };
        Ok(inner.pool.inner.launch_request(
            slot,
            "call",
            &params,
            Some(&args),
            inner.spec.name.clone(),
            timeout,
            None,
        ))
    }
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        let params = format!(r#"{{"handle":{}}}"#, self.spec.handle);
        match &self.session {
            Some((worker, _)) => worker.notify("module.unload", &params),
            None => {
                self.pool
                    .inner
                    .modules
                    .lock()
                    .unwrap()
                    .remove(&self.spec.handle);
                for worker in self.pool.inner.live_workers() {
                    worker.notify("module.unload", &params);
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
