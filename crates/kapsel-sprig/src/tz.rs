//! Go's `time.LoadLocation` for `dateInZone`/`htmlDateInZone`: reads TZif
//! files from the system zoneinfo directories (`$ZONEINFO` first, then Go's
//! list) and finds a zone's name and offset for an instant the way Go's
//! `Location.lookup` does, including the POSIX TZ rule in a TZif footer for
//! instants after the last transition.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian year of a day number since 1970-01-01.
fn year_of_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

/// One local time type of a zone.
#[derive(Debug, Clone)]
struct ZoneType {
    name: String,
    offset: i32,
    is_dst: bool,
}

/// A zone loaded from a TZif file.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    zones: Vec<ZoneType>,
    /// (transition time, zone index), sorted
    tx: Vec<(i64, usize)>,
    extend: String,
}

const SOURCES: &[&str] = &[
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo/",
];

/// Go's `time.LoadLocation(name)` for names other than `""`, `UTC` and
/// `Local`; `None` where Go returns an error.
pub(crate) fn load(name: &str) -> Option<Location> {
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return None;
    }
    let mut dirs: Vec<String> = Vec::new();
    if let Some(z) = std::env::var_os("ZONEINFO").filter(|z| !z.is_empty()) {
        dirs.push(format!("{}/", z.to_string_lossy()));
    }
    dirs.extend(SOURCES.iter().map(|s| s.to_string()));
    dirs.iter().find_map(|d| {
        let data = std::fs::read(format!("{d}{name}")).ok()?;
        parse_tzif(&data)
    })
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Go's `LoadLocationFromTZData`.
fn parse_tzif(all: &[u8]) -> Option<Location> {
    let mut r = Reader { data: all };
    if r.take(4)? != b"TZif" {
        return None;
    }
    let version = match r.take(16)?[0] {
        0 => 1,
        b'2' => 2,
        b'3' => 3,
        b'4' => 4,
        _ => return None,
    };
    let mut counts = [0usize; 6];
    for c in &mut counts {
        *c = r.u32()? as usize;
    }
    let mut time_size = 4;
    if version > 1 {
        let [isut, isstd, leap, time, typ, chars] = counts;
        r.take(time * 4 + time + typ * 6 + chars + leap * 8 + isstd + isut)?;
        if r.take(4)? != b"TZif" {
            return None;
        }
        r.take(16)?;
        for c in &mut counts {
            *c = r.u32()? as usize;
        }
        time_size = 8;
    }
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts;
    let times = r.take(timecnt * time_size)?;
    let idx = r.take(timecnt)?;
    let types = r.take(typecnt * 6)?;
    let chars = r.take(charcnt)?;
    r.take(leap * (time_size + 4))?;
    r.take(isstd)?;
    r.take(isut)?;
    let extend = if r.data.len() > 2 && r.data[0] == b'\n' && r.data[r.data.len() - 1] == b'\n' {
        String::from_utf8_lossy(&r.data[1..r.data.len() - 1]).into_owned()
    } else {
        String::new()
    };
    if typecnt == 0 {
        return None;
    }
    let mut zones = Vec::with_capacity(typecnt);
    for t in types.chunks(6) {
        let offset = i32::from_be_bytes([t[0], t[1], t[2], t[3]]);
        let abbr = usize::from(t[5]);
        let name = chars.get(abbr..)?;
        let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
        zones.push(ZoneType {
            name: String::from_utf8_lossy(&name[..end]).into_owned(),
            offset,
            is_dst: t[4] != 0,
        });
    }
    let mut tx = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        let b = &times[i * time_size..(i + 1) * time_size];
        let when = if time_size == 8 {
            i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        } else {
            i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let zi = usize::from(idx[i]);
        if zi >= zones.len() {
            return None;
        }
        tx.push((when, zi));
    }
    if tx.is_empty() {
        tx.push((i64::MIN, 0));
    }
    Some(Location { zones, tx, extend })
}

impl Location {
    /// Go's `lookupFirstZone`.
    fn first_zone(&self) -> usize {
        if !self.tx.iter().any(|(_, zi)| *zi == 0) {
            return 0;
        }
        if let Some((_, first)) = self.tx.first()
            && self.zones[*first].is_dst
            && let Some(zi) = (0..*first).rev().find(|zi| !self.zones[*zi].is_dst)
        {
            return zi;
        }
        self.zones.iter().position(|z| !z.is_dst).unwrap_or(0)
    }

    /// The zone abbreviation and UTC offset in effect at `sec` (Unix seconds).
    pub(crate) fn lookup(&self, sec: i64) -> (String, i32) {
        if self.tx.is_empty() || sec < self.tx[0].0 {
            let z = &self.zones[self.first_zone()];
            return (z.name.clone(), z.offset);
        }
        let lo = self.tx.partition_point(|(when, _)| *when <= sec) - 1;
        let z = &self.zones[self.tx[lo].1];
        if lo == self.tx.len() - 1
            && !self.extend.is_empty()
            && let Some(r) = tzset(&self.extend, sec)
        {
            return r;
        }
        (z.name.clone(), z.offset)
    }
}

// ---- POSIX TZ strings (Go's tzset) ----

fn tzset_name(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.find('>')?;
        return Some((&rest[..end], &rest[end + 1..]));
    }
    let end = s
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || matches!(c, ',' | '-' | '+'))
        .map_or(s.len(), |(i, _)| i);
    if end < 3 {
        return None;
    }
    Some((&s[..end], &s[end..]))
}

fn tzset_num(s: &str, min: i64, max: i64) -> Option<(i64, &str)> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    let n: i64 = s[..end].parse().ok()?;
    if n < min || n > max {
        return None;
    }
    Some((n, &s[end..]))
}

/// `[+-]hh[:mm[:ss]]` as seconds.
fn tzset_offset(s: &str) -> Option<(i64, &str)> {
    let (neg, s) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let (hours, mut s) = tzset_num(s, 0, 24 * 7)?;
    let mut off = hours * 3600;
    if let Some(rest) = s.strip_prefix(':') {
        let (mins, rest) = tzset_num(rest, 0, 59)?;
        off += mins * 60;
        s = rest;
        if let Some(rest) = s.strip_prefix(':') {
            let (secs, rest) = tzset_num(rest, 0, 59)?;
            off += secs;
            s = rest;
        }
    }
    Some((if neg { -off } else { off }, s))
}

#[derive(Debug, Clone, Copy)]
enum Rule {
    Julian(i64),
    Doy(i64),
    MonthWeekDay { mon: i64, week: i64, day: i64 },
}

fn tzset_rule(s: &str) -> Option<((Rule, i64), &str)> {
    let (rule, mut s) = if let Some(rest) = s.strip_prefix('J') {
        let (d, rest) = tzset_num(rest, 1, 365)?;
        (Rule::Julian(d), rest)
    } else if let Some(rest) = s.strip_prefix('M') {
        let (mon, rest) = tzset_num(rest, 1, 12)?;
        let (week, rest) = tzset_num(rest.strip_prefix('.')?, 1, 5)?;
        let (day, rest) = tzset_num(rest.strip_prefix('.')?, 0, 6)?;
        (Rule::MonthWeekDay { mon, week, day }, rest)
    } else {
        let (d, rest) = tzset_num(s, 0, 365)?;
        (Rule::Doy(d), rest)
    };
    let mut time = 2 * 3600;
    if let Some(rest) = s.strip_prefix('/') {
        let (t, rest) = tzset_offset(rest)?;
        time = t;
        s = rest;
    }
    Some(((rule, time), s))
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `tzruleTime`: seconds after the start of the year (UTC) at which the
/// rule fires, given the offset in effect before it.
fn rule_time(year: i64, (rule, time): (Rule, i64), off: i64) -> i64 {
    let day = match rule {
        Rule::Julian(d) => (d - 1) + i64::from(is_leap(year) && d >= 60),
        Rule::Doy(d) => d,
        Rule::MonthWeekDay { mon, week, day } => {
            let first = days_from_civil(year, mon as u32, 1);
            let dow = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday
            let mut d = (day - dow).rem_euclid(7);
            for _ in 1..week {
                if d + 7 >= days_in_month(year, mon) {
                    break;
                }
                d += 7;
            }
            first - days_from_civil(year, 1, 1) + d
        }
    };
    day * 86_400 + time - off
}

/// Go's `tzset`: the zone in effect at `sec` according to a POSIX TZ string.
fn tzset(s: &str, sec: i64) -> Option<(String, i32)> {
    let (std_name, rest) = tzset_name(s)?;
    let (std_off, rest) = tzset_offset(rest)?;
    let std_off = -std_off;
    if rest.is_empty() || rest.starts_with(',') {
        return Some((std_name.to_string(), std_off as i32));
    }
    let (dst_name, mut rest) = tzset_name(rest)?;
    let mut dst_off = std_off + 3600;
    if !rest.is_empty() && !rest.starts_with(',') {
        let (o, r) = tzset_offset(rest)?;
        dst_off = -o;
        rest = r;
    }
    let rest = if rest.is_empty() {
        ",M3.2.0,M11.1.0"
    } else {
        rest
    };
    let rest = rest.strip_prefix(',').or_else(|| rest.strip_prefix(';'))?;
    let (start_rule, rest) = tzset_rule(rest)?;
    let (end_rule, rest) = tzset_rule(rest.strip_prefix(',')?)?;
    if !rest.is_empty() {
        return None;
    }
    let days = sec.div_euclid(86_400);
    let year = year_of_days(days);
    let ysec = sec - days_from_civil(year, 1, 1) * 86_400;
    let mut start = rule_time(year, start_rule, std_off);
    let mut end = rule_time(year, end_rule, dst_off);
    let (mut std_n, mut dst_n) = (std_name, dst_name);
    let (mut so, mut d_o) = (std_off, dst_off);
    if end < start {
        std::mem::swap(&mut start, &mut end);
        std::mem::swap(&mut std_n, &mut dst_n);
        std::mem::swap(&mut so, &mut d_o);
    }
    if ysec < start || ysec >= end {
        Some((std_n.to_string(), so as i32))
    } else {
        Some((dst_n.to_string(), d_o as i32))
    }
}
