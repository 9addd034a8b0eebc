//! Kanister resources and the render-parameters file read as client-go reads
//! them (kapsel-yaml, docs/yaml.md): `defaultMode: 0400` is 256,
//! `runAsUser: 1000.0` and `1e3` are the integers 1000, a key `on:` is
//! `"true"`, a value `yes` is `true`; quoted forms stay strings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kapsel_api::{ActionSet, Blueprint, Profile};
use kapsel_params::file::RenderParams;
use serde_json::{Value, json};

/// The podOverride every test writes, indented by `pad` spaces.
fn pod_override(pad: usize) -> String {
    let body = r#"podOverride:
  securityContext:
    runAsUser: 1000.0
    fsGroup: 1e3
    runAsNonRoot: yes
  nodeSelector:
    on: 'ssd'
    disk: "0400"
  volumes:
  - name: creds
    secret:
      secretName: creds
      defaultMode: 0400
"#;
    let pad = " ".repeat(pad);
    body.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// What client-go makes of `pod_override` (sigs.k8s.io/yaml.YAMLToJSON).
fn client_go() -> Value {
    json!({
        "securityContext": {"runAsUser": 1000, "fsGroup": 1000, "runAsNonRoot": true},
        "nodeSelector": {"true": "ssd", "disk": "0400"},
        "volumes": [{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 256}}]
    })
}

fn assert_integers(v: &Value) {
    // Integers, not 1000.0: they decode into Kubernetes' int64 fields.
    assert!(v["securityContext"]["runAsUser"].is_u64(), "{v}");
    assert!(v["securityContext"]["fsGroup"].is_u64(), "{v}");
    assert!(v["volumes"][0]["secret"]["defaultMode"].is_u64(), "{v}");
}

fn blueprint_text() -> String {
    format!(
        "apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: modes
actions:
  backup:
    phases:
    - func: KubeTask
      name: task
      args:
        image: busybox
        namespace: '{{{{ .Namespace.Name }}}}'
        command:
        - sh
        - -c
        - chmod {{{{ .Options.mode }}}} /data && echo 0400 yes
        - '0400'
        - 0400
        - yes
        - 1e3
{}",
        pod_override(8)
    )
}

#[test]
fn blueprint_pod_override() {
    let bp: Blueprint = kapsel_yaml::from_str(&blueprint_text()).unwrap();
    let args = bp.action("backup").unwrap().phases[0].args.clone().unwrap();
    let po = Value::Object(args["podOverride"].as_object().unwrap().clone());
    assert_eq!(po, client_go());
    assert_integers(&po);
    assert_eq!(
        Value::Array(args["command"].as_array().unwrap().clone()),
        json!([
            "sh",
            "-c",
            "chmod {{ .Options.mode }} /data && echo 0400 yes",
            "0400",
            256,
            true,
            1000
        ])
    );
}

#[test]
fn blueprint_rendered_args_keep_client_go_values() {
    let bp: Blueprint = kapsel_yaml::from_str(&blueprint_text()).unwrap();
    let params: RenderParams = kapsel_yaml::from_str(
        "time: '2025-01-02T03:04:05Z'
object: {apiVersion: v1, kind: Namespace, metadata: {name: demo}}
options: {mode: '0400'}
",
    )
    .unwrap();
    let rendered = kapsel_params::render_action(bp.action("backup").unwrap(), &params).unwrap();
    let args = rendered.phases[0].args.clone().unwrap();
    assert_eq!(rendered.phases[0].error, None);
    assert_eq!(args["podOverride"], client_go());
    assert_integers(&args["podOverride"]);
    assert_eq!(
        args["command"],
        json!([
            "sh",
            "-c",
            "chmod 0400 /data && echo 0400 yes",
            "0400",
            256,
            true,
            1000
        ])
    );
    assert_eq!(args["namespace"], json!("demo"));
}

#[test]
fn actionset_pod_override() {
    let text = format!(
        "apiVersion: cr.kanister.io/v1alpha1
kind: ActionSet
metadata:
  name: run
  namespace: kanister
spec:
  actions:
  - name: backup
    blueprint: modes
    object: {{kind: Namespace, name: demo, namespace: demo}}
    options: {{mode: '0400', on: 'x'}}
{}",
        pod_override(4)
    );
    let set: ActionSet = kapsel_yaml::from_str(&text).unwrap();
    let a = &set.spec.actions[0];
    let po = Value::Object(a.pod_override.clone().unwrap());
    assert_eq!(po, client_go());
    assert_integers(&po);
    assert_eq!(a.options.get("mode").map(String::as_str), Some("0400"));
    assert_eq!(a.options.get("true").map(String::as_str), Some("x"));

    // An unquoted 0400 option is the number 256, which Kanister's
    // map[string]string rejects: so does Kapsel, at its line.
    let bad = text.replace("mode: '0400'", "mode: 0400");
    let e = kapsel_yaml::from_str::<ActionSet>(&bad).unwrap_err();
    assert!(
        e.message
            .starts_with("spec.actions[0].options.mode: invalid type: integer `256`"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (11, 21));
}

#[test]
fn profile() {
    let text = "apiVersion: cr.kanister.io/v1alpha1
kind: Profile
metadata: {name: s3, namespace: kanister}
location: {type: s3Compliant, bucket: '0400', region: us-east-1, endpoint: 'http://127.0.0.1:9000'}
credential:
  type: keyPair
  keyPair: {idField: id, secretField: secret, secret: {apiVersion: v1, kind: Secret, name: creds, namespace: kanister}}
skipSSLVerify: on
";
    let p: Profile = kapsel_yaml::from_str(text).unwrap();
    assert!(p.spec.skip_ssl_verify);
    assert_eq!(p.spec.location.bucket, "0400");
    // An unquoted 0400 is the integer 256 to Kubernetes, not a bucket name.
    let e = kapsel_yaml::from_str::<Profile>(&text.replace("'0400'", "0400")).unwrap_err();
    assert!(
        e.message
            .starts_with("location.bucket: invalid type: integer `256`, expected a string"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (4, 39));
}

#[test]
fn render_params_file() {
    let text = format!(
        "time: '2025-01-02T03:04:05Z'
object: {{apiVersion: v1, kind: Namespace, metadata: {{name: demo}}, spec: {{x: 1.0, m: 0400}}}}
options: {{mode: '0400'}}
{}",
        pod_override(0)
    );
    let p: RenderParams = kapsel_yaml::from_str(&text).unwrap();
    let po = Value::Object(p.pod_override.clone().unwrap());
    assert_eq!(po, client_go());
    assert_integers(&po);
    let object = Value::Object(p.object.clone().unwrap());
    assert_eq!(object["spec"], json!({"x": 1, "m": 256}));
    assert_eq!(
        p.options
            .as_ref()
            .and_then(|o| o.get("mode"))
            .map(String::as_str),
        Some("0400")
    );
}
