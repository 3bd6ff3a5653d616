//! A bounded write-back cache of file system blocks between the file
//! system and the device. Blocks are tagged data or metadata; writing back
//! puts every dirty data block on the device before any dirty metadata
//! block (so metadata never points at unwritten data), then flushes.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::device::BlockDevice;
use crate::error::{FsError, Result};

/// What a cached block holds, which decides its write-back order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// File contents.
    Data,
    /// Anything the file system interprets (bitmaps, inodes, directories,
    /// indirect blocks, superblock, descriptors).
    Meta,
}

struct Entry {
    data: Vec<u8>,
    dirty: Option<Kind>,
    used: u64,
}

/// The cache itself; owns the device.
pub(crate) struct Cache<D: BlockDevice> {
    dev: D,
    bs: usize,
    cap: usize,
    tick: u64,
    blocks: BTreeMap<u64, Entry>,
}

impl<D: BlockDevice> Cache<D> {
    /// A cache of at most `cap` blocks of `bs` bytes over `dev`.
    pub(crate) fn new(dev: D, bs: usize, cap: usize) -> Self {
        Cache {
            dev,
            bs,
            cap: cap.max(8),
            tick: 0,
            blocks: BTreeMap::new(),
        }
    }

    /// Gives the device back, dropping cached blocks (call `sync` first).
    pub(crate) fn into_dev(self) -> D {
        self.dev
    }

    fn offset(&self, blk: u64) -> Result<u64> {
        blk.checked_mul(self.bs as u64)
            .ok_or(FsError::Corrupt("block number overflows"))
    }

    fn make_room(&mut self) -> Result<()> {
        if self.blocks.len() < self.cap {
            return Ok(());
        }
        let victim = self
            .blocks
            .iter()
            .filter(|(_, e)| e.dirty.is_none())
            .min_by_key(|(_, e)| e.used)
            .map(|(b, _)| *b);
        match victim {
            Some(b) => {
                self.blocks.remove(&b);
            }
            None => {
                self.write_back()?;
                let b = self
                    .blocks
                    .iter()
                    .min_by_key(|(_, e)| e.used)
                    .map(|(b, _)| *b);
                if let Some(b) = b {
                    self.blocks.remove(&b);
                }
            }
        }
        Ok(())
    }

    fn load(&mut self, blk: u64) -> Result<&mut Entry> {
        self.tick += 1;
        let tick = self.tick;
        if !self.blocks.contains_key(&blk) {
            self.make_room()?;
            let mut data = vec![0u8; self.bs];
            let off = self.offset(blk)?;
            self.dev.read(off, &mut data)?;
            self.blocks.insert(
                blk,
                Entry {
                    data,
                    dirty: None,
                    used: tick,
                },
            );
        }
        let e = self.blocks.get_mut(&blk).ok_or(FsError::Corrupt("cache"))?;
        e.used = tick;
        Ok(e)
    }

    /// A copy of block `blk`.
    pub(crate) fn read(&mut self, blk: u64) -> Result<Vec<u8>> {
        Ok(self.load(blk)?.data.clone())
    }

    /// Runs `f` on block `blk` read-only.
    pub(crate) fn with<R>(&mut self, blk: u64, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        Ok(f(&self.load(blk)?.data))
    }

    /// Runs `f` on block `blk` and marks it dirty as `kind`.
    pub(crate) fn modify<R>(
        &mut self,
        blk: u64,
        kind: Kind,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R> {
        let e = self.load(blk)?;
        e.dirty = Some(match (e.dirty, kind) {
            (Some(Kind::Meta), _) | (_, Kind::Meta) => Kind::Meta,
            _ => Kind::Data,
        });
        Ok(f(&mut e.data))
    }

    /// Replaces block `blk` with zeros (or `data`) without reading it.
    pub(crate) fn overwrite(&mut self, blk: u64, kind: Kind, data: Option<&[u8]>) -> Result<()> {
        self.tick += 1;
        if !self.blocks.contains_key(&blk) {
            self.make_room()?;
        }
        let mut buf = vec![0u8; self.bs];
        if let Some(d) = data {
            let n = d.len().min(self.bs);
            buf[..n].copy_from_slice(&d[..n]);
        }
        self.blocks.insert(
            blk,
            Entry {
                data: buf,
                dirty: Some(kind),
                used: self.tick,
            },
        );
        Ok(())
    }

    /// Drops block `blk` from the cache without writing it (it was freed).
    pub(crate) fn forget(&mut self, blk: u64) {
        self.blocks.remove(&blk);
    }

    /// Writes every dirty block, data first, then metadata, then flushes.
    pub(crate) fn write_back(&mut self) -> Result<()> {
        for pass in [Kind::Data, Kind::Meta] {
            let bs = self.bs as u64;
            for (blk, e) in self.blocks.iter_mut() {
                if e.dirty == Some(pass) {
                    let off = blk
                        .checked_mul(bs)
                        .ok_or(FsError::Corrupt("block number overflows"))?;
                    self.dev.write(off, &e.data)?;
                    e.dirty = None;
                }
            }
            self.dev.flush()?;
        }
        Ok(())
    }
}
