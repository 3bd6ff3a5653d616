//! Lazy listen backlogs. smoltcp takes one listening socket (with its
//! buffers) per connection being set up, so a listener keeps a pool: the
//! connections waiting for `accept` plus at most one idle listening
//! socket, made again ([`refill`]) before each received frame is
//! processed. An idle listener so costs one socket's buffers, whatever
//! its backlog. When the backlog is full, or the buffer budget
//! ([`crate::budget`]) has no room for a new idle socket, a SYN for the
//! listener is dropped ([`syn_dropped`]) instead of answered with a
//! reset: the peer retries it later, as with NetBSD's full listen queue.

use crate::errno::Result;
use crate::socket::{Sock, State};
use alloc::collections::BTreeMap;
use core::net::{IpAddr, SocketAddr};
use smoltcp::iface::{SocketHandle as SmolHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket,
};

/// Whether a pool socket is idle, listening for a SYN.
fn idle(set: &SocketSet<'_>, h: SmolHandle) -> bool {
    set.get::<tcp::Socket>(h).state() == tcp::State::Listen
}

/// Gives every listener whose backlog has room an idle listening socket,
/// as far as the buffer budget allows (a listener left without one has
/// its SYNs dropped until a later refill succeeds). `new_tcp` makes a
/// socket (`nodelay` given) listening on the address.
pub(crate) fn refill(
    socks: &mut BTreeMap<u32, Sock>,
    set: &mut SocketSet<'static>,
    mut new_tcp: impl FnMut(&mut SocketSet<'static>, bool, SocketAddr) -> Result<SmolHandle>,
) {
    for s in socks.values_mut() {
        let (nodelay, local) = (s.nodelay, s.local);
        let State::Listen { pool, backlog } = &mut s.state else {
            continue;
        };
        let Some(local) = local else { continue };
        if pool.len() >= *backlog || pool.iter().any(|h| idle(set, *h)) {
            continue;
        }
        if let Ok(h) = new_tcp(set, nodelay, local) {
            pool.push(h);
        }
    }
}

/// The source and destination of `frame` if it is an Ethernet frame
/// carrying a TCP SYN without ACK (a connection request).
fn syn_endpoints(frame: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (src, dst, tcp): (IpAddr, IpAddr, &[u8]) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let p = Ipv4Packet::new_checked(eth.payload()).ok()?;
            if p.next_header() != IpProtocol::Tcp || p.more_frags() || p.frag_offset() != 0 {
                return None;
            }
            (
                IpAddr::V4(p.src_addr()),
                IpAddr::V4(p.dst_addr()),
                p.payload(),
            )
        }
        EthernetProtocol::Ipv6 => {
            let p = Ipv6Packet::new_checked(eth.payload()).ok()?;
            if p.next_header() != IpProtocol::Tcp {
                return None;
            }
            (
                IpAddr::V6(p.src_addr()),
                IpAddr::V6(p.dst_addr()),
                p.payload(),
            )
        }
        _ => return None,
    };
    let t = TcpPacket::new_checked(tcp).ok()?;
    (t.syn() && !t.ack()).then(|| {
        (
            SocketAddr::new(src, t.src_port()),
            SocketAddr::new(dst, t.dst_port()),
        )
    })
}

/// Whether `frame` is a SYN for a listener that has no idle listening
/// socket (backlog full or no buffers) and is not a repeat of one a pool
/// socket already answers: such a SYN is dropped.
pub(crate) fn syn_dropped(frame: &[u8], socks: &BTreeMap<u32, Sock>, set: &SocketSet<'_>) -> bool {
    let Some((src, dst)) = syn_endpoints(frame) else {
        return false;
    };
    let from_src = |h: &SmolHandle| {
        let t = set.get::<tcp::Socket>(*h);
        t.remote_endpoint()
            .is_some_and(|e| IpAddr::from(e.addr) == src.ip() && e.port == src.port())
    };
    socks.values().any(|s| {
        let (State::Listen { pool, .. }, Some(local)) = (&s.state, s.local) else {
            return false;
        };
        local.port() == dst.port()
            && local.is_ipv4() == dst.is_ipv4()
            && (local.ip().is_unspecified() || local.ip() == dst.ip())
            && !pool.iter().any(|h| idle(set, *h) || from_src(h))
    })
}
