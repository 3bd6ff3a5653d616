//! The two halves of the shared xenstore page (`io/xs_wire.h`, `struct
//! xenstore_domain_interface`) as [`RingHalf`]s: `req` with
//! `req_cons`/`req_prod`, `rsp` with `rsp_cons`/`rsp_prod`. The only unsafe
//! code of the xenstore client.

use core::sync::atomic::{AtomicU32, Ordering};

use super::ring::{RingHalf, RING_SIZE};
use xen_abi::xenstore_domain_interface;

/// One ring of a shared xenstore page.
#[derive(Debug)]
pub struct PageHalf {
    data: *mut u8,
    cons: *mut u32,
    prod: *mut u32,
}

// SAFETY: a `PageHalf` only holds addresses into a page that lives as long
// as the domain (see `halves`); every access goes through atomics or
// volatile byte accesses, so using it from another thread is no different
// from using it from this one.
unsafe impl Send for PageHalf {}
// SAFETY: as for `Send`; `&PageHalf` allows only the same atomic and
// volatile accesses.
unsafe impl Sync for PageHalf {}

/// The request ring (we produce) and the response ring (we consume) of the
/// page at `page`.
///
/// # Safety
/// `page` must point to a mapped, writable `xenstore_domain_interface`
/// (aligned to 4 bytes) that stays valid for as long as either half is
/// used, and that Rust code accesses only through these halves.
pub unsafe fn halves(page: *mut xenstore_domain_interface) -> (PageHalf, PageHalf) {
    // SAFETY: the caller guarantees `page` is valid; taking field addresses
    // does not read or create references.
    unsafe {
        (
            PageHalf {
                data: (&raw mut (*page).req).cast::<u8>(),
                cons: &raw mut (*page).req_cons,
                prod: &raw mut (*page).req_prod,
            },
            PageHalf {
                data: (&raw mut (*page).rsp).cast::<u8>(),
                cons: &raw mut (*page).rsp_cons,
                prod: &raw mut (*page).rsp_prod,
            },
        )
    }
}

impl PageHalf {
    fn index(&self, which: *mut u32) -> &AtomicU32 {
        // SAFETY: `which` is `self.cons` or `self.prod`: 4-byte aligned
        // fields of the live page (contract of `halves`), shared with the
        // peer, which also accesses them atomically.
        unsafe { AtomicU32::from_ptr(which) }
    }
}

impl RingHalf for PageHalf {
    fn cons(&self) -> u32 {
        self.index(self.cons).load(Ordering::Acquire)
    }
    fn prod(&self) -> u32 {
        self.index(self.prod).load(Ordering::Acquire)
    }
    fn set_cons(&self, cons: u32) {
        self.index(self.cons).store(cons, Ordering::Release)
    }
    fn set_prod(&self, prod: u32) {
        self.index(self.prod).store(prod, Ordering::Release)
    }
    fn read_byte(&self, pos: usize) -> u8 {
        assert!(pos < RING_SIZE);
        // SAFETY: `pos` is inside the ring array of the live page (checked
        // above); the peer may write other bytes concurrently, so the access
        // is volatile and never forms a reference.
        unsafe { self.data.add(pos).read_volatile() }
    }
    fn write_byte(&self, pos: usize, byte: u8) {
        assert!(pos < RING_SIZE);
        // SAFETY: as in `read_byte`; the ring code writes only bytes the
        // peer does not read until the producer index is published.
        unsafe { self.data.add(pos).write_volatile(byte) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xenstore::ring::{read, write};
    use alloc::boxed::Box;

    #[test]
    fn halves_address_the_right_fields() {
        let page: Box<xenstore_domain_interface> = Box::new(
            // SAFETY: all-zero is a valid `xenstore_domain_interface` (plain
            // integers and byte arrays).
            unsafe { core::mem::zeroed() },
        );
        let raw = Box::into_raw(page);
        {
            // SAFETY: `raw` is a live, exclusively owned allocation, freed
            // below after the halves are gone.
            let (req, rsp) = unsafe { halves(raw) };
            assert_eq!(write(&req, b"hello").unwrap(), 5);
            rsp.set_prod(3);
            rsp.write_byte(0, b'a');
            rsp.write_byte(1, b'b');
            rsp.write_byte(2, b'c');
            let mut buf = [0u8; 8];
            assert_eq!(read(&rsp, &mut buf).unwrap(), 3);
            assert_eq!(&buf[..3], b"abc");
        }
        // SAFETY: from `Box::into_raw` above; no half is left.
        let page = unsafe { Box::from_raw(raw) };
        assert_eq!((page.req_prod, page.req_cons), (5, 0));
        assert_eq!((page.rsp_prod, page.rsp_cons), (3, 3));
        assert_eq!(
            &page.req[..5],
            &[b'h', b'e', b'l', b'l', b'o'].map(|b| b as core::ffi::c_char)
        );
    }
}
