//! What the registered callbacks' declarations turn into besides JS
//! callables: the TypeScript that declares `host`, and LLM tool definitions.

use serde_json::{json, Value};

use crate::callbacks::{wire_name, CallbackDecl, CallbackSet};
use crate::error::{Error, Result};
use crate::typescript;

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
