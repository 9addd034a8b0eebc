//! The public API: options, typed Go data, error values, spans, field references.
//! Expected texts were checked against Go 1.26's text/template.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kapsel_govalue::{FieldDef, JsonField, StructType, Type};
use kapsel_template::ast::{Arg, Node};
use kapsel_template::{
    Error, FieldRoot, FuncMap, MissingKey, Options, Template, Value, field_references,
    render_kanister,
};

fn opts(mk: MissingKey) -> Options {
    Options {
        funcs: FuncMap::new(),
        missing_key: mk,
    }
}

fn exec(mk: MissingKey, src: &str, data: &Value) -> Result<String, String> {
    let o = opts(mk);
    let t = Template::parse("t", src, &o.funcs).map_err(|e| e.to_string())?;
    t.execute(data, &o).map_err(|e| e.to_string())
}

fn map_data() -> Value {
    let mut ss = BTreeMap::new();
    ss.insert("x".to_string(), Value::string("y"));
    let mut m = BTreeMap::new();
    m.insert("a".to_string(), Value::Float(1.0));
    m.insert("ss".to_string(), Value::map(Type::String, ss));
    m.insert("nilv".to_string(), Value::Nil);
    Value::map(Type::Any, m)
}

#[test]
fn missing_key_modes() {
    let d = map_data();
    let cases: &[(MissingKey, &str, Result<&str, &str>)] = &[
        (MissingKey::Default, "{{.q}}", Ok("<no value>")),
        (
            MissingKey::Default,
            "{{.ss.q}}|{{index .ss \"q\"}}",
            Ok("<no value>|"),
        ),
        (MissingKey::Default, "{{.q.r}}", Ok("<no value>")),
        (
            MissingKey::Default,
            "{{len .q}}",
            Err(
                "template: t:1:2: executing \"t\" at <len .q>: error calling len: reflect: call of reflect.Value.Type on zero Value",
            ),
        ),
        (
            MissingKey::Default,
            "{{.nilv.r}}",
            Err(
                "template: t:1:7: executing \"t\" at <.nilv.r>: nil pointer evaluating interface {}.r",
            ),
        ),
        (MissingKey::Zero, "{{.q}}", Ok("<no value>")),
        (MissingKey::Zero, "{{.ss.q}}|{{index .ss \"q\"}}", Ok("|")),
        (
            MissingKey::Zero,
            "{{.q.r}}",
            Err(
                "template: t:1:4: executing \"t\" at <.q.r>: nil pointer evaluating interface {}.r",
            ),
        ),
        (
            MissingKey::Zero,
            "{{len .q}}",
            Err(
                "template: t:1:2: executing \"t\" at <len .q>: error calling len: len of nil pointer",
            ),
        ),
        (
            MissingKey::Error,
            "{{.q}}",
            Err("template: t:1:2: executing \"t\" at <.q>: map has no entry for key \"q\""),
        ),
        (
            MissingKey::Error,
            "{{.ss.q}}",
            Err("template: t:1:5: executing \"t\" at <.ss.q>: map has no entry for key \"q\""),
        ),
        (
            MissingKey::Error,
            "{{len .q}}",
            Err("template: t:1:6: executing \"t\" at <.q>: map has no entry for key \"q\""),
        ),
    ];
    for (mk, src, want) in cases {
        let got = exec(*mk, src, &d);
        let want = want.map(str::to_string).map_err(str::to_string);
        assert_eq!(got, want, "{mk:?} {src}");
    }
}

#[test]
fn nil_data() {
    assert_eq!(
        exec(MissingKey::Default, "{{.x}}", &Value::Nil).unwrap(),
        "<no value>"
    );
    assert_eq!(
        exec(MissingKey::Error, "{{.x}}", &Value::Nil).unwrap_err(),
        "template: t:1:2: executing \"t\" at <.x>: nil data; no entry for key \"x\""
    );
}

fn outer_type() -> (Arc<StructType>, Arc<StructType>) {
    let inner = Arc::new(StructType {
        name: "main.Inner".to_string(),
        fields: vec![FieldDef::new("B", Type::String, JsonField::Untagged)],
    });
    let outer = Arc::new(StructType {
        name: "main.Outer".to_string(),
        fields: vec![
            FieldDef::embedded("Inner", Type::Struct(inner.clone()), JsonField::Untagged),
            FieldDef::new(
                "P",
                Type::ptr(Type::Struct(inner.clone())),
                JsonField::Untagged,
            ),
            FieldDef::new("M", Type::map(Type::String), JsonField::Untagged),
            FieldDef::new("Any", Type::Any, JsonField::Untagged),
        ],
    });
    (inner, outer)
}

fn outer_value() -> Value {
    let (inner, outer) = outer_type();
    let mut m = BTreeMap::new();
    m.insert("k".to_string(), Value::string("v"));
    Value::Struct(Arc::new(kapsel_govalue::Struct {
        ty: outer,
        fields: vec![
            Value::Struct(Arc::new(kapsel_govalue::Struct {
                ty: inner.clone(),
                fields: vec![Value::string("b")],
            })),
            Value::NilPtr(Type::Struct(inner)),
            Value::map(Type::String, m),
            Value::Nil,
        ],
    }))
}

#[test]
fn structs_pointers_embedding() {
    let o = outer_value();
    let d = MissingKey::Default;
    assert_eq!(
        exec(
            d,
            "{{.B}} {{.Inner.B}} {{.M.k}} {{.M.z}}|{{.Any}}|{{.P}}",
            &o
        )
        .unwrap(),
        "b b v <no value>|<no value>|<nil>"
    );
    let cases = [
        (
            "{{.P.B}}",
            "template: t:1:4: executing \"t\" at <.P.B>: nil pointer evaluating *main.Inner.B",
        ),
        (
            "{{.Nope}}",
            "template: t:1:2: executing \"t\" at <.Nope>: can't evaluate field Nope in type main.Outer",
        ),
        (
            "{{.P.Nope}}",
            "template: t:1:4: executing \"t\" at <.P.Nope>: can't evaluate field Nope in type *main.Inner",
        ),
        (
            "{{.Any.x}}",
            "template: t:1:6: executing \"t\" at <.Any.x>: nil pointer evaluating interface {}.x",
        ),
        (
            "{{.B 1}}",
            "template: t:1:2: executing \"t\" at <.B>: B has arguments but cannot be invoked as function",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(exec(d, src, &o).unwrap_err(), want, "{src}");
    }
    let p = Value::ptr(o);
    assert_eq!(exec(d, "{{.}}", &p).unwrap(), "{{b} <nil> map[k:v] <nil>}");
    let (_, outer) = outer_type();
    let nil = Value::NilPtr(Type::Struct(outer));
    assert_eq!(
        exec(d, "{{.B}}", &nil).unwrap_err(),
        "template: t:1:2: executing \"t\" at <.B>: nil pointer evaluating *main.Outer.B"
    );
    assert_eq!(
        exec(d, "{{.Nope}}", &nil).unwrap_err(),
        "template: t:1:2: executing \"t\" at <.Nope>: can't evaluate field Nope in type *main.Outer"
    );
}

#[test]
fn parse_error_fields() {
    let e = Template::parse("cfg", "line1\n  {{ .a | }} {{ end }}", &FuncMap::new()).unwrap_err();
    assert_eq!(e.to_string(), "template: cfg:2: unexpected {{end}}");
    assert_eq!(e.line, 2);
    assert_eq!(e.message, "unexpected {{end}}");
    assert_eq!(
        &"line1\n  {{ .a | }} {{ end }}"[e.offset..e.offset + 2],
        "}}"
    );
    assert_eq!(e.col, 21);

    let e = Template::parse("cfg", "{{ nosuch 1 }}", &FuncMap::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: cfg:1: function \"nosuch\" not defined"
    );
    assert_eq!(e.offset, 3);
    assert_eq!(e.col, 4);
}

#[test]
fn exec_error_fields() {
    let src = "ab\n  é {{ .x.y }}";
    let e = Template::parse("cfg", src, &FuncMap::new())
        .unwrap()
        .execute(&map_data(), &opts(MissingKey::Error))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: cfg:2:10: executing \"cfg\" at <.x.y>: map has no entry for key \"x\""
    );
    assert_eq!(e.line, 2);
    // Go positions a multi-field node at its second field.
    assert_eq!(e.col, 10, "1-based, in characters");
    assert_eq!(e.go_col, 10, "Go: 0-based, in bytes");
    assert_eq!(&src[e.offset..e.offset + 2], ".y");
    assert_eq!(&src[e.span.clone().unwrap()], ".x.y");
    assert_eq!(e.template, "cfg");
    assert_eq!(e.context.as_deref(), Some(".x.y"));
    assert_eq!(e.message, "map has no entry for key \"x\"");
}

#[test]
fn exec_error_inside_define_names_the_define() {
    let src = "x\n{{define \"d\"}}{{.nope}}{{end}}{{template \"d\" .}}";
    let e = Template::parse("cfg", src, &FuncMap::new())
        .unwrap()
        .execute(&map_data(), &opts(MissingKey::Error))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: cfg:2:16: executing \"d\" at <.nope>: map has no entry for key \"nope\""
    );
}

#[test]
fn render_kanister_uses_sprig_and_missingkey_error() {
    let d = map_data();
    assert_eq!(
        render_kanister("config", "{{ .ss.x | upper }}", &d).unwrap(),
        "Y"
    );
    match render_kanister("config", "{{ .nope }}", &d) {
        Err(Error::Exec(e)) => assert_eq!(e.message, "map has no entry for key \"nope\""),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        render_kanister("config", "{{ nosuch }}", &d),
        Err(Error::Parse(_))
    ));
}

#[test]
fn user_functions_override_and_extend() {
    let mut funcs = FuncMap::new();
    funcs.insert(kapsel_govalue::Func {
        name: "len",
        params: &[kapsel_govalue::Param::String],
        variadic: None,
        call: |a| Ok(Value::string(format!("custom:{:?}", a.len()))),
    });
    let o = Options {
        funcs: funcs.clone(),
        missing_key: MissingKey::Default,
    };
    let t = Template::parse("t", "{{len \"abc\"}}", &funcs).unwrap();
    assert_eq!(t.execute(&Value::Nil, &o).unwrap(), "custom:1");
}

#[test]
fn spans_cover_source_text() {
    let src = "a {{ if .x }}b{{ else }}c{{ end }} {{ index .m \"k\" | printf \"%s\" }}";
    let t = Template::parse("t", src, &FuncMap::new()).unwrap();
    let nodes = &t.root().nodes;
    assert_eq!(nodes.len(), 4);
    assert_eq!(&src[nodes[0].span()], "a ");
    assert_eq!(&src[nodes[1].span()], "{{ if .x }}b{{ else }}c{{ end }}");
    let Node::Action(a) = &nodes[3] else {
        panic!("not an action")
    };
    assert_eq!(&src[a.span.clone()], "{{ index .m \"k\" | printf \"%s\" }}");
    assert_eq!(&src[a.pipe.span.clone()], "index .m \"k\" | printf \"%s\"");
    assert_eq!(&src[a.pipe.cmds[0].span.clone()], "index .m \"k\"");
    let Arg::Field(f) = &a.pipe.cmds[0].args[1] else {
        panic!("not a field")
    };
    assert_eq!(&src[f.span.clone()], ".m");
    assert_eq!(a.to_string_for_test(), "{{index .m \"k\" | printf \"%s\"}}");
}

trait GoString {
    fn to_string_for_test(&self) -> String;
}

impl GoString for kapsel_template::ast::ActionNode {
    fn to_string_for_test(&self) -> String {
        Node::Action(self.clone()).to_string()
    }
}

#[test]
fn field_refs() {
    let src = concat!(
        "{{ .Phases.pg.Output.loc }} {{ $.Options.x }} ",
        "{{ index .Phases.pg.Secrets.s.Data \"password\" }} ",
        "{{ range .ArtifactsIn }}{{ .KeyValue.path }}{{ end }} ",
        "{{ with .Profile }}{{ .Location.Bucket }}{{ $.Object.metadata.name }}{{ end }} ",
        "{{ (index .Options \"a\" .X) | quote }} ",
        "{{ define \"d\" }}{{ .Inner }}{{ $.Top }}{{ end }}"
    );
    let t = Template::parse("t", src, &kapsel_sprig::txt_func_map()).unwrap();
    let refs = field_references(&t);
    let view: Vec<(FieldRoot, String, bool, &str)> = refs
        .iter()
        .map(|r| (r.root, r.chain.join("."), r.via_index, &src[r.span.clone()]))
        .collect();
    let want: Vec<(FieldRoot, &str, bool, &str)> = vec![
        (
            FieldRoot::TopDot,
            "Phases.pg.Output.loc",
            false,
            ".Phases.pg.Output.loc",
        ),
        (FieldRoot::Dollar, "Options.x", false, "$.Options.x"),
        (
            FieldRoot::TopDot,
            "Phases.pg.Secrets.s.Data.password",
            true,
            "index .Phases.pg.Secrets.s.Data \"password\"",
        ),
        (
            FieldRoot::TopDot,
            "Phases.pg.Secrets.s.Data",
            false,
            ".Phases.pg.Secrets.s.Data",
        ),
        (FieldRoot::TopDot, "ArtifactsIn", false, ".ArtifactsIn"),
        (FieldRoot::Unknown, "KeyValue.path", false, ".KeyValue.path"),
        (FieldRoot::TopDot, "Profile", false, ".Profile"),
        (
            FieldRoot::Unknown,
            "Location.Bucket",
            false,
            ".Location.Bucket",
        ),
        (
            FieldRoot::Dollar,
            "Object.metadata.name",
            false,
            "$.Object.metadata.name",
        ),
        (FieldRoot::TopDot, "Options.a", true, "index .Options \"a\""),
        (FieldRoot::TopDot, "Options", false, ".Options"),
        (FieldRoot::TopDot, "X", false, ".X"),
        (FieldRoot::Unknown, "Inner", false, ".Inner"),
        (FieldRoot::Unknown, "Top", false, "$.Top"),
    ];
    let want: Vec<(FieldRoot, String, bool, &str)> = want
        .into_iter()
        .map(|(r, c, v, s)| (r, c.to_string(), v, s))
        .collect();
    assert_eq!(view, want);
    let names: Vec<Vec<&str>> = refs
        .iter()
        .map(|r| r.element_spans.iter().map(|sp| &src[sp.clone()]).collect())
        .collect();
    assert_eq!(names[0], vec!["Phases", "pg", "Output", "loc"]);
    assert_eq!(names[1], vec!["Options", "x"]);
    assert_eq!(
        names[2],
        vec!["Phases", "pg", "Secrets", "s", "Data", "\"password\""]
    );
    for r in &refs {
        assert_eq!(r.element_spans.len(), r.chain.len(), "{r:?}");
    }
}

#[test]
fn templates_and_options_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<Options>();
    assert_send_sync::<Error>();
}
