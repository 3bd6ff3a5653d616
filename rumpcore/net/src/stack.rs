//! The stack: interfaces, the socket table, and [`Stack::poll`], which
//! runs the protocols at the caller's time and reports readiness changes.

use crate::backlog;
use crate::budget;
use crate::consts::{POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::errno::{Errno, Result};
use crate::fin_probe;
use crate::iface::{IfIndex, Iface};
use crate::socket::{Events, Sock, SocketHandle, State};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::SocketAddr;
use smoltcp::iface::{PollIngressSingleResult, SocketHandle as SmolHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};

/// How long a connection attempt may take before ETIMEDOUT (NetBSD's
/// `tcp_keepinit`).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a closed socket may linger (FIN-WAIT, TIME-WAIT) at most.
pub(crate) const LINGER_MAX: Duration = Duration::from_secs(120);

/// Egress passes per interface and poll at most.
const EGRESS_PASSES: usize = 64;

/// Sizes and seed of a stack.
#[derive(Clone, Copy, Debug)]
pub struct StackConfig {
    /// Seeds TCP sequence numbers, ephemeral ports and DHCP ids; give
    /// each stack a different one.
    pub seed: u64,
    /// TCP receive buffer per connection, bytes.
    pub tcp_rx_buffer: usize,
    /// TCP send buffer per connection, bytes.
    pub tcp_tx_buffer: usize,
    /// UDP buffer per socket and direction, bytes.
    pub udp_buffer: usize,
    /// UDP datagrams per socket and direction at most.
    pub udp_datagrams: usize,
    /// Largest listen backlog (a larger one is cut to this).
    pub max_backlog: usize,
    /// Bytes all socket buffers together may hold (`None`: no limit but
    /// the allocator's); see [`crate::budget`].
    pub buffer_budget: Option<usize>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            seed: 1,
            tcp_rx_buffer: 64 * 1024,
            tcp_tx_buffer: 64 * 1024,
            udp_buffer: 64 * 1024,
            udp_datagrams: 64,
            max_backlog: 1024,
            buffer_budget: None,
        }
    }
}

/// What [`Stack::poll`] found.
#[derive(Clone, Debug, Default)]
pub struct PollOutcome {
    /// When to poll again at the latest, in the caller's nanoseconds
    /// (`None`: only when a frame arrives or a socket call is made).
    pub poll_at_ns: Option<u64>,
    /// Sockets that gained readiness events during this poll: wake their
    /// waiters.
    pub woken: Vec<SocketHandle>,
    /// An interface's configuration changed (a DHCP lease was applied).
    pub config_changed: bool,
}

/// A TCP connection whose socket was closed, finishing its shutdown.
pub(crate) struct Linger {
    pub(crate) h: SmolHandle,
    pub(crate) local: SocketAddr,
    pub(crate) deadline: Instant,
}

/// A network stack: interfaces and sockets.
pub struct Stack {
    pub(crate) cfg: StackConfig,
    pub(crate) ifaces: Vec<Iface>,
    pub(crate) set: SocketSet<'static>,
    pub(crate) socks: BTreeMap<u32, Sock>,
    pub(crate) lingering: Vec<Linger>,
    pub(crate) now: Instant,
    next_id: u32,
    rng: u64,
    pub(crate) next_port: u16,
}

impl Stack {
    /// An empty stack.
    pub fn new(cfg: StackConfig) -> Self {
        let mut s = Stack {
            cfg,
            ifaces: Vec::new(),
            set: SocketSet::new(Vec::new()),
            socks: BTreeMap::new(),
            lingering: Vec::new(),
            now: Instant::from_micros(0),
            next_id: 1,
            rng: cfg.seed ^ 0x9e37_79b9_7f4a_7c15,
            next_port: 0,
        };
        s.next_port = 49152 + (s.next_seed() % 16384) as u16;
        s
    }

    pub(crate) fn next_seed(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn insert(&mut self, sock: Sock) -> SocketHandle {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.socks.insert(id, sock);
        SocketHandle(id)
    }

    pub(crate) fn sock(&self, h: SocketHandle) -> Result<&Sock> {
        self.socks.get(&h.0).ok_or(Errno::EBADF)
    }

    pub(crate) fn sock_mut(&mut self, h: SocketHandle) -> Result<&mut Sock> {
        self.socks.get_mut(&h.0).ok_or(Errno::EBADF)
    }

    /// A new TCP socket with its buffers; ENOBUFS when the budget or the
    /// allocator has no room for them.
    pub(crate) fn new_tcp(&mut self, nodelay: bool) -> Result<SmolHandle> {
        new_tcp_in(&mut self.set, &self.cfg, nodelay)
    }

    /// A new UDP socket with its buffers; ENOBUFS as for TCP.
    pub(crate) fn new_udp(&mut self) -> Result<SmolHandle> {
        let n = self.cfg.udp_datagrams;
        let b = self.cfg.udp_buffer;
        let meta = size_of::<udp::PacketMetadata>();
        budget::admit(&self.set, &self.cfg, 2 * (b + n * meta))?;
        let rx = udp::PacketBuffer::new(
            budget::zeroed(n, udp::PacketMetadata::EMPTY)?,
            budget::zeroed(b, 0u8)?,
        );
        let tx = udp::PacketBuffer::new(
            budget::zeroed(n, udp::PacketMetadata::EMPTY)?,
            budget::zeroed(b, 0u8)?,
        );
        Ok(self.set.add(udp::Socket::new(rx, tx)))
    }

    /// Bytes of socket buffers in use (see [`StackConfig::buffer_budget`]).
    pub fn buffer_bytes(&self) -> usize {
        budget::in_use(&self.set)
    }

    /// Hands a received Ethernet frame to interface `ix`; it is processed
    /// by the next [`Stack::poll`]. Frames for a down interface are
    /// dropped.
    pub fn receive(&mut self, ix: IfIndex, frame: &[u8]) -> Result<()> {
        let i = self.iface_mut(ix)?;
        if i.up {
            i.dev.push(frame);
        } else {
            i.dev.rx_dropped += 1;
        }
        Ok(())
    }

    /// Runs the protocols at time `now_ns` (the caller's monotonic clock,
    /// nanoseconds): processes received frames, sends what is due,
    /// settles connection attempts and closed connections. Call it after
    /// frames arrive, after socket calls, and at
    /// [`PollOutcome::poll_at_ns`].
    pub fn poll(&mut self, now_ns: u64) -> PollOutcome {
        let now = Instant::from_micros((now_ns / 1000) as i64);
        if now > self.now {
            self.now = now;
        }
        let before: Vec<(u32, u16)> = self
            .socks
            .iter()
            .map(|(id, s)| (*id, self.events_of(s).0))
            .collect();
        let mut config_changed = false;
        for _ in 0..4 {
            for i in &mut self.ifaces {
                if !i.up {
                    continue;
                }
                // One received frame at a time, each listener given an
                // idle socket before it; a SYN for a full listener is
                // dropped (crate::backlog).
                loop {
                    let cfg = &self.cfg;
                    backlog::refill(&mut self.socks, &mut self.set, |set, nodelay, local| {
                        listening_tcp_in(set, cfg, nodelay, local)
                    });
                    if let Some(f) = i.dev.rx.front() {
                        if backlog::syn_dropped(f, &self.socks, &self.set) {
                            i.dev.rx.pop_front();
                            i.dev.rx_dropped += 1;
                            continue;
                        }
                    }
                    let r = i
                        .iface
                        .poll_ingress_single(self.now, &mut i.dev, &mut self.set);
                    if matches!(r, PollIngressSingleResult::None) {
                        break;
                    }
                }
                // smoltcp sends at most one packet per socket and pass:
                // repeat while passes send.
                for _ in 0..EGRESS_PASSES {
                    let sent = i.dev.tx_frames;
                    i.iface.poll_egress(self.now, &mut i.dev, &mut self.set);
                    if i.dev.tx_frames == sent {
                        break;
                    }
                }
            }
            config_changed |= self.dhcp_events();
            if !self.settle() {
                break;
            }
        }
        fin_probe::update(&mut self.set);
        let mut woken = Vec::new();
        for (id, old) in before {
            if let Some(s) = self.socks.get(&id) {
                let new = self.events_of(s).0;
                if new & !old != 0 {
                    woken.push(SocketHandle(id));
                }
            }
        }
        PollOutcome {
            poll_at_ns: self
                .poll_at()
                .map(|t| t.total_micros().max(0) as u64 * 1000),
            woken,
            config_changed,
        }
    }

    /// The earliest time anything is due.
    fn poll_at(&mut self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut merge = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        for i in &mut self.ifaces {
            if i.up {
                if let Some(t) = i.iface.poll_at(self.now, &self.set) {
                    merge(t);
                }
            }
        }
        for s in self.socks.values() {
            if let State::Connecting { deadline, .. } = s.state {
                merge(deadline);
            }
        }
        for l in &self.lingering {
            merge(l.deadline);
        }
        at
    }

    /// Settles socket states after the protocols ran; returns whether a
    /// connection was aborted (its RST should go out now).
    fn settle(&mut self) -> bool {
        let now = self.now;
        let mut aborted = false;
        for s in self.socks.values_mut() {
            match &mut s.state {
                State::Connecting { h, peer, deadline } => {
                    let t = self.set.get_mut::<tcp::Socket>(*h);
                    match t.state() {
                        tcp::State::SynSent | tcp::State::SynReceived => {
                            if now >= *deadline {
                                t.abort();
                                s.error = Some(Errno::ETIMEDOUT);
                                aborted = true;
                                let h = *h;
                                self.lingering.push(Linger {
                                    h,
                                    local: s.local.unwrap_or(*peer),
                                    deadline: now,
                                });
                                s.state = State::Failed;
                            }
                        }
                        tcp::State::Closed => {
                            let h = *h;
                            self.set.remove(h);
                            s.error = Some(Errno::ECONNREFUSED);
                            s.state = State::Failed;
                        }
                        _ => s.state = State::Connected { h: *h, peer: *peer },
                    }
                }
                State::Connected { h, .. } => {
                    let t = self.set.get::<tcp::Socket>(*h);
                    if t.state() == tcp::State::Closed && !s.wr_shut && s.error.is_none() {
                        s.error = Some(Errno::ECONNRESET);
                        s.wr_shut = true;
                    }
                }
                State::Listen { pool, .. } => {
                    for h in pool.iter() {
                        let t = self.set.get_mut::<tcp::Socket>(*h);
                        if t.state() == tcp::State::Closed {
                            if let Some(local) = s.local {
                                let _ = t.listen(crate::ops::listen_endpoint(local));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let set = &mut self.set;
        self.lingering.retain(|l| {
            let t = set.get_mut::<tcp::Socket>(l.h);
            if t.state() == tcp::State::Closed {
                set.remove(l.h);
                return false;
            }
            if t.recv_queue() > 0 || now >= l.deadline {
                // Data for a closed socket, or a peer that never finishes:
                // reset, as NetBSD does.
                t.abort();
                aborted = true;
            }
            true
        });
        aborted
    }

    /// Readiness of socket `h` (EBADF if it is not one).
    pub fn ready(&self, h: SocketHandle) -> Result<Events> {
        Ok(self.events_of(self.sock(h)?))
    }

    pub(crate) fn events_of(&self, s: &Sock) -> Events {
        let mut ev = 0u16;
        if s.error.is_some() {
            ev |= POLLERR;
        }
        match &s.state {
            State::Idle | State::Connecting { .. } => {}
            State::Failed => ev |= POLLHUP,
            State::Listen { pool, .. } => {
                if pool.iter().any(|h| acceptable(self.set.get(*h))) {
                    ev |= POLLIN;
                }
            }
            State::Connected { h, .. } => {
                let t = self.set.get::<tcp::Socket>(*h);
                let eof = !t.may_recv();
                if s.rd_shut || t.can_recv() || eof {
                    ev |= POLLIN;
                }
                // With the write side shut, writes fail at once: writable.
                if s.wr_shut || t.can_send() {
                    ev |= POLLOUT;
                }
                if eof && !t.may_send() {
                    ev |= POLLHUP;
                }
            }
            State::Udp { h, .. } => {
                let u = self.set.get::<udp::Socket>(*h);
                if u.can_recv() || s.rd_shut {
                    ev |= POLLIN;
                }
                if u.can_send() {
                    ev |= POLLOUT;
                }
            }
        }
        Events(ev)
    }
}

/// A new TCP socket in `set` with its buffers under `cfg`'s budget;
/// ENOBUFS when there is no room for them.
fn new_tcp_in(
    set: &mut SocketSet<'static>,
    cfg: &StackConfig,
    nodelay: bool,
) -> Result<SmolHandle> {
    budget::admit(set, cfg, cfg.tcp_rx_buffer + cfg.tcp_tx_buffer)?;
    let rx = tcp::SocketBuffer::new(budget::zeroed(cfg.tcp_rx_buffer, 0u8)?);
    let tx = tcp::SocketBuffer::new(budget::zeroed(cfg.tcp_tx_buffer, 0u8)?);
    let mut s = tcp::Socket::new(rx, tx);
    s.set_nagle_enabled(!nodelay);
    Ok(set.add(s))
}

/// A new TCP socket listening on `local`: ENOBUFS without room for its
/// buffers, EINVAL if smoltcp refuses the endpoint.
pub(crate) fn listening_tcp_in(
    set: &mut SocketSet<'static>,
    cfg: &StackConfig,
    nodelay: bool,
    local: SocketAddr,
) -> Result<SmolHandle> {
    let h = new_tcp_in(set, cfg, nodelay)?;
    if set
        .get_mut::<tcp::Socket>(h)
        .listen(crate::ops::listen_endpoint(local))
        .is_err()
    {
        set.remove(h);
        return Err(Errno::EINVAL);
    }
    Ok(h)
}

/// Whether a listener's pool socket holds a connection ready to accept.
pub(crate) fn acceptable(t: &tcp::Socket) -> bool {
    !matches!(
        t.state(),
        tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed
    )
}
