//! Agent tool execution: tools defined in Rust, an LLM given their TypeScript
//! API, and the script it writes run under a timeout and a cap on tool calls.
//!
//! Run it with `cargo run --example agent_tools`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use outrigger::{CallContext, CallbackError, Pool, Script, ToolFormat};
use serde::{Deserialize, Serialize};

/// A document in the knowledge base.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
struct Doc {
    /// Stable id of the document.
    id: String,
    /// Its title.
    title: String,
    /// How well it matches the query, from 0 to 1.
    score: f64,
}

/// Current conditions in a city.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
struct Weather {
    city: String,
    celsius: f64,
    sky: Sky,
}

/// What the sky looks like.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Sky {
    Clear,
    Cloudy,
    Rain,
}

/// The agent's tools. A real service would hold clients and credentials here.
struct AgentTools {
    docs: Vec<(&'static str, &'static str)>,
    weather: BTreeMap<&'static str, (f64, Sky)>,
    calls: AtomicUsize,
}

#[outrigger::callbacks]
impl AgentTools {
    /// Search the knowledge base; returns the best matches first.
    async fn search_docs(&self, query: String, limit: Option<u32>) -> Vec<Doc> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await; // a remote index
        let words: Vec<String> = query
            .to_lowercase()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut hits: Vec<Doc> = self
            .docs
            .iter()
            .map(|(id, title)| {
                let lower = title.to_lowercase();
                let matched = words.iter().filter(|w| lower.contains(w.as_str())).count();
                Doc {
                    id: (*id).into(),
                    title: (*title).into(),
                    score: matched as f64 / words.len().max(1) as f64,
                }
            })
            .filter(|d| d.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit.unwrap_or(3) as usize);
        hits
    }

    /// Current weather for a city.
    async fn get_weather(&self, ctx: CallContext, city: String) -> Result<Weather, CallbackError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        ctx.emit(
            "tool",
            serde_json::json!({ "name": "getWeather", "city": city }),
        )
        .map_err(|e| CallbackError::new(e.to_string()))?;
        tokio::time::sleep(Duration::from_millis(30)).await; // a weather API
        let (celsius, sky) =
            self.weather.get(city.as_str()).cloned().ok_or_else(|| {
                CallbackError::new(format!("unknown city {city:?}")).with_code(404)
            })?;
        Ok(Weather { city, celsius, sky })
    }
}

/// What an LLM might write, given the TypeScript API printed below.
const LLM_SCRIPT: &str = r#"
const docs = await host.searchDocs({ query: "packing list rain", limit: 2 });
console.log("found", docs.map((d) => d.title));

// Independent lookups run concurrently.
const cities = ["Lisbon", "Oslo", "Atlantis"];
const reports = await Promise.allSettled(cities.map((city) => host.getWeather({ city })));
const weather = reports.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
for (const r of reports) if (r.status === "rejected") console.warn("skipped:", r.reason.message);

const rainy = weather.filter((w) => w.sky === "rain").map((w) => w.city);
export default {
  answer: rainy.length
    ? `Pack a raincoat for ${rainy.join(" and ")}; see "${docs[0]?.title}".`
    : "No rain expected.",
  sources: docs.map((d) => d.id),
};
"#;

fn tools() -> AgentTools {
    AgentTools {
        docs: vec![
            ("doc-1", "Packing list for rain and wind"),
            ("doc-2", "City guide: Lisbon"),
            ("doc-3", "What to do when it rains in Oslo"),
        ],
        weather: BTreeMap::from([("Lisbon", (21.0, Sky::Clear)), ("Oslo", (6.5, Sky::Rain))]),
        calls: AtomicUsize::new(0),
    }
}

async fn run() -> outrigger::Result<serde_json::Value> {
    let pool = Pool::builder()
        .workers(1)
        .callbacks(tools())
        .build()
        .await?;

    println!("// The API the LLM is given:\n{}", pool.typescript());
    println!(
        "// The same tools for function calling:\n{}\n",
        serde_json::to_string_pretty(&pool.tool_definitions(ToolFormat::Anthropic)).unwrap()
    );

    let mut run = pool
        .start(
            Script::module(LLM_SCRIPT)
                .name("agent-step.mjs")
                .timeout(Duration::from_secs(5))
                .max_callback_calls(10),
        )
        .await?;
    while let Some(event) = run.next_event().await {
        println!("event: {} {}", event.name, event.data);
    }
    let output = run.output().await?;
    for log in &output.logs {
        println!("{log}");
    }
    println!("answer: {}", output.value["answer"]);

    // The cap on tool calls holds whatever the script does.
    let runaway = pool
        .run(
            Script::module("while (true) await host.searchDocs({ query: 'again' });")
                .max_callback_calls(10),
        )
        .await
        .unwrap_err();
    println!("a runaway script: {runaway}");
    assert!(matches!(runaway, outrigger::Error::Limit(_)));
    Ok(output.value)
}

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    run().await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_agent_step_answers() {
        let value = super::run().await.expect("the example runs");
        assert_eq!(
            value,
            serde_json::json!({
                "answer": "Pack a raincoat for Oslo; see \"Packing list for rain and wind\".",
                "sources": ["doc-1", "doc-3"],
            })
        );
    }
}
