//! What a run gives back: its value ([`Output`]), its console calls
//! ([`LogEntry`]) and the events it emitted ([`Event`]).

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a finished run gives back.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The script's value (an expression's completion value, a module's
    /// default export), as JSON. `undefined` becomes `null`. A binary value
    /// (`Uint8Array`, `ArrayBuffer`, `Buffer`) stands here as a placeholder
    /// `{"$bytes": n}`, its bytes in `binary[n]`; [`Output::value_as`] reads
    /// through placeholders.
    pub value: serde_json::Value,
    /// The bytes of the binary values in `value`, which crossed as raw
    /// frames rather than as JSON.
    pub binary: Vec<Bytes>,
    /// Every console call the run made, in order.
    pub logs: Vec<LogEntry>,
    /// Every event the run emitted with `host.emit`, in order.
    pub events: Vec<Event>,
    /// How long the run waited for approvals of its callback calls, its
    /// timeout clock paused meanwhile (see [`Approver`](crate::Approver)).
    pub approval_wait: std::time::Duration,
}

/// The level of a console call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogLevel {
    /// `console.log`, `console.dir`, `console.table`
    Log,
    /// `console.info`, `console.count`, `console.timeEnd`
    Info,
    /// `console.warn`
    Warn,
    /// `console.error`, `console.assert`
    Error,
    /// `console.debug`
    Debug,
    /// `console.trace`
    Trace,
}

/// One console call of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Which console method was called.
    pub level: LogLevel,
    /// The arguments: JSON where they can be, otherwise a readable rendering
    /// as a string (functions, errors, cycles, ...).
    pub args: Vec<serde_json::Value>,
}

impl LogEntry {
    /// The arguments joined by spaces as `console.log` prints them: strings
    /// as they are, anything else as JSON.
    pub fn message(&self) -> String {
        let mut out = String::new();
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match arg {
                serde_json::Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            }
        }
        out
    }
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}] {}", self.level, self.message())
    }
}

/// Where in the script a call was made: the innermost frame of the user's
/// code (the script, or a file it imported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSite {
    /// The script's name or the file's path.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A one-way message a script sent with `host.emit(name, data)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's name.
    pub name: String,
    /// Its data (`null` when none was given), binary values standing as
    /// placeholders `{"$bytes": n}` (see [`Output::value`]).
    pub data: serde_json::Value,
    /// The bytes of the binary values in `data`.
    #[serde(skip)]
    pub binary: Vec<Bytes>,
}

impl Output {
    /// Reads the value as a `T`, binary values included: a placeholder
    /// reads as bytes (`Vec<u8>`, [`Bytes`], `serde_bytes`).
    ///
    /// ```no_run
    /// # async fn demo(pool: &outrigger_host::Pool) -> outrigger_host::Result<()> {
    /// let output = pool
    ///     .run(outrigger_host::Script::expression("new TextEncoder().encode('hi')"))
    ///     .await?;
    /// let bytes: Vec<u8> = output.value_as()?;
    /// assert_eq!(bytes, b"hi");
    /// # Ok(()) }
    /// ```
    pub fn value_as<T: DeserializeOwned>(&self) -> Result<T> {
        crate::binary::from_value(&self.value, &self.binary).map_err(Error::Deserialize)
    }
}

impl Event {
    /// Reads the data as a `T`, binary values included (see
    /// [`Output::value_as`]).
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T> {
        crate::binary::from_value(&self.data, &self.binary).map_err(Error::Deserialize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_messages_join_like_console() {
        let entry = LogEntry {
            level: LogLevel::Log,
            args: vec!["count".into(), 3.into(), serde_json::json!({"a": 1})],
        };
        assert_eq!(entry.message(), r#"count 3 {"a":1}"#);
    }
}
