//! What the registered callbacks' declarations turn into besides JS
//! callables: the TypeScript that declares `host`, and LLM tool definitions.

use serde_json::{json, Value};

use crate::callbacks::{wire_name, CallbackDecl, CallbackSet};
use crate::discovery::{self, ToolDescription, ToolSummary};
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

    /// The `.d.ts` that declares `host` with every callback, and with
    /// `host.$tools` (tool discovery), which every pool's scripts have.
    pub fn typescript(&self) -> Result<String> {
        let mut decls = self.decls.clone();
        if !decls.iter().any(discovery::is_builtin) {
            decls.extend(discovery::builtin_decls());
        }
        typescript::generate(&decls)
            .map_err(|e| Error::InvalidInput(format!("cannot generate TypeScript: {e}")))
    }

    /// A compact index of the tools, a line each: `name: summary` (the first
    /// sentence of its doc), for a prompt that cannot hold every
    /// declaration. Scripts find the same in `host.$tools.search(query)`.
    ///
    /// ```
    /// # use outrigger_host::Declarations;
    /// assert_eq!(Declarations::new().index(), "");
    /// ```
    pub fn index(&self) -> String {
        self.tools()
            .map(|decl| format!("{}: {}\n", wire_name(decl), discovery::summary_of(decl)))
            .collect()
    }

    /// The declarations of the tools named (`sendEmail`, `mail.send`) alone,
    /// e.g. for their [`typescript`](Self::typescript) in a prompt; a name no
    /// tool has is an [`Error::NotFound`] listing those that exist.
    pub fn only(&self, names: &[&str]) -> Result<Declarations> {
        let mut decls = Vec::with_capacity(names.len());
        for name in names {
            let decl = self
                .tools()
                .find(|decl| wire_name(decl) == *name)
                .ok_or_else(|| {
                    let known: Vec<String> = self.tools().map(wire_name).collect();
                    Error::NotFound(format!(
                        "no tool named `{name}` (tools: {})",
                        known.join(", ")
                    ))
                })?;
            decls.push(decl.clone());
        }
        Ok(Declarations { decls })
    }

    /// The tools that best match `query` (words of their names count more
    /// than words of their docs), best first, at most `limit`: what
    /// `host.$tools.search(query)` answers in scripts.
    pub fn search(&self, query: &str, limit: usize) -> Vec<ToolSummary> {
        discovery::search(&self.decls, query, limit)
    }

    /// Everything about the tool `name` (doc, TypeScript, whether it needs
    /// approval), or `None`: what `host.$tools.describe(name)` answers.
    pub fn describe(&self, name: &str) -> Option<ToolDescription> {
        discovery::describe(&self.decls, name)
    }

    /// The declarations that are tools of the user's (not the discovery
    /// callbacks themselves).
    fn tools(&self) -> impl Iterator<Item = &CallbackDecl> {
        self.decls
            .iter()
            .filter(|decl| !discovery::is_builtin(decl))
    }

    /// LLM tool definitions: one per callback, with its description and the
    /// JSON Schema of its params. Tool names use `_` for the namespace dot
    /// (`kv_get`), as function-calling APIs allow only `[a-zA-Z0-9_-]`.
    pub fn tool_definitions(&self, format: ToolFormat) -> Value {
        Value::Array(
            self.tools()
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
