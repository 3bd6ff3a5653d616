//! The memory budget of socket buffers: TCP and UDP buffers are the
//! stack's big allocations (a TCP socket's two buffers are 128 KiB with
//! the default sizes), so they are allocated fallibly and only while the
//! buffers of all sockets together stay within
//! [`StackConfig::buffer_budget`]. Otherwise the call that wanted them
//! (`socket`, `listen`, `connect`, a listener taking a new connection)
//! fails with ENOBUFS, as NetBSD's socket layer does when mbufs run out,
//! and the rest of the memory stays for everything else.
//!
//! [`StackConfig::for_memory`] derives the budget and the buffer sizes
//! from the memory the kernel may use (NetBSD's `RUMP_MEMLIMIT`): a
//! quarter of it for socket buffers, and buffers small enough that
//! [`SOCKETS_IN_BUDGET`] sockets fit (between 4 and 64 KiB per
//! direction). What is in use is counted from the socket set itself each
//! time buffers are wanted, so no bookkeeping can drift.

use crate::errno::{Errno, Result};
use crate::stack::StackConfig;
use alloc::vec::Vec;
use smoltcp::iface::SocketSet;
use smoltcp::socket::{udp, Socket};

/// The share of the memory limit socket buffers may take (1/4).
const BUDGET_SHARE: usize = 4;
/// How many sockets' buffers a budget derived from a memory limit holds
/// at least (unless the buffers are already at their smallest).
pub const SOCKETS_IN_BUDGET: usize = 64;
/// Smallest TCP buffer per direction chosen for a small memory limit.
const MIN_TCP_BUFFER: usize = 4 * 1024;
/// Largest TCP buffer per direction (the default).
const MAX_TCP_BUFFER: usize = 64 * 1024;

impl StackConfig {
    /// The configuration for a kernel that may use `limit_bytes` of
    /// memory: a quarter of it for socket buffers, TCP and UDP buffers
    /// sized so that [`SOCKETS_IN_BUDGET`] sockets fit (a power of two
    /// from 4 to 64 KiB per direction); other fields as in `self`.
    pub fn for_memory(self, limit_bytes: usize) -> StackConfig {
        let budget = limit_bytes / BUDGET_SHARE;
        let per_direction = budget / SOCKETS_IN_BUDGET / 2;
        let size = if per_direction < MIN_TCP_BUFFER {
            MIN_TCP_BUFFER
        } else {
            // The largest power of two not above `per_direction`.
            (1usize << (usize::BITS - 1 - per_direction.leading_zeros())).min(MAX_TCP_BUFFER)
        };
        StackConfig {
            buffer_budget: Some(budget),
            tcp_rx_buffer: size,
            tcp_tx_buffer: size,
            udp_buffer: size.min(self.udp_buffer),
            ..self
        }
    }
}

/// Bytes of buffers a smoltcp socket holds.
fn buffer_bytes(s: &Socket<'_>) -> usize {
    match s {
        Socket::Tcp(t) => t.recv_capacity() + t.send_capacity(),
        Socket::Udp(u) => {
            u.payload_recv_capacity()
                + u.payload_send_capacity()
                + (u.packet_recv_capacity() + u.packet_send_capacity())
                    * size_of::<udp::PacketMetadata>()
        }
        _ => 0,
    }
}

/// Bytes of socket buffers the sockets in `set` hold.
pub(crate) fn in_use(set: &SocketSet<'_>) -> usize {
    set.iter().map(|(_, s)| buffer_bytes(s)).sum()
}

/// Reserves `bytes` more of socket buffers in `set` under `cfg`'s
/// budget: ENOBUFS if they do not fit.
pub(crate) fn admit(set: &SocketSet<'_>, cfg: &StackConfig, bytes: usize) -> Result<()> {
    match cfg.buffer_budget {
        Some(budget) if in_use(set).saturating_add(bytes) > budget => Err(Errno::ENOBUFS),
        _ => Ok(()),
    }
}

/// A zeroed buffer of `len` elements, ENOBUFS when the allocator has no
/// room (never a panic).
pub(crate) fn zeroed<T: Clone>(len: usize, zero: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOBUFS)?;
    v.resize(len, zero);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_memory_limit() {
        let d = StackConfig::default();
        let small = d.for_memory(12 << 20);
        assert_eq!(small.buffer_budget, Some(3 << 20));
        assert_eq!(small.tcp_rx_buffer, 16 * 1024);
        assert_eq!(small.tcp_tx_buffer, 16 * 1024);
        assert!(small.buffer_budget.unwrap() / (2 * small.tcp_rx_buffer) >= SOCKETS_IN_BUDGET);
        let big = d.for_memory(128 << 20);
        assert_eq!((big.tcp_rx_buffer, big.tcp_tx_buffer), (65536, 65536));
        assert_eq!(big.udp_buffer, d.udp_buffer);
        let tiny = d.for_memory(1 << 20);
        assert_eq!(tiny.tcp_rx_buffer, MIN_TCP_BUFFER);
        assert_eq!(tiny.udp_buffer, MIN_TCP_BUFFER);
        assert_eq!(tiny.seed, d.seed);
        assert_eq!(d.for_memory(0).buffer_budget, Some(0));
    }

    #[test]
    fn unmeetable_requests_are_enobufs() {
        assert_eq!(zeroed(usize::MAX / 2, 0u8), Err(Errno::ENOBUFS));
        assert_eq!(zeroed(3, 1u8), Ok(alloc::vec![1, 1, 1]));
        let set = SocketSet::new(Vec::new());
        let cfg = StackConfig {
            buffer_budget: Some(100),
            ..StackConfig::default()
        };
        assert_eq!(admit(&set, &cfg, 100), Ok(()));
        assert_eq!(admit(&set, &cfg, 101), Err(Errno::ENOBUFS));
        assert_eq!(admit(&set, &StackConfig::default(), usize::MAX), Ok(()));
    }
}
