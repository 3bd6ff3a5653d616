//! Shared test bed: a simulated hypervisor and xenstored, guests with
//! vbds and their simulated blkbacks, a pump that runs both sides until
//! they settle, and helpers that run requests to completion.

use std::fmt;
use std::vec::Vec;

use xen_platform::services::{DomId, GrantTable};
use xen_platform::sim::xenstore::SimXenstore;
use xen_platform::sim::SimHypervisor;

use crate::sim::{sim_services, BlkbackConfig, SimBlkback, SimBlkfront};
use crate::{BlkError, BlkOp, BlkRequest, Completion, Config, DiskState};

/// The backend domain.
pub const DOM0: DomId = DomId(0);

/// Log lines go to the test's captured output.
pub fn test_log(args: fmt::Arguments<'_>) {
    std::eprintln!("{args}");
}

/// A frontend config that logs.
pub fn logging(c: Config) -> Config {
    Config { log: test_log, ..c }
}

/// The simulated machine.
pub struct Bed {
    pub hv: SimHypervisor,
    pub store: SimXenstore,
}

impl Bed {
    pub fn new() -> Bed {
        Bed {
            hv: SimHypervisor::new(),
            store: SimXenstore::new(),
        }
    }

    /// A vbd `devid` of guest `dom` with its backend in dom0 (not yet
    /// connected).
    pub fn vbd(
        &self,
        dom: DomId,
        devid: u32,
        bb_cfg: BlkbackConfig,
        cfg: Config,
        seed: u64,
    ) -> (SimBlkfront, SimBlkback) {
        let bb = SimBlkback::create(&self.hv, &self.store, DOM0, dom, devid, bb_cfg, seed);
        let svc = sim_services(&self.hv, &self.store, dom);
        let disk = SimBlkfront::open(svc, &std::format!("{devid}"), logging(cfg)).unwrap();
        (disk, bb)
    }

    /// As [`Bed::vbd`], connected.
    pub fn connected(
        &self,
        dom: DomId,
        devid: u32,
        bb_cfg: BlkbackConfig,
        cfg: Config,
        seed: u64,
    ) -> (SimBlkfront, SimBlkback) {
        let (mut d, mut bb) = self.vbd(dom, devid, bb_cfg, cfg, seed);
        settle(&mut d, &mut bb, |d, _| d.state() == DiskState::Connected);
        assert!(bb.is_connected());
        (d, bb)
    }

    /// Grants, pages and ports `dom` still holds.
    pub fn held(&self, dom: DomId) -> (usize, usize, usize) {
        (
            self.hv.grant_table(dom).live_grants(),
            self.hv.memory.pages(dom),
            self.hv.evtchns.open_ports(dom),
        )
    }
}

/// Steps backend and frontend (xenbus and ring) until `done` or 50
/// rounds; panics if never done.
pub fn settle(
    d: &mut SimBlkfront,
    bb: &mut SimBlkback,
    done: impl Fn(&SimBlkfront, &SimBlkback) -> bool,
) {
    for _ in 0..50 {
        if done(d, bb) {
            return;
        }
        bb.step();
        let _ = d.poll_xenbus();
        let _ = d.poll(|_| {});
    }
    assert!(
        done(d, bb),
        "never settled: disk {:?} ({:?}), backend {:?} ({:?})",
        d.state(),
        d.last_error(),
        bb.state(),
        bb.error()
    );
}

/// Pumps until every submitted request completed (or 10000 rounds);
/// returns the completions.
pub fn drain(d: &mut SimBlkfront, bb: &mut SimBlkback) -> Vec<Completion> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let _ = d.poll(|c| out.push(c));
        if d.in_flight() == 0 {
            break;
        }
        bb.step();
        let _ = d.poll_xenbus();
    }
    assert_eq!(d.in_flight(), 0, "requests never completed");
    out
}

/// Runs one request to its end.
pub fn run(
    d: &mut SimBlkfront,
    bb: &mut SimBlkback,
    op: BlkOp,
) -> Result<Option<Vec<u8>>, BlkError> {
    let t = d.submit(BlkRequest { op, tag: 99 })?;
    let done = drain(d, bb);
    let c = done
        .into_iter()
        .find(|c| c.request == t)
        .expect("completion");
    assert_eq!(c.tag, 99);
    c.result.map(|()| c.data)
}

/// Reads `len` bytes at `offset`.
pub fn read(
    d: &mut SimBlkfront,
    bb: &mut SimBlkback,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, BlkError> {
    run(d, bb, BlkOp::Read { offset, len }).map(|x| x.unwrap())
}

/// Writes `data` at `offset`.
pub fn write(
    d: &mut SimBlkfront,
    bb: &mut SimBlkback,
    offset: u64,
    data: Vec<u8>,
) -> Result<(), BlkError> {
    let back = run(
        d,
        bb,
        BlkOp::Write {
            offset,
            data: data.clone(),
        },
    )?;
    assert_eq!(back, Some(data), "the write buffer comes back");
    Ok(())
}

/// `len` bytes of a pattern from `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut r = crate::sim::XorShift::new(seed.wrapping_mul(0x9e37_79b9) + 1);
    let mut v = std::vec![0u8; len];
    r.fill(&mut v);
    v
}

/// Shuts the disk down and checks nothing is left behind.
pub fn close_cleanly(bed: &Bed, dom: DomId, d: &mut SimBlkfront, bb: &mut SimBlkback) {
    d.shutdown();
    settle(d, bb, |d, _| d.is_closed());
    assert_eq!(d.grants_held(), 0);
    assert_eq!(bed.held(dom), (0, 0, 0));
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
}
