//! Byte-level encodings of every object the repository stores (docs/format.md).
//!
//! All decoders here take untrusted bytes and return errors, never panic:
//! they are fuzzed (`fuzz/fuzz_targets/repo_*.rs`).

use crate::crypto::{AeadKey, SEAL_OVERHEAD};

/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// First bytes of every encrypted metadata object.
pub const ENVELOPE_MAGIC: &[u8; 4] = b"KPSL";
/// First bytes of every pack.
pub const PACK_MAGIC: &[u8; 4] = b"KPSP";
/// Length of a pack's fixed prefix: magic, version, three zero bytes.
pub const PACK_PREFIX_LEN: usize = 8;
/// Length of one pack header / index entry.
pub const ENTRY_LEN: usize = 46;
/// Blob flag: the payload is a zstd frame.
pub const FLAG_ZSTD: u8 = 1;
/// Upper bound on a decompressed metadata object (guards decoders).
pub const MAX_METADATA: usize = 1 << 30;

/// A 32-byte identifier (blob, pack, index, snapshot).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

impl Id {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Id> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Id(b))
    }
    /// The unkeyed BLAKE3 of stored bytes (names packs, index files, snapshots).
    pub fn of_stored(bytes: &[u8]) -> Id {
        Id(*blake3::hash(bytes).as_bytes())
    }
    fn from_slice(s: &[u8]) -> Id {
        let mut b = [0u8; 32];
        b.copy_from_slice(&s[..32]);
        Id(b)
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", &self.to_hex()[..16])
    }
}
impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// A chunk of user data.
    Data = 0,
    /// Repository metadata (a stream's list of chunk ids).
    Meta = 1,
}

impl BlobKind {
    fn from_u8(b: u8) -> Option<BlobKind> {
        match b {
            0 => Some(BlobKind::Data),
            1 => Some(BlobKind::Meta),
            _ => None,
        }
    }
}

/// Kinds of encrypted metadata objects (the envelope's sixth byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `config`.
    Config = 1,
    /// `index/<id>`.
    Index = 2,
    /// `snapshots/<id>`.
    Snapshot = 3,
    /// The header at the end of a pack.
    PackHeader = 4,
    /// `locks/<id>`: a running backup's or prune's lock.
    Lock = 5,
}

/// Why a decoder refused its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Wrong magic: not a Kapsel object.
    Foreign,
    /// Written by another format version.
    Version(u8),
    /// Authentication failed (wrong key or modified bytes).
    Auth,
    /// Structurally invalid.
    Malformed(String),
}

impl DecodeError {
    /// Into a [`crate::RepoError`] naming `object`.
    pub fn into_repo(self, object: &str) -> crate::RepoError {
        match self {
            DecodeError::Foreign => crate::RepoError::Foreign {
                object: object.to_string(),
            },
            DecodeError::Version(v) => crate::RepoError::UnsupportedVersion {
                object: object.to_string(),
                version: v,
                supported: FORMAT_VERSION,
            },
            DecodeError::Auth => {
                crate::RepoError::corrupt(object, "authentication failed (modified or foreign)")
            }
            DecodeError::Malformed(m) => crate::RepoError::corrupt(object, m),
        }
    }
}

fn malformed(s: impl Into<String>) -> DecodeError {
    DecodeError::Malformed(s.into())
}

/// Seal `payload` (zstd-compressed first) as an object of `kind`.
pub fn seal_object(key: &AeadKey, kind: ObjectKind, payload: &[u8]) -> Vec<u8> {
    let header = [
        ENVELOPE_MAGIC[0],
        ENVELOPE_MAGIC[1],
        ENVELOPE_MAGIC[2],
        ENVELOPE_MAGIC[3],
        FORMAT_VERSION,
        kind as u8,
    ];
    let compressed = zstd::bulk::compress(payload, 3).unwrap_or_else(|_| payload.to_vec());
    let mut out = Vec::with_capacity(6 + compressed.len() + SEAL_OVERHEAD);
    out.extend_from_slice(&header);
    key.seal_into(&header, &compressed, &mut out);
    out
}

/// Check the plaintext part of an envelope (magic, version, kind): what can
/// be said about an object without its key.
pub fn check_envelope(kind: ObjectKind, bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() < 4 || &bytes[..4] != ENVELOPE_MAGIC {
        return Err(DecodeError::Foreign);
    }
    if bytes.len() < 6 + crate::crypto::SEAL_OVERHEAD {
        return Err(malformed(format!(
            "truncated envelope ({} bytes)",
            bytes.len()
        )));
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(DecodeError::Version(bytes[4]));
    }
    if bytes[5] != kind as u8 {
        return Err(malformed(format!(
            "object kind {} where {} was expected",
            bytes[5], kind as u8
        )));
    }
    Ok(())
}

/// Open an object sealed by [`seal_object`], checking its kind.
pub fn open_object(key: &AeadKey, kind: ObjectKind, bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    if bytes.len() < 6 || &bytes[..4] != ENVELOPE_MAGIC {
        return Err(DecodeError::Foreign);
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(DecodeError::Version(bytes[4]));
    }
    if bytes[5] != kind as u8 {
        return Err(malformed(format!(
            "object kind {} where {} was expected",
            bytes[5], kind as u8
        )));
    }
    let compressed = key
        .open(&bytes[..6], &bytes[6..])
        .map_err(|_| DecodeError::Auth)?;
    decompress_bounded(&compressed, MAX_METADATA)
}

/// Decompress a zstd frame, refusing outputs over `limit` bytes.
pub fn decompress_bounded(frame: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let mut out = Vec::new();
    let dec = zstd::stream::read::Decoder::new(frame).map_err(|e| malformed(e.to_string()))?;
    dec.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| malformed(format!("zstd: {e}")))?;
    if out.len() > limit {
        return Err(malformed("decompressed size over the limit"));
    }
    Ok(out)
}

/// The additional data binding a blob's ciphertext to its id, kind and flags.
pub fn blob_aad(id: &Id, kind: BlobKind, flags: u8) -> [u8; 35] {
    let mut a = [0u8; 35];
    a[0] = FORMAT_VERSION;
    a[1] = kind as u8;
    a[2] = flags;
    a[3..].copy_from_slice(&id.0);
    a
}

/// One blob in a pack, as the pack header and the index describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobEntry {
    /// Keyed id of the plaintext.
    pub id: Id,
    /// Data or metadata.
    pub kind: BlobKind,
    /// [`FLAG_ZSTD`] or 0.
    pub flags: u8,
    /// Byte offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

fn put_entry(out: &mut Vec<u8>, e: &BlobEntry) {
    out.push(e.kind as u8);
    out.push(e.flags);
    out.extend_from_slice(&e.id.0);
    out.extend_from_slice(&e.offset.to_le_bytes());
    out.extend_from_slice(&e.length.to_le_bytes());
    out.extend_from_slice(&e.raw_length.to_le_bytes());
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn get_entry(b: &[u8]) -> Result<BlobEntry, DecodeError> {
    let kind = BlobKind::from_u8(b[0]).ok_or_else(|| malformed("unknown blob kind"))?;
    let flags = b[1];
    if flags & !FLAG_ZSTD != 0 {
        return Err(malformed("unknown blob flags"));
    }
    let e = BlobEntry {
        kind,
        flags,
        id: Id::from_slice(&b[2..34]),
        offset: u32_at(b, 34),
        length: u32_at(b, 38),
        raw_length: u32_at(b, 42),
    };
    if (e.length as usize) < SEAL_OVERHEAD {
        return Err(malformed("blob shorter than its seal"));
    }
    Ok(e)
}

/// Encode a pack header payload (before sealing).
pub fn encode_pack_header(entries: &[BlobEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + entries.len() * ENTRY_LEN);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        put_entry(&mut out, e);
    }
    out
}

/// Decode a pack header payload.
pub fn decode_pack_header(b: &[u8]) -> Result<Vec<BlobEntry>, DecodeError> {
    if b.len() < 4 {
        return Err(malformed("pack header too short"));
    }
    let n = u32_at(b, 0) as usize;
    if b.len() != 4 + n.saturating_mul(ENTRY_LEN) {
        return Err(malformed("pack header length does not match its count"));
    }
    (0..n)
        .map(|i| get_entry(&b[4 + i * ENTRY_LEN..4 + (i + 1) * ENTRY_LEN]))
        .collect()
}

/// Assemble a pack from sealed blobs (in the order given, each dropped as
/// soon as it is copied); returns the pack bytes and the header entries.
pub fn build_pack<B: AsRef<[u8]>>(
    key: &AeadKey,
    blobs: Vec<(BlobEntry, B)>,
) -> (Vec<u8>, Vec<BlobEntry>) {
    let total: usize = blobs.iter().map(|(_, b)| b.as_ref().len()).sum();
    let mut out = Vec::with_capacity(PACK_PREFIX_LEN + total + blobs.len() * ENTRY_LEN + 64);
    out.extend_from_slice(PACK_MAGIC);
    out.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
    let mut entries = Vec::with_capacity(blobs.len());
    for (e, bytes) in blobs {
        let bytes = bytes.as_ref();
        let mut e = e;
        e.offset = out.len() as u32;
        e.length = bytes.len() as u32;
        out.extend_from_slice(bytes);
        entries.push(e);
    }
    let header = seal_object(key, ObjectKind::PackHeader, &encode_pack_header(&entries));
    out.extend_from_slice(&header);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    (out, entries)
}

/// Parse a whole pack: check its prefix, open its header and check that
/// every entry lies inside the blob area, without overlaps.
pub fn parse_pack(key: &AeadKey, pack: &[u8]) -> Result<Vec<BlobEntry>, DecodeError> {
    if pack.len() < PACK_PREFIX_LEN + 4 || &pack[..4] != PACK_MAGIC {
        return Err(DecodeError::Foreign);
    }
    if pack[4] != FORMAT_VERSION {
        return Err(DecodeError::Version(pack[4]));
    }
    let hlen = u32_at(pack, pack.len() - 4) as usize;
    let body_end = pack
        .len()
        .checked_sub(4 + hlen)
        .filter(|e| *e >= PACK_PREFIX_LEN)
        .ok_or_else(|| malformed("pack header length out of range"))?;
    let entries = decode_pack_header(&open_object(
        key,
        ObjectKind::PackHeader,
        &pack[body_end..pack.len() - 4],
    )?)?;
    let mut pos = PACK_PREFIX_LEN;
    for e in &entries {
        if e.offset as usize != pos {
            return Err(malformed("pack blobs are not contiguous"));
        }
        pos += e.length as usize;
        if pos > body_end {
            return Err(malformed("blob beyond the pack's blob area"));
        }
    }
    if pos != body_end {
        return Err(malformed("unaccounted bytes in pack"));
    }
    Ok(entries)
}

/// A pack marked for deletion by prune (phase one), with its blobs so that a
/// later prune can bring it back if a snapshot turns out to need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedPack {
    /// The pack.
    pub pack: Id,
    /// When it was marked (Unix seconds).
    pub marked_at: i64,
    /// Its blobs.
    pub blobs: Vec<BlobEntry>,
}

/// The content of one index file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexFile {
    /// Live packs and their blobs.
    pub packs: Vec<(Id, Vec<BlobEntry>)>,
    /// Packs waiting for deletion.
    pub marked: Vec<MarkedPack>,
}

fn put_pack_list(out: &mut Vec<u8>, pack: &Id, blobs: &[BlobEntry]) {
    out.extend_from_slice(&pack.0);
    out.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for e in blobs {
        put_entry(out, e);
    }
}

/// Encode an index file payload (before sealing).
pub fn encode_index(ix: &IndexFile) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(ix.packs.len() as u32).to_le_bytes());
    for (p, blobs) in &ix.packs {
        put_pack_list(&mut out, p, blobs);
    }
    out.extend_from_slice(&(ix.marked.len() as u32).to_le_bytes());
    for m in &ix.marked {
        out.extend_from_slice(&m.marked_at.to_le_bytes());
        put_pack_list(&mut out, &m.pack, &m.blobs);
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| malformed("truncated index"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32_at(self.take(4)?, 0))
    }
    fn pack_list(&mut self) -> Result<(Id, Vec<BlobEntry>), DecodeError> {
        let id = Id::from_slice(self.take(32)?);
        let n = self.u32()? as usize;
        let raw = self.take(n.saturating_mul(ENTRY_LEN))?;
        let blobs = raw
            .chunks_exact(ENTRY_LEN)
            .map(get_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((id, blobs))
    }
}

/// Decode an index file payload.
pub fn decode_index(b: &[u8]) -> Result<IndexFile, DecodeError> {
    let mut r = Reader { b, at: 0 };
    let np = r.u32()? as usize;
    let mut ix = IndexFile::default();
    for _ in 0..np {
        ix.packs.push(r.pack_list()?);
    }
    let nm = r.u32()? as usize;
    for _ in 0..nm {
        let mut t = [0u8; 8];
        t.copy_from_slice(r.take(8)?);
        let (pack, blobs) = r.pack_list()?;
        ix.marked.push(MarkedPack {
            pack,
            marked_at: i64::from_le_bytes(t),
            blobs,
        });
    }
    if r.at != b.len() {
        return Err(malformed("trailing bytes in index"));
    }
    Ok(ix)
}

/// Encode a stream's chunk list (a [`BlobKind::Meta`] blob's plaintext).
pub fn encode_id_list(ids: &[Id]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 32);
    for id in ids {
        out.extend_from_slice(&id.0);
    }
    out
}

/// Decode a chunk list.
pub fn decode_id_list(b: &[u8]) -> Result<Vec<Id>, DecodeError> {
    if !b.len().is_multiple_of(32) {
        return Err(malformed("id list length is not a multiple of 32"));
    }
    Ok(b.chunks_exact(32).map(Id::from_slice).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn key() -> AeadKey {
        AeadKey::new(&[3u8; 32])
    }

    fn arb_entry() -> impl Strategy<Value = BlobEntry> {
        (
            any::<[u8; 32]>(),
            prop::bool::ANY,
            prop::bool::ANY,
            any::<u32>(),
            28u32..,
            any::<u32>(),
        )
            .prop_map(|(id, meta, z, offset, length, raw_length)| BlobEntry {
                id: Id(id),
                kind: if meta { BlobKind::Meta } else { BlobKind::Data },
                flags: if z { FLAG_ZSTD } else { 0 },
                offset,
                length,
                raw_length,
            })
    }

    proptest! {
        #[test]
        fn pack_header_round_trip(v in prop::collection::vec(arb_entry(), 0..50)) {
            prop_assert_eq!(decode_pack_header(&encode_pack_header(&v)).unwrap(), v);
        }

        #[test]
        fn index_round_trip(
            packs in prop::collection::vec((any::<[u8;32]>(), prop::collection::vec(arb_entry(), 0..8)), 0..6),
            marked in prop::collection::vec((any::<[u8;32]>(), any::<i64>(), prop::collection::vec(arb_entry(), 0..4)), 0..4),
        ) {
            let ix = IndexFile {
                packs: packs.into_iter().map(|(p, b)| (Id(p), b)).collect(),
                marked: marked.into_iter().map(|(p, t, b)| MarkedPack { pack: Id(p), marked_at: t, blobs: b }).collect(),
            };
            let k = key();
            let sealed = seal_object(&k, ObjectKind::Index, &encode_index(&ix));
            let back = decode_index(&open_object(&k, ObjectKind::Index, &sealed).unwrap()).unwrap();
            prop_assert_eq!(back, ix);
        }

        #[test]
        fn id_list_round_trip(v in prop::collection::vec(any::<[u8;32]>(), 0..40)) {
            let ids: Vec<Id> = v.into_iter().map(Id).collect();
            prop_assert_eq!(decode_id_list(&encode_id_list(&ids)).unwrap(), ids);
        }

        #[test]
        fn pack_round_trip(blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..10)) {
            let k = key();
            let sealed: Vec<(BlobEntry, Vec<u8>)> = blobs.iter().enumerate().map(|(i, b)| {
                let id = Id([i as u8; 32]);
                let e = BlobEntry { id, kind: BlobKind::Data, flags: 0, offset: 0, length: 0, raw_length: b.len() as u32 };
                (e, k.seal(&blob_aad(&id, BlobKind::Data, 0), b))
            }).collect();
            let (pack, entries) = build_pack(&k, sealed);
            prop_assert_eq!(parse_pack(&k, &pack).unwrap(), entries.clone());
            for (e, plain) in entries.iter().zip(&blobs) {
                let s = &pack[e.offset as usize..(e.offset + e.length) as usize];
                prop_assert_eq!(&k.open(&blob_aad(&e.id, e.kind, e.flags), s).unwrap(), plain);
            }
        }

        #[test]
        fn decoders_never_panic(b in prop::collection::vec(any::<u8>(), 0..400)) {
            let k = key();
            let _ = decode_index(&b);
            let _ = decode_pack_header(&b);
            let _ = decode_id_list(&b);
            let _ = parse_pack(&k, &b);
            let _ = open_object(&k, ObjectKind::Snapshot, &b);
        }
    }

    #[test]
    fn envelope_errors_are_distinct() {
        let k = key();
        let s = seal_object(&k, ObjectKind::Snapshot, b"{}");
        assert_eq!(open_object(&k, ObjectKind::Snapshot, &s).unwrap(), b"{}");
        assert_eq!(
            open_object(&k, ObjectKind::Snapshot, b"PK\x03\x04zip"),
            Err(DecodeError::Foreign)
        );
        let mut v = s.clone();
        v[4] = 9;
        assert_eq!(
            open_object(&k, ObjectKind::Snapshot, &v),
            Err(DecodeError::Version(9))
        );
        assert!(matches!(
            open_object(&k, ObjectKind::Index, &s),
            Err(DecodeError::Malformed(_))
        ));
        let mut t = s.clone();
        let last = t.len() - 1;
        t[last] ^= 0x40;
        assert_eq!(
            open_object(&k, ObjectKind::Snapshot, &t),
            Err(DecodeError::Auth)
        );
        assert_eq!(
            open_object(&k, ObjectKind::Snapshot, &s[..s.len() - 3]),
            Err(DecodeError::Auth)
        );
    }
}
