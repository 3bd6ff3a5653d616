//! The file operations: path lookup, open/create, read and write at
//! offsets, truncate, unlink, mkdir, rmdir, rename, stat and readdir.

use alloc::vec::Vec;
use core::ops::BitOr;

use crate::cache::{Kind, MAX_REQUEST};
use crate::device::BlockDevice;
use crate::dir::{DirEntry, FileType};
use crate::disk::{le32, put32, sb, Inode, RO_COMPAT_LARGE_FILE, S_IFDIR, S_IFREG};
use crate::error::{FsError, Result};
use crate::fs::{Fs, Ino, ROOT_INO};

/// `open` flags (combine with `|`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenFlags(u32);

impl OpenFlags {
    /// Open an existing file only.
    pub const NONE: OpenFlags = OpenFlags(0);
    /// O_CREAT: create the file if it does not exist.
    pub const CREATE: OpenFlags = OpenFlags(1);
    /// O_EXCL: with CREATE, fail with EEXIST if it exists.
    pub const EXCL: OpenFlags = OpenFlags(2);
    /// O_TRUNC: cut an existing regular file to length 0.
    pub const TRUNC: OpenFlags = OpenFlags(4);

    /// True when every flag in `other` is set.
    pub fn contains(self, other: OpenFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for OpenFlags {
    type Output = OpenFlags;
    fn bitor(self, rhs: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | rhs.0)
    }
}

/// What `stat` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Inode number.
    pub ino: Ino,
    /// Type and permission bits.
    pub mode: u16,
    /// Hard links.
    pub nlink: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Last access (seconds since 1970).
    pub atime: u32,
    /// Last modification.
    pub mtime: u32,
    /// Last status change.
    pub ctime: u32,
    /// Allocated 512-byte units, indirect blocks included.
    pub blocks: u64,
    /// Preferred I/O size (the block size).
    pub blksize: u64,
}

/// The longest name a directory entry holds.
const NAME_MAX: usize = 255;
/// Bytes a sequential read fetches ahead into the cache.
const READ_AHEAD: u64 = 128 * 1024;
/// Most links an inode may have.
const LINK_MAX: u16 = 32000;

/// Splits a path into names, dropping empty and `.` components.
fn components(path: &[u8]) -> Result<Vec<&[u8]>> {
    let mut v = Vec::new();
    for c in path.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." {
            continue;
        }
        if c.len() > NAME_MAX {
            return Err(FsError::NameTooLong);
        }
        v.push(c);
    }
    Ok(v)
}

impl<D: BlockDevice> Fs<D> {
    /// Reads an inode that a directory entry or handle names; it must be in use.
    pub(crate) fn live_inode(&mut self, ino: Ino) -> Result<Inode> {
        let i = self.read_inode(ino)?;
        if i.mode() == 0 || (i.links() == 0 && !self.is_open(ino)) {
            return Err(FsError::Corrupt("entry names an unused inode"));
        }
        Ok(i)
    }

    fn walk(&mut self, names: &[&[u8]]) -> Result<Ino> {
        let mut cur = ROOT_INO;
        for name in names {
            let dir = self.live_inode(cur)?;
            if !dir.is_dir() {
                return Err(FsError::NotDir);
            }
            cur = self.dir_find(&dir, name)?.ok_or(FsError::NotFound)?.ino;
        }
        Ok(cur)
    }

    /// The inode number `path` names (no symlinks are followed).
    pub fn lookup(&mut self, path: &str) -> Result<Ino> {
        let names = components(path.as_bytes())?;
        self.walk(&names)
    }

    /// The parent directory of `path` and the last name.
    fn parent<'p>(&mut self, path: &'p str) -> Result<(Ino, Inode, &'p [u8])> {
        let names = components(path.as_bytes())?;
        let (last, dirs) = names.split_last().ok_or(FsError::Invalid)?;
        if *last == b".." {
            return Err(FsError::Invalid);
        }
        let p = self.walk(dirs)?;
        let pi = self.live_inode(p)?;
        if !pi.is_dir() {
            return Err(FsError::NotDir);
        }
        Ok((p, pi, last))
    }

    fn editable(&mut self, ino: Ino) -> Result<Inode> {
        self.writable()?;
        let i = self.live_inode(ino)?;
        if i.has_bad_flags() {
            return Err(FsError::Unsupported(
                "inode flags (extents, compression, inline data)",
            ));
        }
        Ok(i)
    }

    /// Opens (and with CREATE makes) the regular file or directory at
    /// `path`; returns its inode number as the handle, which stays usable
    /// after the name is unlinked until [`Fs::close`]. `mode` holds the
    /// permission bits for a new file.
    pub fn open(&mut self, path: &str, flags: OpenFlags, mode: u16) -> Result<Ino> {
        let ino = self.open_inner(path, flags, mode)?;
        self.hold(ino);
        Ok(ino)
    }

    fn open_inner(&mut self, path: &str, flags: OpenFlags, mode: u16) -> Result<Ino> {
        if components(path.as_bytes())?.is_empty() {
            // The root directory.
            return if flags.contains(OpenFlags::CREATE | OpenFlags::EXCL) {
                Err(FsError::Exists)
            } else if flags.contains(OpenFlags::TRUNC) {
                Err(FsError::IsDir)
            } else {
                Ok(ROOT_INO)
            };
        }
        let (p, mut pi, name) = self.parent(path)?;
        if let Some(f) = self.dir_find(&pi, name)? {
            if flags.contains(OpenFlags::CREATE | OpenFlags::EXCL) {
                return Err(FsError::Exists);
            }
            let i = self.live_inode(f.ino)?;
            if flags.contains(OpenFlags::TRUNC) {
                if i.is_dir() {
                    return Err(FsError::IsDir);
                }
                self.truncate(f.ino, 0)?;
            }
            return Ok(f.ino);
        }
        if !flags.contains(OpenFlags::CREATE) {
            return Err(FsError::NotFound);
        }
        pi = self.editable(p)?;
        let ino = self.alloc_inode(self.group_of(p), false)?;
        let mut inode = Inode::new(self.geo.inode_size);
        inode.set_mode(S_IFREG | (mode & 0o7777));
        inode.set_links(1);
        inode.set_all_times(self.now);
        self.write_inode(ino, &inode)?;
        if let Err(e) = self.dir_add(p, &mut pi, name, ino, FileType::Regular) {
            inode.set_links(0);
            inode.set_dtime(self.now);
            self.write_inode(ino, &inode)?;
            self.free_inode(ino, false)?;
            return Err(e);
        }
        Ok(ino)
    }

    fn regular(&mut self, ino: Ino) -> Result<Inode> {
        let i = self.live_inode(ino)?;
        if i.is_dir() {
            Err(FsError::IsDir)
        } else if !i.is_reg() {
            Err(FsError::Invalid)
        } else {
            Ok(i)
        }
    }

    /// The file's length in bytes.
    pub fn len(&mut self, ino: Ino) -> Result<u64> {
        Ok(self.live_inode(ino)?.size())
    }

    /// Reads from byte `off` of file `ino` into `buf`; returns the bytes
    /// read (0 at or past the end). Holes read as zeros.
    pub fn read_at(&mut self, ino: Ino, off: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.regular(ino)?;
        let size = inode.size();
        if off >= size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - off) as usize;
        if n == 0 {
            return Ok(0);
        }
        let bs = self.geo.bs;
        let end = off + n as u64;
        let last = (end - 1) / bs;
        let max_run = (MAX_REQUEST as u64 / bs).max(1);
        let mut lblk = off / bs;
        while lblk <= last {
            let (phys, count) = self.run(&inode, lblk, last + 1 - lblk, max_run)?;
            let s = off.max(lblk * bs);
            let e = end.min((lblk + count) * bs);
            let dst = &mut buf[(s - off) as usize..(e - off) as usize];
            match phys {
                None => dst.fill(0),
                Some(b) => self.cache.read_span(b, (s - lblk * bs) as usize, dst)?,
            }
            lblk += count;
        }
        let sequential = off == 0 || self.seq.get(&ino) == Some(&off);
        if self.is_open(ino) {
            self.seq.insert(ino, end);
        }
        if sequential {
            self.read_ahead(&inode, end.div_ceil(bs), size.div_ceil(bs))?;
        }
        Ok(n)
    }

    /// The run starting at logical block `lblk` (at most `want` blocks, at
    /// most `max` blocks): its first disk block (None for a hole) and its
    /// length, covering logical blocks whose disk blocks follow each other
    /// (or which are all holes).
    fn run(&mut self, inode: &Inode, lblk: u64, want: u64, max: u64) -> Result<(Option<u64>, u64)> {
        let phys = self.map(inode, lblk)?;
        let mut count = 1;
        while count < want.min(max) {
            let next = self.map(inode, lblk + count)?;
            let follows = match (phys, next) {
                (None, None) => true,
                (Some(p), Some(q)) => q == p + count,
                _ => false,
            };
            if !follows {
                break;
            }
            count += 1;
        }
        Ok((phys, count))
    }

    /// Sequential read-ahead: when logical block `lblk` (below the file's
    /// `nblocks`) is mapped and not cached, loads the disk-contiguous run
    /// from there (at most `READ_AHEAD` bytes) into the cache.
    fn read_ahead(&mut self, inode: &Inode, lblk: u64, nblocks: u64) -> Result<()> {
        if lblk >= nblocks {
            return Ok(());
        }
        let bs = self.geo.bs;
        let max = (READ_AHEAD / bs).max(1);
        match self.map(inode, lblk)? {
            Some(b) if !self.cache.holds(b) => {}
            _ => return Ok(()),
        }
        if let (Some(b), count) = self.run(inode, lblk, nblocks - lblk, max)? {
            self.cache.prefetch(b, count);
        }
        Ok(())
    }

    /// The largest file size this file system allows.
    fn max_size(&self) -> u64 {
        let by_map = self.max_blocks().saturating_mul(self.geo.bs);
        // i_blocks counts 512-byte units in 32 bits.
        by_map.min((u64::from(u32::MAX) + 1) * 512 - self.geo.bs * 4096)
    }

    /// Zeroes the bytes of the block holding `from` from there to the
    /// block's end (stale bytes past EOF must read as zeros once the file
    /// grows over them).
    fn zero_tail(&mut self, inode: &Inode, from: u64) -> Result<()> {
        let bs = self.geo.bs;
        let inb = (from % bs) as usize;
        if inb == 0 {
            return Ok(());
        }
        if let Some(b) = self.map(inode, from / bs)? {
            self.cache.modify(b, Kind::Data, |d| d[inb..].fill(0))?;
        }
        Ok(())
    }

    fn note_size(&mut self, size: u64) {
        if size > 0x7FFF_FFFF {
            let ro = le32(&self.sb, sb::FEATURE_RO_COMPAT) | RO_COMPAT_LARGE_FILE;
            put32(&mut self.sb, sb::FEATURE_RO_COMPAT, ro);
        }
    }

    /// Writes `data` at byte `off` of file `ino`, growing it as needed
    /// (a gap past the old end becomes a hole). Returns the bytes written;
    /// a short count means the disk filled after some bytes went in.
    pub fn write_at(&mut self, ino: Ino, off: u64, data: &[u8]) -> Result<usize> {
        let mut inode = self.editable(ino)?;
        if !inode.is_reg() {
            return Err(if inode.is_dir() {
                FsError::IsDir
            } else {
                FsError::Invalid
            });
        }
        let end = off.checked_add(data.len() as u64).ok_or(FsError::TooBig)?;
        if end > self.max_size() {
            return Err(FsError::TooBig);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let old = inode.size();
        if off > old {
            self.zero_tail(&inode, old)?;
        }
        let bs = self.geo.bs;
        let mut done = 0usize;
        let mut err = None;
        while done < data.len() {
            let pos = off + done as u64;
            let (lblk, inb) = (pos / bs, (pos % bs) as usize);
            let chunk = (bs as usize - inb).min(data.len() - done);
            let src = &data[done..done + chunk];
            match self.map_alloc(ino, &mut inode, lblk) {
                Ok((b, _)) => {
                    if chunk == bs as usize {
                        self.cache.overwrite(b, Kind::Data, Some(src))?;
                    } else {
                        self.cache
                            .modify(b, Kind::Data, |d| d[inb..inb + chunk].copy_from_slice(src))?;
                    }
                }
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
            done += chunk;
        }
        let new_size = old.max(off + done as u64);
        if err.is_some() {
            // Drop blocks allocated past the (unchanged) end.
            self.free_blocks_from(&mut inode, new_size.div_ceil(bs))?;
        }
        inode.set_size(new_size);
        self.note_size(new_size);
        inode.touch(self.now);
        self.write_inode(ino, &inode)?;
        match err {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// Sets file `ino`'s length: shrinking frees blocks (indirect ones
    /// too), growing leaves a hole.
    pub fn truncate(&mut self, ino: Ino, size: u64) -> Result<()> {
        let mut inode = self.editable(ino)?;
        if !inode.is_reg() {
            return Err(if inode.is_dir() {
                FsError::IsDir
            } else {
                FsError::Invalid
            });
        }
        if size > self.max_size() {
            return Err(FsError::TooBig);
        }
        let old = inode.size();
        if size < old {
            self.zero_tail(&inode, size)?;
            self.free_blocks_from(&mut inode, size.div_ceil(self.geo.bs))?;
        } else if size > old {
            self.zero_tail(&inode, old)?;
        }
        inode.set_size(size);
        self.note_size(size);
        inode.touch(self.now);
        self.write_inode(ino, &inode)
    }

    /// Drops one link to `ino`; at zero the inode and its blocks are freed
    /// (a regular file still open is freed at its last close instead).
    fn drop_link(&mut self, ino: Ino, mut inode: Inode) -> Result<()> {
        let dir = inode.is_dir();
        let links = if dir {
            0
        } else {
            inode.links().saturating_sub(1)
        };
        inode.set_links(links);
        if links > 0 || (!dir && self.is_open(ino)) {
            inode.touch(self.now);
            return self.write_inode(ino, &inode);
        }
        self.free_file(ino, inode)
    }

    /// Frees inode `ino` (no links left) and its blocks.
    pub(crate) fn free_file(&mut self, ino: Ino, mut inode: Inode) -> Result<()> {
        let dir = inode.is_dir();
        if !inode.is_fast_symlink() {
            self.free_blocks_from(&mut inode, 0)?;
        }
        inode.set_dtime(self.now);
        self.write_inode(ino, &inode)?;
        self.free_inode(ino, dir)
    }

    /// Removes the name `path` (not a directory).
    pub fn unlink(&mut self, path: &str) -> Result<()> {
        let (p, _, name) = self.parent(path)?;
        let mut pi = self.editable(p)?;
        let f = self.dir_find(&pi, name)?.ok_or(FsError::NotFound)?;
        let inode = self.editable(f.ino)?;
        if inode.is_dir() {
            return Err(FsError::IsDir);
        }
        self.dir_remove(p, &mut pi, name)?;
        self.drop_link(f.ino, inode)
    }

    /// Makes directory `path` with permission bits `mode`.
    pub fn mkdir(&mut self, path: &str, mode: u16) -> Result<Ino> {
        let (p, _, name) = self.parent(path)?;
        let mut pi = self.editable(p)?;
        if self.dir_find(&pi, name)?.is_some() {
            return Err(FsError::Exists);
        }
        if pi.links() >= LINK_MAX {
            return Err(FsError::NoSpace);
        }
        let ino = self.alloc_inode(self.group_of(p), true)?;
        let mut inode = Inode::new(self.geo.inode_size);
        inode.set_mode(S_IFDIR | (mode & 0o7777));
        inode.set_links(2);
        inode.set_all_times(self.now);
        let made = self
            .dir_init(ino, &mut inode, p)
            .and_then(|_| self.write_inode(ino, &inode))
            .and_then(|_| self.dir_add(p, &mut pi, name, ino, FileType::Dir));
        if let Err(e) = made {
            self.free_blocks_from(&mut inode, 0)?;
            inode.set_links(0);
            inode.set_dtime(self.now);
            self.write_inode(ino, &inode)?;
            self.free_inode(ino, true)?;
            return Err(e);
        }
        pi = self.read_inode(p)?;
        pi.set_links(pi.links().saturating_add(1));
        self.write_inode(p, &pi)?;
        Ok(ino)
    }

    /// Removes the empty directory `path`.
    pub fn rmdir(&mut self, path: &str) -> Result<()> {
        let (p, _, name) = self.parent(path)?;
        let mut pi = self.editable(p)?;
        let f = self.dir_find(&pi, name)?.ok_or(FsError::NotFound)?;
        let inode = self.editable(f.ino)?;
        if !inode.is_dir() {
            return Err(FsError::NotDir);
        }
        if f.ino == ROOT_INO || f.ino == p {
            return Err(FsError::Invalid);
        }
        if !self.dir_is_empty(&inode)? {
            return Err(FsError::NotEmpty);
        }
        self.dir_remove(p, &mut pi, name)?;
        pi.set_links(pi.links().saturating_sub(1));
        self.write_inode(p, &pi)?;
        self.drop_link(f.ino, inode)
    }

    /// True when directory `dir` is `anc` or lies below it.
    fn is_within(&mut self, mut dir: Ino, anc: Ino) -> Result<bool> {
        for _ in 0..self.geo.inodes_count.min(1 << 20) {
            if dir == anc {
                return Ok(true);
            }
            if dir == ROOT_INO {
                return Ok(false);
            }
            let i = self.live_inode(dir)?;
            dir = self
                .dir_find(&i, b"..")?
                .ok_or(FsError::Corrupt("directory without .."))?
                .ino;
        }
        Err(FsError::Corrupt("loop in directory tree"))
    }

    /// Renames `from` to `to`, replacing a file at `to` (or an empty
    /// directory when `from` is a directory).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.writable()?;
        let (sp, spi, sname) = self.parent(from)?;
        let (dp, _, dname) = self.parent(to)?;
        let src = self.dir_find(&spi, sname)?.ok_or(FsError::NotFound)?.ino;
        let mut si = self.editable(src)?;
        let sdir = si.is_dir();
        if sdir && self.is_within(dp, src)? {
            return Err(FsError::Invalid);
        }
        let ft = FileType::from_mode(si.mode());
        let mut dpi = self.editable(dp)?;
        let mut replaced_dir = false;
        match self.dir_find(&dpi, dname)? {
            Some(f) if f.ino == src => return Ok(()),
            Some(f) => {
                let ti = self.editable(f.ino)?;
                if ti.is_dir() {
                    if !sdir {
                        return Err(FsError::IsDir);
                    }
                    if !self.dir_is_empty(&ti)? {
                        return Err(FsError::NotEmpty);
                    }
                    replaced_dir = true;
                } else if sdir {
                    return Err(FsError::NotDir);
                }
                self.dir_retarget(&f, src, ft)?;
                self.drop_link(f.ino, ti)?;
            }
            None => {
                if sdir && sp != dp && dpi.links() >= LINK_MAX {
                    return Err(FsError::NoSpace);
                }
                self.dir_add(dp, &mut dpi, dname, src, ft)?;
            }
        }
        let mut spi = self.editable(sp)?;
        self.dir_remove(sp, &mut spi, sname)?;
        if sdir {
            if sp != dp {
                let dotdot = self
                    .dir_find(&si, b"..")?
                    .ok_or(FsError::Corrupt("directory without .."))?;
                self.dir_retarget(&dotdot, dp, FileType::Dir)?;
                let mut spi = self.read_inode(sp)?;
                spi.set_links(spi.links().saturating_sub(1));
                self.write_inode(sp, &spi)?;
                if !replaced_dir {
                    let mut dpi = self.read_inode(dp)?;
                    dpi.set_links(dpi.links().saturating_add(1));
                    self.write_inode(dp, &dpi)?;
                }
            } else if replaced_dir {
                let mut dpi = self.read_inode(dp)?;
                dpi.set_links(dpi.links().saturating_sub(1));
                self.write_inode(dp, &dpi)?;
            }
        }
        si = self.read_inode(src)?;
        si.touch(self.now);
        self.write_inode(src, &si)
    }

    fn stat_inode(&self, ino: Ino, i: &Inode) -> Stat {
        let (atime, ctime, mtime) = i.times();
        Stat {
            ino,
            mode: i.mode(),
            nlink: i.links(),
            uid: i.uid(),
            gid: i.gid(),
            size: i.size(),
            atime,
            mtime,
            ctime,
            blocks: i.blocks512(),
            blksize: self.geo.bs,
        }
    }

    /// Status of the file or directory at `path`.
    pub fn stat(&mut self, path: &str) -> Result<Stat> {
        let ino = self.lookup(path)?;
        self.fstat(ino)
    }

    /// Status of open file `ino`.
    pub fn fstat(&mut self, ino: Ino) -> Result<Stat> {
        let i = self.live_inode(ino)?;
        Ok(self.stat_inode(ino, &i))
    }

    /// The entries of directory `path`, `.` and `..` included.
    pub fn readdir(&mut self, path: &str) -> Result<Vec<DirEntry>> {
        let ino = self.lookup(path)?;
        self.readdir_ino(ino)
    }

    /// The entries of open directory `ino`.
    pub fn readdir_ino(&mut self, ino: Ino) -> Result<Vec<DirEntry>> {
        let i = self.live_inode(ino)?;
        self.dir_list(&i)
    }
}
