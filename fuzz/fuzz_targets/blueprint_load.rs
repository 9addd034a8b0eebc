//! Arbitrary bytes → `kapsel_validate::validate_source`: must never panic, and
//! every label must be a valid span of the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let report = kapsel_validate::validate_source("fuzz.yaml", &src, &Default::default());
    for d in &report.diagnostics {
        for l in &d.labels {
            assert!(l.span.start <= l.span.end && l.span.end <= src.len());
            assert!(src.is_char_boundary(l.span.start) && src.is_char_boundary(l.span.end));
            assert!(l.line >= 1 && l.col >= 1);
        }
    }
    let _ = report.has_errors(true);
});
