// The protocol's version and error codes, shared with the host
// (crates/host/src/wire/codes.rs checks this table against its own: keep one entry a line).

/** Version of the wire protocol; the host checks it at start-up. */
export const PROTOCOL_VERSION = 1;

/** JSON-RPC error codes, by their names on the Rust side. */
export const CODES = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  SCRIPT_ERROR: -32000,
  TIMEOUT: -32001,
  CANCELLED: -32002,
  WORKER_EXITED: -32003,
  OVERLOADED: -32004,
  CALLBACK_FAILED: -32005,
  NON_JSON: -32006,
  UNKNOWN_SCRIPT: -32007,
  NOT_FOUND: -32008,
  LIMIT: -32009,
  IMPORT: -32010,
  NOT_STARTED: -32011,
  EXIT: -32012,
  DENIED: -32013,
  APPROVAL_DENIED: -32014,
});
