//! Values crossing between scripts and the host: JSON text, or an error
//! saying what JSON would lose, with the same rules and messages as the
//! Node.js runtime (`js-client/src/04_json.mjs`). The checks run in a
//! private realm of the engine's runtime (`values.js`), which scripts never
//! see; values of any realm of the runtime can be handed to it.

use bytes::Bytes;
use rquickjs::{Array, Context, Ctx, Function, Object, Persistent, Runtime, TypedArray, Value};

use crate::binary::FRAME_HEADER;

use crate::wire::{codes, RpcError};

/// The private realm and its helpers.
pub(super) struct Helper {
    /// The realm of rquickjs's own classes (see [`Helper::new`]).
    _lender: Context,
    context: Context,
    to_json: Persistent<Function<'static>>,
    with_frames: Persistent<Function<'static>>,
    log_args: Persistent<Function<'static>>,
    describe: Persistent<Function<'static>>,
    export_names: Persistent<Function<'static>>,
    /// `world.js` compiled once, read into each realm that needs it.
    pub(super) world: Vec<u8>,
}

/// What was thrown, as `values.js` describes it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Thrown {
    pub(super) is_error: bool,
    pub(super) name: String,
    pub(super) message: String,
    pub(super) stack: Option<String>,
    pub(super) code: Option<String>,
    #[serde(default)]
    pub(super) capability: Option<String>,
    #[serde(default)]
    pub(super) setting: Option<String>,
    #[serde(default)]
    pub(super) specifier: Option<String>,
    #[serde(default)]
    pub(super) referrer: Option<String>,
}

impl Helper {
    /// The private realms. rquickjs makes the prototype of its Rust
    /// functions once per runtime, in the first context that makes one, and
    /// keeps it: that context would live as long as the engine, and every
    /// Rust function of every realm would lead to it. So the first is made
    /// here, in a realm of base objects only, without code generation
    /// (`Function("...")` throws there), frozen whole.
    pub(super) fn new(rt: &Runtime) -> rquickjs::Result<Helper> {
        let lender = Context::custom::<()>(rt)?;
        let lender_global = lender.with(|ctx| {
            Function::new(ctx.clone(), || ())?;
            Ok::<_, rquickjs::Error>(Persistent::save(&ctx, ctx.globals()))
        })?;
        let context = Context::full(rt)?;
        let (to_json, with_frames, log_args, describe, export_names, world) =
            context.with(|ctx| {
                let helpers: Object = ctx.eval(include_str!("values.js"))?;
                let get = |name: &str| -> rquickjs::Result<Persistent<Function<'static>>> {
                    Ok(Persistent::save(&ctx, helpers.get::<_, Function>(name)?))
                };
                let world =
                    super::world::compile(&ctx, include_str!("world.js"), "outrigger:world")?;
                let harden: Function = helpers.get("harden")?;
                harden.call::<_, ()>((lender_global.restore(&ctx)?,))?;
                Ok::<_, rquickjs::Error>((
                    get("toJson")?,
                    get("withFrames")?,
                    get("logArgs")?,
                    get("describe")?,
                    get("exportNames")?,
                    world,
                ))
            })?;
        Ok(Helper {
            _lender: lender,
            context,
            to_json,
            with_frames,
            log_args,
            describe,
            export_names,
            world,
        })
    }

    /// JSON text of `value` (named `what` in errors) and the frames of its
    /// binary values, or the error a run ends with: `NON_JSON`, or `LIMIT`
    /// past `max_bytes`.
    pub(super) fn to_json<'js>(
        &self,
        ctx: &Ctx<'js>,
        value: Value<'js>,
        what: &str,
        max_bytes: usize,
    ) -> Result<(String, Vec<Bytes>), RpcError> {
        let _ = &self.context;
        let frames = Array::new(ctx.clone()).map_err(|e| internal(&e.to_string()))?;
        let call = || -> rquickjs::Result<Value<'js>> {
            let f = self.to_json.clone().restore(ctx)?;
            f.call((value, what, max_bytes as f64, frames.clone()))
        };
        match call() {
            Ok(result) => {
                if let Some(text) = result.as_string() {
                    let text = text.to_string().map_err(|e| internal(&e.to_string()))?;
                    let frames = read_frames(&frames).map_err(|e| internal(&e.to_string()))?;
                    let framed: usize = frames.iter().map(|f| f.len() + FRAME_HEADER).sum();
                    if text.len() + framed > max_bytes {
                        let detail = if framed > 0 {
                            format!(" ({framed} of them binary)")
                        } else {
                            " of JSON".into()
                        };
                        return Err(RpcError {
                            code: codes::LIMIT,
                            message: format!(
                                "{what} is {} bytes{detail}, over the limit of {max_bytes}",
                                text.len() + framed
                            ),
                            data: None,
                        });
                    }
                    return Ok((text, frames));
                }
                let object = result.as_object();
                let message: String = object
                    .and_then(|o| o.get("error").ok())
                    .unwrap_or_else(|| format!("{what} cannot be turned into JSON"));
                let flag = |name: &str| {
                    object
                        .and_then(|o| o.get::<_, bool>(name).ok())
                        .unwrap_or(false)
                };
                if flag("memory") {
                    return Err(super::errors::memory_limit(&message, 0));
                }
                let code = if flag("limit") {
                    codes::LIMIT
                } else {
                    codes::NON_JSON
                };
                Err(RpcError {
                    code,
                    message,
                    data: None,
                })
            }
            Err(error) => Err(super::errors::from_engine(ctx, error, what)),
        }
    }

    /// `json` parsed in `ctx`, its placeholders replaced by `Uint8Array`s of
    /// `ctx`'s realm holding the frames they refer to.
    pub(super) fn parse_with_frames<'js>(
        &self,
        ctx: &Ctx<'js>,
        json: &str,
        frames: &[Bytes],
    ) -> rquickjs::Result<Value<'js>> {
        let value = ctx.json_parse(json)?;
        if frames.is_empty() {
            return Ok(value);
        }
        // Each frame is made, once, into what its placeholder asks for: a
        // `Uint8Array` of this realm, or a string.
        let kept = frames.to_vec();
        // Made in the value's realm, whichever realm calls.
        let realm = ctx.clone();
        let frame = Function::new(
            ctx.clone(),
            move |n: usize, text: bool| -> rquickjs::Result<Value<'js>> {
                let ctx = realm.clone();
                let bytes = kept.get(n).map_or(&[][..], |b| &b[..]);
                if text {
                    let text = std::str::from_utf8(bytes).map_err(|_| {
                        rquickjs::Error::new_from_js_message("bytes", "string", "not UTF-8")
                    })?;
                    return Ok(rquickjs::String::from_str(ctx, text)?.into_value());
                }
                // A realm gets its typed arrays on first use.
                super::realm::typed_arrays(&ctx)?;
                Ok(TypedArray::<u8>::new(ctx, bytes.to_vec())?.into_value())
            },
        )?;
        let f = self.with_frames.clone().restore(ctx)?;
        f.call((value, frames.len(), frame))
    }

    /// The JSON text of a console call's arguments.
    pub(super) fn log_args<'js>(
        &self,
        ctx: &Ctx<'js>,
        args: Value<'js>,
    ) -> rquickjs::Result<String> {
        let f = self.log_args.clone().restore(ctx)?;
        f.call((args,))
    }

    /// What was thrown, read safely (getters that throw give nothing).
    pub(super) fn describe<'js>(&self, ctx: &Ctx<'js>, thrown: Value<'js>) -> Option<Thrown> {
        let f = self.describe.clone().restore(ctx).ok()?;
        let described: Value = f.call((thrown,)).ok()?;
        let text = ctx.json_stringify(described).ok()??.to_string().ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The names a module namespace exports.
    pub(super) fn export_names<'js>(&self, ctx: &Ctx<'js>, namespace: Object<'js>) -> Vec<String> {
        let names = || -> rquickjs::Result<Vec<String>> {
            let f = self.export_names.clone().restore(ctx)?;
            f.call((namespace,))
        };
        names().unwrap_or_default()
    }
}

fn internal(message: &str) -> RpcError {
    RpcError {
        code: codes::INTERNAL_ERROR,
        message: message.into(),
        data: None,
    }
}

/// The bytes of the binary values `toJson` pushed to `frames`.
fn read_frames(frames: &Array<'_>) -> rquickjs::Result<Vec<Bytes>> {
    let mut out = Vec::with_capacity(frames.len());
    for frame in frames.iter::<TypedArray<u8>>() {
        let frame = frame?;
        // SAFETY: the bytes are copied at once; no script runs meanwhile to
        // change or detach the buffer.
        let bytes = unsafe { frame.as_bytes() }.ok_or_else(|| {
            rquickjs::Error::new_from_js_message("Uint8Array", "bytes", "its buffer was detached")
        })?;
        out.push(Bytes::copy_from_slice(bytes));
    }
    Ok(out)
}
