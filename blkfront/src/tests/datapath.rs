//! The data path over the simulated blkback: requests of every size and
//! alignment on 512-byte and 4 KiB sector disks, direct and indirect,
//! with and without persistent grants; argument checks; read-only disks;
//! flush, barrier and discard (and EOPNOTSUPP); a full ring; completion in
//! any order; several disks per guest; the blocking helpers; and mixed
//! random traffic under injected faults checked against a model.

use std::vec::Vec;

use xen_platform::services::DomId;

use super::common::*;
use crate::sim::{BlkFaults, BlkbackConfig, SimBlkback, SimBlkfront, XorShift};
use crate::{BlkError, BlkOp, BlkRequest, Config, DiskState};

const GUEST: DomId = DomId(3);

fn cfg_ss(ss: u32) -> BlkbackConfig {
    BlkbackConfig {
        sector_size: ss,
        physical_sector_size: Some(ss),
        discard_granularity: Some(ss),
        ..BlkbackConfig::default()
    }
}

#[test]
fn every_size_round_trips_on_both_sector_sizes() {
    for ss in [512u32, 4096] {
        for cfg in [Config::default(), Config::minimal()] {
            let bed = Bed::new();
            let (mut d, mut bb) = bed.connected(GUEST, 0, cfg_ss(ss), cfg, 1);
            let s = ss as usize;
            let sizes = [
                s,
                2 * s,
                4096,
                4096 + s,
                11 * 4096,
                12 * 4096 - s,
                64 << 10,
                300 << 10,
                1 << 20,
            ];
            let mut offset = s as u64;
            for (i, &len) in sizes.iter().enumerate() {
                let data = pattern(i as u64, len);
                write(&mut d, &mut bb, offset, data.clone()).unwrap();
                assert_eq!(
                    &bb.disk()[offset as usize..offset as usize + len],
                    &data[..]
                );
                assert_eq!(
                    read(&mut d, &mut bb, offset, len).unwrap(),
                    data,
                    "{ss} {len}"
                );
                offset += len as u64 + s as u64;
            }
            let c = d.counters();
            assert_eq!(
                (c.reads, c.writes),
                (sizes.len() as u64, sizes.len() as u64)
            );
            let total: u64 = sizes.iter().map(|&l| l as u64).sum();
            assert_eq!((c.bytes_read, c.bytes_written), (total, total));
            assert_eq!(c.errors, 0);
            if cfg.use_indirect {
                assert!(c.indirect_requests > 0);
                // 1 MiB is 256 pages: one indirect request.
                assert!(bb.stats().indirect > 0);
            } else {
                assert_eq!(c.indirect_requests, 0);
                assert_eq!(bb.stats().indirect, 0);
            }
            if cfg.use_persistent {
                assert!(c.persistent_hits > 0);
                assert!(bb.stats().persistent_hits > 0);
            } else {
                assert_eq!(c.persistent_hits, 0);
                // Per-request grants are all ended: only the ring's remain.
                assert_eq!(
                    d.grants_held(),
                    d.info().unwrap().features.ring_pages as usize
                );
            }
            close_cleanly(&bed, GUEST, &mut d, &mut bb);
        }
    }
}

#[test]
fn bad_arguments_are_refused_before_anything_is_sent() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 0, cfg_ss(4096), Config::default(), 1);
    let cap = d.info().unwrap().capacity_bytes();
    let bad = [
        BlkOp::Read {
            offset: 512,
            len: 4096,
        },
        BlkOp::Read {
            offset: 0,
            len: 512,
        },
        BlkOp::Read { offset: 0, len: 0 },
        BlkOp::Read {
            offset: cap - 4096,
            len: 8192,
        },
        BlkOp::Read {
            offset: u64::MAX - 4095,
            len: 8192,
        },
        BlkOp::Write {
            offset: 0,
            data: std::vec![0; 100],
        },
        BlkOp::Discard {
            offset: 4096,
            len: 1000,
        },
        BlkOp::Discard {
            offset: cap,
            len: 4096,
        },
    ];
    for op in bad {
        let e = d
            .submit(BlkRequest {
                op: op.clone(),
                tag: 1,
            })
            .unwrap_err();
        assert!(matches!(e, BlkError::BadArgument(_)), "{op:?}: {e:?}");
    }
    assert_eq!(d.in_flight(), 0);
    assert_eq!(d.counters().ring_requests, 0);
    // The last sector is fine.
    let data = pattern(3, 4096);
    write(&mut d, &mut bb, cap - 4096, data.clone()).unwrap();
    assert_eq!(read(&mut d, &mut bb, cap - 4096, 4096).unwrap(), data);
    // No barrier offered.
    assert!(matches!(
        d.submit(BlkRequest {
            op: BlkOp::Barrier,
            tag: 1
        }),
        Err(BlkError::NotSupported(_))
    ));
    assert!(matches!(
        d.submit(BlkRequest {
            op: BlkOp::SecureDiscard {
                offset: 0,
                len: 4096
            },
            tag: 1
        }),
        Err(BlkError::NotSupported(_))
    ));
}

#[test]
fn read_only_disks_refuse_writes_and_discards() {
    for (read_only, mode) in [(true, "w"), (false, "r"), (true, "r")] {
        let bed = Bed::new();
        let bb_cfg = BlkbackConfig {
            read_only,
            mode,
            ..BlkbackConfig::default()
        };
        let (mut d, mut bb) = bed.connected(GUEST, 0, bb_cfg, Config::default(), 1);
        assert!(d.info().unwrap().read_only);
        bb.disk_mut()[..4096].copy_from_slice(&pattern(9, 4096));
        for op in [
            BlkOp::Write {
                offset: 0,
                data: std::vec![1; 4096],
            },
            BlkOp::Discard {
                offset: 0,
                len: 4096,
            },
        ] {
            assert_eq!(d.submit(BlkRequest { op, tag: 1 }), Err(BlkError::ReadOnly));
        }
        assert_eq!(d.counters().ring_requests, 0);
        assert_eq!(read(&mut d, &mut bb, 0, 4096).unwrap(), pattern(9, 4096));
        // Flush completes at once: nothing was written.
        run(&mut d, &mut bb, BlkOp::Flush).unwrap();
        assert_eq!(d.counters().ring_requests, 1);
        assert_eq!(bb.stats().flushes, 0);
        close_cleanly(&bed, GUEST, &mut d, &mut bb);
    }
}

#[test]
fn flush_barrier_discard_and_eopnotsupp() {
    let bed = Bed::new();
    let bb_cfg = BlkbackConfig {
        barrier: true,
        discard_secure: true,
        ..BlkbackConfig::default()
    };
    let (mut d, mut bb) = bed.connected(GUEST, 0, bb_cfg, Config::default(), 1);
    let info = d.info().unwrap();
    let disc = info.features.discard.unwrap();
    assert_eq!(
        (disc.granularity, disc.alignment, disc.secure),
        (512, 0, true)
    );
    write(&mut d, &mut bb, 0, std::vec![7; 65536]).unwrap();
    run(&mut d, &mut bb, BlkOp::Flush).unwrap();
    run(&mut d, &mut bb, BlkOp::Barrier).unwrap();
    run(
        &mut d,
        &mut bb,
        BlkOp::Discard {
            offset: 4096,
            len: 8192,
        },
    )
    .unwrap();
    run(
        &mut d,
        &mut bb,
        BlkOp::SecureDiscard {
            offset: 16384,
            len: 512,
        },
    )
    .unwrap();
    let s = bb.stats();
    assert_eq!((s.flushes, s.barriers, s.discards), (1, 1, 2));
    assert!(bb.disk()[4096..12288].iter().all(|&b| b == 0));
    assert!(bb.disk()[..4096].iter().all(|&b| b == 7));
    // The backend changes its mind: EOPNOTSUPP turns each feature off.
    bb.faults.flush_eopnotsupp = true;
    bb.faults.barrier_eopnotsupp = true;
    bb.faults.discard_eopnotsupp = true;
    for op in [
        BlkOp::Flush,
        BlkOp::Barrier,
        BlkOp::Discard {
            offset: 0,
            len: 512,
        },
    ] {
        let e = run(&mut d, &mut bb, op.clone()).unwrap_err();
        assert!(matches!(e, BlkError::NotSupported(_)), "{op:?}: {e:?}");
        assert!(matches!(
            d.submit(BlkRequest { op, tag: 0 }),
            Err(BlkError::NotSupported(_))
        ));
    }
    let f = d.info().unwrap().features;
    assert!(!f.flush && !f.barrier && f.discard.is_none());
    let c = d.counters();
    assert_eq!(
        (c.not_supported, c.flushes, c.barriers, c.discards),
        (3, 2, 2, 3)
    );
    // The disk carries on.
    assert_eq!(d.state(), DiskState::Connected);
    assert_eq!(read(&mut d, &mut bb, 0, 512).unwrap(), std::vec![7; 512]);
    // Features the backend never offered.
    let bed = Bed::new();
    let bb_cfg = BlkbackConfig {
        flush: false,
        discard: false,
        ..BlkbackConfig::default()
    };
    let (mut d, _bb) = bed.connected(GUEST, 0, bb_cfg, Config::default(), 1);
    for op in [
        BlkOp::Flush,
        BlkOp::Barrier,
        BlkOp::Discard {
            offset: 0,
            len: 512,
        },
    ] {
        assert!(matches!(
            d.submit(BlkRequest { op, tag: 0 }),
            Err(BlkError::NotSupported(_))
        ));
    }
}

#[test]
fn a_full_ring_queues_and_large_requests_split() {
    let bed = Bed::new();
    let cfg = Config {
        max_ring_page_order: 0,
        use_indirect: false,
        ..Config::default()
    };
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), cfg, 1);
    assert_eq!(d.info().unwrap().features.ring_size, 32);
    // 1 MiB without indirect: 24 ring requests of up to 11 pages; ten of
    // them plus 40 small writes overflow the 32 slots.
    let mut expect = std::vec![0u8; 4 << 20];
    for i in 0..10u64 {
        let data = pattern(i, 256 << 10);
        let off = i * (256 << 10);
        expect[off as usize..off as usize + data.len()].copy_from_slice(&data);
        d.submit(BlkRequest {
            op: BlkOp::Write { offset: off, data },
            tag: i,
        })
        .unwrap();
    }
    for i in 0..40u64 {
        let off = (3 << 20) + i * 4096;
        let data = pattern(100 + i, 4096);
        expect[off as usize..off as usize + 4096].copy_from_slice(&data);
        d.submit(BlkRequest {
            op: BlkOp::Write { offset: off, data },
            tag: 100 + i,
        })
        .unwrap();
    }
    assert_eq!(d.ring_in_flight(), 32);
    assert!(d.counters().queue_full > 0);
    bb.faults.budget = 5;
    let done = drain(&mut d, &mut bb);
    assert_eq!(done.len(), 50);
    assert!(done.iter().all(|c| c.result.is_ok()));
    let mut tags: Vec<u64> = done.iter().map(|c| c.tag).collect();
    tags.sort();
    assert_eq!(tags, (0..10).chain(100..140).collect::<Vec<_>>());
    assert_eq!(bb.disk(), &expect[..]);
    // 10 * ceil(64 / 11) + 40 ring requests.
    assert_eq!(d.counters().ring_requests, 10 * 6 + 40);
}

#[test]
fn completions_in_any_order_and_deferred() {
    let bed = Bed::new();
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
    bb.faults.reorder = true;
    bb.faults.defer_pct = 40;
    for i in 0..64u64 {
        let data = pattern(i, 8192);
        d.submit(BlkRequest {
            op: BlkOp::Write {
                offset: i * 8192,
                data,
            },
            tag: i,
        })
        .unwrap();
    }
    let done = drain(&mut d, &mut bb);
    let order: Vec<u64> = done.iter().map(|c| c.tag).collect();
    assert_ne!(order, (0..64).collect::<Vec<_>>(), "answers came in order");
    for i in 0..64u64 {
        d.submit(BlkRequest {
            op: BlkOp::Read {
                offset: i * 8192,
                len: 8192,
            },
            tag: i,
        })
        .unwrap();
    }
    for c in drain(&mut d, &mut bb) {
        assert_eq!(c.data.unwrap(), pattern(c.tag, 8192));
    }
}

#[test]
fn several_disks_per_guest() {
    let bed = Bed::new();
    let mut disks: Vec<(SimBlkfront, SimBlkback)> = [51712u32, 51728, 51744]
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let bb_cfg = cfg_ss(if i == 1 { 4096 } else { 512 });
            bed.connected(GUEST, id, bb_cfg, Config::default(), i as u64)
        })
        .collect();
    let vbds = crate::vbds(&bed.store.connect(GUEST)).unwrap();
    assert_eq!(vbds.len(), 3);
    for (i, (d, bb)) in disks.iter_mut().enumerate() {
        write(d, bb, 0, pattern(i as u64, 65536)).unwrap();
    }
    for (i, (d, bb)) in disks.iter_mut().enumerate() {
        assert_eq!(read(d, bb, 0, 65536).unwrap(), pattern(i as u64, 65536));
        assert_eq!(d.counters().writes, 1);
    }
    for (d, bb) in disks.iter_mut() {
        d.shutdown();
        settle(d, bb, |d, _| d.is_closed());
    }
    assert_eq!(bed.held(GUEST), (0, 0, 0));
}

#[test]
fn blocking_helpers_wait_and_never_hang() {
    let bed = Bed::new();
    let (d, bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::default(), 1);
    // The backend lives in the wait closure, as a guest's would in dom0.
    let bb = std::cell::RefCell::new(bb);
    let mut d = d;
    let mut waits = 0;
    let wait = |_: &mut SimBlkfront| bb.borrow_mut().step();
    d.write_blocking(8192, &pattern(1, 20000 / 512 * 512), wait)
        .unwrap();
    let mut buf = std::vec![0u8; 20000 / 512 * 512];
    d.read_blocking(8192, &mut buf, |_| {
        waits += 1;
        bb.borrow_mut().step()
    })
    .unwrap();
    assert!(waits > 0);
    assert_eq!(buf, pattern(1, buf.len()));
    d.flush_blocking(|_| bb.borrow_mut().step()).unwrap();
    d.discard_blocking(0, 4096, |_| bb.borrow_mut().step())
        .unwrap();
    // Errors come back, not hangs.
    assert_eq!(
        d.read_blocking(1, &mut buf, |_| {}),
        Err(BlkError::BadArgument(
            "offset is not a multiple of the sector size"
        ))
    );
    bb.borrow_mut().faults.error_pct = 100;
    assert_eq!(
        d.read_blocking(0, &mut buf, |_| bb.borrow_mut().step()),
        Err(BlkError::Io)
    );
    // The backend goes away while we wait: the request fails.
    bb.borrow_mut().faults.error_pct = 0;
    let r = d.read_blocking(0, &mut buf, |_| bb.borrow_mut().close());
    assert_eq!(r, Err(BlkError::Detached));
    assert_eq!(d.state(), DiskState::Detached);
    assert!(matches!(
        d.read_blocking(0, &mut buf, |_| {}),
        Err(BlkError::NotConnected)
    ));
}

/// What the model knows about each 512-byte sector.
#[derive(Clone, Copy, PartialEq)]
enum Known {
    Data(u64),
    Unknown,
}

/// Random mixed reads, writes, flushes and discards of 512 B .. 1 MiB,
/// in batches of non-overlapping requests, under injected I/O errors,
/// reordering and deferral, checked against a model of the disk.
#[test]
fn random_traffic_under_faults_matches_the_model() {
    let mut total_ops = 0;
    for (seed, ss, cfg) in [
        (1u64, 512u32, Config::default()),
        (2, 4096, Config::default()),
        (3, 512, Config::minimal()),
        (
            4,
            4096,
            Config {
                use_persistent: false,
                ..Config::default()
            },
        ),
    ] {
        let bed = Bed::new();
        let bb_cfg = BlkbackConfig {
            disk_bytes: 8 << 20,
            ..cfg_ss(ss)
        };
        let (mut d, mut bb) = bed.connected(GUEST, 0, bb_cfg, cfg, seed);
        bb.faults = BlkFaults {
            error_pct: 5,
            reorder: true,
            defer_pct: 20,
            budget: 7,
            ..BlkFaults::default()
        };
        let mut rng = XorShift::new(seed);
        let sectors = (8 << 20) / 512;
        // Sector i holds bytes pattern(version, 512) where version is the
        // model's value; the disk starts zeroed (version 0 = zeros).
        let mut model = std::vec![Known::Data(0); sectors];
        let content = |v: u64| {
            if v == 0 {
                std::vec![0u8; 512]
            } else {
                pattern(v, 512)
            }
        };
        let mut version = 1u64;
        let (mut ok, mut failed) = (0, 0);
        for _batch in 0..40 {
            let mut taken: Vec<(u64, u64)> = Vec::new();
            let mut pending: Vec<(u64, BlkOp, u64)> = Vec::new();
            for _ in 0..rng.range(1, 8) {
                let unit = u64::from(ss);
                let max_units = (1 << 20) / unit;
                let n = if rng.chance(30) {
                    rng.range(1, max_units)
                } else {
                    rng.range(1, 16)
                };
                let off = rng.below((8 << 20) / unit - n) * unit;
                let len = n * unit;
                if taken.iter().any(|&(a, b)| off < b && a < off + len) {
                    continue;
                }
                taken.push((off, off + len));
                let tag = pending.len() as u64;
                let op = match rng.below(10) {
                    0..=3 => BlkOp::Read {
                        offset: off,
                        len: len as usize,
                    },
                    4..=7 => {
                        let mut data = Vec::with_capacity(len as usize);
                        for s in 0..len / 512 {
                            data.extend(content(version + s));
                        }
                        let op = BlkOp::Write { offset: off, data };
                        pending.push((tag, op.clone(), version));
                        version += len / 512;
                        d.submit(BlkRequest { op, tag }).unwrap();
                        continue;
                    }
                    8 => BlkOp::Discard { offset: off, len },
                    _ => BlkOp::Flush,
                };
                pending.push((tag, op.clone(), 0));
                d.submit(BlkRequest { op, tag }).unwrap();
            }
            for c in drain(&mut d, &mut bb) {
                let (_, op, v) = &pending[c.tag as usize];
                total_ops += 1;
                if c.result.is_ok() {
                    ok += 1;
                } else {
                    failed += 1;
                    assert_eq!(c.result, Err(BlkError::Io));
                }
                match op {
                    BlkOp::Read { offset, len } => {
                        let Some(data) = &c.data else {
                            assert!(c.result.is_err());
                            continue;
                        };
                        for s in 0..len / 512 {
                            let sec = (*offset / 512) as usize + s;
                            if let Known::Data(v) = model[sec] {
                                assert_eq!(
                                    &data[s * 512..s * 512 + 512],
                                    &content(v)[..],
                                    "sector {sec}"
                                );
                            }
                        }
                    }
                    BlkOp::Write { offset, data } => {
                        for s in 0..data.len() / 512 {
                            let sec = (*offset / 512) as usize + s;
                            model[sec] = if c.result.is_ok() {
                                Known::Data(v + s as u64)
                            } else {
                                Known::Unknown
                            };
                        }
                    }
                    BlkOp::Discard { offset, len } => {
                        for s in 0..*len / 512 {
                            // Discarded contents are unspecified.
                            model[(*offset / 512 + s) as usize] = Known::Unknown;
                        }
                    }
                    _ => {}
                }
            }
            assert_eq!(d.state(), DiskState::Connected);
        }
        // The backend's disk agrees with every sector the model knows.
        for (sec, k) in model.iter().enumerate() {
            if let Known::Data(v) = *k {
                assert_eq!(
                    &bb.disk()[sec * 512..sec * 512 + 512],
                    &content(v)[..],
                    "sector {sec}"
                );
            }
        }
        assert!(ok > 50 && failed > 0, "ok {ok} failed {failed}");
        let c = d.counters();
        assert_eq!(c.errors, failed);
        assert_eq!(c.completed_ok, ok);
        assert!(c.io_errors > 0);
        close_cleanly(&bed, GUEST, &mut d, &mut bb);
    }
    std::eprintln!("random traffic: {total_ops} requests checked");
}

/// A backend that never unmaps: the disk fails or closes, but pages stay
/// allocated (in quarantine) until the backend lets go, and dropping
/// leaks them rather than freeing memory the backend could write.
#[test]
fn pages_held_by_the_backend_are_never_freed() {
    let bed = Bed::new();
    let cfg = Config {
        use_persistent: false,
        ..Config::default()
    };
    let (mut d, mut bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), cfg, 1);
    bed.hv.grants.set_holding(DOM0, true);
    for i in 0..4u64 {
        d.submit(BlkRequest {
            op: BlkOp::Write {
                offset: i * 65536,
                data: pattern(i, 65536),
            },
            tag: i,
        })
        .unwrap();
    }
    drain(&mut d, &mut bb);
    // The grants of finished requests wait for the backend.
    assert!(d.grants_held() > 16);
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    d.shutdown();
    for _ in 0..10 {
        bb.step();
        let _ = d.poll_xenbus();
    }
    assert!(!d.is_closed());
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    bb.kill();
    bed.hv.grants.set_holding(DOM0, false);
    d.poll_xenbus().unwrap();
    assert_eq!(d.grants_held(), 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    // Drop with the backend holding the ring: leaked, not freed.
    let bed = Bed::new();
    let (d, _bb) = bed.connected(GUEST, 0, BlkbackConfig::default(), Config::minimal(), 1);
    bed.hv.grants.set_holding(DOM0, true);
    drop(d);
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    assert_eq!(bed.held(GUEST).0, 1);
}

/// Memory in flight and persistent grants stay within the config, and a
/// backend that keeps fewer grants mapped than the frontend uses still
/// works (it maps the rest per request, writable).
#[test]
fn pages_in_flight_and_persistent_grants_are_bounded() {
    let bed = Bed::new();
    let cfg = Config {
        max_persistent_grants: 40,
        max_pages_in_flight: 100,
        ..Config::default()
    };
    let bb_cfg = BlkbackConfig {
        max_persistent_grants: 16,
        ..BlkbackConfig::default()
    };
    let (mut d, mut bb) = bed.connected(GUEST, 0, bb_cfg, cfg, 1);
    for i in 0..4u64 {
        let op = BlkOp::Write {
            offset: i << 20,
            data: pattern(i, 1 << 20),
        };
        d.submit(BlkRequest { op, tag: i }).unwrap();
        assert!(d.pages_in_flight() <= 100);
    }
    assert!(d.pages_in_flight() > 0);
    let mut most = 0;
    for _ in 0..1000 {
        let mut done = 0;
        d.poll(|c| {
            assert!(c.result.is_ok());
            done += 1
        })
        .unwrap();
        most = most.max(d.pages_in_flight());
        assert!(d.pages_in_flight() <= 100);
        if d.in_flight() == 0 {
            break;
        }
        bb.step();
    }
    assert_eq!(d.in_flight(), 0);
    assert!(most > 11);
    for i in 0..4u64 {
        assert_eq!(
            read(&mut d, &mut bb, i << 20, 1 << 20).unwrap(),
            pattern(i, 1 << 20)
        );
    }
    // The ring and at most 40 persistent grants stay, plus per-request
    // grants the backend happened to keep mapped (waiting in quarantine
    // until it lets go).
    assert!(d.grants_held() <= 16 + 40 + 16, "{}", d.grants_held());
    assert_eq!(bb.persistent_grants(), 16);
    assert!(d.counters().persistent_hits > 0);
    close_cleanly(&bed, GUEST, &mut d, &mut bb);
}
