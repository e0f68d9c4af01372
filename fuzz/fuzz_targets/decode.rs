//! The host's decoder of worker messages: line framing, UTF-8, JSON-RPC
//! envelopes, log and event params. Whatever a worker writes, the host must
//! not panic; what it cannot decode ends that worker with a `Protocol` error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small limit, so that the oversized-frame path is reached too.
    let _ = outrigger_host::protocol::decode_stream(data, 4096);
});
