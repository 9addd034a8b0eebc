//! File trees: [`make_tree`] builds one with every file type and the
//! metadata a backup must keep; [`describe`] says what a restore must
//! reproduce, so two trees compare with `assert_eq!(describe(a), describe(b))`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Whether the tests run as root (devices and owners are only made then).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Build a tree with every file type under `root`/d: directories (one
/// empty), regular files (empty, text, 48 MiB sparse, a non-UTF-8 name),
/// three hardlinks of one inode, relative, dangling and non-UTF-8 symlinks,
/// a FIFO, and, as root, character and block devices and other owners; set-id
/// and sticky modes, and a distinct nanosecond mtime on every entry.
pub fn make_tree(root: &Path) {
    let d = root.join("d");
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    std::fs::create_dir(d.join("empty-dir")).unwrap();
    std::fs::write(d.join("hello.txt"), b"hello tree\n").unwrap();
    std::fs::write(d.join("empty"), b"").unwrap();
    let mut big = Vec::new();
    for i in 0..300_000u32 {
        big.extend_from_slice(format!("{i},row,{}\n", i % 97).as_bytes());
    }
    std::fs::write(d.join("sub/deeper/text.csv"), &big).unwrap();
    // Non-UTF-8 name.
    let odd = d.join(OsStr::from_bytes(b"caf\xe9-\xff\xfe.bin"));
    std::fs::write(&odd, [0u8, 1, 2, 255]).unwrap();
    // Sparse-ish: 48 MiB with data at three places.
    let mut f = std::fs::File::create(d.join("sparse.img")).unwrap();
    f.set_len(48 << 20).unwrap();
    for at in [0u64, 20 << 20, (48 << 20) - 5] {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(b"DATA!").unwrap();
    }
    drop(f);
    // Hardlinks: three names of one inode, one in another directory.
    std::fs::write(d.join("linked"), b"one inode, three names").unwrap();
    std::fs::hard_link(d.join("linked"), d.join("linked2")).unwrap();
    std::fs::hard_link(d.join("linked"), d.join("sub/linked3")).unwrap();
    std::os::unix::fs::symlink("hello.txt", d.join("rel-link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", d.join("dangling")).unwrap();
    std::os::unix::fs::symlink(OsStr::from_bytes(b"\xfftarget"), d.join("odd-link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    if is_root() {
        for (name, t, dev) in [
            (
                "null-dev",
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::makedev(1, 3),
            ),
            (
                "blk-dev",
                rustix::fs::FileType::BlockDevice,
                rustix::fs::makedev(7, 200),
            ),
        ] {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                d.join(name),
                t,
                rustix::fs::Mode::from_raw_mode(0o600),
                dev,
            )
            .unwrap();
        }
        rustix::fs::chownat(
            rustix::fs::CWD,
            d.join("hello.txt"),
            Some(rustix::fs::Uid::from_raw(1234)),
            Some(rustix::fs::Gid::from_raw(5678)),
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
        rustix::fs::chownat(
            rustix::fs::CWD,
            d.join("rel-link"),
            Some(rustix::fs::Uid::from_raw(42)),
            Some(rustix::fs::Gid::from_raw(43)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
    // Modes (after chown, which clears set-id bits) and mtimes.
    for (p, m) in [
        ("hello.txt", 0o4755),
        ("empty", 0o600),
        ("sub", 0o2750),
        ("empty-dir", 0o1777),
    ] {
        rustix::fs::chmodat(
            rustix::fs::CWD,
            d.join(p),
            rustix::fs::Mode::from_raw_mode(m),
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
    }
    let mut k = 0;
    for p in walk(root) {
        k += 1;
        let t = rustix::fs::Timespec {
            tv_sec: 1_600_000_000 + k * 3600,
            tv_nsec: 123_456_789 - k,
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            &p,
            &rustix::fs::Timestamps {
                last_access: t,
                last_modification: t,
            },
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
}

/// Every path under `root` (not following symlinks), deepest first.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
        out.push(p);
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    out
}

/// A description of everything under `root` that a restore must reproduce:
/// type, mode, owner, mtime, size, content hash, link target, device
/// number, and which names share an inode.
pub fn describe(root: &Path) -> BTreeMap<Vec<u8>, String> {
    let mut inodes: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut paths = walk(root);
    paths.sort();
    for p in paths {
        let rel = p
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let detail = if ft.is_file() {
            let mut h = blake3::Hasher::new();
            let mut f = std::fs::File::open(&p).unwrap();
            let mut b = vec![0u8; 1 << 16];
            loop {
                let n = f.read(&mut b).unwrap();
                if n == 0 {
                    break;
                }
                h.update(&b[..n]);
            }
            let first = inodes
                .entry(md.ino())
                .or_insert_with(|| rel.clone())
                .clone();
            format!(
                "file size={} b3={} inode-of={}",
                md.len(),
                h.finalize().to_hex(),
                String::from_utf8_lossy(&first)
            )
        } else if ft.is_symlink() {
            format!("symlink -> {:?}", std::fs::read_link(&p).unwrap())
        } else if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_fifo() {
            "fifo".to_string()
        } else if ft.is_char_device() {
            format!("chardev {}", md.rdev())
        } else if ft.is_block_device() {
            format!("blockdev {}", md.rdev())
        } else {
            "other".to_string()
        };
        // A directory's root entry may differ in mtime only if it is the
        // restore target itself, which is not part of the description.
        out.insert(
            rel,
            format!(
                "{detail} mode={:o} owner={}:{} mtime={}.{:09}",
                md.mode() & 0o7777,
                md.uid(),
                md.gid(),
                md.mtime(),
                md.mtime_nsec()
            ),
        );
    }
    out
}
