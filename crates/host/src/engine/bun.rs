//! The Bun engine: finding `bun` and its command line. Bun runs the same
//! runtime program as Node.js through its Node compatibility (`node:vm`
//! contexts and modules are there), read from stdin; only the channel is
//! opened Bun's own way (`js-client/src/03_channel.mjs`).
//!
//! Bun is an engine for trusted code only: it has no permissions to map the
//! sandbox onto, and no way to stop code generation from strings, so a
//! script reaches the whole worker process. `PoolBuilder::build` refuses it
//! unless the sandbox says so (`Sandbox::none`); SECURITY.md has the why.
//! What it must still not do on its own is fetch code or read settings
//! found around the working directory: `--no-install` stops auto-install
//! from npm, `--no-env-file` keeps `.env` files out of the worker's
//! environment, and the transpiler's cache and crash reports are off.

use std::ffi::OsString;
use std::path::Path;

use super::{node, runtime, spawn, Engine, EngineCommand, EngineSettings, Launch, ProcessLaunch};
use crate::error::Result;

/// The oldest Bun major version the runtime supports.
const MIN_MAJOR: u32 = 1;

/// Builds the command line: `bun run`, the flags that keep Bun from
/// fetching code or reading files around it, the user's arguments
/// (`bun run` flags), and the runtime read from stdin. The names of the
/// environment variables the worker is given follow as the program's
/// arguments: `bun run` adds variables of its own (`npm_*`, a `PATH` with
/// its own directory first), so the runtime reads the user's by name.
///
/// Bun's engine (JavaScriptCore) has no flag for the heap's size:
/// `Sandbox::max_heap_mb` is refused (by `PoolBuilder::build`), and the
/// bound on the whole memory (`Sandbox::max_memory_mb`) holds it as it holds
/// any process, with the kernel's data limit, a cgroup, or sampling.
pub(crate) async fn prepare(settings: &EngineSettings<'_>) -> Result<Launch> {
    let program = spawn::resolve_program(
        settings.program.unwrap_or(Path::new("bun")),
        "install Bun 1 or newer (the npm package `bun` holds it as \
         node_modules/bun/bin/bun.exe), or set the engine path with PoolBuilder::engine_path",
    )?;
    let mut args: Vec<OsString> = ["run", "--no-install", "--no-env-file"]
        .map(OsString::from)
        .to_vec();
    args.extend(settings.args.iter().cloned());
    args.push("-".into());
    let env = settings.worker_env();
    args.extend(super::env_names(&env));
    let env = env
        .into_iter()
        .chain([
            ("BUN_RUNTIME_TRANSPILER_CACHE_PATH".into(), "0".into()),
            ("DO_NOT_TRACK".into(), "1".into()),
        ])
        .collect();
    Ok(Launch::Process(ProcessLaunch {
        engine: Engine::Bun,
        command: EngineCommand {
            program,
            args,
            env,
            stdin: Some(runtime::program_arc()),
        },
        min_major: MIN_MAJOR,
        // JavaScriptCore's own words differ, but it says "out of memory" too.
        out_of_memory: node::out_of_memory,
        _private_dir: None,
        preload_cache: None,
    }))
}
