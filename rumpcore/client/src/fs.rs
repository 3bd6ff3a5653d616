//! Files and directories over the kernel's file calls (`open`, `read`,
//! `write`, `pread`, `pwrite`, `lseek`, `fsync`, `ftruncate`, `fstat50`,
//! `stat50`, `getdents30`, `mkdir`, `rmdir`, `unlink`, `rename`) with
//! std-like names: [`File`], [`OpenOptions`], [`metadata`], [`read_dir`],
//! [`read`], [`write`] and friends. Paths are the kernel's (e.g. under
//! the mount point).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void};

use crate::abi::{
    self, Stat, DT_DIR, DT_REG, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
    SEEK_CUR, SEEK_END, SEEK_SET, S_IFDIR, S_IFMT, S_IFREG,
};
use crate::fd::{write_all_with, OwnedFd, RawFd};
use crate::sys::{self, check, check_off, check_size, cstring};
use crate::{Error, Result};

/// The mode new files get.
const FILE_MODE: c_int = 0o644;
/// The mode [`create_dir`] gives.
const DIR_MODE: u32 = 0o755;
/// Bytes asked of `getdents30` at a time.
const DIRENT_BUF: usize = 4096;

/// Where [`File::seek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start.
    Start(u64),
    /// From the end.
    End(i64),
    /// From the current offset.
    Current(i64),
}

/// What `stat` tells about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Size in bytes.
    pub len: u64,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Inode number.
    pub ino: u64,
    /// Hard links.
    pub nlink: u32,
    /// Last modification, seconds since 1970.
    pub mtime_secs: i64,
}

impl Metadata {
    fn from_stat(st: &Stat) -> Metadata {
        Metadata {
            len: u64::try_from(st.st_size).unwrap_or(0),
            mode: st.st_mode,
            ino: st.st_ino,
            nlink: st.st_nlink,
            mtime_secs: st.st_mtimespec.tv_sec,
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
}

/// How to open a file (std's builder).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
}

impl OpenOptions {
    /// Nothing asked yet (opening then fails with EINVAL).
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.write = on;
        self
    }

    /// Writes go to the end (implies writing).
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.append = on;
        self
    }

    /// Cut the file to 0 bytes (needs writing).
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.truncate = on;
        self
    }

    /// Create it if missing (needs writing).
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.create = on;
        self
    }

    /// Create it, failing with EEXIST if it exists (needs writing).
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.create_new = on;
        self
    }

    /// The `open` flags, or EINVAL for a combination std also refuses.
    fn flags(&self) -> Result<c_int> {
        let writing = self.write || self.append;
        let access = match (self.read, writing) {
            (true, false) => O_RDONLY,
            (false, true) => O_WRONLY,
            (true, true) => O_RDWR,
            (false, false) => return Err(Error::Errno(rumpuser_abi::errno::EINVAL)),
        };
        if !writing && (self.truncate || self.create || self.create_new) {
            return Err(Error::Errno(rumpuser_abi::errno::EINVAL));
        }
        let mut flags = access;
        if self.append {
            flags |= O_APPEND;
        }
        if self.truncate {
            flags |= O_TRUNC;
        }
        if self.create_new {
            flags |= O_CREAT | O_EXCL;
        } else if self.create {
            flags |= O_CREAT;
        }
        Ok(flags)
    }

    /// Opens `path` as asked.
    pub fn open(&self, path: &str) -> Result<File> {
        open_raw(path, self.flags()?).map(File)
    }
}

fn open_raw(path: &str, flags: c_int) -> Result<OwnedFd> {
    let p = cstring(path)?;
    // SAFETY: a NUL-terminated path that outlives the call; the mode is
    // the variadic third argument.
    let fd = check(unsafe { sys::rump___sysimpl_open(p.as_ptr(), flags, FILE_MODE) })?;
    Ok(OwnedFd::new(fd))
}

/// An open file; closed on drop.
#[derive(Debug)]
pub struct File(OwnedFd);

impl File {
    /// Opens `path` for reading.
    pub fn open(path: &str) -> Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens `path` for writing, created if missing and cut to 0 bytes.
    pub fn create(path: &str) -> Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    fn fd(&self) -> RawFd {
        self.0.raw()
    }

    /// Reads at the file offset and moves it; 0 at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `buf` is writable for its length during the call.
        check_size(unsafe {
            sys::rump___sysimpl_read(self.fd(), buf.as_mut_ptr() as *mut c_void, buf.len())
        })
    }

    /// Writes at the file offset (the end with append) and moves it.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize> {
        // SAFETY: `buf` is readable for its length during the call.
        check_size(unsafe {
            sys::rump___sysimpl_write(self.fd(), buf.as_ptr() as *const c_void, buf.len())
        })
    }

    /// Writes all of `buf`.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        write_all_with(buf, |b| self.write(b))
    }

    /// Reads from `offset` without moving the file offset.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let off = offset_arg(offset)?;
        // SAFETY: `buf` is writable for its length during the call.
        check_size(unsafe {
            sys::rump___sysimpl_pread(self.fd(), buf.as_mut_ptr() as *mut c_void, buf.len(), off)
        })
    }

    /// Writes at `offset` without moving the file offset.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize> {
        let off = offset_arg(offset)?;
        // SAFETY: `buf` is readable for its length during the call.
        check_size(unsafe {
            sys::rump___sysimpl_pwrite(self.fd(), buf.as_ptr() as *const c_void, buf.len(), off)
        })
    }

    /// Moves the file offset; the new offset.
    pub fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let (off, whence) = match pos {
            SeekFrom::Start(o) => (offset_arg(o)?, SEEK_SET),
            SeekFrom::End(o) => (o, SEEK_END),
            SeekFrom::Current(o) => (o, SEEK_CUR),
        };
        // SAFETY: plain integers.
        check_off(unsafe { sys::rump___sysimpl_lseek(self.fd(), off, whence) })
    }

    /// Writes the file's data and metadata to the device (`fsync`).
    pub fn sync_all(&self) -> Result<()> {
        // SAFETY: a plain integer.
        check(unsafe { sys::rump___sysimpl_fsync(self.fd()) }).map(drop)
    }

    /// Cuts or extends the file to `len` bytes (`ftruncate`).
    pub fn set_len(&self, len: u64) -> Result<()> {
        let len = offset_arg(len)?;
        // SAFETY: plain integers.
        check(unsafe { sys::rump___sysimpl_ftruncate(self.fd(), len) }).map(drop)
    }

    /// The open file's metadata (`fstat`).
    pub fn metadata(&self) -> Result<Metadata> {
        let mut st = Stat::default();
        // SAFETY: `st` is a writable `struct stat` for the call.
        check(unsafe { sys::rump___sysimpl_fstat50(self.fd(), &mut st) })?;
        Ok(Metadata::from_stat(&st))
    }

    /// Reads from the offset to the end.
    pub fn read_to_end(&mut self, out: &mut Vec<u8>) -> Result<usize> {
        let start = out.len();
        let mut buf = vec![0u8; 16384];
        loop {
            match self.read(&mut buf)? {
                0 => return Ok(out.len() - start),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// The descriptor, for [`crate::net::poll`].
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

/// An offset as `off_t` (EFBIG past its range).
fn offset_arg(o: u64) -> Result<i64> {
    i64::try_from(o).map_err(|_| Error::Errno(rumpuser_abi::errno::EFBIG))
}

/// The metadata of the file at `path` (`stat`).
pub fn metadata(path: &str) -> Result<Metadata> {
    let p = cstring(path)?;
    let mut st = Stat::default();
    // SAFETY: a NUL-terminated path and a writable `struct stat`, both
    // alive for the call.
    check(unsafe { sys::rump___sysimpl_stat50(p.as_ptr(), &mut st) })?;
    Ok(Metadata::from_stat(&st))
}

/// What a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// Something else (or not told).
    Other,
}

/// One entry of [`read_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name in its directory.
    pub name: String,
    /// The inode number.
    pub ino: u64,
    /// Its type.
    pub file_type: FileType,
}

/// The entries of the directory at `path`, without `.` and `..`.
pub fn read_dir(path: &str) -> Result<Vec<DirEntry>> {
    let dir = open_raw(path, O_RDONLY)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; DIRENT_BUF];
    loop {
        // SAFETY: `buf` is writable for its length during the call.
        let n = check(unsafe {
            sys::rump___sysimpl_getdents30(dir.raw(), buf.as_mut_ptr() as *mut c_char, buf.len())
        })?;
        let n = n as usize;
        if n == 0 {
            return Ok(out);
        }
        let mut rest = buf
            .get(..n)
            .ok_or(Error::BadReply("getdents30 returned more than asked"))?;
        while !rest.is_empty() {
            let (e, next) = abi::next_dirent(rest)
                .ok_or(Error::BadReply("getdents30 gave a malformed record"))?;
            rest = next;
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let name = core::str::from_utf8(e.name)
                .map_err(|_| Error::BadReply("a directory entry's name is not UTF-8"))?;
            out.push(DirEntry {
                name: String::from(name),
                ino: e.fileno,
                file_type: match e.ty {
                    DT_DIR => FileType::Dir,
                    DT_REG => FileType::File,
                    _ => FileType::Other,
                },
            });
        }
    }
}

/// Calls a one-path file call.
fn path_call(path: &str, call: impl FnOnce(*const c_char) -> c_int) -> Result<()> {
    let p = cstring(path)?;
    check(call(p.as_ptr())).map(drop)
}

/// Makes the directory `path` (mode 755).
pub fn create_dir(path: &str) -> Result<()> {
    // SAFETY: the pointer is a NUL-terminated path alive for the call.
    path_call(path, |p| unsafe { sys::rump___sysimpl_mkdir(p, DIR_MODE) })
}

/// Removes the empty directory `path`.
pub fn remove_dir(path: &str) -> Result<()> {
    // SAFETY: the pointer is a NUL-terminated path alive for the call.
    path_call(path, |p| unsafe { sys::rump___sysimpl_rmdir(p) })
}

/// Removes the file `path`.
pub fn remove_file(path: &str) -> Result<()> {
    // SAFETY: the pointer is a NUL-terminated path alive for the call.
    path_call(path, |p| unsafe { sys::rump___sysimpl_unlink(p) })
}

/// Renames `from` to `to` (replacing a file there).
pub fn rename(from: &str, to: &str) -> Result<()> {
    let (f, t) = (cstring(from)?, cstring(to)?);
    // SAFETY: NUL-terminated paths alive for the call.
    check(unsafe { sys::rump___sysimpl_rename(f.as_ptr(), t.as_ptr()) }).map(drop)
}

/// The whole content of the file at `path`.
pub fn read(path: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    File::open(path)?.read_to_end(&mut out)?;
    Ok(out)
}

/// Makes `path` hold exactly `bytes` (created if missing).
pub fn write(path: &str, bytes: &[u8]) -> Result<()> {
    File::create(path)?.write_all(bytes)
}
