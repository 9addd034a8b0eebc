//! The checks themselves: document shape, schema, functions, templates, references.

use std::collections::HashMap;
use std::ops::Range;

use kapsel_govalue::Type;

use crate::catalog::{self, ResolveError};
use crate::diag::{Diagnostic, Label, Severity};
use crate::params::{Walk, walk};
use crate::suggest::closest;
use crate::template::{FieldRef, FuncSet, TemplateEngine};
use crate::yaml::{Kind, LoadIssue, Node, Src, scalar_value_map};

pub(crate) struct Ctx<'a> {
    pub src: &'a Src<'a>,
    pub diags: Vec<Diagnostic>,
    pub engine: &'a dyn TemplateEngine,
    pub params: &'a Type,
    pub function_version: Option<&'a str>,
    pub strict: bool,
    /// Value-to-source maps of scalars, by scalar start offset.
    pub maps: std::cell::RefCell<HashMap<usize, Option<std::rc::Rc<Vec<usize>>>>>,
}

/// A label description before line/col are computed.
type L = (Range<usize>, String);

fn did_you_mean(s: Option<&str>) -> Option<String> {
    s.map(|s| format!("did you mean `{s}`?"))
}

impl Ctx<'_> {
    fn label(&self, span: Range<usize>, message: impl Into<String>) -> Label {
        let text = self.src.text;
        let mut start = span.start.min(text.len());
        while start > 0 && !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end.clamp(start, text.len());
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        let span = start..end;
        let (line, col) = self.src.line_col(span.start);
        Label {
            span,
            line,
            col,
            message: message.into(),
        }
    }

    fn emit(
        &mut self,
        code: &'static str,
        severity: Severity,
        message: impl Into<String>,
        labels: Vec<L>,
        help: Option<String>,
    ) {
        let labels = labels.into_iter().map(|(s, m)| self.label(s, m)).collect();
        self.diags.push(Diagnostic {
            code,
            severity,
            message: message.into(),
            labels,
            help,
        });
    }

    fn error(
        &mut self,
        code: &'static str,
        msg: impl Into<String>,
        labels: Vec<L>,
        help: Option<String>,
    ) {
        self.emit(code, Severity::Error, msg, labels, help);
    }

    fn warn(
        &mut self,
        code: &'static str,
        msg: impl Into<String>,
        labels: Vec<L>,
        help: Option<String>,
    ) {
        self.emit(code, Severity::Warning, msg, labels, help);
    }

    /// Warn about plain scalars that Kanister (YAML 1.1) reads differently
    /// from YAML 1.2 (`KV0007`).
    pub fn yaml11_differences(&mut self, root: &Node) {
        for a in kapsel_yaml::ambiguity::ambiguities(root) {
            let label = if a.is_key {
                format!("Kanister reads the key {}", a.yaml11)
            } else {
                format!("Kanister reads {}", a.yaml11)
            };
            self.warn(
                "KV0007",
                a.message(),
                vec![(a.span.clone(), label)],
                Some(a.help()),
            );
        }
    }

    /// Report YAML loading problems.
    pub fn load_issues(&mut self, issues: &[LoadIssue]) {
        for issue in issues {
            match issue {
                LoadIssue::Syntax { at, message } => {
                    let end = (*at + 1).min(self.src.text.len()).max(*at);
                    self.error(
                        "KV0001",
                        format!("YAML syntax error: {message}"),
                        vec![(*at..end, message.clone())],
                        None,
                    );
                }
                LoadIssue::DuplicateKey { key, first, second } => self.error(
                    "KV0003",
                    format!("duplicate key `{key}`"),
                    vec![
                        (second.clone(), "duplicate key".into()),
                        (first.clone(), "first defined here".into()),
                    ],
                    Some("kubectl and Kanister reject this (`key already set in map`); keep only one".into()),
                ),
                LoadIssue::TooDeep { at } => self.error(
                    "KV0006",
                    format!("nesting deeper than {} levels", crate::yaml::MAX_DEPTH),
                    vec![(*at..*at + 1, "too deep".into())],
                    None,
                ),
                LoadIssue::TooManyNodes { at } => self.error(
                    "KV0006",
                    format!(
                        "aliases expand to more than {} nodes",
                        kapsel_yaml::tree::MAX_NODES
                    ),
                    vec![(*at..*at + 1, "too many nodes".into())],
                    Some("kubectl refuses such documents (`excessive aliasing`)".into()),
                ),
                LoadIssue::MultipleDocuments { at } => self.error(
                    "KV0002",
                    "the file contains more than one YAML document",
                    vec![(
                        *at..(*at + 3).min(self.src.text.len()),
                        "second document starts here".into(),
                    )],
                    Some(
                        "put each Blueprint in its own file; only the first document was checked"
                            .into(),
                    ),
                ),
            }
        }
    }

    /// Check the mapping `node` against the allowed `fields`; report unknown keys.
    /// Returns `false` (after reporting) when `node` is not a mapping.
    fn check_fields(&mut self, node: &Node, what: &str, fields: &[&str]) -> bool {
        let Kind::Map(entries) = &node.kind else {
            self.type_error(node, what, "a mapping");
            return false;
        };
        for (k, _) in entries {
            let Some(s) = k.as_scalar() else {
                self.error(
                    "KV0104",
                    format!("keys of {what} must be strings"),
                    vec![(k.span.clone(), format!("{} used as a key", k.type_name()))],
                    None,
                );
                continue;
            };
            if !fields.contains(&s.value.as_str()) {
                let sugg = closest(&s.value, fields.iter().copied());
                self.error(
                    "KV0103",
                    format!("unknown field `{}` in {what}", s.value),
                    vec![(k.span.clone(), "unknown field".into())],
                    did_you_mean(sugg)
                        .or_else(|| Some(format!("known fields: {}", fields.join(", ")))),
                );
            }
        }
        true
    }

    fn type_error(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            "KV0104",
            format!("{what} must be {expected}, found {}", node.type_name()),
            vec![(node.span.clone(), format!("expected {expected}"))],
            None,
        );
    }

    /// A field that must be a string scalar (null counts as absent).
    fn string_field<'n>(
        &mut self,
        parent: &'n Node,
        key: &str,
        what: &str,
    ) -> Option<(&'n Node, String)> {
        let v = parent.get(key)?;
        if v.is_null() {
            return None;
        }
        match &v.kind {
            Kind::Scalar(s) if s.resolve() == crate::yaml::ScalarType::Str => {
                Some((v, s.value.clone()))
            }
            _ => {
                self.type_error(v, what, "a string");
                None
            }
        }
    }

    /// A field that must be a list of strings.
    fn string_list(&mut self, parent: &Node, key: &str, what: &str) -> Option<Vec<String>> {
        let v = parent.get(key)?;
        if v.is_null() {
            return Some(Vec::new());
        }
        let Kind::Seq(items) = &v.kind else {
            self.type_error(v, what, "a list of strings");
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_str() {
                Some(v) => out.push(v.to_string()),
                None => self.type_error(it, &format!("each item of {what}"), "a string"),
            }
        }
        Some(out)
    }

    fn key_span(parent: &Node, key: &str) -> Option<Range<usize>> {
        match &parent.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
                .map(|(k, _)| k.span.clone()),
            _ => None,
        }
    }
}

const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "actions"];
const META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
const ACTION_FIELDS: &[&str] = &[
    "name",
    "kind",
    "configMapNames",
    "secretNames",
    "inputArtifactNames",
    "outputArtifacts",
    "phases",
    "deferPhase",
];
const PHASE_FIELDS: &[&str] = &["func", "name", "objects", "args"];
const OBJREF_FIELDS: &[&str] = &[
    "apiVersion",
    "group",
    "resource",
    "kind",
    "name",
    "namespace",
];
const ARTIFACT_FIELDS: &[&str] = &["keyValue", "kopiaSnapshot"];
const API_VERSION: &str = "cr.kanister.io/v1alpha1";

/// What we know about one phase.
struct PhaseInfo<'n> {
    node: &'n Node,
    name: Option<String>,
    name_span: Option<Range<usize>>,
    /// `objects` entries: name → kind (if a plain string).
    objects: Vec<(String, Option<String>)>,
    func: Option<&'static catalog::FunctionSpec>,
}

/// What we know about one action.
struct ActionInfo<'n> {
    name: String,
    kind: Option<String>,
    input_artifacts: Option<Vec<String>>,
    secret_names: Option<Vec<String>>,
    config_map_names: Option<Vec<String>>,
    phases: Vec<PhaseInfo<'n>>,
    defer: Option<PhaseInfo<'n>>,
}

/// Where a template is evaluated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loc {
    Phase(usize),
    Defer,
    Output,
}

/// How a string is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Rendered with the template parameters.
    Params,
    /// A WaitV2 condition: evaluated against the fetched object.
    ObjectCondition,
}

pub(crate) fn check_document(cx: &mut Ctx<'_>, root: &Node) {
    if !matches!(root.kind, Kind::Map(_)) {
        cx.error(
            "KV0004",
            format!(
                "a Blueprint must be a YAML mapping, found {}",
                root.type_name()
            ),
            vec![(root.span.clone(), "expected a mapping".into())],
            None,
        );
        return;
    }
    cx.check_fields(root, "the Blueprint", TOP_FIELDS);
    let start = root.span.start..root.span.start;
    match cx.string_field(root, "apiVersion", "`apiVersion`") {
        Some((n, v)) if v != API_VERSION => cx.error(
            "KV0101",
            format!("apiVersion is `{v}`, expected `{API_VERSION}`"),
            vec![(n.span.clone(), "wrong apiVersion".into())],
            Some(format!("use `apiVersion: {API_VERSION}`")),
        ),
        Some(_) => {}
        None if root.get("apiVersion").is_none_or(Node::is_null) => cx.error(
            "KV0105",
            "missing required field `apiVersion`",
            vec![(start.clone(), "in this mapping".into())],
            Some(format!("add `apiVersion: {API_VERSION}`")),
        ),
        None => {}
    }
    match cx.string_field(root, "kind", "`kind`") {
        Some((n, v)) if v != "Blueprint" => cx.error(
            "KV0102",
            format!("kind is `{v}`, expected `Blueprint`"),
            vec![(n.span.clone(), "not a Blueprint".into())],
            None,
        ),
        Some(_) => {}
        None if root.get("kind").is_none_or(Node::is_null) => cx.error(
            "KV0105",
            "missing required field `kind`",
            vec![(start.clone(), "in this mapping".into())],
            Some("add `kind: Blueprint`".into()),
        ),
        None => {}
    }
    match root.get("metadata") {
        None => cx.error(
            "KV0105",
            "missing required field `metadata`",
            vec![(start.clone(), "in this mapping".into())],
            Some("add `metadata: {name: <blueprint name>}`".into()),
        ),
        Some(m) => {
            if cx.check_fields(m, "`metadata`", META_FIELDS) {
                let name = cx.string_field(m, "name", "`metadata.name`");
                let gen_name = cx.string_field(m, "generateName", "`metadata.generateName`");
                if name.is_none() && gen_name.is_none() && m.get("name").is_none_or(Node::is_null) {
                    let span = Ctx::key_span(root, "metadata").unwrap_or(m.span.clone());
                    cx.error(
                        "KV0105",
                        "missing required field `metadata.name`",
                        vec![(span, "this metadata has no name".into())],
                        Some("ActionSets refer to a Blueprint by its name".into()),
                    );
                }
            }
        }
    }
    let actions = match root.get("actions") {
        Some(a) if !a.is_null() => a,
        _ => {
            cx.error(
                "KV0106",
                "the Blueprint has no actions",
                vec![(
                    Ctx::key_span(root, "actions").unwrap_or(start),
                    "no actions".into(),
                )],
                Some(
                    "add `actions:` with at least one action (e.g. backup, restore, delete)".into(),
                ),
            );
            return;
        }
    };
    let Kind::Map(entries) = &actions.kind else {
        cx.type_error(actions, "`actions`", "a mapping of action names to actions");
        return;
    };
    if entries.is_empty() {
        cx.error(
            "KV0106",
            "the Blueprint has no actions",
            vec![(actions.span.clone(), "empty".into())],
            Some("add at least one action (e.g. backup, restore, delete)".into()),
        );
        return;
    }
    let mut infos = Vec::new();
    for (k, v) in entries {
        let name = k.as_scalar().map(|s| s.value.clone()).unwrap_or_default();
        if let Some(info) = collect_action(cx, &name, k, v) {
            infos.push(info);
        }
    }
    check_phase_names(cx, &infos);
    for info in &infos {
        check_action_templates(cx, info, actions.get(&info.name));
    }
}

fn collect_action<'n>(
    cx: &mut Ctx<'_>,
    name: &str,
    key: &'n Node,
    node: &'n Node,
) -> Option<ActionInfo<'n>> {
    let what = format!("action `{name}`");
    if node.is_null() {
        cx.warn(
            "KV0107",
            format!("action `{name}` has no phases"),
            vec![(key.span.clone(), "this action does nothing".into())],
            None,
        );
        return None;
    }
    if !cx.check_fields(node, &what, ACTION_FIELDS) {
        return None;
    }
    cx.string_field(node, "name", &format!("`name` of {what}"));
    let kind = cx
        .string_field(node, "kind", &format!("`kind` of {what}"))
        .map(|(_, v)| v);
    let config_map_names = cx.string_list(node, "configMapNames", "`configMapNames`");
    let secret_names = cx.string_list(node, "secretNames", "`secretNames`");
    let input_artifacts = cx.string_list(node, "inputArtifactNames", "`inputArtifactNames`");
    if let Some(oa) = node.get("outputArtifacts")
        && !oa.is_null()
    {
        if let Kind::Map(arts) = &oa.kind {
            for (_, art) in arts {
                if art.is_null() {
                    continue;
                }
                if cx.check_fields(art, "an output artifact", ARTIFACT_FIELDS) {
                    if let Some(kv) = art.get("keyValue")
                        && !kv.is_null()
                    {
                        match &kv.kind {
                            Kind::Map(pairs) => {
                                for (_, val) in pairs {
                                    if matches!(val.kind, Kind::Map(_) | Kind::Seq(_)) {
                                        cx.type_error(val, "a `keyValue` entry", "a string");
                                    }
                                }
                            }
                            _ => cx.type_error(kv, "`keyValue`", "a mapping of strings"),
                        }
                    }
                    cx.string_field(art, "kopiaSnapshot", "`kopiaSnapshot`");
                }
            }
        } else {
            cx.type_error(
                oa,
                "`outputArtifacts`",
                "a mapping of artifact names to artifacts",
            );
        }
    }
    let mut phases = Vec::new();
    let mut has_phases = false;
    if let Some(ph) = node.get("phases")
        && !ph.is_null()
    {
        match &ph.kind {
            Kind::Seq(items) => {
                has_phases = !items.is_empty();
                for item in items {
                    if let Some(p) = collect_phase(cx, item, "a phase") {
                        phases.push(p);
                    }
                }
            }
            _ => cx.type_error(ph, "`phases`", "a list of phases"),
        }
    }
    let defer = match node.get("deferPhase") {
        Some(d) if !d.is_null() => collect_phase(cx, d, "`deferPhase`"),
        _ => None,
    };
    let phases_wrong_type = node
        .get("phases")
        .is_some_and(|p| !p.is_null() && !matches!(p.kind, Kind::Seq(_)));
    if !has_phases && defer.is_none() && !phases_wrong_type {
        cx.warn(
            "KV0107",
            format!("action `{name}` has no phases"),
            vec![(key.span.clone(), "this action does nothing".into())],
            Some("add a `phases:` list".into()),
        );
    }
    Some(ActionInfo {
        name: name.to_string(),
        kind,
        input_artifacts,
        secret_names,
        config_map_names,
        phases,
        defer,
    })
}

fn collect_phase<'n>(cx: &mut Ctx<'_>, node: &'n Node, what: &str) -> Option<PhaseInfo<'n>> {
    if !cx.check_fields(node, what, PHASE_FIELDS) {
        return None;
    }
    let name_field = cx.string_field(node, "name", "the phase `name`");
    let name = name_field.as_ref().map(|(_, v)| v.clone());
    let name_span = name_field.map(|(n, _)| n.span.clone());
    let label = name
        .as_deref()
        .map(|n| format!("phase `{n}`"))
        .unwrap_or_else(|| what.to_string());
    let mut objects = Vec::new();
    if let Some(objs) = node.get("objects")
        && !objs.is_null()
    {
        match &objs.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let oname = k.as_scalar().map(|s| s.value.clone()).unwrap_or_default();
                    if v.is_null() {
                        objects.push((oname, None));
                        continue;
                    }
                    if cx.check_fields(v, &format!("object reference `{oname}`"), OBJREF_FIELDS) {
                        for f in OBJREF_FIELDS {
                            cx.string_field(v, f, &format!("`{f}` of object reference `{oname}`"));
                        }
                    }
                    let kind = v.get("kind").and_then(|k| k.as_str()).map(str::to_string);
                    objects.push((oname, kind));
                }
            }
            _ => cx.type_error(objs, "`objects`", "a mapping of names to object references"),
        }
    }
    let func = check_function(cx, node, &label);
    Some(PhaseInfo {
        node,
        name,
        name_span,
        objects,
        func,
    })
}

fn check_function(
    cx: &mut Ctx<'_>,
    node: &Node,
    label: &str,
) -> Option<&'static catalog::FunctionSpec> {
    let func_node = node.get("func");
    let (fnode, fname) = match func_node {
        None => {
            cx.error(
                "KV0105",
                format!("{label} has no `func`"),
                vec![(node.span.start..node.span.start, "this phase".into())],
                Some(
                    "every phase names the Kanister function it runs, e.g. `func: KubeTask`".into(),
                ),
            );
            return None;
        }
        Some(f) if f.is_null() => {
            cx.error(
                "KV0105",
                format!("{label} has no `func`"),
                vec![(f.span.clone(), "empty".into())],
                None,
            );
            return None;
        }
        Some(_) => cx.string_field(node, "func", "`func`")?,
    };
    let spec = match catalog::resolve(&fname, cx.function_version) {
        Ok(spec) => spec,
        Err(ResolveError::BadVersion(_)) => {
            // Reported once for the whole run in `validate_source`.
            return None;
        }
        Err(ResolveError::Unknown(_)) => {
            let sugg = catalog::suggest(&fname);
            cx.error(
                "KV0201",
                format!("unknown function `{fname}`"),
                vec![(fnode.span.clone(), "not a Kanister function".into())],
                did_you_mean(sugg),
            );
            return None;
        }
        Err(ResolveError::Removed {
            name,
            removed_in,
            instead,
        }) => {
            cx.error(
                "KV0205",
                format!("function `{name}` was removed in Kanister {removed_in}"),
                vec![(fnode.span.clone(), "removed function".into())],
                Some(format!("use {instead}")),
            );
            return None;
        }
    };
    if let Some(dep) = spec.deprecated {
        cx.warn(
            "KV0204",
            format!("function `{}` is deprecated", spec.name),
            vec![(fnode.span.clone(), "deprecated".into())],
            Some(format!("use `{}` instead: {}", dep.replacement, dep.note)),
        );
    }
    let args = node.get("args");
    let mut present: Vec<(String, Range<usize>)> = Vec::new();
    match args {
        Some(a) if !a.is_null() => match &a.kind {
            Kind::Map(entries) => {
                for (k, _) in entries {
                    if let Some(s) = k.as_scalar() {
                        present.push((s.value.clone(), k.span.clone()));
                    }
                }
            }
            _ => {
                cx.type_error(a, "`args`", "a mapping of argument names to values");
                return Some(spec);
            }
        },
        _ => {}
    }
    let mut suggested: Vec<&str> = Vec::new();
    for (arg, span) in &present {
        if !spec.allows(arg) {
            let sugg = closest(
                arg,
                spec.all_args()
                    .filter(|a| !present.iter().any(|(p, _)| p == a)),
            );
            suggested.extend(sugg);
            let allowed: Vec<_> = spec.all_args().collect();
            cx.error(
                "KV0203",
                format!("function `{}` does not accept argument `{arg}`", spec.name),
                vec![(span.clone(), "unknown argument".into())],
                did_you_mean(sugg)
                    .or_else(|| Some(format!("accepted arguments: {}", allowed.join(", ")))),
            );
        }
    }
    // Kanister checks these before anything else (`ValidatePodLabelsAndAnnotations`
    // and the pod override decoding): they must be mappings.
    if let Some(a) = args {
        for key in ["podLabels", "podAnnotations", "podOverride"] {
            if spec.allows(key)
                && let Some(v) = a.get(key)
                && !v.is_null()
                && !matches!(v.kind, Kind::Map(_))
            {
                cx.type_error(v, &format!("`{key}`"), "a mapping");
            }
        }
    }
    let missing: Vec<&str> = spec
        .required
        .iter()
        .copied()
        .filter(|r| !present.iter().any(|(p, _)| p == r))
        // A misspelt required argument is reported once, as unknown with a suggestion.
        .filter(|r| !suggested.contains(r))
        .collect();
    if !missing.is_empty() {
        let span = Ctx::key_span(node, "args").unwrap_or(fnode.span.clone());
        let list = missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ");
        cx.error(
            "KV0202",
            format!(
                "function `{}` is missing required argument{} {list}",
                spec.name,
                if missing.len() > 1 { "s" } else { "" }
            ),
            vec![(span, "required arguments missing here".into())],
            Some(format!(
                "`{}` requires: {}",
                spec.name,
                spec.required.join(", ")
            )),
        );
    }
    Some(spec)
}

fn check_phase_names(cx: &mut Ctx<'_>, infos: &[ActionInfo<'_>]) {
    let mut seen: HashMap<String, (Range<usize>, String)> = HashMap::new();
    for a in infos {
        let mut in_action: HashMap<String, Range<usize>> = HashMap::new();
        for p in a.phases.iter().chain(a.defer.iter()) {
            let name = p.name.clone().unwrap_or_default();
            let span = p
                .name_span
                .clone()
                .unwrap_or(p.node.span.start..p.node.span.start);
            let shown = if name.is_empty() {
                "(unnamed)".to_string()
            } else {
                format!("`{name}`")
            };
            if let Some(first) = in_action.get(&name) {
                cx.error(
                    "KV0108",
                    format!("duplicate phase name {shown} in action `{}`", a.name),
                    vec![(span, "duplicate".into()), (first.clone(), "first used here".into())],
                    Some("phase names must be unique: `.Phases.<name>` and the ActionSet status are keyed by them".into()),
                );
                continue;
            }
            in_action.insert(name.clone(), span.clone());
            if let Some((first, first_action)) = seen.get(&name) {
                if cx.strict {
                    cx.error(
                        "KV0109",
                        format!("phase name {shown} is also used in action `{first_action}`"),
                        vec![
                            (span, "duplicate".into()),
                            (first.clone(), format!("first used here, in action `{first_action}`")),
                        ],
                        Some("`kanctl validate` and Kanister's validating webhook require phase names to be unique across the whole Blueprint".into()),
                    );
                }
            } else {
                seen.insert(name, (span, a.name.clone()));
            }
        }
    }
}

fn check_action_templates(cx: &mut Ctx<'_>, info: &ActionInfo<'_>, node: Option<&Node>) {
    for (i, p) in info.phases.iter().enumerate() {
        check_phase_templates(cx, info, p, Loc::Phase(i));
    }
    if let Some(d) = &info.defer {
        check_phase_templates(cx, info, d, Loc::Defer);
    }
    if let Some(oa) = node.and_then(|n| n.get("outputArtifacts"))
        && let Kind::Map(arts) = &oa.kind
    {
        for (_, art) in arts {
            if let Some(kv) = art.get("keyValue")
                && let Kind::Map(pairs) = &kv.kind
            {
                for (_, v) in pairs {
                    check_string(cx, info, v, Loc::Output, Mode::Params);
                }
            }
            if let Some(ks) = art.get("kopiaSnapshot") {
                check_string(cx, info, ks, Loc::Output, Mode::Params);
            }
        }
    }
}

fn check_phase_templates(cx: &mut Ctx<'_>, info: &ActionInfo<'_>, p: &PhaseInfo<'_>, loc: Loc) {
    if let Some(Node {
        kind: Kind::Map(entries),
        ..
    }) = p.node.get("objects")
    {
        for (_, obj) in entries {
            if let Kind::Map(fields) = &obj.kind {
                for (_, v) in fields {
                    check_string(cx, info, v, loc, Mode::Params);
                }
            }
        }
    }
    let Some(args) = p.node.get("args") else {
        return;
    };
    let is_waitv2 = p.func.is_some_and(|f| f.name == "WaitV2");
    if is_waitv2 {
        // WaitV2 renders only the object references of its conditions with the
        // template parameters; each condition is evaluated against the object.
        if let Some(conds) = args.get("conditions") {
            for key in ["anyOf", "allOf"] {
                if let Some(Node {
                    kind: Kind::Seq(items),
                    ..
                }) = conds.get(key)
                {
                    for item in items {
                        if let Some(c) = item.get("condition") {
                            check_string(cx, info, c, loc, Mode::ObjectCondition);
                        }
                        if let Some(or) = item.get("objectReference") {
                            check_tree(cx, info, or, loc);
                        }
                    }
                }
            }
        }
        return;
    }
    check_tree(cx, info, args, loc);
}

fn check_tree(cx: &mut Ctx<'_>, info: &ActionInfo<'_>, node: &Node, loc: Loc) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match &n.kind {
            Kind::Scalar(_) => check_string(cx, info, n, loc, Mode::Params),
            Kind::Seq(items) => stack.extend(items.iter().rev()),
            Kind::Map(entries) => {
                for (k, v) in entries.iter().rev() {
                    stack.push(v);
                    stack.push(k);
                }
            }
        }
    }
}

fn check_string(cx: &mut Ctx<'_>, info: &ActionInfo<'_>, node: &Node, loc: Loc, mode: Mode) {
    let Some(s) = node.as_scalar() else {
        return;
    };
    if !s.value.contains("{{") {
        return;
    }
    let funcs = match mode {
        Mode::Params => FuncSet::Kanister,
        Mode::ObjectCondition => FuncSet::Kubectl,
    };
    let value = s.value.clone();
    match cx.engine.analyze(&value, funcs) {
        Err(e) => {
            let span = map_span(cx, node, e.offset..e.offset + e.len);
            let exact = value_map(cx, node).is_some();
            let label = if exact {
                e.message.clone()
            } else {
                format!(
                    "{} (somewhere in this string; the exact position cannot be mapped)",
                    e.message
                )
            };
            let mut labels = vec![(span.clone(), label)];
            // A second, simpler parser often knows which action or block the
            // problem started at (Go reports where it noticed it).
            if let Err(hint) = crate::template::BasicEngine.analyze(&value, funcs)
                && exact
                && hint.offset < e.offset
            {
                let hspan = map_span(cx, node, hint.offset..hint.offset + hint.len);
                if hspan.start < span.start {
                    let msg = if hint.message == e.message {
                        "it starts here".to_string()
                    } else {
                        format!("hint: {}", hint.message)
                    };
                    labels.push((hspan, msg));
                }
            }
            cx.error(
                "KV0301",
                format!("template syntax error: {}", e.message),
                labels,
                None,
            );
        }
        Ok(refs) => {
            if mode == Mode::Params {
                for r in &refs {
                    check_ref(cx, info, node, loc, r);
                }
            }
        }
    }
}

/// Map a byte range of a scalar's value to a source range.
/// The (cached) value-to-source map of a scalar.
fn value_map(cx: &Ctx<'_>, node: &Node) -> Option<std::rc::Rc<Vec<usize>>> {
    let src = cx.src;
    cx.maps
        .borrow_mut()
        .entry(node.span.start)
        .or_insert_with(|| scalar_value_map(src, node).map(std::rc::Rc::new))
        .clone()
}

fn map_span(cx: &Ctx<'_>, node: &Node, r: Range<usize>) -> Range<usize> {
    match value_map(cx, node) {
        Some(map) => {
            let last = map.len().saturating_sub(1);
            let start = map
                .get(r.start.min(last))
                .copied()
                .unwrap_or(node.span.start);
            let end = if r.end > r.start {
                map.get((r.end - 1).min(last)).map(|e| {
                    let ch_len = cx
                        .src
                        .text
                        .get(*e..)
                        .and_then(|t| t.chars().next())
                        .map(char::len_utf8)
                        .unwrap_or(1);
                    e + ch_len
                })
            } else {
                Some(start)
            }
            .unwrap_or(start)
            .max(start);
            start..end
        }
        None => node.span.start..node.span.start + 1.min(node.span.len()),
    }
}

fn elem_span(cx: &Ctx<'_>, node: &Node, r: &FieldRef, i: usize) -> Range<usize> {
    let span = r.element_spans.get(i).cloned().unwrap_or(r.span.clone());
    map_span(cx, node, span)
}

fn phase_index(info: &ActionInfo<'_>, name: &str) -> Option<usize> {
    info.phases
        .iter()
        .position(|p| p.name.as_deref() == Some(name))
}

fn check_ref(cx: &mut Ctx<'_>, info: &ActionInfo<'_>, node: &Node, loc: Loc, r: &FieldRef) {
    let chain = &r.chain;
    let Some(head) = chain.first() else {
        return;
    };
    // The type tree first: unknown fields are the most basic mistake.
    match walk(cx.params, chain) {
        Walk::Ok => {}
        Walk::UnknownField {
            index,
            parent,
            suggestion,
        } => {
            let name = &chain[index];
            let help = match (index, name.as_str()) {
                (0, "RepositoryServer") => Some(
                    "`.RepositoryServer` was removed with the RepositoryServer CRD after Kanister 0.119.0".to_string(),
                ),
                (0, "ArtifactsOut") => Some(
                    "`.ArtifactsOut` was removed in 2018; declare outputs in `outputArtifacts`".to_string(),
                ),
                _ => did_you_mean(suggestion.as_deref()),
            };
            let message = if index == 0 {
                format!("`.{name}` is not a Kanister template parameter")
            } else {
                format!(
                    "`.{}` ({parent}) has no field `{name}`",
                    chain[..index].join(".")
                )
            };
            cx.error(
                "KV0307",
                message,
                vec![(elem_span(cx, node, r, index), "unknown field".into())],
                help,
            );
            return;
        }
        Walk::NoFields { index, ty } => {
            cx.error(
                "KV0307",
                format!(
                    "`.{}` is of type `{ty}` and has no field `{}`",
                    chain[..index].join("."),
                    chain[index]
                ),
                vec![(elem_span(cx, node, r, index), "no such field".into())],
                None,
            );
            return;
        }
    }
    match head.as_str() {
        "Phases" => check_phases_ref(cx, info, node, loc, r),
        "DeferPhase" => {
            let second = chain.get(1).map(String::as_str);
            let problem = match (&info.defer, loc, second) {
                (None, _, _) => Some(format!("action `{}` has no deferPhase", info.name)),
                (Some(_), Loc::Phase(_), _) => Some(
                    "the deferPhase runs after all phases, so `.DeferPhase` is not set yet"
                        .to_string(),
                ),
                (Some(_), Loc::Defer, Some("Output")) => {
                    Some("the deferPhase cannot read its own output".to_string())
                }
                _ => None,
            };
            if let Some(p) = problem {
                cx.error(
                    "KV0306",
                    format!("`.DeferPhase` is not available here: {p}"),
                    vec![(map_span(cx, node, r.span.clone()), "not available here".into())],
                    Some("`.DeferPhase.Output` can be used in `outputArtifacts`; `.DeferPhase.Secrets`/`.ConfigMaps` inside the deferPhase".into()),
                );
            } else if loc == Loc::Defer
                && let (Some(d), Some(kind @ ("Secrets" | "ConfigMaps")), Some(obj)) =
                    (&info.defer, second, chain.get(2))
            {
                check_object_ref(
                    cx,
                    node,
                    r,
                    d,
                    ObjectUse {
                        phase_label: "the deferPhase",
                        kind,
                        obj,
                        obj_index: 2,
                    },
                );
            }
        }
        "ArtifactsIn" => {
            if let (Some(art), Some(declared)) = (chain.get(1), &info.input_artifacts)
                && !declared.contains(art)
            {
                let sugg = closest(art, declared.iter().map(String::as_str));
                cx.warn(
                    "KV0305",
                    format!(
                        "artifact `{art}` is not listed in `inputArtifactNames` of action `{}`",
                        info.name
                    ),
                    vec![(
                        elem_span(cx, node, r, 1),
                        "undeclared input artifact".into(),
                    )],
                    did_you_mean(sugg)
                        .or_else(|| Some(format!("add `{art}` to `inputArtifactNames`"))),
                );
            }
        }
        "Secrets" | "ConfigMaps" => {
            let (declared, field) = if head == "Secrets" {
                (&info.secret_names, "secretNames")
            } else {
                (&info.config_map_names, "configMapNames")
            };
            if let (Some(name), Some(declared)) = (chain.get(1), declared)
                && !declared.contains(name)
            {
                let sugg = closest(name, declared.iter().map(String::as_str));
                cx.warn(
                    "KV0309",
                    format!(
                        "`.{head}.{name}` is not listed in `{field}` of action `{}`",
                        info.name
                    ),
                    vec![(
                        elem_span(cx, node, r, 1),
                        format!("undeclared in `{field}`"),
                    )],
                    did_you_mean(sugg).or_else(|| Some(format!("add `{name}` to `{field}`"))),
                );
            }
        }
        "StatefulSet" | "Deployment" | "DeploymentConfig" | "PVC" => {
            if let Some(kind) = &info.kind
                && !kind.eq_ignore_ascii_case(head)
            {
                cx.warn(
                    "KV0308",
                    format!("`.{head}` is only set when the action runs on a {head}, but action `{}` has `kind: {kind}`", info.name),
                    vec![(elem_span(cx, node, r, 0), format!("empty unless the object is a {head}"))],
                    None,
                );
            }
        }
        _ => {}
    }
}

fn check_phases_ref(cx: &mut Ctx<'_>, info: &ActionInfo<'_>, node: &Node, loc: Loc, r: &FieldRef) {
    let chain = &r.chain;
    let Some(target) = chain.get(1) else {
        return;
    };
    let third = chain.get(2).map(String::as_str);
    let span = elem_span(cx, node, r, 1);
    let Some(j) = phase_index(info, target) else {
        let is_defer = info.defer.as_ref().and_then(|d| d.name.as_deref()) == Some(target.as_str());
        let help = if is_defer {
            Some("the deferPhase is not in `.Phases`; use `.DeferPhase`".to_string())
        } else {
            did_you_mean(closest(
                target,
                info.phases.iter().filter_map(|p| p.name.as_deref()),
            ))
        };
        cx.error(
            "KV0302",
            format!("action `{}` has no phase `{target}`", info.name),
            vec![(span, "unknown phase".into())],
            help,
        );
        return;
    };
    let target_phase = &info.phases[j];
    if let Loc::Phase(i) = loc {
        if j > i {
            cx.error(
                "KV0303",
                format!("phase `{target}` runs after this phase, so `.Phases.{target}` is not set yet"),
                vec![(span, "runs later".into())],
                Some("phases run in order; only earlier phases (and the current phase's own objects) can be referenced".into()),
            );
            return;
        }
        if j == i && third == Some("Output") {
            cx.error(
                "KV0303",
                format!("phase `{target}` cannot read its own output"),
                vec![(span, "output not available yet".into())],
                Some("outputs are set when a phase completes; read them from a later phase or `outputArtifacts`".into()),
            );
            return;
        }
    }
    if let (Some(kind @ ("Secrets" | "ConfigMaps")), Some(obj)) = (third, chain.get(3)) {
        let label = format!("phase `{target}`");
        check_object_ref(
            cx,
            node,
            r,
            target_phase,
            ObjectUse {
                phase_label: &label,
                kind,
                obj,
                obj_index: 3,
            },
        );
    }
}

/// Which object a `.Phases.X.Secrets.Y`-style chain names.
struct ObjectUse<'s> {
    phase_label: &'s str,
    kind: &'s str,
    obj: &'s str,
    obj_index: usize,
}

fn check_object_ref(
    cx: &mut Ctx<'_>,
    node: &Node,
    r: &FieldRef,
    phase: &PhaseInfo<'_>,
    u: ObjectUse<'_>,
) {
    let ObjectUse {
        phase_label,
        kind,
        obj,
        obj_index,
    } = u;
    let want = if kind == "Secrets" {
        "secret"
    } else {
        "configmap"
    };
    let found = phase
        .objects
        .iter()
        .any(|(n, k)| n == obj && k.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(want)));
    if !found {
        let singular = if kind == "Secrets" {
            "Secret"
        } else {
            "ConfigMap"
        };
        let candidates: Vec<&str> = phase
            .objects
            .iter()
            .filter(|(_, k)| k.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(want)))
            .map(|(n, _)| n.as_str())
            .collect();
        let wrong_kind = phase.objects.iter().any(|(n, _)| n == obj);
        let help = if wrong_kind {
            Some(format!(
                "object `{obj}` exists but its kind is not {singular}"
            ))
        } else {
            did_you_mean(closest(obj, candidates.iter().copied()))
                .or_else(|| Some(format!("add `{obj}: {{kind: {singular}, name: ..., namespace: ...}}` to the phase's `objects`")))
        };
        cx.error(
            "KV0304",
            format!("{phase_label} has no {singular} object `{obj}`"),
            vec![(
                elem_span(cx, node, r, obj_index),
                format!("not in the phase's `objects` as a {singular}"),
            )],
            help,
        );
    }
}
