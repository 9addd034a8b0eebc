//! Go's `fmt` formatting of template values: `Sprint`, `Sprintln`, `Sprintf` with
//! Go's verbs, flags, width and precision, and `%v` of every value kind exactly as
//! Go prints it (maps in sorted key order as `map[k:v]`, slices as `[a b]`, nil as
//! `<nil>`, structs as `{a b}`, pointers to structs as `&{a b}`, `[]byte` as
//! `[1 2 3]`, floats in Go's shortest `%g`-like form, `complex128` as `(1+2i)`,
//! `time.Time` via its String).
//!
//! The printer follows the structure of Go's `fmt` (`printArg` for operands,
//! `printValue` for what is reached inside them, `badVerb` for `%!x(T=v)` notes),
//! so flags, padding and error notes come out as Go writes them. It is checked
//! against outputs of Go 1.26 in `tests/govectors.rs`.
//!
//! Known differences from Go:
//! - A pointer that Go prints as an address (a nested pointer, `%p`, a pointer to
//!   a non-aggregate) prints the fixed address `0xc000000000`: real addresses are
//!   not reproducible. Non-nil maps and slices under `%p` use the same address
//!   (Go prints its zero-size allocation base for an empty slice).
//! - Values print through their [`Value`] kind: named Go types whose own
//!   `String`/`Error`/`Format` methods Go would call are not modelled, except
//!   `time.Time` (`String`, `GoString`) and `*time.Time`.
//! - `time.Time` printed with a verb that does not use its `String` method (e.g.
//!   `%d`) shows its internal fields as Go does (`{wall ext loc}`) assuming no
//!   monotonic clock reading (Go's `time.Now()` has one); `loc` is nil for
//!   `time.UTC`, as in Go, and any other location ([`TimeLoc`]) prints as the
//!   fixed address. In a `%!verb(*time.Location=...)` note Go prints the
//!   Location itself: `time.Local` as Go sets it up for a UTC local zone, any
//!   other location as a `time.FixedZone` (a zone loaded by name would show
//!   its tz database contents in Go).
//! - The `*_str` functions give Go's exact bytes; the `String`-returning ones
//!   ([`sprint`], [`sprintf`], ...) replace each byte of invalid UTF-8 by U+FFFD.
//! - `%v` of `time.Now()` has no ` m=+…` monotonic suffix.

use crate::gostrconv;
use crate::gotime;
use std::sync::{Arc, LazyLock};

use crate::value::{FieldDef, GoTime, JsonField, Str, Struct, StructType, TimeLoc, Type, Value};

/// The address printed for pointers whose real address Go would print.
pub const FAKE_ADDRESS: u64 = 0xc0_0000_0000;

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

/// Go's `utf8.DecodeRune`: the first rune of `b` and its length in bytes; an
/// invalid or empty sequence gives U+FFFD of length 1 (0 for empty input).
pub fn decode_rune(b: &[u8]) -> (char, usize) {
    let Some(&first) = b.first() else {
        return ('\u{FFFD}', 0);
    };
    if first < 0x80 {
        return (char::from(first), 1);
    }
    let n = match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return ('\u{FFFD}', 1),
    };
    match b.get(..n).and_then(|s| std::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().unwrap_or('\u{FFFD}'), n),
        None => ('\u{FFFD}', 1),
    }
}

/// `fmt.Sprint(args...)` as Go's bytes (see [`sprint`]).
pub fn sprint_str(args: &[Value]) -> Str {
    sprint_printer(args).buf.into()
}

/// `fmt.Sprintln(args...)` as Go's bytes (see [`sprintln`]).
pub fn sprintln_str(args: &[Value]) -> Str {
    sprintln_printer(args).buf.into()
}

/// `fmt.Sprintf(format, args...)` as Go's bytes (see [`sprintf`]); the format
/// may itself be any bytes.
pub fn sprintf_str(format: &[u8], args: &[Value]) -> Str {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.buf.into()
}

/// `fmt.Sprintf("%v", v)` as Go's bytes.
pub fn format_v_str(v: &Value) -> Str {
    sprint_str(std::slice::from_ref(v))
}

/// `fmt.Sprint(args...)`: operands joined with a space where neither side is a
/// string. Lossy where Go's bytes are not UTF-8 (see [`sprint_str`]).
pub fn sprint(args: &[Value]) -> String {
    sprint_printer(args).finish()
}

fn sprint_printer(args: &[Value]) -> Printer {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(b' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p
}

/// `fmt.Sprintln(args...)`: operands always space-separated, newline appended.
/// Lossy where Go's bytes are not UTF-8 (see [`sprintln_str`]).
pub fn sprintln(args: &[Value]) -> String {
    sprintln_printer(args).finish()
}

fn sprintln_printer(args: &[Value]) -> Printer {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(b' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push(b'\n');
    p
}

/// `fmt.Sprintf(format, args...)`, including Go's in-band error notes such as
/// `%!d(string=x)`, `%!(EXTRA int=1)` and `%!s(MISSING)`. Lossy where Go's
/// bytes are not UTF-8 (see [`sprintf_str`]).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.do_printf(format.as_bytes(), args);
    p.finish()
}

/// `fmt.Sprintf("%v", v)`.
pub fn format_v(v: &Value) -> String {
    sprint(std::slice::from_ref(v))
}

/// Go's `%T` spelling of a value's type (`<nil>` for a nil interface).
pub fn type_name(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".to_string(),
        other => other.type_of().to_string(),
    }
}

/// Flags, width and precision of one verb (Go's `fmtFlags` plus `wid`/`prec`).
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    prec: usize,
}

/// What a `%!verb(...)` note describes.
#[derive(Clone, Copy)]
enum Bad<'a> {
    /// A nil interface.
    Nil,
    /// A template value.
    Val(&'a Value),
    /// An integer that is not a template value (a byte of a `[]byte`, a field of
    /// `time.Time`): Go type name and whether signed.
    Int(&'static str, u64, bool),
}

#[derive(Default)]
struct Printer {
    buf: Vec<u8>,
    f: Flags,
    erroring: bool,
}

/// Go's `utf8.RuneCount`: each invalid byte counts as one rune.
fn rune_count(b: &[u8]) -> usize {
    b.utf8_chunks()
        .map(|c| c.valid().chars().count() + c.invalid().len())
        .sum()
}

fn parsenum(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num: usize = 0;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + (s[i] - b'0') as usize;
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Go's `parseArgNumber`: (zero-based index, bytes consumed, ok).
fn parse_arg_number(s: &[u8]) -> (isize, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..s.len() {
        if s[i] == b']' {
            let (w, ok, newi) = parsenum(s, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (w as isize - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

/// Go's `intFromArg`: (value, is an int, next argument index).
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    let (mut num, mut is_int) = match &args[arg_num] {
        Value::Int(i) | Value::Int64(i) => (*i, true),
        _ => (0, false),
    };
    if !(-1_000_000..=1_000_000).contains(&num) {
        num = 0;
        is_int = false;
    }
    (num, is_int, arg_num + 1)
}

/// The elements of a `[]byte` value (None when the value is not one).
fn bytes_of(v: &Value) -> Option<(&[u8], bool)> {
    match v {
        Value::Bytes(b) => Some((b, false)),
        Value::NilBytes => Some((&[], true)),
        _ => None,
    }
}

/// `time.Location`'s fields, and those of the `zone` and `zoneTrans` it holds.
struct LocationTypes {
    location: Arc<StructType>,
    zone: Arc<StructType>,
    zone_trans: Arc<StructType>,
}

static LOCATION_TYPES: LazyLock<LocationTypes> = LazyLock::new(|| {
    let f = |name: &str, ty: Type| FieldDef::new(name, ty, JsonField::Skip);
    let zone = Arc::new(StructType {
        name: "time.zone".to_string(),
        fields: vec![
            f("name", Type::String),
            f("offset", Type::Int),
            f("isDST", Type::Bool),
        ],
    });
    let zone_trans = Arc::new(StructType {
        name: "time.zoneTrans".to_string(),
        fields: vec![
            f("when", Type::Int64),
            f("index", Type::Uint8),
            f("isstd", Type::Bool),
            f("isutc", Type::Bool),
        ],
    });
    let location = Arc::new(StructType {
        name: "time.Location".to_string(),
        fields: vec![
            f("name", Type::String),
            f("zone", Type::slice(Type::Struct(zone.clone()))),
            f("tx", Type::slice(Type::Struct(zone_trans.clone()))),
            f("extend", Type::String),
            f("cacheStart", Type::Int64),
            f("cacheEnd", Type::Int64),
            f("cacheZone", Type::ptr(Type::Struct(zone.clone()))),
        ],
    });
    LocationTypes {
        location,
        zone,
        zone_trans,
    }
});

/// A time's `loc` field as Go holds it, for the `%!verb(*time.Location=...)`
/// note, which prints the Location itself: nil for UTC; `time.Local` as Go
/// sets it up when the local zone is UTC (no `/etc/localtime`, or `TZ=UTC`:
/// name `UTC`, no zones); anything else as a `time.FixedZone` (what parsing an
/// offset or an unknown zone name makes), whose `cacheZone` is a pointer.
fn location_value(t: &GoTime) -> Value {
    let ty = &*LOCATION_TYPES;
    let location = |name: &str, zone: Value, tx: Value, start: i64, end: i64, cache: Value| {
        Value::ptr(Value::Struct(Arc::new(Struct {
            ty: ty.location.clone(),
            fields: vec![
                Value::string(name),
                zone,
                tx,
                Value::string(""),
                Value::Int64(start),
                Value::Int64(end),
                cache,
            ],
        })))
    };
    let zone_type = Type::Struct(ty.zone.clone());
    match t.loc {
        TimeLoc::Utc => Value::NilPtr(Type::Struct(ty.location.clone())),
        TimeLoc::Local => location(
            &t.zone_name,
            Value::NilSlice(zone_type.clone()),
            Value::NilSlice(Type::Struct(ty.zone_trans.clone())),
            0,
            0,
            Value::NilPtr(zone_type),
        ),
        TimeLoc::Other => {
            let zone = Value::Struct(Arc::new(Struct {
                ty: ty.zone.clone(),
                fields: vec![
                    Value::string(t.zone_name.as_str()),
                    Value::Int(i64::from(t.offset_secs)),
                    Value::Bool(false),
                ],
            }));
            let trans = Value::Struct(Arc::new(Struct {
                ty: ty.zone_trans.clone(),
                fields: vec![
                    Value::Int64(i64::MIN),
                    Value::Uint8(0),
                    Value::Bool(false),
                    Value::Bool(false),
                ],
            }));
            location(
                &t.zone_name,
                Value::slice(zone_type, vec![zone.clone()]),
                Value::slice(Type::Struct(ty.zone_trans.clone()), vec![trans]),
                i64::MIN,
                i64::MAX,
                Value::ptr(zone),
            )
        }
    }
}

/// Go's internal `time.Time` fields for a time without monotonic reading:
/// (wall, ext, loc pointer).
fn time_internals(t: &GoTime) -> (u64, i64, u64) {
    let ext = t.unix_secs.wrapping_add(62_135_596_800);
    // Go stores time.UTC as nil; other locations are pointers whose address
    // is not reproducible.
    let loc = match t.loc {
        TimeLoc::Utc => 0,
        TimeLoc::Local | TimeLoc::Other => FAKE_ADDRESS,
    };
    (u64::from(t.nanos), ext, loc)
}

impl Printer {
    fn finish(self) -> String {
        match String::from_utf8(self.buf) {
            Ok(s) => s,
            // Each invalid byte becomes U+FFFD, as when Go's encoding/json (or
            // a conversion to []rune) meets the raw bytes Go would write.
            Err(e) => gostrconv::decode_go(e.as_bytes())
                .into_iter()
                .map(|r| r.unwrap_or('\u{FFFD}'))
                .collect(),
        }
    }

    fn write_str(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn write_char(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.buf.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }

    // ---- Go's fmt.fmt (format.go) ----

    fn write_padding(&mut self, n: usize) {
        let pad = if self.f.zero && !self.f.minus {
            b'0'
        } else {
            b' '
        };
        self.buf.extend(std::iter::repeat_n(pad, n));
    }

    fn pad(&mut self, b: &[u8]) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.extend_from_slice(b);
            return;
        }
        let width = self.f.wid.saturating_sub(rune_count(b));
        if !self.f.minus {
            self.write_padding(width);
            self.buf.extend_from_slice(b);
        } else {
            self.buf.extend_from_slice(b);
            self.write_padding(width);
        }
    }

    fn pad_string(&mut self, s: &str) {
        self.pad(s.as_bytes());
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad_string(if v { "true" } else { "false" });
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4usize;
        if self.f.prec_present && self.f.prec > 4 {
            prec = self.f.prec;
        }
        let mut s = String::from("U+");
        let hex = format!("{u:X}");
        for _ in hex.len()..prec {
            s.push('0');
        }
        s.push_str(&hex);
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && gostrconv::is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad_string(&s);
        self.f.zero = old;
    }

    fn fmt_integer_raw(&mut self, u: u64, base: u32, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).wrapping_neg() as u64
        } else {
            u
        };
        let mut prec: isize = 0;
        if self.f.prec_present {
            prec = self.f.prec as isize;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid as isize;
            if negative || self.f.plus || self.f.space {
                prec -= 1;
            }
        }
        // Built right to left.
        let mut rev: Vec<u8> = Vec::with_capacity(70);
        let b = u64::from(base);
        while u >= b {
            rev.push(digits[(u % b) as usize]);
            u /= b;
        }
        rev.push(digits[u as usize]);
        while (rev.len() as isize) < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&rev);
        self.f.zero = old;
    }

    fn truncate<'b>(&self, b: &'b [u8]) -> &'b [u8] {
        if self.f.prec_present {
            let mut n = self.f.prec;
            let mut i = 0;
            for r in gostrconv::decode_go(b) {
                if n == 0 {
                    return &b[..i];
                }
                n -= 1;
                i += match r {
                    Ok(c) => c.len_utf8(),
                    Err(_) => 1,
                };
            }
        }
        b
    }

    fn fmt_s(&mut self, b: &[u8]) {
        let b = self.truncate(b);
        self.pad(b);
    }

    fn fmt_sbx(&mut self, b: &[u8], digits: &[u8; 17]) {
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        if self.f.sharp {
            self.buf.push(b'0');
            self.buf.push(digits[16]);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(b' ');
                if self.f.sharp {
                    self.buf.push(b'0');
                    self.buf.push(digits[16]);
                }
            }
            self.buf.push(digits[(c >> 4) as usize]);
            self.buf.push(digits[(c & 0xf) as usize]);
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, b: &[u8]) {
        let b = self.truncate(b);
        if self.f.sharp && gostrconv::can_backquote(b) {
            let mut s = Vec::with_capacity(b.len() + 2);
            s.push(b'`');
            s.extend_from_slice(b);
            s.push(b'`');
            self.pad(&s);
            return;
        }
        let q = if self.f.plus {
            gostrconv::quote_to_ascii_bytes(b)
        } else {
            gostrconv::quote_bytes(b)
        };
        self.pad_string(&q);
    }

    fn fmt_c(&mut self, c: u64) {
        let r = u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        let mut b = [0u8; 4];
        let s = r.encode_utf8(&mut b);
        self.pad_string(s);
    }

    fn fmt_qc(&mut self, c: u64) {
        let q = gostrconv::quote_rune(c, self.f.plus);
        self.pad_string(&q);
    }

    fn fmt_float_raw(&mut self, v: f64, verb: char, prec: i32) {
        let prec = if self.f.prec_present {
            self.f.prec as i32
        } else {
            prec
        };
        let s = gostrconv::format_float(v, verb, prec);
        let mut num: Vec<u8> = if s.starts_with('-') || s.starts_with('+') {
            s.into_bytes()
        } else {
            let mut n = vec![b'+'];
            n.extend_from_slice(s.as_bytes());
            n
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1) == Some(&b'I') || num.get(1) == Some(&b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i32 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = prec;
                if digits == -1 {
                    digits = 6;
                }
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                let c = num[i];
                match c {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    _ => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        if self.f.plus || num[0] != b'+' {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push(num[0]);
                self.write_padding(self.f.wid - num.len());
                self.buf.extend_from_slice(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    // ---- Go's pp (print.go) ----

    fn bad_verb(&mut self, verb: char, bad: Bad<'_>) {
        self.erroring = true;
        self.write_str("%!");
        self.write_char(verb);
        self.buf.push(b'(');
        match bad {
            Bad::Nil => self.write_str("<nil>"),
            Bad::Val(v) => {
                self.write_str(&type_name(v));
                self.buf.push(b'=');
                self.print_value(v, 'v', 0);
            }
            Bad::Int(ty, u, signed) => {
                self.write_str(ty);
                self.buf.push(b'=');
                self.fmt_integer(u, signed, 'v', bad);
            }
        }
        self.buf.push(b')');
        self.erroring = false;
    }

    fn fmt_bool(&mut self, v: bool, verb: char, bad: Bad<'_>) {
        match verb {
            't' | 'v' => self.fmt_boolean(v),
            _ => self.bad_verb(verb, bad),
        }
    }

    fn fmt_0x64(&mut self, v: u64, leading0x: bool) {
        let sharp = self.f.sharp;
        self.f.sharp = leading0x;
        self.fmt_integer_raw(v, 16, false, 'v', LDIGITS);
        self.f.sharp = sharp;
    }

    fn fmt_integer(&mut self, v: u64, signed: bool, verb: char, bad: Bad<'_>) {
        match verb {
            'v' => {
                if self.f.sharp_v && !signed {
                    self.fmt_0x64(v, true);
                } else {
                    self.fmt_integer_raw(v, 10, signed, verb, LDIGITS);
                }
            }
            'd' => self.fmt_integer_raw(v, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer_raw(v, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer_raw(v, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer_raw(v, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer_raw(v, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(verb, bad),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: char, bad: Bad<'_>) {
        match verb {
            'v' => self.fmt_float_raw(v, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float_raw(v, verb, -1),
            'f' | 'e' | 'E' => self.fmt_float_raw(v, verb, 6),
            'F' => self.fmt_float_raw(v, 'f', 6),
            _ => self.bad_verb(verb, bad),
        }
    }

    /// Go's `pp.fmtComplex`: `(re+imi)`, each part formatted as a float with
    /// the same flags, the imaginary part always signed.
    fn fmt_complex(&mut self, re: f64, im: f64, verb: char, bad: Bad<'_>) {
        match verb {
            'v' | 'b' | 'g' | 'G' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' => {
                let old_plus = self.f.plus;
                self.buf.push(b'(');
                self.fmt_float(re, verb, bad);
                self.f.plus = true;
                self.fmt_float(im, verb, bad);
                self.write_str("i)");
                self.f.plus = old_plus;
            }
            _ => self.bad_verb(verb, bad),
        }
    }

    fn fmt_string(&mut self, s: &[u8], verb: char, bad: Bad<'_>) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sbx(s, LDIGITS),
            'X' => self.fmt_sbx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, bad),
        }
    }

    /// Go's `fmtBytes` (top-level `[]byte` operand).
    fn fmt_bytes(&mut self, v: &Value, b: &[u8], is_nil: bool, verb: char, type_string: &str) {
        match verb {
            'v' | 'd' => {
                if self.f.sharp_v {
                    self.write_str(type_string);
                    if is_nil {
                        self.write_str("(nil)");
                        return;
                    }
                    self.buf.push(b'{');
                    for (i, &c) in b.iter().enumerate() {
                        if i > 0 {
                            self.write_str(", ");
                        }
                        self.fmt_0x64(u64::from(c), true);
                    }
                    self.buf.push(b'}');
                } else {
                    self.buf.push(b'[');
                    for (i, &c) in b.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(b' ');
                        }
                        self.fmt_integer_raw(u64::from(c), 10, false, verb, LDIGITS);
                    }
                    self.buf.push(b']');
                }
            }
            's' => self.fmt_s(b),
            'x' => self.fmt_sbx(b, LDIGITS),
            'X' => self.fmt_sbx(b, UDIGITS),
            'q' => self.fmt_q(b),
            _ => self.print_value(v, verb, 0),
        }
    }

    fn fmt_pointer_raw(&mut self, u: u64, type_string: &str, verb: char, bad: Bad<'_>) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.buf.push(b'(');
                    self.write_str(type_string);
                    self.write_str(")(");
                    if u == 0 {
                        self.write_str("nil");
                    } else {
                        self.fmt_0x64(u, true);
                    }
                    self.buf.push(b')');
                } else if u == 0 {
                    self.pad_string("<nil>");
                } else {
                    let sharp = self.f.sharp;
                    self.fmt_0x64(u, !sharp);
                }
            }
            'p' => {
                let sharp = self.f.sharp;
                self.fmt_0x64(u, !sharp);
            }
            'b' | 'o' | 'd' | 'x' | 'X' => self.fmt_integer(u, false, verb, bad),
            _ => self.bad_verb(verb, bad),
        }
    }

    /// Go's `fmtPointer` for a template value.
    fn fmt_pointer(&mut self, v: &Value, verb: char) {
        let u = match v {
            Value::Ptr(_) | Value::Map(_) | Value::Slice(_) | Value::Bytes(_) => FAKE_ADDRESS,
            Value::NilPtr(_) | Value::NilMap(_) | Value::NilSlice(_) | Value::NilBytes => 0,
            _ => {
                self.bad_verb(verb, Bad::Val(v));
                return;
            }
        };
        let ty = type_name(v);
        self.fmt_pointer_raw(u, &ty, verb, Bad::Val(v));
    }

    /// Go's `handleMethods`: `time.Time` (and `*time.Time`) have `String` and
    /// `GoString` methods.
    fn handle_methods(&mut self, v: &Value, verb: char) -> bool {
        if self.erroring {
            return false;
        }
        if verb == 'w' {
            // %w is for fmt.Errorf only (and no template value is an error).
            self.bad_verb(verb, Bad::Val(v));
            return true;
        }
        let stringable = matches!(verb, 'v' | 's' | 'x' | 'X' | 'q');
        let t = match v {
            Value::Time(t) => Some(&**t),
            Value::Ptr(inner) => match &**inner {
                Value::Time(t) => Some(&**t),
                _ => return self.handle_string_method(v, verb, stringable),
            },
            Value::NilPtr(Type::Time) => None,
            _ => return self.handle_string_method(v, verb, stringable),
        };
        if !self.f.sharp_v && !stringable {
            return false;
        }
        let Some(t) = t else {
            // The method panics on a nil pointer; fmt prints "<nil>".
            self.write_str("<nil>");
            return true;
        };
        if self.f.sharp_v {
            let s = gotime::go_string(t);
            self.fmt_s(s.as_bytes());
        } else {
            let s = gotime::to_string(t);
            self.fmt_string(s.as_bytes(), verb, Bad::Val(v));
        }
        true
    }

    /// A registered `String()` method (see [`crate::func::register_stringer`]):
    /// used for the string verbs, as Go's `handleMethods` does for a
    /// `Stringer`.
    fn handle_string_method(&mut self, v: &Value, verb: char, stringable: bool) -> bool {
        if self.f.sharp_v || !stringable {
            return false;
        }
        match crate::func::string_method(v) {
            Some(s) => {
                self.fmt_string(s.as_bytes(), verb, Bad::Val(v));
                true
            }
            None => false,
        }
    }

    /// Go's `printArg`: a top-level operand.
    fn print_arg(&mut self, v: &Value, verb: char) {
        if let Value::Nil = v {
            match verb {
                'T' | 'v' => self.pad_string("<nil>"),
                _ => self.bad_verb(verb, Bad::Nil),
            }
            return;
        }
        match verb {
            'T' => {
                let t = type_name(v);
                self.fmt_s(t.as_bytes());
                return;
            }
            'p' => {
                self.fmt_pointer(v, 'p');
                return;
            }
            _ => {}
        }
        match v {
            Value::Bool(b) => self.fmt_bool(*b, verb, Bad::Val(v)),
            Value::Int(i) | Value::Int64(i) => self.fmt_integer(*i as u64, true, verb, Bad::Val(v)),
            Value::Uint8(b) => self.fmt_integer(u64::from(*b), false, verb, Bad::Val(v)),
            Value::Float(x) => self.fmt_float(*x, verb, Bad::Val(v)),
            Value::Complex(re, im) => self.fmt_complex(*re, *im, verb, Bad::Val(v)),
            Value::String(s) => self.fmt_string(s.as_bytes(), verb, Bad::Val(v)),
            Value::Bytes(b) => self.fmt_bytes(v, b, false, verb, "[]byte"),
            Value::NilBytes => self.fmt_bytes(v, &[], true, verb, "[]byte"),
            _ => {
                if !self.handle_methods(v, verb) {
                    self.print_value(v, verb, 0);
                }
            }
        }
    }

    /// Prints a value held in an `interface{}` slot (element of a
    /// `[]interface{}`, value of a `map[string]interface{}`, field of type
    /// `interface{}`).
    fn print_slot(&mut self, v: &Value, slot: &Type, verb: char, depth: usize) {
        if *slot == Type::Any {
            if let Value::Nil = v {
                if self.f.sharp_v {
                    self.write_str("interface {}(nil)");
                } else {
                    self.write_str("<nil>");
                }
                return;
            }
            self.print_value(v, verb, depth + 1);
        } else {
            self.print_value(v, verb, depth);
        }
    }

    fn print_elems_u8(&mut self, b: &[u8], is_nil: bool, verb: char, type_string: &str) {
        if self.f.sharp_v {
            self.write_str(type_string);
            if is_nil {
                self.write_str("(nil)");
                return;
            }
            self.buf.push(b'{');
            for (i, &c) in b.iter().enumerate() {
                if i > 0 {
                    self.write_str(", ");
                }
                self.fmt_integer(
                    u64::from(c),
                    false,
                    verb,
                    Bad::Int("uint8", u64::from(c), false),
                );
            }
            self.buf.push(b'}');
        } else {
            self.buf.push(b'[');
            for (i, &c) in b.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b' ');
                }
                self.fmt_integer(
                    u64::from(c),
                    false,
                    verb,
                    Bad::Int("uint8", u64::from(c), false),
                );
            }
            self.buf.push(b']');
        }
    }

    fn print_time_internals(&mut self, t: &GoTime, verb: char) {
        let (wall, ext, loc) = time_internals(t);
        if self.f.sharp_v {
            self.write_str("time.Time");
        }
        self.buf.push(b'{');
        let names = self.f.plus_v || self.f.sharp_v;
        let sep = if self.f.sharp_v { ", " } else { " " };
        if names {
            self.write_str("wall:");
        }
        self.fmt_integer(wall, false, verb, Bad::Int("uint64", wall, false));
        self.write_str(sep);
        if names {
            self.write_str("ext:");
        }
        self.fmt_integer(ext as u64, true, verb, Bad::Int("int64", ext as u64, true));
        self.write_str(sep);
        if names {
            self.write_str("loc:");
        }
        let loc_value = location_value(t);
        self.fmt_pointer_raw(loc, "*time.Location", verb, Bad::Val(&loc_value));
        self.buf.push(b'}');
    }

    /// Go's `printValue`.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if depth > 0 && self.handle_methods(v, verb) {
            return;
        }
        match v {
            Value::Nil => {
                if depth == 0 {
                    self.write_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    self.write_str("<nil>");
                } else {
                    self.bad_verb(verb, Bad::Nil);
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, Bad::Val(v)),
            Value::Int(i) | Value::Int64(i) => self.fmt_integer(*i as u64, true, verb, Bad::Val(v)),
            Value::Uint8(b) => self.fmt_integer(u64::from(*b), false, verb, Bad::Val(v)),
            Value::Float(x) => self.fmt_float(*x, verb, Bad::Val(v)),
            Value::Complex(re, im) => self.fmt_complex(*re, *im, verb, Bad::Val(v)),
            Value::String(s) => self.fmt_string(s.as_bytes(), verb, Bad::Val(v)),
            Value::Bytes(_) | Value::NilBytes => {
                let (b, is_nil) = bytes_of(v).unwrap_or((&[], true));
                if matches!(verb, 's' | 'q' | 'x' | 'X') {
                    self.fmt_bytes(v, b, is_nil, verb, "[]uint8");
                } else {
                    self.print_elems_u8(b, is_nil, verb, "[]uint8");
                }
            }
            Value::Slice(_) | Value::NilSlice(_) => {
                let (elem, items, is_nil): (Type, Vec<Value>, bool) = match v {
                    Value::Slice(s) => (s.elem.clone(), s.items(), false),
                    Value::NilSlice(e) => (e.clone(), Vec::new(), true),
                    _ => (Type::Any, Vec::new(), true),
                };
                if self.f.sharp_v {
                    self.write_str(&type_name(v));
                    if is_nil {
                        self.write_str("(nil)");
                        return;
                    }
                    self.buf.push(b'{');
                    for (i, it) in items.iter().enumerate() {
                        if i > 0 {
                            self.write_str(", ");
                        }
                        self.print_slot(it, &elem, verb, depth + 1);
                    }
                    self.buf.push(b'}');
                } else {
                    self.buf.push(b'[');
                    for (i, it) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(b' ');
                        }
                        self.print_slot(it, &elem, verb, depth + 1);
                    }
                    self.buf.push(b']');
                }
            }
            Value::Map(_) | Value::NilMap(_) => {
                if self.f.sharp_v {
                    self.write_str(&type_name(v));
                    if let Value::NilMap(_) = v {
                        self.write_str("(nil)");
                        return;
                    }
                    self.buf.push(b'{');
                } else {
                    self.write_str("map[");
                }
                if let Value::Map(m) = v {
                    for (i, (k, val)) in m.entries().iter().enumerate() {
                        if i > 0 {
                            if self.f.sharp_v {
                                self.write_str(", ");
                            } else {
                                self.buf.push(b' ');
                            }
                        }
                        let key = Value::string(k.as_str());
                        self.print_value(&key, verb, depth + 1);
                        self.buf.push(b':');
                        self.print_slot(val, &m.elem, verb, depth + 1);
                    }
                }
                self.buf.push(if self.f.sharp_v { b'}' } else { b']' });
            }
            Value::Struct(s) => {
                if self.f.sharp_v {
                    self.write_str(&s.ty.name);
                }
                self.buf.push(b'{');
                for (i, (fd, fv)) in s.ty.fields.iter().zip(s.fields.iter()).enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.write_str(", ");
                        } else {
                            self.buf.push(b' ');
                        }
                    }
                    if self.f.plus_v || self.f.sharp_v {
                        self.write_str(&fd.name);
                        self.buf.push(b':');
                    }
                    self.print_slot(fv, &fd.ty, verb, depth + 1);
                }
                self.buf.push(b'}');
            }
            Value::Time(t) => self.print_time_internals(t, verb),
            Value::Ptr(inner) => {
                if depth == 0
                    && matches!(
                        &**inner,
                        Value::Struct(_)
                            | Value::Time(_)
                            | Value::Slice(_)
                            | Value::NilSlice(_)
                            | Value::Map(_)
                            | Value::NilMap(_)
                            | Value::Bytes(_)
                            | Value::NilBytes
                    )
                {
                    self.buf.push(b'&');
                    self.print_value(inner, verb, depth + 1);
                    return;
                }
                self.fmt_pointer(v, verb);
            }
            Value::NilPtr(_) => self.fmt_pointer(v, verb),
        }
    }

    /// Go's `argNumber`.
    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &[u8],
        i: usize,
        num_args: usize,
        st: &mut PrintfState,
    ) -> (usize, usize, bool) {
        if format.len() <= i || format[i] != b'[' {
            return (arg_num, i, false);
        }
        st.reordered = true;
        let (index, wid, ok) = parse_arg_number(&format[i..]);
        if ok && 0 <= index && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        st.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn do_printf(&mut self, format: &[u8], args: &[Value]) {
        let fb = format;
        let end = fb.len();
        let mut arg_num: usize = 0;
        let mut after_index;
        let mut st = PrintfState::default();
        let mut i = 0;
        while i < end {
            st.good_arg_num = true;
            let lasti = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.extend_from_slice(&fb[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            while i < end {
                match fb[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = true,
                    b'+' => self.f.plus = true,
                    b'-' => self.f.minus = true,
                    b' ' => self.f.space = true,
                    _ => break,
                }
                i += 1;
            }
            (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, args.len(), &mut st);
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(args, arg_num);
                arg_num = n;
                self.f.wid_present = ok;
                if !ok {
                    self.write_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                self.f.wid = w.unsigned_abs() as usize;
                after_index = false;
            } else {
                let (w, ok, ni) = parsenum(fb, i, end);
                self.f.wid = w;
                self.f.wid_present = ok;
                i = ni;
                if after_index && ok {
                    st.good_arg_num = false;
                }
            }
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    st.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, args.len(), &mut st);
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(args, arg_num);
                    arg_num = n;
                    self.f.prec_present = ok;
                    self.f.prec = p.max(0) as usize;
                    if p < 0 {
                        self.f.prec_present = false;
                    }
                    if !self.f.prec_present {
                        self.write_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, ni) = parsenum(fb, i, end);
                    i = ni;
                    self.f.prec = p;
                    self.f.prec_present = true;
                    if !ok {
                        self.f.prec = 0;
                    }
                }
            }
            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, fb, i, args.len(), &mut st);
            }
            if i >= end {
                self.write_str("%!(NOVERB)");
                break;
            }
            let (verb, size) = decode_rune(&fb[i..]);
            i += size;
            if verb == '%' {
                self.buf.push(b'%');
            } else if !st.good_arg_num {
                self.write_str("%!");
                self.write_char(verb);
                self.write_str("(BADINDEX)");
            } else if arg_num >= args.len() {
                self.write_str("%!");
                self.write_char(verb);
                self.write_str("(MISSING)");
            } else {
                if verb == 'v' || verb == 'w' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
        if !st.reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.write_str("%!(EXTRA ");
            for (k, a) in args[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.write_str(", ");
                }
                if let Value::Nil = a {
                    self.write_str("<nil>");
                } else {
                    self.write_str(&type_name(a));
                    self.buf.push(b'=');
                    self.print_arg(a, 'v');
                }
            }
            self.buf.push(b')');
        }
    }
}

#[derive(Default)]
struct PrintfState {
    reordered: bool,
    good_arg_num: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn time_location_in_bad_verbs() {
        let t = |loc, name: &str, off| {
            Value::Time(Arc::new(GoTime {
                unix_secs: 0,
                nanos: 0,
                offset_secs: off,
                zone_name: name.to_string(),
                loc,
            }))
        };
        // Recorded from Go (the FixedZone's cacheZone address aside).
        assert_eq!(
            sprintf("%t", &[t(TimeLoc::Utc, "UTC", 0)]),
            "{%!t(uint64=0) %!t(int64=62135596800) %!t(*time.Location=<nil>)}"
        );
        assert_eq!(
            sprintf("%d", &[t(TimeLoc::Utc, "UTC", 0)]),
            "{0 62135596800 0}"
        );
        assert_eq!(
            sprintf("%t", &[t(TimeLoc::Local, "UTC", 0)]),
            "{%!t(uint64=0) %!t(int64=62135596800) %!t(*time.Location=&{UTC [] []  0 0 <nil>})}"
        );
        assert_eq!(
            sprintf("%t", &[t(TimeLoc::Other, "", 7200)]),
            "{%!t(uint64=0) %!t(int64=62135596800) %!t(*time.Location=&{ [{ 7200 false}] \
             [{-9223372036854775808 0 false false}]  -9223372036854775808 9223372036854775807 \
             0xc000000000})}"
        );
    }

    #[test]
    fn complex() {
        let c = Value::Complex(1.5, -2.0);
        assert_eq!(format_v(&c), "(1.5-2i)");
        assert_eq!(
            sprintf("%T %.1f %+.0e", &[c.clone(), c.clone(), c.clone()]),
            "complex128 (1.5-2.0i) (+2e+00-2e+00i)"
        );
        assert_eq!(
            sprintf("%5s", &[Value::Complex(1.0, 2.0)]),
            "%!s(complex128=(    1   +2i))"
        );
        assert_eq!(
            sprint(&[Value::Complex(0.0, 1.0), Value::Complex(0.0, 2.0)]),
            "(0+1i) (0+2i)"
        );
    }

    #[test]
    fn basics() {
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&["a".into(), Value::Int(2), "b".into()]), "a2b");
        assert_eq!(sprintln(&["a".into(), "b".into()]), "a b\n");
        assert_eq!(format_v(&Value::Nil), "<nil>");
        assert_eq!(format_v(&Value::Float(1e6)), "1e+06");
        assert_eq!(format_v(&Value::bytes(&b"hi"[..])), "[104 105]");
        assert_eq!(sprintf("%s", &[Value::bytes(&b"hi"[..])]), "hi");
        let m: BTreeMap<String, Value> = [
            ("b".to_string(), Value::Int(2)),
            ("a".to_string(), Value::Int(1)),
        ]
        .into();
        assert_eq!(format_v(&Value::map(Type::Int, m)), "map[a:1 b:2]");
        assert_eq!(format_v(&Value::NilMap(Type::Any)), "map[]");
        assert_eq!(format_v(&Value::NilSlice(Type::Any)), "[]");
        assert_eq!(sprintf("%d", &["hi".into()]), "%!d(string=hi)");
        assert_eq!(
            sprintf("%s", &["a".into(), "x".into()]),
            "a%!(EXTRA string=x)"
        );
        assert_eq!(sprintf("%v", &[]), "%!v(MISSING)");
        assert_eq!(sprintf("%", &[]), "%!(NOVERB)");
        assert_eq!(
            sprintf("%[2]d %[1]d", &[Value::Int(1), Value::Int(2)]),
            "2 1"
        );
        assert_eq!(
            sprintf(
                "%05.1f|%-5d|%x",
                &[Value::Float(3.25159), Value::Int(7), "hi".into()]
            ),
            "003.3|7    |6869"
        );
    }
}
