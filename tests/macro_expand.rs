//! What `#[outrigger::callbacks]` generates, checked without starting Node:
//! the declarations (names, docs, schemas), the TypeScript they become, and
//! the handlers called directly.

use std::process::Command;
use std::sync::Arc;

mod common;

use outrigger::{CallContext, CallbackError, CallbackSet, Declarations, Handler};
use serde_json::value::RawValue;
use serde_json::{json, Value};

#[derive(Clone, serde::Serialize, schemars::JsonSchema)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug)]
enum ToolError {
    NotFound(u64),
}

impl From<ToolError> for CallbackError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::NotFound(id) => CallbackError::new(format!("no user with id {id}"))
                .with_code(404)
                .with_data(json!({ "id": id })),
        }
    }
}

struct Tools {
    users: Vec<User>,
}

#[outrigger::callbacks]
impl Tools {
    /// Look up a user by id.
    async fn lookup_user(&self, id: u64) -> Result<User, ToolError> {
        self.users
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .ok_or(ToolError::NotFound(id))
    }

    /// Record an event.
    ///
    /// The event goes to the calling run's stream.
    async fn log_event(
        &self,
        ctx: CallContext,
        event_name: String,
        level: Option<u8>,
    ) -> Result<String, ToolError> {
        Ok(format!(
            "{}: {event_name} at {}",
            ctx.callback(),
            level.unwrap_or(0)
        ))
    }

    #[outrigger(rename = "findAll")]
    async fn list(&self) -> Vec<User> {
        self.users.clone()
    }

    async fn ping(&self) {}

    #[outrigger(skip)]
    async fn helper(&self) -> usize {
        self.users.len()
    }

    #[outrigger(skip)]
    fn not_async_helper(&self) -> usize {
        0
    }
}

struct Kv;

#[outrigger::callbacks(namespace = "kv")]
impl Kv {
    /// Read a key.
    async fn get(&self, key: String) -> Option<String> {
        (key == "a").then(|| "1".to_owned())
    }
}

fn tools() -> Tools {
    Tools {
        users: vec![User {
            id: 7,
            name: "Ada".into(),
        }],
    }
}

fn handler<S: CallbackSet>(set: S, name: &str) -> Handler {
    Arc::new(set)
        .handlers()
        .into_iter()
        .find(|(wire, _)| wire == name)
        .map(|(_, handler)| handler)
        .unwrap_or_else(|| panic!("no handler `{name}`"))
}

async fn call<S: CallbackSet>(set: S, name: &str, params: Value) -> Result<Value, CallbackError> {
    let params = RawValue::from_string(params.to_string()).unwrap();
    let result = handler(set, name)(CallContext::detached(name), params).await?;
    Ok(serde_json::from_str(result.get()).unwrap())
}

#[test]
fn declarations_carry_names_docs_and_schemas() {
    let decls = <Tools as CallbackSet>::declarations();
    let names: Vec<_> = decls.iter().map(|d| d.js_name.as_str()).collect();
    assert_eq!(names, ["lookupUser", "logEvent", "findAll", "ping"]);
    assert!(decls.iter().all(|d| d.namespace.is_none()));

    let lookup = &decls[0];
    assert_eq!(lookup.description.as_deref(), Some("Look up a user by id."));
    assert_eq!(lookup.params["type"], "object");
    assert_eq!(lookup.params["properties"]["id"]["type"], "integer");
    assert_eq!(lookup.params["required"], json!(["id"]));
    assert_eq!(lookup.params["additionalProperties"], false);
    assert_eq!(lookup.result["title"], "User");
    assert_eq!(lookup.result["required"], json!(["id", "name"]));

    let log = &decls[1];
    assert_eq!(
        log.description.as_deref(),
        Some("Record an event.\n\nThe event goes to the calling run's stream.")
    );
    let properties: Vec<_> = log.params["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(properties, ["eventName", "level"]);
    assert_eq!(
        log.params["required"],
        json!(["eventName"]),
        "an Option argument may be left out"
    );
    assert_eq!(log.result["type"], "string");

    let list = &decls[2];
    assert_eq!(list.description, None);
    assert_eq!(
        list.params["type"], "object",
        "no arguments: an empty params object"
    );
    assert_eq!(list.params["additionalProperties"], false);
    assert!(list.params.get("required").is_none());
    assert!(list.params.get("properties").is_none());
    assert_eq!(list.result["type"], "array");

    assert_eq!(decls[3].result["type"], "null");

    let kv = <Kv as CallbackSet>::declarations();
    assert_eq!(kv[0].js_name, "get");
    assert_eq!(kv[0].namespace.as_deref(), Some("kv"));
}

#[test]
fn handlers_are_keyed_by_wire_name() {
    let names: Vec<_> = Arc::new(tools())
        .handlers()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["lookupUser", "logEvent", "findAll", "ping"]);
    let names: Vec<_> = Arc::new(Kv)
        .handlers()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["kv.get"]);
}

#[tokio::test]
async fn skipped_methods_stay_methods() {
    assert_eq!(tools().not_async_helper(), 0);
    assert_eq!(tools().helper().await, 1);
}

#[tokio::test]
async fn handlers_call_the_methods() {
    assert_eq!(
        call(tools(), "lookupUser", json!({ "id": 7 }))
            .await
            .unwrap(),
        json!({ "id": 7, "name": "Ada" })
    );
    assert_eq!(
        call(
            tools(),
            "logEvent",
            json!({ "eventName": "saved", "level": 3 })
        )
        .await
        .unwrap(),
        json!("logEvent: saved at 3")
    );
    assert_eq!(
        call(tools(), "logEvent", json!({ "eventName": "saved" }))
            .await
            .unwrap(),
        json!("logEvent: saved at 0")
    );
    assert_eq!(
        call(tools(), "findAll", json!({})).await.unwrap(),
        json!([{ "id": 7, "name": "Ada" }])
    );
    assert_eq!(call(tools(), "ping", json!({})).await.unwrap(), Value::Null);
    assert_eq!(
        call(Kv, "kv.get", json!({ "key": "a" })).await.unwrap(),
        json!("1")
    );
    assert_eq!(
        call(Kv, "kv.get", json!({ "key": "b" })).await.unwrap(),
        Value::Null
    );
}

#[tokio::test]
async fn errors_become_callback_errors() {
    let error = call(tools(), "lookupUser", json!({ "id": 8 }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), 404);
    assert_eq!(error.message(), "no user with id 8");
    assert_eq!(error.data(), Some(&json!({ "id": 8 })));
}

#[tokio::test]
async fn bad_params_are_invalid_params_naming_the_field() {
    let error = call(tools(), "lookupUser", json!({ "id": "seven" }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), -32602);
    assert!(error.message().contains("`id`"), "{error}");

    let error = call(tools(), "logEvent", json!({ "level": 1 }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), -32602);
    assert!(
        error.message().contains("missing field `eventName`"),
        "{error}"
    );

    let error = call(
        tools(),
        "logEvent",
        json!({ "eventName": "x", "event_name": "x" }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), -32602);
    assert!(
        error.message().contains("unknown field `event_name`"),
        "{error}"
    );

    let error = call(tools(), "lookupUser", json!(7)).await.unwrap_err();
    assert_eq!(error.code(), -32602);
    assert!(
        error.message().contains("expected a params object"),
        "{error}"
    );

    let error = call(tools(), "findAll", json!({ "extra": true }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), -32602);
    assert!(error.message().contains("unknown field `extra`"), "{error}");
}

#[test]
fn typescript() {
    let typescript = Declarations::new()
        .with::<Tools>()
        .with::<Kv>()
        .typescript()
        .unwrap();
    insta::assert_snapshot!(typescript);
}

/// A script written against the generated declarations compiles under
/// `tsc --strict`, and the mistakes it marks are type errors.
#[test]
fn typescript_compiles_against_scripts() {
    const SCRIPT: &str = r#"
async function main(): Promise<void> {
  const user: User = await host.lookupUser({ id: 7 });
  const line: string = await host.logEvent({ eventName: "saved" });
  const leveled: string = await host.logEvent({ eventName: "saved", level: 3 });
  const all: User[] = await host.findAll();
  const nothing: null = await host.ping();
  const value: string | null = await host.kv.get({ key: "a" });
  host.emit("done", { user, line, leveled, all, nothing, value });

  // @ts-expect-error: properties are camelCase
  await host.logEvent({ event_name: "saved" });
  // @ts-expect-error: `id` is a number
  await host.lookupUser({ id: "7" });
  // @ts-expect-error: `list` is called `findAll`
  await host.list();
  // @ts-expect-error: skipped methods are not callbacks
  await host.helper();
}
main();
"#;
    let dir = std::env::temp_dir().join(format!("outrigger-macro-expand-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let typescript = Declarations::new()
        .with::<Tools>()
        .with::<Kv>()
        .typescript()
        .unwrap();
    std::fs::write(dir.join("host.d.ts"), typescript).unwrap();
    std::fs::write(dir.join("script.ts"), SCRIPT).unwrap();
    let output = Command::new(common::tsc())
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--pretty",
            "false",
            "host.d.ts",
            "script.ts",
        ])
        .current_dir(&dir)
        .output()
        .expect("run tsc");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "tsc failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
