//! Counters of a vif (packets, bytes, drops, errors per direction, and the
//! link events), readable at run time through `Netfront::counters`.

/// What a vif has done since it was created (over reconnects).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames delivered to the caller.
    pub rx_packets: u64,
    /// Bytes of the frames delivered.
    pub rx_bytes: u64,
    /// Frames the backend reported dropped (`NETIF_RSP_DROPPED`), or lost
    /// half-received when the backend went away.
    pub rx_dropped: u64,
    /// Frames the backend reported in error (`NETIF_RSP_ERROR`), or that
    /// arrived empty.
    pub rx_errors: u64,
    /// Frames the backend acknowledged as sent (`NETIF_RSP_OKAY`).
    pub tx_packets: u64,
    /// Bytes of the frames acknowledged.
    pub tx_bytes: u64,
    /// Frames the backend dropped (`NETIF_RSP_DROPPED`), frames in flight
    /// when the backend went away, and sends refused while not connected.
    pub tx_dropped: u64,
    /// Frames the backend answered with `NETIF_RSP_ERROR`.
    pub tx_errors: u64,
    /// Event channel notifications sent to the backend.
    pub notifications: u64,
    /// Times the data path came up (handshakes completed).
    pub connects: u64,
    /// Times the data path went down (backend closed, violation, shutdown).
    pub disconnects: u64,
    /// Disconnects caused by a protocol violation of the backend.
    pub violations: u64,
}
