//! A backend that breaks the protocol: every kind of bad response or bad
//! xenstore value fails the disk with the reason, every pending request
//! completes with an error, every grant comes back, no page is freed
//! while the backend can still reach it, and the disk can be restarted.

use std::vec::Vec;

use xen_platform::services::DomId;

use super::common::*;
use crate::sim::{BlkbackConfig, Malice, SimBlkback, SimBlkfront};
use crate::{BlkError, BlkOp, BlkRequest, Completion, Config, DiskState};

const GUEST: DomId = DomId(6);

/// What the reason must mention.
fn expect(m: Malice) -> &'static str {
    match m {
        Malice::UnknownId => "not in flight",
        Malice::DuplicateId => "answered twice",
        Malice::StaleId => "response id",
        Malice::WrongOperation => "operation does not match",
        Malice::BadStatus => "status unknown",
        Malice::RspProdTooFar => "rsp_prod runs ahead",
        Malice::Random(_) => "",
        Malice::BadSectors => "sectors is not a number",
        Malice::BadSectorSize => "sector-size is not a power of two",
        Malice::BadInfo => "info is not a number",
        Malice::BadRingOrder => "max-ring-page-order is not a number",
        Malice::BadIndirectSegments => "feature-max-indirect-segments is not a number",
    }
}

/// Runs traffic until the disk fails (re-injecting malice that found no
/// chance or was harmless); returns the reason and every completion.
fn until_failed(
    d: &mut SimBlkfront,
    bb: &mut SimBlkback,
    m: Malice,
) -> (&'static str, Vec<Completion>) {
    let mut done = Vec::new();
    let mut tag = 0u64;
    for _ in 0..300 {
        if d.state() == DiskState::Failed {
            break;
        }
        if !bb.malice_pending() {
            bb.inject(m);
        }
        // Several requests per batch, so there is something to bend and
        // something left pending.
        for _ in 0..3 {
            let op = if tag % 2 == 0 {
                BlkOp::Write {
                    offset: (tag % 64) * 4096,
                    data: pattern(tag, 4096),
                }
            } else {
                BlkOp::Read {
                    offset: (tag % 64) * 4096,
                    len: 8192,
                }
            };
            let _ = d.submit(BlkRequest { op, tag });
            tag += 1;
        }
        bb.step();
        let _ = d.poll(|c| done.push(c));
        let _ = d.poll_xenbus();
    }
    assert_eq!(d.state(), DiskState::Failed, "{m:?} never failed the disk");
    let _ = d.poll(|c| done.push(c));
    match d.last_error() {
        Some(BlkError::PeerMisbehaved(why)) => (why, done),
        other => panic!("{m:?}: {other:?}"),
    }
}

#[test]
fn every_ring_malice_fails_the_disk_and_frees_everything() {
    for (k, m) in Malice::RING.into_iter().enumerate() {
        for cfg in [Config::default(), Config::minimal()] {
            let bed = Bed::new();
            let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), cfg, k as u64);
            let submitted_before = d.counters();
            let (why, done) = until_failed(&mut d, &mut bb, m);
            assert!(why.contains(expect(m)), "{m:?}: {why}");
            let c = d.counters();
            assert_eq!((c.violations, c.disconnects), (1, 1), "{m:?}");
            // Every request submitted completed, the pending ones with the
            // violation.
            assert_eq!(d.in_flight(), 0, "{m:?}");
            let submitted = c.reads + c.writes - submitted_before.reads - submitted_before.writes;
            assert_eq!(done.len() as u64, submitted, "{m:?}");
            assert!(
                done.iter()
                    .any(|c| c.result == Err(BlkError::PeerMisbehaved(why))),
                "{m:?}: no pending request failed"
            );
            assert_eq!(c.errors + c.completed_ok, submitted);
            // Requests are refused with the reason.
            assert_eq!(
                d.submit(BlkRequest {
                    op: BlkOp::Read {
                        offset: 0,
                        len: 512
                    },
                    tag: 0
                }),
                Err(BlkError::Disconnected(why))
            );
            // The frontend went Closing; the backend unmaps and closes;
            // every grant ends.
            settle(&mut d, &mut bb, |d, _| d.grants_held() == 0);
            assert_eq!(bed.held(GUEST), (0, 0, 0), "{m:?}");
            assert_eq!(bed.hv.memory.freed_while_granted(), 0, "{m:?}");
            // Restarted, it connects again and carries data.
            d.restart();
            settle(&mut d, &mut bb, |d, b| {
                d.state() == DiskState::Connected && b.is_connected()
            });
            write(&mut d, &mut bb, 0, pattern(7, 4096)).unwrap();
            assert_eq!(read(&mut d, &mut bb, 0, 4096).unwrap(), pattern(7, 4096));
            assert_eq!(d.counters().connects, 2);
            assert!(d.last_error().is_none());
            close_cleanly(&bed, GUEST, &mut d, &mut bb);
        }
    }
}

#[test]
fn bad_xenstore_values_fail_the_handshake() {
    for m in Malice::KEYS {
        let bed = Bed::new();
        let (mut d, mut bb) = bed.vbd(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
        bb.inject(m);
        bb.attach(); // the probe again: keys of InitWait
        settle(&mut d, &mut bb, |d, _| d.state() == DiskState::Failed);
        match d.last_error() {
            Some(BlkError::PeerMisbehaved(why)) => assert!(why.contains(expect(m)), "{m:?}: {why}"),
            other => panic!("{m:?}: {other:?}"),
        }
        assert_eq!(d.counters().violations, 1);
        settle(&mut d, &mut bb, |d, _| d.grants_held() == 0);
        assert_eq!(bed.held(GUEST), (0, 0, 0), "{m:?}");
        // The backend fixes its keys: a restart connects.
        d.restart();
        settle(&mut d, &mut bb, |d, _| d.state() == DiskState::Connected);
        assert_eq!(d.info().unwrap().sector_size, 512);
    }
}

#[test]
fn unusable_disk_properties() {
    let cases: [(BlkbackConfig, &str); 4] = [
        (
            BlkbackConfig {
                sector_size: 8192,
                physical_sector_size: None,
                disk_bytes: 1 << 20,
                ..BlkbackConfig::default()
            },
            "larger than a page",
        ),
        (
            BlkbackConfig {
                sector_size: 256,
                ..BlkbackConfig::default()
            },
            "power of two of at least 512",
        ),
        (
            BlkbackConfig {
                sector_size: 4096,
                physical_sector_size: Some(512),
                ..BlkbackConfig::default()
            },
            "physical-sector-size",
        ),
        (
            BlkbackConfig {
                mode: "x",
                ..BlkbackConfig::default()
            },
            "mode",
        ),
    ];
    for (bb_cfg, want) in cases {
        let bed = Bed::new();
        let (mut d, mut bb) = bed.vbd(GUEST, 0, bb_cfg, Config::default(), 1);
        settle(&mut d, &mut bb, |d, _| d.state() == DiskState::Failed);
        let e = d.last_error().unwrap();
        assert!(e.reason().contains(want), "{e:?}");
        settle(&mut d, &mut bb, |d, _| d.grants_held() == 0);
        assert_eq!(bed.held(GUEST), (0, 0, 0));
    }
}

/// An indirect request answered with `BLKIF_OP_INDIRECT` (not the
/// `indirect_op`) is accepted too.
#[test]
fn indirect_answers_with_either_operation() {
    let bed = Bed::new();
    let bb_cfg = BlkbackConfig {
        answer_indirect_as_indirect: true,
        ..BlkbackConfig::default()
    };
    let (mut d, mut bb) = bed.connected(GUEST, 0, bb_cfg, Config::default(), 1);
    write(&mut d, &mut bb, 0, pattern(1, 1 << 20)).unwrap();
    assert_eq!(
        read(&mut d, &mut bb, 0, 1 << 20).unwrap(),
        pattern(1, 1 << 20)
    );
    assert!(d.counters().indirect_requests >= 2);
    assert_eq!(d.state(), DiskState::Connected);
}
