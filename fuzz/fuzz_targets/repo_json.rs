//! Arbitrary bytes → the JSON objects of the format (config, snapshot, key
//! file): never panic; what parses re-serializes and parses to the same value.
#![no_main]
use kapsel_repo::{Config, KeyFile, Snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = serde_json::from_slice::<Config>(data) {
        let again: Config = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(again, c);
    }
    if let Ok(s) = serde_json::from_slice::<Snapshot>(data) {
        let again: Snapshot = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(again, s);
        let _ = s.size();
    }
    let _ = serde_json::from_slice::<KeyFile>(data);
});
