//! Block and inode allocation through the group bitmaps, keeping the
//! group descriptors' and superblock's free counts in step.

use crate::cache::Kind;
use crate::device::BlockDevice;
use crate::disk::{le32, put32, sb};
use crate::error::{FsError, Result};
use crate::fs::{Fs, Ino};

/// Finds the first clear bit below `limit` in `map`, sets it, returns it.
fn take_bit(map: &mut [u8], limit: u64) -> Option<u64> {
    for (i, byte) in map.iter_mut().enumerate() {
        if *byte == 0xFF {
            continue;
        }
        for bit in 0..8 {
            let n = i as u64 * 8 + bit;
            if n >= limit {
                return None;
            }
            if *byte & (1 << bit) == 0 {
                *byte |= 1 << bit;
                return Some(n);
            }
        }
    }
    None
}

/// Clears bit `n`; false if it was already clear.
fn clear_bit(map: &mut [u8], n: u64) -> bool {
    let (i, bit) = ((n / 8) as usize, n % 8);
    match map.get_mut(i) {
        Some(b) if *b & (1 << bit) != 0 => {
            *b &= !(1 << bit);
            true
        }
        _ => false,
    }
}

impl<D: BlockDevice> Fs<D> {
    fn sb_add(&mut self, field: usize, delta: i64) {
        let v = i64::from(le32(&self.sb, field))
            .saturating_add(delta)
            .clamp(0, u32::MAX as i64);
        put32(&mut self.sb, field, v as u32);
    }

    /// Allocates a block, preferring group `goal`; the block's contents are
    /// left to the caller.
    pub(crate) fn alloc_block(&mut self, goal: u64) -> Result<u64> {
        self.writable()?;
        let n = self.geo.groups;
        for k in 0..n {
            let g = (goal % n + k) % n;
            if self.groups[g as usize].free_blocks == 0 {
                continue;
            }
            let limit = self.geo.blocks_in_group(g);
            let bm = self.groups[g as usize].block_bitmap;
            match self.cache.modify(bm, Kind::Meta, |m| take_bit(m, limit))? {
                Some(bit) => {
                    let d = &mut self.groups[g as usize];
                    d.free_blocks -= 1;
                    self.sb_add(sb::FREE_BLOCKS, -1);
                    return Ok(self.geo.first_data_block + g * self.geo.bpg + bit);
                }
                None => {
                    return Err(FsError::Corrupt(
                        "group free block count disagrees with bitmap",
                    ))
                }
            }
        }
        Err(FsError::NoSpace)
    }

    /// Frees block `blk`.
    pub(crate) fn free_block(&mut self, blk: u64) -> Result<()> {
        self.writable()?;
        let rel = self.check_block(blk)? - self.geo.first_data_block;
        let (g, bit) = (rel / self.geo.bpg, rel % self.geo.bpg);
        let bm = self.groups[g as usize].block_bitmap;
        if !self.cache.modify(bm, Kind::Meta, |m| clear_bit(m, bit))? {
            return Err(FsError::Corrupt("freeing a free block"));
        }
        self.cache.forget(blk);
        let d = &mut self.groups[g as usize];
        d.free_blocks = d.free_blocks.saturating_add(1);
        self.sb_add(sb::FREE_BLOCKS, 1);
        Ok(())
    }

    /// A block number from disk, checked to lie inside the file system.
    pub(crate) fn check_block(&self, blk: u64) -> Result<u64> {
        if blk < self.geo.first_data_block || blk >= self.geo.blocks_count {
            Err(FsError::Corrupt("block number out of range"))
        } else {
            Ok(blk)
        }
    }

    /// Allocates an inode, preferring group `goal`.
    pub(crate) fn alloc_inode(&mut self, goal: u64, dir: bool) -> Result<Ino> {
        self.writable()?;
        let n = self.geo.groups;
        for k in 0..n {
            let g = (goal % n + k) % n;
            if self.groups[g as usize].free_inodes == 0 {
                continue;
            }
            let ipg = self.geo.ipg;
            let first = self.geo.first_ino;
            let bm = self.groups[g as usize].inode_bitmap;
            let got = self.cache.modify(bm, Kind::Meta, |m| {
                // Reserved inodes below first_ino stay untouched.
                loop {
                    let bit = take_bit(m, ipg)?;
                    if g * ipg + bit + 1 >= first {
                        return Some(bit);
                    }
                }
            })?;
            match got {
                Some(bit) => {
                    let d = &mut self.groups[g as usize];
                    d.free_inodes -= 1;
                    if dir {
                        d.used_dirs = d.used_dirs.saturating_add(1);
                    }
                    self.sb_add(sb::FREE_INODES, -1);
                    return Ok((g * ipg + bit + 1) as Ino);
                }
                None => {
                    return Err(FsError::Corrupt(
                        "group free inode count disagrees with bitmap",
                    ))
                }
            }
        }
        Err(FsError::NoSpace)
    }

    /// Frees inode `ino` in the bitmap.
    pub(crate) fn free_inode(&mut self, ino: Ino, dir: bool) -> Result<()> {
        self.writable()?;
        let i = u64::from(ino);
        if i == 0 || i > self.geo.inodes_count {
            return Err(FsError::Corrupt("inode number out of range"));
        }
        let (g, bit) = ((i - 1) / self.geo.ipg, (i - 1) % self.geo.ipg);
        let bm = self.groups[g as usize].inode_bitmap;
        if !self.cache.modify(bm, Kind::Meta, |m| clear_bit(m, bit))? {
            return Err(FsError::Corrupt("freeing a free inode"));
        }
        let d = &mut self.groups[g as usize];
        d.free_inodes = d.free_inodes.saturating_add(1);
        if dir {
            d.used_dirs = d.used_dirs.saturating_sub(1);
        }
        self.sb_add(sb::FREE_INODES, 1);
        Ok(())
    }

    /// The group inode `ino` lives in.
    pub(crate) fn group_of(&self, ino: Ino) -> u64 {
        u64::from(ino).saturating_sub(1) / self.geo.ipg
    }
}
