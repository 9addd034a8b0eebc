//! Skip notices: a test that cannot run here (a server or tool is missing)
//! says so where the person running the tests sees it.

use std::io::Write as _;

/// Whether `var=1`: what the test needs must be there (CI sets these), so a
/// missing server is a failure rather than a skip.
pub fn required(var: &str) -> bool {
    std::env::var(var).as_deref() == Ok("1")
}

/// Writes `text` straight to the process's stderr, framed so it stands out.
///
/// Not `eprintln!`: libtest captures that and shows it only for failed
/// tests, and a skip must show in the run's output.
pub fn notice(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n*** {text} ***\n");
}

/// `what` is missing: panics when `var=1`, otherwise prints a SKIP notice
/// (with `how` to get it) and returns, so the caller can return early.
pub fn missing(var: &str, what: &str, how: &str) {
    unless_required(var, &format!("{what} is not available ({how})"));
}

/// A test cannot run because of `why`: panics when `var=1`, otherwise
/// prints a SKIP notice saying `why` and returns.
pub fn unless_required(var: &str, why: &str) {
    assert!(!required(var), "{var}=1 but {why}");
    notice(&format!("SKIPPING: {why}; set {var}=1 to make this fatal"));
}
