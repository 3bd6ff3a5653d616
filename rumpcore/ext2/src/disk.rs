//! On-disk structures: little-endian field access, the superblock's
//! geometry (validated), group descriptors and inodes.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{FsError, Result};

/// Reads a little-endian u16 at `off` (0 when out of range).
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// Reads a little-endian u32 at `off` (0 when out of range).
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Writes a little-endian u16 at `off` (ignored when out of range).
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// Writes a little-endian u32 at `off` (ignored when out of range).
pub(crate) fn put32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// The ext2 magic number.
pub(crate) const MAGIC: u16 = 0xEF53;
/// Superblock field offsets.
pub(crate) mod sb {
    pub const INODES_COUNT: usize = 0;
    pub const BLOCKS_COUNT: usize = 4;
    pub const FREE_BLOCKS: usize = 12;
    pub const FREE_INODES: usize = 16;
    pub const FIRST_DATA_BLOCK: usize = 20;
    pub const LOG_BLOCK_SIZE: usize = 24;
    pub const BLOCKS_PER_GROUP: usize = 32;
    pub const INODES_PER_GROUP: usize = 40;
    pub const MTIME: usize = 44;
    pub const WTIME: usize = 48;
    pub const MNT_COUNT: usize = 52;
    pub const MAGIC: usize = 56;
    pub const STATE: usize = 58;
    pub const REV_LEVEL: usize = 76;
    pub const FIRST_INO: usize = 84;
    pub const INODE_SIZE: usize = 88;
    pub const FEATURE_INCOMPAT: usize = 96;
    pub const FEATURE_RO_COMPAT: usize = 100;
}

/// incompat: directory entries carry a file type byte.
pub(crate) const INCOMPAT_FILETYPE: u32 = 0x2;
/// ro_compat: superblock backups only in groups 0, 1 and powers of 3, 5, 7.
pub(crate) const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
/// ro_compat: files may be 2 GiB or larger.
pub(crate) const RO_COMPAT_LARGE_FILE: u32 = 0x2;
/// incompat features this implementation reads and writes.
const INCOMPAT_OK: u32 = INCOMPAT_FILETYPE;
/// ro_compat features this implementation writes correctly.
const RO_COMPAT_OK: u32 = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;

/// The file system's shape, derived from a checked superblock.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    /// Block size in bytes.
    pub bs: u64,
    /// Blocks in the file system.
    pub blocks_count: u64,
    /// The first block group 0 covers (1 for 1 KiB blocks, else 0).
    pub first_data_block: u64,
    /// Blocks per group.
    pub bpg: u64,
    /// Inodes per group.
    pub ipg: u64,
    /// Inodes in the file system.
    pub inodes_count: u64,
    /// Number of block groups.
    pub groups: u64,
    /// Bytes per on-disk inode.
    pub inode_size: u64,
    /// First inode number ordinary files may use.
    pub first_ino: u64,
    /// Directory entries carry a type byte.
    pub filetype: bool,
    /// The image has ro_compat features we cannot maintain.
    pub ro_only: bool,
}

impl Geometry {
    /// Checks the 1024-byte superblock `raw` against a device of
    /// `dev_size` bytes.
    pub(crate) fn parse(raw: &[u8], dev_size: u64) -> Result<Geometry> {
        if le16(raw, sb::MAGIC) != MAGIC {
            return Err(FsError::Invalid);
        }
        let log = le32(raw, sb::LOG_BLOCK_SIZE);
        if log > 5 {
            return Err(FsError::Unsupported("block size above 32 KiB"));
        }
        let bs = 1024u64 << log;
        let rev = le32(raw, sb::REV_LEVEL);
        let (first_ino, inode_size, compat_in, ro_in) = match rev {
            0 => (11, 128, 0, 0),
            1 => (
                u64::from(le32(raw, sb::FIRST_INO)),
                u64::from(le16(raw, sb::INODE_SIZE)),
                le32(raw, sb::FEATURE_INCOMPAT),
                le32(raw, sb::FEATURE_RO_COMPAT),
            ),
            _ => return Err(FsError::Unsupported("revision level above 1")),
        };
        if compat_in & !INCOMPAT_OK != 0 {
            return Err(FsError::Unsupported(
                "incompatible features (extents, journal recovery, 64bit, meta_bg, ...)",
            ));
        }
        if !(128..=bs).contains(&inode_size) || !inode_size.is_power_of_two() {
            return Err(FsError::Corrupt("inode size"));
        }
        let blocks_count = u64::from(le32(raw, sb::BLOCKS_COUNT));
        let first_data_block = u64::from(le32(raw, sb::FIRST_DATA_BLOCK));
        let bpg = u64::from(le32(raw, sb::BLOCKS_PER_GROUP));
        let ipg = u64::from(le32(raw, sb::INODES_PER_GROUP));
        let inodes_count = u64::from(le32(raw, sb::INODES_COUNT));
        if first_data_block != u64::from(bs == 1024) {
            return Err(FsError::Corrupt("first data block"));
        }
        if bpg == 0 || bpg > bs * 8 || ipg == 0 || ipg > bs * 8 {
            return Err(FsError::Corrupt("blocks or inodes per group"));
        }
        if blocks_count <= first_data_block + 1 {
            return Err(FsError::Corrupt("block count"));
        }
        let size = blocks_count
            .checked_mul(bs)
            .ok_or(FsError::Corrupt("block count"))?;
        if size > dev_size {
            return Err(FsError::Corrupt("file system larger than device"));
        }
        let groups = (blocks_count - first_data_block).div_ceil(bpg);
        if groups.checked_mul(ipg) != Some(inodes_count) {
            return Err(FsError::Corrupt("inode count disagrees with group count"));
        }
        if first_ino < 11 || first_ino > inodes_count {
            return Err(FsError::Corrupt("first inode"));
        }
        // The descriptor table must fit in group 0.
        if groups
            .checked_mul(32)
            .map(|b| b.div_ceil(bs))
            .is_none_or(|n| n >= bpg)
        {
            return Err(FsError::Corrupt("group descriptor table size"));
        }
        Ok(Geometry {
            bs,
            blocks_count,
            first_data_block,
            bpg,
            ipg,
            inodes_count,
            groups,
            inode_size,
            first_ino,
            filetype: compat_in & INCOMPAT_FILETYPE != 0,
            ro_only: ro_in & !RO_COMPAT_OK != 0,
        })
    }

    /// Blocks in group `g` (the last group may be short).
    pub(crate) fn blocks_in_group(&self, g: u64) -> u64 {
        let start = self.first_data_block + g * self.bpg;
        (self.blocks_count - start).min(self.bpg)
    }

    /// Block holding the first group descriptor.
    pub(crate) fn gdt_block(&self) -> u64 {
        self.first_data_block + 1
    }

    /// Blocks one group's inode table takes.
    pub(crate) fn itable_blocks(&self) -> u64 {
        (self.ipg * self.inode_size).div_ceil(self.bs)
    }

    /// Pointers per indirect block.
    pub(crate) fn ptrs(&self) -> u64 {
        self.bs / 4
    }
}

/// One block group descriptor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupDesc {
    /// Block bitmap block.
    pub block_bitmap: u64,
    /// Inode bitmap block.
    pub inode_bitmap: u64,
    /// First inode table block.
    pub inode_table: u64,
    /// Free blocks in the group.
    pub free_blocks: u16,
    /// Free inodes in the group.
    pub free_inodes: u16,
    /// Directories in the group.
    pub used_dirs: u16,
}

impl GroupDesc {
    /// Decodes the 32-byte descriptor at `b`.
    pub(crate) fn parse(b: &[u8]) -> GroupDesc {
        GroupDesc {
            block_bitmap: u64::from(le32(b, 0)),
            inode_bitmap: u64::from(le32(b, 4)),
            inode_table: u64::from(le32(b, 8)),
            free_blocks: le16(b, 12),
            free_inodes: le16(b, 14),
            used_dirs: le16(b, 16),
        }
    }

    /// Encodes the counters into the 32-byte descriptor at `b` (the block
    /// locations never change).
    pub(crate) fn store(&self, b: &mut [u8]) {
        put16(b, 12, self.free_blocks);
        put16(b, 14, self.free_inodes);
        put16(b, 16, self.used_dirs);
    }
}

/// Mode bits: file type mask and the types.
pub(crate) const S_IFMT: u16 = 0o170000;
/// Directory.
pub(crate) const S_IFDIR: u16 = 0o040000;
/// Regular file.
pub(crate) const S_IFREG: u16 = 0o100000;
/// Symbolic link.
pub(crate) const S_IFLNK: u16 = 0o120000;
/// Inode flag: the directory has an htree index.
const INDEX_FL: u32 = 0x1000;
/// Inode flags we cannot honour when writing (compressed, extents, inline data, ...).
const BAD_FLAGS: u32 = 0x0000_0004 | 0x0008_0000 | 0x1000_0000;

/// An inode, kept as its raw on-disk bytes.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    /// The on-disk bytes (`inode_size` long).
    pub raw: Vec<u8>,
}

impl Inode {
    /// A zeroed inode of `size` bytes; 256-byte inodes get the usual
    /// 32 bytes of extra fields.
    pub(crate) fn new(size: u64) -> Inode {
        let mut raw = vec![0u8; size as usize];
        if size > 128 {
            put16(&mut raw, 128, 32);
        }
        Inode { raw }
    }
    /// `i_mode`.
    pub(crate) fn mode(&self) -> u16 {
        le16(&self.raw, 0)
    }
    /// Sets `i_mode`.
    pub(crate) fn set_mode(&mut self, m: u16) {
        put16(&mut self.raw, 0, m)
    }
    /// Is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.mode() & S_IFMT == S_IFDIR
    }
    /// Is a regular file.
    pub(crate) fn is_reg(&self) -> bool {
        self.mode() & S_IFMT == S_IFREG
    }
    /// Is a symlink whose target lives in `i_block` (no data blocks).
    pub(crate) fn is_fast_symlink(&self) -> bool {
        self.mode() & S_IFMT == S_IFLNK && self.blocks512() == 0
    }
    /// Size in bytes (the high half only counts for regular files).
    pub(crate) fn size(&self) -> u64 {
        let lo = u64::from(le32(&self.raw, 4));
        if self.is_reg() {
            lo | u64::from(le32(&self.raw, 108)) << 32
        } else {
            lo
        }
    }
    /// Sets the size.
    pub(crate) fn set_size(&mut self, s: u64) {
        put32(&mut self.raw, 4, s as u32);
        if self.is_reg() {
            put32(&mut self.raw, 108, (s >> 32) as u32);
        }
    }
    /// Owner uid (low and high halves).
    pub(crate) fn uid(&self) -> u32 {
        u32::from(le16(&self.raw, 2)) | u32::from(le16(&self.raw, 120)) << 16
    }
    /// Owner gid (low and high halves).
    pub(crate) fn gid(&self) -> u32 {
        u32::from(le16(&self.raw, 24)) | u32::from(le16(&self.raw, 122)) << 16
    }
    /// Access, change, modification times.
    pub(crate) fn times(&self) -> (u32, u32, u32) {
        (le32(&self.raw, 8), le32(&self.raw, 12), le32(&self.raw, 16))
    }
    /// Sets the change and modification times.
    pub(crate) fn touch(&mut self, now: u32) {
        put32(&mut self.raw, 12, now);
        put32(&mut self.raw, 16, now);
    }
    /// Sets all three times.
    pub(crate) fn set_all_times(&mut self, now: u32) {
        put32(&mut self.raw, 8, now);
        self.touch(now);
    }
    /// Sets the deletion time.
    pub(crate) fn set_dtime(&mut self, t: u32) {
        put32(&mut self.raw, 20, t)
    }
    /// `i_links_count`.
    pub(crate) fn links(&self) -> u16 {
        le16(&self.raw, 26)
    }
    /// Sets `i_links_count`.
    pub(crate) fn set_links(&mut self, n: u16) {
        put16(&mut self.raw, 26, n)
    }
    /// `i_blocks` in 512-byte units.
    pub(crate) fn blocks512(&self) -> u64 {
        u64::from(le32(&self.raw, 28))
    }
    /// Sets `i_blocks`.
    pub(crate) fn set_blocks512(&mut self, n: u64) {
        put32(&mut self.raw, 28, n as u32)
    }
    /// `i_flags`.
    pub(crate) fn flags(&self) -> u32 {
        le32(&self.raw, 32)
    }
    /// Uses flags this implementation cannot write (extents, compression, inline data).
    pub(crate) fn has_bad_flags(&self) -> bool {
        self.flags() & BAD_FLAGS != 0
    }
    /// Drops the htree index flag (the index goes stale once we edit the
    /// directory linearly).
    pub(crate) fn clear_index(&mut self) {
        let f = self.flags() & !INDEX_FL;
        put32(&mut self.raw, 32, f)
    }
    /// Block pointer `i` (0..15) of `i_block`.
    pub(crate) fn block(&self, i: usize) -> u64 {
        u64::from(le32(&self.raw, 40 + 4 * i))
    }
    /// Sets block pointer `i`.
    pub(crate) fn set_block(&mut self, i: usize, b: u64) {
        put32(&mut self.raw, 40 + 4 * i, b as u32)
    }
}
