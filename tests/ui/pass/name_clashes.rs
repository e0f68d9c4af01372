//! Callbacks and arguments may share names with what the macro generates.

use std::sync::Arc;

use outrigger::{CallContext, CallbackSet};
use serde_json::value::RawValue;

#[derive(Clone)]
struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn handlers(&self, this: u8, params: u8, ctx: u8) -> u8 {
        this + params + ctx
    }

    async fn declarations(&self, declarations: u8, handlers: u8) -> u8 {
        declarations + handlers
    }

    #[allow(clippy::should_implement_trait)]
    async fn clone(&self, self_: u8, r#async: u8) -> u8 {
        self_ + r#async
    }
}

fn main() {
    let names: Vec<_> = <Tools as CallbackSet>::declarations()
        .into_iter()
        .map(|d| d.js_name)
        .collect();
    assert_eq!(names, ["handlers", "declarations", "clone"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handlers = CallbackSet::handlers(Arc::new(Tools));
    let params = [
        r#"{"this": 1, "params": 2, "ctx": 3}"#,
        r#"{"declarations": 1, "handlers": 2}"#,
        r#"{"self": 1, "async": 2}"#,
    ];
    let results: Vec<_> = handlers
        .iter()
        .zip(params)
        .map(|((name, handler), params)| {
            let params = RawValue::from_string(params.to_owned()).unwrap();
            runtime
                .block_on(handler(CallContext::detached(name), params))
                .unwrap()
                .get()
                .to_owned()
        })
        .collect();
    assert_eq!(results, ["6", "3", "3"]);
}
