//! A light `node:fs` backed by SQLite: a [`FileStore`] keeping whole files
//! in one table, mounted at `/data` for scripts. Scripts use plain
//! `node:fs` (sync, callback or promise forms); the files outlive the pool:
//! a second pool, started after the first is shut down, reads what the
//! first one's scripts wrote.
//!
//! Run it with `cargo run --example sqlite_files [path/to/files.sqlite]`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use outrigger::{DirEntry, FileInfo, FileStore, Pool, Script};

/// A stored path under a directory: the rest of its path, and for a file
/// its size and modification time (milliseconds since the epoch).
type Stored = (String, Option<(u64, f64)>);

/// Files in SQLite: `files(path, data, modified)`, and the directories kept
/// while empty in `dirs(path)`.
struct SqliteFiles {
    db: Mutex<rusqlite::Connection>,
}

impl SqliteFiles {
    fn open(path: &Path) -> rusqlite::Result<SqliteFiles> {
        let db = rusqlite::Connection::open(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, data BLOB NOT NULL, modified REAL NOT NULL);
             CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY);",
        )?;
        Ok(SqliteFiles { db: Mutex::new(db) })
    }

    /// Every stored path under the directory `dir` ("" for the root), with
    /// whether it is a file and its size and time.
    fn under(&self, dir: &str) -> io::Result<Vec<Stored>> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let db = self.db.lock().unwrap();
        let mut rows = Vec::new();
        let mut files = db
            .prepare(
                "SELECT path, length(data), modified FROM files WHERE substr(path, 1, ?1) = ?2",
            )
            .map_err(io_error)?;
        let found = files
            .query_map((prefix.len() as i64, &prefix), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    Some((row.get::<_, i64>(1)? as u64, row.get(2)?)),
                ))
            })
            .map_err(io_error)?;
        for row in found {
            rows.push(row.map_err(io_error)?);
        }
        let mut dirs = db
            .prepare("SELECT path FROM dirs WHERE substr(path, 1, ?1) = ?2")
            .map_err(io_error)?;
        let found = dirs
            .query_map((prefix.len() as i64, &prefix), |row| {
                Ok((row.get::<_, String>(0)?, None))
            })
            .map_err(io_error)?;
        for row in found {
            rows.push(row.map_err(io_error)?);
        }
        Ok(rows
            .into_iter()
            .map(|(path, file)| (path[prefix.len()..].to_owned(), file))
            .collect())
    }
}

fn io_error(error: rusqlite::Error) -> io::Error {
    io::Error::other(error)
}

fn time_of(ms: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(ms / 1000.0)
}

impl FileStore for SqliteFiles {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let db = self.db.lock().unwrap();
        match db.query_row("SELECT data FROM files WHERE path = ?1", [path], |row| {
            row.get(0)
        }) {
            Ok(data) => Ok(Some(data)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(error) => Err(io_error(error)),
        }
    }

    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.db
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO files (path, data, modified) VALUES (?1, ?2, ?3)
                 ON CONFLICT(path) DO UPDATE SET data = excluded.data, modified = excluded.modified",
                (path, data, now.as_secs_f64() * 1000.0),
            )
            .map_err(io_error)?;
        Ok(())
    }

    fn list(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        let mut entries = std::collections::BTreeMap::new();
        for (rest, file) in self.under(path)? {
            match (rest.split_once('/'), file) {
                (Some((dir, _)), _) => {
                    entries.entry(dir.to_owned()).or_insert_with(FileInfo::dir);
                }
                (None, Some((size, modified))) => {
                    entries.insert(rest, FileInfo::file(size, Some(time_of(modified))));
                }
                (None, None) => {
                    entries.entry(rest).or_insert_with(FileInfo::dir);
                }
            }
        }
        Ok(entries
            .into_iter()
            .map(|(name, info)| DirEntry { name, info })
            .collect())
    }

    fn stat(&self, path: &str) -> io::Result<Option<FileInfo>> {
        {
            let db = self.db.lock().unwrap();
            let file = db.query_row(
                "SELECT length(data), modified FROM files WHERE path = ?1",
                [path],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, f64>(1)?)),
            );
            match file {
                Ok((size, modified)) => {
                    return Ok(Some(FileInfo::file(size, Some(time_of(modified)))))
                }
                Err(rusqlite::Error::QueryReturnedNoRows) => {}
                Err(error) => return Err(io_error(error)),
            }
            let kept: bool = db
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM dirs WHERE path = ?1)",
                    [path],
                    |row| row.get(0),
                )
                .map_err(io_error)?;
            if kept || path.is_empty() {
                return Ok(Some(FileInfo::dir()));
            }
        }
        Ok((!self.under(path)?.is_empty()).then(FileInfo::dir))
    }

    fn remove(&self, path: &str) -> io::Result<bool> {
        let db = self.db.lock().unwrap();
        let files = db
            .execute("DELETE FROM files WHERE path = ?1", [path])
            .map_err(io_error)?;
        let dirs = db
            .execute("DELETE FROM dirs WHERE path = ?1", [path])
            .map_err(io_error)?;
        Ok(files + dirs > 0)
    }

    fn create_dir(&self, path: &str) -> io::Result<()> {
        self.db
            .lock()
            .unwrap()
            .execute("INSERT OR IGNORE INTO dirs (path) VALUES (?1)", [path])
            .map_err(io_error)?;
        Ok(())
    }
}

/// What a script does with the files: count its visits, keep a journal.
const VISIT: &str = r#"
import fs from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
fs.mkdirSync('/data/journal', { recursive: true });
const count = fs.existsSync('/data/count.txt') ? Number(fs.readFileSync('/data/count.txt', 'utf8')) + 1 : 1;
fs.writeFileSync('/data/count.txt', String(count));
await appendFile('/data/journal/visits.log', `visit ${count}\n`);
export default { count, journal: (await readFile('/data/journal/visits.log', 'utf8')).trim().split('\n'), files: fs.readdirSync('/data').sort() };
"#;

async fn visit(db: &Path) -> outrigger::Result<serde_json::Value> {
    let store = SqliteFiles::open(db).map_err(|e| outrigger::Error::InvalidInput(e.to_string()))?;
    let pool = Pool::builder()
        .workers(1)
        .mount("/data", store)
        .build()
        .await?;
    let out = pool.run(Script::module(VISIT)).await?;
    pool.shutdown().await;
    Ok(out.value)
}

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let db = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "outrigger-sqlite-files-{}.sqlite",
                std::process::id()
            ))
        });
    let _ = std::fs::remove_file(&db);
    // Two pools, one after the other: the second reads what the first wrote.
    let first = visit(&db).await?;
    let second = visit(&db).await?;
    println!("first pool:  {first}");
    println!("second pool: {second}");
    assert_eq!(second["count"], 2);
    assert_eq!(second["journal"], serde_json::json!(["visit 1", "visit 2"]));
    assert_eq!(second["files"], serde_json::json!(["count.txt", "journal"]));
    let _ = std::fs::remove_file(&db);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The example is a test too: the files survive a pool restart.
    #[test]
    fn files_survive_a_pool_restart() {
        super::main().expect("the sqlite_files example runs");
    }
}
