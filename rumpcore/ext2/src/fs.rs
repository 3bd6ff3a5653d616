//! The mounted file system: mount checks, inode access, superblock and
//! descriptor write-back, sync and unmount.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::cache::{Cache, Kind};
use crate::device::BlockDevice;
use crate::disk::{le16, le32, put16, put32, sb, Geometry, GroupDesc, Inode};
use crate::error::{FsError, Result};

/// An inode number; open files are named by theirs.
pub type Ino = u32;

/// The root directory's inode number.
pub const ROOT_INO: Ino = 2;

/// Superblock `s_state`: cleanly unmounted.
const STATE_VALID: u16 = 1;
/// Blocks the cache holds at most.
const CACHE_BLOCKS: usize = 256;

/// A mounted ext2 file system over the device `D`.
pub struct Fs<D: BlockDevice> {
    pub(crate) cache: Cache<D>,
    pub(crate) geo: Geometry,
    pub(crate) groups: Vec<GroupDesc>,
    /// The 1024 superblock bytes.
    pub(crate) sb: Vec<u8>,
    pub(crate) read_only: bool,
    pub(crate) now: u32,
    /// Open handles per inode.
    pub(crate) open: BTreeMap<Ino, u32>,
    /// Per open file, where its last read ended (a read starting there is
    /// sequential and triggers read-ahead); dropped at the last close.
    pub(crate) seq: BTreeMap<Ino, u64>,
}

fn read_raw<D: BlockDevice>(dev: &mut D, off: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    dev.read(off, &mut buf)?;
    Ok(buf)
}

impl<D: BlockDevice> Fs<D> {
    /// Mounts the ext2 file system on `dev`. A read-write mount refuses
    /// images with ro_compat features it cannot maintain.
    pub fn mount(mut dev: D, read_only: bool) -> Result<Fs<D>> {
        if dev.size() < 2048 {
            return Err(FsError::Invalid);
        }
        let sb_raw = read_raw(&mut dev, 1024, 1024)?;
        let geo = Geometry::parse(&sb_raw, dev.size())?;
        if geo.ro_only && !read_only {
            return Err(FsError::Unsupported("read-only compatible features"));
        }
        let gdt_len = usize::try_from(geo.groups * 32).map_err(|_| FsError::Corrupt("groups"))?;
        let gdt = read_raw(&mut dev, geo.gdt_block() * geo.bs, gdt_len)?;
        let mut groups = Vec::new();
        let itb = geo.itable_blocks();
        for g in 0..geo.groups as usize {
            let d = GroupDesc::parse(&gdt[g * 32..g * 32 + 32]);
            let ok = |b: u64, n: u64| {
                b >= geo.first_data_block && b.checked_add(n).is_some_and(|e| e <= geo.blocks_count)
            };
            if !ok(d.block_bitmap, 1) || !ok(d.inode_bitmap, 1) || !ok(d.inode_table, itb) {
                return Err(FsError::Corrupt("group descriptor block locations"));
            }
            if u64::from(d.free_inodes) > geo.ipg || u64::from(d.free_blocks) > geo.bpg {
                return Err(FsError::Corrupt("group descriptor counts"));
            }
            groups.push(d);
        }
        let now = le32(&sb_raw, sb::WTIME);
        let bs = geo.bs as usize;
        let mut fs = Fs {
            cache: Cache::new(dev, bs, CACHE_BLOCKS),
            geo,
            groups,
            sb: sb_raw,
            read_only,
            now,
            open: BTreeMap::new(),
            seq: BTreeMap::new(),
        };
        let root = fs.read_inode(ROOT_INO)?;
        if !root.is_dir() {
            return Err(FsError::Corrupt("root is not a directory"));
        }
        if !read_only {
            let count = le16(&fs.sb, sb::MNT_COUNT).wrapping_add(1);
            put16(&mut fs.sb, sb::MNT_COUNT, count);
            put32(&mut fs.sb, sb::MTIME, fs.now);
            let state = le16(&fs.sb, sb::STATE) & !STATE_VALID;
            put16(&mut fs.sb, sb::STATE, state);
            fs.sync()?;
        }
        Ok(fs)
    }

    /// Sets the clock (seconds since 1970) used for inode and superblock
    /// times; until called, the superblock's last write time is used.
    pub fn set_time(&mut self, now: u32) {
        self.now = now;
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u64 {
        self.geo.bs
    }

    /// Free blocks and free inodes.
    pub fn free_counts(&self) -> (u64, u64) {
        (
            u64::from(le32(&self.sb, sb::FREE_BLOCKS)),
            u64::from(le32(&self.sb, sb::FREE_INODES)),
        )
    }

    pub(crate) fn writable(&self) -> Result<()> {
        if self.read_only {
            Err(FsError::ReadOnly)
        } else {
            Ok(())
        }
    }

    fn inode_loc(&self, ino: Ino) -> Result<(u64, usize)> {
        let ino = u64::from(ino);
        if ino == 0 || ino > self.geo.inodes_count {
            return Err(FsError::Corrupt("inode number out of range"));
        }
        let g = (ino - 1) / self.geo.ipg;
        let idx = (ino - 1) % self.geo.ipg;
        let byte = idx * self.geo.inode_size;
        let table = self
            .groups
            .get(g as usize)
            .ok_or(FsError::Corrupt("inode group"))?
            .inode_table;
        Ok((table + byte / self.geo.bs, (byte % self.geo.bs) as usize))
    }

    /// Reads inode `ino`.
    pub(crate) fn read_inode(&mut self, ino: Ino) -> Result<Inode> {
        let (blk, off) = self.inode_loc(ino)?;
        let n = self.geo.inode_size as usize;
        let raw = self.cache.with(blk, |b| b[off..off + n].to_vec())?;
        Ok(Inode { raw })
    }

    /// Writes inode `ino`.
    pub(crate) fn write_inode(&mut self, ino: Ino, inode: &Inode) -> Result<()> {
        self.writable()?;
        let (blk, off) = self.inode_loc(ino)?;
        let n = self.geo.inode_size as usize;
        self.cache.modify(blk, Kind::Meta, |b| {
            b[off..off + n].copy_from_slice(&inode.raw[..n])
        })
    }

    /// Puts the in-memory superblock and descriptors into the cache.
    fn stage_super(&mut self) -> Result<()> {
        let bs = self.geo.bs;
        let (blk, off) = (1024 / bs, (1024 % bs) as usize);
        let sbc = self.sb.clone();
        self.cache.modify(blk, Kind::Meta, |b| {
            b[off..off + 1024].copy_from_slice(&sbc)
        })?;
        let per = (bs / 32) as usize;
        for (i, chunk) in self.groups.clone().chunks(per).enumerate() {
            let blk = self.geo.gdt_block() + i as u64;
            self.cache.modify(blk, Kind::Meta, |b| {
                for (j, d) in chunk.iter().enumerate() {
                    d.store(&mut b[j * 32..j * 32 + 32]);
                }
            })?;
        }
        Ok(())
    }

    /// Writes every dirty block (file data first, then metadata) and
    /// flushes the device.
    pub fn sync(&mut self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        put32(&mut self.sb, sb::WTIME, self.now);
        self.stage_super()?;
        self.cache.write_back()
    }

    /// Makes inode `ino`'s data and metadata (and everything else pending)
    /// durable.
    pub fn fsync(&mut self, ino: Ino) -> Result<()> {
        self.inode_loc(ino)?;
        self.sync()
    }

    /// Frees files unlinked while open, marks the file system clean,
    /// writes everything back and returns the device. On failure the
    /// device comes back with the error (the image is left marked unclean
    /// unless the superblock reached it).
    pub fn unmount(mut self) -> core::result::Result<D, (FsError, D)> {
        match self.finish() {
            Ok(()) => Ok(self.cache.into_dev()),
            Err(e) => Err((e, self.cache.into_dev())),
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        self.release_all()?;
        let state = le16(&self.sb, sb::STATE) | STATE_VALID;
        put16(&mut self.sb, sb::STATE, state);
        self.sync()
    }

    /// Returns the device without writing anything back: unwritten
    /// changes are lost, as in a crash (for forced detach and tests).
    pub fn abandon(self) -> D {
        self.cache.into_dev()
    }
}
