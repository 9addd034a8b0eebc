//! `kapsel repo` end to end: the real `kapsel` and `kando` binaries on a
//! filesystem repository (no mock: the filesystem is the embedded default
//! location; the S3 path is the same code below `kapsel-storage`, tested there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `kando` is a separate package: build it (once per test process), then
/// find it next to `kapsel`.
fn kando_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "kando"])
            .current_dir(root())
            .status()
            .unwrap()
            .success()
    });
    assert!(built, "cargo build -p kando failed");
    Path::new(env!("CARGO_BIN_EXE_kapsel"))
        .with_file_name("kando")
        .to_path_buf()
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "kapsel-repo-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a binary with only the environment given (no inherited password).
fn run(bin: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(bin);
    c.args(args)
        .env_remove("KAPSEL_REPO_PASSWORD")
        .env_remove("KAPSEL_REPO_PASSWORD_FILE")
        .env_remove("KAPSEL_REPO_NEW_PASSWORD")
        .env_remove("KAPSEL_REPO_NEW_PASSWORD_FILE")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    if let Some(data) = stdin {
        let mut si = child.stdin.take().unwrap();
        si.write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn kapsel(args: &[&str], env: &[(&str, &str)]) -> Output {
    run(Path::new(env!("CARGO_BIN_EXE_kapsel")), args, env, None)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stderr with miette's frame and line wrapping undone.
fn err_text(o: &Output) -> String {
    text(&o.stderr)
        .replace(['│', '×', '╰', '─', '▶'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        err_text(o)
    );
    text(&o.stdout)
}

/// Deterministic incompressible bytes (xorshift).
fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Ids, times and the host name out of a listing.
fn redact(s: &str) -> String {
    let s = regex::Regex::new(r"\b[0-9a-f]{64}\b")
        .unwrap()
        .replace_all(s, "[id]");
    let s = regex::Regex::new(r"\b[0-9a-f]{8}\b")
        .unwrap()
        .replace_all(&s, "[short]");
    let s = regex::Regex::new(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?")
        .unwrap()
        .replace_all(&s, "[time]");
    let host = kapsel_host();
    s.replace(&format!("\"host\": \"{host}\""), "\"host\": \"[host]\"")
        .replace(&format!("  {host}  "), "  [host]  ")
}

fn kapsel_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

const PW: &str = "correct horse battery staple";

#[test]
fn repo_lifecycle_with_kando() {
    let kando = kando_bin();
    let t0 = std::time::Instant::now();
    let dir = tempdir();
    let store = dir.join("store");
    // The same location as a Kanister Profile (for people) and as the JSON
    // kando receives from `{{ toJson .Profile }}`.
    let cr = dir.join("profile.yaml");
    std::fs::write(
        &cr,
        format!(
            "apiVersion: cr.kanister.io/v1alpha1\nkind: Profile\nmetadata: {{name: local, namespace: demo}}\nlocation: {{type: filesystem, bucket: {}, prefix: team-a}}\n",
            store.display()
        ),
    )
    .unwrap();
    let wire = format!(
        r#"{{"Location":{{"type":"filesystem","bucket":"{}","prefix":"team-a"}}}}"#,
        store.display()
    );
    let p = cr.to_str().unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];

    // init, then pushes through kando into the same repository.
    let out = ok(&kapsel(&["repo", "init", "--profile", p], &env));
    assert!(out.starts_with("created repository "), "{out}");
    let again = kapsel(&["repo", "init", "--profile", p], &env);
    assert_eq!(again.status.code(), Some(1));
    assert!(err_text(&again).contains("already exists"));
    let (a, b) = (data(50_000, 1), data(40_000, 2));
    for (payload, path) in [(&a, "/db/dump"), (&b, "/db/dump"), (&a, "/other")] {
        let o = run(
            &kando,
            &["location", "push", "--profile", &wire, "--path", path, "-"],
            &env,
            Some(payload),
        );
        ok(&o);
        // Snapshot times have a resolution of the clock; keep them apart.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // snapshots: table and JSON.
    let table = ok(&kapsel(&["repo", "snapshots", "--profile", p], &env));
    insta::assert_snapshot!("snapshots_table", redact(&table));
    let json = ok(&kapsel(
        &[
            "repo",
            "snapshots",
            "--profile",
            p,
            "--path",
            "/db/dump",
            "--output",
            "json",
        ],
        &env,
    ));
    insta::assert_snapshot!("snapshots_json", redact(&json));
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let first_id = listed[0]["id"].as_str().unwrap().to_string();

    // ls and restore: latest of a path, and by id prefix; byte-exact.
    let ls = ok(&kapsel(
        &["repo", "ls", &first_id[..10], "--profile", p],
        &env,
    ));
    assert!(ls.contains("/db/dump") && ls.contains("50000"), "{ls}");
    let latest = kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--path",
            "/db/dump",
            "-t",
            "-",
            "--profile",
            p,
        ],
        &env,
    );
    assert!(ok(&latest).is_empty() || latest.stdout == b);
    assert_eq!(latest.stdout, b, "restore to stdout must be byte-exact");
    let older = kapsel(
        &["repo", "restore", &first_id[..8], "-t", "-", "--profile", p],
        &env,
    );
    ok(&older);
    assert_eq!(older.stdout, a);
    let outdir = dir.join("restored");
    std::fs::create_dir_all(&outdir).unwrap();
    ok(&kapsel(
        &[
            "repo",
            "restore",
            &first_id,
            "-t",
            outdir.to_str().unwrap(),
            "--profile",
            p,
        ],
        &env,
    ));
    assert_eq!(std::fs::read(outdir.join("dump")).unwrap(), a);
    // Never overwritten, nothing half-written.
    let again = kapsel(
        &[
            "repo",
            "restore",
            &first_id,
            "-t",
            outdir.to_str().unwrap(),
            "--profile",
            p,
        ],
        &env,
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(err_text(&again).contains("exists already"));
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 1);

    // A bigger stream through `kapsel repo backup` (many chunks).
    let big = data(3 << 20, 3);
    let src = dir.join("big.bin");
    std::fs::write(&src, &big).unwrap();
    let o = ok(&kapsel(
        &[
            "repo",
            "backup",
            src.to_str().unwrap(),
            "--path",
            "/big",
            "--tag",
            "nightly",
            "--profile",
            p,
            "--output",
            "json",
        ],
        &env,
    ));
    let summary: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(summary["size"], 3 << 20);
    let r = kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--path",
            "/big",
            "-t",
            "-",
            "--profile",
            p,
        ],
        &env,
    );
    ok(&r);
    assert!(r.stdout == big, "3 MiB restore differs");

    // check, with and without reading the data.
    let c = ok(&kapsel(&["repo", "check", "--profile", p], &env));
    assert!(c.starts_with("ok: 4 snapshot(s)"), "{c}");
    let c = ok(&kapsel(
        &[
            "repo",
            "check",
            "--read-data",
            "--profile",
            p,
            "--output",
            "json",
        ],
        &env,
    ));
    let c: serde_json::Value = serde_json::from_str(&c).unwrap();
    assert_eq!(c["ok"], true);
    assert!(c["readBytes"].as_u64().unwrap() > 3 << 20);
    let all_packs = c["readPacks"].as_u64().unwrap();
    assert_eq!(Some(all_packs), c["packs"].as_u64());
    // Subsets: 1/2 and 2/2 read every pack once between them.
    let mut read = 0;
    for g in ["1/2", "2/2"] {
        let c = ok(&kapsel(
            &[
                "repo",
                "check",
                "--read-data-subset",
                g,
                "--profile",
                p,
                "--output",
                "json",
            ],
            &env,
        ));
        let c: serde_json::Value = serde_json::from_str(&c).unwrap();
        assert_eq!(c["ok"], true);
        read += c["readPacks"].as_u64().unwrap();
    }
    assert_eq!(read, all_packs);
    let r = kapsel(
        &["repo", "check", "--read-data-subset", "0/2", "--profile", p],
        &env,
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("need 1 <= N <= M"));

    // forget with a policy: the newest of /db/dump stays, and the tagged one.
    let dry = ok(&kapsel(
        &[
            "repo",
            "forget",
            "--keep-last",
            "1",
            "--keep-tag",
            "nightly",
            "--dry-run",
            "--profile",
            p,
        ],
        &env,
    ));
    assert!(
        dry.contains("dry run: 1 snapshot(s) would be removed"),
        "{dry}"
    );
    let f = ok(&kapsel(
        &[
            "repo",
            "forget",
            "--keep-last",
            "1",
            "--path",
            "/db/dump",
            "--profile",
            p,
            "--output",
            "json",
        ],
        &env,
    ));
    let f: serde_json::Value = serde_json::from_str(&f).unwrap();
    assert_eq!(f["removed"], 1);
    let gone = f["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["keep"] == false)
        .unwrap();
    assert_eq!(gone["id"], first_id.as_str());
    let empty = kapsel(&["repo", "forget", "--profile", p], &env);
    assert_eq!(
        empty.status.code(),
        Some(2),
        "forget without a rule is refused"
    );

    // prune: snapshot a's data is still used by /other, b's chunk stays; a
    // forgotten snapshot that shared nothing would be freed. Delete at once.
    let before: serde_json::Value = serde_json::from_str(&ok(&kapsel(
        &["repo", "stats", "--profile", p, "--output", "json"],
        &env,
    )))
    .unwrap();
    assert_eq!(before["snapshots"], 3);
    let pr = ok(&kapsel(
        &[
            "repo",
            "prune",
            "--keep-delete",
            "0s",
            "--profile",
            p,
            "--output",
            "json",
        ],
        &env,
    ));
    let pr: serde_json::Value = serde_json::from_str(&pr).unwrap();
    assert!(pr["usedBlobs"].as_u64().unwrap() > 0, "{pr}");
    let c = ok(&kapsel(
        &["repo", "check", "--read-data", "--profile", p],
        &env,
    ));
    assert!(c.starts_with("ok: 3 snapshot(s)"), "{c}");
    let r = kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--path",
            "/other",
            "-t",
            "-",
            "--profile",
            p,
        ],
        &env,
    );
    ok(&r);
    assert_eq!(r.stdout, a);
    let st = ok(&kapsel(&["repo", "stats", "--profile", p], &env));
    assert!(st.contains("snapshots:        3"), "{st}");

    // Keys: add, list, passwd (old password stops working), remove.
    let pw2 = "second password";
    let added = ok(&kapsel(
        &["repo", "key", "add", "--profile", p, "--output", "json"],
        &[
            ("KAPSEL_REPO_PASSWORD", PW),
            ("KAPSEL_REPO_NEW_PASSWORD", pw2),
        ],
    ));
    let added: serde_json::Value = serde_json::from_str(&added).unwrap();
    let keys = ok(&kapsel(
        &["repo", "key", "list", "--profile", p, "--output", "json"],
        &[("KAPSEL_REPO_PASSWORD", pw2)],
    ));
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let current: Vec<_> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], added["added"]);
    let pwfile = dir.join("new-password");
    std::fs::write(&pwfile, "third password\n").unwrap();
    ok(&kapsel(
        &["repo", "key", "passwd", "--profile", p],
        &[
            ("KAPSEL_REPO_PASSWORD", pw2),
            ("KAPSEL_REPO_NEW_PASSWORD_FILE", pwfile.to_str().unwrap()),
        ],
    ));
    let old = kapsel(
        &["repo", "snapshots", "--profile", p],
        &[("KAPSEL_REPO_PASSWORD", pw2)],
    );
    assert_eq!(old.status.code(), Some(1));
    let err = err_text(&old);
    assert!(
        err.contains("wrong password") && err.contains("KAPSEL_REPO_PASSWORD"),
        "{err}"
    );
    assert!(
        !err.contains(pw2),
        "the password must never be printed: {err}"
    );
    let third = [("KAPSEL_REPO_PASSWORD", "third password")];
    ok(&kapsel(&["repo", "snapshots", "--profile", p], &third));
    // The first key (PW) still opens; remove it by a prefix of its id.
    let keys: serde_json::Value = serde_json::from_str(&ok(&kapsel(
        &["repo", "key", "list", "--profile", p, "--output", "json"],
        &third,
    )))
    .unwrap();
    let first = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&kapsel(&["repo", "snapshots", "--profile", p], &env));
    ok(&kapsel(
        &["repo", "key", "remove", &first[..12], "--profile", p],
        &third,
    ));
    let o = kapsel(&["repo", "snapshots", "--profile", p], &env);
    assert_eq!(o.status.code(), Some(1), "a removed key must not open");
    // The key in use cannot be removed.
    let keys: serde_json::Value = serde_json::from_str(&ok(&kapsel(
        &["repo", "key", "list", "--profile", p, "--output", "json"],
        &third,
    )))
    .unwrap();
    let cur = keys[0]["id"].as_str().unwrap();
    let o = kapsel(&["repo", "key", "remove", cur, "--profile", p], &third);
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("key operation refused"));

    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!("lifecycle took {:?} after building kando", t0.elapsed());
}

#[test]
fn passwords_never_on_the_command_line_and_clear_errors() {
    let dir = tempdir();
    let r = dir.join("r");
    let rs = r.to_str().unwrap();
    // `--password` is refused by design (argv is public through ps and /proc).
    let o = kapsel(
        &["repo", "snapshots", "--repo", rs, "--password", "hunter2"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = err_text(&o);
    assert!(
        err.contains("--password is refused") && !err.contains("hunter2"),
        "{err}"
    );
    // No password source and no terminal.
    let o = kapsel(&["repo", "init", "--repo", rs], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("no repository password"));
    // A missing repository.
    let o = kapsel(
        &["repo", "snapshots", "--repo", rs],
        &[("KAPSEL_REPO_PASSWORD", "x")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err_text(&o).contains("no Kapsel repository"),
        "{}",
        err_text(&o)
    );
    // A password file that does not exist.
    let o = kapsel(
        &["repo", "init", "--repo", rs],
        &[("KAPSEL_REPO_PASSWORD_FILE", "/nonexistent/pw")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("/nonexistent/pw"));
    // Neither --profile nor --repo.
    let o = kapsel(&["repo", "snapshots"], &[("KAPSEL_REPO_PASSWORD", "x")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err_text(&o).contains("--profile FILE or --repo DIR"));
    // A file that is no Profile.
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "kind: Blueprint\n").unwrap();
    let o = kapsel(
        &["repo", "snapshots", "--profile", bad.to_str().unwrap()],
        &[("KAPSEL_REPO_PASSWORD", "x")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("bad.yaml: not a Profile"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A repository kando created with no password set (the one derived from the
/// Profile's credential) opens with `kapsel repo` and the same Profile.
#[test]
fn derived_password_is_shared_with_kando() {
    let kando = kando_bin();
    let dir = tempdir();
    let wire = format!(
        r#"{{"Location":{{"type":"filesystem","bucket":"{}"}},"Credential":{{"Type":"keyPair","KeyPair":{{"ID":"AKID","Secret":"not-a-password-flag"}}}}}}"#,
        dir.join("store").display()
    );
    let pf = dir.join("profile.json");
    std::fs::write(&pf, &wire).unwrap();
    ok(&run(
        &kando,
        &["location", "push", "--profile", &wire, "--path", "/p", "-"],
        &[],
        Some(b"hello"),
    ));
    let o = ok(&kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "-t",
            "-",
            "--profile",
            pf.to_str().unwrap(),
        ],
        &[],
    ));
    assert_eq!(o, "hello");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A directory becomes a tree snapshot: `ls` lists its entries and
/// `restore` rebuilds it (contents, symlinks, hardlinks) in a new directory.
#[test]
fn directory_tree_backup_ls_restore() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempdir();
    let (src, repo) = (dir.join("src"), dir.join("repo"));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), b"hello\n").unwrap();
    std::fs::write(src.join("sub/big.bin"), data(200_000, 9)).unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    std::fs::hard_link(src.join("a.txt"), src.join("sub/hard")).unwrap();
    let r = repo.to_str().unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    ok(&kapsel(&["repo", "init", "--repo", r], &env));
    let b: serde_json::Value = serde_json::from_str(&ok(&kapsel(
        &[
            "repo",
            "backup",
            src.to_str().unwrap(),
            "--repo",
            r,
            "--output",
            "json",
        ],
        &env,
    )))
    .unwrap();
    assert_eq!(b["type"], "tree");
    assert_eq!(b["files"], 2, "{b}");
    let ls = ok(&kapsel(&["repo", "ls", "latest", "--repo", r], &env));
    let src_s = src.display().to_string();
    assert!(ls.contains(&format!("{src_s}/link -> a.txt")), "{ls}");
    assert!(
        ls.contains(&format!("{src_s}/sub/hard => {src_s}/a.txt")),
        "{ls}"
    );
    assert!(ls.contains("200000"), "{ls}");
    let out = dir.join("out");
    ok(&kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--repo",
            r,
            "-t",
            out.to_str().unwrap(),
        ],
        &env,
    ));
    assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"hello\n");
    assert_eq!(
        std::fs::read(out.join("sub/big.bin")).unwrap(),
        data(200_000, 9)
    );
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("a.txt")
    );
    assert_eq!(
        std::fs::metadata(out.join("a.txt")).unwrap().ino(),
        std::fs::metadata(out.join("sub/hard")).unwrap().ino()
    );
    // Never into a directory that has content.
    let o = kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--repo",
            r,
            "-t",
            out.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("new or empty directory"));
    ok(&kapsel(
        &["repo", "check", "--read-data", "--repo", r],
        &env,
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The repositories of `kando data --path P` (`<prefix>/<P>`) open with
/// `--data-path P`.
#[test]
fn kando_data_repository_by_data_path() {
    let kando = kando_bin();
    let dir = tempdir();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"tree file").unwrap();
    let wire = format!(
        r#"{{"Location":{{"type":"filesystem","bucket":"{}","prefix":"pre"}}}}"#,
        dir.join("store").display()
    );
    let pf = dir.join("profile.json");
    std::fs::write(&pf, &wire).unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    ok(&run(
        &kando,
        &[
            "data",
            "backup",
            "--profile",
            &wire,
            "--path",
            "pg/base",
            src.to_str().unwrap(),
        ],
        &env,
        None,
    ));
    let p = pf.to_str().unwrap();
    let s: serde_json::Value = serde_json::from_str(&ok(&kapsel(
        &[
            "repo",
            "snapshots",
            "--profile",
            p,
            "--data-path",
            "pg/base",
            "--output",
            "json",
        ],
        &env,
    )))
    .unwrap();
    assert_eq!(s.as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s[0]["type"], "tree");
    let o = kapsel(
        &["repo", "snapshots", "--profile", p, "--data-path", "../x"],
        &env,
    );
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `repo init --repo R INIT_ARGS --output json`, then `repo backup FILE`
/// into it: both JSON results.
fn init_and_backup(
    r: &Path,
    init_args: &[&str],
    file: &Path,
    env: &[(&str, &str)],
) -> (serde_json::Value, serde_json::Value) {
    let r = r.to_str().unwrap();
    let mut args = vec!["repo", "init", "--repo", r, "--output", "json"];
    args.extend_from_slice(init_args);
    let init = serde_json::from_str(&ok(&kapsel(&args, env))).unwrap();
    let backup = serde_json::from_str(&ok(&kapsel(
        &[
            "repo",
            "backup",
            file.to_str().unwrap(),
            "--repo",
            r,
            "--output",
            "json",
        ],
        env,
    )))
    .unwrap();
    (init, backup)
}

/// `init --compression-level` is kept in the repository's config and used
/// by every backup: the same compressible file takes less room at 19 than
/// at -5; a level outside zstd's range is a usage error.
#[test]
fn init_compression_level_is_used_by_backups() {
    let dir = tempdir();
    let text: Vec<u8> = (0..40_000u32)
        .flat_map(|i| {
            format!(
                "{i},order-{},{}\n",
                i % 977,
                i.wrapping_mul(2_654_435_761) % 10_007
            )
            .into_bytes()
        })
        .collect();
    let file = dir.join("orders.csv");
    std::fs::write(&file, &text).unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let mut added = Vec::new();
    for level in ["-5", "19"] {
        let r = dir.join(format!("repo{level}"));
        let (init, b) = init_and_backup(&r, &["--compression-level", level], &file, &env);
        assert_eq!(init["compressionLevel"].to_string(), level);
        added.push(b["addedBytes"].as_u64().unwrap_or_else(|| panic!("{b}")));
    }
    assert!(
        added[1] < added[0],
        "level 19 {} vs level -5 {}",
        added[1],
        added[0]
    );
    let r = dir.join("bad");
    let o = kapsel(
        &[
            "repo",
            "init",
            "--repo",
            r.to_str().unwrap(),
            "--compression-level",
            "40",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("compression-level"));
    assert!(!r.join("config").exists());
}

/// `init --chunk-size` is kept in the repository's config and used by every
/// backup: the same 16 MiB of random bytes is cut into ~256 chunks at 64KiB
/// and ~8 at 2MiB (counted, not timed); a size that is not a power of two
/// in range is a usage error that creates nothing.
#[test]
fn init_chunk_size_is_used_by_backups() {
    let dir = tempdir();
    let file = dir.join("random.bin");
    std::fs::write(&file, data(16 << 20, 0x9E37_79B9)).unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let mut chunks = Vec::new();
    for size in ["64KiB", "2MiB"] {
        let r = dir.join(format!("repo-{size}"));
        let (init, b) = init_and_backup(&r, &["--chunk-size", size], &file, &env);
        let avg = init["chunkSize"]
            .as_u64()
            .unwrap_or_else(|| panic!("{init}"));
        assert_eq!(avg, if size == "64KiB" { 64 << 10 } else { 2 << 20 });
        chunks.push(b["chunks"].as_u64().unwrap_or_else(|| panic!("{b}")));
    }
    assert!(
        (128..=512).contains(&chunks[0]) && (3..=20).contains(&chunks[1]),
        "chunks at 64KiB and 2MiB: {chunks:?}"
    );
    let r = dir.join("bad");
    let o = kapsel(
        &[
            "repo",
            "init",
            "--repo",
            r.to_str().unwrap(),
            "--chunk-size",
            "3MiB",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("chunk-size") && err.contains("power of two"),
        "{err}"
    );
    assert!(!r.join("config").exists());
}

/// `forget --keep-last 0` (or any all-zero policy) is refused like a plain
/// `forget`, removing nothing; `--allow-empty` removes every snapshot.
#[test]
fn forget_with_only_zero_rules_is_refused() {
    let dir = tempdir();
    let r = dir.join("repo");
    let file = dir.join("f");
    std::fs::write(&file, data(20_000, 9)).unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    init_and_backup(&r, &[], &file, &env);
    let rs = r.to_str().unwrap();
    let count = || {
        let s = ok(&kapsel(
            &["repo", "snapshots", "--repo", rs, "--output", "json"],
            &env,
        ));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        v.as_array().unwrap().len()
    };
    assert_eq!(count(), 1);
    for rule in [
        &["--keep-last", "0"][..],
        &["--keep-daily", "0"],
        &["--keep-last", "0", "--keep-yearly", "0"],
        &["--keep-within", "0s"],
        &[],
    ] {
        let mut args = vec!["repo", "forget", "--repo", rs];
        args.extend_from_slice(rule);
        let o = kapsel(&args, &env);
        assert_eq!(o.status.code(), Some(2), "{rule:?}: {}", err_text(&o));
        assert!(
            err_text(&o).contains("would remove every snapshot"),
            "{rule:?}: {}",
            err_text(&o)
        );
        assert_eq!(count(), 1, "{rule:?} removed a snapshot");
    }
    ok(&kapsel(
        &[
            "repo",
            "forget",
            "--repo",
            rs,
            "--keep-last",
            "0",
            "--allow-empty",
        ],
        &env,
    ));
    assert_eq!(count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn names_in(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The file a process has open in `dir` (an unnamed O_TMPFILE file shows
/// as `dir/#<inode> (deleted)`), with its size.
fn open_file_in(pid: u32, dir: &Path) -> Option<(PathBuf, u64)> {
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let fd = fd.ok()?.path();
        if let Ok(l) = std::fs::read_link(&fd)
            && l.starts_with(dir)
            && let Ok(m) = std::fs::metadata(&fd)
            && m.is_file()
        {
            return Some((l, m.len()));
        }
    }
    None
}

/// A restore to a file that is SIGKILLed midway leaves no file under the
/// real name and no partial file (or, where O_TMPFILE is unsupported, one
/// that the next restore removes).
#[test]
fn a_killed_restore_leaves_nothing() {
    let dir = tempdir();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let r = dir.join("repo");
    let src = dir.join("big");
    let body = data(64 << 20, 77);
    std::fs::write(&src, &body).unwrap();
    init_and_backup(&r, &[], &src, &env);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let target = out.join("restored");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kapsel"))
        .args([
            "repo",
            "restore",
            "latest",
            "--repo",
            r.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ])
        .env("KAPSEL_REPO_PASSWORD", PW)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let seen = loop {
        if let Some((p, n)) = open_file_in(child.id(), &out)
            && n >= 1 << 20
        {
            child.kill().unwrap();
            break p;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended before it could be killed"
        );
        assert!(t0.elapsed().as_secs() < 120, "no restored bytes seen");
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    child.wait().unwrap();
    assert!(!target.exists(), "a killed restore left {target:?}");
    let left = names_in(&out);
    if seen.to_string_lossy().ends_with(" (deleted)") {
        // O_TMPFILE: nothing was ever named.
        assert!(left.is_empty(), "{left:?}");
    } else {
        // Named fallback: the next restore removes it.
        assert!(
            left.len() == 1 && left[0].starts_with(".restored.kapsel-partial-"),
            "{left:?}"
        );
    }
    ok(&kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--repo",
            r.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
        &env,
    ));
    assert_eq!(names_in(&out), vec!["restored"]);
    assert!(std::fs::read(&target).unwrap() == body);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `repo init` refuses a directory holding other data (exit 1, the
/// directory and its content named, nothing written); a directory holding
/// only `keys/` (an init that crashed before its config) is taken.
#[test]
fn init_refuses_a_directory_with_other_data() {
    let dir = tempdir();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let r = dir.join("r");
    std::fs::create_dir_all(r.join("photos")).unwrap();
    std::fs::write(r.join("notes.txt"), b"mine").unwrap();
    std::fs::write(r.join("photos/a.jpg"), b"jpg").unwrap();
    let rs = r.to_str().unwrap();
    let o = kapsel(&["repo", "init", "--repo", rs], &env);
    let e = err_text(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    // Without spaces: miette wraps long lines, also at a '/'.
    let compact: String = e.split_whitespace().collect();
    assert!(
        e.contains("not empty") && compact.contains(rs) && compact.contains("notes.txt"),
        "{e}"
    );
    assert!(compact.contains("photos/a.jpg"), "{e}");
    assert_eq!(names_in(&r), vec!["notes.txt", "photos"]);
    assert_eq!(names_in(&r.join("photos")), vec!["a.jpg"]);

    // A crashed init's leftover: a key file and no config.
    let donor = dir.join("donor");
    ok(&kapsel(
        &["repo", "init", "--repo", donor.to_str().unwrap()],
        &env,
    ));
    let partial = dir.join("partial");
    std::fs::create_dir_all(partial.join("keys")).unwrap();
    for k in std::fs::read_dir(donor.join("keys")).unwrap() {
        let k = k.unwrap();
        std::fs::copy(k.path(), partial.join("keys").join(k.file_name())).unwrap();
    }
    ok(&kapsel(
        &["repo", "init", "--repo", partial.to_str().unwrap()],
        &env,
    ));
    ok(&kapsel(
        &["repo", "snapshots", "--repo", partial.to_str().unwrap()],
        &env,
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `repo prune` removes the staging files (`<object>#<n>`) of uploads killed
/// over an hour ago, reports them on a line of their own, keeps fresh ones.
#[test]
fn prune_removes_stale_upload_files() {
    let dir = tempdir();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let r = dir.join("repo");
    let src = dir.join("f");
    std::fs::write(&src, data(10_000, 3)).unwrap();
    init_and_backup(&r, &[], &src, &env);
    let sub = r.join("data/ab");
    std::fs::create_dir_all(&sub).unwrap();
    let old = sub.join(format!("{}#1", "ab".repeat(32)));
    let fresh = sub.join(format!("{}#1", "ac".repeat(32)));
    std::fs::write(&old, vec![1u8; 5000]).unwrap();
    std::fs::write(&fresh, vec![2u8; 300]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600))
        .unwrap();
    let rs = r.to_str().unwrap();
    let dry = ok(&kapsel(
        &[
            "repo",
            "prune",
            "--repo",
            rs,
            "--dry-run",
            "--output",
            "json",
        ],
        &env,
    ));
    let dry: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["staleUploadFiles"], 1, "{dry}");
    assert_eq!(dry["staleUploadBytes"], 5000, "{dry}");
    assert!(old.exists());
    let o = ok(&kapsel(&["repo", "prune", "--repo", rs], &env));
    assert!(
        o.lines()
            .any(|l| l.starts_with("removed 1 stale upload file(s) (4.9 KiB)")),
        "{o}"
    );
    assert!(!old.exists() && fresh.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// EIO on the fsync of a directory (injected with strace) is reported as
/// such, naming the directory and the OS error, not as "Unable to rename
/// file". Skipped where strace cannot inject faults.
#[test]
fn a_failed_directory_fsync_is_named() {
    let Ok(v) = Command::new("strace").arg("-V").output() else {
        eprintln!("strace not found: skipped");
        return;
    };
    if !v.status.success() {
        eprintln!("strace does not run: skipped");
        return;
    }
    let dir = tempdir();
    let r = dir.join("r");
    // init into a new directory: fsync 1 and 2 are of the new keys/ and of
    // r (object_store creates keys/), 3 of the key file, 4 of keys/ once
    // the key file is linked into place.
    let o = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=fsync",
            "-e",
            "inject=fsync:error=EIO:when=4",
        ])
        .arg(env!("CARGO_BIN_EXE_kapsel"))
        .args(["repo", "init", "--repo", r.to_str().unwrap()])
        .env("KAPSEL_REPO_PASSWORD", PW)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let e = err_text(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    let compact: String = e.split_whitespace().collect();
    let keys = r.join("keys");
    assert!(
        compact.contains(&format!("fsyncofdirectory{}failed", keys.display())),
        "{e}"
    );
    assert!(compact.contains("(oserror5)"), "{e}");
    assert!(!e.contains("Unable to rename file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A repository with two snapshots, `/a` then `/b`, each file backed up with
/// `--path`; returns (A's id, B's id, A's index file, the files' bytes).
fn two_snapshots(dir: &Path) -> (String, String, PathBuf, Vec<u8>, Vec<u8>) {
    let r = dir.join("r");
    let rs = r.to_str().unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    ok(&kapsel(&["repo", "init", "--repo", rs], &env));
    let (da, db) = (data(300_000, 11), data(200_000, 12));
    let mut ids = Vec::new();
    let mut index_a = None;
    for (name, d) in [("a", &da), ("b", &db)] {
        let f = dir.join(name);
        std::fs::write(&f, d).unwrap();
        let out = ok(&kapsel(
            &[
                "repo",
                "backup",
                f.to_str().unwrap(),
                "--repo",
                rs,
                "--path",
                &format!("/{name}"),
                "--output",
                "json",
            ],
            &env,
        ));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        ids.push(v["snapshot"].as_str().unwrap().to_string());
        if index_a.is_none() {
            index_a = std::fs::read_dir(r.join("index"))
                .unwrap()
                .next()
                .map(|e| e.unwrap().path());
        }
    }
    (ids[0].clone(), ids[1].clone(), index_a.unwrap(), da, db)
}

fn flip_byte(p: &Path, at: usize) {
    let mut b = std::fs::read(p).unwrap();
    b[at] ^= 0x40;
    std::fs::write(p, b).unwrap();
}

/// A damaged manifest: listing, stats, restore latest and forget --dry-run
/// keep working with a warning naming it; check names it; prune refuses;
/// `repair snapshots` (dry run, then for real) moves it aside.
#[test]
fn repair_snapshots_moves_a_damaged_manifest_aside() {
    let dir = tempdir();
    let (a, b, _, _, db) = two_snapshots(&dir);
    let r = dir.join("r");
    let rs = r.to_str().unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let manifest = r.join("snapshots").join(&a);
    flip_byte(&manifest, 30);
    for args in [
        &["repo", "snapshots", "--repo", rs][..],
        &["repo", "stats", "--repo", rs],
        &[
            "repo",
            "forget",
            "--repo",
            rs,
            "--keep-last",
            "1",
            "--dry-run",
        ],
    ] {
        let o = kapsel(args, &env);
        let out = ok(&o);
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!(
                "warning: skipping damaged snapshot manifest snapshots/{a}"
            )) && err.contains("kapsel repo repair snapshots"),
            "{args:?}: {err}"
        );
        assert!(!out.contains(&a), "{args:?}: {out}");
    }
    let out = dir.join("b.out");
    ok(&kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--repo",
            rs,
            "--path",
            "/b",
            "-t",
            out.to_str().unwrap(),
        ],
        &env,
    ));
    assert_eq!(std::fs::read(&out).unwrap(), db);
    assert!(ok(&kapsel(&["repo", "snapshots", "--repo", rs], &env)).contains(&b[..8]));
    // check: exit 1, names the manifest, the affected snapshot and the fix.
    let o = kapsel(&["repo", "check", "--repo", rs], &env);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("snapshots/{a}")) && out.contains("kapsel repo repair snapshots"),
        "{out}"
    );
    assert!(out.contains(&format!("affected: snapshot {a}")), "{out}");
    // prune refuses, pointing to the repair.
    let o = kapsel(&["repo", "prune", "--repo", rs], &env);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err_text(&o).contains("repair snapshots"),
        "{}",
        err_text(&o)
    );
    // Dry run: reported, nothing moved.
    let o = kapsel(
        &[
            "repo",
            "repair",
            "snapshots",
            "--repo",
            rs,
            "--dry-run",
            "--output",
            "json",
        ],
        &env,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["damaged"][0]["object"], format!("snapshots/{a}"));
    assert_eq!(v["snapshots"], 1);
    assert!(manifest.exists());
    // For real.
    let o = kapsel(&["repo", "repair", "snapshots", "--repo", rs], &env);
    let out = ok(&o);
    assert!(
        out.contains(&format!("damaged manifest snapshots/{a}"))
            && out.contains("moved to snapshots-damaged/"),
        "{out}"
    );
    assert!(!manifest.exists());
    assert!(r.join("snapshots-damaged").join(&a).exists());
    ok(&kapsel(&["repo", "check", "--repo", rs], &env));
    ok(&kapsel(&["repo", "prune", "--repo", rs], &env));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A damaged index file: restores not needing it work with a warning naming
/// it; check names it, the affected snapshot and `repair index`; prune
/// refuses; `repair index` brings every snapshot back.
#[test]
fn repair_index_rebuilds_from_the_packs() {
    let dir = tempdir();
    let (a, _b, index_a, da, db) = two_snapshots(&dir);
    let r = dir.join("r");
    let rs = r.to_str().unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    let ix_name = index_a.file_name().unwrap().to_str().unwrap().to_string();
    flip_byte(&index_a, 40);
    let out_b = dir.join("b.out");
    let o = kapsel(
        &[
            "repo",
            "restore",
            "latest",
            "--repo",
            rs,
            "--path",
            "/b",
            "-t",
            out_b.to_str().unwrap(),
        ],
        &env,
    );
    ok(&o);
    assert_eq!(std::fs::read(&out_b).unwrap(), db);
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("index/{ix_name}")) && err.contains("kapsel repo repair index"),
        "{err}"
    );
    let out_a = dir.join("a.out");
    let o = kapsel(
        &[
            "repo",
            "restore",
            &a,
            "--repo",
            rs,
            "-t",
            out_a.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err_text(&o).contains("not in the index"),
        "{}",
        err_text(&o)
    );
    assert!(!out_a.exists(), "nothing is left behind");
    let o = kapsel(&["repo", "check", "--repo", rs, "--output", "json"], &env);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    let errors = v["errors"].to_string();
    assert!(
        errors.contains(&ix_name) && errors.contains("kapsel repo repair index"),
        "{errors}"
    );
    assert_eq!(v["affectedSnapshots"][0]["id"], a.as_str());
    assert_eq!(v["affectedSnapshots"][0]["paths"][0], "/a");
    let o = kapsel(
        &["repo", "prune", "--repo", rs, "--keep-delete", "0s"],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("repair index"), "{}", err_text(&o));
    // Dry run changes nothing.
    let o = kapsel(
        &[
            "repo",
            "repair",
            "index",
            "--repo",
            rs,
            "--dry-run",
            "--output",
            "json",
        ],
        &env,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["packs"], 4);
    assert_eq!(
        v["damagedIndexFiles"][0]["object"],
        format!("index/{ix_name}")
    );
    assert!(v["newIndexFile"].is_null());
    assert!(index_a.exists());
    let out = ok(&kapsel(&["repo", "repair", "index", "--repo", rs], &env));
    assert!(
        out.contains("indexed 4 pack(s)") && out.contains("replacing 2 index file(s)"),
        "{out}"
    );
    assert!(!index_a.exists());
    ok(&kapsel(
        &[
            "repo",
            "restore",
            &a,
            "--repo",
            rs,
            "-t",
            out_a.to_str().unwrap(),
        ],
        &env,
    ));
    assert_eq!(std::fs::read(&out_a).unwrap(), da);
    ok(&kapsel(
        &["repo", "check", "--repo", rs, "--read-data"],
        &env,
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Wrong password, a corrupt config and a foreign object where the config
/// should be are three different messages; a key file with absurd KDF
/// parameters is named, not a panic.
#[test]
fn wrong_password_corrupt_config_foreign_and_bad_key_differ() {
    let dir = tempdir();
    let r = dir.join("r");
    let rs = r.to_str().unwrap();
    let env = [("KAPSEL_REPO_PASSWORD", PW)];
    ok(&kapsel(&["repo", "init", "--repo", rs], &env));
    let o = kapsel(
        &["repo", "snapshots", "--repo", rs],
        &[("KAPSEL_REPO_PASSWORD", "nope")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err_text(&o).contains("wrong password"), "{}", err_text(&o));
    let config = r.join("config");
    let good = std::fs::read(&config).unwrap();
    flip_byte(&config, 30);
    let o = kapsel(&["repo", "snapshots", "--repo", rs], &env);
    assert_eq!(o.status.code(), Some(1));
    let e = err_text(&o);
    assert!(
        e.contains("config is corrupt") && !e.contains("wrong password"),
        "{e}"
    );
    std::fs::write(&config, b"PK\x03\x04 a zip file").unwrap();
    let o = kapsel(&["repo", "snapshots", "--repo", rs], &env);
    assert_eq!(o.status.code(), Some(1));
    let e = err_text(&o);
    assert!(
        e.contains("not a Kapsel repository") && !e.contains("wrong password"),
        "{e}"
    );
    std::fs::write(&config, &good).unwrap();
    // The only key file asks for 2^32-1 lanes.
    let key = std::fs::read_dir(r.join("keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    v["kdf"]["parallelism"] = serde_json::json!(4294967295u64);
    std::fs::write(&key, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = kapsel(&["repo", "snapshots", "--repo", rs], &env);
    assert_eq!(o.status.code(), Some(1));
    let e = err_text(&o);
    let name = key.file_name().unwrap().to_str().unwrap();
    assert!(
        e.contains("parallelism 4294967295") && e.contains(name) && !e.contains("panicked"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
