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

/// The frontend configurations the product test rotates through.
fn front_configs() -> [Config; 4] {
    [
        Config::default(),
        Config::minimal(),
        Config {
            max_ring_page_order: 2,
            max_indirect_segments: 64,
            ..Config::default()
        },
        Config {
            use_persistent: false,
            max_indirect_segments: 4096,
            ..Config::default()
        },
    ]
}

/// Every backend feature set (flush, barrier, discard, secure discard,
/// persistent, indirect, sector size, ring order, read-only by `info` or
/// `mode`), each with one of four frontend configurations in turn:
/// connects, reports what was negotiated, carries data, honours or
/// refuses each operation as offered, and closes without leaving a grant.
#[test]
fn every_feature_combination_connects_and_carries_data() {
    let sets = BlkbackConfig::all_feature_sets();
    let fronts = front_configs();
    for (k, bb_cfg) in sets.iter().enumerate() {
        let cfg = fronts[k % fronts.len()];
        let bed = Bed::new();
        let (mut d, mut bb) = bed.connected(GUEST, 0, bb_cfg.clone(), cfg, k as u64);
        let ro = bb_cfg.read_only || bb_cfg.mode == "r";
        let info = d.info().unwrap();
        let f = info.features;
        let what = std::format!("set {k}: {bb_cfg:?} / {cfg:?}: {info:?}");
        assert_eq!(info.capacity_bytes(), bb_cfg.disk_bytes, "{what}");
        assert_eq!(info.sector_size, bb_cfg.sector_size, "{what}");
        assert_eq!(info.read_only, ro, "{what}");
        let order = bb_cfg
            .max_ring_page_order
            .unwrap_or(0)
            .min(cfg.max_ring_page_order);
        assert_eq!(f.ring_pages, 1 << order, "{what}");
        assert_eq!(f.ring_size, 32 << order, "{what}");
        assert_eq!(bb.stats().ring_order, order, "{what}");
        let indirect = if cfg.use_indirect {
            bb_cfg
                .max_indirect_segments
                .unwrap_or(0)
                .min(cfg.max_indirect_segments)
        } else {
            0
        };
        assert_eq!(
            f.indirect_segments,
            if indirect > 11 { indirect } else { 0 },
            "{what}"
        );
        assert_eq!(
            f.persistent,
            bb_cfg.persistent && cfg.use_persistent,
            "{what}"
        );
        assert_eq!(bb.persistent(), Some(f.persistent), "{what}");
        assert_eq!(
            (f.flush, f.barrier),
            (bb_cfg.flush, bb_cfg.barrier),
            "{what}"
        );
        assert_eq!(f.discard.is_some(), bb_cfg.discard, "{what}");
        assert_eq!(
            f.discard.is_some_and(|x| x.secure),
            bb_cfg.discard_secure,
            "{what}"
        );

        // Data: 96 KiB (24 pages: indirect when negotiated) at one sector.
        let off = u64::from(bb_cfg.sector_size);
        let data = pattern(k as u64, 96 << 10);
        if ro {
            bb.disk_mut()[off as usize..off as usize + data.len()].copy_from_slice(&data);
            assert_eq!(
                d.submit(crate::BlkRequest {
                    op: crate::BlkOp::Write {
                        offset: off,
                        data: data.clone()
                    },
                    tag: 0
                }),
                Err(crate::BlkError::ReadOnly),
                "{what}"
            );
        } else {
            write(&mut d, &mut bb, off, data.clone()).unwrap();
        }
        assert_eq!(
            read(&mut d, &mut bb, off, data.len()).unwrap(),
            data,
            "{what}"
        );
        assert_eq!(
            d.counters().indirect_requests > 0,
            f.indirect_segments > 0,
            "{what}"
        );

        // Each operation as offered.
        let ops = [
            (crate::BlkOp::Flush, bb_cfg.flush),
            (crate::BlkOp::Barrier, bb_cfg.barrier),
            (
                crate::BlkOp::Discard {
                    offset: off,
                    len: off,
                },
                bb_cfg.discard,
            ),
            (
                crate::BlkOp::SecureDiscard {
                    offset: off,
                    len: off,
                },
                bb_cfg.discard_secure,
            ),
        ];
        for (op, offered) in ops {
            let discard = matches!(
                op,
                crate::BlkOp::Discard { .. } | crate::BlkOp::SecureDiscard { .. }
            );
            let r = run(&mut d, &mut bb, op.clone());
            match (ro, discard, offered) {
                (true, true, _) => assert_eq!(r, Err(crate::BlkError::ReadOnly), "{op:?} {what}"),
                (true, false, _) | (false, _, true) => assert!(r.is_ok(), "{op:?} {what}: {r:?}"),
                (false, _, false) => {
                    assert!(
                        matches!(r, Err(crate::BlkError::NotSupported(_))),
                        "{op:?} {what}: {r:?}"
                    )
                }
            }
        }
        assert_eq!(d.state(), DiskState::Connected, "{what}");
        assert_eq!(d.counters().violations, 0);
        close_cleanly(&bed, GUEST, &mut d, &mut bb);
    }
    std::eprintln!("feature combinations: {} connected and checked", sets.len());
}

#[test]
fn vbds_lists_the_disks() {
    let bed = Bed::new();
    let xs = bed.store.connect(GUEST);
    assert_eq!(crate::vbds(&xs).unwrap(), []);
    let _a = crate::sim::SimBlkback::create(
        &bed.hv,
        &bed.store,
        DOM0,
        GUEST,
        51712,
        BlkbackConfig::default(),
        1,
    );
    let _b = crate::sim::SimBlkback::create(
        &bed.hv,
        &bed.store,
        DOM0,
        GUEST,
        51728,
        BlkbackConfig::default(),
        1,
    );
    let ids: std::vec::Vec<String> = crate::vbds(&xs)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["51712", "51728"]);
}
