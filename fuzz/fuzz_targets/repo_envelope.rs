//! Arbitrary bytes → `open_object` for every object kind (foreign, versioned,
//! truncated and forged envelopes must be errors, never panics); and the
//! input sealed by the real sealer must open to itself.
#![no_main]
use kapsel_repo::crypto::AeadKey;
use kapsel_repo::format::{self, ObjectKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = AeadKey::new(&[0x5a; 32]);
    for kind in [ObjectKind::Config, ObjectKind::Index, ObjectKind::Snapshot, ObjectKind::PackHeader] {
        let _ = format::open_object(&key, kind, data);
    }
    let _ = format::decompress_bounded(data, 1 << 20);
    let sealed = format::seal_object(&key, ObjectKind::Snapshot, data);
    assert_eq!(format::open_object(&key, ObjectKind::Snapshot, &sealed).ok().as_deref(), Some(data));
});
