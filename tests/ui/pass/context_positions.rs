use std::sync::Arc;

use outrigger::{CallContext, CallbackSet};
use serde_json::value::RawValue;

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn first(&self, ctx: CallContext, a: u8, b: String) -> String {
        format!("{} {a} {b}", ctx.callback())
    }

    async fn middle(&self, a: u8, ctx: CallContext, b: String) -> String {
        format!("{} {a} {b}", ctx.callback())
    }

    async fn last(&self, a: u8, b: String, context: outrigger::CallContext) -> String {
        format!("{} {a} {b}", context.callback())
    }

    async fn only(&self, _ctx: ::outrigger::CallContext) -> bool {
        true
    }
}

async fn call(name: &str) -> String {
    let (_, handler) = Arc::new(Tools)
        .handlers()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap();
    let params = RawValue::from_string(r#"{"a": 1, "b": "x"}"#.to_owned()).unwrap();
    let params = if name == "only" {
        RawValue::from_string("{}".to_owned()).unwrap()
    } else {
        params
    };
    handler(CallContext::detached(name), params)
        .await
        .unwrap()
        .get()
        .to_owned()
}

fn main() {
    let decls = Tools::declarations();
    for decl in &decls[..3] {
        assert_eq!(decl.params["required"], serde_json::json!(["a", "b"]));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(call("first").await, r#""first 1 x""#);
        assert_eq!(call("middle").await, r#""middle 1 x""#);
        assert_eq!(call("last").await, r#""last 1 x""#);
        assert_eq!(call("only").await, "true");
    });
}
