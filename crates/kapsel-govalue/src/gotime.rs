//! Go's `time` package as templates use it: formatting and parsing with Go layouts
//! (`2006-01-02T15:04:05Z07:00`), `Time.String()`, `Time.GoString()`, and zones
//! (UTC, fixed offsets, and `Local`).
//!
//! Layout handling follows Go's `time/format.go`: the same layout elements
//! (`2006 06 01 1 Jan January 02 2 _2 __2 002 Mon Monday 15 03 3 04 4 05 5 PM pm
//! MST Z07:00 Z0700 Z07 Z070000 Z07:00:00 -07:00 -0700 -07 -070000 -07:00:00`,
//! fractional seconds `.000`/`.999`/`,000`/`,999` of any length), the same parse
//! rules (case-insensitive month and day names, fractional seconds accepted after
//! seconds, range checks) and the same error texts (`parsing time "x" as "y":
//! cannot parse "x" as "2006"`). Formatting, parsing, zones and methods are
//! checked against outputs of Go 1.26 in `tests/govectors.rs`.
//!
//! Known differences from Go:
//! - No time zone database is read. `Local` is UTC unless `TZ` names a zone
//!   that needs no database (`UTC` aliases, `GMT`, `Etc/GMT±N`); Go would also
//!   load `TZ=Europe/Berlin` or `/etc/localtime`. In a container without zone
//!   data (where Kanister runs) Go's `Local` is UTC too. [`load_location`] knows
//!   the same zones.
//! - A [`GoTime`] does not record which `*time.Location` it belongs to, so
//!   `GoString` prints `time.UTC` for every zero-offset time named `UTC` (Go would
//!   print `time.Local` for a local time) and otherwise `time.Location("ABBR")`
//!   with the zone abbreviation (right for `time.FixedZone`; for a loaded zone
//!   such as `Etc/GMT-2` Go prints the location name).
//! - [`call_method`] covers the `time.Time` methods whose results are template
//!   values; `Month`, `Weekday`, `Add`, `Sub` and the like are not modelled.
//! - Times from [`now`] carry no monotonic clock reading, so [`to_string`] never
//!   appends Go's ` m=+0.000000001` suffix.
//! - Years are limited to what `i64` seconds can hold around year ±292e9; Go
//!   wraps silently beyond its own range.

use crate::value::{GoTime, TimeLoc};

/// The error `time.Parse` reports, with Go's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(pub String);

const SECS_PER_DAY: i64 = 86_400;

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const SHORT_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian date of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The broken-down wall clock of a time in its own zone.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    yday: u32,
    weekday: usize,
    hour: u32,
    min: u32,
    sec: u32,
}

fn civil(t: &GoTime) -> Civil {
    let local = t.unix_secs.saturating_add(i64::from(t.offset_secs));
    let days = local.div_euclid(SECS_PER_DAY);
    let secs = local.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let yday = (days - days_from_civil(year, 1, 1) + 1) as u32;
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7) as usize;
    Civil {
        year,
        month,
        day,
        yday,
        weekday,
        hour: (secs / 3600) as u32,
        min: (secs / 60 % 60) as u32,
        sec: (secs % 60) as u32,
    }
}

/// One element of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// `.000`: digits, separator.
    Frac0(usize, u8),
    /// `.999`: digits, separator.
    Frac9(usize, u8),
}

fn starts_with_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `nextStdChunk`: (prefix length, element, suffix start).
fn next_std_chunk(l: &[u8]) -> (usize, Option<Std>, usize) {
    let has = |i: usize, s: &str| l[i..].starts_with(s.as_bytes());
    for i in 0..l.len() {
        match l[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    return (i, Some(Std::LongMonth), i + 7);
                }
                if !starts_with_lower(&l[i + 3..]) {
                    return (i, Some(Std::Month), i + 3);
                }
            }
            b'M' => {
                if has(i, "Mon") {
                    if has(i, "Monday") {
                        return (i, Some(Std::LongWeekDay), i + 6);
                    }
                    if !starts_with_lower(&l[i + 3..]) {
                        return (i, Some(Std::WeekDay), i + 3);
                    }
                }
                if has(i, "MST") {
                    return (i, Some(Std::Tz), i + 3);
                }
            }
            b'0' => {
                if let Some(&c) = l.get(i + 1)
                    && (b'1'..=b'6').contains(&c)
                {
                    let std = [
                        Std::ZeroMonth,
                        Std::ZeroDay,
                        Std::ZeroHour12,
                        Std::ZeroMinute,
                        Std::ZeroSecond,
                        Std::Year,
                    ][(c - b'1') as usize];
                    return (i, Some(std), i + 2);
                }
                if has(i, "002") {
                    return (i, Some(Std::ZeroYearDay), i + 3);
                }
            }
            b'1' => {
                if l.get(i + 1) == Some(&b'5') {
                    return (i, Some(Std::Hour), i + 2);
                }
                return (i, Some(Std::NumMonth), i + 1);
            }
            b'2' => {
                if has(i, "2006") {
                    return (i, Some(Std::LongYear), i + 4);
                }
                return (i, Some(Std::Day), i + 1);
            }
            b'_' => {
                if l.get(i + 1) == Some(&b'2') {
                    if has(i + 1, "2006") {
                        return (i + 1, Some(Std::LongYear), i + 5);
                    }
                    return (i, Some(Std::UnderDay), i + 2);
                }
                if has(i, "__2") {
                    return (i, Some(Std::UnderYearDay), i + 3);
                }
            }
            b'3' => return (i, Some(Std::Hour12), i + 1),
            b'4' => return (i, Some(Std::Minute), i + 1),
            b'5' => return (i, Some(Std::Second), i + 1),
            b'P' if l.get(i + 1) == Some(&b'M') => return (i, Some(Std::PM), i + 2),
            b'p' if l.get(i + 1) == Some(&b'm') => return (i, Some(Std::Pm), i + 2),
            b'-' => {
                for (pat, std) in [
                    ("-070000", Std::NumSecondsTz),
                    ("-07:00:00", Std::NumColonSecondsTz),
                    ("-0700", Std::NumTz),
                    ("-07:00", Std::NumColonTz),
                    ("-07", Std::NumShortTz),
                ] {
                    if has(i, pat) {
                        return (i, Some(std), i + pat.len());
                    }
                }
            }
            b'Z' => {
                for (pat, std) in [
                    ("Z070000", Std::Iso8601SecondsTz),
                    ("Z07:00:00", Std::Iso8601ColonSecondsTz),
                    ("Z0700", Std::Iso8601Tz),
                    ("Z07:00", Std::Iso8601ColonTz),
                    ("Z07", Std::Iso8601ShortTz),
                ] {
                    if has(i, pat) {
                        return (i, Some(std), i + pat.len());
                    }
                }
            }
            b'.' | b',' => {
                if let Some(&ch) = l.get(i + 1)
                    && (ch == b'0' || ch == b'9')
                {
                    let mut j = i + 1;
                    while j < l.len() && l[j] == ch {
                        j += 1;
                    }
                    if !is_digit(l, j) {
                        let n = j - (i + 1);
                        let std = if ch == b'0' {
                            Std::Frac0(n, l[i])
                        } else {
                            Std::Frac9(n, l[i])
                        };
                        return (i, Some(std), j);
                    }
                }
            }
            _ => {}
        }
    }
    (l.len(), None, l.len())
}

/// Go's `appendInt(b, x, width)`.
fn append_int(b: &mut String, x: i64, width: usize) {
    if x < 0 {
        b.push('-');
    }
    let u = x.unsigned_abs().to_string();
    for _ in u.len()..width {
        b.push('0');
    }
    b.push_str(&u);
}

fn append_nano(b: &mut String, nanos: u32, n: usize, sep: u8, trim: bool) {
    if trim && (n == 0 || nanos == 0) {
        return;
    }
    let mut s = format!("{}{:09}", sep as char, nanos);
    if n < 9 {
        s.truncate(1 + n);
    }
    if trim {
        while s.ends_with('0') {
            s.pop();
        }
        if s.len() == 1 {
            s.pop();
        }
    }
    b.push_str(&s);
}

/// `t.Format(layout)`.
pub fn format(t: &GoTime, layout: &str) -> String {
    let c = civil(t);
    let offset = t.offset_secs;
    let mut b = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    while !rest.is_empty() {
        let (p, std, s) = next_std_chunk(rest.as_bytes());
        b.push_str(&rest[..p]);
        let Some(std) = std else { break };
        rest = &rest[s..];
        match std {
            Std::Year => append_int(&mut b, c.year.abs() % 100, 2),
            Std::LongYear => append_int(&mut b, c.year, 4),
            Std::Month => b.push_str(&LONG_MONTHS[c.month as usize - 1][..3]),
            Std::LongMonth => b.push_str(LONG_MONTHS[c.month as usize - 1]),
            Std::NumMonth => append_int(&mut b, i64::from(c.month), 0),
            Std::ZeroMonth => append_int(&mut b, i64::from(c.month), 2),
            Std::WeekDay => b.push_str(&LONG_DAYS[c.weekday][..3]),
            Std::LongWeekDay => b.push_str(LONG_DAYS[c.weekday]),
            Std::Day => append_int(&mut b, i64::from(c.day), 0),
            Std::UnderDay => {
                if c.day < 10 {
                    b.push(' ');
                }
                append_int(&mut b, i64::from(c.day), 0);
            }
            Std::ZeroDay => append_int(&mut b, i64::from(c.day), 2),
            Std::UnderYearDay => {
                if c.yday < 100 {
                    b.push(' ');
                    if c.yday < 10 {
                        b.push(' ');
                    }
                }
                append_int(&mut b, i64::from(c.yday), 0);
            }
            Std::ZeroYearDay => append_int(&mut b, i64::from(c.yday), 3),
            Std::Hour => append_int(&mut b, i64::from(c.hour), 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let hr = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                let w = if std == Std::ZeroHour12 { 2 } else { 0 };
                append_int(&mut b, i64::from(hr), w);
            }
            Std::Minute => append_int(&mut b, i64::from(c.min), 0),
            Std::ZeroMinute => append_int(&mut b, i64::from(c.min), 2),
            Std::Second => append_int(&mut b, i64::from(c.sec), 0),
            Std::ZeroSecond => append_int(&mut b, i64::from(c.sec), 2),
            Std::PM => b.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => b.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumColonTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonSecondsTz
                );
                if offset == 0 && iso {
                    b.push('Z');
                    continue;
                }
                let mut zone = offset / 60;
                let mut absoffset = offset;
                if zone < 0 {
                    b.push('-');
                    zone = -zone;
                    absoffset = -absoffset;
                } else {
                    b.push('+');
                }
                append_int(&mut b, i64::from(zone / 60), 2);
                if matches!(
                    std,
                    Std::Iso8601ColonTz
                        | Std::NumColonTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                ) {
                    b.push(':');
                }
                if std != Std::NumShortTz && std != Std::Iso8601ShortTz {
                    append_int(&mut b, i64::from(zone % 60), 2);
                }
                if matches!(
                    std,
                    Std::Iso8601SecondsTz
                        | Std::NumSecondsTz
                        | Std::NumColonSecondsTz
                        | Std::Iso8601ColonSecondsTz
                ) {
                    if matches!(std, Std::NumColonSecondsTz | Std::Iso8601ColonSecondsTz) {
                        b.push(':');
                    }
                    append_int(&mut b, i64::from(absoffset % 60), 2);
                }
            }
            Std::Tz => {
                if !t.zone_name.is_empty() {
                    b.push_str(&t.zone_name);
                    continue;
                }
                let mut zone = offset / 60;
                if zone < 0 {
                    b.push('-');
                    zone = -zone;
                } else {
                    b.push('+');
                }
                append_int(&mut b, i64::from(zone / 60), 2);
                append_int(&mut b, i64::from(zone % 60), 2);
            }
            Std::Frac0(n, sep) => append_nano(&mut b, t.nanos, n, sep, false),
            Std::Frac9(n, sep) => append_nano(&mut b, t.nanos, n, sep, true),
        }
    }
    b
}

/// `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub fn to_string(t: &GoTime) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// `t.GoString()`: `time.Date(2009, time.November, 10, 23, 0, 0, 0, time.UTC)`.
pub fn go_string(t: &GoTime) -> String {
    let c = civil(t);
    let loc = match t.loc {
        TimeLoc::Utc => "time.UTC".to_string(),
        TimeLoc::Local => "time.Local".to_string(),
        TimeLoc::Other => format!("time.Location({})", go_quote(&t.zone_name)),
    };
    format!(
        "time.Date({}, time.{}, {}, {}, {}, {}, {}, {})",
        c.year,
        LONG_MONTHS[c.month as usize - 1],
        c.day,
        c.hour,
        c.min,
        c.sec,
        t.nanos,
        loc
    )
}

/// A time zone with a single offset (all the zones this crate knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The abbreviation `MST` prints (`UTC`, `GMT`, `+02`).
    pub abbrev: String,
    /// Offset from UTC in seconds, east positive.
    pub offset_secs: i32,
    /// Which Go `*time.Location` this is.
    pub loc: TimeLoc,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            abbrev: "UTC".to_string(),
            offset_secs: 0,
            loc: TimeLoc::Utc,
        }
    }
}

/// `time.LoadLocation(name)` for the zones that need no time zone database:
/// `""` and `UTC` (UTC), `Local` ([`local_zone`]), the UTC aliases of the tz
/// database (`Etc/UTC`, `UCT`, `Universal`, `Zulu`, ...), `GMT` and its aliases,
/// and the fixed `Etc/GMT+N` / `Etc/GMT-N` zones (note the inverted sign, as in
/// the tz database). Anything else gives Go's `unknown time zone NAME`.
pub fn load_location(name: &str) -> Result<Zone, TimeError> {
    match name {
        "" | "UTC" => return Ok(Zone::utc()),
        "Local" => return Ok(local_zone()),
        _ => {}
    }
    fixed_tz_zone(name)
        .map(|z| Zone {
            loc: TimeLoc::Other,
            ..z
        })
        .ok_or_else(|| TimeError(format!("unknown time zone {name}")))
}

fn fixed_tz_zone(name: &str) -> Option<Zone> {
    let bare = name.strip_prefix("Etc/").unwrap_or(name);
    match bare {
        "UTC" | "UCT" | "Universal" | "Zulu" => return Some(Zone::utc()),
        "GMT" | "GMT0" | "GMT+0" | "GMT-0" | "Greenwich" => {
            return Some(Zone {
                abbrev: "GMT".to_string(),
                offset_secs: 0,
                loc: TimeLoc::Other,
            });
        }
        _ => {}
    }
    // Etc/GMT-14 .. Etc/GMT+12 (only under Etc/).
    let rest = name.strip_prefix("Etc/GMT")?;
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (-1, &rest[1..]),
        b'-' => (1, &rest[1..]),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() == 2 && digits.starts_with('0') {
        return None;
    }
    let h: i32 = digits.parse().ok()?;
    let east = sign * h;
    if !(-12..=14).contains(&east) {
        return None;
    }
    Some(Zone {
        abbrev: format!("{}{:02}", if east < 0 { '-' } else { '+' }, east.abs()),
        offset_secs: east * 3600,
        loc: TimeLoc::Other,
    })
}

/// Go's `time.Local`: UTC, unless the `TZ` environment variable names one of the
/// fixed zones [`load_location`] knows (read once per process). Unlike Go, no
/// time zone database or `/etc/localtime` is consulted.
pub fn local_zone() -> Zone {
    static LOCAL: std::sync::OnceLock<Zone> = std::sync::OnceLock::new();
    let zone = LOCAL
        .get_or_init(|| {
            std::env::var("TZ")
                .ok()
                .and_then(|tz| fixed_tz_zone(tz.strip_prefix(':').unwrap_or(&tz)))
                .unwrap_or_else(Zone::utc)
        })
        .clone();
    // Go's `time.Local` is `&localLoc` whatever zone it holds (named UTC when
    // TZ is UTC).
    Zone {
        loc: TimeLoc::Local,
        ..zone
    }
}

/// `t.In(zone)`.
pub fn in_zone(t: &GoTime, zone: &Zone) -> GoTime {
    GoTime {
        unix_secs: t.unix_secs,
        nanos: t.nanos,
        offset_secs: zone.offset_secs,
        zone_name: zone.abbrev.clone(),
        loc: zone.loc,
    }
}

/// `t.Local()`.
pub fn local(t: &GoTime) -> GoTime {
    in_zone(t, &local_zone())
}

/// `time.Now()` in the local zone (see [`local_zone`]).
pub fn now() -> GoTime {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    from_unix(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        i64::from(d.subsec_nanos()),
    )
}

/// `time.Unix(secs, nanos)` in the local zone. `nanos` outside `0..1e9` is
/// normalised as Go does.
pub fn from_unix(secs: i64, nanos: i64) -> GoTime {
    let secs = secs.saturating_add(nanos.div_euclid(1_000_000_000));
    let t = GoTime {
        unix_secs: secs,
        nanos: nanos.rem_euclid(1_000_000_000) as u32,
        offset_secs: 0,
        zone_name: "UTC".to_string(),
        loc: TimeLoc::Utc,
    };
    local(&t)
}

/// `t.UTC()`.
pub fn utc(t: &GoTime) -> GoTime {
    GoTime {
        unix_secs: t.unix_secs,
        nanos: t.nanos,
        offset_secs: 0,
        zone_name: "UTC".to_string(),
        loc: TimeLoc::Utc,
    }
}

/// `t.In(time.FixedZone(name, offset))`.
pub fn in_fixed_zone(t: &GoTime, name: &str, offset_secs: i32) -> GoTime {
    GoTime {
        unix_secs: t.unix_secs,
        nanos: t.nanos,
        offset_secs,
        zone_name: name.to_string(),
        loc: TimeLoc::Other,
    }
}

/// `t.Add(d)` for a duration in nanoseconds.
pub fn add_nanos(t: &GoTime, d: i64) -> GoTime {
    let total = i128::from(t.nanos) + i128::from(d);
    let secs = t.unix_secs as i128 + total.div_euclid(1_000_000_000);
    GoTime {
        unix_secs: secs.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        nanos: total.rem_euclid(1_000_000_000) as u32,
        offset_secs: t.offset_secs,
        zone_name: t.zone_name.clone(),
        loc: t.loc,
    }
}

/// `t.Sub(u)` in nanoseconds, saturating like Go's `Duration`.
pub fn sub_nanos(t: &GoTime, u: &GoTime) -> i64 {
    let a = i128::from(t.unix_secs) * 1_000_000_000 + i128::from(t.nanos);
    let b = i128::from(u.unix_secs) * 1_000_000_000 + i128::from(u.nanos);
    (a - b).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `t.AddDate(years, months, days)`: the calendar date moves and is then
/// normalised as Go's `time.Date` does (October 31 plus one month is December 1).
pub fn add_date(t: &GoTime, years: i64, months: i64, days: i64) -> GoTime {
    let c = civil(t);
    let m0 = i64::from(c.month) - 1 + months;
    let year = c
        .year
        .saturating_add(years)
        .saturating_add(m0.div_euclid(12));
    let month = (m0.rem_euclid(12) + 1) as u32;
    let day_num = days_from_civil(year, month, 1)
        .saturating_add(i64::from(c.day) - 1)
        .saturating_add(days);
    let wall = day_num
        .saturating_mul(SECS_PER_DAY)
        .saturating_add(i64::from(c.hour) * 3600 + i64::from(c.min) * 60 + i64::from(c.sec));
    GoTime {
        unix_secs: wall.saturating_sub(i64::from(t.offset_secs)),
        nanos: t.nanos,
        offset_secs: t.offset_secs,
        zone_name: t.zone_name.clone(),
        loc: t.loc,
    }
}

/// Whether `t` is Go's zero time (`t.IsZero()`).
pub fn is_zero(t: &GoTime) -> bool {
    t.unix_secs == GoTime::zero().unix_secs && t.nanos == 0
}

/// Calls a method of `time.Time` the way a template can (`{{ now.Unix }}`,
/// `{{ $t.Format "2006" }}`), for the methods whose results are template
/// values: `Unix UnixMilli UnixMicro UnixNano` (int64), `Year Day Hour Minute
/// Second Nanosecond YearDay` (int), `Format String` (string), `IsZero` (bool),
/// `Equal Before After` (one `time.Time` argument; bool), `UTC Local`
/// (`time.Time`) and `AddDate` (three ints; `time.Time`). Returns `None` for
/// any other name (e.g. `Month`, `Weekday` and `Add`, whose Go result types —
/// `time.Month`, `time.Weekday`, `time.Duration` — templates print with their
/// own `String` methods, which [`Value`] does not model), or when the
/// arguments do not have the types the method takes.
///
/// [`Value`]: crate::value::Value
pub fn call_method(
    t: &GoTime,
    name: &str,
    args: &[crate::value::Value],
) -> Option<crate::value::Value> {
    use crate::value::Value;
    let whole = i128::from(t.unix_secs) * 1_000_000_000 + i128::from(t.nanos);
    let time = |x: GoTime| Value::Time(std::sync::Arc::new(x));
    let other = || match args {
        [Value::Time(u)] => Some(i128::from(u.unix_secs) * 1_000_000_000 + i128::from(u.nanos)),
        _ => None,
    };
    if !matches!(name, "Equal" | "Before" | "After" | "Format" | "AddDate") && !args.is_empty() {
        return None;
    }
    let c = civil(t);
    Some(match name {
        "Unix" => Value::Int64(t.unix_secs),
        // Go's arithmetic, wrapping on overflow as Go's int64 does.
        "UnixMilli" => Value::Int64(
            t.unix_secs
                .wrapping_mul(1_000)
                .wrapping_add(i64::from(t.nanos / 1_000_000)),
        ),
        "UnixMicro" => Value::Int64(
            t.unix_secs
                .wrapping_mul(1_000_000)
                .wrapping_add(i64::from(t.nanos / 1_000)),
        ),
        "UnixNano" => Value::Int64(
            t.unix_secs
                .wrapping_mul(1_000_000_000)
                .wrapping_add(i64::from(t.nanos)),
        ),
        "Year" => Value::Int(c.year),
        "Day" => Value::Int(i64::from(c.day)),
        "Hour" => Value::Int(i64::from(c.hour)),
        "Minute" => Value::Int(i64::from(c.min)),
        "Second" => Value::Int(i64::from(c.sec)),
        "Nanosecond" => Value::Int(i64::from(t.nanos)),
        "YearDay" => Value::Int(i64::from(c.yday)),
        "String" => Value::string(to_string(t)),
        "IsZero" => Value::Bool(is_zero(t)),
        "UTC" => time(utc(t)),
        "Local" => time(local(t)),
        "Format" => match args {
            [Value::String(layout)] => Value::string(format(t, &layout.to_str_lossy())),
            _ => return None,
        },
        "Equal" => Value::Bool(whole == other()?),
        "Before" => Value::Bool(whole < other()?),
        "After" => Value::Bool(whole > other()?),
        "AddDate" => match args {
            [Value::Int(y), Value::Int(m), Value::Int(d)] => time(add_date(t, *y, *m, *d)),
            _ => return None,
        },
        _ => return None,
    })
}

/// The `quote` of Go's time package (used in parse errors): ASCII is kept
/// (with `"` and `\` escaped), every byte of a non-ASCII or control character is
/// written as `\xNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        if (ch as u32) >= 0x80 || ch < ' ' {
            let mut buf = [0u8; 4];
            for byte in ch.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out.push('"');
    out
}

fn parse_error(
    layout: &str,
    value: &str,
    layout_elem: &str,
    value_elem: &str,
    msg: &str,
) -> TimeError {
    if msg.is_empty() {
        TimeError(format!(
            "parsing time {} as {}: cannot parse {} as {}",
            go_quote(value),
            go_quote(layout),
            go_quote(value_elem),
            go_quote(layout_elem)
        ))
    } else {
        TimeError(format!("parsing time {}{}", go_quote(value), msg))
    }
}

/// A parse step failed (Go's `errBad`).
struct Bad;

fn getnum(s: &str, fixed: bool) -> Result<(i64, &str), Bad> {
    let b = s.as_bytes();
    if !is_digit(b, 0) {
        return Err(Bad);
    }
    if !is_digit(b, 1) {
        if fixed {
            return Err(Bad);
        }
        return Ok((i64::from(b[0] - b'0'), &s[1..]));
    }
    Ok((
        i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'),
        &s[2..],
    ))
}

fn getnum3(s: &str, fixed: bool) -> Result<(i64, &str), Bad> {
    let b = s.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && is_digit(b, i) {
        n = n * 10 + i64::from(b[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return Err(Bad);
    }
    Ok((n, &s[i..]))
}

/// Go's `leadingInt`: (value, rest), or `None` on overflow.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let b = s.as_bytes();
    let mut x: u64 = 0;
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        if x > (1u64 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(b[i] - b'0');
        if x > 1u64 << 63 {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Go's `atoi` (time package flavour).
fn atoi(s: &str) -> Result<i64, Bad> {
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    match leading_int(s) {
        Some((q, "")) => {
            let x = q as i64;
            Ok(if neg { x.wrapping_neg() } else { x })
        }
        _ => Err(Bad),
    }
}

fn lookup<'a>(tab: &[&str], val: &'a str) -> Result<(usize, &'a str), Bad> {
    for (i, v) in tab.iter().enumerate() {
        if val.len() >= v.len() && val.is_char_boundary(v.len()) {
            let head = &val.as_bytes()[..v.len()];
            let ok = head.iter().zip(v.bytes()).all(|(&c1, c2)| {
                if c1 == c2 {
                    return true;
                }
                let l1 = c1 | 0x20;
                let l2 = c2 | 0x20;
                l1 == l2 && l1.is_ascii_lowercase()
            });
            if ok {
                return Ok((i, &val[v.len()..]));
            }
        }
    }
    Err(Bad)
}

fn comma_or_period(b: u8) -> bool {
    b == b'.' || b == b','
}

/// Go's `parseNanoseconds`: `value` starts with the separator.
fn parse_nanoseconds(value: &str, nbytes: usize) -> Result<(i64, &'static str), Bad> {
    let b = value.as_bytes();
    if !b.first().copied().is_some_and(comma_or_period) {
        return Err(Bad);
    }
    let nbytes = nbytes.min(10);
    let mut ns = atoi(value.get(1..nbytes).ok_or(Bad)?)?;
    if ns < 0 {
        return Ok((0, "fractional second"));
    }
    for _ in 0..(10 - nbytes) {
        ns *= 10;
    }
    Ok((ns, ""))
}

fn parse_signed_offset(value: &str) -> usize {
    let b = value.as_bytes();
    if b.is_empty() || (b[0] != b'-' && b[0] != b'+') {
        return 0;
    }
    match leading_int(&value[1..]) {
        Some((x, rem)) if rem.len() != value.len() - 1 && x <= 23 => value.len() - rem.len(),
        _ => 0,
    }
}

fn parse_time_zone(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        if rest.is_empty() {
            return Some(3);
        }
        return Some(3 + parse_signed_offset(rest));
    }
    if b[0] == b'+' || b[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let mut n_upper = 0;
    while n_upper < 6 && n_upper < b.len() && b[n_upper].is_ascii_uppercase() {
        n_upper += 1;
    }
    match n_upper {
        5 if b[4] == b'T' => Some(5),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn skip<'a>(value: &'a str, prefix: &str) -> Result<&'a str, &'a str> {
    let mut v = value;
    let mut p = prefix;
    while !p.is_empty() {
        if p.starts_with(' ') {
            if !v.is_empty() && !v.starts_with(' ') {
                return Err(v);
            }
            p = p.trim_start_matches(' ');
            v = v.trim_start_matches(' ');
            continue;
        }
        let pc = p.as_bytes()[0];
        if v.as_bytes().first() != Some(&pc) {
            return Err(v);
        }
        // Advance one byte; both sides keep char boundaries because equal bytes
        // of valid UTF-8 advance through the same character.
        let w = p.chars().next().map_or(1, char::len_utf8);
        if !v.is_char_boundary(w) || v.len() < w || p.as_bytes()[..w] != v.as_bytes()[..w] {
            return Err(v);
        }
        p = &p[w..];
        v = &v[w..];
    }
    Ok(v)
}

/// `time.ParseInLocation(layout, value, time.Local)` (see [`local_zone`]).
pub fn parse_in_local(layout: &str, value: &str) -> Result<GoTime, TimeError> {
    let local = local_zone();
    parse_with(layout, value, &local, &local)
}

/// `time.Parse(layout, value)`: a time without zone information is in UTC; a
/// zone offset or name that matches the local zone gives a local time.
pub fn parse(layout: &str, value: &str) -> Result<GoTime, TimeError> {
    parse_with(layout, value, &Zone::utc(), &local_zone())
}

/// `time.ParseInLocation(layout, value, loc)` for a zone from [`load_location`]
/// (Go's `parse(layout, value, loc, loc)`).
pub fn parse_in_zone(layout: &str, value: &str, zone: &Zone) -> Result<GoTime, TimeError> {
    parse_with(layout, value, zone, zone)
}

fn parse_with(
    layout_in: &str,
    value_in: &str,
    default_zone: &Zone,
    local: &Zone,
) -> Result<GoTime, TimeError> {
    let mut layout = layout_in;
    let mut value = value_in;
    let mut range_err = "";
    let (mut am_set, mut pm_set) = (false, false);
    let mut year: i64 = 0;
    let mut month: i64 = -1;
    let mut day: i64 = -1;
    let mut yday: i64 = -1;
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut z_utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name = String::new();

    loop {
        let (p, std, s) = next_std_chunk(layout.as_bytes());
        let prefix = &layout[..p];
        let stdstr = &layout[p..s];
        value = match skip(value, prefix) {
            Ok(v) => v,
            Err(v) => return Err(parse_error(layout_in, value_in, prefix, v, "")),
        };
        let Some(std) = std else {
            if !value.is_empty() {
                let msg = format!(": extra text: {}", go_quote(value));
                return Err(parse_error(layout_in, value_in, "", value, &msg));
            }
            break;
        };
        layout = &layout[s..];
        let hold = value;
        let res: Result<(), Bad> = (|| {
            match std {
                Std::Year => {
                    let p = value.get(..2).ok_or(Bad)?;
                    value = &value[2..];
                    year = atoi(p)?;
                    year += if year >= 69 { 1900 } else { 2000 };
                }
                Std::LongYear => {
                    if value.len() < 4 || !is_digit(value.as_bytes(), 0) {
                        return Err(Bad);
                    }
                    let p = value.get(..4).ok_or(Bad)?;
                    value = &value[4..];
                    year = atoi(p)?;
                }
                Std::Month | Std::LongMonth => {
                    let tab: &[&str] = if std == Std::Month {
                        &SHORT_MONTHS
                    } else {
                        &LONG_MONTHS
                    };
                    let (m, rest) = lookup(tab, value)?;
                    month = m as i64 + 1;
                    value = rest;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let (m, rest) = getnum(value, std == Std::ZeroMonth)?;
                    month = m;
                    value = rest;
                    if month <= 0 || 12 < month {
                        range_err = "month";
                    }
                }
                Std::WeekDay | Std::LongWeekDay => {
                    let tab: &[&str] = if std == Std::WeekDay {
                        &SHORT_DAYS
                    } else {
                        &LONG_DAYS
                    };
                    let (_, rest) = lookup(tab, value)?;
                    value = rest;
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && value.starts_with(' ') {
                        value = &value[1..];
                    }
                    let (d, rest) = getnum(value, std == Std::ZeroDay)?;
                    day = d;
                    value = rest;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && value.starts_with(' ') {
                            value = &value[1..];
                        }
                    }
                    let (d, rest) = getnum3(value, std == Std::ZeroYearDay)?;
                    yday = d;
                    value = rest;
                }
                Std::Hour => {
                    let (h, rest) = getnum(value, false)?;
                    hour = h;
                    value = rest;
                    if !(0..24).contains(&hour) {
                        range_err = "hour";
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let (h, rest) = getnum(value, std == Std::ZeroHour12)?;
                    hour = h;
                    value = rest;
                    if !(0..=12).contains(&hour) {
                        range_err = "hour";
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    let (m, rest) = getnum(value, std == Std::ZeroMinute)?;
                    min = m;
                    value = rest;
                    if !(0..60).contains(&min) {
                        range_err = "minute";
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    let (sv, rest) = getnum(value, std == Std::ZeroSecond)?;
                    sec = sv;
                    value = rest;
                    if !(0..60).contains(&sec) {
                        range_err = "second";
                        return Ok(());
                    }
                    let vb = value.as_bytes();
                    if vb.len() >= 2 && comma_or_period(vb[0]) && is_digit(vb, 1) {
                        let (_, next, _) = next_std_chunk(layout.as_bytes());
                        if matches!(next, Some(Std::Frac0(..) | Std::Frac9(..))) {
                            return Ok(());
                        }
                        let mut n = 2;
                        while n < vb.len() && is_digit(vb, n) {
                            n += 1;
                        }
                        let (ns, re) = parse_nanoseconds(value, n)?;
                        nsec = ns;
                        range_err = re;
                        value = &value[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    let p = value.get(..2).ok_or(Bad)?;
                    value = &value[2..];
                    let (pm, am) = if std == Std::PM {
                        ("PM", "AM")
                    } else {
                        ("pm", "am")
                    };
                    if p == pm {
                        pm_set = true;
                    } else if p == am {
                        am_set = true;
                    } else {
                        return Err(Bad);
                    }
                }
                Std::Iso8601Tz
                | Std::Iso8601ShortTz
                | Std::Iso8601ColonTz
                | Std::Iso8601SecondsTz
                | Std::Iso8601ColonSecondsTz
                | Std::NumTz
                | Std::NumShortTz
                | Std::NumColonTz
                | Std::NumSecondsTz
                | Std::NumColonSecondsTz => {
                    let iso = matches!(
                        std,
                        Std::Iso8601Tz
                            | Std::Iso8601ShortTz
                            | Std::Iso8601ColonTz
                            | Std::Iso8601SecondsTz
                            | Std::Iso8601ColonSecondsTz
                    );
                    if iso && value.starts_with('Z') {
                        value = &value[1..];
                        z_utc = true;
                        return Ok(());
                    }
                    let vb = value.as_bytes();
                    let get = |a: usize, b: usize| value.get(a..b).ok_or(Bad);
                    let (sign, hh, mm, ss, rest_at) = match std {
                        Std::Iso8601ColonTz | Std::NumColonTz => {
                            if vb.len() < 6 || vb[3] != b':' {
                                return Err(Bad);
                            }
                            (get(0, 1)?, get(1, 3)?, get(4, 6)?, "00", 6)
                        }
                        Std::NumShortTz | Std::Iso8601ShortTz => {
                            if vb.len() < 3 {
                                return Err(Bad);
                            }
                            (get(0, 1)?, get(1, 3)?, "00", "00", 3)
                        }
                        Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz => {
                            if vb.len() < 9 || vb[3] != b':' || vb[6] != b':' {
                                return Err(Bad);
                            }
                            (get(0, 1)?, get(1, 3)?, get(4, 6)?, get(7, 9)?, 9)
                        }
                        Std::Iso8601SecondsTz | Std::NumSecondsTz => {
                            if vb.len() < 7 {
                                return Err(Bad);
                            }
                            (get(0, 1)?, get(1, 3)?, get(3, 5)?, get(5, 7)?, 7)
                        }
                        _ => {
                            if vb.len() < 5 {
                                return Err(Bad);
                            }
                            (get(0, 1)?, get(1, 3)?, get(3, 5)?, "00", 5)
                        }
                    };
                    value = &value[rest_at..];
                    let (hr, _) = getnum(hh, true)?;
                    let (mi, _) = getnum(mm, true)?;
                    let (se, _) = getnum(ss, true)?;
                    if hr > 24 {
                        range_err = "time zone offset hour";
                    }
                    if mi > 60 {
                        range_err = "time zone offset minute";
                    }
                    if se > 60 {
                        range_err = "time zone offset second";
                    }
                    let off = (hr * 60 + mi) * 60 + se;
                    zone_offset = Some(match sign {
                        "+" => off,
                        "-" => -off,
                        _ => return Err(Bad),
                    });
                }
                Std::Tz => {
                    if value.starts_with("UTC") {
                        z_utc = true;
                        value = &value[3..];
                        return Ok(());
                    }
                    let n = parse_time_zone(value).ok_or(Bad)?;
                    zone_name = value.get(..n).ok_or(Bad)?.to_string();
                    value = &value[n..];
                }
                Std::Frac0(n, _) => {
                    let ndigit = 1 + n;
                    if value.len() < ndigit {
                        return Err(Bad);
                    }
                    let (ns, re) = parse_nanoseconds(value, ndigit)?;
                    nsec = ns;
                    range_err = re;
                    value = value.get(ndigit..).ok_or(Bad)?;
                }
                Std::Frac9(..) => {
                    let vb = value.as_bytes();
                    if vb.len() < 2 || !comma_or_period(vb[0]) || !vb[1].is_ascii_digit() {
                        return Ok(());
                    }
                    let mut i = 0;
                    while i + 1 < vb.len() && vb[i + 1].is_ascii_digit() {
                        i += 1;
                    }
                    let (ns, re) = parse_nanoseconds(value, 1 + i)?;
                    nsec = ns;
                    range_err = re;
                    value = &value[1 + i..];
                }
            }
            Ok(())
        })();
        if !range_err.is_empty() {
            let msg = format!(": {range_err} out of range");
            return Err(parse_error(layout_in, value_in, stdstr, value, &msg));
        }
        if res.is_err() {
            return Err(parse_error(layout_in, value_in, stdstr, hold, ""));
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let mut d = 0i64;
        let mut m = 0i64;
        if is_leap(year) {
            if yday == 31 + 29 {
                m = 2;
                d = 29;
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(parse_error(
                layout_in,
                value_in,
                "",
                value,
                ": day-of-year out of range",
            ));
        }
        if m == 0 {
            const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
            m = (yday - 1) / 31 + 1;
            if BEFORE[m as usize] < yday {
                m += 1;
            }
            d = yday - BEFORE[(m - 1) as usize];
        }
        if month >= 0 && month != m {
            return Err(parse_error(
                layout_in,
                value_in,
                "",
                value,
                ": day-of-year does not match month",
            ));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(parse_error(
                layout_in,
                value_in,
                "",
                value,
                ": day-of-year does not match day",
            ));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > i64::from(days_in(month as u32, year)) {
        return Err(parse_error(
            layout_in,
            value_in,
            "",
            value,
            ": day out of range",
        ));
    }
    let days = days_from_civil(year, month as u32, day as u32);
    let wall = days * SECS_PER_DAY + hour * 3600 + min * 60 + sec;
    let mut t = GoTime {
        unix_secs: wall,
        nanos: nsec as u32,
        offset_secs: 0,
        zone_name: "UTC".to_string(),
        loc: TimeLoc::Utc,
    };
    if z_utc {
        return Ok(t);
    }
    // A zone Go makes up with time.FixedZone.
    t.loc = TimeLoc::Other;
    if let Some(off) = zone_offset {
        t.unix_secs = wall - off;
        // The local zone if it has this offset (and name, if one was given).
        if i64::from(local.offset_secs) == off
            && (zone_name.is_empty() || zone_name == local.abbrev)
        {
            return Ok(in_zone(&t, local));
        }
        t.offset_secs = off as i32;
        t.zone_name = zone_name;
        return Ok(t);
    }
    if !zone_name.is_empty() {
        if zone_name == local.abbrev {
            t.unix_secs = wall - i64::from(local.offset_secs);
            return Ok(in_zone(&t, local));
        }
        let mut offset = 0i64;
        if zone_name.len() > 3 && zone_name.starts_with("GMT") {
            offset = atoi(&zone_name[3..]).unwrap_or(0) * 3600;
        }
        // Go does not shift the instant here: the wall clock is read as UTC and
        // then shown in the named zone.
        t.offset_secs = offset as i32;
        t.zone_name = zone_name;
        return Ok(t);
    }
    t.unix_secs = wall - i64::from(default_zone.offset_secs);
    Ok(in_zone(&t, default_zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(unix: i64, nanos: u32, off: i32, name: &str) -> GoTime {
        GoTime {
            unix_secs: unix,
            nanos,
            offset_secs: off,
            zone_name: name.to_string(),
            loc: if name == "UTC" && off == 0 {
                TimeLoc::Utc
            } else {
                TimeLoc::Other
            },
        }
    }

    #[test]
    fn string_and_format() {
        assert_eq!(to_string(&GoTime::zero()), "0001-01-01 00:00:00 +0000 UTC");
        let x = t(1_257_894_000, 5_000, 0, "UTC");
        assert_eq!(to_string(&x), "2009-11-10 23:00:00.000005 +0000 UTC");
        assert_eq!(
            format(&x, "Mon Jan _2 15:04:05 2006"),
            "Tue Nov 10 23:00:00 2009"
        );
        assert_eq!(
            format(&x, "2006-01-02T15:04:05Z07:00"),
            "2009-11-10T23:00:00Z"
        );
        let y = t(1_257_894_000, 0, 7200, "");
        assert_eq!(format(&y, "15:04 -07:00 MST"), "01:00 +02:00 +0200");
    }

    #[test]
    fn locations_are_go_pointers() {
        let loc = |layout: &str, value: &str| parse_in_local(layout, value).map(|t| t.loc);
        // A parsed `Z` (or `UTC` for MST) is time.UTC: a nil loc in Go.
        assert_eq!(
            loc("2006-01-02T15:04:05Z07:00", "2025-01-02T03:04:05Z"),
            Ok(TimeLoc::Utc)
        );
        assert_eq!(
            loc("02 Jan 06 15:04 MST", "05 Mar 21 10:30 UTC"),
            Ok(TimeLoc::Utc)
        );
        // No zone: the location passed in, time.Local (&localLoc in Go),
        // even though it is named UTC.
        assert_eq!(loc("2006-01-02", "2024-02-29"), Ok(TimeLoc::Local));
        // An offset that is not the local zone's: a time.FixedZone.
        assert_eq!(
            loc("2006-01-02T15:04:05Z07:00", "2024-06-01T12:00:00+02:00"),
            Ok(TimeLoc::Other)
        );
        assert_eq!(
            loc("02 Jan 06 15:04 MST", "05 Mar 21 10:30 CET"),
            Ok(TimeLoc::Other)
        );
        let local = parse_in_local("2006-01-02", "2024-02-29").unwrap();
        assert_eq!(
            go_string(&local),
            "time.Date(2024, time.February, 29, 0, 0, 0, 0, time.Local)"
        );
        assert_eq!(utc(&local).loc, TimeLoc::Utc);
        assert_eq!(add_nanos(&local, 1).loc, TimeLoc::Local);
        assert_eq!(from_unix(0, 0).loc, TimeLoc::Local);
        assert_eq!(load_location("UTC").map(|z| z.loc), Ok(TimeLoc::Utc));
        assert_eq!(load_location("Etc/UTC").map(|z| z.loc), Ok(TimeLoc::Other));
        assert_eq!(load_location("Local").map(|z| z.loc), Ok(TimeLoc::Local));
        assert_eq!(GoTime::zero().loc, TimeLoc::Utc);
    }

    #[test]
    fn parsing() {
        let p = parse_in_local("2006-01-02T15:04:05Z07:00", "2009-11-10T23:00:00+02:00");
        assert_eq!(p, Ok(t(1_257_886_800, 0, 7200, "")));
        let e = parse_in_local("2006-01-02", "2009-1-10");
        assert_eq!(
            e,
            Err(TimeError(
                "parsing time \"2009-1-10\" as \"2006-01-02\": cannot parse \"1-10\" as \"01\""
                    .into()
            ))
        );
        assert_eq!(
            go_string(&GoTime::zero()),
            "time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)"
        );
    }
}
