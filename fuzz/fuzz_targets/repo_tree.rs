//! Arbitrary bytes → the tree-stream decoder of directory snapshots: never
//! panics, and whatever decodes re-encodes to the same bytes (the encoding
//! is canonical), with only safe relative paths.
#![no_main]
use kapsel_repo::tree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((entries, _)) = tree::decode_tree(data) {
        assert_eq!(tree::encode_tree(&entries), data);
        for e in &entries {
            assert!(tree::valid_path(&e.path));
        }
    }
});
