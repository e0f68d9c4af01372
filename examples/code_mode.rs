//! Code mode, end to end, with a scripted model (no network): the model is
//! given a compact index of the tools and the TypeScript of the few it
//! picks, writes a script in TypeScript, gets the type checker's
//! diagnostics back, fixes the script, and the fixed script runs: with an
//! approval for the call that changes something, a time and tool-call
//! budget, and its output rendered within a byte budget for the model.
//!
//! Run it with `cargo run --example code_mode` (type checks need the
//! TypeScript compiler: `npm ci --prefix js-client`, which
//! `scripts/test.sh` does, or `npm install --save-dev typescript` in a
//! project).

use std::path::PathBuf;
use std::time::Duration;

use outrigger::{Approval, CallbackError, Error, Pool, Script};
use serde::Serialize;
use serde_json::{json, Value};

/// The tools of a small CRM.
struct Crm;

#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Customer {
    id: u32,
    name: String,
    overdue_cents: u64,
}

#[outrigger::callbacks]
impl Crm {
    /// Finds customers whose name contains a text.
    async fn find_customers(&self, name: String) -> Vec<Customer> {
        vec![
            Customer {
                id: 1,
                name: format!("{name} Ltd"),
                overdue_cents: 12_500,
            },
            Customer {
                id: 2,
                name: format!("{name} & Sons"),
                overdue_cents: 0,
            },
        ]
    }

    /// Sends a payment reminder to a customer. Needs a person's approval.
    #[outrigger(approval)]
    async fn send_reminder(
        &self,
        customer_id: u32,
        message: String,
    ) -> Result<String, CallbackError> {
        Ok(format!(
            "reminder sent to customer {customer_id}: {message}"
        ))
    }
}

/// A model that writes code in turns: first with a mistake, then fixed.
struct ScriptedModel {
    turn: usize,
}

impl ScriptedModel {
    /// What the model answers to a prompt (the index, the declarations,
    /// then the checker's diagnostics).
    fn write(&mut self, prompt: &str) -> String {
        self.turn += 1;
        println!("--- prompt to the model, turn {} ---\n{prompt}", self.turn);
        let script = if self.turn == 1 {
            // Misremembers the field's name.
            "const found = await host.findCustomers({ name: 'Acme' });\nconst overdue = found.filter((c) => c.overdue > 0);\nfor (const c of overdue) {\n  await host.sendReminder({ customerId: c.id, message: 'Your invoice is overdue.' });\n}\nexport default { reminded: overdue.map((c) => c.name) };"
        } else {
            "const found = await host.findCustomers({ name: 'Acme' });\nconst overdue = found.filter((c) => c.overdueCents > 0);\nfor (const c of overdue) {\n  await host.sendReminder({ customerId: c.id, message: 'Your invoice is overdue.' });\n}\nconst rate = await host.fx.rate({ from: 'USD', to: 'EUR' });\nexport default { reminded: overdue.map((c) => c.name), totalEur: overdue.reduce((s, c) => s + c.overdueCents, 0) * rate.value / 100 };"
        };
        println!("--- the model writes ---\n{script}");
        script.to_owned()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let compiler =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js-client/node_modules/typescript");
    let pool = Pool::builder()
        .workers(1)
        .callbacks(Crm)
        // A tool known only at run time, from its JSON Schemas.
        .tool(
            "fx.rate",
            "The exchange rate between two currencies.",
            json!({ "type": "object", "properties": { "from": { "type": "string" }, "to": { "type": "string" } }, "required": ["from", "to"] }),
            json!({ "type": "object", "properties": { "value": { "type": "number" } }, "required": ["value"] }),
            |_: Value| async { Ok(json!({ "value": 0.92 })) },
        )
        .approver(|request| async move {
            // A person would look at this; the example approves.
            println!("approval asked: {} {} at line {:?}", request.callback, request.params, request.position.map(|p| p.line));
            Approval::Approve
        })
        .typescript_compiler(compiler)
        .build()
        .await?;

    // The prompt: a line per tool, and the declarations of the chosen few.
    let index = pool.declarations().index();
    let chosen = pool
        .declarations()
        .only(&["findCustomers", "sendReminder", "fx.rate"])?
        .typescript()?;
    let mut model = ScriptedModel { turn: 0 };
    let mut prompt = format!(
        "Tools:\n{index}\nTheir declarations:\n{chosen}\nRemind the overdue customers of Acme."
    );
    let script = loop {
        let code = model.write(&prompt);
        let script = Script::typescript(code).name("task.ts");
        let diagnostics = pool.check(&script).await?;
        if diagnostics.is_empty() {
            break script;
        }
        // The diagnostics go back to the model as tsc prints them.
        prompt = diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(prompt.contains("task.ts(2,39): error TS2339"), "{prompt}");
    };

    // The fixed script runs within a budget.
    let output = pool
        .run(
            script
                .timeout(Duration::from_secs(10))
                .max_callback_calls(20),
        )
        .await?;
    let rendered = output.for_model(600);
    println!("--- back to the model ---\n{rendered}");
    assert_eq!(output.value["reminded"], json!(["Acme Ltd"]));
    assert_eq!(output.value["totalEur"].as_f64(), Some(115.0));
    assert!(rendered.len() <= 600);

    // A run that breaks its tool-call budget stops, saying so.
    let error = pool
        .run(
            Script::typescript(
                "for (let i = 0; i < 50; i++) await host.findCustomers({ name: 'x' });",
            )
            .max_callback_calls(5),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Limit(_)), "{error:?}");
    pool.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The example is a test too: the whole loop, with real type checks.
    #[test]
    fn the_code_mode_loop_runs() {
        super::main().expect("the code mode example runs");
    }
}
