//! blkfront: the Xen PV block frontend (`io/blkif.h`) in safe Rust,
//! generic over the platform's hypervisor services (event channels, grant
//! table, shared pages, xenstore), so the same driver runs on Xen and
//! against the simulated blkback on the host.
//!
//! It speaks to Linux blkback at its full feature level: multi-page rings
//! (`max-ring-page-order`), indirect requests
//! (`feature-max-indirect-segments`), persistent grants
//! (`feature-persistent`), flush, barrier and (secure) discard, 512-byte
//! and 4 KiB logical sectors, read-only disks. Everything the backend
//! writes is checked; a violation fails the disk with the reason,
//! completes every pending request with an error and gives back every
//! grant, never panics.
//!
//! ```ignore
//! let svc = Services { evtchn, grants, pages, xenstore };
//! let mut disk = Blkfront::open(svc, "51712", Config::default())?;
//! disk.connect(None)?;                             // waits in xenstore
//! let info = disk.info().unwrap();                 // size, sector size, features
//! disk.submit(BlkRequest { op: BlkOp::Read { offset: 0, len: 4096 }, tag: 7 })?;
//! disk.poll(|done| bio_done(done.tag, done.result, done.data))?;
//! disk.read_blocking(0, &mut buf, |d| wait_on(d.event_channel()))?;
//! disk.shutdown();
//! ```
//!
//! A guest thread loops: wait on the disk's event channel (or a timeout),
//! [`Blkfront::poll`], and [`Blkfront::poll_xenbus`] for backend state
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
pub mod info;
pub mod request;
pub mod track;
pub mod wire;

mod datapath;
mod disk;
mod grants;
mod queue;

#[cfg(any(test, feature = "sim"))]
pub mod sim;

#[cfg(test)]
mod tests;

pub use config::Config;
pub use counters::Counters;
pub use disk::{vbds, Blkfront, DiskState, PollReport, Services};
pub use error::BlkError;
pub use info::{DiscardInfo, DiskInfo, Features};
pub use request::{BlkOp, BlkRequest, Completion, RequestTag};
