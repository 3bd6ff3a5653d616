//! The xenstore half of the blkif handshake (`io/blkif.h` "Backend XenBus
//! Nodes" and "Frontend XenBus Nodes"): reading the backend's transport
//! parameters before the ring is built (`max-ring-page-order`), its device
//! properties and features once it is `Connected` (`sectors`, `info`,
//! `sector-size`, `physical-sector-size`, `mode`, `feature-*`,
//! `discard-*`), and writing the frontend's ring references, event
//! channel, protocol and features in one transaction.
//!
//! Every value is checked: a key that is not a number, a sector size that
//! is not a power of two of at least 512, a size that overflows, is the
//! backend's fault ([`BlkError::PeerMisbehaved`]).

use alloc::format;
use alloc::string::String;

use xen_platform::services::{GrantRef, Port};
use xen_platform::xenbus::{Backend, Device};
use xen_platform::xenstore::{self, Tx, XenstoreOps, XsError};

use crate::error::BlkError;
use crate::info::DiscardInfo;
use crate::wire::{SECTOR_SIZE, VDISK_CDROM, VDISK_READONLY, VDISK_REMOVABLE};

/// The ABI blkfront speaks (`XEN_IO_PROTO_ABI_X86_64`).
pub const PROTOCOL: &str = "x86_64-abi";
/// Largest `max-ring-page-order` taken at face value; more is nonsense.
pub const ORDER_SANITY_MAX: u32 = 20;

/// What the backend offers, as read from its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackendOffer {
    /// `max-ring-page-order` (0 when absent).
    pub max_ring_page_order: u32,
    /// `feature-max-indirect-segments` (0 when absent).
    pub max_indirect_segments: u32,
    /// `feature-persistent`.
    pub persistent: bool,
    /// `feature-flush-cache`.
    pub flush: bool,
    /// `feature-barrier`.
    pub barrier: bool,
    /// `feature-discard` with `discard-granularity`, `discard-alignment`,
    /// `discard-secure`.
    pub discard: Option<DiscardInfo>,
}

/// The backend's device properties, read once it is `Connected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendDisk {
    /// `sectors` (512-byte units).
    pub sectors: u64,
    /// `sector-size`.
    pub sector_size: u32,
    /// `physical-sector-size` (default: `sector-size`).
    pub physical_sector_size: u32,
    /// `info`.
    pub info: u32,
    /// `mode` (`r` or `w`; `None` when absent).
    pub mode_read_only: bool,
    /// The features.
    pub offer: BackendOffer,
}

impl BackendDisk {
    /// `VDISK_READONLY` or `mode` = `r`.
    pub fn read_only(&self) -> bool {
        self.info & VDISK_READONLY != 0 || self.mode_read_only
    }
    /// `VDISK_REMOVABLE`.
    pub fn removable(&self) -> bool {
        self.info & VDISK_REMOVABLE != 0
    }
    /// `VDISK_CDROM`.
    pub fn cdrom(&self) -> bool {
        self.info & VDISK_CDROM != 0
    }
}

/// Reads an optional key (absent = `None`).
fn read_opt<S: XenstoreOps + ?Sized>(xs: &S, path: &str) -> Result<Option<String>, BlkError> {
    match xs.read(Tx::NONE, path) {
        Ok(v) => Ok(Some(v)),
        Err(XsError::NoEnt) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads an optional decimal key; `bad` when it is not a number.
fn read_num<S: XenstoreOps + ?Sized>(
    xs: &S,
    dir: &str,
    key: &str,
    bad: &'static str,
) -> Result<Option<u64>, BlkError> {
    match read_opt(xs, &format!("{dir}/{key}"))? {
        None => Ok(None),
        Some(v) => parse_u64(&v).map(Some).ok_or(BlkError::PeerMisbehaved(bad)),
    }
}

/// Parses a decimal u64 strictly (digits only, no sign or spaces).
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads a required decimal key.
fn read_req<S: XenstoreOps + ?Sized>(
    xs: &S,
    dir: &str,
    key: &str,
    missing: &'static str,
    bad: &'static str,
) -> Result<u64, BlkError> {
    read_num(xs, dir, key, bad)?.ok_or(BlkError::PeerMisbehaved(missing))
}

/// Reads an optional boolean key (absent = false; non-zero = true).
fn read_flag<S: XenstoreOps + ?Sized>(xs: &S, dir: &str, key: &str) -> Result<bool, BlkError> {
    Ok(read_num(xs, dir, key, "backend feature key is not a number")?.is_some_and(|n| n != 0))
}

/// Reads `max-ring-page-order` (before the ring is built).
pub fn read_max_ring_page_order<S: XenstoreOps + ?Sized>(
    xs: &S,
    backend: &Backend,
) -> Result<u32, BlkError> {
    let order = read_num(
        xs,
        &backend.path,
        "max-ring-page-order",
        "max-ring-page-order is not a number",
    )?
    .unwrap_or(0);
    if order > u64::from(ORDER_SANITY_MAX) {
        return Err(BlkError::PeerMisbehaved(
            "max-ring-page-order is absurdly large",
        ));
    }
    Ok(order as u32)
}

/// Reads the features the backend offers.
pub fn read_offer<S: XenstoreOps + ?Sized>(
    xs: &S,
    backend: &Backend,
    sector_size: u32,
) -> Result<BackendOffer, BlkError> {
    let dir = backend.path.as_str();
    let max_indirect = read_num(
        xs,
        dir,
        "feature-max-indirect-segments",
        "feature-max-indirect-segments is not a number",
    )?
    .unwrap_or(0);
    let discard = if read_flag(xs, dir, "feature-discard")? {
        let granularity = read_num(
            xs,
            dir,
            "discard-granularity",
            "discard-granularity is not a number",
        )?
        .unwrap_or(u64::from(sector_size));
        let alignment = read_num(
            xs,
            dir,
            "discard-alignment",
            "discard-alignment is not a number",
        )?
        .unwrap_or(0);
        Some(DiscardInfo {
            granularity: u32::try_from(granularity)
                .map_err(|_| BlkError::PeerMisbehaved("discard-granularity out of range"))?,
            alignment: u32::try_from(alignment)
                .map_err(|_| BlkError::PeerMisbehaved("discard-alignment out of range"))?,
            secure: read_flag(xs, dir, "discard-secure")?,
        })
    } else {
        None
    };
    Ok(BackendOffer {
        max_ring_page_order: read_max_ring_page_order(xs, backend)?,
        max_indirect_segments: u32::try_from(max_indirect).unwrap_or(u32::MAX),
        persistent: read_flag(xs, dir, "feature-persistent")?,
        flush: read_flag(xs, dir, "feature-flush-cache")?,
        barrier: read_flag(xs, dir, "feature-barrier")?,
        discard,
    })
}

/// Reads the disk's properties and the features (once the backend is
/// `Connected`).
pub fn read_backend_disk<S: XenstoreOps + ?Sized>(
    xs: &S,
    backend: &Backend,
) -> Result<BackendDisk, BlkError> {
    let dir = backend.path.as_str();
    let sectors = read_req(
        xs,
        dir,
        "sectors",
        "backend wrote no sectors",
        "sectors is not a number",
    )?;
    let info = read_req(
        xs,
        dir,
        "info",
        "backend wrote no info",
        "info is not a number",
    )?;
    let info = u32::try_from(info).map_err(|_| BlkError::PeerMisbehaved("info out of range"))?;
    let ss = read_req(
        xs,
        dir,
        "sector-size",
        "backend wrote no sector-size",
        "sector-size is not a number",
    )?;
    if !ss.is_power_of_two() || ss < SECTOR_SIZE as u64 || ss > 1 << 20 {
        return Err(BlkError::PeerMisbehaved(
            "sector-size is not a power of two of at least 512",
        ));
    }
    let sector_size = ss as u32;
    let pss = read_num(
        xs,
        dir,
        "physical-sector-size",
        "physical-sector-size is not a number",
    )?
    .unwrap_or(ss);
    if !pss.is_power_of_two() || pss < ss || pss > 1 << 30 {
        return Err(BlkError::PeerMisbehaved(
            "physical-sector-size is not a power-of-two multiple of sector-size",
        ));
    }
    if sectors.checked_mul(SECTOR_SIZE as u64).is_none() {
        return Err(BlkError::PeerMisbehaved(
            "sectors overflows a 64-bit byte size",
        ));
    }
    let mode_read_only = match read_opt(xs, &format!("{dir}/mode"))? {
        None => false,
        Some(m) => match m.as_str() {
            "r" | "ro" => true,
            "w" | "rw" | "!" | "w!" => false,
            _ => return Err(BlkError::PeerMisbehaved("mode is neither r nor w")),
        },
    };
    Ok(BackendDisk {
        sectors,
        sector_size,
        physical_sector_size: pss as u32,
        info,
        mode_read_only,
        offer: read_offer(xs, backend, sector_size)?,
    })
}

/// What the frontend writes to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontKeys<'a> {
    /// The ring's grants in page order (one: `ring-ref`; more:
    /// `ring-ref0..N` and `ring-page-order`).
    pub ring_refs: &'a [GrantRef],
    /// `event-channel`.
    pub evtchn: Port,
    /// `feature-persistent`.
    pub persistent: bool,
}

/// Writes the frontend's keys to `device/vbd/<id>` in one transaction
/// (retried on conflicts); stale keys of another ring size are removed.
pub fn write_front_keys<S: XenstoreOps + ?Sized>(
    xs: &S,
    dev: &Device,
    keys: &FrontKeys<'_>,
) -> Result<(), XsError> {
    let dir = dev.path();
    let pages = keys.ring_refs.len();
    xenstore::transaction(xs, |tx| {
        // The device must still exist: do not recreate a removed one.
        xs.read(tx, &dir)?;
        let w = |key: &str, value: &str| xs.write(tx, &format!("{dir}/{key}"), value);
        let rm = |key: &str| match xs.rm(tx, &format!("{dir}/{key}")) {
            Ok(()) | Err(XsError::NoEnt) => Ok(()),
            Err(e) => Err(e),
        };
        if pages == 1 {
            w("ring-ref", &format!("{}", keys.ring_refs[0].0))?;
            rm("ring-page-order")?;
            rm("num-ring-pages")?;
            for i in 0..1 << crate::config::MAX_RING_PAGE_ORDER {
                rm(&format!("ring-ref{i}"))?;
            }
        } else {
            rm("ring-ref")?;
            w("ring-page-order", &format!("{}", pages.trailing_zeros()))?;
            w("num-ring-pages", &format!("{pages}"))?;
            for (i, r) in keys.ring_refs.iter().enumerate() {
                w(&format!("ring-ref{i}"), &format!("{}", r.0))?;
            }
            for i in pages..1 << crate::config::MAX_RING_PAGE_ORDER {
                rm(&format!("ring-ref{i}"))?;
            }
        }
        w("event-channel", &format!("{}", keys.evtchn.0))?;
        w("protocol", PROTOCOL)?;
        w(
            "feature-persistent",
            if keys.persistent { "1" } else { "0" },
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_strictly() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "0x10",
            "18446744073709551616",
            "1e3",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
    }
}
