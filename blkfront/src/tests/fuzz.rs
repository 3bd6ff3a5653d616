//! Fuzz-style seeded tests: random response records fed to the id table
//! (the check every `blkif_response` passes), and random bytes written
//! into the response slots of live disks with a random `rsp_prod`.
//! Nothing may panic; whatever is accepted must be consistent; a live disk
//! either carries on or fails with a reason, completes every request and
//! gives every grant back.

use std::vec::Vec;

use xen_platform::services::DomId;
use xen_platform::shared_ring::RingEntry;

use super::common::*;
use crate::sim::{BlkbackConfig, XorShift};
use crate::track::{IdTable, Sent};
use crate::wire::{
    Response, OP_DISCARD, OP_FLUSH_DISKCACHE, OP_INDIRECT, OP_READ, OP_WRITE, OP_WRITE_BARRIER,
    SLOT,
};
use crate::{BlkOp, BlkRequest, Config, DiskState};

/// Responses fed to the id table.
pub const RESPONSES: u64 = 1_000_000;
/// Live disks attacked with random ring records.
pub const LIVE_ROUNDS: u64 = 400;

const OPS: [u8; 6] = [
    OP_READ,
    OP_WRITE,
    OP_WRITE_BARRIER,
    OP_FLUSH_DISKCACHE,
    OP_DISCARD,
    OP_INDIRECT,
];

#[test]
fn id_table_takes_random_responses() {
    let mut rng = XorShift::new(0xb10c);
    let size = 64u32;
    let mut t: IdTable<u8> = IdTable::new(size);
    // What the model says is in flight: id -> (operation, indirect_op).
    let mut model: Vec<(u64, u8, Option<u8>)> = Vec::new();
    let (mut okay, mut refused) = (0u64, 0u64);
    for _ in 0..RESPONSES {
        while rng.chance(45) {
            let op = OPS[rng.below(6) as usize];
            let inner = (op == OP_INDIRECT).then(|| [OP_READ, OP_WRITE][rng.below(2) as usize]);
            match t.insert(Sent {
                operation: op,
                indirect_op: inner,
                payload: op,
            }) {
                Ok(id) => model.push((id, op, inner)),
                Err(_) => {
                    assert_eq!(model.len(), size as usize);
                    break;
                }
            }
        }
        let rsp = if !model.is_empty() && rng.chance(75) {
            // Plausible: a real id, often the right operation and a
            // defined status, sometimes bent.
            let k = rng.below(model.len() as u64) as usize;
            let (id, op, inner) = model[k];
            let mut r = Response {
                id,
                operation: match (rng.below(4), inner) {
                    (0, Some(i)) => i,
                    (0..=2, _) => op,
                    _ => OPS[rng.below(6) as usize],
                },
                status: rng.range(0, 3) as i16 - 2,
            };
            if rng.chance(10) {
                r.id ^= 1 << rng.below(64);
            }
            if rng.chance(5) {
                r.status = rng.next_u64() as i16;
            }
            r
        } else {
            let mut b = [0u8; 16];
            rng.fill(&mut b);
            Response::decode(&b)
        };
        let before = t.in_flight();
        match t.complete(&rsp) {
            Ok((sent, _outcome)) => {
                okay += 1;
                let k = model
                    .iter()
                    .position(|m| m.0 == rsp.id)
                    .expect("accepted an id not in flight");
                let (_, op, inner) = model.swap_remove(k);
                assert_eq!(sent.operation, op);
                assert!(rsp.operation == op || Some(rsp.operation) == inner);
                assert!((-2..=0).contains(&rsp.status));
                assert_eq!(t.in_flight(), before - 1);
            }
            Err(why) => {
                refused += 1;
                assert!(!why.is_empty());
                assert_eq!(t.in_flight(), before);
            }
        }
        assert_eq!(t.in_flight(), model.len());
        assert_eq!(t.in_flight() + t.free(), size as usize);
    }
    std::eprintln!("id table: {RESPONSES} responses, {okay} accepted, {refused} refused");
    assert!(okay > 100_000 && refused > 100_000);
}

/// Random records in the ring of live disks: the disk carries on or fails
/// with a reason; either way every request completes and every grant
/// comes back.
#[test]
fn live_disks_take_random_ring_records() {
    let guest = DomId(9);
    let (mut failed, mut records, mut carried_on) = (0u64, 0u64, 0u64);
    for round in 0..LIVE_ROUNDS {
        let bed = Bed::new();
        let cfg = if round % 2 == 0 {
            Config::default()
        } else {
            Config::minimal()
        };
        let (mut d, mut bb) = bed.connected(guest, 0, BlkbackConfig::default(), cfg, round);
        let mut rng = XorShift::new(round + 1);
        let mut submitted = 0u64;
        let mut completed = 0u64;
        for step in 0..8u64 {
            for i in 0..rng.range(1, 4) {
                let off = rng.below(64) * 4096;
                let op = match rng.below(3) {
                    0 => BlkOp::Write {
                        offset: off,
                        data: pattern(i, 4096 * rng.range(1, 16) as usize),
                    },
                    1 => BlkOp::Read {
                        offset: off,
                        len: 4096 * rng.range(1, 16) as usize,
                    },
                    _ => BlkOp::Flush,
                };
                if d.submit(BlkRequest { op, tag: step }).is_ok() {
                    submitted += 1;
                }
            }
            // The backend answers some honestly and holds the rest.
            bb.faults.defer_pct = 50;
            bb.step();
            if !rng.chance(30) {
                if let Ok(r) = d.poll(|_| completed += 1) {
                    records += r.responses;
                }
                continue;
            }
            // Then random slots, some with ids in flight.
            let ids = d.ring_ids();
            let n = rng.range(1, 6) as usize;
            let mut recs: Vec<[u8; SLOT]> = Vec::new();
            for _ in 0..n {
                let mut b = [0u8; SLOT];
                rng.fill(&mut b);
                if !ids.is_empty() && rng.chance(70) {
                    let id = ids[rng.below(ids.len() as u64) as usize];
                    let r = Response {
                        id,
                        operation: OPS[rng.below(3) as usize],
                        status: rng.range(0, 2) as i16 - 2 + i16::from(rng.chance(5)) * 7,
                    };
                    r.encode(&mut b[..Response::SIZE]);
                }
                recs.push(b);
            }
            // rsp_prod: mostly within what the backend holds unanswered
            // (so the records are parsed), sometimes beyond, sometimes
            // anywhere.
            let open = u64::from(bb.unanswered()).min(n as u64);
            let delta = match rng.below(10) {
                0 => rng.next_u64() as u32,
                1 | 2 => rng.range(0, n as u64 + 3) as u32,
                _ => rng.range(0, open) as u32,
            };
            bb.scribble(&recs, delta);
            if let Ok(r) = d.poll(|_| completed += 1) {
                records += r.responses;
            }
            let _ = d.poll_xenbus();
            if d.state() == DiskState::Failed {
                assert!(!d.last_error().unwrap().reason().is_empty());
                failed += 1;
                break;
            }
        }
        if d.state() == DiskState::Connected {
            carried_on += 1;
        }
        d.shutdown();
        let _ = d.poll(|_| completed += 1);
        assert_eq!(
            completed, submitted,
            "round {round}: every request completes"
        );
        settle(&mut d, &mut bb, |d, _| d.is_closed());
        assert_eq!(bed.held(guest), (0, 0, 0), "round {round}");
        assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    }
    std::eprintln!(
        "live disks: {LIVE_ROUNDS} rounds, {records} responses taken, {failed} failed, {carried_on} carried on"
    );
    assert!(failed > 0 && carried_on > 0 && records > 100);
}
