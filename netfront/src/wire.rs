//! The records of Xen's `io/netif.h` as they sit in the tx and rx rings:
//! `netif_tx_request`, `netif_tx_response`, `netif_rx_request`,
//! `netif_rx_response` and `netif_extra_info`, encoded little-endian at the
//! offsets of the generated bindings, plus the flag and status constants.
//!
//! Decoding accepts any bytes; whether a record makes sense is decided by
//! [`crate::rx_parse`] and [`crate::tx_track`].

use xen_abi as abi;
use xen_platform::shared_ring::{BackRing, FrontRing, RingEntry};

/// Bytes of a tx ring slot (`union netif_tx_sring_entry`).
pub const TX_SLOT: usize = size_of::<abi::netif_tx_sring_entry>();
/// Bytes of an rx ring slot (`union netif_rx_sring_entry`).
pub const RX_SLOT: usize = size_of::<abi::netif_rx_sring_entry>();

/// The frontend's tx ring.
pub type TxFrontRing<P> = FrontRing<P, TX_SLOT>;
/// The frontend's rx ring.
pub type RxFrontRing<P> = FrontRing<P, RX_SLOT>;
/// A backend's tx ring (simulated netback).
pub type TxBackRing<P> = BackRing<P, TX_SLOT>;
/// A backend's rx ring (simulated netback).
pub type RxBackRing<P> = BackRing<P, RX_SLOT>;

/// Entries of the tx ring (`NET_TX_RING_SIZE` on 4 KiB pages).
pub const TX_RING_SIZE: u32 = xen_platform::shared_ring::ring_size(TX_SLOT);
/// Entries of the rx ring (`NET_RX_RING_SIZE` on 4 KiB pages).
pub const RX_RING_SIZE: u32 = xen_platform::shared_ring::ring_size(RX_SLOT);

/// Response status: the packet was dropped (`NETIF_RSP_DROPPED`).
pub const NETIF_RSP_DROPPED: i16 = -2;
/// Response status: an error (`NETIF_RSP_ERROR`).
pub const NETIF_RSP_ERROR: i16 = -1;
/// Response status: success (`NETIF_RSP_OKAY`).
pub const NETIF_RSP_OKAY: i16 = 0;
/// Response status of a slot that held an extra info (`NETIF_RSP_NULL`).
pub const NETIF_RSP_NULL: i16 = 1;

/// Tx flag: checksum field blank, to be filled in (`NETTXF_csum_blank`).
pub const NETTXF_CSUM_BLANK: u16 = abi::NETTXF_csum_blank as u16;
/// Tx flag: data validated against its checksum (`NETTXF_data_validated`).
pub const NETTXF_DATA_VALIDATED: u16 = abi::NETTXF_data_validated as u16;
/// Tx flag: the packet continues in the next request (`NETTXF_more_data`).
pub const NETTXF_MORE_DATA: u16 = abi::NETTXF_more_data as u16;
/// Tx flag: an extra info record follows (`NETTXF_extra_info`).
pub const NETTXF_EXTRA_INFO: u16 = abi::NETTXF_extra_info as u16;

/// Rx flag: data validated (`NETRXF_data_validated`).
pub const NETRXF_DATA_VALIDATED: u16 = abi::NETRXF_data_validated as u16;
/// Rx flag: checksum field blank (`NETRXF_csum_blank`).
pub const NETRXF_CSUM_BLANK: u16 = abi::NETRXF_csum_blank as u16;
/// Rx flag: the packet continues in the next response (`NETRXF_more_data`).
pub const NETRXF_MORE_DATA: u16 = abi::NETRXF_more_data as u16;
/// Rx flag: an extra info record follows (`NETRXF_extra_info`).
pub const NETRXF_EXTRA_INFO: u16 = abi::NETRXF_extra_info as u16;
/// Rx flag: a GSO prefix slot (`NETRXF_gso_prefix`; never negotiated here).
pub const NETRXF_GSO_PREFIX: u16 = abi::NETRXF_gso_prefix as u16;
/// Every rx flag `netif.h` defines.
pub const NETRXF_KNOWN: u16 = NETRXF_DATA_VALIDATED
    | NETRXF_CSUM_BLANK
    | NETRXF_MORE_DATA
    | NETRXF_EXTRA_INFO
    | NETRXF_GSO_PREFIX;

/// Extra info type: GSO (`XEN_NETIF_EXTRA_TYPE_GSO`).
pub const EXTRA_TYPE_GSO: u8 = abi::XEN_NETIF_EXTRA_TYPE_GSO as u8;
/// Extra info flag: another extra info follows (`XEN_NETIF_EXTRA_FLAG_MORE`).
pub const EXTRA_FLAG_MORE: u8 = abi::XEN_NETIF_EXTRA_FLAG_MORE as u8;
/// GSO type TCPv4 (`XEN_NETIF_GSO_TYPE_TCPV4`).
pub const GSO_TYPE_TCPV4: u8 = abi::XEN_NETIF_GSO_TYPE_TCPV4 as u8;
/// GSO type TCPv6 (`XEN_NETIF_GSO_TYPE_TCPV6`).
pub const GSO_TYPE_TCPV6: u8 = abi::XEN_NETIF_GSO_TYPE_TCPV6 as u8;

/// Largest packet a frontend may send (`XEN_NETIF_MAX_TX_SIZE`).
pub const MAX_TX_SIZE: usize = abi::XEN_NETIF_MAX_TX_SIZE as usize;
/// Slots (extra infos included) every backend accepts for one packet
/// (`XEN_NETIF_NR_SLOTS_MIN`).
pub const NR_SLOTS_MIN: usize = abi::XEN_NETIF_NR_SLOTS_MIN as usize;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `netif_tx_request`: one slot of a packet the frontend sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxRequest {
    /// Grant of the page holding the data.
    pub gref: u32,
    /// Offset of the data in the page.
    pub offset: u16,
    /// `NETTXF_*`.
    pub flags: u16,
    /// Echoed in the response.
    pub id: u16,
    /// First slot: the whole packet's size; others: this slot's.
    pub size: u16,
}

impl RingEntry for TxRequest {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.gref.to_le_bytes());
        out[4..6].copy_from_slice(&self.offset.to_le_bytes());
        out[6..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..10].copy_from_slice(&self.id.to_le_bytes());
        out[10..12].copy_from_slice(&self.size.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        TxRequest {
            gref: u32_at(b, 0),
            offset: u16_at(b, 4),
            flags: u16_at(b, 6),
            id: u16_at(b, 8),
            size: u16_at(b, 10),
        }
    }
}

/// `netif_tx_response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxResponse {
    /// The request's id (meaningless for `NETIF_RSP_NULL`).
    pub id: u16,
    /// `NETIF_RSP_*`.
    pub status: i16,
}

impl RingEntry for TxResponse {
    const SIZE: usize = 4;
    fn encode(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.id.to_le_bytes());
        out[2..4].copy_from_slice(&self.status.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        TxResponse {
            id: u16_at(b, 0),
            status: u16_at(b, 2) as i16,
        }
    }
}

/// `netif_rx_request`: a buffer page offered to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxRequest {
    /// Echoed in the response.
    pub id: u16,
    /// Grant of the buffer page.
    pub gref: u32,
}

impl RingEntry for RxRequest {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.id.to_le_bytes());
        out[2..4].copy_from_slice(&[0, 0]);
        out[4..8].copy_from_slice(&self.gref.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        RxRequest {
            id: u16_at(b, 0),
            gref: u32_at(b, 4),
        }
    }
}

/// `netif_rx_response`: one slot of a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxResponse {
    /// The request's id.
    pub id: u16,
    /// Offset of the data in the buffer page.
    pub offset: u16,
    /// `NETRXF_*`.
    pub flags: u16,
    /// Bytes of data (>= 0), or a negative `NETIF_RSP_*`.
    pub status: i16,
}

impl RingEntry for RxResponse {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.id.to_le_bytes());
        out[2..4].copy_from_slice(&self.offset.to_le_bytes());
        out[4..6].copy_from_slice(&self.flags.to_le_bytes());
        out[6..8].copy_from_slice(&self.status.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        RxResponse {
            id: u16_at(b, 0),
            offset: u16_at(b, 2),
            flags: u16_at(b, 4),
            status: u16_at(b, 6) as i16,
        }
    }
}

/// `netif_extra_info`: extra information in its own slot after a request
/// or response flagged `*_extra_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtraInfo {
    /// `XEN_NETIF_EXTRA_TYPE_*`.
    pub kind: u8,
    /// `XEN_NETIF_EXTRA_FLAG_*`.
    pub flags: u8,
    /// The type's payload (the union `u`).
    pub data: [u8; 6],
}

impl ExtraInfo {
    /// A GSO extra info (`u.gso`: size, type, pad, features = 0).
    pub fn gso(gso: Gso, more: bool) -> ExtraInfo {
        let mut data = [0; 6];
        data[0..2].copy_from_slice(&gso.mss.to_le_bytes());
        data[2] = gso.kind.raw();
        ExtraInfo {
            kind: EXTRA_TYPE_GSO,
            flags: if more { EXTRA_FLAG_MORE } else { 0 },
            data,
        }
    }

    /// The GSO fields `(size, type, features)` as sent, unchecked.
    pub fn gso_fields(&self) -> (u16, u8, u16) {
        (u16_at(&self.data, 0), self.data[2], u16_at(&self.data, 4))
    }
}

impl RingEntry for ExtraInfo {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[0] = self.kind;
        out[1] = self.flags;
        out[2..8].copy_from_slice(&self.data);
    }
    fn decode(b: &[u8]) -> Self {
        let mut data = [0; 6];
        data.copy_from_slice(&b[2..8]);
        ExtraInfo {
            kind: b[0],
            flags: b[1],
            data,
        }
    }
}

/// An undecoded slot: read first, decoded once its kind is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSlot<const N: usize>(pub [u8; N]);

impl<const N: usize> RingEntry for RawSlot<N> {
    const SIZE: usize = N;
    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0);
    }
    fn decode(b: &[u8]) -> Self {
        let mut a = [0; N];
        a.copy_from_slice(b);
        RawSlot(a)
    }
}

/// The TCP segmentation offload kinds of `netif.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GsoKind {
    /// TCP over IPv4 (`XEN_NETIF_GSO_TYPE_TCPV4`).
    TcpV4,
    /// TCP over IPv6 (`XEN_NETIF_GSO_TYPE_TCPV6`).
    TcpV6,
}

impl GsoKind {
    /// The `XEN_NETIF_GSO_TYPE_*` value.
    pub fn raw(self) -> u8 {
        match self {
            GsoKind::TcpV4 => GSO_TYPE_TCPV4,
            GsoKind::TcpV6 => GSO_TYPE_TCPV6,
        }
    }

    /// From a `XEN_NETIF_GSO_TYPE_*` value (`None` for none or unknown).
    pub fn from_raw(raw: u8) -> Option<GsoKind> {
        match raw {
            GSO_TYPE_TCPV4 => Some(GsoKind::TcpV4),
            GSO_TYPE_TCPV6 => Some(GsoKind::TcpV6),
            _ => None,
        }
    }
}

/// A large TCP frame to be cut (tx) or that was merged (rx) into segments
/// of `mss` payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gso {
    /// TCPv4 or TCPv6.
    pub kind: GsoKind,
    /// Payload bytes per segment (`gso.size`), never 0.
    pub mss: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    fn enc<E: RingEntry>(e: &E) -> [u8; 12] {
        let mut b = [0; 12];
        e.encode(&mut b[..E::SIZE]);
        b
    }

    #[test]
    fn layouts_match_the_generated_bindings() {
        assert_eq!(TX_SLOT, 12);
        assert_eq!(RX_SLOT, 8);
        assert_eq!(TX_RING_SIZE, 256);
        assert_eq!(RX_RING_SIZE, 256);
        assert_eq!(TxRequest::SIZE, size_of::<abi::netif_tx_request>());
        assert_eq!(TxResponse::SIZE, size_of::<abi::netif_tx_response>());
        assert_eq!(RxRequest::SIZE, size_of::<abi::netif_rx_request>());
        assert_eq!(RxResponse::SIZE, size_of::<abi::netif_rx_response>());
        assert_eq!(ExtraInfo::SIZE, size_of::<abi::netif_extra_info>());

        let b = enc(&TxRequest {
            gref: 0x0403_0201,
            offset: 0x0605,
            flags: 0x0807,
            id: 0x0a09,
            size: 0x0c0b,
        });
        assert_eq!(b[offset_of!(abi::netif_tx_request, gref)], 1);
        assert_eq!(b[offset_of!(abi::netif_tx_request, offset)], 5);
        assert_eq!(b[offset_of!(abi::netif_tx_request, flags)], 7);
        assert_eq!(b[offset_of!(abi::netif_tx_request, id)], 9);
        assert_eq!(b[offset_of!(abi::netif_tx_request, size)], 11);

        let b = enc(&RxResponse {
            id: 0x0201,
            offset: 0x0403,
            flags: 0x0605,
            status: 0x0807,
        });
        assert_eq!(b[offset_of!(abi::netif_rx_response, id)], 1);
        assert_eq!(b[offset_of!(abi::netif_rx_response, offset)], 3);
        assert_eq!(b[offset_of!(abi::netif_rx_response, flags)], 5);
        assert_eq!(b[offset_of!(abi::netif_rx_response, status)], 7);

        let b = enc(&RxRequest {
            id: 0x0201,
            gref: 0x0807_0605,
        });
        assert_eq!(b[offset_of!(abi::netif_rx_request, id)], 1);
        assert_eq!(b[offset_of!(abi::netif_rx_request, gref)], 5);

        let b = enc(&TxResponse {
            id: 0x0201,
            status: 0x0403,
        });
        assert_eq!(b[offset_of!(abi::netif_tx_response, status)], 3);

        let e = ExtraInfo::gso(
            Gso {
                kind: GsoKind::TcpV6,
                mss: 0x0201,
            },
            true,
        );
        let b = enc(&e);
        let u = offset_of!(abi::netif_extra_info, u);
        assert_eq!(b[offset_of!(abi::netif_extra_info, type_)], 1);
        assert_eq!(b[offset_of!(abi::netif_extra_info, flags)], 1);
        assert_eq!(
            b[u + offset_of!(abi::netif_extra_info__bindgen_ty_1__bindgen_ty_1, size)],
            1
        );
        assert_eq!(
            b[u + offset_of!(abi::netif_extra_info__bindgen_ty_1__bindgen_ty_1, type_)],
            GSO_TYPE_TCPV6
        );
        assert_eq!(e.gso_fields(), (0x0201, GSO_TYPE_TCPV6, 0));
    }

    #[test]
    fn records_round_trip() {
        let t = TxRequest {
            gref: 77,
            offset: 12,
            flags: NETTXF_MORE_DATA,
            id: 3,
            size: 1500,
        };
        assert_eq!(TxRequest::decode(&enc(&t)[..12]), t);
        let r = RxResponse {
            id: 9,
            offset: 100,
            flags: NETRXF_DATA_VALIDATED,
            status: NETIF_RSP_ERROR,
        };
        assert_eq!(RxResponse::decode(&enc(&r)[..8]), r);
        let s = TxResponse {
            id: 65535,
            status: NETIF_RSP_DROPPED,
        };
        assert_eq!(TxResponse::decode(&enc(&s)[..4]), s);
        let q = RxRequest { id: 255, gref: 8 };
        assert_eq!(RxRequest::decode(&enc(&q)[..8]), q);
        let raw = RawSlot([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(RawSlot::<8>::decode(&enc(&raw)[..8]), raw);
        assert_eq!(GsoKind::from_raw(GSO_TYPE_TCPV4), Some(GsoKind::TcpV4));
        assert_eq!(GsoKind::from_raw(0), None);
        assert_eq!(GsoKind::from_raw(9), None);
        assert_eq!(NETRXF_KNOWN, 0x1f);
    }
}
