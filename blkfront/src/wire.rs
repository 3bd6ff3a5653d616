//! The records of Xen's `io/blkif.h` as they sit in the ring and in
//! indirect pages: `blkif_request` (read/write, flush, barrier),
//! `blkif_request_indirect`, `blkif_request_discard`, `blkif_response` and
//! `blkif_request_segment`, encoded little-endian at the offsets of the
//! generated bindings, plus the operation and status constants.
//!
//! Units: `sector_number`, `nr_sectors` and a segment's `first_sect` /
//! `last_sect` are in 512-byte sectors whatever the disk's `sector-size`
//! (blkfront does not write `feature-large-sector-size`). Decoding accepts
//! any bytes; whether a response makes sense is decided by
//! [`crate::track`].

use xen_abi as abi;
use xen_platform::services::PAGE_SIZE;
use xen_platform::shared_ring::{BackRing, FrontRing, RingEntry};

/// Bytes of a ring slot (`union blkif_sring_entry`).
pub const SLOT: usize = size_of::<abi::blkif_sring_entry>();
/// The frontend's ring.
pub type BlkFrontRing<M> = FrontRing<M, SLOT>;
/// A backend's ring (simulated blkback).
pub type BlkBackRing<M> = BackRing<M, SLOT>;

/// `BLKIF_OP_READ`.
pub const OP_READ: u8 = abi::BLKIF_OP_READ as u8;
/// `BLKIF_OP_WRITE`.
pub const OP_WRITE: u8 = abi::BLKIF_OP_WRITE as u8;
/// `BLKIF_OP_WRITE_BARRIER`.
pub const OP_WRITE_BARRIER: u8 = abi::BLKIF_OP_WRITE_BARRIER as u8;
/// `BLKIF_OP_FLUSH_DISKCACHE`.
pub const OP_FLUSH_DISKCACHE: u8 = abi::BLKIF_OP_FLUSH_DISKCACHE as u8;
/// `BLKIF_OP_DISCARD`.
pub const OP_DISCARD: u8 = abi::BLKIF_OP_DISCARD as u8;
/// `BLKIF_OP_INDIRECT`.
pub const OP_INDIRECT: u8 = abi::BLKIF_OP_INDIRECT as u8;

/// `BLKIF_RSP_OKAY`.
pub const RSP_OKAY: i16 = abi::BLKIF_RSP_OKAY as i16;
/// `BLKIF_RSP_ERROR`.
pub const RSP_ERROR: i16 = abi::BLKIF_RSP_ERROR as i16;
/// `BLKIF_RSP_EOPNOTSUPP`.
pub const RSP_EOPNOTSUPP: i16 = abi::BLKIF_RSP_EOPNOTSUPP as i16;

/// `BLKIF_DISCARD_SECURE`.
pub const DISCARD_SECURE: u8 = abi::BLKIF_DISCARD_SECURE as u8;

/// Segments of a direct request (`BLKIF_MAX_SEGMENTS_PER_REQUEST`).
pub const MAX_DIRECT_SEGMENTS: usize = abi::BLKIF_MAX_SEGMENTS_PER_REQUEST as usize;
/// Indirect pages of one request (`BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`).
pub const MAX_INDIRECT_PAGES: usize = abi::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST as usize;
/// Bytes of a `blkif_request_segment`.
pub const SEGMENT_SIZE: usize = size_of::<abi::blkif_request_segment>();
/// Segments in one indirect page.
pub const SEGMENTS_PER_INDIRECT_PAGE: usize = PAGE_SIZE / SEGMENT_SIZE;
/// Most segments an indirect request can carry.
pub const MAX_INDIRECT_SEGMENTS: usize = MAX_INDIRECT_PAGES * SEGMENTS_PER_INDIRECT_PAGE;
/// The blkif sector: the unit of `sector_number` and segments.
pub const SECTOR_SIZE: usize = 512;
/// blkif sectors in a page.
pub const SECTORS_PER_PAGE: usize = PAGE_SIZE / SECTOR_SIZE;

/// `VDISK_CDROM`.
pub const VDISK_CDROM: u32 = abi::VDISK_CDROM;
/// `VDISK_REMOVABLE`.
pub const VDISK_REMOVABLE: u32 = abi::VDISK_REMOVABLE;
/// `VDISK_READONLY`.
pub const VDISK_READONLY: u32 = abi::VDISK_READONLY;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// One page (part) of a request's data (`blkif_request_segment`):
/// sectors `first_sect..=last_sect` of the granted page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Segment {
    /// The granted page.
    pub gref: u32,
    /// First 512-byte sector in the page (0..=7).
    pub first_sect: u8,
    /// Last 512-byte sector in the page, inclusive (0..=7).
    pub last_sect: u8,
}

impl Segment {
    /// A segment of `bytes` (a multiple of 512, 512..=4096) from the start
    /// of the page.
    pub fn whole(gref: u32, bytes: usize) -> Segment {
        Segment {
            gref,
            first_sect: 0,
            last_sect: (bytes / SECTOR_SIZE).saturating_sub(1) as u8,
        }
    }

    /// Writes the 8-byte record.
    pub fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.gref.to_le_bytes());
        out[4] = self.first_sect;
        out[5] = self.last_sect;
        out[6] = 0;
        out[7] = 0;
    }

    /// Reads an 8-byte record.
    pub fn decode(b: &[u8]) -> Segment {
        Segment {
            gref: u32_at(b, 0),
            first_sect: b[4],
            last_sect: b[5],
        }
    }
}

/// A request as it sits in a ring slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `blkif_request`: read, write (with up to 11 segments), flush or
    /// barrier (usually without).
    Rw {
        /// `BLKIF_OP_READ`, `_WRITE`, `_FLUSH_DISKCACHE`,
        /// `_WRITE_BARRIER` (or anything, when decoding).
        operation: u8,
        /// Segments used.
        nr_segments: u8,
        /// The virtual device.
        handle: u16,
        /// Echoed in the response.
        id: u64,
        /// First 512-byte sector.
        sector_number: u64,
        /// The segments (the first `nr_segments` count).
        seg: [Segment; MAX_DIRECT_SEGMENTS],
    },
    /// `blkif_request_indirect`: the segments are in indirect pages.
    Indirect {
        /// `BLKIF_OP_READ` or `_WRITE`.
        indirect_op: u8,
        /// Segments in the indirect pages.
        nr_segments: u16,
        /// Echoed in the response.
        id: u64,
        /// First 512-byte sector.
        sector_number: u64,
        /// The virtual device.
        handle: u16,
        /// Grants of the indirect pages (the first
        /// `ceil(nr_segments / 512)` count).
        indirect_grefs: [u32; MAX_INDIRECT_PAGES],
    },
    /// `blkif_request_discard`.
    Discard {
        /// `BLKIF_DISCARD_SECURE` or 0.
        flag: u8,
        /// The virtual device.
        handle: u16,
        /// Echoed in the response.
        id: u64,
        /// First 512-byte sector.
        sector_number: u64,
        /// 512-byte sectors to discard.
        nr_sectors: u64,
    },
}

impl Request {
    /// The request's id.
    pub fn id(&self) -> u64 {
        match *self {
            Request::Rw { id, .. } | Request::Indirect { id, .. } | Request::Discard { id, .. } => {
                id
            }
        }
    }

    /// The `operation` byte.
    pub fn operation(&self) -> u8 {
        match *self {
            Request::Rw { operation, .. } => operation,
            Request::Indirect { .. } => OP_INDIRECT,
            Request::Discard { .. } => OP_DISCARD,
        }
    }
}

impl RingEntry for Request {
    const SIZE: usize = SLOT;

    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        out[0] = self.operation();
        match *self {
            Request::Rw {
                nr_segments,
                handle,
                id,
                sector_number,
                seg,
                ..
            } => {
                out[1] = nr_segments;
                out[2..4].copy_from_slice(&handle.to_le_bytes());
                out[8..16].copy_from_slice(&id.to_le_bytes());
                out[16..24].copy_from_slice(&sector_number.to_le_bytes());
                for (i, s) in seg.iter().enumerate() {
                    let at = 24 + i * SEGMENT_SIZE;
                    s.encode(&mut out[at..at + SEGMENT_SIZE]);
                }
            }
            Request::Indirect {
                indirect_op,
                nr_segments,
                id,
                sector_number,
                handle,
                indirect_grefs,
            } => {
                out[1] = indirect_op;
                out[2..4].copy_from_slice(&nr_segments.to_le_bytes());
                out[8..16].copy_from_slice(&id.to_le_bytes());
                out[16..24].copy_from_slice(&sector_number.to_le_bytes());
                out[24..26].copy_from_slice(&handle.to_le_bytes());
                for (i, g) in indirect_grefs.iter().enumerate() {
                    let at = 28 + 4 * i;
                    out[at..at + 4].copy_from_slice(&g.to_le_bytes());
                }
            }
            Request::Discard {
                flag,
                handle,
                id,
                sector_number,
                nr_sectors,
            } => {
                out[1] = flag;
                out[2..4].copy_from_slice(&handle.to_le_bytes());
                out[8..16].copy_from_slice(&id.to_le_bytes());
                out[16..24].copy_from_slice(&sector_number.to_le_bytes());
                out[24..32].copy_from_slice(&nr_sectors.to_le_bytes());
            }
        }
    }

    /// By the operation byte: `BLKIF_OP_INDIRECT` and `BLKIF_OP_DISCARD`
    /// have their own layouts, everything else is a `blkif_request`.
    fn decode(b: &[u8]) -> Request {
        match b[0] {
            OP_INDIRECT => {
                let mut indirect_grefs = [0; MAX_INDIRECT_PAGES];
                for (i, g) in indirect_grefs.iter_mut().enumerate() {
                    *g = u32_at(b, 28 + 4 * i);
                }
                Request::Indirect {
                    indirect_op: b[1],
                    nr_segments: u16_at(b, 2),
                    id: u64_at(b, 8),
                    sector_number: u64_at(b, 16),
                    handle: u16_at(b, 24),
                    indirect_grefs,
                }
            }
            OP_DISCARD => Request::Discard {
                flag: b[1],
                handle: u16_at(b, 2),
                id: u64_at(b, 8),
                sector_number: u64_at(b, 16),
                nr_sectors: u64_at(b, 24),
            },
            operation => {
                let mut seg = [Segment::default(); MAX_DIRECT_SEGMENTS];
                for (i, s) in seg.iter_mut().enumerate() {
                    let at = 24 + i * SEGMENT_SIZE;
                    *s = Segment::decode(&b[at..at + SEGMENT_SIZE]);
                }
                Request::Rw {
                    operation,
                    nr_segments: b[1],
                    handle: u16_at(b, 2),
                    id: u64_at(b, 8),
                    sector_number: u64_at(b, 16),
                    seg,
                }
            }
        }
    }
}

/// `blkif_response`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// The request's operation (for an indirect request: its
    /// `indirect_op`, as Linux blkback answers).
    pub operation: u8,
    /// `BLKIF_RSP_*`.
    pub status: i16,
}

impl RingEntry for Response {
    const SIZE: usize = size_of::<abi::blkif_response>();

    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8] = self.operation;
        out[10..12].copy_from_slice(&self.status.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Response {
        Response {
            id: u64_at(b, 0),
            operation: b[8],
            status: u16_at(b, 10) as i16,
        }
    }
}

/// A whole slot of raw bytes (for a backend that writes garbage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSlot(pub [u8; SLOT]);

impl RingEntry for RawSlot {
    const SIZE: usize = SLOT;
    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0);
    }
    fn decode(b: &[u8]) -> RawSlot {
        let mut s = [0; SLOT];
        s.copy_from_slice(b);
        RawSlot(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    /// The offsets used above are the generated bindings' (io/blkif.h on
    /// x86_64).
    #[test]
    fn layout_matches_the_bindings() {
        assert_eq!(SLOT, 112);
        assert_eq!(size_of::<abi::blkif_request>(), 112);
        assert_eq!(offset_of!(abi::blkif_request, nr_segments), 1);
        assert_eq!(offset_of!(abi::blkif_request, handle), 2);
        assert_eq!(offset_of!(abi::blkif_request, id), 8);
        assert_eq!(offset_of!(abi::blkif_request, sector_number), 16);
        assert_eq!(offset_of!(abi::blkif_request, seg), 24);
        assert_eq!(SEGMENT_SIZE, 8);
        assert_eq!(offset_of!(abi::blkif_request_segment, first_sect), 4);
        assert_eq!(offset_of!(abi::blkif_request_segment, last_sect), 5);
        assert_eq!(offset_of!(abi::blkif_request_indirect, indirect_op), 1);
        assert_eq!(offset_of!(abi::blkif_request_indirect, nr_segments), 2);
        assert_eq!(offset_of!(abi::blkif_request_indirect, id), 8);
        assert_eq!(offset_of!(abi::blkif_request_indirect, sector_number), 16);
        assert_eq!(offset_of!(abi::blkif_request_indirect, handle), 24);
        assert_eq!(offset_of!(abi::blkif_request_indirect, indirect_grefs), 28);
        assert_eq!(offset_of!(abi::blkif_request_discard, flag), 1);
        assert_eq!(offset_of!(abi::blkif_request_discard, handle), 2);
        assert_eq!(offset_of!(abi::blkif_request_discard, id), 8);
        assert_eq!(offset_of!(abi::blkif_request_discard, sector_number), 16);
        assert_eq!(offset_of!(abi::blkif_request_discard, nr_sectors), 24);
        assert_eq!(Response::SIZE, 16);
        assert_eq!(offset_of!(abi::blkif_response, operation), 8);
        assert_eq!(offset_of!(abi::blkif_response, status), 10);
        assert_eq!(SEGMENTS_PER_INDIRECT_PAGE, 512);
        assert_eq!(MAX_INDIRECT_SEGMENTS, 4096);
        assert_eq!(xen_platform::shared_ring::ring_size(SLOT), 32);
    }

    #[test]
    fn records_round_trip() {
        let mut seg = [Segment::default(); MAX_DIRECT_SEGMENTS];
        seg[0] = Segment::whole(77, 4096);
        seg[10] = Segment {
            gref: 0xdead_beef,
            first_sect: 2,
            last_sect: 5,
        };
        let reqs = [
            Request::Rw {
                operation: OP_WRITE,
                nr_segments: 11,
                handle: 51712,
                id: 0x1234_5678_9abc_def0,
                sector_number: u64::MAX - 3,
                seg,
            },
            Request::Indirect {
                indirect_op: OP_READ,
                nr_segments: 300,
                id: 9,
                sector_number: 4096,
                handle: 768,
                indirect_grefs: [1, 2, 3, 4, 5, 6, 7, 8],
            },
            Request::Discard {
                flag: DISCARD_SECURE,
                handle: 1,
                id: 3,
                sector_number: 8,
                nr_sectors: 1 << 40,
            },
        ];
        for r in reqs {
            let mut b = [0xffu8; SLOT];
            r.encode(&mut b);
            assert_eq!(Request::decode(&b), r);
        }
        let mut b = [0u8; 112];
        reqs[0].encode(&mut b);
        assert_eq!(b[0], OP_WRITE);
        assert_eq!(&b[24..30], &[77, 0, 0, 0, 0, 7]);
        let rsp = Response {
            id: 42,
            operation: OP_FLUSH_DISKCACHE,
            status: RSP_EOPNOTSUPP,
        };
        let mut b = [0u8; 16];
        rsp.encode(&mut b);
        assert_eq!(b[10..12], [0xfe, 0xff]);
        assert_eq!(Response::decode(&b), rsp);
    }
}
