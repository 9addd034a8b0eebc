//! The sprig v2.22.0 `TxtFuncMap` as Kanister registers it through `pkg/ksprig`,
//! over `kapsel-govalue` values.
//!
//! Every function carries its Go signature as [`Param`]s, so the template
//! engine can check and convert arguments the way Go's reflection does; a Go
//! `(T, error)` result and a Go panic (which `text/template` turns into an
//! error) both come back as [`FuncError`] with Go's message.
//!
//! Kanister's FIPS changes: `derivePassword` always fails, and `genPrivateKey`
//! fails for key types other than rsa/ecdsa/ed25519, with Kanister's message.
//! `bcrypt` and `htpasswd` are not in sprig v2.22, so Kanister adds nothing for
//! them and neither does Kapsel.
//!
//! Go's reference semantics are kept: maps are shared and changed in place
//! (`set`, `unset`, `merge`, `mergeOverwrite`), and slices share their backing
//! array (`sortAlpha` sorts a `[]string` argument in place, `toStrings` returns
//! a `[]string` as it is, `slice` gives a window on the same array).
//!
//! Differences from Go that the engine cannot hide:
//! - `keys` and `values` follow key order (Go: random order).
//! - Time zones: the local zone is UTC (as in `kapsel_govalue::gotime`);
//!   `dateInZone`/`htmlDateInZone` load other zones from the system zoneinfo
//!   files like Go (no embedded tz database: where the files are missing, UTC).
//! - Strings are Go's bytes ([`kapsel_govalue::Str`]): `trunc`, `substr`,
//!   `abbrev`, `b64dec`, ... keep invalid UTF-8 as Go does. Functions that work
//!   on runes see each byte of an invalid sequence as U+FFFD, as Go does.
//!   Regular expressions and URL parsing keep such bytes too (matched as one
//!   character, as Go's `RuneError`); a few functions that Go runs on bytes
//!   but that are rarely fed invalid UTF-8 (path and semver parsing, case
//!   conversions) read them as U+FFFD.
//! - Where Go would allocate without bound (`repeat`, `until`, `randAlpha`,
//!   `indent`, `replace`, `wrapWith`, `regexReplaceAll` with huge results),
//!   Kapsel returns an error beyond 2^28 bytes or elements.
//! - `getHostByName` resolves through the system resolver
//!   (`std::net::ToSocketAddrs`).
//! - `genPrivateKey "rsa"`, `genCA`, `genSelfSignedCert`, `genSignedCert` and
//!   `buildCustomCert` need RSA or X.509 and report that Kapsel does not
//!   support them yet. (`genPrivateKey "ecdsa"` and `encryptAES`/`decryptAES`
//!   are implemented, with Kapsel's own P-256 and AES-256.)
//! - `*semver.Version` is a pointer to a struct `semver.Version` with Go's
//!   unexported fields `major`, `minor`, `patch` (int64), `pre`, `metadata`,
//!   `original` (string); Go prints it through its `String()` method (see
//!   [`stringer`]) or, for other verbs, its fields. Of its methods, the
//!   accessors and `String` are modelled ([`semver::ACCESSORS`]).
//!
//! Depends only on `kapsel-govalue` (plus general-purpose crates); it must not
//! depend on the template engine, Kanister's API types or Kubernetes.

mod aes;
mod conv;
mod crypto;
mod dates;
mod lists;
mod network;
mod numeric;
mod p256;
mod regex;
pub mod semver;
mod strings;
mod tz;
mod url;

use kapsel_govalue::{Func, FuncError, FuncMap, Param, Value};

use Param::{Any, AnySlice, Float64, Int, MapAny, String as S, Time};

/// A fixed-arity function.
const fn f(name: &'static str, params: &'static [Param], call: kapsel_govalue::FuncImpl) -> Func {
    Func {
        name,
        params,
        variadic: None,
        call,
    }
}

/// A variadic function: fixed `params`, then `...variadic`.
const fn v(
    name: &'static str,
    params: &'static [Param],
    variadic: Param,
    call: kapsel_govalue::FuncImpl,
) -> Func {
    Func {
        name,
        params,
        variadic: Some(variadic),
        call,
    }
}

fn fail(a: &[Value]) -> Result<Value, FuncError> {
    Err(FuncError::new(conv::arg_str(a, 0)?.into_owned()))
}

/// Every function, in the order of sprig's `genericMap`.
const FUNCS: &[Func] = &[
    f("hello", &[], strings::hello),
    // Date functions
    f("date", &[S, Any], dates::date),
    f("date_in_zone", &[S, Any, S], dates::date_in_zone),
    f("date_modify", &[S, Time], dates::date_modify),
    f("now", &[], dates::now),
    f("htmlDate", &[Any], dates::html_date),
    f("htmlDateInZone", &[Any, S], dates::html_date_in_zone),
    f("dateInZone", &[S, Any, S], dates::date_in_zone),
    f("dateModify", &[S, Time], dates::date_modify),
    f("ago", &[Any], dates::ago),
    f("toDate", &[S, S], dates::to_date),
    f("unixEpoch", &[Time], dates::unix_epoch),
    // Strings
    f("abbrev", &[Int, S], strings::abbrev),
    f("abbrevboth", &[Int, Int, S], strings::abbrevboth),
    f("trunc", &[Int, S], strings::trunc),
    f("trim", &[S], strings::trim),
    f("upper", &[S], strings::upper),
    f("lower", &[S], strings::lower),
    f("title", &[S], strings::title),
    f("untitle", &[S], strings::untitle),
    f("substr", &[Int, Int, S], strings::substr),
    f("repeat", &[Int, S], strings::repeat),
    f("trimall", &[S, S], strings::trim_all),
    f("trimAll", &[S, S], strings::trim_all),
    f("trimSuffix", &[S, S], strings::trim_suffix),
    f("trimPrefix", &[S, S], strings::trim_prefix),
    f("nospace", &[S], strings::nospace),
    f("initials", &[S], strings::initials),
    f("randAlphaNum", &[Int], strings::rand_alpha_num),
    f("randAlpha", &[Int], strings::rand_alpha),
    f("randAscii", &[Int], strings::rand_ascii),
    f("randNumeric", &[Int], strings::rand_numeric),
    f("swapcase", &[S], strings::swapcase),
    f("shuffle", &[S], strings::shuffle),
    f("snakecase", &[S], strings::snakecase),
    f("camelcase", &[S], strings::camelcase),
    f("kebabcase", &[S], strings::kebabcase),
    f("wrap", &[Int, S], strings::wrap),
    f("wrapWith", &[Int, S, S], strings::wrap_with),
    f("contains", &[S, S], strings::contains),
    f("hasPrefix", &[S, S], strings::has_prefix),
    f("hasSuffix", &[S, S], strings::has_suffix),
    v("quote", &[], Any, strings::quote),
    v("squote", &[], Any, strings::squote),
    v("cat", &[], Any, strings::cat),
    f("indent", &[Int, S], strings::indent),
    f("nindent", &[Int, S], strings::nindent),
    f("replace", &[S, S, S], strings::replace),
    f("plural", &[S, S, Int], strings::plural),
    f("sha1sum", &[S], crypto::sha1sum),
    f("sha256sum", &[S], crypto::sha256sum),
    f("adler32sum", &[S], crypto::adler32sum),
    f("toString", &[Any], strings::to_string),
    f("atoi", &[S], numeric::atoi),
    f("int64", &[Any], numeric::int64),
    f("int", &[Any], numeric::int),
    f("float64", &[Any], numeric::float64),
    f("toDecimal", &[Any], numeric::to_decimal),
    f("split", &[S, S], strings::split),
    f("splitList", &[S, S], strings::split_list),
    f("splitn", &[S, Int, S], strings::splitn),
    f("toStrings", &[Any], strings::to_strings),
    f("until", &[Int], numeric::until),
    f("untilStep", &[Int, Int, Int], numeric::until_step),
    // Arithmetic
    f("add1", &[Any], numeric::add1),
    v("add", &[], Any, numeric::add),
    f("sub", &[Any, Any], numeric::sub),
    f("div", &[Any, Any], numeric::div),
    f("mod", &[Any, Any], numeric::modulo),
    v("mul", &[Any], Any, numeric::mul),
    v("biggest", &[Any], Any, numeric::max),
    v("max", &[Any], Any, numeric::max),
    v("min", &[Any], Any, numeric::min),
    f("ceil", &[Any], numeric::ceil),
    f("floor", &[Any], numeric::floor),
    v("round", &[Any, Int], Float64, numeric::round),
    f("join", &[S, Any], strings::join),
    f("sortAlpha", &[Any], strings::sort_alpha),
    // Defaults
    v("default", &[Any], Any, lists::dfault),
    f("empty", &[Any], lists::is_empty),
    v("coalesce", &[], Any, lists::coalesce),
    f("compact", &[Any], lists::compact),
    f("deepCopy", &[Any], lists::deep_copy),
    f("toJson", &[Any], lists::to_json),
    f("toPrettyJson", &[Any], lists::to_pretty_json),
    f("ternary", &[Any, Any, Param::Bool], lists::ternary),
    // Reflection
    f("typeOf", &[Any], lists::type_of),
    f("typeIs", &[S, Any], lists::type_is),
    f("typeIsLike", &[S, Any], lists::type_is_like),
    f("kindOf", &[Any], lists::kind_of),
    f("kindIs", &[S, Any], lists::kind_is),
    f("deepEqual", &[Any, Any], lists::deep_equal_fn),
    // OS
    f("env", &[S], strings::env),
    f("expandenv", &[S], strings::expandenv),
    // Network
    f("getHostByName", &[S], network::get_host_by_name),
    // File paths
    f("base", &[S], strings::base),
    f("dir", &[S], strings::dir),
    f("clean", &[S], strings::clean),
    f("ext", &[S], strings::ext),
    f("isAbs", &[S], strings::is_abs),
    // Encoding
    f("b64enc", &[S], crypto::b64enc),
    f("b64dec", &[S], crypto::b64dec),
    f("b32enc", &[S], crypto::b32enc),
    f("b32dec", &[S], crypto::b32dec),
    // Data structures
    v("tuple", &[], Any, lists::list),
    v("list", &[], Any, lists::list),
    v("dict", &[], Any, lists::dict),
    f("set", &[MapAny, S, Any], lists::set),
    f("unset", &[MapAny, S], lists::unset),
    f("hasKey", &[MapAny, S], lists::has_key),
    v("pluck", &[S], MapAny, lists::pluck),
    v("keys", &[], MapAny, lists::keys),
    v("pick", &[MapAny], S, lists::pick),
    v("omit", &[MapAny], S, lists::omit),
    v("merge", &[MapAny], MapAny, lists::merge),
    v("mergeOverwrite", &[MapAny], MapAny, lists::merge_overwrite),
    f("values", &[MapAny], lists::values),
    f("append", &[Any, Any], lists::push),
    f("push", &[Any, Any], lists::push),
    f("prepend", &[Any, Any], lists::prepend),
    f("first", &[Any], lists::first),
    f("rest", &[Any], lists::rest),
    f("last", &[Any], lists::last),
    f("initial", &[Any], lists::initial),
    f("reverse", &[Any], lists::reverse),
    f("uniq", &[Any], lists::uniq),
    v("without", &[Any], Any, lists::without),
    f("has", &[Any, Any], lists::has),
    v("slice", &[Any], Any, lists::slice),
    v("concat", &[], Any, lists::concat),
    // Crypto (Kanister's FIPS replacements for genPrivateKey, derivePassword)
    f("genPrivateKey", &[S], crypto::gen_private_key),
    // Go: `counter uint32`; kapsel-govalue has no uint32 parameter type.
    f(
        "derivePassword",
        &[Int, S, S, S, S],
        crypto::derive_password,
    ),
    f("buildCustomCert", &[S, S], crypto::build_custom_cert),
    f("genCA", &[S, Int], crypto::gen_ca),
    f(
        "genSelfSignedCert",
        &[S, AnySlice, AnySlice, Int],
        crypto::gen_self_signed_cert,
    ),
    // Go: `ca certificate` (sprig's unexported struct); modelled as interface{}.
    f(
        "genSignedCert",
        &[S, AnySlice, AnySlice, Int, Any],
        crypto::gen_signed_cert,
    ),
    f("encryptAES", &[S, S], crypto::encrypt_aes),
    f("decryptAES", &[S, S], crypto::decrypt_aes),
    // UUIDs
    f("uuidv4", &[], crypto::uuidv4),
    // SemVer
    f("semver", &[S], semver::semver),
    f("semverCompare", &[S, S], semver::semver_compare),
    // Flow control
    f("fail", &[S], fail),
    // Regex
    f("regexMatch", &[S, S], regex::regex_match),
    f("regexFindAll", &[S, S, Int], regex::regex_find_all),
    f("regexFind", &[S, S], regex::regex_find),
    f("regexReplaceAll", &[S, S, S], regex::regex_replace_all),
    f(
        "regexReplaceAllLiteral",
        &[S, S, S],
        regex::regex_replace_all_literal,
    ),
    f("regexSplit", &[S, S, Int], regex::regex_split),
    // URLs
    f("urlParse", &[S], url::url_parse),
    f("urlJoin", &[MapAny], url::url_join),
];

/// Every sprig function Kanister makes available to Blueprint templates
/// (`ksprig.TxtFuncMap()`).
pub fn txt_func_map() -> FuncMap {
    // `*semver.Version` prints through its String method, at any depth.
    kapsel_govalue::register_stringer(stringer);
    let mut m = FuncMap::new();
    for func in FUNCS {
        m.insert(*func);
    }
    m
}

/// Functions that, in Go, modify the map or slice passed as their first
/// argument (Go maps and slices are references) and return it: `set`,
/// `unset`, `merge`, `mergeOverwrite` (a `map[string]interface{}`; Kapsel's
/// maps are shared and changed in place too, see `kapsel_govalue::Map`) and
/// `sortAlpha` (sorts a `[]string` in place, in Go and here: see
/// `kapsel_govalue::Slice`).
pub const MUTATES_FIRST_ARG: &[&str] = &["set", "unset", "merge", "mergeOverwrite", "sortAlpha"];

/// Go's `String()` of a value that has one in Go but is modelled as plain data
/// here (currently `*semver.Version`), for the formatter to use where Go would
/// call the `Stringer`; `None` for every other value.
pub fn stringer(v: &Value) -> Option<String> {
    conv::semver_string(v)
}
