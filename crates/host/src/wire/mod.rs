//! The wire protocol between the host and a worker: JSON-RPC 2.0, one JSON
//! text per line, both ways. The only place method names, params and error
//! codes are spelled.
//!
//! The host sends requests (`methods`: `init`, `run`, `call`,
//! `module.load`, `session.open`, `ping`, `stats`) and notifications
//! (`cancel`, `session.close`, `module.unload`, `shutdown`). The worker
//! answers them, and sends notifications of its own (`log`, `event`) and
//! requests for callbacks. Values travel as raw JSON text: a result is handed
//! on without being parsed into an intermediate tree. The worker's side of
//! this is `js-client/src`; its error codes are checked against [`codes`] by
//! a test.

mod answers;
pub mod codes;
mod decode;
mod encode;
mod errors;
mod frame;
pub(crate) mod methods;

pub use answers::WorkerStats;
pub(crate) use answers::{Hello, Loaded};
pub(crate) use decode::{CallbackCall, Incoming, RpcError};
pub(crate) use encode::{attachable, error_response, json_string, notification, request, response};
pub(crate) use errors::{into_error, is_memory_limit};
pub use frame::decode_stream;
pub(crate) use frame::{large_frame, line_limit, split_messages};

/// The protocol version the embedded worker runtime speaks.
pub(crate) const PROTOCOL_VERSION: u32 = 1;
