//! Counters of a virtual block device (requests by kind, bytes, indirect
//! requests, persistent grant reuse, errors, queueing, link events),
//! readable at run time through `Blkfront::counters`.

/// What a disk has done since it was created (over reconnects).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Read requests accepted by `submit`.
    pub reads: u64,
    /// Write requests accepted.
    pub writes: u64,
    /// Flush requests accepted.
    pub flushes: u64,
    /// Barrier requests accepted.
    pub barriers: u64,
    /// Discard requests accepted (secure ones included).
    pub discards: u64,
    /// Requests completed successfully.
    pub completed_ok: u64,
    /// Requests completed with an error (any kind).
    pub errors: u64,
    /// Bytes read successfully.
    pub bytes_read: u64,
    /// Bytes written successfully.
    pub bytes_written: u64,
    /// Requests put on the ring (a large request is several).
    pub ring_requests: u64,
    /// Of those, `BLKIF_OP_INDIRECT` requests.
    pub indirect_requests: u64,
    /// Responses `BLKIF_RSP_ERROR`.
    pub io_errors: u64,
    /// Responses `BLKIF_RSP_EOPNOTSUPP`.
    pub not_supported: u64,
    /// Data or indirect pages taken from the persistent pool (already
    /// granted and mapped by the backend).
    pub persistent_hits: u64,
    /// Grants made for data or indirect pages (persistent ones once,
    /// others per request).
    pub grants_mapped: u64,
    /// Times a request had to wait in the software queue because the ring
    /// (or the pages) were full.
    pub queue_full: u64,
    /// Event channel notifications sent to the backend.
    pub notifications: u64,
    /// Times the disk connected (handshakes completed).
    pub connects: u64,
    /// Times the data path went down (backend closed, violation, shutdown).
    pub disconnects: u64,
    /// Failures caused by a protocol violation of the backend.
    pub violations: u64,
}
