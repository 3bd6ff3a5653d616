//! Keeps a TCP connection whose FIN is the only thing left unacknowledged
//! from stalling: smoltcp 0.14 can end up there with no retransmission
//! scheduled, and a keep-alive interval makes it send the FIN again.
//!
//! How the stall arises (smoltcp 0.14.0, `socket/tcp.rs`): our FIN is
//! sent behind data; a data segment is lost, so the peer holds the FIN
//! out of order and ignores it. Retransmission fills the hole and the
//! peer acknowledges every byte up to the FIN, but not the FIN, whose
//! own copy was lost again. Duplicates of that acknowledgement (the
//! peer answers each go-back-N copy it already had) count as duplicate
//! ACKs; the third starts a fast retransmit, which retransmits only data
//! ("pending fast retransmit" with an empty send buffer sends nothing),
//! and starting it put the retransmission timer to idle. From then on
//! nothing is scheduled: the socket sits in FIN-WAIT-1 (or CLOSING)
//! for good, the peer never sees end of file.
//!
//! smoltcp offers no call to re-arm the timer, but an idle timer with a
//! keep-alive interval fires after that interval, and when it does the
//! socket sends the segment its state calls for, here the FIN (the
//! keep-alive's empty probe is only used when there is nothing else);
//! sending the FIN arms the retransmission timer again, with its normal
//! exponential back-off. While the timer is armed the keep-alive does
//! nothing. So every socket waiting for the ACK of its FIN with no data
//! left gets [`FIN_PROBE`] as its keep-alive interval, and loses it when
//! it leaves that state. SO_KEEPALIVE is not passed to smoltcp (it is
//! only recorded), so this is the only user of smoltcp's keep-alive; an
//! interval other than [`FIN_PROBE`] is never changed here. Cost: when
//! the FIN is acknowledged the idle timer keeps the interval it had, so
//! a FIN-WAIT-2 connection that hears nothing for [`FIN_PROBE`] sends
//! one keep-alive probe (and gets one ACK) before it is quiet.

use smoltcp::iface::SocketSet;
use smoltcp::socket::{tcp, Socket};
use smoltcp::time::Duration;

/// How long a socket waiting for the ACK of its FIN may go without a
/// segment from its peer before it sends the FIN again if nothing else
/// would: smoltcp's smallest retransmission timeout.
pub(crate) const FIN_PROBE: Duration = Duration::from_secs(1);

/// Whether `t` has sent everything but still waits for the ACK of its
/// FIN in a state that counts duplicate ACKs (FIN-WAIT-1, CLOSING; in
/// LAST-ACK smoltcp answers a duplicate ACK instead of counting it).
pub(crate) fn fin_outstanding(t: &tcp::Socket) -> bool {
    matches!(t.state(), tcp::State::FinWait1 | tcp::State::Closing) && t.send_queue() == 0
}

/// Gives every TCP socket of `set` that waits only for the ACK of its
/// FIN the [`FIN_PROBE`] keep-alive, and takes it from those that no
/// longer do. Call it after the protocols ran.
pub(crate) fn update(set: &mut SocketSet<'_>) {
    for (_, s) in set.iter_mut() {
        let Socket::Tcp(t) = s else { continue };
        let probing = t.keep_alive() == Some(FIN_PROBE);
        if fin_outstanding(t) {
            if !probing {
                t.set_keep_alive(Some(FIN_PROBE));
            }
        } else if probing {
            t.set_keep_alive(None);
        }
    }
}
