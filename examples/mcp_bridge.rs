//! The tools of an MCP server, bridged into a pool: the example starts a
//! local MCP server on stdio (`examples/mcp/server.mjs`, written with the
//! official TypeScript SDK), connects with the official Rust SDK (`rmcp`),
//! and registers each tool it lists with `PoolBuilder::tool`, its JSON
//! Schemas as they come. Scripts then call them as `host.notes.<tool>()`,
//! checked against their schemas before the server sees them; one needs
//! approval.
//!
//! Run it with `npm ci --prefix examples/mcp && cargo run --example mcp_bridge`.
//! (`scripts/test.sh` installs the server's packages.)

use std::sync::Arc;

use outrigger::{Approval, CallbackError, Pool, Script};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};

/// What a script writes against the bridged tools.
const SCRIPT: &str = r#"
await host.notes.add_note({ title: 'groceries', text: 'milk and eggs' });
await host.notes.add_note({ title: 'todo', text: 'buy milk, call Ada' });
const { titles } = await host.notes.search_notes({ word: 'milk' });
const words = await host.notes.word_count({ text: 'one two three' });
let refused;
try { await host.notes.add_note({ title: '', text: 'no title' }); } catch (e) { refused = e.message; }
export default { titles, words, refused };
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mcp/server.mjs");
    let mut command = tokio::process::Command::new("node");
    command.arg(server);
    let client = Arc::new(().serve(TokioChildProcess::new(command)?).await?);
    let tools = client.list_all_tools().await?;
    println!("the server offers {} tools", tools.len());

    let mut builder = Pool::builder()
        .workers(1)
        // Saving a note is a change: a person approves it.
        .require_approval("notes.add_note")
        .approver(|request| async move {
            println!(
                "approve {} {} (line {:?})?",
                request.callback,
                request.params,
                request.position.map(|p| p.line)
            );
            Approval::Approve
        });
    for tool in tools {
        let name = tool.name.to_string();
        let description = tool.description.as_deref().unwrap_or_default().to_owned();
        let input = Value::Object((*tool.input_schema).clone());
        let output = tool
            .output_schema
            .as_ref()
            .map_or_else(|| json!({}), |schema| Value::Object((**schema).clone()));
        let client = client.clone();
        builder = builder.tool(
            format!("notes.{name}"),
            description,
            input,
            output,
            move |params: Value| {
                let client = client.clone();
                let name = name.clone();
                async move {
                    let mut call = CallToolRequestParams::new(name.clone());
                    call.arguments = params.as_object().cloned();
                    let result = client.call_tool(call).await.map_err(|e| {
                        CallbackError::new(format!("the MCP server failed `{name}`: {e}"))
                    })?;
                    let text: String = result
                        .content
                        .iter()
                        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
                        .collect();
                    if result.is_error == Some(true) {
                        return Err(CallbackError::new(text));
                    }
                    // Structured output when the tool gives it, else its text (JSON if it is).
                    Ok(result.structured_content.unwrap_or_else(|| {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    }))
                }
            },
        );
    }
    let pool = builder.build().await?;
    println!("{}", pool.declarations().index());

    let out = pool.run(Script::module(SCRIPT)).await?;
    println!("{}", out.for_model(1000));
    assert_eq!(out.value["titles"], json!(["groceries", "todo"]));
    assert_eq!(out.value["words"], json!(3));
    // The empty title broke the tool's own schema: refused before the server saw it.
    let refused = out.value["refused"].as_str().unwrap_or_default();
    assert!(
        refused.contains("invalid params for `notes.add_note`: `title`"),
        "{refused}"
    );
    pool.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The example is a test too: a real MCP server, bridged, called from a script.
    #[test]
    fn bridges_an_mcp_server() {
        super::main().expect("the MCP bridge example runs");
    }
}
