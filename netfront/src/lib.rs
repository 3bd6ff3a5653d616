//! netfront: the Xen PV network frontend (`io/netif.h`) in safe Rust,
//! generic over the platform's hypervisor services (event channels, grant
//! table, shared pages, xenstore), so the same driver runs on Xen and
//! against the simulated netback on the host.
//!
//! It speaks to Linux netback at its full feature level: `request-rx-copy`,
//! scatter-gather (`feature-sg`) in both directions, GSO extra info for
//! TCPv4/v6 both ways, checksum offload flags both ways, split event
//! channels, the ring notification hold-off of `io/ring.h`. Everything the
//! backend writes is checked; a violation disconnects the vif with the
//! reason and gives back every grant, never panics.
//!
//! ```ignore
//! let svc = Services { evtchn, grants, pages, xenstore };
//! let mut vif = Netfront::open(svc, "0", Config::default())?;
//! vif.connect(None)?;                       // waits in xenstore
//! vif.send(&[&header, &payload], TxOffload::default())?;
//! vif.poll(|frame| stack.receive(frame.data, frame.meta))?;
//! let c = vif.counters();
//! vif.shutdown();
//! ```
//!
//! A guest thread loops: wait on the vif's event channels (or a timeout),
//! [`Netfront::poll`], and [`Netfront::poll_xenbus`] for backend state
//! changes (detach, reconnect).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "sim"))]
extern crate std;

pub mod config;
pub mod counters;
pub mod error;
pub mod handshake;
pub mod rx_parse;
pub mod tx_track;
pub mod wire;

mod grants;
mod rx;
mod tx;
mod vif;

#[cfg(any(test, feature = "sim"))]
pub mod sim;

#[cfg(test)]
mod tests;

pub use config::{BackendFeatures, Config, Mac};
pub use counters::Counters;
pub use error::NetError;
pub use rx::RxFrame;
pub use rx_parse::{RxChecksum, RxMeta};
pub use tx::{TxChecksum, TxOffload};
pub use vif::{vifs, LinkState, Netfront, PollReport, Services};
pub use wire::{Gso, GsoKind};
