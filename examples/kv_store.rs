//! Scripts that keep state: `host.kv.get/set/list` callbacks backed by a real
//! SQLite database. The state outlives the pool: a second pool, started after
//! the first is shut down, sees what the first one's scripts wrote.
//!
//! Run it with `cargo run --example kv_store [path/to/db.sqlite]`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outrigger::{CallbackError, Pool, Script};
use serde_json::Value;

/// A key-value store in one SQLite table.
struct KvStore {
    db: Arc<Mutex<rusqlite::Connection>>,
}

/// What can go wrong in the store; scripts see it as a rejected promise.
#[derive(Debug)]
struct KvError(String);

impl From<KvError> for CallbackError {
    fn from(error: KvError) -> Self {
        CallbackError::new(error.0).with_code(500)
    }
}

impl KvStore {
    fn open(path: &Path) -> rusqlite::Result<Self> {
        let db = rusqlite::Connection::open(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )?;
        Ok(KvStore {
            db: Arc::new(Mutex::new(db)),
        })
    }

    /// Runs a query on a blocking thread, as SQLite calls block.
    async fn with_db<T: Send + 'static>(
        &self,
        query: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, KvError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || query(&db.lock().unwrap()))
            .await
            .map_err(|e| KvError(format!("the query task failed: {e}")))?
            .map_err(|e| KvError(format!("database error: {e}")))
    }
}

#[outrigger::callbacks(namespace = "kv")]
impl KvStore {
    /// Read the value stored under `key` (`null` when there is none).
    async fn get(&self, key: String) -> Result<Option<Value>, KvError> {
        let text: Option<String> = self
            .with_db(move |db| {
                let mut statement = db.prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
                let mut rows = statement.query([key])?;
                rows.next()?.map(|row| row.get(0)).transpose()
            })
            .await?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| KvError(e.to_string())))
            .transpose()
    }

    /// Store `value` (any JSON) under `key`.
    async fn set(&self, key: String, value: Value) -> Result<(), KvError> {
        let text = value.to_string();
        self.with_db(move |db| {
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, text],
            )
            .map(|_| ())
        })
        .await
    }

    /// The keys that start with `prefix` (all keys without one), sorted.
    async fn list(&self, prefix: Option<String>) -> Result<Vec<String>, KvError> {
        let pattern = format!(
            "{}%",
            prefix
                .unwrap_or_default()
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.with_db(move |db| {
            let mut statement =
                db.prepare_cached("SELECT key FROM kv WHERE key LIKE ?1 ESCAPE '\\' ORDER BY key")?;
            let keys = statement.query_map([pattern], |row| row.get(0))?.collect();
            keys
        })
        .await
    }
}

/// A script a user might write: count its visits and keep a log of notes.
const VISIT: &str = r#"
const visits = ((await host.kv.get({ key: "visits" })) ?? 0) + 1;
await host.kv.set({ key: "visits", value: visits });
await host.kv.set({ key: `note:${String(visits).padStart(3, "0")}`, value: { text: note, at: visits } });
const notes = await host.kv.list({ prefix: "note:" });
console.log(`visit ${visits}, ${notes.length} notes so far`);
export default { visits, notes };
"#;

async fn start_pool(db: &Path) -> outrigger::Result<Pool> {
    let store = KvStore::open(db).map_err(|e| outrigger::Error::InvalidInput(e.to_string()))?;
    Pool::builder()
        .workers(1)
        .timeout(Duration::from_secs(5))
        .callbacks(store)
        .build()
        .await
}

async fn run(db: PathBuf) -> outrigger::Result<()> {
    println!("database: {}", db.display());
    println!(
        "\nscripts see:\n{}",
        outrigger::Declarations::new()
            .with::<KvStore>()
            .typescript()?
    );

    // First pool: two visits.
    let pool = start_pool(&db).await?;
    for note in ["first", "second"] {
        let out = pool
            .run(Script::module(VISIT).name("visit.mjs").global("note", note))
            .await?;
        println!("{} -> {}", out.logs[0].message(), out.value);
    }
    pool.shutdown().await;
    drop(pool);

    // A new pool on the same database sees the state.
    let pool = start_pool(&db).await?;
    let out = pool
        .run(
            Script::module(VISIT)
                .name("visit.mjs")
                .global("note", "after restart"),
        )
        .await?;
    println!("{} -> {}", out.logs[0].message(), out.value);
    assert_eq!(out.value["visits"], 3, "the state survived the restart");
    assert_eq!(
        out.value["notes"],
        serde_json::json!(["note:001", "note:002", "note:003"])
    );
    let first: Value = pool.eval(r#"host.kv.get({ key: "note:001" })"#).await?;
    assert_eq!(first["text"], "first");
    pool.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let db = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => {
            let path =
                std::env::temp_dir().join(format!("outrigger-kv-{}.sqlite", std::process::id()));
            let _ = std::fs::remove_file(&path);
            path
        }
    };
    run(db).await
}

#[cfg(test)]
mod tests {
    /// The example is a test too, on a database of its own.
    #[tokio::test]
    async fn state_survives_a_pool_restart() {
        let db =
            std::env::temp_dir().join(format!("outrigger-kv-test-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&db);
        super::run(db.clone()).await.expect("the example runs");
        std::fs::remove_file(&db).unwrap();
    }
}
