//! What the frontend asks for: the [`Config`] of a blkfront (ring size,
//! indirect segments, persistent grants, queue depth, logging).

/// The logging hook (one line per device event) and its silent default,
/// shared by every frontend driver.
pub use xen_platform::frontend::{no_log, LogFn};

/// Largest ring blkfront builds: 2^4 = 16 pages (512 requests).
pub const MAX_RING_PAGE_ORDER: u32 = 4;

/// What the frontend uses when the backend offers it.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Largest `ring-page-order` to use (capped at
    /// [`MAX_RING_PAGE_ORDER`]); the ring gets `2^min(this, backend's
    /// max-ring-page-order)` pages.
    pub max_ring_page_order: u32,
    /// Most segments (4 KiB pages) per indirect request (capped at the
    /// backend's `feature-max-indirect-segments` and at 8 indirect pages,
    /// 4096 segments).
    pub max_indirect_segments: u32,
    /// Use persistent grants when the backend offers `feature-persistent`.
    pub use_persistent: bool,
    /// Use indirect requests when the backend offers
    /// `feature-max-indirect-segments`.
    pub use_indirect: bool,
    /// Most requests waiting in the software queue (beyond the ring);
    /// `submit` is `Busy` above it.
    pub max_queued: usize,
    /// Most data and indirect pages kept granted persistently (Linux
    /// blkback keeps 1056 mapped); pages beyond it are granted per
    /// request.
    pub max_persistent_grants: usize,
    /// Most data and indirect pages lent to requests on the ring at once
    /// (memory in flight is 4 KiB each); requests wait in the software
    /// queue beyond it. At least 64.
    pub max_pages_in_flight: usize,
    /// Where disk events (connect, detach, violations) are logged.
    pub log: LogFn,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_ring_page_order: MAX_RING_PAGE_ORDER,
            max_indirect_segments: 256,
            use_persistent: true,
            use_indirect: true,
            max_queued: 1024,
            max_persistent_grants: 1056,
            max_pages_in_flight: 2048,
            log: no_log,
        }
    }
}

impl Config {
    /// The plainest frontend: one ring page, direct requests only, a grant
    /// per request.
    pub fn minimal() -> Config {
        Config {
            max_ring_page_order: 0,
            max_indirect_segments: 0,
            use_persistent: false,
            use_indirect: false,
            ..Config::default()
        }
    }
}
