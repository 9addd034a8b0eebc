//! Database servers the tests start from the host's packages (Debian:
//! postgresql-15, mariadb-server, redis-server, etcd-server/etcd-client),
//! each in its own temporary directory on a free port of 127.0.0.1.
//!
//! A server runs in its own process group under a supervisor thread; dropping
//! the [`Server`] kills the group and removes the directory. Redis and etcd are
//! restarted by the supervisor when they exit, like a container under a
//! kubelet or a service under systemd with `Restart=always`: their restore
//! procedures stop the server and rely on that.
//!
//! Servers that refuse to run as root (PostgreSQL; MariaDB is told `--user`)
//! run as their Debian system user when the tests run as root, from their
//! own directory (a checkout may sit where that user cannot enter).
//!
//! When a binary is missing, [`available`] prints a SKIP notice and the test
//! passes, unless `KAPSEL_DB_TESTS=1` (set in CI), when it fails.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};

use crate::fixtures::{password, write_private};
use crate::net::{free_port, which};

/// Whether every binary is there. When one is missing: fails the test under
/// `KAPSEL_DB_TESTS=1`, otherwise prints a loud SKIP notice and returns false.
pub fn available(test: &str, binaries: &[&str]) -> bool {
    let missing: Vec<&str> = binaries
        .iter()
        .copied()
        .filter(|b| which(b).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    crate::skip::unless_required(
        "KAPSEL_DB_TESTS",
        &format!(
            "{test}: missing {} (Debian: postgresql-15, mariadb-server, mariadb-client, redis-server, redis-tools, etcd-server, etcd-client, curl; npm: redis-dump)",
            missing.join(", ")
        ),
    );
    false
}

/// PostgreSQL's server binaries: `KAPSEL_PG_BIN`, else the newest
/// /usr/lib/postgresql/*/bin.
pub fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KAPSEL_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut dirs: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), |d| d.1)
}

/// A temporary directory every user can enter (servers run as other users).
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix(&format!("kapsel-dbtests-{prefix}-"))
        .tempdir()
        .unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// uid and gid of a system user when we are root (the server then runs as
/// that user); None otherwise.
fn drop_to(user: &str) -> Option<(u32, u32)> {
    if !nix::unistd::Uid::effective().is_root() {
        return None;
    }
    let u = User::from_name(user).ok().flatten().unwrap_or_else(|| {
        panic!("running as root, but there is no {user} user to run the server as")
    });
    Some((u.uid.as_raw(), u.gid.as_raw()))
}

fn mkdir_owned(path: &Path, owner: Option<(u32, u32)>, mode: u32) {
    fs::create_dir_all(path).unwrap();
    if let Some((u, g)) = owner {
        chown(path, Some(u), Some(g)).unwrap();
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// How a supervised server is started.
struct Spec {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    user: Option<(u32, u32)>,
    restart: bool,
    log: PathBuf,
}

#[derive(Default)]
struct SupState {
    pgid: Option<i32>,
    stopping: bool,
    starts: u32,
}

/// A running server; dropping it kills its process group and removes its
/// directory.
pub struct Server {
    /// What it is (for messages).
    pub kind: &'static str,
    /// The loopback address it listens on (127.0.0.1 unless said otherwise).
    pub host: String,
    /// Its client port.
    pub port: u16,
    /// Its second port (etcd's peer port), if any.
    pub peer_port: u16,
    /// The password clients use.
    pub password: String,
    /// Environment a client needs (never argv).
    pub client_env: BTreeMap<String, String>,
    /// The server's data directory.
    pub data: PathBuf,
    state: Arc<Mutex<SupState>>,
    thread: Option<JoinHandle<()>>,
    log: PathBuf,
    // Last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Server {
    /// The directory holding everything of this server (and files a test puts
    /// next to it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How often the server was started (restarts by its supervisor count).
    pub fn starts(&self) -> u32 {
        self.state.lock().unwrap().starts
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn spawn(dir: tempfile::TempDir, kind: &'static str, spec: Spec) -> Self {
        let state = Arc::new(Mutex::new(SupState::default()));
        let st = Arc::clone(&state);
        let log = spec.log.clone();
        let thread = std::thread::spawn(move || supervise(&spec, &st));
        Self {
            kind,
            host: "127.0.0.1".to_string(),
            port: 0,
            peer_port: 0,
            password: String::new(),
            client_env: BTreeMap::new(),
            data: PathBuf::new(),
            state,
            thread: Some(thread),
            log,
            dir,
        }
    }

    /// Waits until `probe` succeeds (the server is up), or panics with the log.
    pub fn wait_ready(&self, mut probe: impl FnMut() -> bool) {
        // A generous deadline: CI machines can be loaded.
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            if TcpStream::connect((self.host.as_str(), self.port)).is_ok() && probe() {
                return;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        panic!(
            "{} on {}:{} did not become ready within 180 s; its log:\n{}",
            self.kind,
            self.host,
            self.port,
            self.log_tail()
        );
    }

    /// A client command with this server's client environment.
    pub fn client(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(&self.client_env);
        c
    }
}

fn supervise(spec: &Spec, state: &Mutex<SupState>) {
    loop {
        let mut child = {
            let mut st = state.lock().unwrap();
            if st.stopping {
                return;
            }
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spec.log)
                .unwrap();
            let mut c = Command::new(&spec.program);
            // From the server's own directory: the test's working directory
            // (the checkout) may be one the server's user cannot enter.
            c.args(&spec.args)
                .current_dir(spec.log.parent().unwrap_or(Path::new("/")))
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0);
            if let Some((u, g)) = spec.user {
                c.uid(u).gid(g);
            }
            let child = match c.spawn() {
                Ok(ch) => ch,
                Err(e) => {
                    eprintln!("cannot start {}: {e}", spec.program.display());
                    return;
                }
            };
            st.pgid = i32::try_from(child.id()).ok();
            st.starts += 1;
            child
        };
        let _ = child.wait();
        {
            let mut st = state.lock().unwrap();
            st.pgid = None;
            if st.stopping || !spec.restart {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        {
            let mut st = self.state.lock().unwrap();
            st.stopping = true;
            if let Some(pgid) = st.pgid {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs a command to completion, panicking with its output when it fails.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command with `stdin` as its input.
pub fn run_with_stdin(cmd: &mut Command, stdin: &str, what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_string();
    let t = std::thread::spawn(move || {
        let _ = si.write_all(data.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------- PostgreSQL

/// Starts PostgreSQL with password (SCRAM) authentication for `postgres` over
/// TCP; `client_env` carries PGHOST, PGPORT, PGUSER and PGPASSFILE.
pub fn postgres() -> Server {
    let bin = pg_bin();
    let dir = scratch("pg");
    let user = drop_to("postgres");
    let data = dir.path().join("data");
    mkdir_owned(&data, user, 0o700);
    let pw = password();
    let pwfile = dir.path().join("initdb-pw");
    write_private(&pwfile, &format!("{pw}\n"), user);
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .args([
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["-E", "UTF8", "--no-sync"])
        .current_dir(dir.path());
    if let Some((u, g)) = user {
        initdb.uid(u).gid(g);
    }
    run_ok(&mut initdb, "initdb");
    fs::remove_file(&pwfile).unwrap();
    let port = free_port();
    let log = dir.path().join("server.log");
    let spec = Spec {
        program: bin.join("postgres"),
        args: [
            "-D",
            data.to_str().unwrap(),
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            &format!("unix_socket_directories={}", data.display()),
            // Speed on a small test machine; durability is not under test.
            "-c",
            "fsync=off",
        ]
        .iter()
        .map(ToString::to_string)
        .collect(),
        env: vec![("LC_ALL".into(), "C".into())],
        user,
        restart: false,
        log,
    };
    let passfile = dir.path().join("pgpass");
    write_private(
        &passfile,
        &format!("127.0.0.1:{port}:*:postgres:{pw}\n"),
        None,
    );
    let mut s = Server::spawn(dir, "PostgreSQL", spec);
    s.port = port;
    s.password = pw;
    s.data = data;
    s.client_env = [
        ("PGHOST", "127.0.0.1".to_string()),
        ("PGPORT", port.to_string()),
        ("PGUSER", "postgres".to_string()),
        ("PGPASSFILE", passfile.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let isready = bin.join("pg_isready");
    s.wait_ready(|| {
        Command::new(&isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|st| st.success())
    });
    s
}

impl Server {
    /// `psql` on `db` with this server's credentials, reading `sql` from stdin;
    /// unaligned tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        run_with_stdin(
            self.client("psql")
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]),
            sql,
            &format!("psql on port {}", self.port),
        )
    }
}

// ---------------------------------------------------------------- MariaDB

/// Starts MariaDB with a root password; `client_env` carries MYSQL_HOME, whose
/// my.cnf (mode 0600) has host, port, user and password for every client.
pub fn mariadb() -> Server {
    let dir = scratch("mariadb");
    let user = drop_to("mysql");
    let data = dir.path().join("data");
    mkdir_owned(&data, user, 0o750);
    // A private tmpdir: concurrent installs and servers sharing /tmp have
    // failed in CI ("Could not remove temporary table '/tmp/#sql-temptable-…'").
    let tmp = dir.path().join("tmp");
    mkdir_owned(&tmp, user, 0o750);
    let mut install = Command::new("mariadb-install-db");
    install
        .args(["--no-defaults", "--auth-root-authentication-method=normal"])
        .arg("--skip-test-db")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .env("TMPDIR", &tmp)
        .current_dir(dir.path());
    if user.is_some() {
        install.arg("--user=mysql");
    }
    run_ok(&mut install, "mariadb-install-db");
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut args: Vec<String> = vec![
        "--no-defaults".into(),
        format!("--datadir={}", data.display()),
        format!("--tmpdir={}", tmp.display()),
        "--bind-address=127.0.0.1".into(),
        format!("--port={port}"),
        format!("--socket={}", data.join("mysqld.sock").display()),
        format!("--pid-file={}", data.join("mysqld.pid").display()),
        "--skip-log-bin".into(),
        // Speed on a small test machine; durability is not under test.
        "--innodb-flush-log-at-trx-commit=0".into(),
        "--innodb-buffer-pool-size=64M".into(),
    ];
    if user.is_some() {
        args.push("--user=mysql".into());
    }
    let spec = Spec {
        program: which("mariadbd").unwrap_or_else(|| PathBuf::from("/usr/sbin/mariadbd")),
        args,
        env: Vec::new(),
        user: None,
        restart: false,
        log,
    };
    let mut s = Server::spawn(dir, "MariaDB", spec);
    s.port = port;
    s.data = data;
    let root = |s: &Server| {
        let mut c = Command::new("mariadb");
        c.args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &s.port.to_string(),
        ])
        .args(["-u", "root", "-N", "-B"]);
        c
    };
    s.wait_ready(|| {
        root(&s)
            .arg("-e")
            .arg("SELECT 1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    });
    // Give every root account a password (read from stdin, not argv).
    let pw = password();
    let hosts = run_ok(
        root(&s)
            .arg("-e")
            .arg("SELECT host FROM mysql.user WHERE user = 'root'"),
        "listing root accounts",
    );
    let sql: String = hosts
        .lines()
        .map(|h| format!("ALTER USER 'root'@'{h}' IDENTIFIED BY '{pw}';\n"))
        .collect();
    run_with_stdin(&mut root(&s), &sql, "setting the root password");
    let home = s.dir().join("client");
    mkdir_owned(&home, None, 0o700);
    write_private(
        &home.join("my.cnf"),
        &format!("[client]\nhost=127.0.0.1\nport={port}\nuser=root\npassword={pw}\n"),
        None,
    );
    s.password = pw;
    s.client_env = [("MYSQL_HOME".to_string(), home.display().to_string())].into();
    s
}

impl Server {
    /// `mariadb` on `db` (empty: none) with this server's option file,
    /// reading `sql` from stdin; tab-separated rows without headers.
    pub fn mysql(&self, db: &str, sql: &str) -> String {
        let mut c = self.client("mariadb");
        c.args(["-N", "-B"]);
        if !db.is_empty() {
            c.arg(db);
        }
        run_with_stdin(&mut c, sql, &format!("mariadb on port {}", self.port))
    }
}

// ---------------------------------------------------------------- Redis

/// Starts Redis with a password (in its config file, not argv), RDB
/// snapshots on (`save 60 1`), AOF off; restarted by the supervisor when it
/// exits. `client_env` carries REDISCLI_AUTH, REDIS_HOST and REDIS_PORT.
pub fn redis() -> Server {
    redis_on("127.0.0.1", free_port())
}

/// A loopback address 127.0.0.X (X in 20..=250, random) where `port` is free,
/// never handed out twice by one test process: for servers whose port is
/// fixed by what talks to them (Kanister's Redis Blueprint: 6379).
pub fn free_loopback(port: u16) -> String {
    static GIVEN: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut seed = [0u8; 1];
    for _ in 0..1000 {
        fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut seed)
            .unwrap();
        let x = 20 + seed[0] % 231;
        if given.contains(&x) {
            continue;
        }
        let addr = format!("127.0.0.{x}");
        if TcpListener::bind((addr.as_str(), port)).is_ok() {
            given.push(x);
            return addr;
        }
    }
    panic!("no loopback address 127.0.0.X with port {port} free");
}

/// Like [`redis`], listening on `host:port`.
pub fn redis_on(host: &str, port: u16) -> Server {
    let dir = scratch("redis");
    let data = dir.path().join("data");
    mkdir_owned(&data, None, 0o700);
    let pw = password();
    let conf = dir.path().join("redis.conf");
    write_private(
        &conf,
        &format!(
            "port {port}\nbind {host}\ndir {}\ndbfilename dump.rdb\nsave 60 1\nappendonly no\nrequirepass {pw}\ndaemonize no\n",
            data.display()
        ),
        None,
    );
    let spec = Spec {
        program: which("redis-server").unwrap_or_else(|| PathBuf::from("redis-server")),
        args: vec![conf.display().to_string()],
        env: Vec::new(),
        user: None,
        restart: true,
        log: dir.path().join("server.log"),
    };
    let mut s = Server::spawn(dir, "Redis", spec);
    s.host = host.to_string();
    s.port = port;
    s.password = pw.clone();
    s.data = data;
    s.client_env = [
        ("REDISCLI_AUTH", pw),
        ("REDIS_HOST", host.to_string()),
        ("REDIS_PORT", port.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    s.wait_ready(|| s.redis_try(&["PING"]).is_some_and(|o| o.trim() == "PONG"));
    s
}

impl Server {
    fn redis_try(&self, args: &[&str]) -> Option<String> {
        let out: Output = self
            .client("redis-cli")
            .args([
                "--no-auth-warning",
                "-h",
                &self.host,
                "-p",
                &self.port.to_string(),
            ])
            .arg("--raw")
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// One redis-cli command (raw output).
    pub fn redis_cli(&self, args: &[&str]) -> String {
        self.redis_try(args)
            .unwrap_or_else(|| panic!("redis-cli {args:?} failed on port {}", self.port))
    }
}

// ---------------------------------------------------------------- etcd

/// Starts a single-member etcd configured through its `ETCD_*` environment
/// (as a container would be); restarted by the supervisor when it exits.
/// `client_env` carries the same `ETCD_*` variables, ETCDCTL_API=3 and
/// ETCDCTL_ENDPOINTS.
pub fn etcd() -> Server {
    let dir = scratch("etcd");
    let data = dir.path().join("data");
    let port = free_port();
    let peer = free_port();
    let name = "member0";
    let peer_url = format!("http://127.0.0.1:{peer}");
    let client_url = format!("http://127.0.0.1:{port}");
    let env: Vec<(String, String)> = [
        ("ETCD_NAME", name.to_string()),
        ("ETCD_DATA_DIR", data.display().to_string()),
        ("ETCD_LISTEN_CLIENT_URLS", client_url.clone()),
        ("ETCD_ADVERTISE_CLIENT_URLS", client_url.clone()),
        ("ETCD_LISTEN_PEER_URLS", peer_url.clone()),
        ("ETCD_INITIAL_ADVERTISE_PEER_URLS", peer_url.clone()),
        ("ETCD_INITIAL_CLUSTER", format!("{name}={peer_url}")),
        ("ETCD_INITIAL_CLUSTER_TOKEN", "kapsel-dbtests".to_string()),
        ("ETCD_INITIAL_CLUSTER_STATE", "new".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let spec = Spec {
        program: which("etcd").unwrap_or_else(|| PathBuf::from("etcd")),
        args: Vec::new(),
        env: env.clone(),
        user: None,
        restart: true,
        log: dir.path().join("server.log"),
    };
    let mut s = Server::spawn(dir, "etcd", spec);
    s.port = port;
    s.peer_port = peer;
    s.data = data;
    s.client_env = env.into_iter().collect();
    s.client_env.insert("ETCDCTL_API".into(), "3".into());
    s.client_env.insert("ETCDCTL_ENDPOINTS".into(), client_url);
    s.wait_ready(|| {
        s.client("etcdctl")
            .args(["endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    });
    s
}

impl Server {
    /// One etcdctl command.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        run_ok(
            self.client("etcdctl").args(args),
            &format!("etcdctl {args:?}"),
        )
    }
}
