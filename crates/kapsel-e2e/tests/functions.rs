//! The functions only a cluster has, through `kapsel run --kubeconfig`:
//! KubeOps (create, patch, delete), WaitV2 (a kubectl go-template on the
//! object) and Wait (`{ $.jsonpath }` substituted, then a sprig template),
//! their outputs, and their errors (a timeout names the condition and the
//! last error; a broken condition fails at once; an unknown kind is named).
//! Skipped, saying so, without a cluster (KUBECONFIG).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use kapsel_e2e::run::Run;
use kapsel_e2e::{Env, image, kapsel_bin};
use kube::api::Api;

fn run_in(dir: &std::path::Path) -> Run {
    Run {
        dir: dir.to_path_buf(),
        kubeconfig: PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
        bin: kapsel_bin().unwrap(),
        outputs: Vec::new(),
    }
}

/// The object reference of the Deployment `web` in the action's namespace.
const WEB: &str = r#"{apiVersion: v1, group: apps, resource: deployments, name: web, namespace: "{{ .Namespace.Name }}"}"#;

fn blueprint() -> String {
    format!(
        r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: kubeops-e2e
actions:
  cycle:
    outputArtifacts:
      created:
        keyValue:
          ref: "{{{{ .Phases.createDeploy.Output.group }}}}/{{{{ .Phases.createDeploy.Output.apiVersion }}}}/{{{{ .Phases.createDeploy.Output.resource }}}}/{{{{ .Phases.createDeploy.Output.namespace }}}}/{{{{ .Phases.createDeploy.Output.name }}}}/{{{{ .Phases.createDeploy.Output.kind }}}}"
    phases:
    - func: KubeOps
      name: createDeploy
      args:
        operation: create
        namespace: "{{{{ .Namespace.Name }}}}"
        spec: |-
          apiVersion: apps/v1
          kind: Deployment
          metadata:
            name: web
            labels: {{app: web}}
          spec:
            replicas: 1
            selector: {{matchLabels: {{app: web}}}}
            template:
              metadata: {{labels: {{app: web}}}}
              spec:
                terminationGracePeriodSeconds: 0
                containers:
                - name: c
                  image: {image}
                  command: [sleep, "3600"]
    - func: WaitV2
      name: waitAvailable
      args:
        timeout: 3m
        conditions:
          anyOf:
          - condition: '{{{{ if and (exists . "status" "availableReplicas") (eq .status.availableReplicas 1.0) }}}}true{{{{ end }}}}'
            objectReference:
              apiVersion: "{{{{ .Phases.createDeploy.Output.apiVersion }}}}"
              group: "{{{{ .Phases.createDeploy.Output.group }}}}"
              resource: "{{{{ .Phases.createDeploy.Output.resource }}}}"
              name: "{{{{ .Phases.createDeploy.Output.name }}}}"
              namespace: "{{{{ .Phases.createDeploy.Output.namespace }}}}"
    - func: KubeOps
      name: patchDeploy
      args:
        operation: patch
        objectReference: {WEB}
        spec: |
          metadata:
            labels:
              patched: "yes"
          spec:
            replicas: 2
    - func: Wait
      name: waitPatched
      args:
        timeout: '{{{{ if .Namespace.Name }}}}3m{{{{ end }}}}'
        conditions:
          allOf:
          - condition: '{{{{ if and (eq "{{ $.metadata.labels.patched }}" "yes") (eq "{{ $.status.conditions[?(@.type=="Available")].status }}" "True") }}}}true{{{{ end }}}}'
            objectReference: {WEB}
          - condition: '{{{{ if eq "{{$.status.readyReplicas}}" "2" }}}}true{{{{ end }}}}'
            objectReference: {WEB}
    - func: KubeOps
      name: deleteDeploy
      args:
        operation: delete
        objectReference: {WEB}
  timeout:
    phases:
    - func: WaitV2
      name: never
      args:
        timeout: 3s
        conditions:
          anyOf:
          - condition: '{{{{ if eq .status.phase "Never" }}}}true{{{{ end }}}}'
            objectReference: {{apiVersion: v1, group: "", resource: configmaps, name: absent, namespace: "{{{{ .Namespace.Name }}}}"}}
  broken:
    phases:
    - func: WaitV2
      name: broken
      args:
        timeout: 10m
        conditions:
          anyOf:
          - condition: '{{{{ if eq .status.phase }}}}'
            objectReference: {WEB}
  badkind:
    phases:
    - func: KubeOps
      name: create
      args:
        operation: create
        spec: |
          apiVersion: example.invalid/v1
          kind: Gadget
          metadata: {{name: g}}
"#,
        image = image("tools"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeops_wait_and_waitv2_against_the_cluster() {
    let test = "fn-kubeops-wait";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    env.run(move |env, ns| async move {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bp.yaml"), blueprint()).unwrap();
        let mut run = run_in(dir.path());
        let object = format!("namespace/{ns}");

        // create → wait (v2) → patch → wait (jsonpath) → delete (waits until gone)
        run.ok(
            "the cycle action",
            &[
                "-b",
                "bp.yaml",
                "-a",
                "cycle",
                "-o",
                &object,
                "-w",
                "cycle.yaml",
            ],
        );
        let written = std::fs::read_to_string(dir.path().join("cycle.yaml")).unwrap();
        assert!(
            written.contains(&format!("ref: apps/v1/deployments/{ns}/web/Deployment")),
            "KubeOps create's outputs:\n{written}"
        );
        let deploys: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);
        assert!(
            deploys.get_opt("web").await.unwrap().is_none(),
            "KubeOps delete waited until the Deployment was gone"
        );

        // a condition that never holds: the error names it and the last error
        let out = run.kapsel(&["-b", "bp.yaml", "-a", "timeout", "-o", &object]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Failed to wait for the condition to be met within 3s")
                && err.contains("configmaps")
                && err.contains("absent")
                && err.contains("not found"),
            "{err}"
        );

        // a condition that does not parse fails at once with the parse
        // error, not with a timeout after 10 minutes
        let out = run.kapsel(&["-b", "bp.yaml", "-a", "broken", "-o", &object]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("anyOf[0].condition") && !err.contains("Failed to wait"),
            "{err}"
        );

        // a kind the cluster does not serve is named
        let out = run.kapsel(&["-b", "bp.yaml", "-a", "badkind", "-o", &object]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no kind Gadget in example.invalid/v1") && err.contains("api-resources"),
            "{err}"
        );
    })
    .await;
}
