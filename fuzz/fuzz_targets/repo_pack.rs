//! Pack parsing: arbitrary bytes as a whole pack, and arbitrary bytes as an
//! *authentic* header payload spliced into a pack (so the structural checks
//! behind authentication are reached). Accepted headers must describe blobs
//! that lie inside the pack.
#![no_main]
use kapsel_repo::crypto::AeadKey;
use kapsel_repo::format::{self, ObjectKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = AeadKey::new(&[0x33; 32]);
    let _ = format::parse_pack(&key, data);
    // Split: first byte = body length (×16), then body, then header payload.
    let Some((&n, rest)) = data.split_first() else { return };
    let body_len = (n as usize * 16).min(rest.len());
    let (body, header) = rest.split_at(body_len);
    let mut pack = b"KPSP\x01\x00\x00\x00".to_vec();
    pack.extend_from_slice(body);
    let sealed = format::seal_object(&key, ObjectKind::PackHeader, header);
    pack.extend_from_slice(&sealed);
    pack.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    if let Ok(entries) = format::parse_pack(&key, &pack) {
        for e in entries {
            assert!((e.offset as usize + e.length as usize) <= 8 + body.len());
        }
    }
});
