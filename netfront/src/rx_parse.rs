//! Checking and reassembling received packets from rx ring slots
//! (`io/netif.h`: `netif_rx_response`, `NETRXF_more_data`,
//! `NETRXF_extra_info` followed by `netif_extra_info` slots). Pure logic:
//! it sees slot bytes and ring positions and says what to copy from which
//! buffer, never touching pages, so it can be fed random records.
//!
//! Every slot is checked: the response id must be the one posted at that
//! ring position (netfront posts buffer `pos % ring size` at position
//! `pos`), flags must be known and negotiated, a status is a size that
//! stays inside the page or one of the defined error codes, extra infos
//! must be a well-formed GSO of a negotiated type, and a packet may span
//! at most [`MAX_RX_DATA_SLOTS`] data slots. A violation is an `Err` with
//! the reason; the caller disconnects.

use crate::wire::{
    ExtraInfo, Gso, GsoKind, RxResponse, EXTRA_FLAG_MORE, EXTRA_TYPE_GSO, NETIF_RSP_DROPPED,
    NETIF_RSP_ERROR, NETRXF_CSUM_BLANK, NETRXF_DATA_VALIDATED, NETRXF_EXTRA_INFO,
    NETRXF_GSO_PREFIX, NETRXF_KNOWN, NETRXF_MORE_DATA, NR_SLOTS_MIN, RX_SLOT,
};
use xen_platform::services::PAGE_SIZE;
use xen_platform::shared_ring::RingEntry;

/// Most data slots one received packet may span (`XEN_NETIF_NR_SLOTS_MIN`;
/// a 64 KiB GSO frame needs 17).
pub const MAX_RX_DATA_SLOTS: u16 = NR_SLOTS_MIN as u16;
/// Most bytes of one received packet.
pub const MAX_RX_FRAME: usize = MAX_RX_DATA_SLOTS as usize * PAGE_SIZE;

/// What was negotiated for the rx direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxRules {
    /// Entries of the rx ring (a power of two).
    pub ring_size: u32,
    /// `feature-sg` written: packets may span several slots.
    pub sg: bool,
    /// `feature-gso-tcpv4` written.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6` written.
    pub gso_tcpv6: bool,
    /// `feature-no-csum-offload` = 0 written: `NETRXF_csum_blank` allowed.
    pub csum_blank: bool,
}

/// The checksum state of a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RxChecksum {
    /// Nothing known: the stack must verify the checksum.
    None,
    /// The backend (or the sender's NIC) validated the checksum
    /// (`NETRXF_data_validated`).
    Validated,
    /// The checksum field is blank, to be filled in if the frame is
    /// forwarded; the data itself is known good (`NETRXF_csum_blank`, as
    /// from a local sender with checksum offload).
    Blank,
}

/// A complete received frame's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// Bytes of the frame.
    pub len: usize,
    /// Checksum state.
    pub csum: RxChecksum,
    /// Set for a merged TCP frame larger than the MTU.
    pub gso: Option<Gso>,
}

/// Why a packet the backend returned is not delivered (not a violation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxFailure {
    /// A slot said `NETIF_RSP_ERROR`.
    Error,
    /// A slot said `NETIF_RSP_DROPPED`.
    Dropped,
    /// The packet had no bytes.
    Empty,
}

/// How a packet ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxEnd {
    /// Deliver the bytes copied so far.
    Frame(RxMeta),
    /// Discard them.
    Failed(RxFailure),
}

/// What to do with one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxSlot {
    /// The buffer the slot used: the backend is done with it, it may be
    /// posted again (after copying).
    pub id: u16,
    /// Copy `len` bytes at `offset` of that buffer to the end of the frame
    /// (already checked to lie inside the page).
    pub copy: Option<(u16, u16)>,
    /// Set when the slot ended a packet.
    pub end: Option<RxEnd>,
}

/// A packet being assembled.
#[derive(Debug, Clone, Copy)]
struct Partial {
    data_slots: u16,
    len: usize,
    csum: RxChecksum,
    gso: Option<Gso>,
    failure: Option<RxFailure>,
    /// The next slot is an extra info.
    extra_next: bool,
    /// More data slots follow.
    more_data: bool,
}

/// Reassembles packets from rx slots, in ring order.
#[derive(Debug, Clone)]
pub struct RxAssembler {
    rules: RxRules,
    cur: Option<Partial>,
}

impl RxAssembler {
    /// An assembler at a packet boundary.
    pub fn new(rules: RxRules) -> RxAssembler {
        RxAssembler { rules, cur: None }
    }

    /// Whether a packet is half-way through.
    pub fn in_packet(&self) -> bool {
        self.cur.is_some()
    }

    /// Forgets a half-assembled packet (when the backend goes away).
    pub fn reset(&mut self) {
        self.cur = None;
    }

    /// Takes the slot at ring position `pos`.
    pub fn slot(&mut self, pos: u32, raw: &[u8; RX_SLOT]) -> Result<RxSlot, &'static str> {
        let id = (pos & (self.rules.ring_size - 1)) as u16;
        match self.cur {
            Some(p) if p.extra_next => self.extra(id, p, ExtraInfo::decode(raw)),
            cur => self.data(id, cur, RxResponse::decode(raw)),
        }
    }

    fn extra(&mut self, id: u16, mut p: Partial, ex: ExtraInfo) -> Result<RxSlot, &'static str> {
        if ex.flags & !EXTRA_FLAG_MORE != 0 {
            return Err("rx extra info has unknown flags");
        }
        if ex.kind != EXTRA_TYPE_GSO {
            return Err("rx extra info of a type that was not negotiated");
        }
        let (mss, kind, _features) = ex.gso_fields();
        let kind = match GsoKind::from_raw(kind) {
            Some(GsoKind::TcpV4) if self.rules.gso_tcpv4 => GsoKind::TcpV4,
            Some(GsoKind::TcpV6) if self.rules.gso_tcpv6 => GsoKind::TcpV6,
            _ => return Err("rx GSO of a type that was not negotiated"),
        };
        if mss == 0 {
            return Err("rx GSO with segment size 0");
        }
        if p.gso.is_some() {
            return Err("rx packet with two GSO extra infos");
        }
        p.gso = Some(Gso { kind, mss });
        p.extra_next = ex.flags & EXTRA_FLAG_MORE != 0;
        Ok(self.advance(id, p, None))
    }

    fn data(
        &mut self,
        id: u16,
        cur: Option<Partial>,
        r: RxResponse,
    ) -> Result<RxSlot, &'static str> {
        if r.id != id {
            return Err("rx response id is not the buffer posted at its slot");
        }
        if r.flags & !NETRXF_KNOWN != 0 {
            return Err("rx response has unknown flags");
        }
        if r.flags & NETRXF_GSO_PREFIX != 0 {
            return Err("rx gso_prefix slot, never negotiated");
        }
        if r.flags & NETRXF_MORE_DATA != 0 && !self.rules.sg {
            return Err("rx more_data without feature-sg");
        }
        let first = cur.is_none();
        if !first && r.flags & NETRXF_EXTRA_INFO != 0 {
            return Err("rx extra_info on a continuation slot");
        }
        if first && r.flags & NETRXF_CSUM_BLANK != 0 && !self.rules.csum_blank {
            return Err("rx csum_blank without checksum offload");
        }
        let mut p = cur.unwrap_or(Partial {
            data_slots: 0,
            len: 0,
            csum: if r.flags & NETRXF_CSUM_BLANK != 0 {
                RxChecksum::Blank
            } else if r.flags & NETRXF_DATA_VALIDATED != 0 {
                RxChecksum::Validated
            } else {
                RxChecksum::None
            },
            gso: None,
            failure: None,
            extra_next: r.flags & NETRXF_EXTRA_INFO != 0,
            more_data: false,
        });
        p.data_slots += 1;
        if p.data_slots > MAX_RX_DATA_SLOTS {
            return Err("rx packet spans too many slots");
        }
        let copy = match r.status {
            NETIF_RSP_ERROR => {
                p.failure.get_or_insert(RxFailure::Error);
                None
            }
            NETIF_RSP_DROPPED => {
                p.failure.get_or_insert(RxFailure::Dropped);
                None
            }
            s if s < 0 => return Err("rx response status unknown"),
            s => {
                let len = s as u16;
                if usize::from(r.offset) + usize::from(len) > PAGE_SIZE {
                    return Err("rx response data runs past its page");
                }
                p.len += usize::from(len);
                (p.failure.is_none() && len > 0).then_some((r.offset, len))
            }
        };
        p.more_data = r.flags & NETRXF_MORE_DATA != 0;
        Ok(self.advance(id, p, copy))
    }

    /// Stores the packet state after a slot, ending the packet if nothing
    /// more belongs to it.
    fn advance(&mut self, id: u16, p: Partial, copy: Option<(u16, u16)>) -> RxSlot {
        if p.extra_next || p.more_data {
            self.cur = Some(p);
            return RxSlot {
                id,
                copy,
                end: None,
            };
        }
        self.cur = None;
        let end = match p.failure {
            Some(f) => RxEnd::Failed(f),
            None if p.len == 0 => RxEnd::Failed(RxFailure::Empty),
            None => RxEnd::Frame(RxMeta {
                len: p.len,
                csum: p.csum,
                gso: p.gso,
            }),
        };
        RxSlot {
            id,
            copy,
            end: Some(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GSO_TYPE_TCPV4, GSO_TYPE_TCPV6};

    const ALL: RxRules = RxRules {
        ring_size: 256,
        sg: true,
        gso_tcpv4: true,
        gso_tcpv6: true,
        csum_blank: true,
    };

    fn rsp(id: u16, offset: u16, flags: u16, status: i16) -> [u8; 8] {
        let mut b = [0; 8];
        RxResponse {
            id,
            offset,
            flags,
            status,
        }
        .encode(&mut b);
        b
    }

    fn extra(e: ExtraInfo) -> [u8; 8] {
        let mut b = [0; 8];
        e.encode(&mut b);
        b
    }

    fn gso(kind: GsoKind, mss: u16) -> ExtraInfo {
        ExtraInfo::gso(Gso { kind, mss }, false)
    }

    #[test]
    fn single_slot_frames() {
        let mut a = RxAssembler::new(ALL);
        let s = a.slot(5, &rsp(5, 10, NETRXF_DATA_VALIDATED, 60)).unwrap();
        assert_eq!(s.id, 5);
        assert_eq!(s.copy, Some((10, 60)));
        assert_eq!(
            s.end,
            Some(RxEnd::Frame(RxMeta {
                len: 60,
                csum: RxChecksum::Validated,
                gso: None
            }))
        );
        // Position 256 + 3 is buffer 3.
        let s = a
            .slot(
                259,
                &rsp(3, 0, NETRXF_CSUM_BLANK | NETRXF_DATA_VALIDATED, 4096),
            )
            .unwrap();
        assert!(matches!(
            s.end,
            Some(RxEnd::Frame(RxMeta {
                len: 4096,
                csum: RxChecksum::Blank,
                ..
            }))
        ));
        assert!(!a.in_packet());
    }

    #[test]
    fn multi_slot_with_gso_extra() {
        let mut a = RxAssembler::new(ALL);
        let first = rsp(0, 0, NETRXF_MORE_DATA | NETRXF_EXTRA_INFO, 4096);
        let s = a.slot(0, &first).unwrap();
        assert_eq!((s.copy, s.end), (Some((0, 4096)), None));
        let s = a.slot(1, &extra(gso(GsoKind::TcpV4, 1448))).unwrap();
        assert_eq!((s.id, s.copy, s.end), (1, None, None));
        let s = a.slot(2, &rsp(2, 0, NETRXF_MORE_DATA, 4096)).unwrap();
        assert_eq!(s.end, None);
        let s = a.slot(3, &rsp(3, 100, 0, 808)).unwrap();
        assert_eq!(s.copy, Some((100, 808)));
        assert_eq!(
            s.end,
            Some(RxEnd::Frame(RxMeta {
                len: 9000,
                csum: RxChecksum::None,
                gso: Some(Gso {
                    kind: GsoKind::TcpV4,
                    mss: 1448
                })
            }))
        );
        // Extra info without more data ends the packet after the extra.
        a.slot(4, &rsp(4, 0, NETRXF_EXTRA_INFO, 100)).unwrap();
        let s = a.slot(5, &extra(gso(GsoKind::TcpV6, 1000))).unwrap();
        assert!(matches!(s.end, Some(RxEnd::Frame(RxMeta { len: 100, .. }))));
    }

    #[test]
    fn error_statuses_drop_the_packet() {
        let mut a = RxAssembler::new(ALL);
        a.slot(0, &rsp(0, 0, NETRXF_MORE_DATA, 100)).unwrap();
        let s = a
            .slot(1, &rsp(1, 0, NETRXF_MORE_DATA, NETIF_RSP_ERROR))
            .unwrap();
        assert_eq!(s.copy, None);
        // Later slots of a failed packet are not copied.
        let s = a.slot(2, &rsp(2, 0, 0, 50)).unwrap();
        assert_eq!(s.copy, None);
        assert_eq!(s.end, Some(RxEnd::Failed(RxFailure::Error)));
        let s = a.slot(3, &rsp(3, 0, 0, NETIF_RSP_DROPPED)).unwrap();
        assert_eq!(s.end, Some(RxEnd::Failed(RxFailure::Dropped)));
        let s = a.slot(4, &rsp(4, 0, 0, 0)).unwrap();
        assert_eq!(s.end, Some(RxEnd::Failed(RxFailure::Empty)));
    }

    #[test]
    fn violations() {
        let cases: &[(RxRules, &[[u8; 8]], &str)] = &[
            (ALL, &[rsp(1, 0, 0, 10)], "id is not"),
            (ALL, &[rsp(0, 0, 0x20, 10)], "unknown flags"),
            (ALL, &[rsp(0, 0, NETRXF_GSO_PREFIX, 10)], "gso_prefix"),
            (ALL, &[rsp(0, 4000, 0, 97)], "runs past"),
            (ALL, &[rsp(0, 0xffff, 0, 1)], "runs past"),
            (ALL, &[rsp(0, 0, 0, 4097)], "runs past"),
            (ALL, &[rsp(0, 0, 0, -3)], "status unknown"),
            (ALL, &[rsp(0, 0, 0, i16::MIN)], "status unknown"),
            (
                RxRules { sg: false, ..ALL },
                &[rsp(0, 0, NETRXF_MORE_DATA, 10)],
                "without feature-sg",
            ),
            (
                RxRules {
                    csum_blank: false,
                    ..ALL
                },
                &[rsp(0, 0, NETRXF_CSUM_BLANK, 10)],
                "csum_blank",
            ),
            (
                ALL,
                &[
                    rsp(0, 0, NETRXF_MORE_DATA, 10),
                    rsp(1, 0, NETRXF_EXTRA_INFO, 10),
                ],
                "continuation",
            ),
            (
                ALL,
                &[
                    rsp(0, 0, NETRXF_EXTRA_INFO, 10),
                    extra(ExtraInfo {
                        kind: 2,
                        flags: 0,
                        data: [0; 6],
                    }),
                ],
                "type that was not",
            ),
            (
                ALL,
                &[
                    rsp(0, 0, NETRXF_EXTRA_INFO, 10),
                    extra(ExtraInfo {
                        kind: EXTRA_TYPE_GSO,
                        flags: 2,
                        data: [0; 6],
                    }),
                ],
                "extra info has unknown flags",
            ),
            (
                ALL,
                &[
                    rsp(0, 0, NETRXF_EXTRA_INFO, 10),
                    extra(ExtraInfo {
                        kind: EXTRA_TYPE_GSO,
                        flags: 0,
                        data: [100, 0, 7, 0, 0, 0],
                    }),
                ],
                "GSO of a type",
            ),
            (
                RxRules {
                    gso_tcpv6: false,
                    ..ALL
                },
                &[
                    rsp(0, 0, NETRXF_EXTRA_INFO, 10),
                    extra(ExtraInfo {
                        kind: EXTRA_TYPE_GSO,
                        flags: 0,
                        data: [100, 0, GSO_TYPE_TCPV6, 0, 0, 0],
                    }),
                ],
                "GSO of a type",
            ),
            (
                ALL,
                &[
                    rsp(0, 0, NETRXF_EXTRA_INFO, 10),
                    extra(ExtraInfo {
                        kind: EXTRA_TYPE_GSO,
                        flags: 0,
                        data: [0, 0, GSO_TYPE_TCPV4, 0, 0, 0],
                    }),
                ],
                "segment size 0",
            ),
            (
                ALL,
                &[
                    rsp(0, 0, NETRXF_EXTRA_INFO, 10),
                    extra(ExtraInfo::gso(
                        Gso {
                            kind: GsoKind::TcpV4,
                            mss: 9,
                        },
                        true,
                    )),
                    extra(gso(GsoKind::TcpV4, 9)),
                ],
                "two GSO",
            ),
        ];
        for (rules, slots, why) in cases {
            let mut a = RxAssembler::new(*rules);
            let mut result = Ok(());
            for (pos, s) in slots.iter().enumerate() {
                if let Err(e) = a.slot(pos as u32, s) {
                    result = Err(e);
                    break;
                }
            }
            let e = result.expect_err(why);
            assert!(e.contains(why), "{e:?} for {why:?}");
        }
        let _ = GSO_TYPE_TCPV4;
    }

    #[test]
    fn slot_limit() {
        let mut a = RxAssembler::new(ALL);
        for pos in 0..u32::from(MAX_RX_DATA_SLOTS) {
            a.slot(pos, &rsp(pos as u16, 0, NETRXF_MORE_DATA, 4096))
                .unwrap();
        }
        assert!(a
            .slot(18, &rsp(18, 0, 0, 10))
            .unwrap_err()
            .contains("too many"));
        a.reset();
        assert!(!a.in_packet());
    }
}
