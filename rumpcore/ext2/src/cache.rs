//! A bounded write-back cache of file system blocks between the file
//! system and the device. Blocks are tagged data or metadata; writing back
//! puts every dirty data block on the device before any dirty metadata
//! block (so metadata never points at unwritten data), then flushes.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::device::BlockDevice;
use crate::error::{FsError, Result};

/// The most bytes one device read carries.
pub(crate) const MAX_REQUEST: usize = 256 * 1024;
/// Runs of uncached blocks at least this long are read straight into the
/// caller's buffer; shorter ones go through the cache.
const DIRECT_MIN: usize = 64 * 1024;

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
        if !self.evict_clean() {
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

    /// True when block `blk` is in the cache.
    pub(crate) fn holds(&self, blk: u64) -> bool {
        self.blocks.contains_key(&blk)
    }

    /// Fills `dst` with the bytes of the disk-contiguous blocks starting at
    /// byte `inb` of block `first`. Cached blocks are copied (they are
    /// authoritative: a dirty one is newer than the disk); each run of
    /// whole uncached blocks goes to the device as one request of at most
    /// `MAX_REQUEST` bytes: straight into `dst` without entering the cache
    /// when it is at least `DIRECT_MIN` bytes, else into the cache; a
    /// partial first or last block is loaded through the cache.
    pub(crate) fn read_span(&mut self, first: u64, inb: usize, dst: &mut [u8]) -> Result<()> {
        let bs = self.bs;
        let mut blk = first;
        let mut done = 0;
        let mut at = inb;
        while done < dst.len() {
            let chunk = (bs - at).min(dst.len() - done);
            if chunk < bs || self.blocks.contains_key(&blk) {
                let piece = &mut dst[done..done + chunk];
                self.with(blk, |d| piece.copy_from_slice(&d[at..at + chunk]))?;
                done += chunk;
                blk += 1;
                at = 0;
                continue;
            }
            // A run of whole blocks none of which is cached.
            let mut n = 1;
            while done + (n + 1) * bs <= dst.len()
                && (n + 1) * bs <= MAX_REQUEST
                && !self.blocks.contains_key(&(blk + n as u64))
            {
                n += 1;
            }
            if n * bs < DIRECT_MIN {
                // Short: one request into the cache (a small file read
                // again is then served from memory), copied out above.
                self.prefetch(blk, n as u64);
                let piece = &mut dst[done..done + bs];
                self.with(blk, |d| piece.copy_from_slice(d))?;
                done += bs;
                blk += 1;
                continue;
            }
            let off = self.offset(blk)?;
            self.dev.read(off, &mut dst[done..done + n * bs])?;
            done += n * bs;
            blk += n as u64;
        }
        Ok(())
    }

    /// Read-ahead: loads up to `count` disk-contiguous blocks from `first`
    /// into the cache with one device request, skipping blocks already
    /// cached at the start and stopping at the next cached one (a cached
    /// block may be newer than the disk and is never replaced). Takes at
    /// most half the cache and only evicts clean blocks (never forces a
    /// write-back). Speculative: a failed request loads nothing, and the
    /// demand read that needs the blocks reports the error.
    pub(crate) fn prefetch(&mut self, first: u64, count: u64) {
        let limit = (self.cap / 2).min(MAX_REQUEST / self.bs) as u64;
        let count = count.min(limit);
        let mut start = first;
        let end = first.saturating_add(count);
        while start < end && self.blocks.contains_key(&start) {
            start += 1;
        }
        let mut stop = start;
        while stop < end && !self.blocks.contains_key(&stop) {
            stop += 1;
        }
        if stop == start {
            return;
        }
        let Ok(off) = self.offset(start) else {
            return;
        };
        let mut buf = vec![0u8; (stop - start) as usize * self.bs];
        if self.dev.read(off, &mut buf).is_err() {
            return;
        }
        self.tick += 1;
        for (i, data) in buf.chunks(self.bs).enumerate() {
            if self.blocks.len() >= self.cap && !self.evict_clean() {
                break;
            }
            self.blocks.insert(
                start + i as u64,
                Entry {
                    data: data.to_vec(),
                    dirty: None,
                    used: self.tick,
                },
            );
        }
    }

    /// Drops the least recently used clean block; false when none is clean.
    fn evict_clean(&mut self) -> bool {
        let victim = self
            .blocks
            .iter()
            .filter(|(_, e)| e.dirty.is_none())
            .min_by_key(|(_, e)| e.used)
            .map(|(b, _)| *b);
        match victim {
            Some(b) => {
                self.blocks.remove(&b);
                true
            }
            None => false,
        }
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
