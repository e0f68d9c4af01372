//! Tool discovery, for pools with more tools than a prompt holds: a compact
//! index (a line per tool), the declarations of a chosen few, and, inside
//! scripts, `host.$tools.search(query)` and `host.$tools.describe(name)`
//! answered by the host from the same registry.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::callbacks::{wire_name, CallContext, CallbackDecl, CallbackError, Handler};
use crate::typescript;

/// The namespace of the discovery callbacks in scripts: `host.$tools`.
pub(crate) const NAMESPACE: &str = "$tools";

/// Whether `decl` is one of the discovery callbacks themselves.
pub(crate) fn is_builtin(decl: &CallbackDecl) -> bool {
    decl.namespace.as_deref() == Some(NAMESPACE)
}

/// One line of the index: a tool's name and the first sentence of its doc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ToolSummary {
    /// The tool's name as scripts call it under `host` (`sendEmail`, `mail.send`).
    pub name: String,
    /// The first sentence of its description.
    pub summary: String,
}

/// Everything about one tool: its doc, its TypeScript, whether it needs approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolDescription {
    /// The tool's name as scripts call it under `host`.
    pub name: String,
    /// Its whole description.
    pub description: String,
    /// The declaration of `host` with this tool alone, and the types it uses.
    pub typescript: String,
    /// Whether each call waits for an approver's decision.
    pub approval: bool,
}

/// The first sentence (or line) of a description.
pub(crate) fn summary_of(decl: &CallbackDecl) -> String {
    let text = decl.description.as_deref().unwrap_or_default().trim();
    let line = text.lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(end) => line[..=end].to_owned(),
        None => line.to_owned(),
    }
}

/// The words of a name or a text, lowercased: `lookupUser` → `lookup`, `user`.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_numeric();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// How well `decl` answers `query`: words of the name count thrice those
/// of the description; a word that starts another counts half.
fn score(decl: &CallbackDecl, query: &[String]) -> f64 {
    let name = words(&wire_name(decl));
    let description = words(decl.description.as_deref().unwrap_or_default());
    let matches = |pool: &[String], word: &String| {
        if pool.contains(word) {
            1.0
        } else if word.len() >= 3
            && pool.iter().any(|w| {
                w.starts_with(word.as_str()) || word.starts_with(w.as_str()) && w.len() >= 3
            })
        {
            0.5
        } else {
            0.0
        }
    };
    query
        .iter()
        .map(|word| 3.0 * matches(&name, word) + matches(&description, word))
        .sum()
}

/// The tools that best answer `query`, best first, at most `limit`.
pub(crate) fn search(decls: &[CallbackDecl], query: &str, limit: usize) -> Vec<ToolSummary> {
    let query = words(query);
    let mut scored: Vec<(f64, &CallbackDecl)> = decls
        .iter()
        .filter(|decl| !is_builtin(decl))
        .map(|decl| (score(decl, &query), decl))
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| wire_name(a.1).cmp(&wire_name(b.1)))
    });
    scored
        .into_iter()
        .take(limit)
        .map(|(_, decl)| ToolSummary {
            name: wire_name(decl),
            summary: summary_of(decl),
        })
        .collect()
}

/// Everything about the tool `name`, or `None`.
pub(crate) fn describe(decls: &[CallbackDecl], name: &str) -> Option<ToolDescription> {
    let decl = decls
        .iter()
        .find(|decl| !is_builtin(decl) && wire_name(decl) == name)?;
    Some(ToolDescription {
        name: name.to_owned(),
        description: decl.description.clone().unwrap_or_default(),
        typescript: typescript::generate(std::slice::from_ref(decl)).unwrap_or_default(),
        approval: decl.approval,
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum SearchParams {
    /// The query alone.
    Query(String),
    /// The query, and how many tools to give at most (default 10).
    Options { query: String, limit: Option<usize> },
}

/// The discovery callbacks, `host.$tools.search` and `host.$tools.describe`,
/// answering from `decls` (the pool's other callbacks).
pub(crate) fn builtins(decls: Arc<Vec<CallbackDecl>>) -> Vec<(CallbackDecl, Handler)> {
    let search_decls = decls.clone();
    let search_handler: Handler = Arc::new(move |_ctx: CallContext, params: Box<RawValue>| {
        let decls = search_decls.clone();
        Box::pin(async move {
            let params: SearchParams = serde_json::from_str(params.get()).map_err(|e| {
                CallbackError::new(format!(
                    "$tools.search(query): the query must be a string: {e}"
                ))
            })?;
            let (query, limit) = match params {
                SearchParams::Query(query) => (query, 10),
                SearchParams::Options { query, limit } => (query, limit.unwrap_or(10)),
            };
            let found = search(&decls, &query, limit);
            Ok(
                RawValue::from_string(serde_json::to_string(&found).expect("summaries serialize"))
                    .expect("valid JSON"),
            )
        })
    });
    let describe_handler: Handler = Arc::new(move |_ctx: CallContext, params: Box<RawValue>| {
        let decls = decls.clone();
        Box::pin(async move {
            let name: String = serde_json::from_str(params.get()).map_err(|e| {
                CallbackError::new(format!(
                    "$tools.describe(name): the name must be a string: {e}"
                ))
            })?;
            let found = describe(&decls, &name);
            Ok(RawValue::from_string(
                serde_json::to_string(&found).expect("descriptions serialize"),
            )
            .expect("valid JSON"))
        })
    });
    let mut decls = builtin_decls().into_iter();
    vec![
        (decls.next().expect("search"), search_handler),
        (decls.next().expect("describe"), describe_handler),
    ]
}

/// The declarations of the discovery callbacks: `search`, then `describe`.
pub(crate) fn builtin_decls() -> Vec<CallbackDecl> {
    let decl = |js_name: &str, description: &str, params: Value, result: Value| CallbackDecl {
        js_name: js_name.into(),
        namespace: Some(NAMESPACE.into()),
        description: Some(description.into()),
        params,
        result,
        approval: false,
    };
    vec![
        decl(
            "search",
            "Finds the tools (other members of `host`) that best match a query, best first: their names and summaries. Pass the query, or { query, limit } (default 10).",
            crate::callbacks::support::schema::<SearchParams>(),
            crate::callbacks::support::schema::<Vec<ToolSummary>>(),
        ),
        decl(
            "describe",
            "Describes one tool by name: its documentation, its TypeScript declaration and whether calls need approval; null when there is no such tool.",
            crate::callbacks::support::schema::<String>(),
            crate::callbacks::support::schema::<Option<ToolDescription>>(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, namespace: Option<&str>, doc: &str) -> CallbackDecl {
        CallbackDecl {
            js_name: name.into(),
            namespace: namespace.map(Into::into),
            description: Some(doc.into()),
            params: json!({"type": "object", "properties": {}}),
            result: json!({"type": "string"}),
            approval: false,
        }
    }

    #[test]
    fn search_ranks_names_over_descriptions() {
        let decls = vec![
            tool(
                "sendEmail",
                None,
                "Sends an email to a person. Needs approval.",
            ),
            tool(
                "listInvoices",
                None,
                "Lists the invoices sent by email last month.",
            ),
            tool("get", Some("kv"), "Reads a value."),
        ];
        let found = search(&decls, "send email", 10);
        assert_eq!(found[0].name, "sendEmail");
        assert_eq!(found[0].summary, "Sends an email to a person.");
        assert_eq!(found[1].name, "listInvoices");
        assert_eq!(search(&decls, "kv value", 10)[0].name, "kv.get");
        assert!(search(&decls, "weather", 10).is_empty());
        assert_eq!(words("lookupUserByID2"), ["lookup", "user", "by", "id2"]);
    }
}
