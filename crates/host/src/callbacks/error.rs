//! The error a callback returns, as the script sees it.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::wire::codes;

/// The error a callback returns; it reaches the script as a rejected
/// promise whose `Error` has `code`, `message` and `data`.
///
/// Implement `From<YourError> for CallbackError` to return your own error
/// type from callbacks.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl CallbackError {
    /// An error with the default code ([`codes::CALLBACK_FAILED`]).
    pub fn new(message: impl Into<String>) -> Self {
        CallbackError {
            code: codes::CALLBACK_FAILED,
            message: message.into(),
            data: None,
        }
    }

    /// Sets the JSON-RPC error code the script sees as `error.code`.
    pub fn with_code(mut self, code: i64) -> Self {
        self.code = code;
        self
    }

    /// Attaches data the script sees as `error.data`.
    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).ok();
        self
    }

    /// The error code.
    pub fn code(&self) -> i64 {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The attached data.
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for CallbackError {}

impl From<String> for CallbackError {
    fn from(message: String) -> Self {
        CallbackError::new(message)
    }
}

impl From<&str> for CallbackError {
    fn from(message: &str) -> Self {
        CallbackError::new(message)
    }
}

impl From<std::io::Error> for CallbackError {
    fn from(error: std::io::Error) -> Self {
        CallbackError::new(error.to_string())
    }
}

impl From<serde_json::Error> for CallbackError {
    fn from(error: serde_json::Error) -> Self {
        CallbackError::new(error.to_string())
    }
}

impl From<Error> for CallbackError {
    fn from(error: Error) -> Self {
        CallbackError::new(error.to_string())
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for CallbackError {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        CallbackError::new(error.to_string())
    }
}
