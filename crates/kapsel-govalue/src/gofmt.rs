//! Go's `fmt` formatting of template values: `Sprint`, `Sprintln`, `Sprintf` with
//! Go's verbs, flags, width and precision, and `%v` of every value kind exactly as
//! Go prints it (maps in sorted key order as `map[k:v]`, slices as `[a b]`, nil as
//! `<nil>`, structs as `{a b}`, pointers to structs as `&{a b}`, `[]byte` as
//! `[1 2 3]`, floats in Go's shortest `%g`-like form, `time.Time` via its String).

use crate::value::Value;

/// `fmt.Sprint(args...)`: operands joined with a space where neither side is a
/// string.
pub fn sprint(args: &[Value]) -> String {
    let _ = args;
    todo!("kapsel-govalue::gofmt::sprint")
}

/// `fmt.Sprintln(args...)`: operands always space-separated, newline appended.
pub fn sprintln(args: &[Value]) -> String {
    let _ = args;
    todo!("kapsel-govalue::gofmt::sprintln")
}

/// `fmt.Sprintf(format, args...)`, including Go's in-band error notes such as
/// `%!d(string=x)`, `%!(EXTRA int=1)` and `%!s(MISSING)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let _ = (format, args);
    todo!("kapsel-govalue::gofmt::sprintf")
}

/// `fmt.Sprintf("%v", v)`.
pub fn format_v(v: &Value) -> String {
    sprint(std::slice::from_ref(v))
}
