//! KubeOps: create, patch or delete any Kubernetes object (Kanister's
//! `pkg/function/kubeops.go`). Outputs the object reference: `apiVersion`
//! (the version), `group`, `resource`, `kind`, `name`, `namespace`.

use super::{kube_api, resource_ref, wait_gone};
use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, ResourceRef};

/// `KubeOps` (operation: create | patch | delete; spec, namespace,
/// objectReference).
#[derive(Debug, Clone, Copy)]
pub struct KubeOps;

fn yaml_docs(spec: &str) -> Result<Vec<serde_json::Value>, FunctionError> {
    let docs = kapsel_yaml::to_values(spec).map_err(|e| FunctionError::Arg {
        arg: "spec".to_string(),
        message: format!("not valid YAML: {e}"),
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn outputs(r: &ResourceRef) -> Result<Outputs, FunctionError> {
    match serde_json::to_value(r) {
        Ok(serde_json::Value::Object(m)) => Ok(m.into_iter().collect()),
        _ => Err(FunctionError::Failed(
            "cannot encode the object reference".to_string(),
        )),
    }
}

impl Function for KubeOps {
    fn name(&self) -> &'static str {
        "KubeOps"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let kube = kube_api(&cx, "KubeOps", "the Kubernetes API")?;
            let op = arg::string(args, "operation")?;
            // Kanister: namespace defaults to "default".
            let namespace =
                arg::opt_nonempty(args, "namespace")?.unwrap_or_else(|| "default".to_string());
            let spec = arg::opt_string(args, "spec")?.unwrap_or_default();
            let object = match args.get("objectReference") {
                Some(v) => Some(resource_ref(v, None).map_err(|message| FunctionError::Arg {
                    arg: "objectReference".to_string(),
                    message,
                })?),
                None => None,
            };
            let need_spec = || {
                if spec.trim().is_empty() {
                    Err(FunctionError::Arg {
                        arg: "spec".to_string(),
                        message: format!("spec cannot be empty for {op} operation"),
                    })
                } else {
                    Ok(())
                }
            };
            let need_ref = || -> Result<ResourceRef, FunctionError> {
                match &object {
                    Some(r)
                        if !r.name.is_empty()
                            && !r.version.is_empty()
                            && !r.resource.is_empty() =>
                    {
                        Ok(r.clone())
                    }
                    _ => Err(FunctionError::Arg {
                        arg: "objectReference".to_string(),
                        message: format!(
                            "missing one or more required fields name/apiVersion/resource for {op} operation"
                        ),
                    }),
                }
            };
            match op.as_str() {
                "create" => {
                    need_spec()?;
                    let mut last = None;
                    for doc in yaml_docs(&spec)? {
                        let (r, _) = kube.create(&doc, &namespace).await?;
                        last = Some(r);
                    }
                    let r = last.ok_or_else(|| FunctionError::Arg {
                        arg: "spec".to_string(),
                        message: "holds no object".to_string(),
                    })?;
                    outputs(&r)
                }
                "patch" => {
                    need_spec()?;
                    let mut r = need_ref()?;
                    // Kanister patches in the reference's namespace only;
                    // Kapsel falls back to the namespace argument.
                    if r.namespace.is_empty() {
                        r.namespace = arg::opt_nonempty(args, "namespace")?.unwrap_or_default();
                    }
                    let docs = yaml_docs(&spec)?;
                    let [patch] = docs.as_slice() else {
                        return Err(FunctionError::Arg {
                            arg: "spec".to_string(),
                            message: "a patch must be exactly one YAML document".to_string(),
                        });
                    };
                    kube.patch(&r, patch).await?;
                    outputs(&r)
                }
                "delete" => {
                    let mut r = need_ref()?;
                    if r.namespace.is_empty() {
                        r.namespace = namespace.clone();
                    }
                    kube.delete(&r).await?;
                    // Kanister waits until the object is gone.
                    wait_gone(kube, &r).await?;
                    outputs(&r)
                }
                other => Err(FunctionError::Arg {
                    arg: "operation".to_string(),
                    message: format!("invalid operation '{other}' (create, patch, delete)"),
                }),
            }
        })
    }
}
