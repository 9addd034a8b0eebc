#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]
//! Shared support for kando's storage tests: a seeded stream generator,
//! `kando` runners, the acceptance round trips, and a seeded
//! fault-injecting HTTP proxy. The servers (SeaweedFS, Azurite,
//! fake-gcs-server) and Profiles are kapsel-testkit's, re-exported here.
//!
//! Every server is real; a missing server skips the test loudly unless the
//! matching `KAPSEL_*_TESTS=1` is set, which makes it a failure (CI sets them).

pub mod proxy;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

pub use kapsel_testkit::fixtures::b64;
pub use kapsel_testkit::net::http;
pub use kapsel_testkit::objstore::{
    AZ_ACCOUNT, AZ_KEY, GCS_BUCKET, GCS_EMULATOR_KEY, Server, azure_profile, azure_secret_profile,
    fs_profile, gcs_profile, gcs_secret_profile, gcs_upload, gcs_upload_tree, s3_profile,
    start_azurite, start_fake_gcs, start_weed,
};

/// The test password for every repository the tests create.
pub const PW: &str = "kapsel-test-password";

/// Write `len` bytes of [`Stream`] `seed` to a file; returns its BLAKE3.
pub fn write_stream_file(path: &std::path::Path, seed: u64, len: u64) -> blake3::Hash {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut h = blake3::Hasher::new();
    let mut s = Stream::new(seed, len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = s.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        f.write_all(&buf[..k]).unwrap();
    }
    f.flush().unwrap();
    h.finalize()
}

/// A scratch directory in memory (/dev/shm) when there is one.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().unwrap()
}

/// Push a file through kando.
pub fn push_file(args: &[&str], file: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kando"));
    c.args(args)
        .env("KAPSEL_REPO_PASSWORD", PW)
        .env("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "0")
        .stdin(std::fs::File::open(file).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Run kando with `stdin` fed from a thread; password from the environment.
pub fn kando(args: &[&str], stdin: &[u8]) -> Output {
    kando_env(args, stdin, &[])
}

/// [`kando`] with extra environment variables.
pub fn kando_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    kando_with(args, stdin, env, |c| {
        c.env("KAPSEL_REPO_PASSWORD", PW)
            .env("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "0");
    })
}

/// Run kando with no password in its environment but what `env` gives
/// (`stdin` fed from a thread).
pub fn kando_clean(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    kando_with(args, stdin, env, |c| {
        c.env_remove("KAPSEL_REPO_PASSWORD")
            .env_remove("KAPSEL_REPO_PASSWORD_FILE");
    })
}

/// Run kando with the environment `base` sets, then `env`; `stdin` fed from
/// a thread.
fn kando_with(
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
    base: impl FnOnce(&mut Command),
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kando"));
    c.args(args);
    base(&mut c);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let t = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    out
}

/// Assert success, showing stderr otherwise.
pub fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(new, total)` chunks from push's summary line on stderr.
pub fn pushed_chunks(out: &Output) -> (u64, u64) {
    let e = String::from_utf8_lossy(&out.stderr);
    let i = e
        .find(" new of ")
        .unwrap_or_else(|| panic!("no summary: {e}"));
    let new: u64 = e[..i]
        .rsplit('(')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no summary: {e}"));
    let total: u64 = e[i + 8..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {e}"));
    (new, total)
}

/// Bytes added, from push's summary line on stderr.
pub fn pushed_added_bytes(out: &Output) -> u64 {
    let e = String::from_utf8_lossy(&out.stderr);
    let i = e
        .find(" bytes added")
        .unwrap_or_else(|| panic!("no summary: {e}"));
    e[..i]
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {e}"))
}

/// A deterministic random stream (xorshift64*), the same whatever the read
/// sizes, of `len` bytes.
pub struct Stream {
    s: u64,
    left: u64,
    buf: [u8; 8],
    at: usize,
}

impl Stream {
    pub fn new(seed: u64, len: u64) -> Self {
        Stream {
            s: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
            buf: [0; 8],
            at: 8,
        }
    }
}

impl Stream {
    fn word(&mut self) -> [u8; 8] {
        self.s ^= self.s >> 12;
        self.s ^= self.s << 25;
        self.s ^= self.s >> 27;
        self.s.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes()
    }
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (out.len() as u64).min(self.left) as usize;
        let mut i = 0;
        // Finish the current word, then whole words, then a partial one.
        while i < n && self.at < 8 {
            out[i] = self.buf[self.at];
            self.at += 1;
            i += 1;
        }
        for w in out[i..n].chunks_exact_mut(8) {
            w.copy_from_slice(&self.word());
        }
        i += (n - i) / 8 * 8;
        while i < n {
            if self.at == 8 {
                self.buf = self.word();
                self.at = 0;
            }
            out[i] = self.buf[self.at];
            self.at += 1;
            i += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A highly compressible stream of `len` bytes: numbered CSV-like lines
/// that differ only in their counters (zstd shrinks it about 30-fold).
pub struct Compressible {
    line: u64,
    left: u64,
    pending: Vec<u8>,
    at: usize,
}

impl Compressible {
    pub fn new(len: u64) -> Self {
        Compressible {
            line: 0,
            left: len,
            pending: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Compressible {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut i = 0;
        while i < out.len() && self.left > 0 {
            if self.at == self.pending.len() {
                self.pending = format!(
                    "{:012},2026-12-05T00:00:00Z,account-{:06},status=settled,amount={:>10}.00,note=nightly transfer batch\n",
                    self.line,
                    self.line % 100_000,
                    self.line % 7_919
                )
                .into_bytes();
                self.at = 0;
                self.line += 1;
            }
            let n = (self.pending.len() - self.at)
                .min(out.len() - i)
                .min(self.left as usize);
            out[i..i + n].copy_from_slice(&self.pending[self.at..self.at + n]);
            self.at += n;
            i += n;
            self.left -= n as u64;
        }
        Ok(i)
    }
}

/// `n` bytes of [`Stream`].
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    Stream::new(seed, n as u64).read_exact(&mut v).unwrap();
    v
}

/// BLAKE3 of a stream.
pub fn hash_stream(mut r: impl Read) -> (u64, blake3::Hash) {
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    (n, h.finalize())
}

/// Push a generated stream of `len` bytes through kando (streamed, never held
/// in memory); returns the finished process output.
pub fn push_stream(args: &[&str], seed: u64, len: u64, env: &[(&str, &str)]) -> Output {
    push_reader(args, Stream::new(seed, len), env)
}

/// Push what `source` reads through kando (streamed).
pub fn push_reader(
    args: &[&str],
    mut source: impl Read + Send + 'static,
    env: &[(&str, &str)],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kando"));
    c.args(args)
        .env("KAPSEL_REPO_PASSWORD", PW)
        .env("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut si = child.stdin.take().unwrap();
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut source, &mut si);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    out
}

/// Pull through kando and hash what it writes: `(status, stderr, bytes, hash)`.
pub fn pull_hash(
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String, u64, blake3::Hash) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kando"));
    c.args(args)
        .env("KAPSEL_REPO_PASSWORD", PW)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let et = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (n, h) = hash_stream(child.stdout.take().unwrap());
    let st = child.wait().unwrap();
    (st, et.join().unwrap(), n, h)
}

/// Open the repository at `profile` with the test password.
pub fn open_repo(rt: &tokio::runtime::Runtime, profile: &str) -> kapsel_repo::Repository {
    let p = kapsel_storage::Profile::from_json(profile).unwrap();
    let b = kapsel_storage::backend_from_profile(&p).unwrap();
    rt.block_on(kapsel_repo::Repository::open(
        b.store,
        b.root,
        PW.as_bytes(),
    ))
    .unwrap()
}

/// The repository's maximum chunk size: a stream of zeros is cut exactly there.
pub fn max_chunk(profile: &str) -> usize {
    let rt = tokio::runtime::Runtime::new().unwrap();
    open_repo(&rt, profile).config().chunker.max as usize
}

/// The small cases of the round trips: `(path, bytes, chunks)` for 0 B,
/// 1 B, exactly one maximal chunk (a chunk boundary at the end of the
/// stream), two and sixteen maximal chunks, `max` being the repository's maximum
/// chunk size.
///
/// Zeros have no cut point before `max` and compress far more than 8x, so
/// their max-size chunks are merged (docs/format.md §5): two of them into
/// one chunk below the merge minimum (4 × max), sixteen into four chunks
/// of that minimum (zeros satisfy the merge cut at once).
fn small_cases(max: usize) -> [(&'static str, Vec<u8>, u64); 5] {
    [
        ("/rt/empty", Vec::new(), 0),
        ("/rt/one", vec![0x5a_u8], 1),
        ("/rt/boundary", vec![0u8; max], 1),
        ("/rt/two-boundaries", vec![0u8; 2 * max], 1),
        ("/rt/merged", vec![0u8; 16 * max], 4),
    ]
}

/// A source of a stream, made anew for each read of it.
type Source = fn() -> Box<dyn Read + Send>;

/// The 1 GiB streams of the round trips: `(path, source)`, random then
/// highly compressible.
fn gib_cases() -> [(&'static str, Source); 2] {
    [
        ("/rt/random", || Box::new(Stream::new(64, 1 << 30))),
        ("/rt/compressible", || Box::new(Compressible::new(1 << 30))),
    ]
}

/// The read half of [`roundtrips`], for a store Kapsel reads through a
/// Profile that the test cannot write through (fake-gcs-server serves no
/// object upload to object_store's GCS client): the same streams are pushed
/// through `write_profile` (a filesystem one), `copy` puts that
/// repository's objects where `read_profile` finds them, and every stream
/// is pulled back through `read_profile` and compared; a path never pushed
/// is refused, naming it.
/// kando's switch for printing its own peak RSS at exit.
pub const REPORT_RSS: &str = "KAPSEL_REPORT_PEAK_RSS";

/// The mover's memory bound (issue 13): a push or pull of any size peaks
/// below 128 MiB, as the process itself measures it (`VmHWM`, printed by
/// `KAPSEL_REPORT_PEAK_RSS=1`).
pub fn peak_rss_below(stderr: &str, what: &str) {
    let kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("kando: peak RSS "))
        .and_then(|v| v.strip_suffix(" KiB"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: kando did not report its peak RSS:\n{stderr}"));
    assert!(
        kib < 128 * 1024,
        "{what}: peak RSS {kib} KiB, the bound is 128 MiB"
    );
}

pub fn pull_roundtrips(write_profile: &str, copy: impl FnOnce(), read_profile: &str, label: &str) {
    let t = Instant::now();
    let out = kando(
        &[
            "location",
            "push",
            "-p",
            write_profile,
            "-s",
            "/rt/first",
            "-",
        ],
        b"first",
    );
    ok(&out, &format!("{label} first push"));
    let max = max_chunk(write_profile);
    let mut want: Vec<(&str, u64, blake3::Hash)> = vec![("/rt/first", 5, blake3::hash(b"first"))];
    for (path, bytes, chunks) in small_cases(max) {
        let out = kando(
            &["location", "push", "-p", write_profile, "-s", path, "-"],
            &bytes,
        );
        ok(&out, &format!("{label} push {path}"));
        assert_eq!(pushed_chunks(&out).1, chunks, "{label} {path}: chunk count");
        want.push((path, bytes.len() as u64, blake3::hash(&bytes)));
    }
    for (path, source) in gib_cases() {
        let (n, h) = hash_stream(source());
        let out = push_reader(
            &["location", "push", "-p", write_profile, "-s", path, "-"],
            source(),
            &[],
        );
        ok(&out, &format!("{label} push 1 GiB {path}"));
        want.push((path, n, h));
    }
    let pushed = t.elapsed();
    copy();
    let copied = t.elapsed();
    for (path, len, hash) in want {
        let (st, err, n, got) = pull_hash(
            &["location", "pull", "-p", read_profile, "-s", path, "-"],
            &[(REPORT_RSS, "1")],
        );
        assert!(st.success(), "{label} pull {path}: {err}");
        peak_rss_below(&err, &format!("{label} pull {path}"));
        assert_eq!(
            (n, got),
            (len, hash),
            "{label}: {path} restored differently"
        );
    }
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            read_profile,
            "-s",
            "/rt/never",
            "-",
        ],
        b"",
    );
    assert!(
        !out.status.success(),
        "{label}: pull of a path never pushed"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/rt/never"), "{label}: {err}");
    eprintln!(
        "{label} pull round trips: pushes {:.1} s, copy {:.1} s, pulls {:.1} s",
        pushed.as_secs_f64(),
        (copied - pushed).as_secs_f64(),
        (t.elapsed() - copied).as_secs_f64()
    );
}

/// The acceptance round trips through `kando location push/pull/delete` at
/// `profile`: 0 B, 1 B, exactly one maximal chunk (a chunk boundary at the
/// end of the stream), two maximal chunks, 1 GiB of random data and 1 GiB of
/// highly compressible data; then a repeated push adds nothing and a delete
/// forgets only its path.
pub fn roundtrips(profile: &str, label: &str) {
    let t = Instant::now();
    // The first push creates the repository; its chunker decides the boundary.
    let out = kando(
        &["location", "push", "-p", profile, "-s", "/rt/first", "-"],
        b"first",
    );
    ok(&out, &format!("{label} first push"));
    let max = max_chunk(profile);
    for (path, bytes, chunks) in small_cases(max) {
        let out = kando(
            &["location", "push", "-p", profile, "-s", path, "-"],
            &bytes,
        );
        ok(&out, &format!("{label} push {path}"));
        assert_eq!(pushed_chunks(&out).1, chunks, "{label} {path}: chunk count");
        let out = kando(&["location", "pull", "-p", profile, "-s", path, "-"], b"");
        ok(&out, &format!("{label} pull {path}"));
        assert!(
            out.stdout == bytes,
            "{label} {path}: restored {} bytes differ from the {} pushed",
            out.stdout.len(),
            bytes.len()
        );
    }
    // 1 GiB random and 1 GiB highly compressible, streamed both ways.
    let len = 1u64 << 30;
    for (path, source) in gib_cases() {
        let compressible = path == "/rt/compressible";
        let (_, want) = hash_stream(source());
        let out = push_reader(
            &["location", "push", "-p", profile, "-s", path, "-"],
            source(),
            &[(REPORT_RSS, "1")],
        );
        ok(&out, &format!("{label} push 1 GiB {path}"));
        peak_rss_below(
            &String::from_utf8_lossy(&out.stderr),
            &format!("{label} push 1 GiB {path}"),
        );
        let (new, total) = pushed_chunks(&out);
        let added = pushed_added_bytes(&out);
        if compressible {
            assert!(added < len / 10, "{label}: {path} added {added} bytes");
        } else {
            assert_eq!(new, total, "{label}: random data has no duplicate chunks");
            assert!(added >= len, "{label}: {path} added only {added} bytes");
        }
        let (st, err, n, got) = pull_hash(
            &["location", "pull", "-p", profile, "-s", path, "-"],
            &[(REPORT_RSS, "1")],
        );
        assert!(st.success(), "{label} pull 1 GiB {path}: {err}");
        peak_rss_below(&err, &format!("{label} pull 1 GiB {path}"));
        assert_eq!(
            (n, got),
            (len, want),
            "{label}: {path} restored differently"
        );
    }
    // Pushing it again adds nothing; delete forgets the path only.
    let out = push_stream(
        &["location", "push", "-p", profile, "-s", "/rt/random", "-"],
        64,
        len,
        &[],
    );
    ok(&out, &format!("{label} second push"));
    assert_eq!(
        pushed_added_bytes(&out),
        0,
        "{label}: second push added data"
    );
    let out = kando(
        &["location", "delete", "-p", profile, "-s", "/rt/random"],
        b"",
    );
    ok(&out, &format!("{label} delete"));
    let out = kando(
        &["location", "pull", "-p", profile, "-s", "/rt/random", "-"],
        b"",
    );
    assert!(
        !out.status.success(),
        "{label}: pull after delete succeeded"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/rt/random"),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(
        &["location", "pull", "-p", profile, "-s", "/rt/one", "-"],
        b"",
    );
    ok(&out, &format!("{label} pull after delete"));
    assert_eq!(out.stdout, vec![0x5a_u8]);
    eprintln!("{label} round trips: {:.1} s", t.elapsed().as_secs_f64());
}
