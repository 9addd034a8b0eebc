//! Small fixtures: the repository root, passwords, private files, base64.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};

/// The repository root (holds `testdata/`, `blueprints/`, `Cargo.toml`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A random password (letters and digits).
pub fn password() -> String {
    let mut seed = [0u8; 18];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut seed)
        .unwrap();
    const A: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    seed.iter()
        .map(|b| A[usize::from(*b) % A.len()] as char)
        .collect()
}

/// Writes `text` to `path` with mode 0600, owned by `owner` (uid, gid) when
/// given.
pub fn write_private(path: &Path, text: &str, owner: Option<(u32, u32)>) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    if let Some((u, g)) = owner {
        chown(path, Some(u), Some(g)).unwrap();
    }
}

/// Standard base64 (with padding).
pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
