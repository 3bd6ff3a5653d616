//! Directories: the linked list of entries (inode, rec_len, name_len,
//! file_type, name) in each directory block; lookup, listing, insertion,
//! removal, retargeting. Every entry is checked before use.

use alloc::vec::Vec;

use crate::cache::Kind;
use crate::device::BlockDevice;
use crate::disk::{le16, le32, put16, put32, Inode};
use crate::error::{FsError, Result};
use crate::fs::{Fs, Ino};

/// What a directory entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Not recorded (images without the `filetype` feature).
    Unknown,
    /// Regular file.
    Regular,
    /// Directory.
    Dir,
    /// Character device.
    CharDev,
    /// Block device.
    BlockDev,
    /// FIFO.
    Fifo,
    /// Socket.
    Socket,
    /// Symbolic link.
    Symlink,
}

impl FileType {
    /// From the on-disk `file_type` byte.
    pub(crate) fn from_byte(b: u8) -> FileType {
        match b {
            1 => FileType::Regular,
            2 => FileType::Dir,
            3 => FileType::CharDev,
            4 => FileType::BlockDev,
            5 => FileType::Fifo,
            6 => FileType::Socket,
            7 => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }

    /// The on-disk `file_type` byte.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            FileType::Unknown => 0,
            FileType::Regular => 1,
            FileType::Dir => 2,
            FileType::CharDev => 3,
            FileType::BlockDev => 4,
            FileType::Fifo => 5,
            FileType::Socket => 6,
            FileType::Symlink => 7,
        }
    }

    /// From an inode's mode.
    pub(crate) fn from_mode(mode: u16) -> FileType {
        match mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Dir,
            0o020000 => FileType::CharDev,
            0o060000 => FileType::BlockDev,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            0o120000 => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }
}

/// One name in a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The inode it names.
    pub ino: Ino,
    /// The name's bytes.
    pub name: Vec<u8>,
    /// The type recorded in the entry.
    pub kind: FileType,
}

/// A parsed entry's position and fields.
#[derive(Debug, Clone, Copy)]
struct Raw {
    off: usize,
    rec_len: usize,
    ino: u32,
    name_len: usize,
    ftype: u8,
}

/// Bytes an entry with a name of `n` bytes needs.
fn need(n: usize) -> usize {
    (8 + n).div_ceil(4) * 4
}

/// Parses and checks every entry in one directory block.
fn parse(block: &[u8], filetype: bool, max_ino: u64) -> Result<Vec<Raw>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < block.len() {
        if off + 8 > block.len() {
            return Err(FsError::Corrupt("directory entry header past block end"));
        }
        let ino = le32(block, off);
        let rec_len = usize::from(le16(block, off + 4));
        let (name_len, ftype) = if filetype {
            (usize::from(block[off + 6]), block[off + 7])
        } else {
            (usize::from(le16(block, off + 6)), 0)
        };
        if rec_len < 8 || rec_len % 4 != 0 || off + rec_len > block.len() {
            return Err(FsError::Corrupt("directory entry rec_len"));
        }
        if 8 + name_len > rec_len {
            return Err(FsError::Corrupt("directory entry name_len"));
        }
        if u64::from(ino) > max_ino {
            return Err(FsError::Corrupt("directory entry inode out of range"));
        }
        out.push(Raw {
            off,
            rec_len,
            ino,
            name_len,
            ftype,
        });
        off += rec_len;
    }
    Ok(out)
}

fn name_of<'a>(block: &'a [u8], r: &Raw) -> &'a [u8] {
    &block[r.off + 8..r.off + 8 + r.name_len]
}

fn write_entry(block: &mut [u8], off: usize, rec_len: usize, ino: Ino, name: &[u8], ft: u8) {
    put32(block, off, ino);
    put16(block, off + 4, rec_len as u16);
    block[off + 6] = name.len() as u8;
    block[off + 7] = ft;
    block[off + 8..off + 8 + name.len()].copy_from_slice(name);
}

/// Where a found name lives.
pub(crate) struct Found {
    /// The directory block.
    pub blk: u64,
    /// The entry's offset in it.
    pub off: usize,
    /// The inode it names.
    pub ino: Ino,
}

impl<D: BlockDevice> Fs<D> {
    /// The directory's disk blocks, in order (holes are corruption).
    fn dir_blocks(&mut self, dir: &Inode) -> Result<Vec<u64>> {
        if !dir.is_dir() {
            return Err(FsError::NotDir);
        }
        let size = dir.size();
        if size % self.geo.bs != 0 || size / self.geo.bs > self.geo.blocks_count {
            return Err(FsError::Corrupt("directory size"));
        }
        let mut v = Vec::new();
        for l in 0..size / self.geo.bs {
            match self.map(dir, l)? {
                Some(b) => v.push(b),
                None => return Err(FsError::Corrupt("hole in directory")),
            }
        }
        Ok(v)
    }

    fn parse_block(&mut self, blk: u64) -> Result<(Vec<u8>, Vec<Raw>)> {
        let data = self.cache.read(blk)?;
        let ents = parse(&data, self.geo.filetype, self.geo.inodes_count)?;
        Ok((data, ents))
    }

    /// Finds `name` in directory `dir`.
    pub(crate) fn dir_find(&mut self, dir: &Inode, name: &[u8]) -> Result<Option<Found>> {
        for blk in self.dir_blocks(dir)? {
            let (data, ents) = self.parse_block(blk)?;
            for r in ents {
                if r.ino != 0 && name_of(&data, &r) == name {
                    return Ok(Some(Found {
                        blk,
                        off: r.off,
                        ino: r.ino,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Every live entry of directory `dir`.
    pub(crate) fn dir_list(&mut self, dir: &Inode) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for blk in self.dir_blocks(dir)? {
            let (data, ents) = self.parse_block(blk)?;
            for r in ents {
                if r.ino != 0 {
                    let name = name_of(&data, &r).to_vec();
                    out.push(DirEntry {
                        ino: r.ino,
                        name,
                        kind: FileType::from_byte(r.ftype),
                    });
                }
            }
        }
        Ok(out)
    }

    /// True when `dir` holds nothing but `.` and `..`.
    pub(crate) fn dir_is_empty(&mut self, dir: &Inode) -> Result<bool> {
        Ok(self
            .dir_list(dir)?
            .iter()
            .all(|e| e.name == b"." || e.name == b".."))
    }

    fn ftype_byte(&self, ft: FileType) -> u8 {
        if self.geo.filetype {
            ft.to_byte()
        } else {
            0
        }
    }

    /// Adds `name` -> `ino` to directory `dir_ino` (whose inode is `dir`,
    /// updated and written here).
    pub(crate) fn dir_add(
        &mut self,
        dir_ino: Ino,
        dir: &mut Inode,
        name: &[u8],
        ino: Ino,
        ft: FileType,
    ) -> Result<()> {
        let ftb = self.ftype_byte(ft);
        let want = need(name.len());
        for blk in self.dir_blocks(dir)? {
            let (_, ents) = self.parse_block(blk)?;
            for r in ents {
                let used = if r.ino == 0 { 0 } else { need(r.name_len) };
                if r.rec_len >= used + want {
                    self.cache.modify(blk, Kind::Meta, |b| {
                        if used == 0 {
                            write_entry(b, r.off, r.rec_len, ino, name, ftb);
                        } else {
                            put16(b, r.off + 4, used as u16);
                            write_entry(b, r.off + used, r.rec_len - used, ino, name, ftb);
                        }
                    })?;
                    dir.clear_index();
                    dir.touch(self.now);
                    return self.write_inode(dir_ino, dir);
                }
            }
        }
        // No room: append a block.
        let lblk = dir.size() / self.geo.bs;
        let (blk, _) = self.map_alloc(dir_ino, dir, lblk)?;
        let bs = self.geo.bs as usize;
        self.cache.overwrite(blk, Kind::Meta, None)?;
        self.cache
            .modify(blk, Kind::Meta, |b| write_entry(b, 0, bs, ino, name, ftb))?;
        dir.set_size(dir.size() + self.geo.bs);
        dir.clear_index();
        dir.touch(self.now);
        self.write_inode(dir_ino, dir)
    }

    /// Removes the entry `name` from directory `dir_ino`.
    pub(crate) fn dir_remove(&mut self, dir_ino: Ino, dir: &mut Inode, name: &[u8]) -> Result<()> {
        for blk in self.dir_blocks(dir)? {
            let (data, ents) = self.parse_block(blk)?;
            for (k, r) in ents.iter().enumerate() {
                if r.ino != 0 && name_of(&data, r) == name {
                    let prev = if k > 0 { Some(ents[k - 1]) } else { None };
                    self.cache.modify(blk, Kind::Meta, |b| match prev {
                        Some(p) => put16(b, p.off + 4, (p.rec_len + r.rec_len) as u16),
                        None => put32(b, r.off, 0),
                    })?;
                    dir.clear_index();
                    dir.touch(self.now);
                    return self.write_inode(dir_ino, dir);
                }
            }
        }
        Err(FsError::NotFound)
    }

    /// Points the existing entry `f` at `ino` with type `ft`.
    pub(crate) fn dir_retarget(&mut self, f: &Found, ino: Ino, ft: FileType) -> Result<()> {
        let ftb = self.ftype_byte(ft);
        let filetype = self.geo.filetype;
        self.cache.modify(f.blk, Kind::Meta, |b| {
            put32(b, f.off, ino);
            if filetype {
                b[f.off + 7] = ftb;
            }
        })
    }

    /// Writes the first block of a new directory: `.` and `..`.
    pub(crate) fn dir_init(&mut self, ino: Ino, dir: &mut Inode, parent: Ino) -> Result<()> {
        let (blk, _) = self.map_alloc(ino, dir, 0)?;
        let bs = self.geo.bs as usize;
        let ft = self.ftype_byte(FileType::Dir);
        self.cache.overwrite(blk, Kind::Meta, None)?;
        self.cache.modify(blk, Kind::Meta, |b| {
            write_entry(b, 0, 12, ino, b".", ft);
            write_entry(b, 12, bs - 12, parent, b"..", ft);
        })?;
        dir.set_size(self.geo.bs);
        Ok(())
    }
}
