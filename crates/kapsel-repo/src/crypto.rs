//! Keys, authenticated encryption (AES-256-GCM via ring), keyed chunk ids
//! (BLAKE3) and password-based key wrapping (Argon2id).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::Id;

/// Bytes added by [`seal`]: the nonce in front, the tag behind.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
const TAG_LEN: usize = 16;

/// Decryption failed: wrong key or modified bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthError;

/// Fill `buf` from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    // SystemRandom only fails if the OS has no entropy source at all;
    // fall back to rand's OS-seeded generator then, never to zeros.
    if SystemRandom::new().fill(buf).is_err() {
        use rand::RngCore;
        rand::rng().fill_bytes(buf);
    }
}

/// An AES-256-GCM key.
pub struct AeadKey(LessSafeKey);

impl AeadKey {
    /// A key from 32 bytes.
    pub fn new(bytes: &[u8; 32]) -> Self {
        // AES-256 accepts exactly 32 bytes, which the type guarantees.
        match UnboundKey::new(&AES_256_GCM, bytes) {
            Ok(k) => AeadKey(LessSafeKey::new(k)),
            Err(_) => unreachable_key(),
        }
    }

    /// `nonce || ciphertext || tag` of `plaintext`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        self.seal_into(aad, plaintext, &mut out);
        out
    }

    /// Like [`Self::seal`], appending to `out`.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce);
        let start = out.len();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let body = &mut out[start + NONCE_LEN..];
        let tag = self.0.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            body,
        );
        match tag {
            Ok(t) => out.extend_from_slice(t.as_ref()),
            // ring fails only for inputs beyond 2^36 bytes, which no caller makes.
            Err(_) => out.truncate(start),
        }
    }

    /// Decrypt a [`Self::seal`] output in place; returns where the plaintext
    /// is in `sealed` (after the nonce), if `aad` and the bytes authenticate.
    pub fn open_in_place(
        &self,
        aad: &[u8],
        sealed: &mut [u8],
    ) -> Result<std::ops::Range<usize>, AuthError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(AuthError);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        let n = self
            .0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| AuthError)?
            .len();
        Ok(NONCE_LEN..NONCE_LEN + n)
    }

    /// The plaintext of a [`Self::seal`] output, if `aad` and the bytes authenticate.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AuthError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(AuthError);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        let mut buf = sealed[NONCE_LEN..].to_vec();
        let n = self
            .0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| AuthError)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

fn unreachable_key() -> ! {
    panic!("AES-256 key of 32 bytes rejected by ring")
}

/// The repository's secrets, all derived from one 32-byte master secret.
pub struct MasterKey {
    secret: [u8; 32],
    data: AeadKey,
    id_key: [u8; 32],
    chunker_seed: u64,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

const CTX_DATA: &str = "kapsel 2026-11 v1 blob and metadata encryption key";
const CTX_ID: &str = "kapsel 2026-11 v1 chunk id key";
const CTX_SEED: &str = "kapsel 2026-11 v1 chunker seed";

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Self {
        let mut s = [0u8; 32];
        random_bytes(&mut s);
        Self::from_secret(s)
    }

    /// Derive the sub-keys from the master secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let data = AeadKey::new(&blake3::derive_key(CTX_DATA, &secret));
        let id_key = blake3::derive_key(CTX_ID, &secret);
        let seed = blake3::derive_key(CTX_SEED, &secret);
        let mut s8 = [0u8; 8];
        s8.copy_from_slice(&seed[..8]);
        MasterKey {
            secret,
            data,
            id_key,
            chunker_seed: u64::from_le_bytes(s8),
        }
    }

    /// The master secret (for wrapping into key files).
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The key that encrypts blobs and metadata.
    pub fn data_key(&self) -> &AeadKey {
        &self.data
    }

    /// The keyed BLAKE3 id of a plaintext chunk.
    pub fn blob_id(&self, plaintext: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.id_key, plaintext).as_bytes())
    }

    /// The seed XORed into FastCDC's gear table.
    pub fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }
}

/// Most Argon2id lanes a key file may ask for.
pub const MAX_KDF_PARALLELISM: u32 = 64;
/// Most Argon2id passes a key file may ask for.
pub const MAX_KDF_ITERATIONS: u32 = 100;
/// Most Argon2id memory a key file may ask for, in KiB (4 GiB).
pub const MAX_KDF_MEMORY_KIB: u64 = 4 * 1024 * 1024;
/// Most Argon2id work (memory in KiB × passes) a key file may ask for: 8
/// GiB-passes, about 40 times the default's 192 MiB-passes (0.2 s), so
/// about 8 s on this project's machine.
pub const MAX_KDF_WORK_KIB: u64 = 8 * 1024 * 1024;

/// Argon2id parameters of a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 4 lanes (borg 2's choice; about 0.2 s here).
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only (never for real repositories).
    pub fn insecure_fast() -> Self {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    /// Whether these parameters are within the bounds readers accept
    /// (docs/format.md §2): 1..=[`MAX_KDF_PARALLELISM`] lanes, at least 8
    /// KiB per lane and at most [`MAX_KDF_MEMORY_KIB`], 1..=
    /// [`MAX_KDF_ITERATIONS`] passes, and memory × passes at most
    /// [`MAX_KDF_WORK_KIB`], so that opening with the costliest key
    /// accepted takes a bounded time (about 8 s here) whatever a tampered
    /// key file asks for. The error names the parameter.
    pub fn check_bounds(&self) -> Result<(), String> {
        let KdfParams {
            memory_kib: m,
            iterations: t,
            parallelism: p,
        } = *self;
        if !(1..=MAX_KDF_PARALLELISM).contains(&p) {
            return Err(format!(
                "Argon2id parallelism {p} is outside 1..={MAX_KDF_PARALLELISM}"
            ));
        }
        if !(1..=MAX_KDF_ITERATIONS).contains(&t) {
            return Err(format!(
                "Argon2id iterations {t} is outside 1..={MAX_KDF_ITERATIONS}"
            ));
        }
        if u64::from(m) < 8 * u64::from(p) || u64::from(m) > MAX_KDF_MEMORY_KIB {
            return Err(format!(
                "Argon2id memory {m} KiB is outside {}..={MAX_KDF_MEMORY_KIB} KiB (8 KiB per lane, at most 4 GiB)",
                8 * u64::from(p)
            ));
        }
        if u64::from(m) * u64::from(t) > MAX_KDF_WORK_KIB {
            return Err(format!(
                "Argon2id memory {m} KiB × {t} iterations exceeds the bound of {MAX_KDF_WORK_KIB} KiB-passes (8 GiB × 1 pass: 1 GiB × 8, 64 MiB × 100)"
            ));
        }
        Ok(())
    }

    /// The 32-byte wrapping key for `password` and `salt` (parameters
    /// outside [`Self::check_bounds`] are refused, never run).
    pub fn derive(&self, password: &[u8], salt: &[u8]) -> Result<[u8; 32], String> {
        self.check_bounds()?;
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|e| format!("bad Argon2id parameters: {e}"))?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        a.hash_password_into(password, salt, &mut out)
            .map_err(|e| format!("Argon2id failed: {e}"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let k = AeadKey::new(&[7u8; 32]);
        let s = k.seal(b"aad", b"hello world");
        assert_eq!(s.len(), 11 + SEAL_OVERHEAD);
        assert_eq!(k.open(b"aad", &s).unwrap(), b"hello world");
        assert_eq!(k.open(b"other", &s), Err(AuthError));
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 1;
            assert_eq!(k.open(b"aad", &t), Err(AuthError), "byte {i}");
        }
        let mut inplace = s.clone();
        let r = k.open_in_place(b"aad", &mut inplace).unwrap();
        assert_eq!(&inplace[r], b"hello world");
        let mut bad = s.clone();
        bad[3] ^= 1;
        assert_eq!(k.open_in_place(b"aad", &mut bad), Err(AuthError));
        assert_eq!(k.open_in_place(b"aad", &mut [0u8; 27]), Err(AuthError));
        let other = AeadKey::new(&[8u8; 32]);
        assert_eq!(other.open(b"aad", &s), Err(AuthError));
        // Two seals of the same plaintext differ (random nonces).
        assert_ne!(k.seal(b"aad", b"x"), k.seal(b"aad", b"x"));
    }

    #[test]
    fn ids_are_keyed() {
        let a = MasterKey::from_secret([1; 32]);
        let b = MasterKey::from_secret([2; 32]);
        assert_eq!(a.blob_id(b"x"), a.blob_id(b"x"));
        assert_ne!(a.blob_id(b"x"), b.blob_id(b"x"));
        assert_ne!(a.blob_id(b"x").0, *blake3::hash(b"x").as_bytes());
        assert_ne!(a.chunker_seed(), b.chunker_seed());
    }

    #[test]
    fn kdf_bounds_refuse_without_running() {
        let ok = KdfParams::default();
        ok.check_bounds().unwrap();
        let cases = [
            (u32::MAX, 3, 65536, "parallelism 4294967295"),
            (0, 3, 65536, "parallelism 0"),
            (4, 101, 65536, "iterations 101"),
            (4, 0, 65536, "iterations 0"),
            (4, 3, 4 * 1024 * 1024 + 1, "memory"),
            (4, 3, 16, "memory 16 KiB"),
            (4, 99, 3 * 1024 * 1024, "exceeds the bound"),
        ];
        for (p, t, m, want) in cases {
            let k = KdfParams {
                memory_kib: m,
                iterations: t,
                parallelism: p,
            };
            let e = k.derive(b"pw", b"saltsaltsaltsalt").unwrap_err();
            assert!(e.contains(want), "{k:?}: {e}");
        }
        // The costliest accepted shapes are accepted.
        for (m, t) in [(4 * 1024 * 1024, 2), (64 * 1024, 100), (1024 * 1024, 8)] {
            KdfParams {
                memory_kib: m,
                iterations: t,
                parallelism: 64,
            }
            .check_bounds()
            .unwrap();
        }
    }

    #[test]
    fn kdf_depends_on_password_and_salt() {
        let p = KdfParams::insecure_fast();
        let a = p.derive(b"pw", b"saltsaltsaltsalt").unwrap();
        assert_eq!(a, p.derive(b"pw", b"saltsaltsaltsalt").unwrap());
        assert_ne!(a, p.derive(b"pw2", b"saltsaltsaltsalt").unwrap());
        assert_ne!(a, p.derive(b"pw", b"saltsaltsaltsalu").unwrap());
    }
}
