//! Callbacks: async Rust functions that scripts call as
//! `await host.lookupUser({ id: 7 })`.
//!
//! A set of callbacks is a type implementing [`CallbackSet`], normally
//! written by `#[outrigger::callbacks]` on an impl block. The pool keeps a
//! [`Registry`] of every set it was given; a worker's request for a callback
//! is answered by spawning the callback's future, which is dropped when the
//! run that asked for it ends.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::protocol::codes;
use crate::script::Event;
use crate::typescript::{self, CallbackDecl};
use crate::worker::{Reply, Worker};

/// The future a callback handler returns.
pub type CallbackFuture =
    Pin<Box<dyn Future<Output = Result<Box<RawValue>, CallbackError>> + Send + 'static>>;

/// A type-erased callback: raw JSON params in, raw JSON result out.
pub type Handler = Arc<dyn Fn(CallContext, Box<RawValue>) -> CallbackFuture + Send + Sync>;

/// A set of callbacks, as `#[outrigger::callbacks]` writes it.
pub trait CallbackSet: Send + Sync + 'static {
    /// The declarations (names, docs, schemas) of the set; needs no instance,
    /// so build scripts can generate TypeScript without starting anything.
    fn declarations() -> Vec<CallbackDecl>
    where
        Self: Sized;

    /// The handlers, bound to this instance, by wire name (`lookupUser`, or
    /// `kv.get` in a namespace).
    fn handlers(self: Arc<Self>) -> Vec<(String, Handler)>;
}

/// The error a callback returns; it reaches the script as a rejected
/// promise whose `Error` has `code`, `message` and `data`.
///
/// Implement `From<YourError> for CallbackError` to return your own error
/// type from callbacks.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl CallbackError {
    /// An error with the default code ([`codes::CALLBACK_FAILED`]).
    pub fn new(message: impl Into<String>) -> Self {
        CallbackError {
            code: codes::CALLBACK_FAILED,
            message: message.into(),
            data: None,
        }
    }

    /// Sets the JSON-RPC error code the script sees as `error.code`.
    pub fn with_code(mut self, code: i64) -> Self {
        self.code = code;
        self
    }

    /// Attaches data the script sees as `error.data`.
    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).ok();
        self
    }

    /// The error code.
    pub fn code(&self) -> i64 {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The attached data.
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for CallbackError {}

impl From<String> for CallbackError {
    fn from(message: String) -> Self {
        CallbackError::new(message)
    }
}

impl From<&str> for CallbackError {
    fn from(message: &str) -> Self {
        CallbackError::new(message)
    }
}

impl From<std::io::Error> for CallbackError {
    fn from(error: std::io::Error) -> Self {
        CallbackError::new(error.to_string())
    }
}

impl From<serde_json::Error> for CallbackError {
    fn from(error: serde_json::Error) -> Self {
        CallbackError::new(error.to_string())
    }
}

impl From<Error> for CallbackError {
    fn from(error: Error) -> Self {
        CallbackError::new(error.to_string())
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for CallbackError {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        CallbackError::new(error.to_string())
    }
}

/// What a callback knows about its caller: which run and session called it,
/// that run's cancellation, and a way to emit events to the run's stream.
#[derive(Clone)]
pub struct CallContext {
    run: Option<u64>,
    session: Option<u64>,
    callback: Arc<str>,
    cancel: CancellationToken,
    worker: Weak<Worker>,
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallContext")
            .field("run", &self.run)
            .field("session", &self.session)
            .field("callback", &self.callback)
            .field("cancelled", &self.cancel.is_cancelled())
            .finish()
    }
}

impl CallContext {
    pub(crate) fn new(
        run: Option<u64>,
        session: Option<u64>,
        callback: Arc<str>,
        cancel: CancellationToken,
        worker: Weak<Worker>,
    ) -> Self {
        CallContext {
            run,
            session,
            callback,
            cancel,
            worker,
        }
    }

    /// A context that belongs to no run, for calling callbacks directly
    /// (in tests, say).
    pub fn detached(callback: &str) -> Self {
        CallContext::new(
            None,
            None,
            callback.into(),
            CancellationToken::new(),
            Weak::new(),
        )
    }

    /// The id of the run that called (see [`RunHandle::id`](crate::RunHandle::id)).
    pub fn run_id(&self) -> Option<u64> {
        self.run
    }

    /// The session the calling run belongs to, if any.
    pub fn session_id(&self) -> Option<u64> {
        self.session
    }

    /// The wire name of the callback being called (`lookupUser`, `kv.get`).
    pub fn callback(&self) -> &str {
        &self.callback
    }

    /// Whether the calling run has ended (finished, failed, timed out or was
    /// cancelled). The callback's future is dropped then anyway; this is for
    /// work it handed elsewhere.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the calling run ends.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// A token cancelled when the calling run ends, for tasks the callback
    /// spawns.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Sends an event to the calling run's stream, as `host.emit` would.
    pub fn emit(&self, name: &str, data: impl Serialize) -> Result<()> {
        let data = serde_json::to_value(data).map_err(|e| {
            Error::InvalidInput(format!("event data cannot be turned into JSON: {e}"))
        })?;
        if let Some(worker) = self.worker.upgrade() {
            worker.deliver(
                self.run,
                Reply::Event(Event {
                    name: name.to_owned(),
                    data,
                }),
            );
        }
        Ok(())
    }
}

/// Every callback a pool offers, by wire name.
#[derive(Default, Clone)]
pub(crate) struct Registry {
    entries: BTreeMap<String, Entry>,
}

#[derive(Clone)]
struct Entry {
    decl: CallbackDecl,
    handler: Handler,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

/// The wire name of a declaration: `jsName`, or `namespace.jsName`.
pub(crate) fn wire_name(decl: &CallbackDecl) -> String {
    match &decl.namespace {
        Some(namespace) => format!("{namespace}.{}", decl.js_name),
        None => decl.js_name.clone(),
    }
}

impl Registry {
    /// Adds a set; a name that is already taken is an error.
    pub(crate) fn add<S: CallbackSet>(&mut self, set: S) -> Result<(), String> {
        let mut handlers: BTreeMap<String, Handler> =
            Arc::new(set).handlers().into_iter().collect();
        for decl in S::declarations() {
            let name = wire_name(&decl);
            if name == "emit" {
                return Err("a callback cannot be named `emit`: `host.emit` sends events".into());
            }
            if self.entries.contains_key(&name) {
                return Err(format!("two callbacks are named `{name}`"));
            }
            if self
                .entries
                .contains_key(decl.namespace.as_deref().unwrap_or_default())
            {
                return Err(format!(
                    "`{}` is both a callback and a namespace",
                    decl.namespace.unwrap_or_default()
                ));
            }
            if decl.namespace.is_none()
                && self
                    .entries
                    .keys()
                    .any(|k| k.starts_with(&format!("{name}.")))
            {
                return Err(format!("`{name}` is both a callback and a namespace"));
            }
            let handler = handlers
                .remove(&name)
                .ok_or_else(|| format!("callback `{name}` is declared but has no handler"))?;
            self.entries.insert(name, Entry { decl, handler });
        }
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Handler> {
        self.entries.get(name).map(|e| &e.handler)
    }

    /// The names, for an error message.
    pub(crate) fn names(&self) -> String {
        if self.entries.is_empty() {
            "none are registered".into()
        } else {
            self.entries.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// What the worker needs to build `host`: wire names and JS paths.
    pub(crate) fn init_json(&self) -> Value {
        Value::Array(
            self.entries
                .iter()
                .map(|(name, entry)| {
                    let mut path: Vec<&str> =
                        entry.decl.namespace.iter().map(String::as_str).collect();
                    path.push(&entry.decl.js_name);
                    json!({ "name": name, "path": path })
                })
                .collect(),
        )
    }

    pub(crate) fn declarations(&self) -> Vec<CallbackDecl> {
        self.entries.values().map(|e| e.decl.clone()).collect()
    }
}

/// Callback declarations without handlers: TypeScript and LLM tool
/// definitions for a set of callbacks, without starting a pool (for build
/// scripts and code generators).
///
/// ```
/// # use outrigger_host::Declarations;
/// let typescript = Declarations::new().typescript().unwrap();
/// assert!(typescript.contains("declare const host"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    decls: Vec<CallbackDecl>,
}

/// The shape of LLM tool definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolFormat {
    /// `{ "name", "description", "input_schema" }`, as Anthropic's Messages API takes them.
    Anthropic,
    /// `{ "type": "function", "function": { "name", "description", "parameters" } }`, as
    /// OpenAI's Chat Completions API takes them.
    OpenAi,
}

impl Declarations {
    /// No callbacks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the declarations of a set.
    pub fn with<S: CallbackSet>(mut self) -> Self {
        self.decls.extend(S::declarations());
        self
    }

    pub(crate) fn from_decls(decls: Vec<CallbackDecl>) -> Self {
        Declarations { decls }
    }

    /// The declarations.
    pub fn callbacks(&self) -> &[CallbackDecl] {
        &self.decls
    }

    /// The `.d.ts` that declares `host` with every callback.
    pub fn typescript(&self) -> Result<String> {
        typescript::generate(&self.decls)
            .map_err(|e| Error::InvalidInput(format!("cannot generate TypeScript: {e}")))
    }

    /// LLM tool definitions: one per callback, with its description and the
    /// JSON Schema of its params. Tool names use `_` for the namespace dot
    /// (`kv_get`), as function-calling APIs allow only `[a-zA-Z0-9_-]`.
    pub fn tool_definitions(&self, format: ToolFormat) -> Value {
        Value::Array(
            self.decls
                .iter()
                .map(|decl| {
                    let name = wire_name(decl).replace('.', "_");
                    let description = decl.description.clone().unwrap_or_default();
                    let mut schema = decl.params.clone();
                    // Function-calling APIs want `properties`, even empty.
                    if let Some(object) = schema.as_object_mut() {
                        object.entry("properties").or_insert_with(|| json!({}));
                    }
                    match format {
                        ToolFormat::Anthropic => json!({
                            "name": name, "description": description, "input_schema": schema,
                        }),
                        ToolFormat::OpenAi => json!({
                            "type": "function",
                            "function": { "name": name, "description": description, "parameters": schema },
                        }),
                    }
                })
                .collect(),
        )
    }
}

/// Support for code `#[outrigger::callbacks]` generates. Not a public API.
#[doc(hidden)]
pub mod support {
    use super::*;

    /// The JSON Schema of a callback's params or result. One contract for
    /// both (deserialize: an `Option` field may be missing), so a type used on
    /// both sides has one definition.
    pub fn schema<T: schemars::JsonSchema>() -> Value {
        schemars::generate::SchemaSettings::draft2020_12()
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<T>()
            .to_value()
    }

    /// A handler that parses params into `P`, calls `f`, and serializes its result.
    pub fn handler<P, F, Fut, R>(f: F) -> Handler
    where
        P: DeserializeOwned + Send + 'static,
        F: Fn(CallContext, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, CallbackError>> + Send + 'static,
        R: Serialize,
    {
        let f = Arc::new(f);
        Arc::new(move |ctx: CallContext, params: Box<RawValue>| {
            let f = f.clone();
            Box::pin(async move {
                let callback = ctx.callback.clone();
                let params = parse_params::<P>(&callback, &params)?;
                let value = f(ctx, params).await?;
                serde_json::value::to_raw_value(&value).map_err(|e| {
                    CallbackError::new(format!(
                        "the result of `{callback}` cannot be turned into JSON: {e}"
                    ))
                    .with_code(codes::INTERNAL_ERROR)
                })
            }) as CallbackFuture
        })
    }

    fn parse_params<P: DeserializeOwned>(
        callback: &str,
        params: &RawValue,
    ) -> Result<P, CallbackError> {
        let mut deserializer = serde_json::Deserializer::from_str(params.get());
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let reason = error.inner().to_string();
            let reason = reason
                .split(" at line ")
                .next()
                .unwrap_or(&reason)
                .to_owned();
            let message = if path == "." {
                format!("invalid params for `{callback}`: {reason}")
            } else {
                format!("invalid params for `{callback}`: `{path}`: {reason}")
            };
            CallbackError::new(message)
                .with_code(codes::INVALID_PARAMS)
                .with_data(json!({ "callback": callback, "path": path, "reason": reason }))
        })
    }

    /// Turns a callback's `Result<T, E>` into the handler's result.
    pub fn from_result<T, E: Into<CallbackError>>(
        result: Result<T, E>,
    ) -> Result<T, CallbackError> {
        result.map_err(Into::into)
    }

    /// Turns a callback's plain value into the handler's result.
    pub fn from_value<T>(value: T) -> Result<T, CallbackError> {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Params {
        user_id: u64,
        tags: Vec<String>,
    }

    fn params(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    async fn call(text: &str) -> Result<Box<RawValue>, CallbackError> {
        let handler = support::handler(|_ctx, p: Params| async move {
            Ok::<_, CallbackError>(p.user_id + p.tags.len() as u64)
        });
        handler(CallContext::detached("lookupUser"), params(text)).await
    }

    #[tokio::test]
    async fn params_errors_name_the_field_and_the_reason() {
        assert_eq!(
            call(r#"{"userId": 7, "tags": ["a"]}"#).await.unwrap().get(),
            "8"
        );
        let error = call(r#"{"userId": "7", "tags": []}"#).await.unwrap_err();
        assert_eq!(error.code(), codes::INVALID_PARAMS);
        assert!(
            error.message().contains("`userId`") && error.message().contains("expected u64"),
            "{error}"
        );
        let error = call(r#"{"userId": 7, "tags": [1]}"#).await.unwrap_err();
        assert!(error.message().contains("`tags[0]`"), "{error}");
        let error = call(r#"{"tags": []}"#).await.unwrap_err();
        assert!(
            error.message().contains("missing field `userId`"),
            "{error}"
        );
        let error = call(r#"{"userId": 1, "tags": [], "extra": 1}"#)
            .await
            .unwrap_err();
        assert!(error.message().contains("unknown field `extra`"), "{error}");
    }
}
