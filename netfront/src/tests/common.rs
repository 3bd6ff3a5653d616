//! Shared test bed: a simulated hypervisor and xenstored, guests with
//! vifs and their simulated netbacks, self-checking frames, and a pump
//! that runs both sides until they settle.

use std::fmt;
use std::vec::Vec;

use xen_platform::services::{DomId, GrantTable};
use xen_platform::sim::xenstore::SimXenstore;
use xen_platform::sim::SimHypervisor;

use crate::sim::{sim_services, NetbackConfig, SimNetback, SimNetfront, Wire};
use crate::{Config, LinkState, RxMeta};

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

    /// A vif `devid` of guest `dom` with its backend in dom0 (not yet
    /// connected).
    pub fn vif(
        &self,
        dom: DomId,
        devid: u32,
        nb_cfg: NetbackConfig,
        cfg: Config,
        seed: u64,
    ) -> (SimNetfront, SimNetback) {
        let nb = SimNetback::create(&self.hv, &self.store, DOM0, dom, devid, nb_cfg, seed);
        let svc = sim_services(&self.hv, &self.store, dom);
        let vif = SimNetfront::open(svc, &std::format!("{devid}"), logging(cfg)).unwrap();
        (vif, nb)
    }

    /// As [`Bed::vif`], connected.
    pub fn connected(
        &self,
        dom: DomId,
        devid: u32,
        nb_cfg: NetbackConfig,
        cfg: Config,
        seed: u64,
    ) -> (SimNetfront, SimNetback) {
        let (mut vif, mut nb) = self.vif(dom, devid, nb_cfg, cfg, seed);
        settle(&mut vif, &mut nb, |v, _| v.state() == LinkState::Connected);
        assert!(nb.is_connected());
        (vif, nb)
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

/// Steps backend and frontend (xenbus and rings) until `done` or 50
/// rounds; panics if never done.
pub fn settle(
    vif: &mut SimNetfront,
    nb: &mut SimNetback,
    done: impl Fn(&SimNetfront, &SimNetback) -> bool,
) {
    for _ in 0..50 {
        if done(vif, nb) {
            return;
        }
        nb.step();
        vif.poll_xenbus().unwrap();
        let _ = vif.poll(|_| {});
    }
    assert!(
        done(vif, nb),
        "never settled: vif {:?} ({:?}), backend {:?} ({:?})",
        vif.state(),
        vif.last_error(),
        nb.state(),
        nb.error()
    );
}

/// Received frames.
pub type Received = Vec<(Vec<u8>, RxMeta)>;

/// One round of traffic over loopback: backend step, wire, backend step
/// (delivers), frontend poll collecting frames.
pub fn loop_round(
    vif: &mut SimNetfront,
    nb: &mut SimNetback,
    wire: &mut Wire,
    rx: &mut Received,
) -> Result<(), crate::NetError> {
    nb.step();
    wire.loopback(nb);
    nb.step();
    vif.poll_xenbus()?;
    vif.poll(|f| rx.push((f.data.to_vec(), f.meta)))?;
    Ok(())
}

/// A self-checking Ethernet frame of `len` bytes (>= 26): header with
/// `ethertype`, sequence number, length, a pattern, and an FNV-1a hash of
/// all before it in the last 4 bytes.
pub fn frame(seq: u32, len: usize, ethertype: u16) -> Vec<u8> {
    assert!(len >= 26);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0x00, 0x16, 0x3e, 0, 0, 1]);
    f.extend_from_slice(&[0x00, 0x16, 0x3e, 0, 0, 2]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(&seq.to_le_bytes());
    f.extend_from_slice(&(len as u32).to_le_bytes());
    let mut x = seq.wrapping_mul(2_654_435_761);
    while f.len() < len - 4 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    let h = fnv(&f);
    f.extend_from_slice(&h.to_le_bytes());
    f
}

fn fnv(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

/// The sequence number of an intact frame from [`frame`], `None` if it
/// was damaged.
pub fn check(f: &[u8]) -> Option<u32> {
    if f.len() < 26 {
        return None;
    }
    let (body, tail) = f.split_at(f.len() - 4);
    let len = u32::from_le_bytes(body[18..22].try_into().ok()?) as usize;
    (fnv(body) == u32::from_le_bytes(tail.try_into().ok()?) && len == f.len())
        .then(|| u32::from_le_bytes(body[14..18].try_into().unwrap()))
}

/// IPv4 and IPv6 ethertypes.
pub const IPV4: u16 = 0x0800;
pub const IPV6: u16 = 0x86dd;

#[test]
fn frames_check_themselves() {
    for len in [26, 60, 1514, 9000, 65535] {
        let mut f = frame(7, len, IPV4);
        assert_eq!(f.len(), len);
        assert_eq!(check(&f), Some(7));
        f[len / 2] ^= 4;
        assert_eq!(check(&f), None);
    }
}
