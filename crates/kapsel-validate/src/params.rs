//! The type tree of Kanister's template parameters and a walker over it.
//!
//! The tree is `kapsel_params::template_params_type()` (the one the renderer
//! uses) unless [`crate::Options`] gives another.

use kapsel_govalue::{StructType, Type};

/// Result of following a field chain through a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Every element resolved (or reached `Any`).
    Ok,
    /// Element `index` names no field of the struct `parent`.
    UnknownField {
        index: usize,
        parent: String,
        suggestion: Option<String>,
    },
    /// Element `index` is applied to a value that has no fields.
    NoFields { index: usize, ty: String },
}

/// The type at the end of a field-index path (through embedded fields).
fn follow(s: &StructType, path: &[usize]) -> Option<Type> {
    let mut cur: &StructType = s;
    let mut ty: Option<&Type> = None;
    for (n, &i) in path.iter().enumerate() {
        let f = cur.fields.get(i)?;
        ty = Some(&f.ty);
        if n + 1 < path.len() {
            cur = match &f.ty {
                Type::Struct(inner) => inner.as_ref(),
                Type::Ptr(p) => match p.as_ref() {
                    Type::Struct(inner) => inner.as_ref(),
                    _ => return None,
                },
                _ => return None,
            };
        }
    }
    ty.cloned()
}

/// Field names selectable on `s`, including those promoted from embedded structs.
fn field_names(s: &StructType) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![s];
    let mut guard = 0;
    while let Some(cur) = stack.pop() {
        guard += 1;
        if guard > 64 {
            break;
        }
        for f in &cur.fields {
            out.push(f.name.clone());
            if f.embedded {
                match &f.ty {
                    Type::Struct(inner) => stack.push(inner.as_ref()),
                    Type::Ptr(p) => {
                        if let Type::Struct(inner) = p.as_ref() {
                            stack.push(inner.as_ref());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// Follow `chain` from `root`: struct fields by name, pointers transparently,
/// maps by any key, `Any` accepts everything.
pub(crate) fn walk(root: &Type, chain: &[String]) -> Walk {
    let mut ty = root.clone();
    for (i, name) in chain.iter().enumerate() {
        while let Type::Ptr(e) = &ty {
            ty = (**e).clone();
        }
        let next = match &ty {
            Type::Any => return Walk::Ok,
            Type::Map(e) => (**e).clone(),
            Type::Struct(s) => match s.lookup(name).and_then(|path| follow(s, &path)) {
                Some(t) => t,
                None => {
                    let names = field_names(s);
                    let suggestion =
                        crate::suggest::closest(name, names.iter().map(String::as_str))
                            .map(str::to_string);
                    return Walk::UnknownField {
                        index: i,
                        parent: s.name.clone(),
                        suggestion,
                    };
                }
            },
            other => {
                return Walk::NoFields {
                    index: i,
                    ty: other.to_string(),
                };
            }
        };
        ty = next;
    }
    Walk::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn walks_the_tree() {
        let t = kapsel_params::template_params_type();
        assert_eq!(walk(&t, &chain("StatefulSet.Namespace")), Walk::Ok);
        assert_eq!(walk(&t, &chain("Object.metadata.labels.x")), Walk::Ok);
        assert_eq!(walk(&t, &chain("ArtifactsIn.a.KeyValue.b")), Walk::Ok);
        assert!(matches!(
            walk(&t, &chain("StatefulSet.Nmae")),
            Walk::UnknownField { index: 1, suggestion: Some(ref s), .. } if s == "Name"
        ));
        assert!(matches!(
            walk(&t, &chain("Profil")),
            Walk::UnknownField { index: 0, suggestion: Some(ref s), .. } if s == "Profile"
        ));
        assert!(matches!(
            walk(&t, &chain("Time.Day")),
            Walk::NoFields { index: 1, .. }
        ));
    }
}
