//! Binary data in and out of scripts, as raw bytes: never base64, never an
//! array of numbers.
//!
//! An upload service hands each file to a user-written script as a
//! `Uint8Array`. The script checks its magic number, hashes it with
//! `crypto.subtle`, keeps a copy through a Rust callback (which gets a
//! `Vec<u8>`), and returns a thumbnail-sized prefix as bytes along with
//! JSON. Rust reads the result into its own struct, `Bytes` included.
//!
//! ```sh
//! cargo run --example binary
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outrigger::{Bytes, CallbackError, Pool, Script};
use serde::Deserialize;

/// Where scripts keep blobs.
#[derive(Default, Clone)]
struct Blobs {
    stored: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

#[outrigger::callbacks]
impl Blobs {
    /// Keeps `data` under `key`; returns how many bytes were kept.
    async fn put(&self, key: String, data: Vec<u8>) -> Result<usize, CallbackError> {
        let len = data.len();
        self.stored.lock().unwrap().insert(key, data);
        Ok(len)
    }

    /// The bytes kept under `key`.
    async fn get(&self, key: String) -> Result<Bytes, CallbackError> {
        let stored = self.stored.lock().unwrap();
        let data = stored
            .get(&key)
            .ok_or_else(|| CallbackError::new(format!("no blob `{key}`")).with_code(404))?;
        Ok(Bytes::from(data.clone()))
    }
}

/// What the script reports for one upload.
#[derive(Debug, Deserialize)]
struct Report {
    kind: String,
    sha256: Bytes,
    preview: Bytes,
    kept: usize,
}

const CHECK: &str = r#"
const kinds = { '89504e47': 'png', 'ffd8ffe0': 'jpeg', '25504446': 'pdf' };
const magic = Array.from(file.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
const kind = kinds[magic] ?? 'unknown';
const sha256 = new Uint8Array(await crypto.subtle.digest('SHA-256', file));
const kept = await host.put({ key: name, data: file });
// Read back through the callback: a Uint8Array again.
const again = await host.get({ key: name });
if (again.length !== file.length) throw new Error('the copy differs');
export default { kind, sha256, preview: file.subarray(0, 16), kept };
"#;

#[tokio::main]
async fn main() -> outrigger::Result<()> {
    let blobs = Blobs::default();
    let stored = blobs.stored.clone();
    let pool = Pool::builder()
        .workers(2)
        .timeout(Duration::from_secs(5))
        .callbacks(blobs)
        .build()
        .await?;

    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.extend((0..2_000_000u32).map(|i| (i % 251) as u8));
    let uploads = [("photo.png", png), ("notes.txt", b"just text".to_vec())];

    for (name, data) in uploads {
        let script = Script::module(CHECK)
            .name("check.mjs")
            .global("name", name)
            .global("file", Bytes::from(data.clone()));
        let report: Report = pool.run(script).await?.value_as()?;
        println!(
            "{name}: {} ({} bytes kept), sha256 {}…, preview {:02x?}",
            report.kind,
            report.kept,
            hex(&report.sha256[..6]),
            &report.preview[..4]
        );
        assert_eq!(report.kept, data.len());
        assert_eq!(report.preview, data[..data.len().min(16)]);
    }
    assert_eq!(stored.lock().unwrap().len(), 2);

    // Bytes straight out: a typed read of a Uint8Array result.
    let encoded: Vec<u8> = pool.eval("new TextEncoder().encode('héllo')").await?;
    assert_eq!(encoded, "héllo".as_bytes());
    println!("TextEncoder gave {encoded:?}");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
