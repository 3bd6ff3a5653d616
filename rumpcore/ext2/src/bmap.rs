//! File block mapping: logical block to disk block through the twelve
//! direct pointers and the single, double and triple indirect blocks;
//! allocation on write and freeing on truncate.

use alloc::vec::Vec;

use crate::cache::Kind;
use crate::device::BlockDevice;
use crate::disk::{le32, put32, Inode};
use crate::error::{FsError, Result};
use crate::fs::{Fs, Ino};

/// Direct pointers in an inode.
const NDIR: u64 = 12;

impl<D: BlockDevice> Fs<D> {
    /// Blocks a file can map at most.
    pub(crate) fn max_blocks(&self) -> u64 {
        let p = self.geo.ptrs();
        NDIR + p + p * p + p * p * p
    }

    /// Where logical block `lblk` lives: the `i_block` slot and the index
    /// at each indirect level below it.
    fn path(&self, lblk: u64) -> Result<(usize, Vec<u64>)> {
        let p = self.geo.ptrs();
        if lblk < NDIR {
            return Ok((lblk as usize, Vec::new()));
        }
        let mut rest = lblk - NDIR;
        let mut span = 1;
        for level in 1..=3u32 {
            span *= p;
            if rest < span {
                let mut idx = Vec::new();
                let mut s = span;
                for _ in 0..level {
                    s /= p;
                    idx.push(rest / s);
                    rest %= s;
                }
                return Ok((11 + level as usize, idx));
            }
            rest -= span;
        }
        Err(FsError::TooBig)
    }

    fn ptr_at(&mut self, blk: u64, i: u64) -> Result<u64> {
        let b = self.check_block(blk)?;
        Ok(u64::from(self.cache.with(b, |d| le32(d, i as usize * 4))?))
    }

    /// The disk block holding logical block `lblk`, or None for a hole.
    pub(crate) fn map(&mut self, inode: &Inode, lblk: u64) -> Result<Option<u64>> {
        let (slot, idx) = self
            .path(lblk)
            .map_err(|_| FsError::Corrupt("file size beyond the block map"))?;
        let mut b = inode.block(slot);
        for i in idx {
            if b == 0 {
                return Ok(None);
            }
            b = self.ptr_at(b, i)?;
        }
        if b == 0 {
            Ok(None)
        } else {
            self.check_block(b).map(Some)
        }
    }

    fn new_block(&mut self, inode: &mut Inode, goal: u64, kind: Kind) -> Result<u64> {
        let b = self.alloc_block(goal)?;
        self.cache.overwrite(b, kind, None)?;
        let per = self.geo.bs / 512;
        inode.set_blocks512(inode.blocks512().saturating_add(per));
        Ok(b)
    }

    /// The disk block for logical block `lblk`, allocating it (zeroed) and
    /// any indirect blocks on the way. Returns the block and whether it is new.
    pub(crate) fn map_alloc(
        &mut self,
        ino: Ino,
        inode: &mut Inode,
        lblk: u64,
    ) -> Result<(u64, bool)> {
        let goal = self.group_of(ino);
        let (slot, idx) = self.path(lblk)?;
        let mut fresh = false;
        let mut b = inode.block(slot);
        if b == 0 {
            let kind = if idx.is_empty() {
                Kind::Data
            } else {
                Kind::Meta
            };
            b = self.new_block(inode, goal, kind)?;
            inode.set_block(slot, b);
            fresh = true;
        }
        let levels = idx.len();
        for (n, i) in idx.into_iter().enumerate() {
            let parent = self.check_block(b)?;
            let mut child = self.ptr_at(parent, i)?;
            if child == 0 {
                let kind = if n + 1 == levels {
                    Kind::Data
                } else {
                    Kind::Meta
                };
                child = self.new_block(inode, goal, kind)?;
                self.cache.modify(parent, Kind::Meta, |d| {
                    put32(d, i as usize * 4, child as u32)
                })?;
                fresh = true;
            } else {
                fresh = false;
            }
            b = child;
        }
        Ok((self.check_block(b)?, fresh))
    }

    fn release(&mut self, inode: &mut Inode, b: u64) -> Result<()> {
        self.free_block(b)?;
        let per = self.geo.bs / 512;
        inode.set_blocks512(inode.blocks512().saturating_sub(per));
        Ok(())
    }

    /// Frees everything under indirect block `blk` (at `level` 1..=3) past
    /// the first `keep` leaf blocks; returns true when the block itself
    /// was freed (keep == 0).
    fn trunc_tree(&mut self, inode: &mut Inode, blk: u64, level: u32, keep: u64) -> Result<bool> {
        let blk = self.check_block(blk)?;
        let p = self.geo.ptrs();
        let span = p.pow(level - 1);
        let ptrs: Vec<u64> = self.cache.with(blk, |d| {
            (0..p).map(|i| u64::from(le32(d, i as usize * 4))).collect()
        })?;
        for (i, &child) in ptrs.iter().enumerate() {
            let start = i as u64 * span;
            if child == 0 || start.saturating_add(span) <= keep {
                continue;
            }
            let child_keep = keep.saturating_sub(start);
            let gone = if level == 1 {
                self.release(inode, child)?;
                true
            } else {
                self.trunc_tree(inode, child, level - 1, child_keep)?
            };
            if gone {
                self.cache.modify(blk, Kind::Meta, |d| put32(d, i * 4, 0))?;
            }
        }
        if keep == 0 {
            self.release(inode, blk)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Frees every block of the file past the first `keep` logical blocks.
    pub(crate) fn free_blocks_from(&mut self, inode: &mut Inode, keep: u64) -> Result<()> {
        for slot in 0..NDIR as usize {
            if slot as u64 >= keep && inode.block(slot) != 0 {
                let b = inode.block(slot);
                self.release(inode, b)?;
                inode.set_block(slot, 0);
            }
        }
        let p = self.geo.ptrs();
        let mut base = NDIR;
        let mut span = 1;
        for level in 1..=3u32 {
            span *= p;
            let slot = 11 + level as usize;
            let b = inode.block(slot);
            if b != 0 && base + span > keep {
                let k = keep.saturating_sub(base);
                if self.trunc_tree(inode, b, level, k)? {
                    inode.set_block(slot, 0);
                }
            }
            base += span;
        }
        Ok(())
    }
}
