//! A script's content address (the key a worker caches its compiled copy
//! under), and the short scripts' keys each thread remembers.

use std::cell::RefCell;
use std::sync::Arc;

/// The content address of a script: a hash of its kind (as the wire names
/// it: `ScriptKind::as_str`), name and source. Its first 128 bits, in hex.
pub(crate) fn script_key(kind: &str, name: &str, code: &str) -> String {
    let parts = parts(kind, name, code);
    let length: usize = parts.iter().map(|part| part.len()).sum();
    // Every run computes it: a short script's parts are hashed in one call,
    // which costs a fraction of a hasher fed piece by piece.
    let hash = if length <= SHORT_SCRIPT {
        let mut bytes = [0u8; SHORT_SCRIPT];
        let mut end = 0;
        for part in parts {
            bytes[end..end + part.len()].copy_from_slice(part);
            end += part.len();
        }
        blake3::hash(&bytes[..end])
    } else {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize()
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = [0u8; 32];
    for (pair, byte) in key.chunks_exact_mut(2).zip(hash.as_bytes()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 15)];
    }
    String::from_utf8(key.to_vec()).expect("hex digits are ASCII")
}

/// [`script_key`], remembered for the short scripts this thread keyed last:
/// a service sends the same few expressions over and over, each time in a
/// new [`Script`](crate::Script), and comparing one with the text it was
/// keyed from costs a fraction of hashing it. Which slot a script takes is
/// chosen by a cheap hash; what is found there counts only if it holds the
/// very same kind, name and source, so the answer is always `script_key`'s.
pub(crate) fn recent_key(kind: &str, name: &str, code: &str) -> Arc<str> {
    let parts = parts(kind, name, code);
    let length: usize = parts.iter().map(|part| part.len()).sum();
    if length > SHORT_SCRIPT {
        return script_key(kind, name, code).into();
    }
    let slot = slot_of(&parts);
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(seen) = &recent[slot] {
            if seen.is(&parts) {
                return seen.key.clone();
            }
        }
        let key: Arc<str> = script_key(kind, name, code).into();
        recent[slot] = Some(Seen {
            text: parts.concat().into_boxed_slice(),
            key: key.clone(),
        });
        key
    })
}

/// What is hashed: `kind \0 name \0 code`.
fn parts<'a>(kind: &'a str, name: &'a str, code: &'a str) -> [&'a [u8]; 5] {
    [
        kind.as_bytes(),
        b"\0",
        name.as_bytes(),
        b"\0",
        code.as_bytes(),
    ]
}

/// The longest script (with its kind and name) [`script_key`] hashes from
/// one copy on the stack, and the longest [`recent_key`] remembers.
const SHORT_SCRIPT: usize = 1024;

/// How many keys a thread remembers (at most `SLOTS * SHORT_SCRIPT` bytes of
/// text).
const SLOTS: usize = 64;

thread_local! {
    static RECENT: RefCell<[Option<Seen>; SLOTS]> = const { RefCell::new([const { None }; SLOTS]) };
}

/// A script keyed on this thread: its hashed text and its key.
struct Seen {
    text: Box<[u8]>,
    key: Arc<str>,
}

impl Seen {
    /// Whether `parts`, joined, are the text this key was made from.
    fn is(&self, parts: &[&[u8]; 5]) -> bool {
        let mut rest = &self.text[..];
        for part in parts {
            match rest.strip_prefix(*part) {
                Some(after) => rest = after,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

/// A slot for `parts`: a multiplicative hash of their bytes (not
/// collision-proof, and need not be: a slot's text is compared in full).
fn slot_of(parts: &[&[u8]; 5]) -> usize {
    let mut hash: u64 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        for &byte in chunks.remainder() {
            hash = (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    (hash >> (64 - SLOTS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_kind_name_and_code() {
        let a = script_key("expression", "a.js", "1");
        assert_eq!(a, script_key("expression", "a.js", "1"));
        assert_ne!(a, script_key("module", "a.js", "1"));
        assert_ne!(a, script_key("expression", "b.js", "1"));
        assert_ne!(a, script_key("expression", "a.js", "2"));
        // A short script and a long one are keyed alike: the first 128 bits
        // of the hash of `kind \0 name \0 code`, in hex.
        for code in [
            "1".to_owned(),
            "x".repeat(SHORT_SCRIPT),
            "y".repeat(3 * SHORT_SCRIPT),
        ] {
            let whole = format!("expression\0a.js\0{code}");
            assert_eq!(
                script_key("expression", "a.js", &code),
                blake3::hash(whole.as_bytes()).to_hex()[..32]
            );
        }
    }

    #[test]
    fn remembered_keys_are_the_keys() {
        // More scripts than slots, each asked for twice, with texts that
        // differ only where the parts meet: whatever a slot holds, the key
        // given is the script's own.
        let mut scripts = Vec::new();
        for i in 0..(4 * SLOTS) {
            scripts.push(("expression", format!("n{i}"), format!("{i}")));
            scripts.push(("module", format!("n{i}"), format!("{i}")));
            scripts.push(("expression", format!("n{i}\0"), format!("{i}")));
            scripts.push(("expression", "n".to_owned(), format!("{i}\0n{i}")));
        }
        scripts.push(("expression", "long.js".into(), "z".repeat(2 * SHORT_SCRIPT)));
        for _ in 0..2 {
            for (kind, name, code) in &scripts {
                assert_eq!(&*recent_key(kind, name, code), script_key(kind, name, code));
            }
        }
    }
}
