//! Fuzz-style seeded tests: random response records fed to the rx
//! reassembler and the tx completion tracker, and random responses
//! written into the rings of a live vif. Nothing may panic; whatever is
//! accepted must be within bounds; a live vif either carries on or
//! disconnects with a reason and gives every grant back.

use std::vec::Vec;

use xen_platform::services::{DomId, PAGE_SIZE};
use xen_platform::shared_ring::RingEntry;

use super::common::*;
use crate::rx_parse::{RxAssembler, RxEnd, RxRules, MAX_RX_DATA_SLOTS, MAX_RX_FRAME};
use crate::sim::{Malice, NetbackConfig, XorShift};
use crate::tx_track::TxTracker;
use crate::wire::{
    ExtraInfo, Gso, GsoKind, RxResponse, TxResponse, NETIF_RSP_NULL, NETRXF_CSUM_BLANK,
    NETRXF_DATA_VALIDATED, NETRXF_EXTRA_INFO, NETRXF_MORE_DATA,
};
use crate::{Config, LinkState, TxOffload};

/// Records fed to the rx reassembler.
pub const RX_RECORDS: u64 = 2_000_000;
/// Responses fed to the tx tracker.
pub const TX_RESPONSES: u64 = 1_000_000;
/// Live vifs attacked with random ring records.
pub const LIVE_ROUNDS: u64 = 60;

/// A plausible rx record (then often mutated).
fn plausible(rng: &mut XorShift, id: u16, extra_next: bool) -> [u8; 8] {
    let mut b = [0u8; 8];
    if extra_next {
        let kind = if rng.chance(50) {
            GsoKind::TcpV4
        } else {
            GsoKind::TcpV6
        };
        ExtraInfo::gso(
            Gso {
                kind,
                mss: rng.range_usize(0, 9000) as u16,
            },
            rng.chance(10),
        )
        .encode(&mut b);
    } else {
        let flags = [
            0,
            NETRXF_MORE_DATA,
            NETRXF_EXTRA_INFO,
            NETRXF_DATA_VALIDATED,
            NETRXF_CSUM_BLANK,
        ][rng.below(5) as usize];
        RxResponse {
            id,
            offset: rng.range_usize(0, 4200) as u16,
            flags,
            status: rng.range_usize(0, 4200) as i16 - 2,
        }
        .encode(&mut b);
    }
    if rng.chance(20) {
        let i = rng.below(8) as usize;
        b[i] ^= 1 << rng.below(8);
    }
    if rng.chance(5) {
        rng.fill(&mut b);
    }
    b
}

#[test]
fn rx_reassembler_takes_random_records() {
    let mut rng = XorShift::new(0x5eed);
    let mut fed = 0u64;
    let (mut frames, mut violations) = (0u64, 0u64);
    while fed < RX_RECORDS {
        let rules = RxRules {
            ring_size: 256,
            sg: rng.chance(80),
            gso_tcpv4: rng.chance(70),
            gso_tcpv6: rng.chance(70),
            csum_blank: rng.chance(70),
        };
        let mut a = RxAssembler::new(rules);
        let mut pos = rng.next_u64() as u32;
        let mut slots_in_packet = 0u16;
        let mut len = 0usize;
        let mut expect_extra = false;
        loop {
            let id = (pos & 255) as u16;
            let rec = plausible(&mut rng, id, expect_extra);
            fed += 1;
            match a.slot(pos, &rec) {
                Err(why) => {
                    assert!(!why.is_empty());
                    violations += 1;
                    break;
                }
                Ok(s) => {
                    assert_eq!(s.id, id);
                    if let Some((off, n)) = s.copy {
                        assert!(usize::from(off) + usize::from(n) <= PAGE_SIZE);
                        len += usize::from(n);
                        assert!(len <= MAX_RX_FRAME);
                    }
                    let r = RxResponse::decode(&rec);
                    if !expect_extra {
                        slots_in_packet += 1;
                        assert!(slots_in_packet <= MAX_RX_DATA_SLOTS);
                    }
                    expect_extra = a.in_packet() && {
                        // The next slot is an extra info if this one asked
                        // for one (data slot) or chained another.
                        let ex = ExtraInfo::decode(&rec);
                        if expect_extra {
                            ex.flags & 1 != 0
                        } else {
                            r.flags & NETRXF_EXTRA_INFO != 0
                        }
                    };
                    if let Some(end) = s.end {
                        if let RxEnd::Frame(m) = end {
                            assert!(m.len > 0 && m.len <= MAX_RX_FRAME);
                            frames += 1;
                        }
                        slots_in_packet = 0;
                        len = 0;
                        expect_extra = false;
                    }
                }
            }
            pos = pos.wrapping_add(1);
            if fed >= RX_RECORDS {
                break;
            }
        }
    }
    std::eprintln!("rx reassembler: {fed} records, {frames} frames, {violations} violations");
    assert!(frames > 1000 && violations > 1000);
}

#[test]
fn tx_tracker_takes_random_responses() {
    let mut rng = XorShift::new(0x7e57);
    let mut t = TxTracker::new(256);
    let mut outstanding: Vec<u16> = Vec::new();
    let (mut done, mut bad) = (0u64, 0u64);
    for _ in 0..TX_RESPONSES {
        if rng.chance(40) {
            let n = rng.range_usize(1, 17);
            if let Some(ids) = t.start_packet(n, 100, u32::from(rng.chance(20))) {
                outstanding.extend(ids);
            }
        }
        let rsp = if !outstanding.is_empty() && rng.chance(70) {
            let k = rng.below(outstanding.len() as u64) as usize;
            let id = outstanding.swap_remove(k);
            TxResponse {
                id,
                status: rng.range_usize(0, 2) as i16 - 2,
            }
        } else if rng.chance(30) {
            TxResponse {
                id: 0,
                status: NETIF_RSP_NULL,
            }
        } else {
            let mut b = [0u8; 4];
            rng.fill(&mut b);
            TxResponse::decode(&b)
        };
        match t.complete(rsp) {
            Ok(_) => done += 1,
            Err(_) => bad += 1,
        }
        assert!(t.free_ids() <= 256);
        assert!(t.pending_ids().count() + t.free_ids() <= 256);
    }
    std::eprintln!("tx tracker: {TX_RESPONSES} responses, {done} accepted, {bad} refused");
    assert!(done > 1000 && bad > 1000);
}

/// Random records in the rings of live vifs: the vif carries on or fails
/// with a reason; either way it ends with every grant given back.
#[test]
fn live_vifs_take_random_ring_records() {
    let guest = DomId(9);
    let mut failed = 0;
    for round in 0..LIVE_ROUNDS {
        let bed = Bed::new();
        let (mut vif, mut nb) =
            bed.connected(guest, 0, NetbackConfig::default(), Config::default(), round);
        let mut rng = XorShift::new(round + 1);
        for _ in 0..10 {
            let n = rng.range_usize(1, 12) as u32;
            nb.inject(if rng.chance(50) {
                Malice::RxRandom(n)
            } else {
                Malice::TxRandom(n)
            });
            for i in 0..3 {
                let _ = vif.send(
                    &[&frame(i, rng.range_usize(26, 9000), IPV4)],
                    TxOffload::default(),
                );
            }
            nb.step();
            let _ = nb.take_sent();
            let _ = vif.poll(|f| assert!(f.data.len() == f.meta.len));
            let _ = vif.poll_xenbus();
            if vif.state() == LinkState::Failed {
                assert!(!vif.last_error().unwrap().reason().is_empty());
                failed += 1;
                break;
            }
        }
        vif.shutdown();
        settle(&mut vif, &mut nb, |v, _| v.is_closed());
        assert_eq!(bed.held(guest), (0, 0, 0), "round {round}");
        assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    }
    std::eprintln!("live vifs: {LIVE_ROUNDS} rounds, {failed} disconnected");
    assert!(failed > 0);
}
