//! The callback model: one callback as declared (its names, doc and the
//! JSON Schemas of its params and result). Every output is made from it:
//! the JS callables, TypeScript, LLM tool definitions.

use serde_json::Value;

/// One callback's declaration.
#[derive(Debug, Clone)]
pub struct CallbackDecl {
    /// Name as called from JavaScript, in camelCase, e.g. `"lookupUser"`.
    pub js_name: String,
    /// Optional namespace: `Some("kv")` makes the callback `host.kv.<js_name>(...)`.
    pub namespace: Option<String>,
    /// Documentation of the callback; becomes its JSDoc comment.
    pub description: Option<String>,
    /// JSON Schema (schemars 1.x, draft 2020-12) of the params object, including its `$defs`.
    pub params: Value,
    /// JSON Schema of the result value, including its `$defs`.
    pub result: Value,
    /// Whether each call waits for a decision of the pool's (or the run's)
    /// approver before it runs (`#[outrigger(approval)]`).
    pub approval: bool,
}

/// The wire name of a declaration: `jsName`, or `namespace.jsName`.
pub(crate) fn wire_name(decl: &CallbackDecl) -> String {
    match &decl.namespace {
        Some(namespace) => format!("{namespace}.{}", decl.js_name),
        None => decl.js_name.clone(),
    }
}
