//! What blkfront knows about a connected disk: the backend's device
//! properties (`sectors`, `sector-size`, `physical-sector-size`, `info`,
//! `mode`) and the features in use after negotiation ([`Features`]).

use crate::wire::SECTOR_SIZE;

/// Discard as the backend offers it (`feature-discard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscardInfo {
    /// `discard-granularity` in bytes (default: the sector size).
    pub granularity: u32,
    /// `discard-alignment` in bytes (default 0).
    pub alignment: u32,
    /// `discard-secure`: `BLKIF_DISCARD_SECURE` is honoured.
    pub secure: bool,
}

/// The features in use on the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `ring-page-order` in use (0: one page, `ring-ref`).
    pub ring_page_order: u32,
    /// Pages of the ring (`2^ring_page_order`).
    pub ring_pages: u32,
    /// Requests the ring holds.
    pub ring_size: u32,
    /// Segments per indirect request in use; 0 when indirect requests
    /// are not used (not offered, off in the config, or offered with at
    /// most 11 segments).
    pub indirect_segments: u32,
    /// Persistent grants in use (both ends offer `feature-persistent`).
    pub persistent: bool,
    /// `BLKIF_OP_FLUSH_DISKCACHE` available (turned off after an
    /// `EOPNOTSUPP` answer).
    pub flush: bool,
    /// `BLKIF_OP_WRITE_BARRIER` available (turned off after an
    /// `EOPNOTSUPP` answer).
    pub barrier: bool,
    /// `BLKIF_OP_DISCARD` available, and how.
    pub discard: Option<DiscardInfo>,
}

impl Features {
    /// Most segments (pages) one ring request carries.
    pub fn max_segments_per_request(&self) -> u32 {
        self.indirect_segments
            .max(crate::wire::MAX_DIRECT_SEGMENTS as u32)
    }
}

/// A connected disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskInfo {
    /// The backend's `sectors`: the size in 512-byte units, whatever the
    /// sector size (blkfront does not write `feature-large-sector-size`,
    /// so every sector quantity of blkif is 512-byte based, as with Linux
    /// blkback).
    pub sectors: u64,
    /// `sector-size`: the logical sector size in bytes (512..=4096, a
    /// power of two); offsets and lengths must be multiples of it.
    pub sector_size: u32,
    /// `physical-sector-size` (default: the sector size).
    pub physical_sector_size: u32,
    /// The raw `info` bitmap (`VDISK_*`).
    pub info: u32,
    /// `VDISK_READONLY` in `info`, or `mode` = `r`.
    pub read_only: bool,
    /// `VDISK_REMOVABLE`.
    pub removable: bool,
    /// `VDISK_CDROM`.
    pub cdrom: bool,
    /// The features in use.
    pub features: Features,
}

impl DiskInfo {
    /// The usable size in bytes: whole logical sectors only.
    pub fn capacity_bytes(&self) -> u64 {
        let bytes = self.sectors.saturating_mul(SECTOR_SIZE as u64);
        bytes - bytes % u64::from(self.sector_size.max(1))
    }

    /// The size in logical sectors (`sector_size` units).
    pub fn logical_sectors(&self) -> u64 {
        self.capacity_bytes() / u64::from(self.sector_size.max(1))
    }
}
