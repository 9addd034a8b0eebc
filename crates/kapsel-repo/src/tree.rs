//! Directory-tree snapshots (docs/format.md §8.1).
//!
//! A tree snapshot stores two streams through the same chunk → dedup →
//! compress → seal pipeline as stream backups:
//! - the **content stream**: the bytes of every regular file, concatenated
//!   in entry order (so thousands of small files share chunks and packs, and
//!   content-defined chunking keeps unchanged files deduplicated);
//! - the **tree stream**: one record per entry (path, type, mode, owner,
//!   mtime, and the file's range of the content stream, a symlink's target,
//!   a hardlink's first path or a device number), in the versioned binary
//!   format that [`encode_tree`] writes and [`decode_tree`] checks.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::backup::{BackupOptions, BackupSummary};
use crate::error::{RepoError, Result};
use crate::format::Id;
use crate::newfile::NewFile;
use crate::repo::{Repository, Snapshot, Source, StreamContent};
use crate::restore::RestoreOptions;

/// First bytes of a tree stream.
pub const TREE_MAGIC: &[u8; 4] = b"KPST";
/// The tree stream version this code writes and reads.
pub const TREE_VERSION: u8 = 1;
/// Longest path or link target accepted (bytes).
pub const MAX_PATH: usize = 64 * 1024;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file: bytes `offset..offset + size` of the content stream.
    File {
        /// Start in the content stream.
        offset: u64,
        /// Length.
        size: u64,
    },
    /// A symbolic link.
    Symlink {
        /// Its target, as stored (not resolved).
        target: Vec<u8>,
    },
    /// Another name of an earlier file entry (same inode).
    Hardlink {
        /// Path of the earlier file entry.
        target: Vec<u8>,
    },
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDev {
        /// Device number.
        rdev: u64,
    },
    /// A block device.
    BlockDev {
        /// Device number.
        rdev: u64,
    },
}

impl EntryKind {
    fn code(&self) -> u8 {
        match self {
            EntryKind::Dir => 1,
            EntryKind::File { .. } => 2,
            EntryKind::Symlink { .. } => 3,
            EntryKind::Hardlink { .. } => 4,
            EntryKind::Fifo => 5,
            EntryKind::CharDev { .. } => 6,
            EntryKind::BlockDev { .. } => 7,
        }
    }
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path without the leading `/`, components separated by `/` (raw bytes:
    /// names need not be UTF-8).
    pub path: Vec<u8>,
    /// Type and type-specific data.
    pub kind: EntryKind,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: u32,
}

/// Why a tree stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Wrong magic.
    #[error("not a Kapsel tree stream (wrong magic)")]
    Foreign,
    /// Another version.
    #[error("tree stream version {0}, this Kapsel reads version {TREE_VERSION}")]
    Version(u8),
    /// Ends before its end record.
    #[error("tree stream is truncated (at byte {0})")]
    Truncated(usize),
    /// Structurally invalid.
    #[error("tree stream is malformed at entry {entry}: {reason}")]
    Malformed {
        /// Entry number.
        entry: u64,
        /// What is wrong.
        reason: String,
    },
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Encode a tree stream.
pub fn encode_tree(entries: &[TreeEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + entries.len() * 64);
    out.extend_from_slice(TREE_MAGIC);
    out.push(TREE_VERSION);
    for e in entries {
        out.push(e.kind.code());
        put_bytes(&mut out, &e.path);
        out.extend_from_slice(&e.mode.to_le_bytes());
        out.extend_from_slice(&e.uid.to_le_bytes());
        out.extend_from_slice(&e.gid.to_le_bytes());
        out.extend_from_slice(&e.mtime.to_le_bytes());
        out.extend_from_slice(&e.mtime_nsec.to_le_bytes());
        match &e.kind {
            EntryKind::Dir | EntryKind::Fifo => {}
            EntryKind::File { offset, size } => {
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
            }
            EntryKind::Symlink { target } | EntryKind::Hardlink { target } => {
                put_bytes(&mut out, target)
            }
            EntryKind::CharDev { rdev } | EntryKind::BlockDev { rdev } => {
                out.extend_from_slice(&rdev.to_le_bytes())
            }
        }
    }
    out.push(0);
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    out
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], TreeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or(TreeError::Truncated(self.b.len()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> std::result::Result<[u8; N], TreeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u32(&mut self) -> std::result::Result<u32, TreeError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> std::result::Result<u64, TreeError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn bytes(&mut self) -> std::result::Result<&'a [u8], TreeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// A relative path is valid when it is non-empty, not absolute, has no
/// empty, `.` or `..` component and no NUL byte.
pub fn valid_path(p: &[u8]) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PATH
        && !p.contains(&0)
        && p.split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Decode and validate a tree stream: paths are relative and free of `..`,
/// file ranges tile the content stream in order, hardlinks name an earlier
/// file, the end record's count matches, nothing follows it.
/// Returns the entries and the content stream's length.
pub fn decode_tree(b: &[u8]) -> std::result::Result<(Vec<TreeEntry>, u64), TreeError> {
    if b.len() < 4 || &b[..4] != TREE_MAGIC {
        return Err(TreeError::Foreign);
    }
    if b.len() < 5 {
        return Err(TreeError::Truncated(b.len()));
    }
    if b[4] != TREE_VERSION {
        return Err(TreeError::Version(b[4]));
    }
    let mut c = Cursor { b, at: 5 };
    let mut out: Vec<TreeEntry> = Vec::new();
    let mut files: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    let mut content = 0u64;
    loop {
        let n = out.len() as u64;
        let bad = |reason: &str| TreeError::Malformed {
            entry: n,
            reason: reason.to_string(),
        };
        let code = c.arr::<1>()?[0];
        if code == 0 {
            let count = c.u64()?;
            if count != n {
                return Err(bad("end record's count differs from the entries"));
            }
            if c.at != b.len() {
                return Err(bad("bytes after the end record"));
            }
            return Ok((out, content));
        }
        let path = c.bytes()?.to_vec();
        if !valid_path(&path) {
            return Err(bad("invalid path (empty, absolute, '.', '..' or NUL)"));
        }
        let mode = c.u32()?;
        if mode & !0o7777 != 0 {
            return Err(bad("mode has bits beyond 0o7777"));
        }
        let uid = c.u32()?;
        let gid = c.u32()?;
        let mtime = c.u64()? as i64;
        let mtime_nsec = c.u32()?;
        if mtime_nsec >= 1_000_000_000 {
            return Err(bad("mtime nanoseconds out of range"));
        }
        let kind = match code {
            1 => EntryKind::Dir,
            2 => {
                let offset = c.u64()?;
                let size = c.u64()?;
                if offset != content {
                    return Err(bad("file range does not follow the previous file"));
                }
                content = content
                    .checked_add(size)
                    .ok_or_else(|| bad("file size overflows"))?;
                files.insert(path.clone());
                EntryKind::File { offset, size }
            }
            3 => {
                let t = c.bytes()?;
                if t.is_empty() || t.len() > MAX_PATH || t.contains(&0) {
                    return Err(bad("invalid symlink target"));
                }
                EntryKind::Symlink { target: t.to_vec() }
            }
            4 => {
                let t = c.bytes()?;
                if !files.contains(t) {
                    return Err(bad("hardlink to a path that is not an earlier file"));
                }
                EntryKind::Hardlink { target: t.to_vec() }
            }
            5 => EntryKind::Fifo,
            6 => EntryKind::CharDev { rdev: c.u64()? },
            7 => EntryKind::BlockDev { rdev: c.u64()? },
            _ => return Err(bad("unknown entry type")),
        };
        out.push(TreeEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            mtime,
            mtime_nsec,
        });
    }
}

/// What a tree backup or restore did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TreeSummary {
    /// The snapshot.
    pub snapshot: String,
    /// Regular files (each hardlinked inode once).
    pub files: u64,
    /// Entries of every type.
    pub entries: u64,
    /// Bytes of regular files.
    pub size: u64,
    /// Bytes added to the repository (backup only).
    pub added_bytes: u64,
    /// Things skipped (sockets at backup; at restore, device nodes or
    /// ownership the process may not create or set), one line each.
    pub skipped: Vec<String>,
}

fn io_at(path: &Path, e: std::io::Error) -> RepoError {
    RepoError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// Walk `root` (not following symlinks), appending entries in depth-first
/// order with names sorted bytewise; `sources` gets the path of each file
/// entry, in order.
fn walk(
    root: &Path,
    entries: &mut Vec<TreeEntry>,
    sources: &mut Vec<PathBuf>,
    inodes: &mut HashMap<(u64, u64), Vec<u8>>,
    skipped: &mut Vec<String>,
) -> Result<()> {
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = std::fs::symlink_metadata(&p).map_err(|e| io_at(&p, e))?;
        let rel = p
            .as_os_str()
            .as_bytes()
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect::<Vec<_>>()
            .join(&b'/');
        if !valid_path(&rel) {
            return Err(RepoError::InvalidInput(format!(
                "{}: paths must be absolute and without '..'",
                p.display()
            )));
        }
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            if md.nlink() > 1 {
                if let Some(first) = inodes.get(&(md.dev(), md.ino())) {
                    EntryKind::Hardlink {
                        target: first.clone(),
                    }
                } else {
                    inodes.insert((md.dev(), md.ino()), rel.clone());
                    sources.push(p.clone());
                    EntryKind::File {
                        offset: 0,
                        size: md.len(),
                    }
                }
            } else {
                sources.push(p.clone());
                EntryKind::File {
                    offset: 0,
                    size: md.len(),
                }
            }
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&p).map_err(|e| io_at(&p, e))?;
            EntryKind::Symlink {
                target: t.as_os_str().as_bytes().to_vec(),
            }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else if ft.is_char_device() {
            EntryKind::CharDev { rdev: md.rdev() }
        } else if ft.is_block_device() {
            EntryKind::BlockDev { rdev: md.rdev() }
        } else {
            skipped.push(format!("{}: socket (not backed up)", p.display()));
            continue;
        };
        let is_dir = kind == EntryKind::Dir;
        entries.push(TreeEntry {
            path: rel,
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            mtime: md.mtime(),
            mtime_nsec: md.mtime_nsec().clamp(0, 999_999_999) as u32,
        });
        if is_dir {
            let mut names: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| io_at(&p, e))?
                .map(|d| d.map(|d| d.path()))
                .collect::<std::io::Result<_>>()
                .map_err(|e| io_at(&p, e))?;
            // Reverse order on the stack pops them in ascending order.
            names.sort_by(|a, b| b.as_os_str().as_bytes().cmp(a.as_os_str().as_bytes()));
            stack.extend(names);
        }
    }
    Ok(())
}

/// Reads the files in order, as one stream, recording each file's length.
struct ContentReader {
    sources: std::vec::IntoIter<PathBuf>,
    cur: Option<(PathBuf, std::fs::File)>,
    sizes: Arc<Mutex<Vec<u64>>>,
    n: u64,
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.cur.is_none() {
                let Some(p) = self.sources.next() else {
                    return Ok(0);
                };
                let f = std::fs::File::open(&p)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
                self.cur = Some((p, f));
                self.n = 0;
            }
            if let Some((p, f)) = self.cur.as_mut() {
                let k = f
                    .read(buf)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
                if k > 0 {
                    self.n += k as u64;
                    return Ok(k);
                }
            }
            self.cur = None;
            if let Ok(mut s) = self.sizes.lock() {
                s.push(self.n);
            }
        }
    }
}

impl Repository {
    /// Back up the directory trees (or single files) at the absolute `roots`
    /// as one snapshot whose paths are `roots`.
    pub async fn backup_tree(
        &self,
        roots: &[PathBuf],
        opts: BackupOptions,
    ) -> Result<(BackupSummary, TreeSummary)> {
        let mut opts = opts;
        let mut entries = Vec::new();
        let mut sources = Vec::new();
        let mut skipped = Vec::new();
        let roots2: Vec<PathBuf> = roots.to_vec();
        for r in &roots2 {
            if !r.is_absolute() {
                return Err(RepoError::InvalidInput(format!(
                    "{}: backup paths must be absolute",
                    r.display()
                )));
            }
        }
        let (entries, sources, skipped) = tokio::task::spawn_blocking(move || {
            let mut inodes = HashMap::new();
            for r in &roots2 {
                walk(r, &mut entries, &mut sources, &mut inodes, &mut skipped)?;
            }
            Ok::<_, RepoError>((entries, sources, skipped))
        })
        .await
        .map_err(|e| RepoError::Task(e.to_string()))??;
        if let Some(p) = &opts.progress {
            // The sizes at the walk (the bytes read may differ if a file
            // changes meanwhile).
            p.set_total(
                entries
                    .iter()
                    .map(|e| match e.kind {
                        EntryKind::File { size, .. } => size,
                        _ => 0,
                    })
                    .sum(),
            );
        }
        let sizes: Arc<Mutex<Vec<u64>>> = Arc::default();
        let reader = ContentReader {
            sources: sources.into_iter(),
            cur: None,
            sizes: sizes.clone(),
            n: 0,
        };
        let mut session = self.begin_backup(&opts).await?;
        let streams = async {
            let data = self
                .store_stream(&mut session, reader, Some(sizes.clone()))
                .await?;
            let sizes = sizes.lock().map(|s| s.clone()).unwrap_or_default();
            let mut entries = entries;
            let mut offset = 0u64;
            let mut it = sizes.iter();
            let mut files = 0u64;
            for e in &mut entries {
                if let EntryKind::File { .. } = e.kind {
                    let size = *it.next().ok_or_else(|| {
                        RepoError::Task("fewer file sizes than files were recorded".into())
                    })?;
                    e.kind = EntryKind::File { offset, size };
                    offset += size;
                    files += 1;
                }
            }
            if offset != data.size {
                return Err(RepoError::Task(format!(
                    "files add up to {offset} bytes, the content stream has {}",
                    data.size
                )));
            }
            let tree_bytes = encode_tree(&entries);
            // The listing is not part of the bytes the progress counts.
            session.counted = false;
            let tree = self
                .store_stream(&mut session, std::io::Cursor::new(tree_bytes), None)
                .await?;
            if opts.paths.is_empty() {
                opts.paths = roots
                    .iter()
                    .map(|r| r.to_string_lossy().into_owned())
                    .collect();
            }
            let source = Source::Tree {
                files,
                entries: entries.len() as u64,
                size: data.size,
                tree: StreamContent {
                    size: tree.size,
                    chunks: tree.chunks,
                    content: tree.content,
                },
                data: StreamContent {
                    size: data.size,
                    chunks: data.chunks,
                    content: data.content,
                },
            };
            Ok::<_, RepoError>((source, data.size, files, entries.len() as u64))
        }
        .await;
        let (source, size, files, n_entries) = match streams {
            Ok(x) => x,
            Err(e) => {
                session.abandon().await;
                return Err(e);
            }
        };
        let sum = self.commit_backup(session, source, opts, size).await?;
        let t = TreeSummary {
            snapshot: sum.snapshot.clone(),
            files,
            entries: n_entries,
            size,
            added_bytes: sum.added_bytes,
            skipped,
        };
        Ok((sum, t))
    }

    /// The blobs a snapshot needs, counted once each: (count, stored bytes).
    /// This is what the snapshot occupies in the repository before sharing
    /// with other snapshots (restic's "raw-data" statistic).
    pub async fn snapshot_raw_size(&self, id: &Id, snap: &Snapshot) -> Result<(u64, u64)> {
        let index = self.load_index().await?;
        let mut seen = std::collections::HashSet::new();
        let mut bytes = 0u64;
        let missing = |b: &Id| RepoError::Restore {
            snapshot: id.to_hex(),
            reason: format!("blob {b} is not in the index"),
        };
        for (_, content) in snap.source.streams() {
            for h in content {
                let mid = Id::from_hex(h).ok_or_else(|| RepoError::Restore {
                    snapshot: id.to_hex(),
                    reason: format!("malformed meta blob id {h:?}"),
                })?;
                let loc = index.locate(&mid).ok_or_else(|| missing(&mid))?;
                if seen.insert(mid) {
                    bytes += loc.entry.length as u64;
                }
                let list = self.read_blob(loc).await?;
                for b in crate::format::decode_id_list(&list)
                    .map_err(|e| e.into_repo(&format!("meta blob {mid}")))?
                {
                    let l = index.locate(&b).ok_or_else(|| missing(&b))?;
                    if seen.insert(b) {
                        bytes += l.entry.length as u64;
                    }
                }
            }
        }
        Ok((seen.len() as u64, bytes))
    }

    /// Read and decode the entries of a tree snapshot.
    pub async fn tree_entries(&self, id: &Id, snap: &Snapshot) -> Result<Vec<TreeEntry>> {
        let Source::Tree { tree, data, .. } = &snap.source else {
            return Err(not_a_tree(id));
        };
        let index = self.load_index().await?;
        let (_, buf) = self
            .restore_content(
                &index,
                id,
                tree.size,
                &tree.content,
                Vec::with_capacity(tree.size.min(1 << 30) as usize),
                RestoreOptions::default(),
            )
            .await?;
        let (entries, content) = decode_tree(&buf).map_err(|e| RepoError::Restore {
            snapshot: id.to_hex(),
            reason: format!("tree stream: {e}"),
        })?;
        if content != data.size {
            return Err(RepoError::Restore {
                snapshot: id.to_hex(),
                reason: format!(
                    "the tree's files add up to {content} bytes, its content stream has {}",
                    data.size
                ),
            });
        }
        Ok(entries)
    }

    /// Restore a tree snapshot under `target` (each entry at
    /// `target/<path>`), or with `subpath` (an absolute source path) only
    /// that path, placed at `target` itself. Files are written sparsely
    /// (all-zero 4 KiB blocks become holes); then hardlinks, fifos, device
    /// nodes and symlinks are made; then owners, modes and mtimes are set
    /// (directories last, deepest first).
    pub async fn restore_tree(
        &self,
        id: &Id,
        snap: &Snapshot,
        target: &Path,
        subpath: Option<&[u8]>,
        opts: RestoreOptions,
    ) -> Result<TreeSummary> {
        let Source::Tree { data, .. } = &snap.source else {
            return Err(not_a_tree(id));
        };
        let entries = self.tree_entries(id, snap).await?;
        let sub: Option<Vec<u8>> = subpath.map(|s| {
            s.split(|b| *b == b'/')
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(&b'/')
        });
        let dest = |p: &[u8]| -> Option<PathBuf> {
            match &sub {
                None => Some(target.join(OsStr::from_bytes(p))),
                Some(s) if p == s.as_slice() => Some(target.to_path_buf()),
                Some(s) if s.is_empty() => Some(target.join(OsStr::from_bytes(p))),
                Some(s) => p
                    .strip_prefix(s.as_slice())
                    .and_then(|r| r.strip_prefix(b"/"))
                    .map(|r| target.join(OsStr::from_bytes(r))),
            }
        };
        if let Some(s) = &sub
            && !entries.iter().any(|e| dest(&e.path).is_some())
        {
            return Err(RepoError::Restore {
                snapshot: id.to_hex(),
                reason: format!(
                    "has no path /{} (use a path from the snapshot)",
                    String::from_utf8_lossy(s)
                ),
            });
        }
        std::fs::create_dir_all(target).map_err(|e| io_at(target, e))?;
        let mut sum = TreeSummary {
            snapshot: id.to_hex(),
            ..Default::default()
        };
        // Directories first.
        for e in &entries {
            if let (EntryKind::Dir, Some(d)) = (&e.kind, dest(&e.path)) {
                std::fs::create_dir_all(&d).map_err(|er| io_at(&d, er))?;
            }
        }
        // Where each file's bytes go: its own place, or (when only a
        // hardlink to it is selected) the first selected hardlink.
        let mut primary: HashMap<&[u8], PathBuf> = HashMap::new();
        for e in &entries {
            match &e.kind {
                EntryKind::File { .. } => {
                    if let Some(d) = dest(&e.path) {
                        primary.insert(&e.path, d);
                    }
                }
                EntryKind::Hardlink { target: t } => {
                    if let Some(d) = dest(&e.path) {
                        primary.entry(t.as_slice()).or_insert(d);
                    }
                }
                _ => {}
            }
        }
        let mut plan = Vec::new();
        for e in &entries {
            if let EntryKind::File { size, .. } = e.kind {
                let d = primary.get(e.path.as_slice()).cloned();
                if let Some(p) = &d {
                    if let Some(parent) = p.parent() {
                        std::fs::create_dir_all(parent).map_err(|er| io_at(parent, er))?;
                    }
                    sum.files += 1;
                    sum.size += size;
                }
                plan.push((size, d));
            }
        }
        // Files appear under their names only when complete; on failure the
        // error names those that were not restored.
        let done = Arc::new(AtomicUsize::new(0));
        let writer = FileDemux::new(plan.clone(), done.clone());
        let r = match self.load_index().await {
            Ok(index) => {
                self.restore_content(&index, id, data.size, &data.content, writer, opts)
                    .await
            }
            Err(e) => Err(e),
        };
        match r {
            Ok((_, w)) => drop(w),
            Err(e) => {
                let not_restored: Vec<String> = plan
                    .iter()
                    .skip(done.load(Ordering::Acquire))
                    .filter_map(|(_, d)| d.as_ref().map(|p| p.display().to_string()))
                    .collect();
                if not_restored.is_empty() {
                    return Err(e);
                }
                return Err(RepoError::Incomplete {
                    snapshot: id.to_hex(),
                    not_restored,
                    source: Box::new(e),
                });
            }
        }
        // Links and special files, symlinks last (nothing is written through them).
        for pass in 0..2 {
            for e in &entries {
                let Some(d) = dest(&e.path) else { continue };
                let r = match (&e.kind, pass) {
                    (EntryKind::Hardlink { target: t }, 0) => {
                        let Some(src) = primary.get(t.as_slice()) else {
                            continue;
                        };
                        if *src == d {
                            continue;
                        }
                        remove_existing(&d);
                        std::fs::hard_link(src, &d)
                    }
                    (EntryKind::Fifo, 0) => {
                        remove_existing(&d);
                        mknod(&d, rustix::fs::FileType::Fifo, e.mode, 0)
                    }
                    (EntryKind::CharDev { rdev }, 0) => {
                        remove_existing(&d);
                        mknod(&d, rustix::fs::FileType::CharacterDevice, e.mode, *rdev)
                    }
                    (EntryKind::BlockDev { rdev }, 0) => {
                        remove_existing(&d);
                        mknod(&d, rustix::fs::FileType::BlockDevice, e.mode, *rdev)
                    }
                    (EntryKind::Symlink { target: t }, 1) => {
                        remove_existing(&d);
                        std::os::unix::fs::symlink(OsStr::from_bytes(t), &d)
                    }
                    _ => continue,
                };
                match r {
                    Ok(()) => {}
                    Err(er)
                        if er.kind() == std::io::ErrorKind::PermissionDenied
                            && matches!(
                                e.kind,
                                EntryKind::CharDev { .. } | EntryKind::BlockDev { .. }
                            ) =>
                    {
                        sum.skipped
                            .push(format!("{}: device node not permitted", d.display()));
                    }
                    Err(er) => return Err(io_at(&d, er)),
                }
            }
        }
        // Metadata: everything but directories, then directories deepest first.
        let is_root = rustix::process::geteuid().is_root();
        let mut dirs = Vec::new();
        for e in &entries {
            let Some(d) = dest(&e.path) else { continue };
            if matches!(e.kind, EntryKind::Hardlink { .. }) {
                continue;
            }
            if e.kind == EntryKind::Dir {
                dirs.push((e, d));
                continue;
            }
            if matches!(e.kind, EntryKind::File { .. })
                && primary.get(e.path.as_slice()) != Some(&d)
            {
                continue;
            }
            set_meta(e, &d, is_root, &mut sum.skipped)?;
        }
        // A file restored at a selected hardlink's place gets its metadata.
        for e in &entries {
            if let EntryKind::File { .. } = e.kind
                && dest(&e.path).is_none()
                && let Some(p) = primary.get(e.path.as_slice())
            {
                set_meta(e, p, is_root, &mut sum.skipped)?;
            }
        }
        dirs.sort_by_key(|(e, _)| std::cmp::Reverse(e.path.len()));
        for (e, d) in dirs {
            set_meta(e, &d, is_root, &mut sum.skipped)?;
        }
        sum.entries = entries.iter().filter(|e| dest(&e.path).is_some()).count() as u64;
        Ok(sum)
    }
}

fn not_a_tree(id: &Id) -> RepoError {
    RepoError::Restore {
        snapshot: id.to_hex(),
        reason: "is a stream, not a directory tree: restore it as a stream".into(),
    }
}

fn remove_existing(p: &Path) {
    if let Ok(md) = std::fs::symlink_metadata(p)
        && !md.is_dir()
    {
        let _ = std::fs::remove_file(p);
    }
}

fn mknod(p: &Path, t: rustix::fs::FileType, mode: u32, rdev: u64) -> std::io::Result<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        p,
        t,
        rustix::fs::Mode::from_raw_mode(mode & 0o7777),
        rdev,
    )
    .map_err(std::io::Error::from)
}

fn set_meta(e: &TreeEntry, p: &Path, is_root: bool, skipped: &mut Vec<String>) -> Result<()> {
    use rustix::fs::{AtFlags, CWD, Gid, Timespec, Timestamps, Uid};
    let nofollow = AtFlags::SYMLINK_NOFOLLOW;
    if e.uid != u32::MAX && e.gid != u32::MAX {
        let r = rustix::fs::chownat(
            CWD,
            p,
            Some(Uid::from_raw(e.uid)),
            Some(Gid::from_raw(e.gid)),
            nofollow,
        );
        match r {
            Ok(()) => {}
            Err(er) if !is_root && er == rustix::io::Errno::PERM => {
                skipped.push(format!(
                    "{}: owner {}:{} not set (not root)",
                    p.display(),
                    e.uid,
                    e.gid
                ));
            }
            Err(er) => return Err(io_at(p, er.into())),
        }
    }
    if !matches!(e.kind, EntryKind::Symlink { .. }) {
        rustix::fs::chmodat(
            CWD,
            p,
            rustix::fs::Mode::from_raw_mode(e.mode),
            AtFlags::empty(),
        )
        .map_err(|er| io_at(p, er.into()))?;
    }
    let t = Timespec {
        tv_sec: e.mtime,
        tv_nsec: e.mtime_nsec as _,
    };
    rustix::fs::utimensat(
        CWD,
        p,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        nofollow,
    )
    .map_err(|er| io_at(p, er.into()))
}

/// Splits the content stream into the files of a restore: each file gets
/// its `size` bytes (discarded when its destination is `None`); all-zero
/// 4 KiB blocks are skipped with a seek (holes); the length is set at the end.
/// Each file is written as a [`NewFile`] (unnamed, or under a hidden partial
/// name) and appears under its name only once complete; `done` counts the
/// plan entries finished, so a failed restore can say which were not.
struct FileDemux {
    plan: std::vec::IntoIter<(u64, Option<PathBuf>)>,
    cur: Option<(u64, Option<NewFile>)>,
    written: u64,
    started: usize,
    done: Arc<AtomicUsize>,
}

impl FileDemux {
    fn new(plan: Vec<(u64, Option<PathBuf>)>, done: Arc<AtomicUsize>) -> Self {
        FileDemux {
            plan: plan.into_iter(),
            cur: None,
            written: 0,
            started: 0,
            done,
        }
    }

    /// Close the current file if it is complete, open the next ones until
    /// one still wants bytes (creating empty files on the way).
    fn advance(&mut self) -> std::io::Result<bool> {
        loop {
            if let Some((size, _)) = &self.cur {
                if self.written < *size {
                    return Ok(true);
                }
                if let Some((_, Some(mut f))) = self.cur.take() {
                    let p = f.dest().to_path_buf();
                    let werr = |e: std::io::Error| {
                        std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
                    };
                    f.file().set_len(self.written).map_err(werr)?;
                    remove_existing(&p);
                    f.commit()?;
                }
                self.cur = None;
                self.done.fetch_add(1, Ordering::Release);
            }
            let Some((size, dest)) = self.plan.next() else {
                return Ok(false);
            };
            self.started += 1;
            let f = match dest {
                Some(p) => Some(NewFile::create_in(
                    &p,
                    &format!("{}-{}", std::process::id(), self.started),
                )?),
                None => None,
            };
            self.cur = Some((size, f));
            self.written = 0;
        }
    }
}

impl Write for FileDemux {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.advance()? {
            return Err(std::io::Error::other(
                "the content stream is longer than the tree's files",
            ));
        }
        let Some((size, f)) = self.cur.as_mut() else {
            return Ok(0);
        };
        let k = ((*size - self.written) as usize).min(buf.len());
        if let Some(nf) = f {
            let p = nf.dest().to_path_buf();
            let f = nf.file();
            let werr =
                |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", p.display()));
            let mut at = 0;
            while at < k {
                // Blocks aligned to the file's 4 KiB grid.
                let pos = self.written + at as u64;
                let n = ((4096 - pos % 4096) as usize).min(k - at);
                let block = &buf[at..at + n];
                if n == 4096 - (pos % 4096) as usize && block.iter().all(|b| *b == 0) {
                    f.seek(SeekFrom::Current(n as i64)).map_err(werr)?;
                } else {
                    f.write_all(block).map_err(werr)?;
                }
                at += n;
            }
        }
        self.written += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Create the remaining (empty) files and close the last one.
        if self.advance()? {
            return Err(std::io::Error::other(
                "the content stream ended inside a file",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            path: path.as_bytes().to_vec(),
            kind,
            mode: 0o644,
            uid: 1,
            gid: 2,
            mtime: 1_700_000_000,
            mtime_nsec: 5,
        }
    }

    fn sample() -> Vec<TreeEntry> {
        vec![
            entry("d", EntryKind::Dir),
            entry(
                "d/a",
                EntryKind::File {
                    offset: 0,
                    size: 10,
                },
            ),
            entry(
                "d/b",
                EntryKind::File {
                    offset: 10,
                    size: 0,
                },
            ),
            entry(
                "d/h",
                EntryKind::Hardlink {
                    target: b"d/a".to_vec(),
                },
            ),
            entry(
                "d/l",
                EntryKind::Symlink {
                    target: b"../x".to_vec(),
                },
            ),
            entry("d/p", EntryKind::Fifo),
            entry("d/c", EntryKind::CharDev { rdev: 0x0103 }),
            entry("d/k", EntryKind::BlockDev { rdev: 0x0801 }),
        ]
    }

    #[test]
    fn round_trip() {
        let v = sample();
        let b = encode_tree(&v);
        assert_eq!(decode_tree(&b).unwrap(), (v, 10));
    }

    #[test]
    fn every_truncation_and_foreign_input_is_refused() {
        let b = encode_tree(&sample());
        for n in 0..b.len() {
            assert!(decode_tree(&b[..n]).is_err(), "prefix {n} accepted");
        }
        assert_eq!(decode_tree(b"PK\x03\x04"), Err(TreeError::Foreign));
        let mut v = b.clone();
        v[4] = 9;
        assert_eq!(decode_tree(&v), Err(TreeError::Version(9)));
        let mut t = b.clone();
        t.push(0);
        assert!(matches!(decode_tree(&t), Err(TreeError::Malformed { .. })));
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for p in ["", "/etc", "a/../b", "a//b", ".", "a/./b", "a\0b"] {
            let b = encode_tree(&[entry(p, EntryKind::Dir)]);
            assert!(
                matches!(decode_tree(&b), Err(TreeError::Malformed { .. })),
                "{p:?}"
            );
        }
        let b = encode_tree(&[entry(
            "h",
            EntryKind::Hardlink {
                target: b"nope".to_vec(),
            },
        )]);
        assert!(decode_tree(&b).is_err());
        let b = encode_tree(&[entry("f", EntryKind::File { offset: 3, size: 1 })]);
        assert!(decode_tree(&b).is_err());
    }
}
