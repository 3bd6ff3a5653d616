//! Files: block devices registered with `rump_pub_etfs_register`, one
//! ext2 mount (rumpcore-ext2 on a [`BioDev`]) and the file calls on it
//! (open, read/write at the file offset or given ones, lseek, fsync,
//! close, mkdir, rmdir, unlink, rename, truncate, stat, getdents,
//! unmount), under their own kernel mutex so disk waits never hold up
//! the network.
//!
//! An open directory's offset counts entries: the first `getdents`
//! after `open` (or a rewind, `lseek` to 0) takes a snapshot of the
//! listing and later calls continue through it, so names removed or
//! added meanwhile do not shift the position (POSIX leaves it open
//! whether they are seen).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use rumpcore_ext2::{DirEntry, Fs, FsError, Ino, OpenFlags};
use rumpuser_abi::client::{self as abi, Stat};
use rumpuser_abi::{errno, RUMPUSER_CLOCK_RELWALL};

use crate::blkdev::BioDev;
use crate::fd::File;
use crate::kernel::Kernel;
use crate::layout;
use crate::sys;

pub use rumpuser_abi::client::{
    MNT_RDONLY, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY,
    RUMP_ETFS_BLK, SEEK_CUR, SEEK_END, SEEK_SET,
};

/// An open file.
struct OpenFile {
    ino: Ino,
    /// Byte offset; for a directory, the entry index.
    off: u64,
    flags: i32,
    /// Directories: the listing `getdents` walks (None: none taken yet).
    dir: Option<Option<Vec<DirEntry>>>,
}

/// The mounted file system.
struct Mount {
    dir: String,
    fs: Fs<BioDev>,
    /// `st_dev` for its files.
    dev: u64,
}

/// Everything the file mutex guards.
#[derive(Default)]
pub struct FsState {
    etfs: BTreeMap<String, String>,
    mount: Option<Mount>,
    files: BTreeMap<u32, OpenFile>,
    next: u32,
    mounts: u64,
}

fn fe(e: FsError) -> i32 {
    e.errno()
}

fn wall_secs() -> u32 {
    let (mut s, mut ns) = (0i64, 0);
    // SAFETY: writable out-pointers.
    unsafe { sys::rumpuser_clock_gettime(RUMPUSER_CLOCK_RELWALL, &mut s, &mut ns) };
    s.clamp(0, u32::MAX as i64) as u32
}

impl FsState {
    /// The file system and the path inside it for a client path.
    fn resolve<'a>(&mut self, path: &'a str) -> Result<(&mut Fs<BioDev>, &'a str), i32> {
        let m = self.mount.as_mut().ok_or(errno::ENOENT)?;
        let rel = if m.dir == "/" {
            path
        } else if path == m.dir {
            "/"
        } else {
            path.strip_prefix(m.dir.as_str())
                .filter(|r| r.starts_with('/'))
                .ok_or(errno::ENOENT)?
        };
        if !rel.starts_with('/') {
            return Err(errno::ENOENT);
        }
        m.fs.set_time(wall_secs());
        Ok((&mut m.fs, rel))
    }

    fn file(&mut self, id: u32) -> Result<(&mut Fs<BioDev>, &mut OpenFile), i32> {
        let m = self.mount.as_mut().ok_or(errno::EBADF)?;
        let f = self.files.get_mut(&id).ok_or(errno::EBADF)?;
        m.fs.set_time(wall_secs());
        Ok((&mut m.fs, f))
    }

    fn dev(&self) -> u64 {
        self.mount.as_ref().map_or(0, |m| m.dev)
    }
}

/// `rump_pub_etfs_register(key, hostpath, type)`: block devices only.
pub fn etfs_register(k: &Kernel, key: &str, hostpath: &str, ty: i32) -> Result<(), i32> {
    if ty != RUMP_ETFS_BLK {
        return Err(errno::EOPNOTSUPP);
    }
    let mut st = k.fs.lock();
    if st.etfs.contains_key(key) {
        return Err(errno::EEXIST);
    }
    st.etfs.insert(key.into(), hostpath.into());
    Ok(())
}

/// `mount("ext2fs", dir, flags, {fspec})`.
pub fn mount(k: &Kernel, ty: &str, dir: &str, flags: i32, fspec: &str) -> Result<(), i32> {
    if ty != "ext2fs" {
        return Err(errno::ENODEV);
    }
    if !dir.starts_with('/') {
        return Err(errno::EINVAL);
    }
    let mut st = k.fs.lock();
    if st.mount.is_some() {
        return Err(errno::EBUSY);
    }
    let host = st.etfs.get(fspec).ok_or(errno::ENOENT)?.clone();
    let ro = flags & MNT_RDONLY != 0;
    let dev = BioDev::open(&host, ro)?;
    let fs = Fs::mount(dev, ro).map_err(fe)?;
    let dir = match dir.trim_end_matches('/') {
        "" => "/",
        d => d,
    };
    st.mounts += 1;
    let dev = st.mounts;
    st.mount = Some(Mount {
        dir: dir.into(),
        fs,
        dev,
    });
    Ok(())
}

/// `unmount(dir, flags)`: EBUSY while files are open.
pub fn unmount(k: &Kernel, dir: &str) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let m = st.mount.as_ref().ok_or(errno::EINVAL)?;
    let want = match dir.trim_end_matches('/') {
        "" => "/",
        d => d,
    };
    if m.dir != want {
        return Err(errno::EINVAL);
    }
    if !st.files.is_empty() {
        return Err(errno::EBUSY);
    }
    let m = st.mount.take().ok_or(errno::EINVAL)?;
    match m.fs.unmount() {
        Ok(dev) => {
            dev.close();
            Ok(())
        }
        Err((e, dev)) => {
            dev.close();
            Err(fe(e))
        }
    }
}

/// `open(path, flags, mode)`: the new descriptor.
pub fn open(k: &Kernel, path: &str, flags: i32, mode: u32) -> Result<i32, i32> {
    let id = {
        let mut st = k.fs.lock();
        let (fs, rel) = st.resolve(path)?;
        let mut of = OpenFlags::NONE;
        if flags & O_CREAT != 0 {
            of = of | OpenFlags::CREATE;
        }
        if flags & O_EXCL != 0 {
            of = of | OpenFlags::EXCL;
        }
        if flags & O_TRUNC != 0 && flags & O_ACCMODE != 0 {
            of = of | OpenFlags::TRUNC;
        }
        let ino = fs.open(rel, of, (mode & 0o7777) as u16).map_err(fe)?;
        let is_dir = match fs.fstat(ino) {
            Ok(s) => u32::from(s.mode) & abi::S_IFMT == abi::S_IFDIR,
            Err(x) => {
                let _ = fs.close(ino);
                return Err(fe(x));
            }
        };
        let refuse = if is_dir && flags & O_ACCMODE != 0 {
            Some(errno::EISDIR)
        } else if !is_dir && flags & O_DIRECTORY != 0 {
            Some(errno::ENOTDIR)
        } else {
            None
        };
        if let Some(x) = refuse {
            let _ = fs.close(ino);
            return Err(x);
        }
        let id = st.next;
        st.next = st.next.wrapping_add(1);
        let dir = is_dir.then_some(None);
        st.files.insert(
            id,
            OpenFile {
                ino,
                off: 0,
                flags,
                dir,
            },
        );
        id
    };
    match k.state.lock().fds.alloc(File::Vnode(id)) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            let _ = close(k, id);
            Err(e)
        }
    }
}

/// Closes open file `id` (its descriptor is already gone).
pub fn close(k: &Kernel, id: u32) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let f = st.files.remove(&id).ok_or(errno::EBADF)?;
    let m = st.mount.as_mut().ok_or(errno::EBADF)?;
    m.fs.close(f.ino).map_err(fe)
}

/// `read`/`pread`: at `at`, or at and advancing the file offset.
pub fn read(k: &Kernel, id: u32, buf: &mut [u8], at: Option<u64>) -> Result<usize, i32> {
    let mut st = k.fs.lock();
    let (fs, f) = st.file(id)?;
    if f.dir.is_some() {
        return Err(errno::EISDIR);
    }
    if f.flags & O_ACCMODE == O_WRONLY {
        return Err(errno::EBADF);
    }
    let off = at.unwrap_or(f.off);
    let n = fs.read_at(f.ino, off, buf).map_err(fe)?;
    if at.is_none() {
        f.off = off + n as u64;
    }
    Ok(n)
}

/// `write`/`pwrite`: at `at`, or at (and advancing) the file offset;
/// O_APPEND writes at the end.
pub fn write(k: &Kernel, id: u32, data: &[u8], at: Option<u64>) -> Result<usize, i32> {
    let mut st = k.fs.lock();
    let (fs, f) = st.file(id)?;
    if f.flags & O_ACCMODE != O_WRONLY && f.flags & O_ACCMODE != O_RDWR {
        return Err(errno::EBADF);
    }
    let off = match at {
        Some(o) => o,
        None if f.flags & O_APPEND != 0 => fs.len(f.ino).map_err(fe)?,
        None => f.off,
    };
    let n = fs.write_at(f.ino, off, data).map_err(fe)?;
    if at.is_none() {
        f.off = off + n as u64;
    }
    Ok(n)
}

/// `lseek(fd, offset, whence)`: the new offset. On a directory the
/// offset counts entries and 0 rewinds (the next `getdents` lists anew).
pub fn lseek(k: &Kernel, id: u32, offset: i64, whence: i32) -> Result<i64, i32> {
    let mut st = k.fs.lock();
    let (fs, f) = st.file(id)?;
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => f.off as i64,
        SEEK_END if f.dir.is_some() => return Err(errno::EINVAL),
        SEEK_END => fs.len(f.ino).map_err(fe)? as i64,
        _ => return Err(errno::EINVAL),
    };
    let new = base
        .checked_add(offset)
        .filter(|o| *o >= 0)
        .ok_or(errno::EINVAL)?;
    f.off = new as u64;
    if new == 0 {
        if let Some(d) = f.dir.as_mut() {
            *d = None;
        }
    }
    Ok(new)
}

/// `getdents(fd, buf)`: packs the next entries of the open directory
/// as NetBSD `struct dirent`s; the bytes placed, 0 at the end, EINVAL
/// if `buf` cannot hold the next entry, ENOTDIR on a file.
pub fn getdents(k: &Kernel, id: u32, buf: &mut [u8]) -> Result<usize, i32> {
    let mut st = k.fs.lock();
    let (fs, f) = st.file(id)?;
    let listing = f.dir.as_mut().ok_or(errno::ENOTDIR)?;
    if listing.is_none() {
        *listing = Some(fs.readdir_ino(f.ino).map_err(fe)?);
    }
    let entries = listing.as_deref().unwrap_or_default();
    let mut placed = 0;
    for e in entries
        .iter()
        .skip(usize::try_from(f.off).unwrap_or(usize::MAX))
    {
        let ty = layout::dirent_type(e.kind);
        match abi::put_dirent(&mut buf[placed..], u64::from(e.ino), ty, &e.name) {
            Some(n) => {
                placed += n;
                f.off += 1;
            }
            None if placed == 0 => return Err(errno::EINVAL),
            None => break,
        }
    }
    Ok(placed)
}

/// `fstat(fd)` on an open file.
pub fn fstat(k: &Kernel, id: u32) -> Result<Stat, i32> {
    let mut st = k.fs.lock();
    let dev = st.dev();
    let (fs, f) = st.file(id)?;
    let ino = f.ino;
    Ok(layout::stat_from_fs(&fs.fstat(ino).map_err(fe)?, dev))
}

/// `stat(path)` (and `lstat`: there are no symbolic links).
pub fn stat(k: &Kernel, path: &str) -> Result<Stat, i32> {
    let mut st = k.fs.lock();
    let dev = st.dev();
    let (fs, rel) = st.resolve(path)?;
    Ok(layout::stat_from_fs(&fs.stat(rel).map_err(fe)?, dev))
}

/// `truncate(path, length)`.
pub fn truncate(k: &Kernel, path: &str, length: i64) -> Result<(), i32> {
    let len = u64::try_from(length).map_err(|_| errno::EINVAL)?;
    let mut st = k.fs.lock();
    let (fs, rel) = st.resolve(path)?;
    let ino = fs.lookup(rel).map_err(fe)?;
    fs.truncate(ino, len).map_err(fe)
}

/// `ftruncate(fd, length)`: the file must be open for writing (EINVAL).
pub fn ftruncate(k: &Kernel, id: u32, length: i64) -> Result<(), i32> {
    let len = u64::try_from(length).map_err(|_| errno::EINVAL)?;
    let mut st = k.fs.lock();
    let (fs, f) = st.file(id)?;
    if f.flags & O_ACCMODE != O_WRONLY && f.flags & O_ACCMODE != O_RDWR {
        return Err(errno::EINVAL);
    }
    let ino = f.ino;
    fs.truncate(ino, len).map_err(fe)
}

/// `rmdir(path)`: ENOTEMPTY unless empty.
pub fn rmdir(k: &Kernel, path: &str) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let (fs, rel) = st.resolve(path)?;
    fs.rmdir(rel).map_err(fe)
}

/// `fsync(fd)`.
pub fn fsync(k: &Kernel, id: u32) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let (fs, f) = st.file(id)?;
    let ino = f.ino;
    fs.fsync(ino).map_err(fe)
}

/// The open flags of file `id` (for `fcntl(F_GETFL)`).
pub fn flags(k: &Kernel, id: u32) -> Result<i32, i32> {
    let st = k.fs.lock();
    st.files
        .get(&id)
        .map(|f| f.flags & (O_ACCMODE | O_APPEND))
        .ok_or(errno::EBADF)
}

/// `mkdir(path, mode)`.
pub fn mkdir(k: &Kernel, path: &str, mode: u32) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let (fs, rel) = st.resolve(path)?;
    fs.mkdir(rel, (mode & 0o7777) as u16)
        .map(|_| ())
        .map_err(fe)
}

/// `unlink(path)`.
pub fn unlink(k: &Kernel, path: &str) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let (fs, rel) = st.resolve(path)?;
    fs.unlink(rel).map_err(fe)
}

/// `rename(from, to)` (both on the one mount).
pub fn rename(k: &Kernel, from: &str, to: &str) -> Result<(), i32> {
    let mut st = k.fs.lock();
    let (_, rel_to) = st.resolve(to)?;
    let rel_to: Vec<u8> = rel_to.as_bytes().to_vec();
    let (fs, rel_from) = st.resolve(from)?;
    let rel_to = core::str::from_utf8(&rel_to).map_err(|_| errno::EINVAL)?;
    fs.rename(rel_from, rel_to).map_err(fe)
}
