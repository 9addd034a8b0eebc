//! `semver` and `semverCompare` (sprig's `semver.go` over Masterminds/semver
//! v1.5.0, the version Kanister builds with).
//!
//! Go's `*semver.Version` has unexported fields (`major`, `minor`, `patch`
//! int64, `pre`, `metadata`, `original` string, in that order) and exported
//! methods (`Major`, `Minor`, `Patch`, `Prerelease`, `Metadata`, `Original`,
//! `String`...); templates reach the methods as `.Major` etc. Kapsel models
//! the value as a pointer to a struct `semver.Version` with Go's fields, so
//! that `fmt` prints its internals as Go does (`%d` gives `&{1 2 3
//! %!d(string=) ...}`, `%#v` `&semver.Version{major:1, ...}`); the template
//! engine maps the accessor methods to the fields ([`ACCESSORS`]). Its
//! `String()` (which Go uses for printing and `toString`) is
//! [`version_string`].

use std::sync::{Arc, LazyLock};

use kapsel_govalue::{FieldDef, FuncError, JsonField, Struct, StructType, Type, Value};
use regex::Regex;

use crate::conv::arg_str;

type R = Result<Value, FuncError>;

/// The Go type name of the struct behind `*semver.Version`.
pub const TYPE_NAME: &str = "semver.Version";

const SEMVER: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
/// Go's `\s`.
const WS: &str = r"[\t\n\f\r ]";

static VERSION_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{SEMVER}$")).ok());
static CONSTRAINT_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^{WS}*(~>|=>|=<|>=|<=|!=|=|>|<|~|\^|){WS}*({CV}){WS}*$"
    ))
    .ok()
});
static RANGE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")).ok());

fn internal() -> FuncError {
    FuncError::new("kapsel-sprig: semver patterns failed to compile")
}

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    major: i64,
    minor: i64,
    patch: i64,
    pre: String,
    metadata: String,
    original: String,
}

fn segment(s: &str) -> Result<i64, FuncError> {
    s.parse::<i64>().map_err(|_| {
        FuncError::new(format!(
            "Error parsing version segment: strconv.ParseInt: parsing \"{s}\": value out of range"
        ))
    })
}

/// `semver.NewVersion`.
pub(crate) fn new_version(v: &str) -> Result<Version, FuncError> {
    let re = VERSION_RE.as_ref().ok_or_else(internal)?;
    let caps = re
        .captures(v)
        .ok_or_else(|| FuncError::new("Invalid Semantic Version"))?;
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    Ok(Version {
        major: segment(g(1))?,
        minor: match g(2) {
            "" => 0,
            m => segment(m.trim_start_matches('.'))?,
        },
        patch: match g(3) {
            "" => 0,
            p => segment(p.trim_start_matches('.'))?,
        },
        pre: g(5).to_string(),
        metadata: g(8).to_string(),
        original: v.to_string(),
    })
}

impl Version {
    fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    fn compare(&self, o: &Version) -> i32 {
        for (a, b) in [
            (self.major, o.major),
            (self.minor, o.minor),
            (self.patch, o.patch),
        ] {
            if a != b {
                return if a < b { -1 } else { 1 };
            }
        }
        match (self.pre.is_empty(), o.pre.is_empty()) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => -1,
            (false, false) => compare_prerelease(&self.pre, &o.pre),
        }
    }
}

fn compare_prerelease(v: &str, o: &str) -> i32 {
    let sp: Vec<&str> = v.split('.').collect();
    let op: Vec<&str> = o.split('.').collect();
    for i in 0..sp.len().max(op.len()) {
        let d = compare_pre_part(
            sp.get(i).copied().unwrap_or(""),
            op.get(i).copied().unwrap_or(""),
        );
        if d != 0 {
            return d;
        }
    }
    0
}

fn compare_pre_part(s: &str, o: &str) -> i32 {
    if s == o {
        return 0;
    }
    if s.is_empty() {
        return -1;
    }
    if o.is_empty() {
        return 1;
    }
    let parse = |x: &str| -> Option<u64> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        x.parse::<u64>().ok()
    };
    match (parse(s), parse(o)) {
        (None, None) => {
            if s > o {
                1
            } else {
                -1
            }
        }
        (Some(_), None) => -1,
        (None, Some(_)) => 1,
        (Some(a), Some(b)) => {
            if a > b {
                1
            } else {
                -1
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

struct Constraint {
    op: Op,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn parse_constraint(c: &str) -> Result<Constraint, FuncError> {
    let re = CONSTRAINT_RE.as_ref().ok_or_else(internal)?;
    let caps = re
        .captures(c)
        .ok_or_else(|| FuncError::new(format!("improper constraint: {c}")))?;
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let op = match g(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Gt,
        "<" => Op::Lt,
        ">=" | "=>" => Op::Ge,
        "<=" | "=<" => Op::Le,
        "~" | "~>" => Op::Tilde,
        _ => Op::Caret,
    };
    // Same group numbers as Go's: 2 is the whole version, 6 the `-pre` part.
    let (m3, m4, m5, m7) = (g(3), g(4), g(5), g(6));
    let mut ver = g(2).to_string();
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    if is_x(m3) {
        ver = "0.0.0".to_string();
        dirty = true;
    } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{m3}.0.0{m7}");
    } else if is_x(m5.trim_start_matches('.')) {
        dirty = true;
        patch_dirty = true;
        ver = format!("{m3}{m4}.0{m7}");
    }
    let con = new_version(&ver).map_err(|_| FuncError::new("constraint Parser Error"))?;
    Ok(Constraint {
        op,
        con,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let pre_mismatch = !v.pre.is_empty() && c.pre.is_empty();
        if pre_mismatch && (self.dirty || !matches!(self.op, Op::NotEqual)) {
            return false;
        }
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    return c.minor != v.minor && !self.minor_dirty;
                }
                v.compare(c) != 0
            }
            Op::Gt => v.compare(c) == 1,
            Op::Ge => v.compare(c) >= 0,
            Op::Lt | Op::Le => {
                if !self.dirty {
                    return if matches!(self.op, Op::Lt) {
                        v.compare(c) < 0
                    } else {
                        v.compare(c) <= 0
                    };
                }
                !(v.major > c.major || v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == 0
                }
            }
            Op::Caret => v.compare(c) >= 0 && v.major == c.major,
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) < 0 {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// `rewriteRange`: `1.2 - 1.4` becomes `>= 1.2, <= 1.4`.
fn rewrite_range(i: &str) -> Result<String, FuncError> {
    let re = RANGE_RE.as_ref().ok_or_else(internal)?;
    let mut o = i.to_string();
    for caps in re.captures_iter(i) {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let a = caps.get(1).map_or("", |m| m.as_str());
        let b = caps.get(11).map_or("", |m| m.as_str());
        o = o.replacen(whole, &format!(">= {a}, <= {b}"), 1);
    }
    Ok(o)
}

/// `semver.NewConstraint(c).Check(version)`.
pub(crate) fn compare(constraint: &str, version: &str) -> Result<bool, FuncError> {
    let c = rewrite_range(constraint)?;
    let mut ors: Vec<Vec<Constraint>> = Vec::new();
    for or in c.split("||") {
        ors.push(
            or.split(',')
                .map(parse_constraint)
                .collect::<Result<_, _>>()?,
        );
    }
    let v = new_version(version)?;
    Ok(ors.iter().any(|and| and.iter().all(|c| c.check(&v))))
}

/// `semver.Version`'s fields, in Go's order and with Go's (unexported)
/// names and types: what `%d`, `%+v`-less verbs and `%#v` print.
static VERSION_TYPE: LazyLock<Arc<StructType>> = LazyLock::new(|| {
    let field = |name: &str, ty: Type| FieldDef::new(name, ty, JsonField::Skip);
    Arc::new(StructType {
        name: TYPE_NAME.to_string(),
        fields: vec![
            field("major", Type::Int64),
            field("minor", Type::Int64),
            field("patch", Type::Int64),
            field("pre", Type::String),
            field("metadata", Type::String),
            field("original", Type::String),
        ],
    })
});

/// The exported methods of `*semver.Version` that take no argument and
/// return one of its fields: (method, field).
pub const ACCESSORS: &[(&str, &str)] = &[
    ("Major", "major"),
    ("Minor", "minor"),
    ("Patch", "patch"),
    ("Prerelease", "pre"),
    ("Metadata", "metadata"),
    ("Original", "original"),
];

fn to_value(v: &Version) -> Value {
    Value::ptr(Value::Struct(Arc::new(Struct {
        ty: VERSION_TYPE.clone(),
        fields: vec![
            Value::Int64(v.major),
            Value::Int64(v.minor),
            Value::Int64(v.patch),
            Value::string(v.pre.as_str()),
            Value::string(v.metadata.as_str()),
            Value::string(v.original.as_str()),
        ],
    })))
}

/// `(*semver.Version).String()` of a value built by `semver`.
pub fn version_string(s: &Struct) -> Option<String> {
    let int = |n: &str| match s.field(n) {
        Some(Value::Int64(i)) => Some(*i),
        _ => None,
    };
    let text = |n: &str| match s.field(n) {
        Some(Value::String(t)) => Some(t.to_string()),
        _ => None,
    };
    Some(
        Version {
            major: int("major")?,
            minor: int("minor")?,
            patch: int("patch")?,
            pre: text("pre")?,
            metadata: text("metadata")?,
            original: text("original")?,
        }
        .string(),
    )
}

pub(crate) fn semver(a: &[Value]) -> R {
    Ok(to_value(&new_version(&arg_str(a, 0)?)?))
}

pub(crate) fn semver_compare(a: &[Value]) -> R {
    Ok(Value::Bool(compare(&arg_str(a, 0)?, &arg_str(a, 1)?)?))
}
