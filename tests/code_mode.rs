//! What an agent's "code mode" needs beyond running code: discovering tools
//! among many, tools known only at run time, output within a budget for the
//! model, runs that outlive a turn, and errors that say where the script
//! went wrong.

mod common;

use std::time::Duration;

use outrigger::{Approval, CallbackError, Error, Script, ToolFormat};
use serde_json::{json, Value};

#[derive(Default)]
struct Crm;

#[outrigger::callbacks]
impl Crm {
    /// Finds customers by name. Returns at most 20.
    async fn find_customers(&self, name: String) -> Vec<String> {
        vec![format!("{name} Ltd"), format!("{name} & Sons")]
    }

    /// Sends an email to a customer.
    async fn send_email(&self, to: String) -> String {
        format!("sent to {to}")
    }

    /// Lists the open invoices of a customer.
    async fn open_invoices(&self, customer: String) -> Vec<u32> {
        let _ = customer;
        vec![101, 102]
    }
}

fn weather_schema() -> (Value, Value) {
    (
        json!({
            "type": "object",
            "properties": { "city": { "type": "string", "minLength": 2 }, "days": { "type": "integer", "minimum": 1, "maximum": 7 } },
            "required": ["city"],
            "additionalProperties": false
        }),
        json!({ "type": "object", "properties": { "celsius": { "type": "number" } }, "required": ["celsius"] }),
    )
}

async fn pool() -> outrigger::Pool {
    let (input, output) = weather_schema();
    common::builder()
        .callbacks(Crm)
        .tool(
            "weather.today",
            "Today's weather in a city, in degrees Celsius.",
            input,
            output,
            |params: Value| async move {
                if params["city"] == "Atlantis" {
                    return Ok(json!({ "city": "Atlantis" }));
                }
                Ok(json!({ "celsius": 21.5, "city": params["city"] }))
            },
        )
        .tool(
            "payments.refund",
            "Refunds an invoice.",
            json!({ "type": "object", "properties": { "invoice": { "type": "integer" } }, "required": ["invoice"] }),
            json!({ "type": "string" }),
            |params: Value| async move { Ok(json!(format!("refunded {}", params["invoice"]))) },
        )
        .require_approval("payments.refund")
        .approver(|request| async move {
            if request.params["invoice"] == 101 {
                Approval::Approve
            } else {
                Approval::Deny("only invoice 101".into())
            }
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_prompt_gets_an_index_and_the_declarations_of_a_chosen_few() {
    let pool = pool().await;
    let index = pool.declarations().index();
    assert!(
        index.contains("findCustomers: Finds customers by name.\n"),
        "{index}"
    );
    assert!(
        index.contains("weather.today: Today's weather in a city, in degrees Celsius.\n"),
        "{index}"
    );
    assert!(!index.contains("$tools"), "{index}");
    let chosen = pool
        .declarations()
        .only(&["sendEmail", "weather.today"])
        .unwrap();
    let typescript = chosen.typescript().unwrap();
    assert!(
        typescript.contains("sendEmail(params: SendEmailParams): Promise<string>;"),
        "{typescript}"
    );
    assert!(typescript.contains("today("), "{typescript}");
    assert!(!typescript.contains("findCustomers"), "{typescript}");
    match pool.declarations().only(&["sendMail"]) {
        Err(Error::NotFound(message)) => assert!(message.contains("sendEmail"), "{message}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // Discovery is declared for scripts too.
    assert!(pool.typescript().contains("$tools: {"));
    let tools = pool.tool_definitions(ToolFormat::Anthropic);
    assert!(tools
        .as_array()
        .unwrap()
        .iter()
        .all(|t| !t["name"].as_str().unwrap().contains("tools")));
}

#[tokio::test]
async fn scripts_search_and_describe_the_tools_then_call_what_they_found() {
    let pool = pool().await;
    let out = pool
        .run(Script::module(
            r#"const found = await host.$tools.search('email a customer');
const about = await host.$tools.describe(found[0].name);
const missing = await host.$tools.describe('nope');
const few = await host.$tools.search({ query: 'invoice', limit: 1 });
export default { first: found[0], approval: about.approval, declares: about.typescript.includes('sendEmail('), missing, few };"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        out.value["first"],
        json!({ "name": "sendEmail", "summary": "Sends an email to a customer." })
    );
    assert_eq!(out.value["approval"], false);
    assert_eq!(out.value["declares"], true);
    assert_eq!(out.value["missing"], Value::Null);
    assert_eq!(out.value["few"].as_array().unwrap().len(), 1);
    assert_eq!(out.value["few"][0]["name"], "openInvoices");
}

#[tokio::test]
async fn a_tool_known_at_run_time_is_checked_against_its_schemas() {
    let pool = pool().await;
    let celsius: f64 = pool
        .eval("host.weather.today({ city: 'Oslo' }).then((w) => w.celsius)")
        .await
        .unwrap();
    assert_eq!(celsius, 21.5);
    for (params, path, reason) in [
        ("{ city: 'O' }", "city", "expected at least 2 characters"),
        ("{ city: 'Oslo', days: 9 }", "days", "expected at most 7"),
        ("{ town: 'Oslo' }", ".", "missing field `city`"),
        (
            "{ city: 'Oslo', extra: true }",
            ".",
            "unknown field `extra`",
        ),
    ] {
        let out = pool
            .run(Script::module(format!(
                "try {{ await host.weather.today({params}); }} catch (e) {{ globalThis.e = [e.message, e.data]; }}\nexport default e;"
            )))
            .await
            .unwrap();
        let message = out.value[0].as_str().unwrap();
        assert!(
            message.starts_with("invalid params for `weather.today`"),
            "{message}"
        );
        assert!(message.contains(reason), "{message}");
        assert_eq!(out.value[1]["path"], path, "{message}");
    }
    // A result that breaks the output schema is the tool's fault, said so.
    let error = pool
        .run(Script::module(
            "await host.weather.today({ city: 'Atlantis' });",
        ))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("does not match its output schema"),
        "{error}"
    );
    // Approvals apply to run-time tools as to typed ones.
    let refunded: String = pool
        .eval("host.payments.refund({ invoice: 101 })")
        .await
        .unwrap();
    assert_eq!(refunded, "refunded 101");
    let out = pool
        .run(Script::module(
            "try { await host.payments.refund({ invoice: 102 }); } catch (e) { globalThis.c = e.code; }\nexport default c;",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, "APPROVAL_DENIED");
    // A bad tool name fails build.
    let bad = common::builder()
        .tool(
            "weather-today",
            "x",
            json!({}),
            json!({}),
            |v: Value| async move { Ok::<_, CallbackError>(v) },
        )
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(bad, Error::Registration(ref m) if m.contains("JavaScript identifier")),
        "{bad:?}"
    );
}

#[tokio::test]
async fn output_for_a_model_fits_its_budget_and_says_what_was_cut() {
    let pool = pool().await;
    let out = pool
        .run(Script::module(
            "for (let i = 0; i < 200; i++) console.log('line', i, 'x'.repeat(50));\nexport default { rows: Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `customer ${i}` })), note: 'n'.repeat(20000) };",
        ))
        .await
        .unwrap();
    for budget in [500, 2_000, 20_000] {
        let text = out.for_model(budget);
        assert!(text.len() <= budget, "{} > {budget}", text.len());
        let back: Value = serde_json::from_str(&text).unwrap();
        let rows = back["value"]["rows"].as_array().unwrap();
        assert_eq!(rows[0]["id"], 0);
        assert!(
            rows.last()
                .unwrap()
                .as_str()
                .unwrap()
                .ends_with("more items"),
            "{text}"
        );
        assert!(
            back["value"]["note"]
                .as_str()
                .unwrap()
                .contains("more characters)"),
            "{text}"
        );
        assert!(
            back["logs"][0]
                .as_str()
                .unwrap()
                .starts_with("[log] line 0"),
            "{text}"
        );
    }
    // What fits is whole.
    let small = pool
        .run(Script::module(
            "console.warn('careful'); export default [1, 2];",
        ))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&small.for_model(1000)).unwrap(),
        json!({ "value": [1, 2], "logs": ["[warn] careful"] })
    );
}

#[tokio::test]
async fn a_run_outlives_its_turn_and_is_taken_back_by_id() {
    let pool = pool().await;
    let mut handle = pool
        .start(Script::module(
            "console.log('started');\nhost.emit('step', 1);\nawait new Promise((r) => setTimeout(r, 400));\nconsole.log('resumed');\nexport default 'done';",
        ))
        .await
        .unwrap();
    // A first look: what it produced so far, without ending it.
    let progress = handle.wait_for(Duration::from_millis(150)).await;
    assert!(!progress.finished);
    assert_eq!(progress.logs.len(), 1);
    assert_eq!(progress.events.len(), 1);
    // The turn ends; the run goes on without a holder.
    let id = handle.detach();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let handle = pool.run_handle(id).await.expect("the detached run");
    assert!(pool.run_handle(id).await.is_none(), "taken twice");
    let output = handle.output().await.unwrap();
    assert_eq!(output.value, "done");
    assert_eq!(
        output.logs.iter().map(|l| l.message()).collect::<Vec<_>>(),
        ["started", "resumed"]
    );
    assert!(pool.run_handle(987_654).await.is_none());
    // A detached run's worker takes other runs once the run is done.
    assert_eq!(pool.stats().in_flight, 0);
}

#[tokio::test]
async fn errors_say_where_the_script_called_and_missing_tools_can_be_detected() {
    let pool = pool().await;
    let detected: Value = pool
        .eval("[typeof host.nope, 'nope' in host, host.nope?.() ?? 'absent', typeof host.weather.today]")
        .await
        .unwrap();
    assert_eq!(detected, json!(["undefined", false, "absent", "function"]));
    let error = pool
        .run(Script::module(
            "const x = 1;\nawait host.findCustomer({ name: 'Ada' });",
        ))
        .await
        .unwrap_err();
    match error {
        Error::Script { message, line, .. } => {
            assert!(
                message.contains("host.findCustomer is not a callback"),
                "{message}"
            );
            assert!(message.contains("findCustomers"), "{message}");
            assert_eq!(line, Some(2));
        }
        other => panic!("expected a script error, got {other:?}"),
    }
    not_on_bun!("the place of a call with bad params (Bun's captured call sites carry no places, docs/ENGINES.md)");
    let error = pool
        .run(Script::module(
            "\n\n  await host.weather.today({ city: 7 });",
        ))
        .await
        .unwrap_err();
    match error {
        Error::Script { line, column, .. } => assert_eq!((line, column), (Some(3), Some(22))),
        other => panic!("expected a script error, got {other:?}"),
    }
}
