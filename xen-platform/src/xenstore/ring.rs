//! The xenstore rings (`io/xs_wire.h`, `struct xenstore_domain_interface`):
//! two 1 KiB byte rings (`req`, `rsp`) with free-running 32-bit indices
//! masked with `XENSTORE_RING_SIZE - 1`, and message framing on top
//! (header, then payload, reassembled across wrap-around and across several
//! fills of the ring, since a message may be 4 KiB).
//!
//! The index logic is pure and tested on the host against [`ByteRing`]; the
//! same code serves both roles (the client writes `req` and reads `rsp`, the
//! simulated xenstored the other way round).

use alloc::vec::Vec;
use core::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};

use super::wire::{Header, HEADER_LEN};
use super::XsError;

/// Bytes in each ring (`XENSTORE_RING_SIZE`).
pub const RING_SIZE: usize = xen_abi::XENSTORE_RING_SIZE as usize;
const _: () = assert!(RING_SIZE.is_power_of_two());

/// Position of free-running index `idx` in the ring (`MASK_XENSTORE_IDX`).
pub const fn mask(idx: u32) -> usize {
    crate::ring::mask(idx, RING_SIZE)
}

/// Bytes produced and not yet consumed. Indices claiming more than the ring
/// holds mean the peer misbehaved.
pub fn used(cons: u32, prod: u32) -> Result<usize, XsError> {
    crate::ring::used(cons, prod, RING_SIZE)
        .map_err(|_| XsError::Malformed("ring indices: prod - cons exceeds ring size"))
}

/// One direction of the shared page: a ring of [`RING_SIZE`] bytes with
/// its consumer and producer indices. Index loads are acquire, stores are
/// release; byte accesses touch only the part of the ring the caller owns.
pub trait RingHalf {
    /// Loads the consumer index.
    fn cons(&self) -> u32;
    /// Loads the producer index.
    fn prod(&self) -> u32;
    /// Publishes the consumer index.
    fn set_cons(&self, cons: u32);
    /// Publishes the producer index.
    fn set_prod(&self, prod: u32);
    /// Reads the byte at `pos` (< [`RING_SIZE`]).
    fn read_byte(&self, pos: usize) -> u8;
    /// Writes the byte at `pos` (< [`RING_SIZE`]).
    fn write_byte(&self, pos: usize, byte: u8);
}

/// Producer side: writes as much of `data` as fits without overrunning the
/// consumer, then publishes the producer index. Returns the bytes written;
/// the caller notifies the peer if that is not 0.
pub fn write<R: RingHalf + ?Sized>(ring: &R, data: &[u8]) -> Result<usize, XsError> {
    let prod = ring.prod();
    let cons = ring.cons();
    // The consumer index must be read before we overwrite the space it frees
    // (the header's mb()).
    fence(Ordering::SeqCst);
    let n = (RING_SIZE - used(cons, prod)?).min(data.len());
    for (i, &byte) in data[..n].iter().enumerate() {
        ring.write_byte(mask(prod.wrapping_add(i as u32)), byte);
    }
    if n > 0 {
        // Data before index (wmb()).
        fence(Ordering::Release);
        ring.set_prod(prod.wrapping_add(n as u32));
    }
    Ok(n)
}

/// Consumer side: copies up to `buf.len()` available bytes into `buf`, then
/// publishes the consumer index. Returns the bytes read.
pub fn read<R: RingHalf + ?Sized>(ring: &R, buf: &mut [u8]) -> Result<usize, XsError> {
    let cons = ring.cons();
    let prod = ring.prod();
    let n = used(cons, prod)?.min(buf.len());
    // Index before data (rmb()).
    fence(Ordering::Acquire);
    for (i, slot) in buf[..n].iter_mut().enumerate() {
        *slot = ring.read_byte(mask(cons.wrapping_add(i as u32)));
    }
    if n > 0 {
        // Data read before the space is handed back (mb()).
        fence(Ordering::SeqCst);
        ring.set_cons(cons.wrapping_add(n as u32));
    }
    Ok(n)
}

/// Reassembles messages (header, then `len` payload bytes) from a ring,
/// across wrap-around and partial fills.
#[derive(Debug, Default)]
pub struct MessageReader {
    header: Option<Header>,
    buf: Vec<u8>,
}

impl MessageReader {
    /// A reader at a message boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads what is available. Returns a complete message once its last
    /// byte arrived (reading nothing beyond it), `None` while incomplete.
    /// `check` vets each header before its payload is read (e.g.
    /// [`super::wire::check_reply_header`]); its error is returned and the
    /// reader must not be used again.
    pub fn poll<R: RingHalf + ?Sized>(
        &mut self,
        ring: &R,
        check: impl Fn(&Header) -> Result<(), XsError>,
    ) -> Result<Option<(Header, Vec<u8>)>, XsError> {
        loop {
            let want = match self.header {
                None => HEADER_LEN,
                Some(h) => h.len as usize,
            };
            if self.buf.len() < want {
                let have = self.buf.len();
                self.buf.resize(want, 0);
                let n = read(ring, &mut self.buf[have..])?;
                self.buf.truncate(have + n);
                if self.buf.len() < want {
                    return Ok(None);
                }
            }
            match self.header {
                None => {
                    let mut bytes = [0u8; HEADER_LEN];
                    bytes.copy_from_slice(&self.buf);
                    let h = Header::from_bytes(&bytes);
                    check(&h)?;
                    self.header = Some(h);
                    self.buf.clear();
                }
                Some(h) => {
                    self.header = None;
                    return Ok(Some((h, core::mem::take(&mut self.buf))));
                }
            }
        }
    }
}

/// Queues outgoing messages and writes them into a ring as space frees up.
#[derive(Debug, Default)]
pub struct MessageWriter {
    queue: Vec<u8>,
    sent: usize,
}

impl MessageWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a whole message (header and payload).
    pub fn push(&mut self, message: &[u8]) {
        if self.sent == self.queue.len() {
            self.queue.clear();
            self.sent = 0;
        }
        self.queue.extend_from_slice(message);
    }

    /// Whether everything queued has been written to the ring.
    pub fn is_empty(&self) -> bool {
        self.sent == self.queue.len()
    }

    /// Writes as much as fits; returns the bytes written (notify the peer
    /// when not 0).
    pub fn poll<R: RingHalf + ?Sized>(&mut self, ring: &R) -> Result<usize, XsError> {
        let n = write(ring, &self.queue[self.sent..])?;
        self.sent += n;
        if self.is_empty() {
            self.queue.clear();
            self.sent = 0;
        }
        Ok(n)
    }
}

impl<T: RingHalf + ?Sized> RingHalf for alloc::sync::Arc<T> {
    fn cons(&self) -> u32 {
        (**self).cons()
    }
    fn prod(&self) -> u32 {
        (**self).prod()
    }
    fn set_cons(&self, cons: u32) {
        (**self).set_cons(cons)
    }
    fn set_prod(&self, prod: u32) {
        (**self).set_prod(prod)
    }
    fn read_byte(&self, pos: usize) -> u8 {
        (**self).read_byte(pos)
    }
    fn write_byte(&self, pos: usize, byte: u8) {
        (**self).write_byte(pos, byte)
    }
}

/// A ring half in ordinary memory, for host tests and the simulated
/// xenstored.
#[derive(Debug)]
pub struct ByteRing {
    data: [AtomicU8; RING_SIZE],
    cons: AtomicU32,
    prod: AtomicU32,
}

impl ByteRing {
    /// An empty ring with both indices at `start` (tests start near
    /// `u32::MAX` to cross the index wrap).
    pub fn new(start: u32) -> Self {
        ByteRing {
            data: core::array::from_fn(|_| AtomicU8::new(0)),
            cons: AtomicU32::new(start),
            prod: AtomicU32::new(start),
        }
    }

    /// Sets the indices directly (to make a peer misbehave in tests).
    pub fn force_indices(&self, cons: u32, prod: u32) {
        self.cons.store(cons, Ordering::SeqCst);
        self.prod.store(prod, Ordering::SeqCst);
    }
}

impl Default for ByteRing {
    fn default() -> Self {
        Self::new(0)
    }
}

impl RingHalf for ByteRing {
    fn cons(&self) -> u32 {
        self.cons.load(Ordering::Acquire)
    }
    fn prod(&self) -> u32 {
        self.prod.load(Ordering::Acquire)
    }
    fn set_cons(&self, cons: u32) {
        self.cons.store(cons, Ordering::Release)
    }
    fn set_prod(&self, prod: u32) {
        self.prod.store(prod, Ordering::Release)
    }
    fn read_byte(&self, pos: usize) -> u8 {
        self.data[pos].load(Ordering::Relaxed)
    }
    fn write_byte(&self, pos: usize, byte: u8) {
        self.data[pos].store(byte, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xenstore::wire::{check_reply_header, encode_message, PAYLOAD_MAX};
    use alloc::vec;
    use xen_abi as abi;

    #[test]
    fn ring_size_comes_from_the_header() {
        assert_eq!(RING_SIZE, 1024);
        assert_eq!(
            core::mem::offset_of!(abi::xenstore_domain_interface, rsp),
            RING_SIZE
        );
    }

    #[test]
    fn used_rejects_impossible_indices() {
        assert_eq!(used(0, 0), Ok(0));
        assert_eq!(used(u32::MAX - 1, 5), Ok(7));
        assert_eq!(used(10, 10 + RING_SIZE as u32), Ok(RING_SIZE));
        assert!(matches!(
            used(10, 11 + RING_SIZE as u32),
            Err(XsError::Malformed(_))
        ));
        assert!(matches!(used(11, 10), Err(XsError::Malformed(_))));
    }

    #[test]
    fn write_never_overruns_and_read_wraps() {
        let ring = ByteRing::new(u32::MAX - 3);
        let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        assert_eq!(write(&ring, &data).unwrap(), RING_SIZE);
        assert_eq!(write(&ring, &data).unwrap(), 0);
        let mut buf = vec![0u8; 1000];
        assert_eq!(read(&ring, &mut buf).unwrap(), 1000);
        assert_eq!(&buf[..], &data[..1000]);
        // 1000 bytes freed: the next write wraps both the array and the u32
        // indices.
        assert_eq!(write(&ring, &data[RING_SIZE..]).unwrap(), 976);
        let mut rest = vec![0u8; 2000];
        let n = read(&ring, &mut rest).unwrap();
        assert_eq!(n, 24 + 976);
        assert_eq!(&rest[..n], &data[1000..2000]);
        assert_eq!(ring.cons(), ring.prod());
        assert_eq!(ring.prod(), (u32::MAX - 3).wrapping_add(2000));
    }

    #[test]
    fn peer_indices_are_validated() {
        let ring = ByteRing::new(0);
        ring.force_indices(0, RING_SIZE as u32 + 1);
        let mut buf = [0u8; 4];
        assert!(matches!(read(&ring, &mut buf), Err(XsError::Malformed(_))));
        assert!(matches!(write(&ring, b"x"), Err(XsError::Malformed(_))));
        let mut reader = MessageReader::new();
        assert!(reader.poll(&ring, check_reply_header).is_err());
    }

    /// Messages bigger than the ring arrive whole, in order, with a slow
    /// consumer and indices that wrap.
    #[test]
    fn messages_reassemble_across_wrap_and_partial_fills() {
        let ring = ByteRing::new(u32::MAX - 100);
        let msgs: Vec<Vec<u8>> = (0..20u32)
            .map(|i| {
                let len = [0usize, 1, 15, 16, 1023, 1024, 1025, PAYLOAD_MAX][i as usize % 8];
                let payload: Vec<u8> = (0..len).map(|j| (j as u32 * 7 + i) as u8).collect();
                encode_message(abi::XS_READ, i, 0, &payload)
            })
            .collect();
        let mut writer = MessageWriter::new();
        for m in &msgs {
            writer.push(m);
        }
        let mut reader = MessageReader::new();
        let mut got = Vec::new();
        let mut steps = 0;
        while got.len() < msgs.len() {
            steps += 1;
            assert!(steps < 10_000);
            writer.poll(&ring).unwrap();
            // The reader takes whatever each producer step made available.
            while let Some((h, payload)) = reader.poll(&ring, check_reply_header).unwrap() {
                got.push(encode_message(h.type_, h.req_id, h.tx_id, &payload));
            }
        }
        assert!(writer.is_empty());
        assert_eq!(got, msgs);
    }

    #[test]
    fn bad_header_is_reported_before_the_payload_is_read() {
        let ring = ByteRing::new(0);
        let mut msg = encode_message(abi::XS_READ, 1, 0, b"");
        msg[12..16].copy_from_slice(&(PAYLOAD_MAX as u32 + 1).to_ne_bytes());
        write(&ring, &msg).unwrap();
        let mut reader = MessageReader::new();
        assert!(matches!(
            reader.poll(&ring, check_reply_header),
            Err(XsError::Malformed(_))
        ));
    }
}
