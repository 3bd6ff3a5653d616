//! The xenbus handshake against the simulated blkback: the keys written,
//! every backend feature set, and bad values.

use std::format;
use std::string::String;

use xen_platform::services::DomId;
use xen_platform::xenstore::{Tx, XenstoreOps, XsError};

use super::common::*;
use crate::sim::BlkbackConfig;
use crate::{Config, DiskState};

const GUEST: DomId = DomId(5);

fn xs_read(bed: &Bed, path: &str) -> Option<String> {
    match bed.store.connect(DOM0).read(Tx::NONE, path) {
        Ok(v) => Some(v),
        Err(XsError::NoEnt) => None,
        Err(e) => panic!("{path}: {e}"),
    }
}

#[test]
fn connects_and_writes_the_keys() {
    let bed = Bed::new();
    let (mut d, mut bb) =
        bed.connected(GUEST, 51712, BlkbackConfig::default(), Config::default(), 1);
    let info = d.info().unwrap();
    assert_eq!(info.sectors, 8192);
    assert_eq!(info.capacity_bytes(), 4 << 20);
    assert_eq!(info.sector_size, 512);
    assert!(!info.read_only);
    let f = info.features;
    assert_eq!((f.ring_page_order, f.ring_pages, f.ring_size), (4, 16, 512));
    assert_eq!(f.indirect_segments, 256);
    assert!(f.persistent && f.flush && !f.barrier && f.discard.is_some());
    let dev = "/local/domain/5/device/vbd/51712";
    assert_eq!(
        xs_read(&bed, &format!("{dev}/ring-page-order")).as_deref(),
        Some("4")
    );
    assert_eq!(xs_read(&bed, &format!("{dev}/ring-ref")), None);
    assert!(xs_read(&bed, &format!("{dev}/ring-ref15")).is_some());
    assert_eq!(
        xs_read(&bed, &format!("{dev}/protocol")).as_deref(),
        Some("x86_64-abi")
    );
    assert_eq!(
        xs_read(&bed, &format!("{dev}/feature-persistent")).as_deref(),
        Some("1")
    );
    assert_eq!(
        xs_read(&bed, &format!("{dev}/event-channel")),
        Some(std::format!("{}", d.event_channel().unwrap().0))
    );
    assert_eq!(xs_read(&bed, &format!("{dev}/state")).as_deref(), Some("4"));
    assert_eq!(bb.persistent(), Some(true));
    // Ring pages and nothing else granted yet.
    assert_eq!(d.grants_held(), 16);
    assert_eq!(d.counters().connects, 1);
    close_cleanly(&bed, GUEST, &mut d, &mut bb);
}

#[test]
fn minimal_config_uses_one_page_and_ring_ref() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 768, BlkbackConfig::default(), Config::minimal(), 1);
    let f = d.info().unwrap().features;
    assert_eq!(
        (f.ring_pages, f.ring_size, f.indirect_segments, f.persistent),
        (1, 32, 0, false)
    );
    let dev = "/local/domain/5/device/vbd/768";
    assert!(xs_read(&bed, &format!("{dev}/ring-ref")).is_some());
    assert_eq!(xs_read(&bed, &format!("{dev}/ring-page-order")), None);
    assert_eq!(
        xs_read(&bed, &format!("{dev}/feature-persistent")).as_deref(),
        Some("0")
    );
    assert_eq!(bb.persistent(), Some(false));
    let data = pattern(1, 64 << 10);
    write(&mut d, &mut bb, 4096, data.clone()).unwrap();
    assert_eq!(read(&mut d, &mut bb, 4096, 64 << 10).unwrap(), data);
    assert_eq!(&bb.disk()[4096..4096 + (64 << 10)], &data[..]);
    assert_eq!(d.state(), DiskState::Connected);
    close_cleanly(&bed, GUEST, &mut d, &mut bb);
}
