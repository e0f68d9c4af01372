//! Host file stores mounted into the scripts' `node:fs`
//! (`PoolBuilder::mount`): the same file work through a mount and through
//! plain Node.js on a real directory gives the same answers; the state is
//! the store's, shared by every run and worker; errors of the store reach
//! scripts as Node errors; bad mount points fail `build()`.

mod common;

use std::io;
use std::sync::Arc;

use outrigger::{DirEntry, Error, FileInfo, FileStore, MemoryStore, Script};
use serde_json::{json, Value};

/// File work a script does in `DIR`, summarized with `DIR` cut out of paths.
const WORK: &str = r#"
const summary = [];
const rel = (p) => String(p).split(DIR).join('$DIR');
const attempt = (what, fn) => { try { summary.push([what, fn()]); } catch (e) { summary.push([what, e instanceof Error, e.code, e.syscall, rel(e.path)]); } };
fs.mkdirSync(path.join(DIR, 'a/b'), { recursive: true });
summary.push(['mkdir again', fs.mkdirSync(path.join(DIR, 'a/b'), { recursive: true }) ?? null]);
fs.writeFileSync(path.join(DIR, 'a/b/one.txt'), 'one');
fs.appendFileSync(path.join(DIR, 'a/b/one.txt'), '+more');
await fs.promises.writeFile(path.join(DIR, 'a/two.json'), JSON.stringify({ two: 2 }));
await new Promise((resolve, reject) => fs.writeFile(path.join(DIR, 'three.bin'), new Uint8Array([0, 1, 2, 255]), (e) => (e ? reject(e) : resolve())));
const bytes = fs.readFileSync(path.join(DIR, 'three.bin'));
summary.push(['bytes', [...bytes], bytes instanceof Uint8Array, Buffer.isBuffer(bytes)]);
summary.push(['text', fs.readFileSync(path.join(DIR, 'a/b/one.txt'), 'utf8')]);
summary.push(['json', JSON.parse(await fs.promises.readFile(path.join(DIR, 'a/two.json'), 'utf8'))]);
summary.push(['list', fs.readdirSync(DIR).sort(), fs.readdirSync(path.join(DIR, 'a'), { withFileTypes: true })
  .map((d) => [d.name, d.isFile(), d.isDirectory(), rel(d.parentPath)]).sort()]);
summary.push(['recursive', fs.readdirSync(DIR, { recursive: true }).sort()]);
const stat = fs.statSync(path.join(DIR, 'a/b/one.txt'));
summary.push(['stat', stat.size, stat.isFile(), stat.isDirectory(), fs.statSync(path.join(DIR, 'a')).isDirectory(), stat.mtime instanceof Date]);
summary.push(['no entry', fs.statSync(path.join(DIR, 'nope'), { throwIfNoEntry: false }) ?? null]);
fs.renameSync(path.join(DIR, 'a/two.json'), path.join(DIR, 'two.json'));
fs.copyFileSync(path.join(DIR, 'two.json'), path.join(DIR, 'copy.json'));
attempt('copy excl', () => fs.copyFileSync(path.join(DIR, 'two.json'), path.join(DIR, 'copy.json'), fs.constants.COPYFILE_EXCL));
fs.unlinkSync(path.join(DIR, 'two.json'));
summary.push(['exists', fs.existsSync(path.join(DIR, 'two.json')), fs.existsSync(path.join(DIR, 'copy.json')), fs.existsSync(DIR)]);
const fd = fs.openSync(path.join(DIR, 'fd.txt'), 'w+');
fs.writeSync(fd, 'hello fd');
fs.writeSync(fd, Buffer.from('!!'), 0, 2, 20);
const back = Buffer.alloc(8);
summary.push(['read', fs.readSync(fd, back, 0, 8, 0), back.toString(), fs.fstatSync(fd).size]);
fs.closeSync(fd);
summary.push(['fd file', [...fs.readFileSync(path.join(DIR, 'fd.txt'))]]);
const appending = fs.openSync(path.join(DIR, 'fd.txt'), 'a');
fs.writeSync(appending, 'tail');
fs.closeSync(appending);
summary.push(['appended', fs.readFileSync(path.join(DIR, 'fd.txt')).subarray(-6).toString('latin1')]);
const handle = await fs.promises.open(path.join(DIR, 'a/b/one.txt'), 'r');
const { bytesRead } = await handle.read(Buffer.alloc(3), 0, 3, 0);
summary.push(['handle', bytesRead, (await handle.stat()).size, await handle.readFile('utf8')]);
await handle.close();
const chunks = [];
for await (const chunk of fs.createReadStream(path.join(DIR, 'a/b/one.txt'), { highWaterMark: 3 })) chunks.push(chunk.toString());
summary.push(['stream', chunks.join(''), chunks.length]);
await new Promise((resolve, reject) => {
  const out = fs.createWriteStream(path.join(DIR, 'streamed.txt'));
  out.on('error', reject);
  out.on('finish', resolve);
  out.write('a');
  out.write(Buffer.from('b'));
  out.end('c');
});
await new Promise((resolve) => setTimeout(resolve, 20));
summary.push(['written', fs.readFileSync(path.join(DIR, 'streamed.txt'), 'utf8')]);
attempt('missing', () => fs.readFileSync(path.join(DIR, 'nope')));
attempt('a directory', () => fs.readFileSync(path.join(DIR, 'a')));
attempt('not a directory', () => fs.readdirSync(path.join(DIR, 'copy.json')));
attempt('exists already', () => fs.mkdirSync(path.join(DIR, 'a')));
attempt('no parent', () => fs.mkdirSync(path.join(DIR, 'x/y')));
attempt('not empty', () => fs.rmdirSync(path.join(DIR, 'a')));
attempt('exclusive', () => fs.writeFileSync(path.join(DIR, 'copy.json'), 'x', { flag: 'wx' }));
attempt('unlink a directory', () => fs.unlinkSync(path.join(DIR, 'a')));
attempt('rm a directory', () => fs.rmSync(path.join(DIR, 'a')));
summary.push(['rejected', await fs.promises.stat(path.join(DIR, 'nope')).catch((e) => [e instanceof Error, e.code])]);
summary.push(['callback error', await new Promise((resolve) => fs.readFile(path.join(DIR, 'nope'), (e) => resolve(e.code)))]);
fs.mkdirSync(path.join(DIR, 'empty'));
summary.push(['empty dir', fs.readdirSync(path.join(DIR, 'empty')), fs.statSync(path.join(DIR, 'empty')).isDirectory()]);
fs.rmdirSync(path.join(DIR, 'empty'));
fs.rmSync(path.join(DIR, 'a'), { recursive: true });
fs.rmSync(path.join(DIR, 'nope'), { force: true });
summary.push(['after rm', fs.readdirSync(DIR).sort()]);
const temp = fs.mkdtempSync(path.join(DIR, 'tmp-'));
summary.push(['mkdtemp', /^\$DIR\/tmp-.{6}$/.test(rel(temp)), fs.statSync(temp).isDirectory()]);
fs.renameSync(path.join(DIR, 'copy.json'), path.join(temp, 'moved.json'));
fs.renameSync(temp, path.join(DIR, 'renamed'));
summary.push(['moved', fs.readdirSync(path.join(DIR, 'renamed')), fs.readFileSync(path.join(DIR, 'renamed/moved.json'), 'utf8')]);
"#;

fn module(dir: &str) -> String {
    format!(
        "import fs from 'node:fs';\nimport path from 'node:path';\nconst DIR = {dir:?};\n{WORK}\nexport default summary;"
    )
}

/// WORK in plain Node.js, in a fresh directory; its summary.
fn in_plain_node() -> Value {
    let dir = std::env::temp_dir().join(format!("outrigger-mounts-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.display().to_string();
    let program = format!(
        "import fs from 'node:fs';\nimport path from 'node:path';\nconst DIR = {dir:?};\n{WORK}\nprocess.stdout.write(JSON.stringify(summary));"
    );
    let node = std::env::var_os("OUTRIGGER_TEST_NODE").unwrap_or_else(|| "node".into());
    let out = std::process::Command::new(node)
        .args(["--input-type=module", "-e", &program])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn file_work_under_a_mount_answers_as_a_real_directory_does() {
    not_on_deno!("mounts are refused on Deno (a_mount_on_deno_fails_build_saying_so)");
    let expected = in_plain_node();
    let pool = common::builder()
        .mount("/data", MemoryStore::new())
        .build()
        .await
        .unwrap();
    let out = pool.run(Script::module(module("/data"))).await.unwrap();
    assert_eq!(out.value, expected);
    // Nested under a mount's directory, as a real one would be.
    let out = pool.run(Script::module(module("/data/deeper"))).await;
    let value = out.unwrap().value;
    assert_eq!(value[0], expected[0]);
}

#[tokio::test]
async fn runs_and_workers_share_the_store_and_the_host_sees_it() {
    not_on_deno!("mounts are refused on Deno (a_mount_on_deno_fails_build_saying_so)");
    let store = Arc::new(MemoryStore::new());
    let pool = common::builder()
        .workers(2)
        .mount("/shared", store.clone())
        .build()
        .await
        .unwrap();
    let writes: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(Script::module(format!(
                    "import fs from 'node:fs/promises';\nawait fs.writeFile('/shared/{i}.txt', 'run {i}');\nexport default 1;"
                )))
                .await
            })
        })
        .collect();
    for write in writes {
        write.await.unwrap().unwrap();
    }
    let listed: Vec<String> = pool
        .eval("import('node:fs').then((fs) => fs.readdirSync('/shared').sort())")
        .await
        .unwrap();
    assert_eq!(listed.len(), 8);
    assert_eq!(store.read("3.txt").unwrap().unwrap(), b"run 3");
    // What the host writes, scripts read.
    store
        .write("from-host.txt", "hello script".as_bytes())
        .unwrap();
    let read: String = pool
        .eval("import('node:fs').then((fs) => fs.readFileSync('/shared/from-host.txt', 'utf8'))")
        .await
        .unwrap();
    assert_eq!(read, "hello script");
}

#[tokio::test]
async fn bytes_of_every_value_and_large_files_round_trip() {
    not_on_deno!("mounts are refused on Deno (a_mount_on_deno_fails_build_saying_so)");
    let store = Arc::new(MemoryStore::new());
    let pool = common::builder()
        .mount("/bin", store.clone())
        .build()
        .await
        .unwrap();
    let every: Vec<u8> = (0..=255).collect();
    store.write("every.bin", &every).unwrap();
    let out = pool
        .run(Script::module(
            "import fs from 'node:fs';\nconst b = fs.readFileSync('/bin/every.bin');\nfs.writeFileSync('/bin/big.bin', Buffer.alloc(5 * 1024 * 1024, 7));\nexport default [...b];",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, json!(every));
    let big = store.read("big.bin").unwrap().unwrap();
    assert_eq!(big.len(), 5 * 1024 * 1024);
    assert!(big.iter().all(|&b| b == 7));
}

#[tokio::test]
async fn a_file_left_open_is_written_back_when_its_run_ends() {
    not_on_deno!("mounts are refused on Deno (a_mount_on_deno_fails_build_saying_so)");
    let store = Arc::new(MemoryStore::new());
    let pool = common::builder()
        .mount("/data", store.clone())
        .build()
        .await
        .unwrap();
    pool.run(Script::module(
        "import fs from 'node:fs';\nconst fd = fs.openSync('/data/left-open.txt', 'w');\nfs.writeSync(fd, 'kept');\nexport default fd > 0;",
    ))
    .await
    .unwrap();
    assert!(
        common::eventually(std::time::Duration::from_secs(5), || {
            store.read("left-open.txt").unwrap().as_deref() == Some(b"kept".as_slice())
        })
        .await
    );
}

/// A store whose every call fails: to see how its errors reach scripts.
struct FailingStore(io::ErrorKind);

impl FileStore for FailingStore {
    fn read(&self, _: &str) -> io::Result<Option<Vec<u8>>> {
        Err(io::Error::new(self.0, "the disk is on fire"))
    }
    fn write(&self, _: &str, _: &[u8]) -> io::Result<()> {
        Err(io::Error::new(self.0, "the disk is on fire"))
    }
    fn list(&self, _: &str) -> io::Result<Vec<DirEntry>> {
        Err(io::Error::new(self.0, "the disk is on fire"))
    }
    fn stat(&self, _: &str) -> io::Result<Option<FileInfo>> {
        Err(io::Error::new(self.0, "the disk is on fire"))
    }
    fn remove(&self, _: &str) -> io::Result<bool> {
        Err(io::Error::new(self.0, "the disk is on fire"))
    }
}

#[tokio::test]
async fn a_failing_store_reaches_scripts_as_node_errors_and_the_pool_serves_on() {
    not_on_deno!("mounts are refused on Deno (a_mount_on_deno_fails_build_saying_so)");
    let pool = common::builder()
        .mount("/io", FailingStore(io::ErrorKind::Other))
        .mount("/locked", FailingStore(io::ErrorKind::PermissionDenied))
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module(
            "import fs from 'node:fs';\nconst codes = [];\nfor (const p of ['/io/x', '/locked/x']) { try { fs.readFileSync(p); } catch (e) { codes.push([e instanceof Error, e.code, e.message]); } }\nexport default codes;",
        ))
        .await
        .unwrap();
    assert_eq!(out.value[0][0], json!(true));
    assert_eq!(out.value[0][1], json!("EIO"));
    assert!(out.value[0][2]
        .as_str()
        .unwrap()
        .contains("the disk is on fire"));
    assert_eq!(out.value[1][1], json!("EACCES"));
    // Uncaught, it is the script's error, with the code in its message.
    let error = pool
        .run(Script::module(
            "import fs from 'node:fs';\nfs.writeFileSync('/io/y', 'x');",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Script { message, .. } if message.contains("EIO")),
        "{error:?}"
    );
    assert_eq!(pool.eval::<i64>("1 + 1").await.unwrap(), 2);
}

#[tokio::test]
async fn a_mount_is_not_a_grant_of_the_real_file_system() {
    not_on_deno!("mounts are refused on Deno (a_mount_on_deno_fails_build_saying_so)");
    // `/etc` mounted: the host's /etc is not what scripts read there.
    let pool = common::builder()
        .mount("/etc", MemoryStore::new())
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module(
            "import fs from 'node:fs';\nexport default [fs.existsSync('/etc/passwd'), fs.readdirSync('/etc')];",
        ))
        .await
        .unwrap();
    assert_eq!(out.value, json!([false, []]));
    // Outside the mount the sandbox decides, as ever.
    let error = pool
        .run(Script::module("import fs from 'node:fs';\nexport default fs.readFileSync('/usr/lib/os-release', 'utf8');"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Denied { .. }), "{error:?}");
}

#[tokio::test]
async fn bad_mount_points_fail_build_naming_the_setting() {
    for (points, why) in [
        (&["data"][..], "absolute"),
        (&["/"][..], "absolute"),
        (&["/data/"][..], "normalized"),
        (&["/a/../b"][..], "normalized"),
        (&["/data", "/data/inner"][..], "overlaps"),
    ] {
        let mut builder = common::builder();
        for point in points {
            builder = builder.mount(*point, MemoryStore::new());
        }
        match builder.build().await {
            Err(Error::InvalidInput(message)) => {
                assert!(message.contains("PoolBuilder::mount"), "{message}");
                assert!(message.contains(why), "{points:?}: {message}");
            }
            other => panic!("{points:?}: expected InvalidInput, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_mount_on_deno_fails_build_saying_so() {
    let error = common::builder()
        .engine(outrigger::Engine::Deno)
        .engine_path(common::deno_program())
        .mount("/data", MemoryStore::new())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(m) if m.contains("PoolBuilder::mount") && m.contains("Deno")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_mount_on_bun_fails_build_saying_so() {
    let error = outrigger::Pool::builder()
        .engine(outrigger::Engine::Bun)
        .engine_path(common::bun_program())
        .sandbox(outrigger::Sandbox::none())
        .mount("/data", MemoryStore::new())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(m) if m.contains("PoolBuilder::mount") && m.contains("Bun")),
        "{error:?}"
    );
}
