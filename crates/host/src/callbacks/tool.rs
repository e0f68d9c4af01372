//! Tools known only at run time (`PoolBuilder::tool`): a name, a
//! description, JSON Schemas for input and output, and an async handler of
//! JSON. Such a tool is a callback like those `#[outrigger::callbacks]`
//! declares: callable from scripts, in the TypeScript and the tool
//! definitions, its params checked against its schema with the same errors,
//! and it may need approval.

use std::future::Future;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::Value;

use super::validate::{params_error, validate};
use super::{CallContext, CallbackDecl, CallbackError, CallbackFuture, Handler};
use crate::wire::codes;

/// Whether `part` can be a name in JavaScript without quotes.
fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The declaration and handler of a tool; `name` is `sendEmail` or
/// `mail.send` (a namespace and a name).
pub(crate) fn tool<F, Fut>(
    name: &str,
    description: &str,
    input_schema: Value,
    output_schema: Value,
    handler: F,
) -> Result<(CallbackDecl, Handler), String>
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, CallbackError>> + Send + 'static,
{
    let (namespace, js_name) = match name.split_once('.') {
        Some((namespace, js_name)) => (Some(namespace), js_name),
        None => (None, name),
    };
    if !namespace.is_none_or(is_identifier) || !is_identifier(js_name) {
        return Err(format!(
            "tool(\"{name}\"): a tool's name is a JavaScript identifier, or two joined by a dot (a namespace and a name)"
        ));
    }
    for (which, schema) in [("input", &input_schema), ("output", &output_schema)] {
        if !schema.is_object() && !schema.is_boolean() {
            return Err(format!(
                "tool(\"{name}\"): its {which} schema is not a JSON Schema (an object)"
            ));
        }
    }
    let decl = CallbackDecl {
        js_name: js_name.to_owned(),
        namespace: namespace.map(str::to_owned),
        description: Some(description.to_owned()).filter(|d| !d.is_empty()),
        params: input_schema.clone(),
        result: output_schema.clone(),
        approval: false,
    };
    let handler = Arc::new(handler);
    let schemas = Arc::new((input_schema, output_schema));
    let handler: Handler = Arc::new(move |ctx: CallContext, params: Box<RawValue>| {
        let handler = handler.clone();
        let schemas = schemas.clone();
        Box::pin(async move {
            let callback = ctx.callback_name();
            let params: Value = serde_json::from_str(params.get()).unwrap_or(Value::Null);
            // A tool speaks JSON: bytes a script passes reach it as numbers.
            let params = crate::binary::inline(params, ctx.params_frames());
            if let Err(invalid) = validate(&schemas.0, &params) {
                return Err(params_error(&callback, invalid));
            }
            let result = handler(params).await?;
            if let Err(invalid) = validate(&schemas.1, &result) {
                return Err(CallbackError::new(format!(
                    "the result of `{callback}` does not match its output schema: `{}`: {}",
                    invalid.path, invalid.reason
                ))
                .with_code(codes::INTERNAL_ERROR));
            }
            serde_json::value::to_raw_value(&result).map_err(|e| {
                CallbackError::new(format!(
                    "the result of `{callback}` cannot be turned into JSON: {e}"
                ))
                .with_code(codes::INTERNAL_ERROR)
            })
        }) as CallbackFuture
    });
    Ok((decl, handler))
}
