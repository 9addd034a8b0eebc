//! The values a template works on, modelled on the Go values that Kanister hands to
//! `text/template`.
//!
//! Go templates see Go's type system: a `map[string]string` and a
//! `map[string]interface{}` print alike but differ for `index` of a missing key
//! (the zero value of the element type), for `typeOf`, and for `%T`. A nil pointer
//! to a struct prints `<nil>` while a missing map entry prints `<no value>`. To
//! render byte for byte as Kanister does, every [`Value`] therefore carries enough
//! of its Go type ([`Type`]) to reproduce those differences.
//!
//! Values are cheap to clone: aggregates are behind [`Arc`]. As in Go, a
//! cloned map is the same map ([`Map`] is shared and mutable); strings are
//! Go's bytes ([`Str`]); slices carry Go's capacity ([`Slice::cap`]) and
//! share their backing array ([`Slice::update`] changes it for every slice
//! made from it).
//!
//! This module is the contract between the engine (lexer, parser, executor,
//! formatting), the sprig library and the producers of template data
//! (`kapsel-params`). Change it with care.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A Go `string`: an immutable sequence of bytes, usually but not necessarily
/// valid UTF-8. Go functions that cut strings by bytes (`slice`, sprig's
/// `trunc`, `substr`, `abbrev`) or decode binary data (`b64dec`) produce
/// invalid UTF-8, and Go keeps those bytes: so does `Str`, losslessly.
///
/// It dereferences to its bytes (`len()` counts bytes, as Go's `len` does).
/// [`Str::as_str`] gives the text when it is valid UTF-8, [`Str::to_str_lossy`]
/// decodes it the way Go's `range` over a string does (each byte of an invalid
/// sequence becomes U+FFFD).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Str(Arc<[u8]>);

impl Str {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, if the bytes are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The text, with each byte of an invalid UTF-8 sequence replaced by
    /// U+FFFD as Go's `range` over a string (and `[]rune(s)`) decodes it.
    pub fn to_str_lossy(&self) -> Cow<'_, str> {
        decode_lossy(&self.0)
    }

    /// Whether the bytes are valid UTF-8.
    pub fn is_utf8(&self) -> bool {
        self.as_str().is_some()
    }
}

/// Decodes bytes as Go does when it ranges over a string: valid UTF-8 is
/// kept, each byte of an invalid sequence becomes one U+FFFD (unlike
/// [`String::from_utf8_lossy`], which replaces a maximal invalid subsequence
/// by a single U+FFFD).
pub fn decode_lossy(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(b.len() + 8);
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{FFFD}');
        }
    }
    Cow::Owned(out)
}

impl Deref for Str {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => fmt::Debug::fmt(s, f),
            None => write!(f, "b{:?}", self.0.escape_ascii().to_string()),
        }
    }
}

/// Lossy: see [`Str::to_str_lossy`].
impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str_lossy())
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str(Arc::from(s.as_bytes()))
    }
}
impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(Arc::from(s.into_bytes()))
    }
}
impl From<&String> for Str {
    fn from(s: &String) -> Str {
        Str::from(s.as_str())
    }
}
impl From<Cow<'_, str>> for Str {
    fn from(s: Cow<'_, str>) -> Str {
        Str::from(s.as_ref())
    }
}
impl From<Arc<str>> for Str {
    fn from(s: Arc<str>) -> Str {
        Str::from(&*s)
    }
}
impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Str {
        Str(Arc::from(b))
    }
}
impl From<Vec<u8>> for Str {
    fn from(b: Vec<u8>) -> Str {
        Str(Arc::from(b))
    }
}
impl From<Arc<[u8]>> for Str {
    fn from(b: Arc<[u8]>) -> Str {
        Str(b)
    }
}
impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}
impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

/// A Go type, as far as templates can observe it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// `interface {}`: holds any value.
    Any,
    /// `bool`
    Bool,
    /// `int` (Go's default integer; what `len` and integer literals give).
    Int,
    /// `int64` (what sprig's arithmetic returns).
    Int64,
    /// `uint8` (`byte`): what indexing a string or a `[]byte` gives.
    Uint8,
    /// `float64`
    Float64,
    /// `complex128` (what a complex constant such as `1i` in a template is).
    Complex128,
    /// `string`
    String,
    /// `[]uint8` (`[]byte`), e.g. a Secret's `.Data` values.
    Bytes,
    /// `[]T`
    Slice(Arc<Type>),
    /// `map[string]T` (all maps that templates see here have string keys).
    Map(Arc<Type>),
    /// A named struct type, e.g. `param.Profile` or `v1.Secret`.
    Struct(Arc<StructType>),
    /// `*T`
    Ptr(Arc<Type>),
    /// `time.Time`
    Time,
}

impl Type {
    /// `[]T`
    pub fn slice(elem: Type) -> Type {
        Type::Slice(Arc::new(elem))
    }
    /// `map[string]T`
    pub fn map(elem: Type) -> Type {
        Type::Map(Arc::new(elem))
    }
    /// `*T`
    pub fn ptr(elem: Type) -> Type {
        Type::Ptr(Arc::new(elem))
    }

    /// The zero value of this type, as Go's `reflect.Zero` gives it (used by `index`
    /// on a missing map key, by `default`'s emptiness test and the like).
    pub fn zero(&self) -> Value {
        match self {
            Type::Any => Value::Nil,
            Type::Bool => Value::Bool(false),
            Type::Int => Value::Int(0),
            Type::Int64 => Value::Int64(0),
            Type::Uint8 => Value::Uint8(0),
            Type::Float64 => Value::Float(0.0),
            Type::Complex128 => Value::Complex(0.0, 0.0),
            Type::String => Value::string(""),
            Type::Bytes => Value::NilBytes,
            Type::Slice(elem) => Value::NilSlice((**elem).clone()),
            Type::Map(elem) => Value::NilMap((**elem).clone()),
            Type::Struct(st) => Value::Struct(Arc::new(Struct {
                ty: st.clone(),
                fields: st.fields.iter().map(|f| f.ty.zero()).collect(),
            })),
            Type::Ptr(elem) => Value::NilPtr((**elem).clone()),
            Type::Time => Value::Time(Arc::new(GoTime::zero())),
        }
    }
}

/// Go's spelling of the type, as `%T` and sprig's `typeOf` print it.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("interface {}"),
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Int64 => f.write_str("int64"),
            Type::Uint8 => f.write_str("uint8"),
            Type::Float64 => f.write_str("float64"),
            Type::Complex128 => f.write_str("complex128"),
            Type::String => f.write_str("string"),
            Type::Bytes => f.write_str("[]uint8"),
            Type::Slice(e) => write!(f, "[]{e}"),
            Type::Map(e) => write!(f, "map[string]{e}"),
            Type::Struct(s) => f.write_str(&s.name),
            Type::Ptr(e) => write!(f, "*{e}"),
            Type::Time => f.write_str("time.Time"),
        }
    }
}

/// A Go struct type: its qualified name and its fields in declaration order.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StructType {
    /// Qualified Go name, e.g. `param.Profile`, `v1.Secret`.
    pub name: String,
    /// Fields in declaration order (the order `%v` and `toJson` use).
    pub fields: Vec<FieldDef>,
}

impl StructType {
    /// Index of the field called `name` declared directly in this struct, if any
    /// (no promotion: see [`StructType::lookup`]).
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The path of field indices that `.name` selects, with Go's promotion of
    /// fields of embedded structs (the shallowest match wins; an ambiguous name at
    /// the shallowest depth selects nothing, as in Go). `v1.Secret` embeds
    /// `ObjectMeta`, so `.Name` on a Secret is `[1, 0]`.
    pub fn lookup(&self, name: &str) -> Option<Vec<usize>> {
        let mut level: Vec<(Vec<usize>, &StructType)> = vec![(Vec::new(), self)];
        while !level.is_empty() {
            let mut found: Option<Vec<usize>> = None;
            let mut ambiguous = false;
            let mut next = Vec::new();
            for (path, st) in &level {
                for (i, f) in st.fields.iter().enumerate() {
                    if f.name == name {
                        if found.is_some() {
                            ambiguous = true;
                        }
                        let mut p = path.clone();
                        p.push(i);
                        found = Some(p);
                    }
                    if f.embedded {
                        let inner = match &f.ty {
                            Type::Struct(s) => Some(s.as_ref()),
                            Type::Ptr(t) => match t.as_ref() {
                                Type::Struct(s) => Some(s.as_ref()),
                                _ => None,
                            },
                            _ => None,
                        };
                        if let Some(inner) = inner {
                            let mut p = path.clone();
                            p.push(i);
                            next.push((p, inner));
                        }
                    }
                }
            }
            if found.is_some() {
                return if ambiguous { None } else { found };
            }
            level = next;
        }
        None
    }
}

/// One field of a [`StructType`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldDef {
    /// The Go field name (what `.Field` in a template uses).
    pub name: String,
    /// The field's Go type.
    pub ty: Type,
    /// How `encoding/json` writes the field (what sprig's `toJson` gives).
    pub json: JsonField,
    /// An embedded (anonymous) field, like `metav1.ObjectMeta` in `v1.Secret`:
    /// its fields are promoted (`.Name` on a Secret), see [`StructType::lookup`].
    pub embedded: bool,
}

impl FieldDef {
    /// A named (not embedded) field.
    pub fn new(name: impl Into<String>, ty: Type, json: JsonField) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            json,
            embedded: false,
        }
    }

    /// An embedded field.
    pub fn embedded(name: impl Into<String>, ty: Type, json: JsonField) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            json,
            embedded: true,
        }
    }
}

/// How `encoding/json` treats a struct field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonField {
    /// No json tag: the key is the Go field name.
    Untagged,
    /// `json:"name"` or `json:"name,omitempty"`.
    Named {
        /// The JSON key.
        key: String,
        /// Omit the field when it is empty (false, 0, "", nil, empty map/slice).
        omitempty: bool,
    },
    /// `json:",inline"` on an embedded struct (e.g. `metav1.TypeMeta`): its fields
    /// are written as if they were the outer struct's.
    Inline,
    /// `json:"-"`: never written.
    Skip,
}

/// A Go struct value.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// Its type.
    pub ty: Arc<StructType>,
    /// Field values, in the order of `ty.fields`.
    pub fields: Vec<Value>,
}

impl Struct {
    /// The value that `.name` selects, following Go's promotion through embedded
    /// structs (and through non-nil embedded pointers). `None` if the type has no
    /// such field, or the path crosses a nil embedded pointer.
    pub fn field(&self, name: &str) -> Option<&Value> {
        let path = self.ty.lookup(name)?;
        let mut cur: &Struct = self;
        let (last, inner) = path.split_last()?;
        for i in inner {
            cur = match cur.fields.get(*i)? {
                Value::Struct(s) => s,
                Value::Ptr(p) => match p.as_ref() {
                    Value::Struct(s) => s,
                    _ => return None,
                },
                _ => return None,
            };
        }
        cur.fields.get(*last)
    }
}

/// A `map[string]T` that is not nil. Keys are kept sorted, which is the order Go's
/// `fmt`, `range` and `encoding/json` use for string keys.
///
/// Go maps are references: sprig's `set`, `unset`, `merge` and
/// `mergeOverwrite` change a map in place, and every holder of the same map
/// (the template data, a variable, a list element) sees the change. A `Map`
/// behind [`Value::Map`]'s [`Arc`] is therefore shared and mutable
/// ([`Map::entries_mut`]); cloning a [`Value`] shares the map, as copying a Go
/// map value does.
#[derive(Debug)]
pub struct Map {
    /// The element type `T` (gives `index` its zero value for a missing key).
    pub elem: Type,
    entries: RwLock<BTreeMap<String, Value>>,
}

impl Map {
    /// A map with the given entries.
    pub fn new(elem: Type, entries: BTreeMap<String, Value>) -> Map {
        Map {
            elem,
            entries: RwLock::new(entries),
        }
    }

    /// The entries, for reading. Do not hold the guard while the map may be
    /// changed (e.g. while executing template code): take a snapshot.
    pub fn entries(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entries, for changing in place (visible to every holder).
    pub fn entries_mut(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the entries (the values themselves are shared).
    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.entries().clone()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.entries().get(key).cloned()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }
}

impl Clone for Map {
    /// A new map with the same entries (not shared with `self`).
    fn clone(&self) -> Map {
        Map::new(self.elem.clone(), self.snapshot())
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        if std::ptr::eq(self, other) {
            return true;
        }
        self.elem == other.elem && *self.entries() == *other.entries()
    }
}

/// A `[]T` that is not nil: Go's slice header (a window on a backing array,
/// with a length and a capacity).
///
/// As in Go, the elements live in a backing array that every slice made from
/// it shares: sprig's `slice` (and the builtin `slice x i j`) give a new
/// window on the same array, a `[]string` passed to `toStrings` comes back
/// as the same slice, and sprig's `sortAlpha` sorts a `[]string` argument in
/// place ([`Slice::update`]), so every holder of the array (a variable, a map
/// entry, a longer or shorter window) sees the new order. Cloning a `Slice`
/// copies the header and shares the array, as copying a Go slice does.
///
/// The capacity is what Go would have (see [`append_cap`]): `slice x i j`
/// may read past `len(x)` up to `cap(x)`, into the backing array; the array
/// elements after those ever written are zero values.
///
/// Equality compares the element type and the elements (not the capacity
/// nor the identity of the array).
#[derive(Debug, Clone)]
pub struct Slice {
    /// The element type `T`.
    pub elem: Type,
    array: Arc<RwLock<Vec<Value>>>,
    off: usize,
    len: usize,
    cap: usize,
}

impl Slice {
    /// A slice of a new array holding `items`, its capacity its length.
    pub fn new(elem: Type, items: Vec<Value>) -> Slice {
        let len = items.len();
        Slice {
            elem,
            array: Arc::new(RwLock::new(items)),
            off: 0,
            len,
            cap: len,
        }
    }

    /// A slice of a new array of `cap` elements (at least the length plus
    /// `spare`): `items`, then `spare` (elements past the length, e.g. what
    /// `slice x 0 1` hides), then zero values.
    pub fn with_cap(elem: Type, items: Vec<Value>, cap: usize, spare: Vec<Value>) -> Slice {
        let len = items.len();
        let cap = cap.max(len + spare.len());
        let mut array = items;
        array.extend(spare);
        Slice {
            elem,
            array: Arc::new(RwLock::new(array)),
            off: 0,
            len,
            cap,
        }
    }

    /// Go's `len`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the length is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Go's `cap`.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The element at index `i` of the backing array as this slice sees it
    /// (`x[:cap(x)][i]`), `None` past the capacity.
    pub fn backing(&self, i: usize) -> Option<Value> {
        if i >= self.cap {
            return None;
        }
        let array = self.array.read().unwrap_or_else(PoisonError::into_inner);
        Some(
            array
                .get(self.off + i)
                .cloned()
                .unwrap_or_else(|| self.elem.zero()),
        )
    }

    /// The element at index `i` (`x[i]`), `None` out of range. Read now: an
    /// element changed in place since an earlier read shows its new value.
    pub fn get(&self, i: usize) -> Option<Value> {
        if i >= self.len {
            return None;
        }
        self.backing(i)
    }

    /// The elements, read now (a copy of the window: the values themselves
    /// are shared).
    pub fn items(&self) -> Vec<Value> {
        let array = self.array.read().unwrap_or_else(PoisonError::into_inner);
        (self.off..self.off + self.len)
            .map(|i| array.get(i).cloned().unwrap_or_else(|| self.elem.zero()))
            .collect()
    }

    /// Changes the elements in place (`x[i] = ...` for the whole window):
    /// every slice sharing the backing array sees the change. `f` must not
    /// read or change this slice's array itself.
    pub fn update<R>(&self, f: impl FnOnce(&mut [Value]) -> R) -> R {
        let mut array = self.array.write().unwrap_or_else(PoisonError::into_inner);
        let end = self.off + self.len;
        if array.len() < end {
            let zero = self.elem.zero();
            array.resize(end, zero);
        }
        f(&mut array[self.off..end])
    }

    /// Whether `self` and `other` are windows on the same backing array.
    pub fn shares_array(&self, other: &Slice) -> bool {
        Arc::ptr_eq(&self.array, &other.array)
    }

    /// Go's `x[i:j:k]` (`k` = capacity when `None`); `None` if out of range.
    /// The result shares the backing array.
    pub fn reslice(&self, i: usize, j: usize, k: Option<usize>) -> Option<Slice> {
        let k = k.unwrap_or(self.cap);
        if i > j || j > k || k > self.cap {
            return None;
        }
        Some(Slice {
            elem: self.elem.clone(),
            array: self.array.clone(),
            off: self.off + i,
            len: j - i,
            cap: k - i,
        })
    }
}

impl PartialEq for Slice {
    fn eq(&self, other: &Slice) -> bool {
        self.elem == other.elem
            && self.len == other.len
            && (self.shares_array(other) && self.off == other.off || self.items() == other.items())
    }
}

/// Go's size classes (`runtime/sizeclasses.go`, Go 1.26).
const SIZE_CLASSES: [usize; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// Go's `runtime.roundupsize` (amd64).
fn roundupsize(size: usize, noscan: bool) -> usize {
    let mut req = size;
    if req <= 32768 - 8 {
        if !noscan && req > 512 {
            req += 8;
        }
        let class = SIZE_CLASSES
            .iter()
            .copied()
            .find(|c| *c >= req)
            .unwrap_or(32768);
        return class - (req - size);
    }
    req.saturating_add(8191) & !8191
}

/// Go's `runtime.nextslicecap`.
fn nextslicecap(new_len: usize, old_cap: usize) -> usize {
    let mut newcap = old_cap;
    let doublecap = newcap + newcap;
    if new_len > doublecap {
        return new_len;
    }
    if old_cap < 256 {
        return doublecap;
    }
    while newcap < new_len {
        newcap += (newcap + 3 * 256) >> 2;
    }
    newcap
}

/// Size in bytes of an element of type `t` on amd64 and whether it holds no
/// pointers.
fn elem_layout(t: &Type) -> (usize, bool) {
    match t {
        Type::Bool | Type::Uint8 => (1, true),
        Type::Int | Type::Int64 | Type::Float64 => (8, true),
        Type::Complex128 => (16, true),
        Type::Any | Type::String => (16, false),
        Type::Bytes | Type::Slice(_) => (24, false),
        Type::Map(_) | Type::Ptr(_) => (8, false),
        Type::Time => (24, false),
        // Kapsel never builds slices of structs during execution.
        Type::Struct(_) => (8, false),
    }
}

/// The capacity Go's `append` gives when a slice of capacity `old_cap` must
/// grow to hold `new_len` elements of type `elem` (`runtime.growslice`).
pub fn grow_cap(elem: &Type, old_cap: usize, new_len: usize) -> usize {
    if new_len <= old_cap {
        return old_cap;
    }
    let (size, noscan) = elem_layout(elem);
    let newcap = nextslicecap(new_len, old_cap);
    roundupsize(newcap.saturating_mul(size), noscan) / size
}

/// The capacity of a slice built by appending `len` elements one at a time
/// to an empty slice (what `encoding/json` and most sprig list functions do).
pub fn append_cap(elem: &Type, len: usize) -> usize {
    let mut cap = 0;
    let mut n = 1;
    while n <= len {
        cap = grow_cap(elem, cap, n);
        n = cap + 1;
    }
    cap
}

/// Which `*time.Location` a [`GoTime`] carries (Go's unexported `loc`
/// field, which `%d` and other non-string verbs print as a pointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimeLoc {
    /// `time.UTC`, which Go stores as a nil `loc` (`t.UTC()`, a parsed `Z`).
    #[default]
    Utc,
    /// `time.Local` (`time.Now()`, `time.Unix`, a time parsed in the local
    /// zone, `t.Local()`): the address of Go's `localLoc` variable.
    Local,
    /// Any other location (`time.FixedZone`, `time.LoadLocation`): an address
    /// on Go's heap.
    Other,
}

/// A Go `time.Time`: an instant plus the zone it is shown in.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub unix_secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Offset from UTC in seconds (east positive).
    pub offset_secs: i32,
    /// Zone abbreviation as Go prints it with `MST` (e.g. `UTC`); for a fixed zone
    /// without a name Go prints the offset like `+0200`; empty means "derive".
    pub zone_name: String,
    /// The location the zone comes from (part of Go's `==` on times).
    pub loc: TimeLoc,
}

impl GoTime {
    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
    pub fn zero() -> GoTime {
        GoTime {
            unix_secs: -62_135_596_800,
            nanos: 0,
            offset_secs: 0,
            zone_name: "UTC".to_string(),
            loc: TimeLoc::Utc,
        }
    }
}

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value: a nil `interface{}` (a missing `map[string]interface{}` entry, JSON
    /// `null`). An action prints it as `<no value>`; `fmt` prints `<nil>`.
    Nil,
    /// `bool`
    Bool(bool),
    /// `int`
    Int(i64),
    /// `int64`
    Int64(i64),
    /// `uint8` (`byte`)
    Uint8(u8),
    /// `float64`
    Float(f64),
    /// `complex128`: real and imaginary parts. Templates make one from a
    /// complex constant (`1i`, `2.5i`, `1+2i`); Go prints it `(1+2i)`.
    Complex(f64, f64),
    /// `string` (any bytes, see [`Str`]).
    String(Str),
    /// A non-nil `[]byte`.
    Bytes(Arc<[u8]>),
    /// A nil `[]byte`.
    NilBytes,
    /// A non-nil slice.
    Slice(Arc<Slice>),
    /// A nil slice of the given element type.
    NilSlice(Type),
    /// A non-nil map.
    Map(Arc<Map>),
    /// A nil map of the given element type.
    NilMap(Type),
    /// A struct value.
    Struct(Arc<Struct>),
    /// A non-nil pointer (to a struct, almost always).
    Ptr(Arc<Value>),
    /// A nil pointer to the given type.
    NilPtr(Type),
    /// A `time.Time`.
    Time(Arc<GoTime>),
}

impl Value {
    /// A `string`.
    pub fn string(s: impl Into<Str>) -> Value {
        Value::String(s.into())
    }

    /// A non-nil `[]byte`.
    pub fn bytes(b: impl Into<Arc<[u8]>>) -> Value {
        Value::Bytes(b.into())
    }

    /// A non-nil `[]T`.
    pub fn slice(elem: Type, items: Vec<Value>) -> Value {
        Value::Slice(Arc::new(Slice::new(elem, items)))
    }

    /// A non-nil `[]T` built by appending its items one at a time to an
    /// empty slice, with the capacity Go's `append` leaves (see
    /// [`append_cap`]).
    pub fn appended(elem: Type, items: Vec<Value>) -> Value {
        let cap = append_cap(&elem, items.len());
        Value::Slice(Arc::new(Slice::with_cap(elem, items, cap, Vec::new())))
    }

    /// A non-nil `map[string]T`.
    pub fn map(elem: Type, entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map::new(elem, entries)))
    }

    /// A pointer to `v`.
    pub fn ptr(v: Value) -> Value {
        Value::Ptr(Arc::new(v))
    }

    /// The Go type of this value.
    pub fn type_of(&self) -> Type {
        match self {
            Value::Nil => Type::Any,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Int64(_) => Type::Int64,
            Value::Uint8(_) => Type::Uint8,
            Value::Float(_) => Type::Float64,
            Value::Complex(..) => Type::Complex128,
            Value::String(_) => Type::String,
            Value::Bytes(_) | Value::NilBytes => Type::Bytes,
            Value::Slice(s) => Type::slice(s.elem.clone()),
            Value::NilSlice(e) => Type::slice(e.clone()),
            Value::Map(m) => Type::map(m.elem.clone()),
            Value::NilMap(e) => Type::map(e.clone()),
            Value::Struct(s) => Type::Struct(s.ty.clone()),
            Value::Ptr(v) => Type::ptr(v.type_of()),
            Value::NilPtr(t) => Type::ptr(t.clone()),
            Value::Time(_) => Type::Time,
        }
    }

    /// Go template truth (`if`, `with`, `and`, `or`, `not`): false for the zero
    /// value of any type, for nil, and for empty maps, slices and strings.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint8(b) => *b != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(re, im) => *re != 0.0 || *im != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::NilBytes | Value::NilSlice(_) | Value::NilMap(_) | Value::NilPtr(_) => false,
            Value::Slice(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            // Go: a struct value is always true.
            Value::Struct(_) => true,
            Value::Ptr(_) => true,
            // time.Time is a struct: always true.
            Value::Time(_) => true,
        }
    }

    /// Converts a JSON value the way Go's `encoding/json` decodes into
    /// `interface{}`: objects become `map[string]interface{}`, arrays
    /// `[]interface{}`, every number `float64`, `null` a nil interface.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::string(s.as_str()),
            serde_json::Value::Array(a) => {
                Value::appended(Type::Any, a.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::map(
                Type::Any,
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts a JSON value the way Kubernetes' unstructured decoding does
    /// (`.Object` in Kanister): like [`Value::from_json`] but integral numbers
    /// become `int64`.
    pub fn from_unstructured_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int64(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::Array(a) => Value::appended(
                Type::Any,
                a.iter().map(Value::from_unstructured_json).collect(),
            ),
            serde_json::Value::Object(o) => Value::map(
                Type::Any,
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_unstructured_json(v)))
                    .collect(),
            ),
            other => Value::from_json(other),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::string(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::string(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
