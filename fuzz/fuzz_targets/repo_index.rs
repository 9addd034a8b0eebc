//! Arbitrary bytes → the plaintext decoders of index files, pack headers and
//! chunk-id lists: never panic, and whatever decodes re-encodes to the same
//! bytes (the encodings are canonical).
#![no_main]
use kapsel_repo::format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ix) = format::decode_index(data) {
        assert_eq!(format::encode_index(&ix), data);
    }
    if let Ok(h) = format::decode_pack_header(data) {
        assert_eq!(format::encode_pack_header(&h), data);
    }
    if let Ok(ids) = format::decode_id_list(data) {
        assert_eq!(format::encode_id_list(&ids), data);
    }
});
