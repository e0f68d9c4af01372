use std::sync::Arc;

use outrigger::{CallContext, CallbackSet};
use serde_json::value::RawValue;

struct Clock;

#[outrigger::callbacks]
impl Clock {
    /// Seconds since the epoch.
    async fn now(&self) -> u64 {
        42
    }
}

fn main() {
    let decl = &Clock::declarations()[0];
    assert_eq!(decl.params["type"], "object");
    assert!(decl.params.get("required").is_none());
    let (_, handler) = Arc::new(Clock).handlers().pop().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = runtime.block_on(handler(
        CallContext::detached("now"),
        RawValue::from_string("{}".into()).unwrap(),
    ));
    assert_eq!(result.unwrap().get(), "42");
    let typescript = outrigger::Declarations::new()
        .with::<Clock>()
        .typescript()
        .unwrap();
    assert!(
        typescript.contains("now(params?: {}): Promise<number>;"),
        "{typescript}"
    );
}
