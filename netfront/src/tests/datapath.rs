//! The data path over the simulated netback: frames of every size, the
//! checksum and GSO flags both ways, a full tx ring, the notification
//! hold-off, two guests over a wire, several vifs per guest, and traffic
//! under every injected fault.

use std::collections::BTreeMap;
use std::vec::Vec;
use std::{format, thread};

use xen_platform::services::DomId;

use super::common::*;
use crate::sim::{
    BackendFaults, NetbackConfig, SimNetback, SimNetfront, Wire, WireFaults, XorShift,
};
use crate::{Config, Gso, GsoKind, LinkState, NetError, RxChecksum, TxChecksum, TxOffload};

const GUEST: DomId = DomId(3);

fn plain() -> TxOffload {
    TxOffload::default()
}

/// Pumps loopback until `want` frames came back or 200 rounds passed.
fn collect(vif: &mut SimNetfront, nb: &mut SimNetback, wire: &mut Wire, want: usize) -> Received {
    let mut rx = Vec::new();
    for _ in 0..200 {
        loop_round(vif, nb, wire, &mut rx).unwrap();
        if rx.len() >= want && vif.tx_in_flight() == 0 && nb.pending_to_guest() == 0 {
            break;
        }
    }
    rx
}

#[test]
fn loopback_frames_of_every_size() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    let mut wire = Wire::new(1, WireFaults::default());
    let sizes = [
        26, 60, 61, 1514, 4095, 4096, 4097, 8191, 8192, 8193, 9014, 20000, 40000, 65534, 65535,
    ];
    let mut bytes = 0;
    for (i, &len) in sizes.iter().enumerate() {
        let f = frame(i as u32, len, IPV4);
        // Split at awkward places to exercise the gather.
        let (a, rest) = f.split_at(len / 3);
        let (b, c) = rest.split_at(rest.len() / 2);
        vif.send(&[a, &[], b, c], plain()).unwrap();
        bytes += len as u64;
    }
    let rx = collect(&mut vif, &mut nb, &mut wire, sizes.len());
    let seqs: Vec<u32> = rx.iter().map(|(f, _)| check(f).unwrap()).collect();
    assert_eq!(seqs, (0..sizes.len() as u32).collect::<Vec<_>>());
    for ((f, meta), &len) in rx.iter().zip(&sizes) {
        assert_eq!(f.len(), len);
        assert_eq!(meta.len, len);
        assert_eq!(meta.csum, RxChecksum::None);
        assert_eq!(meta.gso, None);
    }
    let c = vif.counters();
    assert_eq!(c.tx_packets, sizes.len() as u64);
    assert_eq!(c.tx_bytes, bytes);
    assert_eq!(c.rx_packets, sizes.len() as u64);
    assert_eq!(c.rx_bytes, bytes);
    assert_eq!(
        (c.tx_errors, c.tx_dropped, c.rx_errors, c.rx_dropped),
        (0, 0, 0, 0)
    );
    // The rx ring is kept full of buffers.
    assert_eq!(nb.rx_buffers_posted(), 256);
    // Frames the backend cannot take are refused before anything is sent.
    assert!(matches!(
        vif.send(&[], plain()),
        Err(NetError::InvalidFrame(_))
    ));
    assert!(matches!(
        vif.send(&[&[0u8; 60], &[]], plain())
            .and(vif.send(&[&[]], plain())),
        Err(NetError::InvalidFrame(_))
    ));
    let huge = std::vec![0u8; 65536];
    assert!(matches!(
        vif.send(&[&huge], plain()),
        Err(NetError::InvalidFrame(_))
    ));
    vif.shutdown();
    settle(&mut vif, &mut nb, |v, _| v.is_closed());
    assert_eq!(bed.held(GUEST), (0, 0, 0));
}

#[test]
fn checksum_and_gso_flags_both_ways() {
    for rx_csum in [true, false] {
        let bed = Bed::new();
        let cfg = Config {
            rx_csum_offload: rx_csum,
            ..Config::default()
        };
        let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), cfg, 1);
        let mut wire = Wire::new(1, WireFaults::default());
        let v4 = Gso {
            kind: GsoKind::TcpV4,
            mss: 1448,
        };
        let v6 = Gso {
            kind: GsoKind::TcpV6,
            mss: 1428,
        };
        let sends = [
            (frame(0, 100, IPV4), TxChecksum::None, None),
            (frame(1, 100, IPV4), TxChecksum::Validated, None),
            (frame(2, 100, IPV4), TxChecksum::Partial, None),
            (frame(3, 100, IPV6), TxChecksum::Partial, None),
            (frame(4, 30000, IPV4), TxChecksum::Partial, Some(v4)),
            (frame(5, 65535, IPV6), TxChecksum::None, Some(v6)),
        ];
        for (f, csum, gso) in &sends {
            vif.send(
                &[f],
                TxOffload {
                    csum: *csum,
                    gso: *gso,
                },
            )
            .unwrap();
        }
        let rx = collect(&mut vif, &mut nb, &mut wire, sends.len());
        assert_eq!(rx.len(), sends.len());
        let blank = if rx_csum {
            RxChecksum::Blank
        } else {
            RxChecksum::Validated
        };
        let want = [
            RxChecksum::None,
            RxChecksum::Validated,
            blank,
            blank,
            blank,
            blank, // GSO implies a partial checksum
        ];
        for (i, (f, meta)) in rx.iter().enumerate() {
            assert_eq!(check(f), Some(i as u32));
            assert_eq!(meta.csum, want[i], "frame {i}");
            assert_eq!(meta.gso, sends[i].2, "frame {i}");
        }
        vif.shutdown();
        settle(&mut vif, &mut nb, |v, _| v.is_closed());
    }
}

#[test]
fn offloads_the_backend_lacks_are_refused() {
    let bed = Bed::new();
    let nb_cfg = NetbackConfig {
        sg: false,
        gso_tcpv4: false,
        gso_tcpv6: false,
        ipv6_csum_offload: false,
        ..NetbackConfig::default()
    };
    let (mut vif, mut nb) = bed.connected(GUEST, 0, nb_cfg, Config::default(), 1);
    let partial = TxOffload {
        csum: TxChecksum::Partial,
        gso: None,
    };
    let refused = [
        (frame(0, 5000, IPV4), plain()),
        (frame(1, 100, IPV6), partial),
        (
            frame(2, 100, IPV4),
            TxOffload {
                csum: TxChecksum::Partial,
                gso: Some(Gso {
                    kind: GsoKind::TcpV4,
                    mss: 1000,
                }),
            },
        ),
    ];
    for (f, off) in &refused {
        assert!(matches!(
            vif.send(&[f], *off),
            Err(NetError::InvalidFrame(_))
        ));
    }
    // IPv4 blank checksums are always taken; 4096 bytes still fit a slot.
    vif.send(&[&frame(3, 100, IPV4)], partial).unwrap();
    vif.send(&[&frame(4, 4096, IPV4)], plain()).unwrap();
    let mut wire = Wire::new(1, WireFaults::default());
    let rx = collect(&mut vif, &mut nb, &mut wire, 2);
    assert_eq!(rx.len(), 2);
    assert_eq!(vif.state(), LinkState::Connected);
    assert_eq!(vif.grants_held(), 2 + 256);
}

#[test]
fn full_tx_ring_is_busy_then_recovers() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    let mut sent = 0u32;
    // The backend does not run: 2-slot frames fill the 256 slots.
    loop {
        match vif.send(&[&frame(sent, 5000, IPV4)], plain()) {
            Ok(()) => sent += 1,
            Err(NetError::Busy(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(sent, 128);
    assert_eq!(vif.tx_in_flight(), 128);
    let mut wire = Wire::new(1, WireFaults::default());
    let mut rx = collect(&mut vif, &mut nb, &mut wire, 128);
    for _ in 0..10 {
        vif.send(&[&frame(sent, 100, IPV4)], plain()).unwrap();
        sent += 1;
    }
    rx.extend(collect(&mut vif, &mut nb, &mut wire, 10));
    assert_eq!(rx.len(), 138);
    assert!(rx
        .iter()
        .enumerate()
        .all(|(i, (f, _))| check(f) == Some(i as u32)));
    assert_eq!(vif.counters().tx_packets, 138);
}

#[test]
fn notifications_are_held_off() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    let before = vif.counters().notifications;
    // The backend is idle (it re-armed req_event): the first request
    // notifies, the following ones do not until it runs again.
    for i in 0..50 {
        vif.send(&[&frame(i, 100, IPV4)], plain()).unwrap();
    }
    assert_eq!(vif.counters().notifications - before, 1);
    // The backend takes all 50 and re-arms; the guest had asked to hear
    // about responses, so the batch costs one notification.
    let nb_before = nb.stats().notifications;
    nb.step();
    assert_eq!(nb.stats().notifications - nb_before, 1);
    vif.send(&[&frame(50, 100, IPV4)], plain()).unwrap();
    assert_eq!(vif.counters().notifications - before, 2);
    // The guest has not looked at the responses (nor re-armed): the next
    // batch is not notified.
    let nb_before = nb.stats().notifications;
    nb.step();
    assert_eq!(nb.stats().notifications - nb_before, 0);
    vif.poll(|_| {}).unwrap();
    assert_eq!(vif.counters().tx_packets, 51);
    vif.send(&[&frame(51, 100, IPV4)], plain()).unwrap();
    nb.step();
    assert_eq!(nb.stats().notifications - nb_before, 1);
    vif.poll(|_| {}).unwrap();
    // Rx: 30 frames in one step, one notification to the guest.
    for i in 0..30 {
        nb.deliver(crate::sim::SimFrame::new(frame(100 + i, 200, IPV4)));
    }
    let nb_before = nb.stats().notifications;
    nb.step();
    assert_eq!(nb.stats().notifications - nb_before, 1);
    let mut n = 0;
    vif.poll(|_| n += 1).unwrap();
    assert_eq!(n, 30);
    // The guest refilled 30 buffers; the backend is idle on rx, so one
    // notification tells it.
    assert!(vif.counters().notifications - before <= 3);
}

#[test]
fn two_guests_over_a_wire() {
    let bed = Bed::new();
    let (a_dom, b_dom) = (DomId(1), DomId(2));
    let (mut a, mut na) = bed.connected(a_dom, 0, NetbackConfig::default(), Config::default(), 1);
    let (mut b, mut nbk) = bed.connected(b_dom, 0, NetbackConfig::default(), Config::default(), 2);
    let mut wire = Wire::new(9, WireFaults::default());
    let mut rng = XorShift::new(5);
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let n = 500u32;
    for i in 0..n {
        let len_a = rng.range_usize(26, 9000);
        let len_b = rng.range_usize(26, 1514);
        a.send(&[&frame(i, len_a, IPV4)], plain()).unwrap();
        b.send(&[&frame(n + i, len_b, IPV4)], plain()).unwrap();
        if i % 7 == 0 {
            for _ in 0..2 {
                na.step();
                nbk.step();
                wire.carry(&mut na, &mut nbk);
                na.step();
                nbk.step();
                a.poll(|f| got_a.push(check(f.data).unwrap())).unwrap();
                b.poll(|f| got_b.push(check(f.data).unwrap())).unwrap();
            }
        }
    }
    for _ in 0..20 {
        na.step();
        nbk.step();
        wire.carry(&mut na, &mut nbk);
        na.step();
        nbk.step();
        a.poll(|f| got_a.push(check(f.data).unwrap())).unwrap();
        b.poll(|f| got_b.push(check(f.data).unwrap())).unwrap();
    }
    assert_eq!(got_b, (0..n).collect::<Vec<_>>());
    assert_eq!(got_a, (n..2 * n).collect::<Vec<_>>());
    assert_eq!(a.counters().rx_packets, u64::from(n));
    assert_eq!(b.counters().tx_packets, u64::from(n));
}

#[test]
fn several_vifs_per_guest() {
    let bed = Bed::new();
    let mut vifs: Vec<(SimNetfront, SimNetback)> = (0..3)
        .map(|id| {
            bed.connected(
                GUEST,
                id,
                NetbackConfig::default(),
                Config::default(),
                7 + u64::from(id),
            )
        })
        .collect();
    let mut wire = Wire::new(3, WireFaults::default());
    for (k, (vif, nb)) in vifs.iter_mut().enumerate() {
        for i in 0..=(k as u32 * 10) {
            vif.send(&[&frame(i, 300 + k * 1000, IPV4)], plain())
                .unwrap();
        }
        let rx = collect(vif, nb, &mut wire, k * 10 + 1);
        assert_eq!(rx.len(), k * 10 + 1);
        assert!(rx.iter().all(|(f, _)| f.len() == 300 + k * 1000));
    }
    // Breaking one leaves the others alone.
    vifs[1].1.inject(crate::sim::Malice::RxWrongId);
    let (v1, n1) = &mut vifs[1];
    settle(v1, n1, |v, _| v.state() == LinkState::Failed);
    settle(v1, n1, |v, _| v.grants_held() == 0);
    for k in [0, 2] {
        let (vif, nb) = &mut vifs[k];
        assert_eq!(vif.state(), LinkState::Connected);
        vif.send(&[&frame(99, 60, IPV4)], plain()).unwrap();
        assert_eq!(collect(vif, nb, &mut wire, 1).len(), 1);
        assert_eq!(vif.counters().violations, 0);
    }
    for (vif, nb) in vifs.iter_mut() {
        vif.shutdown();
        settle(vif, nb, |v, _| v.is_closed() || v.grants_held() == 0);
    }
    drop(vifs);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
}

/// Traffic under one kind of fault: everything that arrives intact was
/// sent, nothing is lost that the faults did not lose, the counters add
/// up, and the vif stays connected and leak-free.
fn run_with_faults(seed: u64, wf: WireFaults, bf: BackendFaults, name: &str) {
    let bed = Bed::new();
    let (mut vif, mut nb) =
        bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), seed);
    nb.faults = bf;
    let mut wire = Wire::new(seed, wf);
    let mut rng = XorShift::new(seed ^ 0xabcd);
    let mut rx = Vec::new();
    let n = 400u32;
    let mut sent = 0u32;
    let mut busy = 0;
    while sent < n {
        let len = match rng.below(4) {
            0 => rng.range_usize(26, 128),
            1 => rng.range_usize(128, 1514),
            2 => rng.range_usize(1514, 9000),
            _ => rng.range_usize(9000, 65535),
        };
        let f = frame(sent, len, IPV4);
        let cut = rng.range_usize(0, len);
        match vif.send(&[&f[..cut], &f[cut..]], plain()) {
            Ok(()) => sent += 1,
            Err(NetError::Busy(_)) => busy += 1,
            Err(e) => panic!("{name}: {e}"),
        }
        if rng.chance(30) {
            loop_round(&mut vif, &mut nb, &mut wire, &mut rx).unwrap();
        }
    }
    for _ in 0..300 {
        loop_round(&mut vif, &mut nb, &mut wire, &mut rx).unwrap();
    }
    assert_eq!(vif.state(), LinkState::Connected, "{name}");
    assert_eq!(vif.tx_in_flight(), 0, "{name}");
    assert_eq!(nb.pending_to_guest(), 0, "{name}");
    let c = vif.counters();
    assert_eq!(c.violations, 0, "{name}");
    assert_eq!(
        c.tx_packets + c.tx_errors + c.tx_dropped,
        u64::from(n),
        "{name}: every frame answered once"
    );
    let ws = wire.stats();
    assert_eq!(ws.offered, c.tx_packets, "{name}");
    // What the guest got: intact frames it sent, plus damaged ones only
    // when the wire corrupts.
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut damaged = 0;
    for (f, meta) in &rx {
        assert_eq!(f.len(), meta.len);
        match check(f) {
            Some(s) => *seen.entry(s).or_default() += 1,
            None => damaged += 1,
        }
    }
    assert!(damaged as u64 <= ws.corrupted, "{name}");
    let expected = ws.delivered - c.rx_errors - c.rx_dropped;
    assert_eq!(rx.len() as u64, expected, "{name}");
    assert_eq!(c.rx_packets, rx.len() as u64, "{name}");
    if wf == WireFaults::default()
        && bf.tx_error_pct == 0
        && bf.tx_drop_pct == 0
        && bf.rx_error_pct == 0
    {
        // Lossless: every frame exactly once.
        assert_eq!(seen.len() as u32, n, "{name}");
        assert!(seen.values().all(|&k| k == 1), "{name}");
        if !bf.reorder_tx_responses {
            let order: Vec<u32> = rx.iter().map(|(f, _)| check(f).unwrap()).collect();
            assert_eq!(order, (0..n).collect::<Vec<_>>(), "{name}");
        }
    }
    if wf.dup_pct == 0 {
        assert!(seen.values().all(|&k| k == 1), "{name}: duplicates");
    }
    let _ = busy;
    vif.shutdown();
    settle(&mut vif, &mut nb, |v, _| v.is_closed());
    assert_eq!(bed.held(GUEST), (0, 0, 0), "{name}");
    assert_eq!(bed.hv.memory.freed_while_granted(), 0, "{name}");
}

#[test]
fn traffic_under_every_fault() {
    let none = WireFaults::default();
    let quiet = BackendFaults::default();
    let cases: Vec<(&str, WireFaults, BackendFaults)> = std::vec![
        ("clean", none, quiet),
        (
            "drop",
            WireFaults {
                drop_pct: 20,
                ..none
            },
            quiet
        ),
        (
            "duplicate",
            WireFaults {
                dup_pct: 20,
                ..none
            },
            quiet
        ),
        (
            "reorder",
            WireFaults {
                reorder_pct: 30,
                ..none
            },
            quiet
        ),
        (
            "corrupt",
            WireFaults {
                corrupt_pct: 20,
                ..none
            },
            quiet
        ),
        (
            "tx responses reordered",
            none,
            BackendFaults {
                reorder_tx_responses: true,
                ..quiet
            },
        ),
        (
            "tx errors",
            none,
            BackendFaults {
                tx_error_pct: 15,
                tx_drop_pct: 10,
                ..quiet
            }
        ),
        (
            "rx fragmented",
            none,
            BackendFaults {
                rx_fragment: true,
                ..quiet
            }
        ),
        (
            "rx errors",
            none,
            BackendFaults {
                rx_error_pct: 15,
                ..quiet
            }
        ),
        ("slow backend", none, BackendFaults { budget: 3, ..quiet }),
        (
            "everything",
            WireFaults {
                drop_pct: 5,
                dup_pct: 5,
                reorder_pct: 10,
                corrupt_pct: 5
            },
            BackendFaults {
                reorder_tx_responses: true,
                tx_error_pct: 5,
                tx_drop_pct: 5,
                rx_fragment: true,
                rx_error_pct: 5,
                budget: 5,
            },
        ),
    ];
    // The cases are independent machines: run them side by side.
    thread::scope(|s| {
        for (name, wf, bf) in cases {
            s.spawn(move || {
                for seed in 1..=3 {
                    run_with_faults(seed, wf, bf, &format!("{name} (seed {seed})"));
                }
            });
        }
    });
}

/// The backend runs in its own thread (with a loopback wire) while the
/// guest sends and receives: the simulated shared memory is touched from
/// both sides at once.
#[test]
fn backend_in_another_thread() {
    let bed = Bed::new();
    let (mut vif, nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let backend = thread::spawn(move || {
        let mut nb = nb;
        let mut wire = Wire::new(4, WireFaults::default());
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            nb.step();
            wire.loopback(&mut nb);
            thread::yield_now();
        }
        nb
    });
    let n = 2000u32;
    let mut got = Vec::new();
    let mut sent = 0;
    let mut rng = XorShift::new(11);
    let start = std::time::Instant::now();
    while got.len() < n as usize && start.elapsed().as_secs() < 60 {
        if sent < n {
            match vif.send(&[&frame(sent, rng.range_usize(26, 20000), IPV4)], plain()) {
                Ok(()) => sent += 1,
                Err(NetError::Busy(_)) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        vif.poll(|f| got.push(check(f.data).unwrap())).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut nb = backend.join().unwrap();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    vif.shutdown();
    settle(&mut vif, &mut nb, |v, _| v.is_closed());
    assert_eq!(bed.held(GUEST), (0, 0, 0));
}

#[test]
fn frames_for_a_frontend_without_sg_or_gso() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::minimal(), 1);
    nb.deliver(crate::sim::SimFrame::new(frame(0, 5000, IPV4)));
    nb.deliver(crate::sim::SimFrame {
        data: frame(1, 3000, IPV4),
        csum: TxChecksum::Partial,
        gso: Some(Gso {
            kind: GsoKind::TcpV4,
            mss: 1000,
        }),
    });
    nb.deliver(crate::sim::SimFrame::new(frame(2, 4096, IPV4)));
    let mut wire = Wire::new(1, WireFaults::default());
    let rx = collect(&mut vif, &mut nb, &mut wire, 1);
    assert_eq!(rx.len(), 1);
    assert_eq!(check(&rx[0].0), Some(2));
    assert_eq!(nb.stats().to_guest_dropped, 2);
}
