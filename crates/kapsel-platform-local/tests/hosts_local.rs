//! `hostAliases` and `images` in the inventory, with real processes: names
//! resolve through the private `/etc/hosts` in tasks and pods (the workload's
//! aliases only in its pods, and before the inventory's), the host's own
//! `/etc/hosts` is untouched, a timed-out aliased command has its whole
//! process group killed, an unprivileged user gets the same through a user
//! namespace; an image reference gives its tasks the inventory's tools and
//! environment.
//!
//! The aliased commands need root or unprivileged user namespaces; CI runs
//! as root. Where neither works, each test checks the error names
//! `hostAliases` and says what to do, and prints SKIP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{blueprint_request, run, setup_with};
use kapsel_engine::Outcome;
use tokio_util::sync::CancellationToken;

const ALIASED: &str = r#"
hostAliases:
- {ip: 127.0.0.7, hostnames: [db.bank.svc.cluster.local, both-levels]}
objects:
- kind: StatefulSet
  namespace: db
  name: app
  pods: [{name: app-0, containers: [main]}]
  hostAliases:
  - {ip: 127.0.0.8, hostnames: [pod-only, both-levels]}
"#;

/// The address `name` resolves to (through NSS, as database clients do), or
/// `none`.
const RESOLVE: &str =
    r#"r() { getent hosts "$1" | awk '{print $1; exit}' | grep . || echo none; }"#;

/// Whether aliased commands can run here; when not, the error must say why
/// and what to do (then the caller skips).
fn aliases_unavailable(err: Option<&str>) -> bool {
    match err {
        Some(e) if e.contains("private mount namespace") => {
            assert!(
                e.contains("hostAliases") && e.contains("run kapsel as root"),
                "{e}"
            );
            kapsel_testkit::skip::notice(&format!(
                "SKIP: this host cannot make mount namespaces: {e}"
            ));
            true
        }
        _ => false,
    }
}

#[tokio::test]
async fn host_aliases_resolve_in_tasks_and_pods_and_leave_the_host_alone() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), ALIASED);
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    let bp = format!(
        r#"
actions:
  a:
    phases:
    - func: KubeTask
      name: task
      args:
        image: any
        command:
        - sh
        - -c
        - |
          {RESOLVE}
          kando output cluster "$(r db.bank.svc.cluster.local)"
          kando output both "$(r both-levels)"
          kando output podOnly "$(r pod-only)"
          kando output localhost "$(r localhost)"
          kando output hostFileKept "$(tail -n +2 /etc/hosts | grep -c -v '^#' || true)"
    - func: KubeExec
      name: pod
      args:
        namespace: db
        pod: app-0
        command:
        - sh
        - -c
        - |
          {RESOLVE}
          kando output cluster "$(r db.bank.svc.cluster.local)"
          kando output both "$(r both-levels)"
          kando output podOnly "$(r pod-only)"
"#
    );
    let req = blueprint_request(&platform, &bp, "a");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    if aliases_unavailable(res.error.as_deref()) {
        return;
    }
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    let task = &res.phases[0].output;
    assert_eq!(task["cluster"], "127.0.0.7");
    assert_eq!(
        task["both"], "127.0.0.7",
        "a task is no pod of the workload"
    );
    assert_eq!(task["podOnly"], "none");
    assert_ne!(
        task["localhost"], "none",
        "the host's entries are still there"
    );
    let host_lines = host_hosts.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        task["hostFileKept"],
        (host_lines + 1).to_string(),
        "one alias line, then every line of the host's file"
    );
    let pod = &res.phases[1].output;
    assert_eq!(pod["cluster"], "127.0.0.7");
    assert_eq!(
        pod["both"], "127.0.0.8",
        "the workload's aliases come first"
    );
    assert_eq!(pod["podOnly"], "127.0.0.8");
    assert_eq!(
        std::fs::read_to_string("/etc/hosts").unwrap(),
        host_hosts,
        "the host's /etc/hosts is unchanged"
    );
}

#[tokio::test]
async fn a_timed_out_aliased_command_has_its_whole_group_killed() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), ALIASED);
    let (pid, ns, marker) = (
        dir.path().join("pid"),
        dir.path().join("ns"),
        dir.path().join("deferred"),
    );
    let bp = format!(
        r#"
actions:
  a:
    phases:
    - func: KubeTask
      name: slow
      args:
        image: x
        command:
        - sh
        - -c
        - |
          {RESOLVE}
          [ "$(r db.bank.svc.cluster.local)" = 127.0.0.7 ] || exit 9
          readlink /proc/self/ns/mnt > {ns}
          sleep 60 & echo $! > {pid}; wait
    deferPhase:
      {{func: KubeTask, name: cleanup, args: {{image: x, command: [touch, "{marker}"]}}}}
"#,
        ns = ns.display(),
        pid = pid.display(),
        marker = marker.display()
    );
    let mut req = blueprint_request(&platform, &bp, "a");
    // Generous, so that even a loaded machine has the command in its sleep
    // (pid and namespace written) before the deadline; nothing measures it.
    req.phase_timeout = Some(Duration::from_secs(5));
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    if aliases_unavailable(res.error.as_deref()) {
        return;
    }
    assert_eq!(res.outcome, Outcome::TimedOut, "{res:?}");
    assert!(marker.exists(), "the defer phase ran");
    let own_ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let cmd_ns = std::fs::read_to_string(&ns).unwrap();
    assert_ne!(
        cmd_ns.trim(),
        own_ns.display().to_string(),
        "the command ran in its own mount namespace"
    );
    let pid = std::fs::read_to_string(&pid).unwrap();
    // The kill is asynchronous to the engine's return: wait until the
    // process is gone (reaped by init), at most 10 s.
    for _ in 0..100 {
        if common::gone(pid.trim()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(common::gone(pid.trim()), "the background sleep was killed");
}

#[tokio::test]
async fn an_invalid_alias_fails_the_command_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(
        dir.path(),
        "hostAliases: [{ip: db.example, hostnames: [db]}]\nobjects: [{kind: StatefulSet, namespace: db, name: app}]\n",
    );
    let bp = "actions:\n  a:\n    phases:\n    - {func: KubeTask, name: t, args: {image: x, command: [true]}}\n";
    let req = blueprint_request(&platform, bp, "a");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    let err = res.error.unwrap();
    assert!(
        err.contains("hostAliases: \"db.example\" is not an IP address"),
        "{err}"
    );
    // The same inventory read from a file is refused when it is loaded.
    let file = dir.path().join("inventory.yaml");
    std::fs::write(
        &file,
        "hostAliases: [{ip: 127.0.0.1, hostnames: [\"bad name\"]}]\n",
    )
    .unwrap();
    let err = kapsel_platform_local::LocalPlatform::load(&file, vec![])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hostAliases: \"bad name\" is not a host name"),
        "{err}"
    );
}

/// As root, runs [`unprivileged_inner`] of this same test binary as user
/// `nobody` (65534): the private `/etc/hosts` then comes from a user
/// namespace. Not root: runs it directly.
///
/// `nobody` runs a copy of the binary in a fresh directory it can enter: the
/// checkout and its target directory may be where only their owner can go
/// (a home directory of mode 700).
#[test]
fn host_aliases_work_without_root_through_a_user_namespace() {
    if !nix::unistd::geteuid().is_root() {
        return unprivileged();
    }
    let exe = std::env::current_exe().unwrap();
    let nobody = kapsel_testkit::users::Foreign::new(&exe, 65534, 65534);
    let out = nobody
        .command()
        .args([
            "--exact",
            "unprivileged_inner",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KAPSEL_UNPRIVILEGED_INNER", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the inner test ran (is {} readable by nobody?): {text}",
        nobody.exe().display()
    );
    eprintln!("{text}");
}

#[test]
#[ignore = "run as an unprivileged user by host_aliases_work_without_root_through_a_user_namespace"]
fn unprivileged_inner() {
    if std::env::var_os("KAPSEL_UNPRIVILEGED_INNER").is_none() {
        return;
    }
    assert!(!nix::unistd::geteuid().is_root());
    unprivileged();
}

fn unprivileged() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        // No kando here (building it as another user is not possible): the
        // phase succeeds only if the alias resolves, as this user, with no
        // capability left.
        let inv: kapsel_platform_local::inventory::Inventory =
            serde_saphyr::from_str(ALIASED).unwrap();
        let platform = kapsel_platform_local::LocalPlatform::new(inv, dir.path(), vec![]);
        let bp = format!(
            r#"
actions:
  a:
    phases:
    - func: KubeTask
      name: t
      args:
        image: x
        command:
        - sh
        - -c
        - |
          {RESOLVE}
          [ "$(r db.bank.svc.cluster.local)" = 127.0.0.7 ] || {{ echo "alias not resolved" >&2; exit 3; }}
          [ "$(id -u)" = "{uid}" ] || {{ echo "uid is $(id -u)" >&2; exit 4; }}
          grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status || {{ grep Cap /proc/self/status >&2; exit 5; }}
"#,
            uid = nix::unistd::geteuid()
        );
        let req = blueprint_request(&platform, &bp, "a");
        let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
        let userns_works = std::process::Command::new("unshare")
            .args(["--user", "--map-current-user", "--mount", "true"])
            .status()
            .is_ok_and(|s| s.success());
        if userns_works {
            assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
            println!("an unprivileged user resolved the alias through a user namespace");
        } else {
            assert!(
                aliases_unavailable(res.error.as_deref()),
                "without user namespaces the error must say so: {res:?}"
            );
        }
    });
}

#[tokio::test]
async fn images_give_their_tasks_tools_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    write_exec(
        &tools.join("image-tool"),
        "#!/bin/sh\necho \"image tool: $*\"\n",
    );
    let inventory = r#"
env: {OVERRIDDEN: from-inventory}
images:
- image: "example.org/team/tools:*"
  path: [tools]
  env: {FROM_IMAGE: "yes", OVERRIDDEN: from-image}
- image: "example.org/exact:1.0"
  env: {FROM_IMAGE: exact}
objects:
- {kind: StatefulSet, namespace: db, name: app}
"#;
    let platform = setup_with(dir.path(), inventory);
    let show = r#"[sh, -c, 'kando output tool "$(image-tool a b 2>/dev/null || echo none)"; kando output env "${FROM_IMAGE:-unset}/$OVERRIDDEN"']"#;
    let bp = format!(
        r#"
actions:
  a:
    phases:
    - {{func: KubeTask, name: matched, args: {{image: "example.org/team/tools:0.116.0", command: {show}}}}}
    - {{func: KubeTask, name: exact, args: {{image: "example.org/exact:1.0", command: {show}}}}}
    - {{func: KubeTask, name: other, args: {{image: "example.org/exact:1.0.1", command: {show}}}}}
    - func: MultiContainerRun
      name: mcr
      args:
        backgroundImage: busybox
        backgroundCommand: [sleep, "30"]
        outputImage: example.org/team/tools:latest
        outputCommand: {show}
"#
    );
    let req = blueprint_request(&platform, &bp, "a");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    let out = |i: usize, k: &str| res.phases[i].output[k].as_str().unwrap().to_string();
    assert_eq!(out(0, "tool"), "image tool: a b");
    assert_eq!(
        out(0, "env"),
        "yes/from-inventory",
        "the inventory's env overrides the image's"
    );
    assert_eq!(out(1, "tool"), "none");
    assert_eq!(out(1, "env"), "exact/from-inventory");
    assert_eq!(out(2, "tool"), "none", "no pattern, no prefix match");
    assert_eq!(out(2, "env"), "unset/from-inventory");
    assert_eq!(out(3, "tool"), "image tool: a b");
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
