//! Procedural macros of outrigger.
//!
//! This crate will hold `#[outrigger::callbacks]`, which turns the async methods
//! of an impl block into callbacks scripts can call as `await host.name({ .. })`.
//! The host crate already carries worker-to-host requests on the channel; the
//! macro and its registry are the next step (see ARCHITECTURE.md, "Callbacks").
