//! The Node.js engine: finding `node`, its command line, the sandbox
//! mapped onto Node's permission model, and what it says when it runs out
//! of memory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::memory::EngineOutOfMemory;
use super::preload_cache::PreloadCache;
use super::{runtime, spawn, Engine, EngineCommand, EngineSettings, Launch, ProcessLaunch};
use crate::error::Result;
use crate::paths::absolute_file;
use crate::sandbox::Sandbox;

/// The oldest Node.js major version the runtime supports.
const MIN_MAJOR: u32 = 20;

/// Builds the command line: the user's arguments, the sandbox's flags, the
/// flags the runtime needs, and the runtime itself as an ES module read
/// from stdin (so the permission model needs no file read for it).
pub(crate) async fn prepare(settings: &EngineSettings<'_>) -> Result<Launch> {
    let program = spawn::resolve_program(
        settings.program.unwrap_or(Path::new("node")),
        "install Node.js 20 or newer, or set the engine path with PoolBuilder::node",
    )?;
    // A heap size from the bound goes first, so that one the user passes
    // with `node_arg` wins; `Sandbox::max_heap_mb` comes after, and wins over both.
    let mut args = Vec::new();
    if settings.sandbox.heap_mb().is_none() {
        args.push(heap_flag(settings.memory_mb));
    }
    args.extend(settings.args.iter().cloned());
    let version = node_version(&program).await;
    args.extend(sandbox_flags(settings.sandbox, version, settings.project));
    args.extend(runtime_flags().iter().map(OsString::from));
    args.extend(version_flags(version).iter().map(OsString::from));
    let preload_cache = (!settings.cached_preloads.is_empty()).then(|| {
        Arc::new(PreloadCache::new(
            &program,
            &args,
            settings.project,
            settings.cached_preloads,
            settings.sandbox.permission_model_enabled(),
        ))
    });
    args.extend(["--input-type=module", "-"].map(OsString::from));
    let env = settings.worker_env();
    Ok(Launch::Process(ProcessLaunch {
        engine: Engine::Node,
        command: EngineCommand {
            program,
            args,
            env,
            stdin: Some(runtime::node_program_arc()),
        },
        min_major: MIN_MAJOR,
        out_of_memory,
        _private_dir: None,
        preload_cache,
    }))
}

/// The flags the runtime needs (vm modules, `import.meta.resolve` with a
/// parent, a worker realm that compiles no strings and whose intrinsics are
/// frozen), written once in `js-client/src/engine-flags.json` for the host
/// and the runtime's own tests.
fn runtime_flags() -> &'static [String] {
    static FLAGS: OnceLock<Vec<String>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Flags {
            node: Vec<String>,
        }
        let flags: Flags = serde_json::from_str(include_str!("../../runtime/engine-flags.json"))
            .expect("engine-flags.json is valid");
        flags.node
    })
}

/// The runtime's flags that depend on the engine's version: the async
/// context frame where Node.js has it but does not turn it on (22.7 to 23;
/// 24 and later use it by default). The runtime keeps which run code belongs
/// to in an `AsyncLocalStorage`; without the frame that storage works through
/// async hooks, which call into JavaScript for every promise made, in the
/// scripts' contexts too: an `await` costs several times as much
/// (BENCHMARKS.md, "What was found", 20).
fn version_flags(version: Option<(u32, u32)>) -> &'static [&'static str] {
    match version {
        Some((22, minor)) if minor >= 7 => &["--experimental-async-context-frame"],
        Some((23, _)) => &["--experimental-async-context-frame"],
        _ => &[],
    }
}

/// The sandbox as Node flags: the permission model (named for the engine's
/// version), the paths it grants, the heap size.
fn sandbox_flags(
    sandbox: &Sandbox,
    version: Option<(u32, u32)>,
    project: Option<&Path>,
) -> Vec<OsString> {
    let mut args = Vec::new();
    if sandbox.permission_model_enabled() {
        let flag = match version {
            Some((major, _)) if major < 22 => "--experimental-permission",
            _ => "--permission",
        };
        args.push(flag.into());
        for path in sandbox
            .read_paths()
            .iter()
            .chain(sandbox.write_paths())
            .map(PathBuf::as_path)
            .chain(project)
        {
            args.push(grant("--allow-fs-read=", path));
        }
        for path in sandbox.write_paths() {
            args.push(grant("--allow-fs-write=", path));
        }
    }
    if let Some(mib) = sandbox.heap_mb() {
        args.push(heap_flag(mib));
    }
    args
}

/// The heap's limit. Without `Sandbox::max_heap_mb` it is the bound on the
/// whole memory, so that V8 collects garbage against the bound rather than
/// against its own default (up to 4 GiB).
fn heap_flag(mib: u64) -> OsString {
    format!("--max-old-space-size={mib}").into()
}

/// Node.js (and Deno) out of memory: V8's fatal error through Node's
/// handler (`FATAL ERROR: Reached heap limit Allocation failed - JavaScript
/// heap out of memory`, or `Ineffective mark-compacts near heap limit`, at
/// the heap's limit; Deno says `# Fatal JavaScript out of memory:` with the
/// same reasons; `CALL_AND_RETRY_LAST`, `Committing semi space failed` and
/// the like when the system refused a page), V8's own `Fatal process out of
/// memory`, or a C++ allocation that threw `std::bad_alloc`. Scripts cannot
/// write to a worker's stderr, so these lines are the engine's.
pub(super) fn out_of_memory(line: &str) -> Option<EngineOutOfMemory> {
    let lower = line.to_ascii_lowercase();
    if !lower.contains("out of memory") && !lower.contains("std::bad_alloc") {
        return None;
    }
    Some(EngineOutOfMemory {
        heap_limit: line.contains("heap limit"),
        line: line.trim().to_owned(),
    })
}

fn grant(flag: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push(absolute_file(path));
    arg
}

/// The engine's major and minor version, from `<program> --version`
/// (`v22.3.0`); `None` when it does not answer like Node.js does. Asked once
/// per program file (by path, size and modification time): starting an
/// engine to ask costs tens of milliseconds of pool start-up.
async fn node_version(program: &Path) -> Option<(u32, u32)> {
    type Key = (PathBuf, u64, Option<std::time::SystemTime>);
    type Known = Vec<(Key, Option<(u32, u32)>)>;
    static KNOWN: std::sync::Mutex<Known> = std::sync::Mutex::new(Vec::new());
    let key: Key = match std::fs::metadata(program) {
        Ok(meta) => (program.to_path_buf(), meta.len(), meta.modified().ok()),
        Err(_) => (program.to_path_buf(), 0, None),
    };
    if let Some((_, version)) = KNOWN
        .lock()
        .unwrap()
        .iter()
        .find(|(known, _)| *known == key)
    {
        return *version;
    }
    let version = ask_node_version(program).await;
    KNOWN.lock().unwrap().push((key, version));
    version
}

async fn ask_node_version(program: &Path) -> Option<(u32, u32)> {
    let output = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(program)
            .arg("--version")
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    parse_version(&String::from_utf8_lossy(&output.stdout))
}

/// `v22.3.0` as `(22, 3)`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().strip_prefix('v')?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_node_prints() {
        assert_eq!(parse_version("v22.3.0\n"), Some((22, 3)));
        assert_eq!(parse_version("v20.20.2"), Some((20, 20)));
        assert_eq!(parse_version("1.2.3"), None);
        assert_eq!(parse_version("v24"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn asks_for_the_async_context_frame_where_node_has_it_off() {
        let asks = |version| !version_flags(version).is_empty();
        assert!(!asks(Some((20, 20))));
        assert!(!asks(Some((22, 6))));
        assert!(asks(Some((22, 7))));
        assert!(asks(Some((23, 11))));
        assert!(!asks(Some((24, 0))));
        assert!(!asks(None));
    }

    #[test]
    fn recognises_node_running_out_of_memory() {
        let at_limit =
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory";
        assert_eq!(
            out_of_memory(at_limit),
            Some(EngineOutOfMemory {
                heap_limit: true,
                line: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory".into(),
            })
        );
        let refused = "FATAL ERROR: Committing semi space failed. Allocation failed - JavaScript heap out of memory";
        assert!(out_of_memory(refused).is_some_and(|oom| !oom.heap_limit));
        assert!(out_of_memory("# Fatal process out of memory: Zone").is_some());
        let deno = "# Fatal JavaScript out of memory: Ineffective mark-compacts near heap limit";
        assert!(out_of_memory(deno).is_some_and(|oom| oom.heap_limit));
        assert_eq!(out_of_memory("<--- Last few GCs --->"), None);
        assert_eq!(out_of_memory("Segmentation fault"), None);
    }
}
