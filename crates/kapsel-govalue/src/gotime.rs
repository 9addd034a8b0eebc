//! Go's `time` package as templates use it: formatting and parsing with Go layouts
//! (`2006-01-02T15:04:05Z07:00`), `Time.String()`, and zones (UTC, fixed offsets,
//! and `Local`, which is UTC unless `TZ` names a fixed zone).

use crate::value::GoTime;

/// The error `time.Parse` reports, with Go's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(pub String);

/// `t.Format(layout)`.
pub fn format(t: &GoTime, layout: &str) -> String {
    let _ = (t, layout);
    todo!("kapsel-govalue::gotime::format")
}

/// `time.ParseInLocation(layout, value, time.Local)`.
pub fn parse_in_local(layout: &str, value: &str) -> Result<GoTime, TimeError> {
    let _ = (layout, value);
    todo!("kapsel-govalue::gotime::parse_in_local")
}

/// `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub fn to_string(t: &GoTime) -> String {
    let _ = t;
    todo!("kapsel-govalue::gotime::to_string")
}

/// `time.Now()` in the local zone.
pub fn now() -> GoTime {
    todo!("kapsel-govalue::gotime::now")
}
