//! How many connections a server can afford: from the memory free at
//! startup, a reserve kept for everything that does not grow with the
//! connections (file system cache, disk requests, the kernel's own
//! state), and what one connection costs (its thread's stack, its buffer,
//! its socket buffers).

/// What one connection and the server's fixed needs cost, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    /// Bytes one served connection takes at most.
    pub per_connection: usize,
    /// Bytes kept free for everything else.
    pub reserve: usize,
}

/// Connections to serve at once with `free_bytes` free: as many as fit
/// beside the reserve, at least 1 (a server that cannot afford one still
/// tries, and refuses what it cannot get memory for) and at most `max`.
pub fn connection_cap(free_bytes: u64, costs: Costs, max: usize) -> usize {
    let spare = free_bytes.saturating_sub(costs.reserve as u64);
    let fit = spare / costs.per_connection.max(1) as u64;
    usize::try_from(fit)
        .unwrap_or(usize::MAX)
        .clamp(1, max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COSTS: Costs = Costs {
        per_connection: 300 * 1024,
        reserve: 2 << 20,
    };

    #[test]
    fn cap_follows_free_memory() {
        // 64 MiB guest: the maximum.
        assert_eq!(connection_cap(60 << 20, COSTS, 64), 64);
        // 12 MiB guest, about 8 MiB free: 6 MiB / 300 KiB.
        assert_eq!(connection_cap(8 << 20, COSTS, 64), 20);
        // Less than the reserve: still one.
        assert_eq!(connection_cap(1 << 20, COSTS, 64), 1);
        assert_eq!(connection_cap(0, COSTS, 64), 1);
        assert_eq!(connection_cap(u64::MAX, COSTS, 64), 64);
        // Degenerate inputs stay in range.
        let free = Costs {
            per_connection: 0,
            reserve: 0,
        };
        assert_eq!(connection_cap(100, free, 64), 64);
        assert_eq!(connection_cap(100, COSTS, 0), 1);
    }
}
