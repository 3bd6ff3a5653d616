//! Index arithmetic of Xen's byte rings: free-running 32-bit consumer and
//! producer indices masked with the (power-of-two) ring size, as the PV
//! console's output ring (`io/console.h`, `struct xencons_interface`) and
//! the xenstore rings (`io/xs_wire.h`) use them. Pure logic, tested on the
//! host; the shared-memory sides live in `console` and `xenstore::ring`.

use crate::error::XenError;

/// Size of the console output ring in bytes (`out[]` of
/// `xencons_interface`).
pub const OUT_RING_SIZE: usize = {
    // Taken from the generated struct, so it follows the header: `out[]` is
    // directly followed by `in_cons`.
    use core::mem::offset_of;
    use xen_abi::xencons_interface as X;
    offset_of!(X, in_cons) - offset_of!(X, out)
};

const _: () = assert!(OUT_RING_SIZE.is_power_of_two());

/// Position of a free-running index in a ring of `size` bytes (`size` is a
/// power of two, as `MASK_XENCONS_IDX` assumes).
pub const fn mask(idx: u32, size: usize) -> usize {
    (idx as usize) & (size - 1)
}

/// Bytes written by the producer and not yet consumed. An index pair that
/// claims more than `size` bytes is the peer's fault.
pub fn used(cons: u32, prod: u32, size: usize) -> Result<usize, XenError> {
    let used = prod.wrapping_sub(cons) as usize;
    if used > size {
        Err(XenError::PeerMisbehaved(
            "ring indices: prod - cons exceeds ring size",
        ))
    } else {
        Ok(used)
    }
}

/// Bytes the producer may still write without overrunning the consumer.
pub fn free(cons: u32, prod: u32, size: usize) -> Result<usize, XenError> {
    Ok(size - used(cons, prod, size)?)
}

/// Writes as much of `data` as fits, starting at producer index `prod`,
/// through `put(position, byte)`; returns how many bytes were written. The
/// caller then publishes `prod + n` (after a write barrier) and notifies.
pub fn produce(
    cons: u32,
    prod: u32,
    size: usize,
    data: &[u8],
    mut put: impl FnMut(usize, u8),
) -> Result<usize, XenError> {
    let n = free(cons, prod, size)?.min(data.len());
    for (i, &byte) in data[..n].iter().enumerate() {
        put(mask(prod.wrapping_add(i as u32), size), byte);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_size_comes_from_the_header() {
        assert_eq!(OUT_RING_SIZE, 2048);
    }

    #[test]
    fn used_and_free_handle_wraparound() {
        assert_eq!(used(0, 0, 16), Ok(0));
        assert_eq!(free(0, 0, 16), Ok(16));
        assert_eq!(used(u32::MAX - 2, 3, 16), Ok(6));
        assert_eq!(free(u32::MAX - 2, 3, 16), Ok(10));
        assert_eq!(free(5, 21, 16), Ok(0));
        assert!(matches!(used(5, 22, 16), Err(XenError::PeerMisbehaved(_))));
        // Consumer ahead of producer is also impossible.
        assert!(matches!(used(6, 5, 16), Err(XenError::PeerMisbehaved(_))));
    }

    #[test]
    fn produce_masks_positions_and_stops_when_full() {
        let mut ring = [0u8; 8];
        // Producer at 6, consumer at 4: 6 bytes free, wrapping after 2.
        let n = produce(4, 6, 8, b"abcdefghij", |pos, b| ring[pos] = b).unwrap();
        assert_eq!(n, 6);
        assert_eq!(&ring, b"cdef\0\0ab");
        // Full ring: nothing more fits.
        let n = produce(4, 12, 8, b"x", |_, _| panic!("no room")).unwrap();
        assert_eq!(n, 0);
    }

    /// A simulated backend that drains a few bytes per step: everything the
    /// frontend produces arrives in order, across many wraps of the indices.
    #[test]
    fn producer_and_slow_consumer_keep_order_across_index_wrap() {
        let mut ring = [0u8; 16];
        let start = u32::MAX - 40;
        let (mut cons, mut prod) = (start, start);
        let input: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut output = Vec::new();
        let mut rest = &input[..];
        while !rest.is_empty() || cons != prod {
            let n = produce(cons, prod, ring.len(), rest, |p, b| ring[p] = b).unwrap();
            rest = &rest[n..];
            prod = prod.wrapping_add(n as u32);
            // Backend consumes up to 5 bytes.
            let avail = used(cons, prod, ring.len()).unwrap().min(5);
            for _ in 0..avail {
                output.push(ring[mask(cons, ring.len())]);
                cons = cons.wrapping_add(1);
            }
        }
        assert_eq!(output, input);
    }
}
