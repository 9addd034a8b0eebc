//! Checks `gofmt`, `gojson` and `gotime` against outputs produced by real Go
//! (`tests/gocheck/gen.sh` writes `tests/data/vectors.json`). The argument ids
//! name the same values as `tests/gocheck/vectors/main.go` builds in Go.

#![allow(clippy::expect_used, clippy::approx_constant)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kapsel_govalue::value::{FieldDef, GoTime, JsonField, StructType, TimeLoc, Type, Value};
use kapsel_govalue::{gofmt, gojson, gotime};

fn vectors() -> serde_json::Value {
    let text = include_str!("data/vectors.json");
    serde_json::from_str(text).expect("vectors.json parses")
}

fn untagged(name: &str, ty: Type) -> FieldDef {
    FieldDef::new(name, ty, JsonField::Untagged)
}

fn named(name: &str, ty: Type, key: &str, omitempty: bool) -> FieldDef {
    FieldDef::new(
        name,
        ty,
        JsonField::Named {
            key: key.to_string(),
            omitempty,
        },
    )
}

struct Types {
    profile: Arc<StructType>,
    outer: Arc<StructType>,
    meta: Arc<StructType>,
    secret: Arc<StructType>,
    tagged: Arc<StructType>,
}

fn types() -> Types {
    let profile = Arc::new(StructType {
        name: "main.Profile".into(),
        fields: vec![
            untagged("Name", Type::String),
            untagged("Ns", Type::String),
            untagged("Count", Type::Int),
        ],
    });
    let pt = Type::Struct(profile.clone());
    let outer = Arc::new(StructType {
        name: "main.Outer".into(),
        fields: vec![
            untagged("P", pt.clone()),
            untagged("Any", Type::Any),
            untagged("L", Type::slice(Type::String)),
            untagged("M", Type::map(Type::Int)),
            untagged("Ptr", Type::ptr(pt.clone())),
        ],
    });
    let meta = Arc::new(StructType {
        name: "main.Meta".into(),
        fields: vec![
            named("Name", Type::String, "name", true),
            named("Labels", Type::map(Type::String), "labels", true),
        ],
    });
    let secret = Arc::new(StructType {
        name: "main.Secret".into(),
        fields: vec![
            FieldDef::embedded("Meta", Type::Struct(meta.clone()), JsonField::Inline),
            named("Data", Type::map(Type::Bytes), "data", true),
            named("Type", Type::String, "type", true),
        ],
    });
    let tagged = Arc::new(StructType {
        name: "main.Tagged".into(),
        fields: vec![
            named("A", Type::String, "a", false),
            named("B", Type::Int, "b", true),
            FieldDef::new("C", Type::String, JsonField::Skip),
            untagged("D", Type::Float64),
            named("E", Type::slice(Type::Int), "e", true),
            named("F", Type::ptr(pt), "f", false),
            named("G", Type::Any, "g", true),
            named("H", Type::Bool, "h", true),
        ],
    });
    Types {
        profile,
        outer,
        meta,
        secret,
        tagged,
    }
}

fn st(ty: &Arc<StructType>, fields: Vec<Value>) -> Value {
    Value::Struct(Arc::new(kapsel_govalue::value::Struct {
        ty: ty.clone(),
        fields,
    }))
}

/// [`ts`] with the location set to `TimeLoc::Utc` whatever the zone.
fn ts_utc_loc(unix: i64, nanos: u32, name: &str, off: i32) -> GoTime {
    GoTime {
        loc: TimeLoc::Utc,
        ..ts(unix, nanos, name, off)
    }
}

fn ts(unix: i64, nanos: u32, name: &str, off: i32) -> GoTime {
    GoTime {
        unix_secs: unix,
        nanos,
        offset_secs: off,
        zone_name: name.to_string(),
        // The vectors' UTC times are time.UTC (a nil loc); the others are
        // fixed zones.
        loc: if name == "UTC" && off == 0 {
            TimeLoc::Utc
        } else {
            TimeLoc::Other
        },
    }
}

fn tv(t: GoTime) -> Value {
    Value::Time(Arc::new(t))
}

fn map_of(elem: Type, kv: Vec<(&str, Value)>) -> Value {
    Value::map(
        elem,
        kv.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn arg(id: &str) -> Value {
    if let Some(hex) = id.strip_prefix("F:") {
        return Value::Float(f64::from_bits(
            u64::from_str_radix(hex, 16).expect("float bits"),
        ));
    }
    if let Some(h) = id.strip_prefix("S:") {
        return Value::string(String::from_utf8(unhex(h)).expect("valid UTF-8"));
    }
    if let Some(h) = id.strip_prefix("B:") {
        return Value::bytes(unhex(h));
    }
    if let Some(n) = id.strip_prefix("I:") {
        return Value::Int(n.parse().expect("int"));
    }
    if let Some(rest) = id.strip_prefix("T:") {
        let parts: Vec<&str> = rest.splitn(4, ':').collect();
        return tv(ts(
            parts[0].parse().expect("unix"),
            parts[1].parse().expect("nanos"),
            parts[3],
            parts[2].parse().expect("offset"),
        ));
    }
    let t = types();
    let prof = st(&t.profile, vec!["a".into(), "b".into(), Value::Int(3)]);
    match id {
        "nil" => Value::Nil,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "i0" => Value::Int(0),
        "i7" => Value::Int(7),
        "i42" => Value::Int(42),
        "in7" => Value::Int(-7),
        "ibig" => Value::Int(1_234_567_890_123),
        "imin" => Value::Int64(i64::MIN),
        "i64_255" => Value::Int64(255),
        "i65" => Value::Int(65),
        "i0x1F600" => Value::Int(0x1F600),
        "isur" => Value::Int(0xD800),
        "ihuge" => Value::Int(0x11_0000),
        "f0" => Value::Float(0.0),
        "fneg0" => Value::Float(-0.0),
        "f1" => Value::Float(1.0),
        "f314" => Value::Float(3.14159),
        "f1e6" => Value::Float(1e6),
        "f1e21" => Value::Float(1e21),
        "f1e20" => Value::Float(1e20),
        "f1em5" => Value::Float(1e-5),
        "f1em7" => Value::Float(1e-7),
        "f0125" => Value::Float(0.125),
        "f2_5" => Value::Float(2.5),
        "fn1234" => Value::Float(-1234.5678),
        "fthird" => Value::Float(1.0 / 3.0),
        "fmax" => Value::Float(f64::MAX),
        "fsmall" => Value::Float(5e-324),
        "f123456" => Value::Float(123_456.0),
        "f1234567" => Value::Float(1_234_567.0),
        "fnan" => Value::Float(f64::NAN),
        "finf" => Value::Float(f64::INFINITY),
        "fninf" => Value::Float(f64::NEG_INFINITY),
        "s_empty" => "".into(),
        "s_hi" => "hi".into(),
        "s_hello" => "héllo, 世界".into(),
        "s_quote" => "a\"b\\c\n\t\u{7}\u{7f}".into(),
        "s_html" => "<a href=\"x\">&</a>".into(),
        "s_ls" => "x\u{2028}y\u{2029}z".into(),
        "s_tick" => "a`b".into(),
        "s_bom" => "\u{feff}x".into(),
        "s_emoji" => "😀☺".into(),
        "s_ctrl" => "\u{0}\u{1f}".into(),
        "b_hi" => Value::bytes(&b"hi"[..]),
        "b_empty" => Value::bytes(&b""[..]),
        "b_nil" => Value::NilBytes,
        "b_bin" => Value::bytes(&[0u8, 1, 0xff, 0x80, b'a'][..]),
        "sl_str" => Value::slice(Type::String, vec!["a".into(), "b c".into()]),
        "sl_int" => Value::slice(
            Type::Int,
            vec![Value::Int(1), Value::Int(-2), Value::Int(3)],
        ),
        "sl_any" => Value::slice(
            Type::Any,
            vec![
                Value::Int(1),
                "a".into(),
                Value::Nil,
                Value::Float(2.5),
                Value::Bool(true),
            ],
        ),
        "sl_nil" => Value::NilSlice(Type::String),
        "sl_nilany" => Value::NilSlice(Type::Any),
        "sl_empty" => Value::slice(Type::String, vec![]),
        "sl_bytes" => Value::slice(Type::Bytes, vec![Value::bytes(&b"a"[..]), Value::NilBytes]),
        "sl_f" => Value::slice(
            Type::Float64,
            vec![Value::Float(1.0), Value::Float(2.5), Value::Float(1e21)],
        ),
        "map_si" => map_of(Type::Int, vec![("b", Value::Int(2)), ("a", Value::Int(1))]),
        "map_sany" => map_of(
            Type::Any,
            vec![
                ("z", Value::Nil),
                (
                    "a",
                    Value::slice(Type::Any, vec![Value::Float(1.0), "x".into()]),
                ),
                ("m", map_of(Type::Any, vec![("k", "v".into())])),
            ],
        ),
        "map_ss" => map_of(Type::String, vec![("k<", "v&".into()), ("", "e".into())]),
        "map_nil" => Value::NilMap(Type::Int),
        "map_empty" => map_of(Type::String, vec![]),
        "map_bytes" => map_of(Type::Bytes, vec![("key", Value::bytes(&b"val"[..]))]),
        "st_prof" => prof,
        "st_outer" => st(
            &t.outer,
            vec![
                prof,
                Value::Float(1.5),
                Value::slice(Type::String, vec!["x".into()]),
                map_of(Type::Int, vec![("k", Value::Int(1))]),
                Value::NilPtr(Type::Struct(t.profile.clone())),
            ],
        ),
        "st_outer0" => Type::Struct(t.outer.clone()).zero(),
        "pst_prof" => Value::ptr(prof),
        "pnil_prof" => Value::NilPtr(Type::Struct(t.profile.clone())),
        "pst_outer" => Value::ptr(st(
            &t.outer,
            vec![
                prof,
                "s".into(),
                Value::NilSlice(Type::String),
                Value::NilMap(Type::Int),
                Value::NilPtr(Type::Struct(t.profile.clone())),
            ],
        )),
        "psl_str" => Value::ptr(Value::slice(Type::String, vec!["p".into()])),
        "pmap_si" => Value::ptr(map_of(Type::Int, vec![("q", Value::Int(1))])),
        "st_secret" => st(
            &t.secret,
            vec![
                st(
                    &t.meta,
                    vec!["s1".into(), map_of(Type::String, vec![("app", "x".into())])],
                ),
                map_of(Type::Bytes, vec![("k", Value::bytes(&b"v"[..]))]),
                "Opaque".into(),
            ],
        ),
        "st_secret0" => Type::Struct(t.secret.clone()).zero(),
        "st_tagged" => st(
            &t.tagged,
            vec![
                "x".into(),
                Value::Int(0),
                "hidden".into(),
                Value::Float(2.5),
                Value::NilSlice(Type::Int),
                Value::ptr(prof),
                Value::Nil,
                Value::Bool(false),
            ],
        ),
        "st_tagged1" => st(
            &t.tagged,
            vec![
                "".into(),
                Value::Int(5),
                "".into(),
                Value::Float(0.0),
                Value::slice(Type::Int, vec![Value::Int(1)]),
                Value::NilPtr(Type::Struct(t.profile.clone())),
                "g".into(),
                Value::Bool(true),
            ],
        ),
        "t_utc" => tv(ts(1_257_894_000, 0, "UTC", 0)),
        "t_nano" => tv(ts(1_257_894_000, 123_456_789, "UTC", 0)),
        "t_fixed" => tv(ts(1_257_894_000, 5000, "", 7200)),
        "t_named" => tv(ts(1_257_894_000, 0, "PST", -8 * 3600)),
        "t_zero" => tv(GoTime::zero()),
        "t_neg" => tv(ts(-62_135_596_800 - 86_400 * 400, 0, "UTC", 0)),
        "t_far" => tv(ts(253_402_300_800 + 86_400 * 40, 0, "UTC", 0)),
        "t_oddoff" => tv(ts(1_257_894_000, 0, "", 5 * 3600 + 30 * 60 + 15)),
        "pt_utc" => Value::ptr(tv(ts(1_257_894_000, 0, "UTC", 0))),
        "pnil_time" => Value::NilPtr(Type::Time),
        "map_time" => map_of(
            Type::Time,
            vec![
                ("a", tv(ts(1_257_894_000, 0, "UTC", 0))),
                ("b", tv(ts(1_257_894_000, 5000, "", 7200))),
            ],
        ),
        "sl_anytime" => Value::slice(
            Type::Any,
            vec![tv(ts(1_257_894_000, 0, "PST", -8 * 3600)), Value::Nil],
        ),
        "st_time" => {
            let wt = Arc::new(StructType {
                name: "main.WithTime".into(),
                fields: vec![
                    untagged("T", Type::Time),
                    untagged("P", Type::ptr(Type::Time)),
                    untagged("N", Type::ptr(Type::Time)),
                    named("At", Type::Any, "at", true),
                ],
            });
            st(
                &wt,
                vec![
                    tv(ts(1_257_894_000, 0, "UTC", 0)),
                    Value::ptr(tv(ts(1_257_894_000, 1, "UTC", 0))),
                    Value::NilPtr(Type::Time),
                    tv(ts(0, 0, "UTC", 0)),
                ],
            )
        }
        "st_dom" | "st_dom_nil" => {
            let i1 = Arc::new(StructType {
                name: "main.Inner1".into(),
                fields: vec![
                    untagged("X", Type::Int),
                    named("Y", Type::Int, "y", false),
                    untagged("Z", Type::Int),
                ],
            });
            let i2 = Arc::new(StructType {
                name: "main.Inner2".into(),
                fields: vec![
                    untagged("X", Type::Int),
                    untagged("Y", Type::Int),
                    named("W", Type::Int, "Z", false),
                ],
            });
            let dom = Arc::new(StructType {
                name: "main.Dom".into(),
                fields: vec![
                    FieldDef::embedded("Inner1", Type::Struct(i1.clone()), JsonField::Untagged),
                    FieldDef::embedded(
                        "Inner2",
                        Type::ptr(Type::Struct(i2.clone())),
                        JsonField::Untagged,
                    ),
                    named("Z", Type::String, "z2", false),
                    untagged("V", Type::Int),
                ],
            });
            let inner2 = if id == "st_dom" {
                Value::ptr(st(&i2, vec![Value::Int(4), Value::Int(5), Value::Int(6)]))
            } else {
                Value::NilPtr(Type::Struct(i2))
            };
            st(
                &dom,
                vec![
                    st(&i1, vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
                    inner2,
                    "z".into(),
                    Value::Int(7),
                ],
            )
        }
        "s_layout" => "Mon, 02 Jan 2006 15:04:05 -0700".into(),
        "t_am" => tv(ts(1_257_840_000 + 60 * 5 + 7, 7_000_000, "UTC", 0)),
        "t_noon" => tv(ts(1_257_854_400, 0, "UTC", 0)),
        "t_pm" => tv(ts(1_257_894_000 + 3600, 0, "", -3 * 3600 - 1800)),
        "t_jan1" => tv(ts(1_230_768_000, 0, "UTC", 0)),
        "t_leap" => tv(ts(1_330_473_600 + 86_400 * 300, 999_999_999, "UTC", 0)),
        "t_wed" => tv(ts(1_700_000_000, 100, "", 3600)),
        other => panic!("unknown arg id {other}"),
    }
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn args_of(c: &serde_json::Value) -> Vec<Value> {
    c["args"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| arg(a.as_str().expect("arg id")))
        .collect()
}

fn s<'a>(c: &'a serde_json::Value, k: &str) -> &'a str {
    c[k].as_str().unwrap_or("")
}

/// Runs `check` over every case of `section`, reporting all mismatches at once.
fn run(section: &str, check: impl Fn(&serde_json::Value) -> Option<String>) {
    let v = vectors();
    let cases = v[section].as_array().expect("section");
    assert!(!cases.is_empty(), "no cases in {section}");
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(40).collect();
        panic!(
            "{} of {} {section} cases differ from Go:\n{}",
            failures.len(),
            cases.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn sprintf_matches_go() {
    run("sprintf", |c| {
        // %p prints addresses; ours is the fixed FAKE_ADDRESS (documented).
        if s(c, "format") == "%p" {
            return None;
        }
        let got = gofmt::sprintf(s(c, "format"), &args_of(c));
        let want = s(c, "expected");
        (got != want).then(|| {
            format!(
                "{:?} {}: got {got:?} want {want:?}",
                s(c, "format"),
                c["args"]
            )
        })
    });
}

#[test]
fn sprint_and_sprintln_match_go() {
    run("sprint", |c| {
        let a = args_of(c);
        let got = (gofmt::sprint(&a), gofmt::sprintln(&a));
        let want = (s(c, "sprint").to_string(), s(c, "sprintln").to_string());
        (got != want).then(|| format!("{}: got {got:?} want {want:?}", c["args"]))
    });
}

#[test]
fn json_marshal_matches_go() {
    run("json", |c| {
        let v = arg(s(c, "arg"));
        let got = gojson::marshal(&v);
        let got_ind = gojson::marshal_indent(&v, ">", "\t");
        let err = s(c, "error");
        let got_raw = gojson::marshal_raw(&v);
        let ok = if err.is_empty() {
            got.as_deref() == Ok(s(c, "expected"))
                && got_ind.as_deref() == Ok(s(c, "indented"))
                && got_raw.as_deref() == Ok(s(c, "raw"))
        } else {
            got.as_ref().err().map(|e| e.0.as_str()) == Some(err)
        };
        (!ok).then(|| {
            format!(
                "{}: got {got:?} / {got_ind:?} / {got_raw:?} want {:?} / {:?} / {:?} err {err:?}",
                s(c, "arg"),
                s(c, "expected"),
                s(c, "indented"),
                s(c, "raw")
            )
        })
    });
}

#[test]
fn json_unmarshal_matches_go() {
    run("unmarshal", |c| {
        let input = s(c, "input");
        let got = gojson::unmarshal_any(input).and_then(|v| gojson::marshal(&v));
        let err = s(c, "error");
        let ok = if err.is_empty() {
            got.as_deref() == Ok(s(c, "expected"))
        } else {
            got.as_ref().err().map(|e| e.0.as_str()) == Some(err)
        };
        (!ok).then(|| {
            format!(
                "{input:?}: got {got:?} want {:?} err {err:?}",
                s(c, "expected")
            )
        })
    });
}

#[test]
fn time_format_matches_go() {
    run("time_format", |c| {
        let Value::Time(t) = arg(s(c, "time")) else {
            return Some(format!("{} is not a time", s(c, "time")));
        };
        let got = gotime::format(&t, s(c, "layout"));
        let want = s(c, "expected");
        (got != want).then(|| {
            format!(
                "{} {:?}: got {got:?} want {want:?}",
                s(c, "time"),
                s(c, "layout")
            )
        })
    });
}

#[test]
fn time_parse_matches_go() {
    run("time_parse", |c| {
        // The vectors do not record the location (`TimeLoc`, tested in
        // gotime's unit tests): compare the instant and the zone.
        let got = gotime::parse_in_local(s(c, "layout"), s(c, "value")).map(|t| GoTime {
            loc: TimeLoc::Utc,
            ..t
        });
        let err = s(c, "error");
        let ok = if err.is_empty() {
            got.as_ref().ok()
                == Some(&ts_utc_loc(
                    c["unix"].as_i64().unwrap_or(0),
                    c["nanos"].as_u64().unwrap_or(0) as u32,
                    s(c, "zone_name"),
                    c["offset"].as_i64().unwrap_or(0) as i32,
                ))
        } else {
            got.as_ref().err().map(|e| e.0.as_str()) == Some(err)
        };
        (!ok).then(|| {
            format!(
                "{:?} {:?}: got {got:?} want {} {} {:?} {} err {err:?}",
                s(c, "layout"),
                s(c, "value"),
                c["unix"],
                c["nanos"],
                s(c, "zone_name"),
                c["offset"]
            )
        })
    });
}

#[test]
fn fmt_and_json_of_decoded_json_match_go() {
    run("json_fmt", |c| {
        let input = s(c, "input");
        let v = match gojson::unmarshal_any(input) {
            Ok(v) => v,
            Err(e) => return Some(format!("{input:?}: {e}")),
        };
        let mut bad = Vec::new();
        let formats = c["formats"].as_array().expect("formats");
        let outputs = c["outputs"].as_array().expect("outputs");
        for (f, want) in formats.iter().zip(outputs) {
            let f = f.as_str().unwrap_or("");
            let got = gofmt::sprintf(f, std::slice::from_ref(&v));
            if Some(got.as_str()) != want.as_str() {
                bad.push(format!("{f}: got {got:?} want {want}"));
            }
        }
        let m = gojson::marshal(&v);
        if m.as_deref() != Ok(s(c, "marshal")) {
            bad.push(format!("marshal: got {m:?}"));
        }
        let mi = gojson::marshal_indent(&v, "", "  ");
        if mi.as_deref() != Ok(s(c, "indented")) {
            bad.push(format!("indent: got {mi:?}"));
        }
        let sp = gofmt::sprint(&[v.clone(), v.clone(), "s".into(), v]);
        if sp != s(c, "sprint") {
            bad.push(format!("sprint: got {sp:?} want {:?}", s(c, "sprint")));
        }
        (!bad.is_empty()).then(|| format!("{input}: {}", bad.join("; ")))
    });
}

#[test]
fn load_location_matches_go() {
    run("zones", |c| {
        let got = gotime::load_location(s(c, "name"));
        let err = s(c, "error");
        let want = if err.is_empty() {
            Ok(gotime::Zone {
                abbrev: s(c, "abbrev").to_string(),
                offset_secs: c["offset"].as_i64().unwrap_or(0) as i32,
                // Go's LoadLocation: time.UTC, time.Local or a new Location.
                loc: match s(c, "name") {
                    "" | "UTC" => TimeLoc::Utc,
                    "Local" => TimeLoc::Local,
                    _ => TimeLoc::Other,
                },
            })
        } else {
            Err(gotime::TimeError(err.to_string()))
        };
        (got != want).then(|| format!("{:?}: got {got:?} want {want:?}", s(c, "name")))
    });
}

#[test]
fn parse_in_zone_matches_go() {
    run("parse_in_zone", |c| {
        let zone = gotime::load_location(s(c, "zone")).expect("known zone");
        // As in time_parse_matches_go, the location is not compared.
        let got = gotime::parse_in_zone(s(c, "layout"), s(c, "value"), &zone).map(|t| GoTime {
            loc: TimeLoc::Utc,
            ..t
        });
        let err = s(c, "error");
        let want = if err.is_empty() {
            Ok(ts_utc_loc(
                c["unix"].as_i64().unwrap_or(0),
                c["nanos"].as_u64().unwrap_or(0) as u32,
                s(c, "zone_name"),
                c["offset"].as_i64().unwrap_or(0) as i32,
            ))
        } else {
            Err(gotime::TimeError(err.to_string()))
        };
        (got != want).then(|| {
            format!(
                "{} {:?} {:?}: got {got:?} want {want:?}",
                s(c, "zone"),
                s(c, "layout"),
                s(c, "value")
            )
        })
    });
}

#[test]
fn time_methods_match_go() {
    run("methods", |c| {
        let Value::Time(t) = arg(s(c, "time")) else {
            return Some(format!("{} is not a time", s(c, "time")));
        };
        let a = args_of(c);
        let got = gotime::call_method(&t, s(c, "method"), &a)
            .map(|v| gofmt::sprintf("%v|%T", &[v.clone(), v]));
        let want = s(c, "expected");
        (got.as_deref() != Some(want)).then(|| {
            format!(
                "{} {} {:?}: got {got:?} want {want:?}",
                s(c, "time"),
                s(c, "method"),
                c["args"]
            )
        })
    });
}
