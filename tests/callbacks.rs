//! Scripts call async Rust functions registered with `#[outrigger::callbacks]`,
//! end to end through real Node.js workers.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outrigger::{CallContext, CallbackError, Error, Pool, Script, ToolFormat};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
struct User {
    id: u64,
    name: String,
    email: Option<String>,
}

#[derive(Debug)]
enum ToolError {
    NotFound(u64),
}

impl From<ToolError> for CallbackError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::NotFound(id) => CallbackError::new(format!("no user {id}"))
                .with_code(404)
                .with_data(json!({ "id": id })),
        }
    }
}

#[derive(Default)]
struct Tools {
    users: Mutex<BTreeMap<u64, User>>,
    calls: AtomicUsize,
    dropped: Arc<AtomicUsize>,
}

/// Increments a counter when the future holding it is dropped.
struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[outrigger::callbacks]
impl Tools {
    /// Look up a user by id.
    async fn lookup_user(&self, id: u64) -> Result<User, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.users
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .ok_or(ToolError::NotFound(id))
    }

    /// Save a user; returns how many there are.
    async fn save_user(&self, user: User) -> usize {
        let mut users = self.users.lock().unwrap();
        users.insert(user.id, user);
        users.len()
    }

    /// Add two numbers after a short delay.
    async fn slow_add(&self, left: i64, right: i64, delay_ms: u64) -> i64 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        left + right
    }

    /// Who is calling.
    async fn whoami(&self, ctx: CallContext) -> serde_json::Value {
        ctx.emit("from-rust", json!({ "callback": ctx.callback() }))
            .unwrap();
        json!({ "run": ctx.run_id(), "session": ctx.session_id() })
    }

    /// Never answers.
    async fn hang(&self) {
        let _flag = DropFlag(self.dropped.clone());
        std::future::pending::<()>().await;
    }

    /// Panics.
    async fn explode(&self) -> u8 {
        panic!("the callback exploded")
    }
}

struct Kv {
    map: Mutex<BTreeMap<String, String>>,
}

#[outrigger::callbacks(namespace = "kv")]
impl Kv {
    /// Read a key.
    async fn get(&self, key: String) -> Option<String> {
        self.map.lock().unwrap().get(&key).cloned()
    }

    /// Write a key.
    async fn set(&self, key: String, value: String) {
        self.map.lock().unwrap().insert(key, value);
    }
}

async fn pool_with_tools(tools: Tools) -> Pool {
    common::builder()
        .callbacks(tools)
        .callbacks(Kv {
            map: Mutex::default(),
        })
        .build()
        .await
        .unwrap()
}

fn tools_with_ada() -> Tools {
    let tools = Tools::default();
    tools.users.lock().unwrap().insert(
        7,
        User {
            id: 7,
            name: "Ada".into(),
            email: None,
        },
    );
    tools
}

#[tokio::test]
async fn scripts_call_rust_and_get_typed_results() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let out = pool
        .run(Script::module(
            r#"
            const user = await host.lookupUser({ id: 7 });
            const count = await host.saveUser({ user: { id: 8, name: "Grace", email: "g@example.com" } });
            await host.kv.set({ key: "greeting", value: `hello ${user.name}` });
            export default { user, count, greeting: await host.kv.get({ key: "greeting" }), missing: await host.kv.get({ key: "nope" }) };
            "#,
        ))
        .await
        .unwrap();
    assert_eq!(
        out.value,
        json!({
            "user": { "id": 7, "name": "Ada", "email": null },
            "count": 2,
            "greeting": "hello Ada",
            "missing": null
        })
    );
}

#[tokio::test]
async fn a_failed_callback_rejects_with_code_message_and_data() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let value: serde_json::Value = pool
        .eval("host.lookupUser({ id: 99 }).catch((e) => ({ message: e.message, code: e.code, data: e.data, isError: e instanceof Error }))")
        .await
        .unwrap();
    assert_eq!(
        value,
        json!({ "message": "no user 99", "code": 404, "data": { "id": 99 }, "isError": true })
    );
    // Uncaught, it fails the run as a script error.
    let error = pool
        .eval::<serde_json::Value>("host.lookupUser({ id: 99 })")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Script { message, .. } if message == "no user 99"),
        "{error:?}"
    );
}

/// A call from `helper`, called by `outer`, that fails; the value: where
/// the lines of the error's stack in the script point, and whether the
/// script's `Error.stackTraceLimit` is as it left it.
const NESTED_FAILURE: &str = "function helper() { return host.lookupUser({ id: 99 }); }
function outer() { return helper(); }
const before = Error.stackTraceLimit;
const stack = await outer().catch((e) => e.stack);
export default {
  frames: stack.split('\\n').filter((l) => l.includes('module.mjs')).map((l) => l.trim().split(' ')[1]),
  limitKept: Error.stackTraceLimit === before,
};";

#[tokio::test]
async fn a_failed_call_keeps_as_many_frames_as_the_pool_says() {
    not_on_bun!("the place of a call (Bun's captured call sites carry no places, docs/ENGINES.md)");
    for (frames, expected) in [(None, 1), (Some(3), 3), (Some(0), 0)] {
        let mut builder = common::builder().callbacks(tools_with_ada());
        if let Some(frames) = frames {
            builder = builder.call_site_frames(frames);
        }
        if frames == Some(0) && common::quickjs() {
            // QuickJS answers a call whose callback is done at once inside
            // the call itself, so the error it makes holds the script's
            // stack anyway.
            continue;
        }
        let pool = builder.build().await.unwrap();
        let value: serde_json::Value = pool
            .run(Script::module(NESTED_FAILURE))
            .await
            .unwrap()
            .value_as()
            .unwrap();
        let seen: Vec<&str> = value["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(seen.len(), expected, "{frames:?}: {value}");
        if expected > 0 {
            assert_eq!(seen[0], "helper", "{frames:?}: {value}");
        }
        if expected > 1 {
            assert_eq!(seen[1], "outer", "{frames:?}: {value}");
        }
        assert_eq!(value["limitKept"], true, "{frames:?}: {value}");
    }
    // A script that froze `Error` still makes calls; on V8 its own limit
    // then holds for their sites (QuickJS's limit is an accessor, which
    // freezing leaves working).
    let pool = pool_with_tools(tools_with_ada()).await;
    let value: serde_json::Value = pool
        .run(Script::module(format!(
            "Error.stackTraceLimit = 2;\nObject.freeze(Error);\n{NESTED_FAILURE}"
        )))
        .await
        .unwrap()
        .value_as()
        .unwrap();
    let expected = if common::quickjs() {
        json!(["helper"])
    } else {
        json!(["helper", "outer"])
    };
    assert_eq!(value["frames"], expected, "{value}");
    assert_eq!(value["limitKept"], true, "{value}");
}

#[tokio::test]
async fn bad_params_say_which_field_is_wrong_and_why() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let cases = [
        ("host.lookupUser({ id: 'seven' })", "`id`", "expected u64"),
        ("host.lookupUser({})", "missing field `id`", ""),
        (
            "host.lookupUser({ id: 1, extra: true })",
            "unknown field `extra`",
            "",
        ),
        (
            "host.saveUser({ user: { id: 1 } })",
            "`user`",
            "missing field `name`",
        ),
        (
            "host.slowAdd({ left: 1, right: 2 })",
            "missing field `delayMs`",
            "",
        ),
    ];
    for (code, first, second) in cases {
        let value: serde_json::Value = pool
            .eval(&format!(
                "{code}.then(() => 'resolved', (e) => ({{ code: e.code, message: e.message }}))"
            ))
            .await
            .unwrap();
        assert_eq!(value["code"], -32602, "{code}: {value}");
        let message = value["message"].as_str().unwrap();
        assert!(
            message.contains(first) && message.contains(second),
            "{code}: {message}"
        );
    }
}

#[tokio::test]
async fn an_unknown_callback_lists_the_ones_that_exist() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let error = pool
        .eval::<serde_json::Value>("host.lookupUsr({ id: 7 })")
        .await
        .unwrap_err();
    match error {
        Error::Script { name, message, .. } => {
            assert_eq!(name, "TypeError");
            assert!(
                message.contains("host.lookupUsr is not a callback"),
                "{message}"
            );
            for known in ["lookupUser", "saveUser", "kv.get", "kv.set", "whoami"] {
                assert!(message.contains(known), "{message} lists {known}");
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn many_callbacks_in_flight_from_one_run_and_from_many_runs() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let script = Script::module(
        "const sums = await Promise.all(Array.from({ length: 200 }, (_, i) => host.slowAdd({ left: i, right: base, delayMs: i % 5 })));\nexport default sums.reduce((a, b) => a + b, 0);",
    );
    let runs: Vec<_> = (0..20)
        .map(|base| {
            let pool = pool.clone();
            let script = script.clone().global("base", base);
            tokio::spawn(async move { (base, pool.run(script).await) })
        })
        .collect();
    for run in runs {
        let (base, out) = run.await.unwrap();
        let expected: i64 = (0..200).map(|i| i + base).sum();
        assert_eq!(out.unwrap().value, expected);
    }
}

#[tokio::test]
async fn the_call_context_knows_the_run_and_session_and_emits_events() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let mut run = pool
        .start(Script::expression("host.whoami()"))
        .await
        .unwrap();
    let id = run.id();
    let event = run.next_event().await.unwrap();
    assert_eq!(
        (event.name.as_str(), event.data.clone()),
        ("from-rust", json!({ "callback": "whoami" }))
    );
    let out = run.output().await.unwrap();
    assert_eq!(out.value, json!({ "run": id, "session": null }));

    let session = pool.session().await.unwrap();
    let value: serde_json::Value = session.eval("host.whoami()").await.unwrap();
    assert_eq!(value["session"], session.id());
}

#[tokio::test]
async fn a_timed_out_run_drops_its_pending_callback_futures() {
    let tools = tools_with_ada();
    let dropped = tools.dropped.clone();
    let pool = pool_with_tools(tools).await;
    let error = pool
        .run(
            Script::expression("Promise.all([host.hang(), host.hang(), host.hang()])")
                .timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(
        common::eventually(Duration::from_secs(5), || dropped.load(Ordering::SeqCst)
            == 3)
        .await,
        "dropped {} of 3",
        dropped.load(Ordering::SeqCst)
    );
    // A cancelled run too.
    let run = pool.run(Script::expression("host.hang()"));
    assert!(tokio::time::timeout(Duration::from_millis(100), run)
        .await
        .is_err());
    assert!(
        common::eventually(Duration::from_secs(5), || dropped.load(Ordering::SeqCst)
            == 4)
        .await
    );
}

#[tokio::test]
async fn a_panicking_callback_rejects_in_js_and_the_host_stays_up() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let value: serde_json::Value = pool
        .eval("host.explode().catch((e) => ({ code: e.code, message: e.message }))")
        .await
        .unwrap();
    assert_eq!(value["code"], -32005);
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("the callback exploded"),
        "{value}"
    );
    let user: serde_json::Value = pool.eval("host.lookupUser({ id: 7 })").await.unwrap();
    assert_eq!(user["name"], "Ada");
}

#[tokio::test]
async fn a_run_may_make_only_so_many_callback_calls() {
    let tools = tools_with_ada();
    let pool = common::builder()
        .callbacks(tools)
        .max_callback_calls(5)
        .build()
        .await
        .unwrap();
    let loop_code =
        "for (let i = 0; i < 10; i++) await host.lookupUser({ id: 7 });\nexport default 'done';";
    let error = pool.run(Script::module(loop_code)).await.unwrap_err();
    assert!(
        matches!(&error, Error::Limit(message) if message.contains("limit of 5 callback calls")),
        "{error:?}"
    );
    // Per run, not per pool; and a script may ask for more.
    let out = pool
        .run(Script::module(loop_code).max_callback_calls(10))
        .await
        .unwrap();
    assert_eq!(out.value, "done");
}

#[tokio::test]
async fn duplicate_names_fail_the_build() {
    let error = common::builder()
        .callbacks(Kv {
            map: Mutex::default(),
        })
        .callbacks(Kv {
            map: Mutex::default(),
        })
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Registration(message) if message.contains("`kv.get`")),
        "{error:?}"
    );
}

#[tokio::test]
async fn typescript_and_tool_definitions_come_from_the_same_registry() {
    let pool = pool_with_tools(tools_with_ada()).await;
    let typescript = pool.typescript();
    for expected in [
        "declare const host",
        "lookupUser(params: LookupUserParams): Promise<User>;",
        "/** Look up a user by id. */",
        "kv: {",
        "get(params: KvGetParams): Promise<string | null>;",
    ] {
        assert!(
            typescript.contains(expected),
            "missing {expected:?} in\n{typescript}"
        );
    }
    // The same text without a pool, for build scripts.
    let offline = outrigger::Declarations::new()
        .with::<Tools>()
        .with::<Kv>()
        .typescript()
        .unwrap();
    assert_eq!(offline, typescript);

    let tools = pool.tool_definitions(ToolFormat::Anthropic);
    let lookup = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "lookupUser")
        .unwrap();
    assert_eq!(lookup["description"], "Look up a user by id.");
    assert_eq!(lookup["input_schema"]["required"], json!(["id"]));
    let openai = pool.tool_definitions(ToolFormat::OpenAi);
    assert!(openai
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["function"]["name"] == "kv_get"));
}

/// Callbacks that do not answer on their first poll, each in its own way.
struct Waits;

#[outrigger::callbacks]
impl Waits {
    /// Yields to the runtime `times` times, then answers.
    async fn after_yields(&self, n: u64, times: u32) -> u64 {
        for _ in 0..times {
            tokio::task::yield_now().await;
        }
        n
    }

    /// Answers with what another task sends it a moment later.
    async fn sent_by_another_task(&self, n: u64) -> u64 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1 + n % 3)).await;
            let _ = tx.send(n * 2);
        });
        rx.await.unwrap()
    }
}

#[tokio::test]
async fn callbacks_that_wait_after_their_first_poll_still_answer() {
    // A callback is polled once where its call is read; what waits then
    // goes on as a task, which must be woken by whatever it waits for.
    let pool = common::builder().callbacks(Waits).build().await.unwrap();
    let sums: Vec<u64> = pool
        .eval(
            "Promise.all(Array.from({ length: 60 }, (_, i) => i % 2 === 0 \
               ? host.afterYields({ n: i, times: i % 4 }) \
               : host.sentByAnotherTask({ n: i })))",
        )
        .await
        .unwrap();
    let expected: Vec<u64> = (0..60)
        .map(|i| if i % 2 == 0 { i } else { i * 2 })
        .collect();
    assert_eq!(sums, expected);
    // One at a time as well: each call alone in its read.
    let one: u64 = pool
        .eval("(async () => { let t = 0; for (let i = 0; i < 20; i++) t += await host.sentByAnotherTask({ n: i }) + await host.afterYields({ n: i, times: 2 }); return t; })()")
        .await
        .unwrap();
    assert_eq!(one, (0..20).map(|i| i * 3).sum::<u64>());
}
