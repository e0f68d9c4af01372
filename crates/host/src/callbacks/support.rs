//! Support for the code `#[outrigger::callbacks]` generates. Not a public
//! API: it may change in any release.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{CallContext, CallbackError, CallbackFuture, Handler};
use crate::wire::codes;

/// The JSON Schema of a callback's params or result. One contract for
/// both (deserialize: an `Option` field may be missing), so a type used on
/// both sides has one definition.
pub fn schema<T: schemars::JsonSchema>() -> Value {
    schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// A handler that parses params into `P`, calls `f`, and serializes its result.
pub fn handler<P, F, Fut, R>(f: F) -> Handler
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(CallContext, P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, CallbackError>> + Send + 'static,
    R: Serialize,
{
    let f = Arc::new(f);
    Arc::new(move |ctx: CallContext, params: Box<RawValue>| {
        let f = f.clone();
        Box::pin(async move {
            let callback = ctx.callback_name();
            let params = parse_params::<P>(&callback, &params, ctx.params_frames())?;
            let result_frames = ctx.result_frames();
            let value = f(ctx, params).await?;
            let cannot = |e: serde_json::Error| {
                CallbackError::new(format!(
                    "the result of `{callback}` cannot be turned into JSON: {e}"
                ))
                .with_code(codes::INTERNAL_ERROR)
            };
            let mut frames = Vec::new();
            let json = crate::binary::to_script_into(&value, &mut frames).map_err(cannot)?;
            *result_frames.lock().unwrap() = frames;
            RawValue::from_string(json).map_err(cannot)
        }) as CallbackFuture
    })
}

fn parse_params<P: DeserializeOwned>(
    callback: &str,
    params: &RawValue,
    frames: &[bytes::Bytes],
) -> Result<P, CallbackError> {
    let parsed = if frames.is_empty() {
        let mut deserializer = serde_json::Deserializer::from_str(params.get());
        serde_path_to_error::deserialize(&mut deserializer)
    } else {
        let value: Value = serde_json::from_str(params.get()).map_err(|e| {
            CallbackError::new(format!("invalid params for `{callback}`: {e}"))
                .with_code(codes::INVALID_PARAMS)
        })?;
        serde_path_to_error::deserialize(crate::binary::reader(&value, frames))
    };
    parsed.map_err(|error| {
        let path = error.path().to_string();
        let reason = error.inner().to_string();
        let reason = reason
            .split(" at line ")
            .next()
            .unwrap_or(&reason)
            .to_owned();
        let message = if path == "." {
            format!("invalid params for `{callback}`: {reason}")
        } else {
            format!("invalid params for `{callback}`: `{path}`: {reason}")
        };
        CallbackError::new(message)
            .with_code(codes::INVALID_PARAMS)
            .with_data(json!({ "callback": callback, "path": path, "reason": reason }))
    })
}

/// Turns a callback's `Result<T, E>` into the handler's result.
pub fn from_result<T, E: Into<CallbackError>>(result: Result<T, E>) -> Result<T, CallbackError> {
    result.map_err(Into::into)
}

/// Turns a callback's plain value into the handler's result.
pub fn from_value<T>(value: T) -> Result<T, CallbackError> {
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Params {
        user_id: u64,
        tags: Vec<String>,
    }

    fn params(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    async fn call(text: &str) -> Result<Box<RawValue>, CallbackError> {
        let handler = handler(|_ctx, p: Params| async move {
            Ok::<_, CallbackError>(p.user_id + p.tags.len() as u64)
        });
        handler(CallContext::detached("lookupUser"), params(text)).await
    }

    #[tokio::test]
    async fn params_errors_name_the_field_and_the_reason() {
        assert_eq!(
            call(r#"{"userId": 7, "tags": ["a"]}"#).await.unwrap().get(),
            "8"
        );
        let error = call(r#"{"userId": "7", "tags": []}"#).await.unwrap_err();
        assert_eq!(error.code(), codes::INVALID_PARAMS);
        assert!(
            error.message().contains("`userId`") && error.message().contains("expected u64"),
            "{error}"
        );
        let error = call(r#"{"userId": 7, "tags": [1]}"#).await.unwrap_err();
        assert!(error.message().contains("`tags[0]`"), "{error}");
        let error = call(r#"{"tags": []}"#).await.unwrap_err();
        assert!(
            error.message().contains("missing field `userId`"),
            "{error}"
        );
        let error = call(r#"{"userId": 1, "tags": [], "extra": 1}"#)
            .await
            .unwrap_err();
        assert!(error.message().contains("unknown field `extra`"), "{error}");
    }
}
