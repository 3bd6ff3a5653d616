//! The socket calls: socket, bind, listen, accept, connect, read/write,
//! sendto/recvfrom, shutdown, close, options, names, non-blocking flag.
//! None of them blocks: EAGAIN/EINPROGRESS tell the caller to wait for
//! [`Stack::ready`] events and call again.

use crate::consts::*;
use crate::errno::{Errno, Result};
use crate::socket::{Domain, Sock, SockType, SocketHandle, State};
use crate::stack::{acceptable, listening_tcp_in, Linger, Stack, CONNECT_TIMEOUT, LINGER_MAX};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

/// `EDESTADDRREQ`: a datagram without a destination.
const EDESTADDRREQ: Errno = Errno(39);

/// smoltcp's listen endpoint for a bound address.
pub(crate) fn listen_endpoint(local: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!local.ip().is_unspecified()).then(|| IpAddress::from(local.ip())),
        port: local.port(),
    }
}

fn endpoint(a: SocketAddr) -> IpEndpoint {
    IpEndpoint::new(IpAddress::from(a.ip()), a.port())
}

fn from_endpoint(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(e.addr), e.port)
}

fn unspecified(d: Domain) -> SocketAddr {
    match d {
        Domain::Inet => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        Domain::Inet6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

fn family_ok(d: Domain, a: &SocketAddr) -> bool {
    matches!(
        (d, a),
        (Domain::Inet, SocketAddr::V4(_)) | (Domain::Inet6, SocketAddr::V6(_))
    )
}

impl Stack {
    /// `socket(domain, type, 0)`: `domain` is AF_INET (2) or AF_INET6
    /// (24), `ty` SOCK_STREAM (1) or SOCK_DGRAM (2).
    pub fn socket(&mut self, domain: i32, ty: i32) -> Result<SocketHandle> {
        let domain = match domain {
            crate::sockaddr::AF_INET => Domain::Inet,
            crate::sockaddr::AF_INET6 => Domain::Inet6,
            _ => return Err(Errno::EAFNOSUPPORT),
        };
        let sock = match ty {
            SOCK_STREAM => Sock::new(domain, SockType::Stream, State::Idle),
            SOCK_DGRAM => {
                let h = self.new_udp()?;
                Sock::new(domain, SockType::Dgram, State::Udp { h, peer: None })
            }
            _ => return Err(Errno::EPROTONOSUPPORT),
        };
        Ok(self.insert(sock))
    }

    /// Whether `addr` may be bound by a socket of type `ty` with
    /// SO_REUSEADDR `reuse` (NetBSD rules, simplified: TCP may share a
    /// port with non-listening sockets under SO_REUSEADDR; UDP when both
    /// sockets set it).
    fn port_free(&self, ty: SockType, addr: SocketAddr, reuse: bool) -> bool {
        let overlaps = |other: &SocketAddr| {
            other.port() == addr.port()
                && other.is_ipv4() == addr.is_ipv4()
                && (other.ip().is_unspecified()
                    || addr.ip().is_unspecified()
                    || other.ip() == addr.ip())
        };
        for s in self.socks.values() {
            let Some(local) = s.local else { continue };
            if s.ty != ty || !overlaps(&local) {
                continue;
            }
            let shared = match ty {
                SockType::Stream => reuse && !s.listening(),
                SockType::Dgram => reuse && s.reuseaddr,
            };
            if !shared {
                return false;
            }
        }
        if ty == SockType::Stream && !reuse && self.lingering.iter().any(|l| overlaps(&l.local)) {
            return false;
        }
        true
    }

    /// Whether `ip` is unspecified or one of the interfaces' addresses.
    fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_unspecified()
            || self.ifaces.iter().any(|i| {
                i.iface
                    .ip_addrs()
                    .iter()
                    .any(|c| IpAddr::from(c.address()) == ip)
            })
    }

    /// Binds an ephemeral port on `ip`.
    fn ephemeral(&mut self, ty: SockType, ip: IpAddr, reuse: bool) -> Result<SocketAddr> {
        for _ in 0..16384 {
            let port = self.next_port;
            self.next_port = if port == 65535 { 49152 } else { port + 1 };
            let a = SocketAddr::new(ip, port);
            if self.port_free(ty, a, reuse) {
                return Ok(a);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    /// `bind`: EADDRINUSE when the port is taken (see SO_REUSEADDR),
    /// EADDRNOTAVAIL for an address no interface has, EINVAL if bound.
    pub fn bind(&mut self, h: SocketHandle, addr: SocketAddr) -> Result<()> {
        let s = self.sock(h)?;
        if !family_ok(s.domain, &addr) {
            return Err(Errno::EAFNOSUPPORT);
        }
        if s.local.is_some() || !matches!(s.state, State::Idle | State::Udp { .. }) {
            return Err(Errno::EINVAL);
        }
        if !self.is_local(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let (ty, reuse) = (s.ty, s.reuseaddr);
        let addr = if addr.port() == 0 {
            self.ephemeral(ty, addr.ip(), reuse)?
        } else if self.port_free(ty, addr, reuse) {
            addr
        } else {
            return Err(Errno::EADDRINUSE);
        };
        let s = self.sock_mut(h)?;
        s.local = Some(addr);
        if let State::Udp { h: u, .. } = s.state {
            self.set
                .get_mut::<udp::Socket>(u)
                .bind(listen_endpoint(addr))
                .map_err(|_| Errno::EINVAL)?;
        }
        Ok(())
    }

    /// Binds an unbound socket to an ephemeral port (connect, sendto,
    /// listen without bind).
    fn autobind(&mut self, h: SocketHandle) -> Result<SocketAddr> {
        let s = self.sock(h)?;
        if let Some(a) = s.local {
            return Ok(a);
        }
        self.bind(h, unspecified(s.domain))?;
        Ok(self.sock(h)?.local.unwrap_or(unspecified(Domain::Inet)))
    }

    /// `listen`: keeps up to `backlog` (at least 1) connections waiting
    /// for `accept`. While that many wait, or while the buffer budget has
    /// no room for another connection, SYNs for the port are dropped (the
    /// peer retries them). Only one idle socket's buffers are allocated
    /// up front ([`crate::backlog`]); ENOBUFS when even they do not fit.
    pub fn listen(&mut self, h: SocketHandle, backlog: i32) -> Result<()> {
        let s = self.sock(h)?;
        if s.ty != SockType::Stream {
            return Err(Errno::EOPNOTSUPP);
        }
        let want = (backlog.max(1) as usize).min(self.cfg.max_backlog);
        let nodelay = s.nodelay;
        match &s.state {
            State::Idle | State::Listen { .. } => {}
            _ => return Err(Errno::EINVAL),
        }
        let local = self.autobind(h)?;
        if let State::Listen { backlog, .. } = &mut self.sock_mut(h)?.state {
            *backlog = want;
            return Ok(());
        }
        let idle = listening_tcp_in(&mut self.set, &self.cfg, nodelay, local)?;
        self.sock_mut(h)?.state = State::Listen {
            pool: alloc::vec![idle],
            backlog: want,
        };
        Ok(())
    }

    /// `accept`: a waiting connection and its peer's address, or EAGAIN.
    pub fn accept(&mut self, h: SocketHandle) -> Result<(SocketHandle, SocketAddr)> {
        let s = self.sock(h)?;
        let State::Listen { pool, .. } = &s.state else {
            return Err(Errno::EINVAL);
        };
        let (domain, nodelay, local) = (s.domain, s.nodelay, s.local);
        let Some(idx) = pool.iter().position(|t| acceptable(self.set.get(*t))) else {
            return Err(Errno::EAGAIN);
        };
        let conn = pool[idx];
        // The pool gets a new idle socket at the next poll
        // (crate::backlog), if the budget has room.
        if let State::Listen { pool, .. } = &mut self.sock_mut(h)?.state {
            pool.remove(idx);
        }
        let t = self.set.get::<tcp::Socket>(conn);
        let peer = t.remote_endpoint().map(from_endpoint);
        let mine = t.local_endpoint().map(from_endpoint);
        let peer = peer.unwrap_or(unspecified(domain));
        let mut sock = Sock::new(domain, SockType::Stream, State::Connected { h: conn, peer });
        sock.nodelay = nodelay;
        sock.local = mine.or(local);
        Ok((self.insert(sock), peer))
    }

    /// `connect`. TCP: EINPROGRESS once started (poll for POLLOUT or
    /// POLLERR, then [`Stack::take_error`]), EALREADY while pending,
    /// EISCONN when connected; a failed attempt reports ECONNREFUSED or
    /// ETIMEDOUT. UDP: sets the default peer.
    pub fn connect(&mut self, h: SocketHandle, addr: SocketAddr) -> Result<()> {
        let s = self.sock(h)?;
        if !family_ok(s.domain, &addr) {
            return Err(Errno::EAFNOSUPPORT);
        }
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(Errno::EADDRNOTAVAIL);
        }
        match &s.state {
            State::Udp { .. } => {
                self.route(addr.ip())?;
                self.autobind(h)?;
                if let State::Udp { peer, .. } = &mut self.sock_mut(h)?.state {
                    *peer = Some(addr);
                }
                return Ok(());
            }
            State::Connecting { .. } => return Err(Errno::EALREADY),
            State::Connected { .. } => return Err(Errno::EISCONN),
            State::Listen { .. } => return Err(Errno::EOPNOTSUPP),
            State::Failed => return Err(self.sock_mut(h)?.error.take().unwrap_or(Errno::EINVAL)),
            State::Idle => {}
        }
        let nodelay = s.nodelay;
        let src = self.route(addr.ip())?;
        let bound = self.autobind(h)?;
        let local = SocketAddr::new(
            if bound.ip().is_unspecified() {
                src
            } else {
                bound.ip()
            },
            bound.port(),
        );
        let ix = self
            .ifaces
            .iter()
            .position(|i| {
                i.up && i
                    .iface
                    .get_source_address(&IpAddress::from(addr.ip()))
                    .is_some()
            })
            .ok_or(Errno::ENETUNREACH)?;
        let t = self.new_tcp(nodelay)?;
        let cx = self.ifaces[ix].iface.context();
        if self
            .set
            .get_mut::<tcp::Socket>(t)
            .connect(cx, endpoint(addr), listen_endpoint(local))
            .is_err()
        {
            self.set.remove(t);
            return Err(Errno::EADDRNOTAVAIL);
        }
        let deadline = self.now + CONNECT_TIMEOUT;
        let s = self.sock_mut(h)?;
        s.local = Some(local);
        s.state = State::Connecting {
            h: t,
            peer: addr,
            deadline,
        };
        Err(Errno::EINPROGRESS)
    }

    /// The source address for reaching `dst`, ENETUNREACH if no up
    /// interface has an address of its family.
    fn route(&mut self, dst: IpAddr) -> Result<IpAddr> {
        let d = IpAddress::from(dst);
        for i in &mut self.ifaces {
            if i.up {
                if let Some(a) = i.iface.get_source_address(&d) {
                    return Ok(IpAddr::from(a));
                }
            }
        }
        Err(Errno::ENETUNREACH)
    }

    /// The pending error (`SO_ERROR`), cleared.
    pub fn take_error(&mut self, h: SocketHandle) -> Result<Option<Errno>> {
        let s = self.sock_mut(h)?;
        let e = s.error.take();
        Ok(e)
    }

    /// Whether the socket is a connected TCP stream (a finished
    /// `connect`).
    pub fn is_connected(&self, h: SocketHandle) -> Result<bool> {
        Ok(matches!(self.sock(h)?.state, State::Connected { .. }))
    }

    /// `read`: bytes read, 0 at end of stream, EAGAIN when none yet.
    pub fn read(&mut self, h: SocketHandle, buf: &mut [u8]) -> Result<usize> {
        self.recvfrom(h, buf).map(|(n, _)| n)
    }

    /// `recvfrom`: bytes read and (for UDP) the sender. A datagram longer
    /// than `buf` is truncated.
    pub fn recvfrom(
        &mut self,
        h: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, Option<SocketAddr>)> {
        let s = self.socks.get_mut(&h.0).ok_or(Errno::EBADF)?;
        if s.rd_shut {
            return Ok((0, None));
        }
        match &s.state {
            State::Idle | State::Listen { .. } => Err(Errno::ENOTCONN),
            State::Connecting { .. } => Err(Errno::EAGAIN),
            State::Failed => Err(s.error.take().unwrap_or(Errno::ENOTCONN)),
            State::Connected { h: t, peer } => {
                let peer = *peer;
                let t = self.set.get_mut::<tcp::Socket>(*t);
                match t.recv_slice(buf) {
                    Ok(0) if !buf.is_empty() => Err(Errno::EAGAIN),
                    Ok(n) => Ok((n, Some(peer))),
                    Err(tcp::RecvError::Finished) => Ok((0, Some(peer))),
                    Err(tcp::RecvError::InvalidState) => match s.error.take() {
                        Some(e) => Err(e),
                        None => Ok((0, Some(peer))),
                    },
                }
            }
            State::Udp { h: u, peer } => {
                let peer = *peer;
                let u = self.set.get_mut::<udp::Socket>(*u);
                loop {
                    let (data, meta) = u.recv().map_err(|_| Errno::EAGAIN)?;
                    let from = from_endpoint(meta.endpoint);
                    if peer.is_some_and(|p| p != from) {
                        continue;
                    }
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    return Ok((n, Some(from)));
                }
            }
        }
    }

    /// `write`: bytes accepted (maybe fewer than given), EAGAIN when the
    /// send buffer is full, EPIPE once the write side is closed (by
    /// `shutdown` or a reset).
    pub fn write(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize> {
        self.sendto(h, data, None)
    }

    /// `sendto`: for TCP `to` is ignored; for UDP it is the destination
    /// (else the connected peer; EDESTADDRREQ without either).
    pub fn sendto(
        &mut self,
        h: SocketHandle,
        data: &[u8],
        to: Option<SocketAddr>,
    ) -> Result<usize> {
        let s = self.sock(h)?;
        if s.wr_shut {
            return Err(Errno::EPIPE);
        }
        match &s.state {
            State::Idle | State::Listen { .. } => Err(Errno::ENOTCONN),
            State::Connecting { .. } => Err(Errno::EAGAIN),
            State::Failed => {
                let s = self.sock_mut(h)?;
                Err(s.error.take().unwrap_or(Errno::ENOTCONN))
            }
            State::Connected { h: t, .. } => {
                let t = self.set.get_mut::<tcp::Socket>(*t);
                if !t.may_send() {
                    return Err(Errno::EPIPE);
                }
                match t.send_slice(data) {
                    Ok(0) if !data.is_empty() => Err(Errno::EAGAIN),
                    Ok(n) => Ok(n),
                    Err(_) => Err(Errno::EPIPE),
                }
            }
            State::Udp { h: u, peer } => {
                let (u, domain) = (*u, s.domain);
                let dst = to.or(*peer).ok_or(EDESTADDRREQ)?;
                if !family_ok(domain, &dst) {
                    return Err(Errno::EAFNOSUPPORT);
                }
                let max = match dst {
                    SocketAddr::V4(_) => 1500 - 28,
                    SocketAddr::V6(_) => 1500 - 48,
                };
                if data.len() > max {
                    return Err(Errno::EMSGSIZE);
                }
                self.route(dst.ip())?;
                self.autobind(h)?;
                let sock = self.set.get_mut::<udp::Socket>(u);
                match sock.send_slice(data, endpoint(dst)) {
                    Ok(()) => Ok(data.len()),
                    Err(udp::SendError::BufferFull) => Err(Errno::EAGAIN),
                    Err(udp::SendError::Unaddressable) => Err(Errno::EADDRNOTAVAIL),
                }
            }
        }
    }

    /// `shutdown(how)`: SHUT_RD (0), SHUT_WR (1, sends FIN), SHUT_RDWR (2).
    pub fn shutdown(&mut self, h: SocketHandle, how: i32) -> Result<()> {
        let (rd, wr) = match how {
            SHUT_RD => (true, false),
            SHUT_WR => (false, true),
            SHUT_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let s = self.socks.get_mut(&h.0).ok_or(Errno::EBADF)?;
        match &s.state {
            State::Connected { h: t, .. } => {
                if wr {
                    self.set.get_mut::<tcp::Socket>(*t).close();
                }
            }
            State::Udp { .. } => {}
            _ => return Err(Errno::ENOTCONN),
        }
        s.rd_shut |= rd;
        s.wr_shut |= wr;
        Ok(())
    }

    /// `close`: the handle is gone at once; a TCP connection finishes its
    /// shutdown in the background (reset if unread data was left or more
    /// arrives), a listener resets the connections not yet accepted.
    pub fn close(&mut self, h: SocketHandle) -> Result<()> {
        let s = self.socks.remove(&h.0).ok_or(Errno::EBADF)?;
        let deadline = self.now + LINGER_MAX;
        let local = s.local.unwrap_or(unspecified(s.domain));
        match s.state {
            State::Idle | State::Failed => {}
            State::Udp { h, .. } => {
                self.set.remove(h);
            }
            State::Connecting { h, .. } => {
                self.set.get_mut::<tcp::Socket>(h).abort();
                self.lingering.push(Linger { h, local, deadline });
            }
            State::Connected { h, .. } => {
                let t = self.set.get_mut::<tcp::Socket>(h);
                if t.recv_queue() > 0 || s.rd_shut && t.may_recv() {
                    t.abort();
                } else {
                    t.close();
                }
                self.lingering.push(Linger { h, local, deadline });
            }
            State::Listen { pool, .. } => {
                for t in pool {
                    let sock = self.set.get_mut::<tcp::Socket>(t);
                    if sock.state() == tcp::State::Listen {
                        self.set.remove(t);
                    } else {
                        sock.abort();
                        self.lingering.push(Linger {
                            h: t,
                            local,
                            deadline,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// `setsockopt` with an int value: SOL_SOCKET SO_REUSEADDR and
    /// SO_KEEPALIVE, IPPROTO_TCP TCP_NODELAY; ENOPROTOOPT otherwise.
    pub fn setsockopt(&mut self, h: SocketHandle, level: i32, name: i32, value: i32) -> Result<()> {
        let s = self.socks.get_mut(&h.0).ok_or(Errno::EBADF)?;
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => s.reuseaddr = value != 0,
            (SOL_SOCKET, SO_KEEPALIVE) => s.keepalive = value != 0,
            (IPPROTO_TCP, TCP_NODELAY) if s.ty == SockType::Stream => {
                s.nodelay = value != 0;
                let handles: Vec<_> = match &s.state {
                    State::Connecting { h, .. } | State::Connected { h, .. } => {
                        alloc::vec![*h]
                    }
                    State::Listen { pool, .. } => pool.clone(),
                    _ => Vec::new(),
                };
                for t in handles {
                    self.set
                        .get_mut::<tcp::Socket>(t)
                        .set_nagle_enabled(value == 0);
                }
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// `getsockopt` of an int option: those of [`Stack::setsockopt`],
    /// SO_ERROR (clears it) and SO_TYPE.
    pub fn getsockopt(&mut self, h: SocketHandle, level: i32, name: i32) -> Result<i32> {
        let s = self.sock_mut(h)?;
        Ok(match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => i32::from(s.reuseaddr),
            (SOL_SOCKET, SO_KEEPALIVE) => i32::from(s.keepalive),
            (SOL_SOCKET, SO_ERROR) => s.error.take().map_or(0, |e| e.0),
            (SOL_SOCKET, SO_TYPE) => match s.ty {
                SockType::Stream => SOCK_STREAM,
                SockType::Dgram => SOCK_DGRAM,
            },
            (IPPROTO_TCP, TCP_NODELAY) if s.ty == SockType::Stream => i32::from(s.nodelay),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    /// `getsockname`: the local address (unspecified, port 0, if unbound).
    pub fn getsockname(&self, h: SocketHandle) -> Result<SocketAddr> {
        let s = self.sock(h)?;
        Ok(s.local.unwrap_or(unspecified(s.domain)))
    }

    /// `getpeername`: ENOTCONN unless connected.
    pub fn getpeername(&self, h: SocketHandle) -> Result<SocketAddr> {
        match self.sock(h)?.state {
            State::Connected { peer, .. } => Ok(peer),
            State::Udp { peer: Some(p), .. } => Ok(p),
            _ => Err(Errno::ENOTCONN),
        }
    }

    /// `fcntl(F_GETFL)`: O_NONBLOCK (0x4) when set.
    pub fn fcntl_getfl(&self, h: SocketHandle) -> Result<i32> {
        Ok(if self.sock(h)?.nonblocking {
            O_NONBLOCK
        } else {
            0
        })
    }

    /// `fcntl(F_SETFL)`: remembers O_NONBLOCK for the kernel, which
    /// decides whether to wait on EAGAIN/EINPROGRESS.
    pub fn fcntl_setfl(&mut self, h: SocketHandle, flags: i32) -> Result<()> {
        self.sock_mut(h)?.nonblocking = flags & O_NONBLOCK != 0;
        Ok(())
    }

    /// All sockets' handles.
    pub fn sockets(&self) -> Vec<SocketHandle> {
        self.socks.keys().map(|k| SocketHandle(*k)).collect()
    }
}

impl Stack {
    /// Debugging aid: the TCP state name of a connected socket.
    pub fn tcp_state(&self, h: SocketHandle) -> Option<alloc::string::String> {
        match self.sock(h).ok()?.state {
            State::Connected { h, .. } | State::Connecting { h, .. } => {
                Some(alloc::format!("{}", self.set.get::<tcp::Socket>(h).state()))
            }
            _ => None,
        }
    }
}
