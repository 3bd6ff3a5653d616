//! The backend going away and coming back: a backend that closes and
//! reopens (with pending I/O), `xl block-detach` then `block-attach`, a
//! backend domain that dies, a backend that comes back with other
//! features, and shutdown with requests in flight. Pending requests fail,
//! never hang; grants come back; data survives.

use std::vec::Vec;

use xen_platform::services::DomId;
use xen_platform::xenbus::XenbusState;

use super::common::*;
use crate::sim::{BlkbackConfig, SimBlkback, SimBlkfront};
use crate::{BlkError, BlkOp, BlkRequest, Config, DiskState};

const GUEST: DomId = DomId(8);

/// Submits `n` writes of 128 KiB (some reach the ring, some wait).
fn submit_writes(d: &mut SimBlkfront, n: u64, seed: u64) {
    for i in 0..n {
        let op = BlkOp::Write {
            offset: i * (128 << 10),
            data: pattern(seed + i, 128 << 10),
        };
        d.submit(BlkRequest { op, tag: i }).unwrap();
    }
}

fn data_works(d: &mut SimBlkfront, bb: &mut SimBlkback, seed: u64) {
    write(d, bb, 1 << 20, pattern(seed, 65536)).unwrap();
    assert_eq!(read(d, bb, 1 << 20, 65536).unwrap(), pattern(seed, 65536));
}

#[test]
fn backend_closes_with_pending_io_and_comes_back() {
    let bed = Bed::new();
    let cfg = Config {
        max_ring_page_order: 0,
        ..Config::default()
    };
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), cfg, 1);
    data_works(&mut d, &mut bb, 1);
    for cycle in 1..=3u64 {
        // 24 writes: the ring holds 32 but the backend answers only some
        // before it goes; others were never taken.
        submit_writes(&mut d, 24, cycle * 100);
        bb.faults.budget = 4;
        bb.faults.defer_pct = 50;
        bb.step();
        bb.faults = Default::default();
        let mut done = Vec::new();
        d.poll(|c| done.push(c)).unwrap();
        bb.close();
        d.poll_xenbus().unwrap();
        assert_eq!(d.state(), DiskState::Detached);
        d.poll(|c| done.push(c)).unwrap();
        assert_eq!(done.len(), 24, "every request completes");
        assert_eq!(d.in_flight(), 0);
        let failed = done
            .iter()
            .filter(|c| c.result == Err(BlkError::Detached))
            .count();
        assert!(failed > 0 && failed < 24, "{failed}");
        assert!(matches!(
            d.submit(BlkRequest {
                op: BlkOp::Read {
                    offset: 0,
                    len: 512
                },
                tag: 0
            }),
            Err(BlkError::NotConnected)
        ));
        settle(&mut d, &mut bb, |d, b| {
            d.state() == DiskState::Connected && b.is_connected()
        });
        assert_eq!(d.counters().connects, cycle + 1);
        assert_eq!(d.counters().disconnects, cycle);
        assert_eq!(d.counters().violations, 0);
        // Writes that completed are on the disk.
        for c in done.iter().filter(|c| c.result.is_ok()) {
            let off = c.tag as usize * (128 << 10);
            assert_eq!(
                &bb.disk()[off..off + (128 << 10)],
                &pattern(cycle * 100 + c.tag, 128 << 10)[..]
            );
        }
        data_works(&mut d, &mut bb, cycle);
    }
    // Only the live connection's grants: the ring page and the pool.
    assert_eq!(bed.held(GUEST).0, d.grants_held());
}

#[test]
fn xl_block_detach_then_attach() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
    data_works(&mut d, &mut bb, 1);
    submit_writes(&mut d, 5, 10);
    bb.detach();
    d.poll_xenbus().unwrap();
    let mut done = Vec::new();
    d.poll(|c| done.push(c)).unwrap();
    assert_eq!(done.len(), 5);
    settle(&mut d, &mut bb, |_, b| b.state() == XenbusState::Closed);
    settle(&mut d, &mut bb, |d, _| d.grants_held() == 0);
    assert!(done.iter().all(|c| c.result == Err(BlkError::Detached)));
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    bb.remove();
    for _ in 0..5 {
        bb.step();
        d.poll_xenbus().unwrap();
    }
    assert_ne!(d.state(), DiskState::Connected);
    bb.attach();
    settle(&mut d, &mut bb, |d, b| {
        d.state() == DiskState::Connected && b.is_connected()
    });
    data_works(&mut d, &mut bb, 2);
}

#[test]
fn backend_domain_dies_and_a_new_one_attaches() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
    submit_writes(&mut d, 3, 1);
    bb.step(); // maps persistently and answers
    submit_writes(&mut d, 3, 2);
    bb.kill();
    d.poll_xenbus().unwrap();
    assert_eq!(d.state(), DiskState::Detached);
    assert_eq!(d.grants_held(), 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    let mut done = Vec::new();
    d.poll(|c| done.push(c)).unwrap();
    assert_eq!(done.len(), 6);
    bb.attach();
    settle(&mut d, &mut bb, |d, b| {
        d.state() == DiskState::Connected && b.is_connected()
    });
    data_works(&mut d, &mut bb, 3);
}

#[test]
fn backend_comes_back_with_other_features() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
    assert_eq!(d.info().unwrap().features.ring_pages, 16);
    data_works(&mut d, &mut bb, 1);
    bb.close();
    bb.reconfigure(BlkbackConfig {
        max_ring_page_order: None,
        max_indirect_segments: None,
        persistent: false,
        sector_size: 4096,
        physical_sector_size: None,
        read_only: true,
        ..BlkbackConfig::default()
    });
    settle(&mut d, &mut bb, |d, b| {
        d.state() == DiskState::Connected && b.is_connected()
    });
    let info = d.info().unwrap();
    assert_eq!(
        (info.sector_size, info.physical_sector_size, info.read_only),
        (4096, 4096, true)
    );
    let f = info.features;
    assert_eq!(
        (f.ring_pages, f.indirect_segments, f.persistent),
        (1, 0, false)
    );
    assert_eq!(bb.stats().ring_order, 0);
    assert_eq!(
        read(&mut d, &mut bb, 1 << 20, 65536).unwrap(),
        pattern(1, 65536)
    );
    assert_eq!(
        d.submit(BlkRequest {
            op: BlkOp::Write {
                offset: 0,
                data: std::vec![0; 4096]
            },
            tag: 0
        }),
        Err(BlkError::ReadOnly)
    );
    // And back to a big ring.
    bb.close();
    bb.reconfigure(BlkbackConfig::default());
    settle(&mut d, &mut bb, |d, b| {
        d.state() == DiskState::Connected && b.is_connected()
    });
    assert_eq!(d.info().unwrap().features.ring_pages, 16);
    data_works(&mut d, &mut bb, 2);
}

#[test]
fn shutdown_while_requests_are_in_flight() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
    submit_writes(&mut d, 10, 1);
    bb.faults.defer_pct = 100;
    bb.step();
    d.shutdown();
    assert_eq!(d.state(), DiskState::Shut);
    let mut done = Vec::new();
    d.poll(|c| done.push(c)).unwrap();
    assert_eq!(done.len(), 10);
    assert!(done.iter().all(|c| c.result == Err(BlkError::Detached)));
    settle(&mut d, &mut bb, |d, b| {
        d.is_closed() && b.state() == XenbusState::Closed
    });
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    // It stays shut when the backend comes back.
    bb.attach();
    for _ in 0..5 {
        bb.step();
        d.poll_xenbus().unwrap();
    }
    assert_eq!(d.state(), DiskState::Shut);
}
