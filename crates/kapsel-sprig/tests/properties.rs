#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The registered name set, the nondeterministic functions (by their
//! properties), the functions Kapsel does not support yet, and a no-panic
//! property over every function.

use std::collections::{BTreeMap, BTreeSet};

use kapsel_govalue::{FuncError, Param, Type, Value, gotime};
use proptest::prelude::*;

/// The keys of sprig v2.22.0's `genericMap` (functions.go), i.e. of
/// `TxtFuncMap()`, copied from the source.
const V2_22_NAMES: &[&str] = &[
    "hello",
    "date",
    "date_in_zone",
    "date_modify",
    "now",
    "htmlDate",
    "htmlDateInZone",
    "dateInZone",
    "dateModify",
    "ago",
    "toDate",
    "unixEpoch",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimall",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "adler32sum",
    "toString",
    "atoi",
    "int64",
    "int",
    "float64",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "until",
    "untilStep",
    "add1",
    "add",
    "sub",
    "div",
    "mod",
    "mul",
    "biggest",
    "max",
    "min",
    "ceil",
    "floor",
    "round",
    "join",
    "sortAlpha",
    "default",
    "empty",
    "coalesce",
    "compact",
    "deepCopy",
    "toJson",
    "toPrettyJson",
    "ternary",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "env",
    "expandenv",
    "getHostByName",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "tuple",
    "list",
    "dict",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "values",
    "append",
    "push",
    "prepend",
    "first",
    "rest",
    "last",
    "initial",
    "reverse",
    "uniq",
    "without",
    "has",
    "slice",
    "concat",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genSelfSignedCert",
    "genSignedCert",
    "encryptAES",
    "decryptAES",
    "uuidv4",
    "semver",
    "semverCompare",
    "fail",
    "regexMatch",
    "regexFindAll",
    "regexFind",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "urlParse",
    "urlJoin",
];

/// Functions whose results are checked here by property rather than against Go
/// in `gocases.rs`.
const PROPERTY_TESTED: &[&str] = &[
    "now",
    "ago",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "shuffle",
    "uuidv4",
    "env",
    "expandenv",
    "getHostByName",
    "genCA",
    "genSelfSignedCert",
    "genSignedCert",
    "encryptAES",
    "decryptAES",
];

fn call(name: &str, args: &[Value]) -> Result<Value, FuncError> {
    let m = kapsel_sprig::txt_func_map();
    let f = m
        .get(name)
        .unwrap_or_else(|| panic!("{name} not registered"));
    (f.call)(args)
}

fn text(v: Result<Value, FuncError>) -> String {
    match v.unwrap() {
        Value::String(s) => s.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn s(x: &str) -> Value {
    Value::string(x)
}

#[test]
fn names_are_exactly_v2_22_txt_func_map() {
    let got: BTreeSet<&str> = kapsel_sprig::txt_func_map().names().collect();
    let want: BTreeSet<&str> = V2_22_NAMES.iter().copied().collect();
    assert_eq!(want.len(), V2_22_NAMES.len(), "duplicate in the list");
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

#[test]
fn no_go_builtins_or_later_sprig_functions() {
    let m = kapsel_sprig::txt_func_map();
    for name in [
        "print",
        "printf",
        "len",
        "index",
        "and",
        "bcrypt",
        "htpasswd",
        "mustToJson",
        "toRawJson",
        "get",
        "dig",
        "seq",
        "randInt",
    ] {
        assert!(m.get(name).is_none(), "{name} must not be registered");
    }
}

#[test]
fn every_function_has_go_cases_or_property_tests() {
    let cases = include_str!("data/cases.txt");
    let mut untested = Vec::new();
    for name in V2_22_NAMES {
        let used = cases.contains(&format!("{{{{ {name} "))
            || cases.contains(&format!("({name} "))
            || cases.contains(&format!("| {name} "))
            || cases.contains(&format!("{{{{ {name} }}}}"))
            || cases.contains(&format!("({name})"));
        if !used && !PROPERTY_TESTED.contains(name) {
            untested.push(*name);
        }
    }
    assert!(untested.is_empty(), "no test for {untested:?}");
}

#[test]
fn signatures_follow_go() {
    let m = kapsel_sprig::txt_func_map();
    let sig = |n: &str| {
        let f = m.get(n).unwrap();
        (f.params.to_vec(), f.variadic)
    };
    assert_eq!(sig("list"), (vec![], Some(Param::Any)));
    assert_eq!(
        sig("substr"),
        (vec![Param::Int, Param::Int, Param::String], None)
    );
    assert_eq!(
        sig("round"),
        (vec![Param::Any, Param::Int], Some(Param::Float64))
    );
    assert_eq!(sig("dateModify"), (vec![Param::String, Param::Time], None));
    assert_eq!(sig("merge"), (vec![Param::MapAny], Some(Param::MapAny)));
    assert_eq!(sig("pick"), (vec![Param::MapAny], Some(Param::String)));
    assert_eq!(
        sig("ternary"),
        (vec![Param::Any, Param::Any, Param::Bool], None)
    );
    assert_eq!(sig("now"), (vec![], None));
}

#[test]
fn result_types_follow_go() {
    let ty = |v: Result<Value, FuncError>| v.unwrap().type_of().to_string();
    assert_eq!(ty(call("list", &[Value::Int(1)])), "[]interface {}");
    assert_eq!(ty(call("splitList", &[s(","), s("a,b")])), "[]string");
    assert_eq!(ty(call("split", &[s(","), s("a,b")])), "map[string]string");
    assert_eq!(ty(call("dict", &[])), "map[string]interface {}");
    assert_eq!(ty(call("add", &[Value::Int(1)])), "int64");
    assert_eq!(ty(call("int", &[Value::Int(1)])), "int");
    assert_eq!(ty(call("until", &[Value::Int(2)])), "[]int");
    assert_eq!(ty(call("toDate", &[s("2006"), s("2020")])), "time.Time");
    assert_eq!(ty(call("semver", &[s("1.2.3")])), "*semver.Version");
    assert_eq!(ty(call("now", &[])), "time.Time");
}

#[test]
fn now_is_the_current_time() {
    let before = gotime::now().unix_secs;
    let Value::Time(t) = call("now", &[]).unwrap() else {
        panic!("now must give a time.Time")
    };
    let after = gotime::now().unix_secs;
    assert!(before <= t.unix_secs && t.unix_secs <= after);
}

#[test]
fn date_functions_default_to_now() {
    let year = gotime::format(&gotime::now(), "2006");
    assert_eq!(text(call("date", &[s("2006"), s("not a time")])), year);
    assert_eq!(
        text(call("htmlDate", &[Value::Nil])),
        gotime::format(&gotime::now(), "2006-01-02")
    );
    assert_eq!(
        text(call(
            "dateInZone",
            &[s("2006"), Value::Bool(true), s("UTC")]
        )),
        year
    );
}

#[test]
fn ago_counts_whole_seconds() {
    let now = Value::Time(std::sync::Arc::new(gotime::now()));
    let got = text(call("ago", &[now]));
    assert!(got == "0s" || got == "1s", "{got}");
    let hour_ago = gotime::add_nanos(&gotime::now(), -3_600_000_000_000);
    let got = text(call("ago", &[Value::Time(std::sync::Arc::new(hour_ago))]));
    assert!(got == "1h0m0s" || got == "1h0m1s", "{got}");
    let got = text(call("ago", &[Value::Int64(gotime::now().unix_secs + 120)]));
    assert!(got == "-2m0s" || got == "-1m59s", "{got}");
}

#[test]
fn random_strings_have_the_length_and_alphabet_asked_for() {
    type CharTest = fn(char) -> bool;
    let cases: [(&str, CharTest); 4] = [
        ("randAlphaNum", |c| c.is_ascii_alphanumeric()),
        ("randAlpha", |c| c.is_ascii_alphabetic()),
        ("randAscii", |c| (' '..='~').contains(&c)),
        ("randNumeric", |c| c.is_ascii_digit()),
    ];
    for (name, ok) in cases {
        let out = text(call(name, &[Value::Int(200)]));
        assert_eq!(out.chars().count(), 200, "{name}");
        assert!(out.chars().all(ok), "{name}: {out}");
        assert_eq!(text(call(name, &[Value::Int(0)])), "", "{name}");
        assert_eq!(text(call(name, &[Value::Int(-3)])), "", "{name}");
        let again = text(call(name, &[Value::Int(200)]));
        assert_ne!(out, again, "{name} should be random");
    }
}

#[test]
fn shuffle_permutes_runes() {
    let input = "abcdefghijklmnopqrstuvwxyzäöü";
    let mut seen = BTreeSet::new();
    for _ in 0..5 {
        let out = text(call("shuffle", &[s(input)]));
        let mut a: Vec<char> = input.chars().collect();
        let mut b: Vec<char> = out.chars().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        seen.insert(out);
    }
    assert!(seen.len() > 1, "shuffle should be random");
    assert_eq!(text(call("shuffle", &[s("")])), "");
}

#[test]
fn uuidv4_is_a_random_v4_uuid() {
    let a = text(call("uuidv4", &[]));
    let b = text(call("uuidv4", &[]));
    assert_ne!(a, b);
    let re =
        regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .unwrap();
    assert!(re.is_match(&a), "{a}");
}

#[test]
fn env_and_expandenv_read_the_process_environment() {
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(text(call("env", &[s("PATH")])), path);
    assert_eq!(text(call("env", &[s("KAPSEL_SURELY_UNSET_VARIABLE")])), "");
    assert_eq!(
        text(call(
            "expandenv",
            &[s("<$PATH|${PATH}|$KAPSEL_SURELY_UNSET_VARIABLE|$|${}>")]
        )),
        format!("<{path}|{path}||$|>")
    );
    assert_eq!(text(call("expandenv", &[s("no vars")])), "no vars");
}

#[test]
fn get_host_by_name_uses_the_system_resolver() {
    assert_eq!(text(call("getHostByName", &[s("127.0.0.1")])), "127.0.0.1");
    let local = text(call("getHostByName", &[s("localhost")]));
    assert!(local == "127.0.0.1" || local == "::1", "{local}");
    let err = call("getHostByName", &[s("")]).unwrap_err();
    assert_eq!(err.0, "invalid argument to Intn");
}

#[test]
fn crypto_kapsel_cannot_do_yet_is_an_explicit_error() {
    let unsupported = |name: &str, args: &[Value]| {
        let e = call(name, args).unwrap_err();
        assert_eq!(
            e.0,
            format!("kapsel: sprig function '{name}' is not supported by Kapsel yet"),
            "{name}"
        );
    };
    let ips = Value::slice(Type::Any, vec![s("10.0.0.1")]);
    unsupported("genPrivateKey", &[s("rsa")]);
    unsupported("genCA", &[s("ca"), Value::Int(365)]);
    unsupported(
        "genSelfSignedCert",
        &[
            s("cn"),
            ips.clone(),
            Value::NilSlice(Type::Any),
            Value::Int(1),
        ],
    );
    unsupported(
        "genSignedCert",
        &[
            s("cn"),
            ips,
            Value::NilSlice(Type::Any),
            Value::Int(1),
            Value::Nil,
        ],
    );
    unsupported("buildCustomCert", &[s("aGk="), s("aGk=")]);
    // Kanister's FIPS refusals keep Kanister's text.
    assert_eq!(
        call(
            "derivePassword",
            &[Value::Int(1), s("long"), s("p"), s("u"), s("s")]
        )
        .unwrap_err()
        .0,
        "sprig usage of 'derivePassword' is not allowed by kanister as it is not FIPS compatible"
    );
}

#[test]
fn gen_private_key_ecdsa_is_a_p256_ec_private_key_pem() {
    use base64::Engine;
    let a = text(call("genPrivateKey", &[s("ecdsa")]));
    let b = text(call("genPrivateKey", &[s("ecdsa")]));
    assert_ne!(a, b);
    let body: String = a
        .strip_prefix("-----BEGIN EC PRIVATE KEY-----\n")
        .and_then(|r| r.strip_suffix("-----END EC PRIVATE KEY-----\n"))
        .expect("PEM armour")
        .lines()
        .collect();
    assert!(a.lines().all(|l| l.len() <= 64));
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    assert_eq!(der.len(), 121);
    assert_eq!(&der[..7], &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
    assert_eq!(
        &der[39..57],
        &[
            0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1, 0x44,
            0x03, 0x42, 0x00, 0x04
        ]
    );
}

#[test]
fn encrypt_aes_round_trips_with_a_random_iv() {
    for (key, plain) in [
        ("k", "x"),
        ("", "exactly sixteen!"),
        ("a".repeat(40).as_str(), "héllo wörld"),
    ] {
        let c1 = text(call("encryptAES", &[s(key), s(plain)]));
        let c2 = text(call("encryptAES", &[s(key), s(plain)]));
        assert_ne!(c1, c2, "the IV must be random");
        // IV + padded blocks, base64
        let raw_len = 16 + (plain.len() / 16 + 1) * 16;
        assert_eq!(c1.len(), raw_len.div_ceil(3) * 4);
        assert_eq!(text(call("decryptAES", &[s(key), s(&c1)])), plain);
        assert_eq!(text(call("decryptAES", &[s(key), s(&c2)])), plain);
    }
}

#[test]
fn mutating_functions_return_the_modified_value() {
    for name in kapsel_sprig::MUTATES_FIRST_ARG {
        assert!(V2_22_NAMES.contains(name), "{name}");
    }
    let d = Value::map(
        Type::Any,
        BTreeMap::from([("a".to_string(), Value::Int(1))]),
    );
    let out = call("set", &[d.clone(), s("b"), Value::Int(2)]).unwrap();
    let Value::Map(m) = out else {
        panic!("set must return the map")
    };
    assert_eq!(m.len(), 2);
    let Value::Map(orig) = &d else { unreachable!() };
    assert_eq!(
        orig.len(),
        2,
        "Go maps are references: set changes its argument"
    );
    assert!(std::sync::Arc::ptr_eq(&m, orig), "set returns the same map");
    let out = call("unset", &[d.clone(), s("a")]).unwrap();
    assert_eq!(out, d);
    assert_eq!(orig.len(), 1);
    let src = Value::map(
        Type::Any,
        BTreeMap::from([("c".to_string(), Value::Int(3))]),
    );
    call("merge", &[d.clone(), src]).unwrap();
    assert_eq!(orig.len(), 2, "merge changes its first argument");

    // sortAlpha sorts a []string's backing array in place: a longer window
    // on the same array (what `slice` returns a part of) sees it too.
    let list = call("splitList", &[s(","), s("d,c,b,a")]).unwrap();
    let part = call("slice", &[list.clone(), Value::Int(1), Value::Int(3)]).unwrap();
    let sorted = call("sortAlpha", std::slice::from_ref(&part)).unwrap();
    assert_eq!(sorted, part, "sortAlpha returns its []string argument");
    assert_eq!(text(call("join", &[s(","), list.clone()])), "d,b,c,a");
    let same = call("toStrings", std::slice::from_ref(&list)).unwrap();
    let (Value::Slice(a), Value::Slice(b)) = (&same, &list) else {
        panic!("toStrings of a []string must be a slice")
    };
    assert!(a.shares_array(b), "toStrings returns a []string as it is");
    // Other lists are copied first: the argument keeps its order.
    let any = call("list", &[s("b"), s("a")]).unwrap();
    call("sortAlpha", std::slice::from_ref(&any)).unwrap();
    assert_eq!(text(call("join", &[s(","), any])), "b,a");
}

#[test]
fn semver_prints_through_its_stringer() {
    let v = call("semver", &[s("v1.2.3-rc.1+meta")]).unwrap();
    assert_eq!(
        kapsel_sprig::stringer(&v).as_deref(),
        Some("1.2.3-rc.1+meta")
    );
    assert_eq!(kapsel_sprig::stringer(&Value::Int(1)), None);
}

/// Values of every kind the engine can pass to an `interface{}` parameter.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        (-20i64..200).prop_map(Value::Int),
        (-20i64..200).prop_map(Value::Int64),
        any::<f64>().prop_map(Value::Float),
        "\\PC{0,12}".prop_map(Value::string),
        "[0-9a-z.+-]{0,8}".prop_map(Value::string),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::bytes),
        Just(Value::NilMap(Type::Any)),
        Just(Value::NilSlice(Type::String)),
        Just(Value::Time(std::sync::Arc::new(gotime::now()))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| Value::slice(Type::Any, v)),
            proptest::collection::vec("[a-c]{0,3}", 0..4).prop_map(|v| {
                Value::slice(Type::String, v.into_iter().map(Value::string).collect())
            }),
            proptest::collection::btree_map("[a-d]{0,2}", inner, 0..4)
                .prop_map(|m: BTreeMap<String, Value>| Value::map(Type::Any, m)),
        ]
    })
}

fn arg_for(p: Param) -> BoxedStrategy<Value> {
    match p {
        Param::Any => any_value().boxed(),
        Param::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Param::Int => (-30i64..300).prop_map(Value::Int).boxed(),
        Param::Int64 => (-30i64..300).prop_map(Value::Int64).boxed(),
        Param::Float64 => any::<f64>().prop_map(Value::Float).boxed(),
        Param::String => prop_oneof![
            "\\PC{0,16}",
            "[a-c$\\\\(){}\\[\\]*+?|^.:/@%#=-]{0,12}",
            "[ 0-9a-zA-Z_.,|<>=~^*xX-]{0,12}",
        ]
        .prop_map(Value::string)
        .boxed(),
        Param::Bytes => proptest::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::bytes)
            .boxed(),
        Param::StringSlice => proptest::collection::vec("\\PC{0,4}", 0..4)
            .prop_map(|v| Value::slice(Type::String, v.into_iter().map(Value::string).collect()))
            .boxed(),
        Param::AnySlice => proptest::collection::vec(any_value(), 0..3)
            .prop_map(|v| Value::slice(Type::Any, v))
            .boxed(),
        Param::MapAny => prop_oneof![
            Just(Value::NilMap(Type::Any)),
            proptest::collection::btree_map("[a-z]{0,6}", any_value(), 0..4)
                .prop_map(|m| Value::map(Type::Any, m)),
        ]
        .boxed(),
        Param::Time => (-10_000_000_000i64..10_000_000_000)
            .prop_map(|s| Value::Time(std::sync::Arc::new(gotime::from_unix(s, 0))))
            .boxed(),
    }
}

/// Every function except the network one, with arguments of its declared types.
fn any_call() -> impl Strategy<Value = (&'static str, Vec<Value>)> {
    let funcs: Vec<kapsel_govalue::Func> = V2_22_NAMES
        .iter()
        .filter(|n| **n != "getHostByName")
        .map(|n| *kapsel_sprig::txt_func_map().get(n).unwrap())
        .collect();
    proptest::sample::select(funcs).prop_flat_map(|f| {
        let fixed: Vec<BoxedStrategy<Value>> = f.params.iter().map(|p| arg_for(*p)).collect();
        let extra = match f.variadic {
            Some(p) => proptest::collection::vec(arg_for(p), 0..4).boxed(),
            None => Just(Vec::new()).boxed(),
        };
        (Just(f.name), fixed, extra).prop_map(|(name, mut a, b)| {
            a.extend(b);
            (name, a)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn no_function_panics((name, args) in any_call()) {
        let _ = call(name, &args);
    }
}
