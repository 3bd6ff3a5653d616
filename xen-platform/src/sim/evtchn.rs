//! Simulated event channels (`event_channel.h` semantics) for host tests:
//! per-domain port tables, unbound ports bound interdomain by the peer,
//! `send` setting the peer's pending bit, masks, and closing that leaves the
//! peer's port unbound; plus switches for a misbehaving peer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

use crate::error::XenError;
use crate::services::{DomId, EventChannels, Port};
use xen_abi as abi;

/// Most ports a simulated domain may have open (ports are `1..=MAX_PORTS`).
pub const MAX_PORTS: u32 = 1024;

/// What a port is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// Allocated for `remote` to bind (`EVTCHNOP_alloc_unbound`).
    Unbound { remote: DomId },
    /// Connected to `peer`'s `peer_port`.
    Interdomain { peer: DomId, peer_port: Port },
}

#[derive(Debug, Clone, Copy)]
struct PortState {
    binding: Binding,
    pending: bool,
    masked: bool,
}

#[derive(Debug, Default)]
struct State {
    ports: BTreeMap<(DomId, Port), PortState>,
    /// Domains whose hypercalls fail (a broken hypervisor or toolstack).
    failing: BTreeMap<DomId, bool>,
    /// Notifications delivered, per sending domain.
    sent: BTreeMap<DomId, u64>,
}

impl State {
    fn fail_if_failing(&self, dom: DomId, op: &'static str) -> Result<(), XenError> {
        if self.failing.get(&dom).copied().unwrap_or(false) {
            Err(XenError::Hypercall {
                op,
                errno: abi::XEN_EIO,
            })
        } else {
            Ok(())
        }
    }

    fn new_port(&mut self, dom: DomId, op: &'static str) -> Result<Port, XenError> {
        let port = (1..=MAX_PORTS)
            .map(Port)
            .find(|p| !self.ports.contains_key(&(dom, *p)))
            .ok_or(XenError::Hypercall {
                op,
                errno: abi::XEN_ENOSPC,
            })?;
        Ok(port)
    }

    fn close(&mut self, dom: DomId, port: Port) -> Result<(), XenError> {
        let st = self.ports.remove(&(dom, port)).ok_or(XenError::Hypercall {
            op: "event_channel_op(EVTCHNOP_close)",
            errno: abi::XEN_EINVAL,
        })?;
        if let Binding::Interdomain { peer, peer_port } = st.binding {
            if let Some(p) = self.ports.get_mut(&(peer, peer_port)) {
                // Xen leaves the other end unbound, waiting for `dom` again.
                p.binding = Binding::Unbound { remote: dom };
            }
        }
        Ok(())
    }
}

/// All simulated domains' event channels. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct SimEventChannels {
    inner: Arc<Mutex<State>>,
}

impl SimEventChannels {
    /// No ports open.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Domain `dom`'s view, implementing [`EventChannels`].
    pub fn domain(&self, dom: DomId) -> SimEvtchnDomain {
        SimEvtchnDomain {
            sim: self.clone(),
            dom,
        }
    }

    /// Whether `dom`'s `port` has an event pending (without clearing it).
    pub fn is_pending(&self, dom: DomId, port: Port) -> bool {
        self.lock()
            .ports
            .get(&(dom, port))
            .is_some_and(|p| p.pending)
    }

    /// Whether `dom`'s `port` is masked.
    pub fn is_masked(&self, dom: DomId, port: Port) -> bool {
        self.lock()
            .ports
            .get(&(dom, port))
            .is_some_and(|p| p.masked)
    }

    /// `dom`'s ports that are pending and unmasked: the ones that would
    /// raise an upcall.
    pub fn deliverable(&self, dom: DomId) -> Vec<Port> {
        self.lock()
            .ports
            .iter()
            .filter(|((d, _), p)| *d == dom && p.pending && !p.masked)
            .map(|((_, port), _)| *port)
            .collect()
    }

    /// The other end of `dom`'s `port`, if it is bound interdomain.
    pub fn peer_of(&self, dom: DomId, port: Port) -> Option<(DomId, Port)> {
        match self.lock().ports.get(&(dom, port))?.binding {
            Binding::Interdomain { peer, peer_port } => Some((peer, peer_port)),
            Binding::Unbound { .. } => None,
        }
    }

    /// Number of ports `dom` has open (for leak checks).
    pub fn open_ports(&self, dom: DomId) -> usize {
        self.lock().ports.keys().filter(|(d, _)| *d == dom).count()
    }

    /// Notifications `dom` has sent that reached a peer.
    pub fn sent(&self, dom: DomId) -> u64 {
        self.lock().sent.get(&dom).copied().unwrap_or(0)
    }

    /// Misbehaviour: marks `dom`'s `port` pending although nobody notified
    /// it (a spurious event). Returns whether the port exists.
    pub fn inject_spurious(&self, dom: DomId, port: Port) -> bool {
        match self.lock().ports.get_mut(&(dom, port)) {
            Some(p) => {
                p.pending = true;
                true
            }
            None => false,
        }
    }

    /// Misbehaviour: `dom` closes its `port` unexpectedly (e.g. the backend
    /// goes away); the other end becomes unbound.
    pub fn force_close(&self, dom: DomId, port: Port) -> Result<(), XenError> {
        self.lock().close(dom, port)
    }

    /// Misbehaviour: every event-channel operation of `dom` fails (with
    /// `EIO`) while `on`.
    pub fn set_failing(&self, dom: DomId, on: bool) {
        self.lock().failing.insert(dom, on);
    }
}

/// One simulated domain's event channels.
#[derive(Debug, Clone)]
pub struct SimEvtchnDomain {
    sim: SimEventChannels,
    dom: DomId,
}

impl SimEvtchnDomain {
    /// The domain this view belongs to.
    pub fn domid(&self) -> DomId {
        self.dom
    }
}

impl EventChannels for SimEvtchnDomain {
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, XenError> {
        const OP: &str = "event_channel_op(EVTCHNOP_alloc_unbound)";
        let mut st = self.sim.lock();
        st.fail_if_failing(self.dom, OP)?;
        let port = st.new_port(self.dom, OP)?;
        st.ports.insert(
            (self.dom, port),
            PortState {
                binding: Binding::Unbound { remote },
                pending: false,
                masked: false,
            },
        );
        Ok(port)
    }

    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, XenError> {
        const OP: &str = "event_channel_op(EVTCHNOP_bind_interdomain)";
        let mut st = self.sim.lock();
        st.fail_if_failing(self.dom, OP)?;
        match st.ports.get(&(remote, remote_port)) {
            Some(PortState {
                binding: Binding::Unbound { remote: r },
                ..
            }) if *r == self.dom => {}
            _ => {
                return Err(XenError::Hypercall {
                    op: OP,
                    errno: abi::XEN_EINVAL,
                })
            }
        }
        let port = st.new_port(self.dom, OP)?;
        st.ports.insert(
            (self.dom, port),
            PortState {
                binding: Binding::Interdomain {
                    peer: remote,
                    peer_port: remote_port,
                },
                // Like Xen: events sent to the unbound port may be lost, so
                // the new local port starts pending.
                pending: true,
                masked: false,
            },
        );
        if let Some(r) = st.ports.get_mut(&(remote, remote_port)) {
            r.binding = Binding::Interdomain {
                peer: self.dom,
                peer_port: port,
            };
        }
        Ok(port)
    }

    fn notify(&self, port: Port) -> Result<(), XenError> {
        const OP: &str = "event_channel_op(EVTCHNOP_send)";
        let mut st = self.sim.lock();
        st.fail_if_failing(self.dom, OP)?;
        let binding = st
            .ports
            .get(&(self.dom, port))
            .ok_or(XenError::Hypercall {
                op: OP,
                errno: abi::XEN_EINVAL,
            })?
            .binding;
        // Sending on an unbound port is silently dropped, as in Xen.
        if let Binding::Interdomain { peer, peer_port } = binding {
            if let Some(p) = st.ports.get_mut(&(peer, peer_port)) {
                p.pending = true;
                *st.sent.entry(self.dom).or_default() += 1;
            }
        }
        Ok(())
    }

    fn close(&self, port: Port) -> Result<(), XenError> {
        let mut st = self.sim.lock();
        st.fail_if_failing(self.dom, "event_channel_op(EVTCHNOP_close)")?;
        st.close(self.dom, port)
    }

    fn mask(&self, port: Port) {
        if let Some(p) = self.sim.lock().ports.get_mut(&(self.dom, port)) {
            p.masked = true;
        }
    }

    fn unmask(&self, port: Port) {
        if let Some(p) = self.sim.lock().ports.get_mut(&(self.dom, port)) {
            p.masked = false;
        }
    }

    fn take_pending(&self, port: Port) -> bool {
        match self.sim.lock().ports.get_mut(&(self.dom, port)) {
            Some(p) => core::mem::take(&mut p.pending),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRONT: DomId = DomId(5);
    const BACK: DomId = DomId(0);

    /// Front allocates, back binds: returns (sim, front port, back port).
    fn pair() -> (SimEventChannels, Port, Port) {
        let sim = SimEventChannels::new();
        let f = sim.domain(FRONT).alloc_unbound(BACK).unwrap();
        let b = sim.domain(BACK).bind_interdomain(FRONT, f).unwrap();
        (sim, f, b)
    }

    #[test]
    fn pairing_and_notify() {
        let (sim, f, b) = pair();
        let (front, back) = (sim.domain(FRONT), sim.domain(BACK));
        assert_eq!(f, Port(1));
        assert_eq!(b, Port(1));
        assert_eq!(sim.peer_of(FRONT, f), Some((BACK, b)));
        assert_eq!(sim.peer_of(BACK, b), Some((FRONT, f)));
        // A fresh binding starts pending on the binder's side.
        assert!(back.take_pending(b));
        assert!(!back.take_pending(b));
        assert!(!front.take_pending(f));
        front.notify(f).unwrap();
        assert!(sim.is_pending(BACK, b));
        assert!(back.take_pending(b));
        assert!(!back.take_pending(b));
        back.notify(b).unwrap();
        back.notify(b).unwrap();
        assert!(front.take_pending(f)); // pending is a bit, not a count
        assert!(!front.take_pending(f));
        assert_eq!(sim.sent(BACK), 2);
    }

    #[test]
    fn bind_checks_the_unbound_port() {
        let sim = SimEventChannels::new();
        let f = sim.domain(FRONT).alloc_unbound(BACK).unwrap();
        // Another domain may not bind it, nor a port that does not exist.
        assert!(sim.domain(DomId(9)).bind_interdomain(FRONT, f).is_err());
        assert!(sim.domain(BACK).bind_interdomain(FRONT, Port(7)).is_err());
        sim.domain(BACK).bind_interdomain(FRONT, f).unwrap();
        // Already bound.
        assert!(sim.domain(BACK).bind_interdomain(FRONT, f).is_err());
    }

    #[test]
    fn mask_keeps_pending_but_not_deliverable() {
        let (sim, f, b) = pair();
        let (front, back) = (sim.domain(FRONT), sim.domain(BACK));
        back.take_pending(b);
        front.mask(f);
        assert!(sim.is_masked(FRONT, f));
        back.notify(b).unwrap();
        assert!(sim.is_pending(FRONT, f));
        assert!(sim.deliverable(FRONT).is_empty());
        front.unmask(f);
        assert_eq!(sim.deliverable(FRONT), vec![f]);
        assert!(front.take_pending(f));
        assert!(sim.deliverable(FRONT).is_empty());
    }

    #[test]
    fn close_leaves_peer_unbound_and_misbehaviour() {
        let (sim, f, b) = pair();
        let (front, back) = (sim.domain(FRONT), sim.domain(BACK));
        back.take_pending(b);
        // The backend goes away unexpectedly.
        sim.force_close(BACK, b).unwrap();
        assert_eq!(sim.peer_of(FRONT, f), None);
        // Sending into the void is not an error; nothing arrives.
        front.notify(f).unwrap();
        assert_eq!(sim.sent(FRONT), 0);
        // The back end can bind again to the same unbound port.
        let b2 = back.bind_interdomain(FRONT, f).unwrap();
        assert_eq!(sim.peer_of(FRONT, f), Some((BACK, b2)));
        // Spurious events.
        assert!(sim.inject_spurious(FRONT, f));
        assert!(front.take_pending(f));
        assert!(!sim.inject_spurious(FRONT, Port(99)));
        // Failing hypercalls.
        sim.set_failing(FRONT, true);
        assert!(matches!(
            front.notify(f),
            Err(XenError::Hypercall { errno, .. }) if errno == abi::XEN_EIO
        ));
        assert!(front.alloc_unbound(BACK).is_err());
        sim.set_failing(FRONT, false);
        front.close(f).unwrap();
        assert!(front.close(f).is_err());
        back.close(b2).unwrap();
        assert_eq!(sim.open_ports(FRONT), 0);
        assert_eq!(sim.open_ports(BACK), 0);
        // Unknown ports.
        assert!(front.notify(Port(3)).is_err());
        assert!(!front.take_pending(Port(3)));
        front.mask(Port(3));
        assert!(!sim.is_masked(FRONT, Port(3)));
    }

    #[test]
    fn ports_run_out() {
        let sim = SimEventChannels::new();
        let front = sim.domain(FRONT);
        for _ in 0..MAX_PORTS {
            front.alloc_unbound(BACK).unwrap();
        }
        assert!(matches!(
            front.alloc_unbound(BACK),
            Err(XenError::Hypercall { errno, .. }) if errno == abi::XEN_ENOSPC
        ));
        front.close(Port(17)).unwrap();
        assert_eq!(front.alloc_unbound(BACK), Ok(Port(17)));
    }
}
