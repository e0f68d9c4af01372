//! Procedural macros of outrigger: `#[outrigger::callbacks]`.
//!
//! Use them through the `outrigger` crate, which re-exports them.

mod expand;
mod model;
mod parse;

use proc_macro::TokenStream;

/// Turns the `async fn`s of an impl block into callbacks that scripts call
/// as `await host.lookupUser({ id: 7 })`.
///
/// ```
/// use outrigger::{CallContext, CallbackError, Declarations};
///
/// // Your own types derive `Serialize`/`Deserialize` and `JsonSchema`.
/// #[derive(Clone, serde::Serialize, schemars::JsonSchema)]
/// struct User {
///     id: u64,
///     name: String,
/// }
///
/// enum ToolError {
///     NotFound(u64),
/// }
///
/// // A callback's error type converts into the error the script sees.
/// impl From<ToolError> for CallbackError {
///     fn from(error: ToolError) -> Self {
///         match error {
///             ToolError::NotFound(id) => CallbackError::new(format!("no user {id}")).with_code(404),
///         }
///     }
/// }
///
/// struct Tools {
///     users: Vec<User>,
/// }
///
/// #[outrigger::callbacks]
/// impl Tools {
///     /// Look up a user by id.
///     async fn lookup_user(&self, id: u64) -> Result<User, ToolError> {
///         self.users.iter().find(|u| u.id == id).cloned().ok_or(ToolError::NotFound(id))
///     }
///
///     /// Record an event on the calling run's event stream.
///     async fn log_event(&self, ctx: CallContext, event_name: String, level: Option<u8>) -> Result<(), CallbackError> {
///         ctx.emit(&event_name, level).map_err(|e| CallbackError::new(e.to_string()))
///     }
///
///     /// Every user.
///     #[outrigger(rename = "findAll")]
///     async fn list(&self) -> Vec<User> {
///         self.users.clone()
///     }
///
///     #[outrigger(skip)]
///     fn count(&self) -> usize {
///         self.users.len()
///     }
/// }
///
/// // Scripts call them as `host.lookupUser({ id })`, `host.logEvent({ eventName, level })`
/// // and `host.findAll()`:
/// async fn serve(tools: Tools) -> outrigger::Result<String> {
///     let pool = outrigger::Pool::builder().callbacks(tools).build().await?;
///     pool.eval("(await host.lookupUser({ id: 7 })).name").await
/// }
///
/// // The declarations need no Node: TypeScript for scripts, tool definitions for LLMs.
/// let typescript = Declarations::new().with::<Tools>().typescript().unwrap();
/// assert!(typescript.contains("lookupUser(params: LookupUserParams): Promise<User>;"));
/// assert!(typescript.contains("logEvent(params: LogEventParams): Promise<null>;"));
/// assert!(typescript.contains("findAll(params?: {}): Promise<User[]>;"));
/// # let _ = serve;
/// # assert_eq!(Tools { users: vec![] }.count(), 0);
/// ```
///
/// The impl block stays as written (minus `#[outrigger(..)]` attributes),
/// and the macro implements `outrigger::CallbackSet` for the type, which a
/// pool takes with `PoolBuilder::callbacks`. The type must be
/// `Send + Sync + 'static`, and it gets one `#[outrigger::callbacks]` block
/// (for more, use several types).
///
/// # Callbacks
///
/// Every method of the block is a callback unless marked
/// `#[outrigger(skip)]`, and a callback is an `async fn` that takes `&self`,
/// has no generic parameters, and returns a future that is `Send`.
///
/// * **Name**: the method's name in camelCase (`lookup_user` → `lookupUser`),
///   or `#[outrigger(rename = "name")]`. Names are JavaScript identifiers and
///   `emit` is taken by `host.emit`.
/// * **Arguments** become the properties of the one object scripts pass,
///   named in camelCase (`event_name` → `eventName`). Their types must be
///   owned (`String`, not `&str`) and implement `Deserialize` and
///   `JsonSchema`. An `Option` argument may be left out; a property the
///   method does not take is an error. A script passing bad params gets an
///   error with code -32602 that names the property. Integers of every
///   width are JavaScript numbers, exact up to 2^53: carry larger ids as
///   strings.
/// * **`CallContext`**: an argument whose type is `CallContext`, in any
///   position, is not a property: it receives the calling run's context.
/// * **Result**: `T`, `Result<T, E>` (or an alias such as `io::Result<T>`),
///   or nothing (the script gets `null`). `T` implements `Serialize` and
///   `JsonSchema`; `E` converts into `outrigger::CallbackError`, which
///   reaches the script as a rejected promise with `code`, `message` and
///   `data`.
/// * **Doc comments** become the callback's description: its JSDoc in the
///   generated TypeScript and its description as an LLM tool.
///
/// `#[cfg(..)]` on a method applies to everything generated for it.
///
/// # Arguments of the attribute
///
/// * `#[outrigger::callbacks(namespace = "kv")]` puts every callback of the
///   block under `host.kv`: `host.kv.get({ key })`, wire name `kv.get`.
///
/// # What it generates
///
/// Next to the impl block, inside a `const _: () = { .. };`: per callback a
/// params struct deriving `Deserialize` and `JsonSchema` (one field per
/// argument, unknown fields denied), and the `CallbackSet` impl, whose
/// `declarations()` lists names, docs and schemas and whose `handlers()`
/// parse params, call the method on a shared `Arc<Self>` and serialize its
/// result. The user's crate needs no dependency but `outrigger`: the
/// generated code reaches serde and schemars through it.
#[proc_macro_attribute]
pub fn callbacks(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand::expand(attr.into(), item.clone().into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(expand::fallback(item.into()));
            tokens.into()
        }
    }
}
