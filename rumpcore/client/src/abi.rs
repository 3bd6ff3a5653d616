//! NetBSD's client ABI layouts and numbers, as the client passes them:
//! all of them come from [`rumpuser_abi::client`] (shared with the
//! kernel); this module adds [`SockaddrBuf`], the room a call takes or
//! fills a socket address in.

use core::net::SocketAddr;

pub use rumpuser_abi::client::*;

/// Room for either socket address, as the calls take and fill it.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockaddrBuf {
    /// The address bytes.
    pub bytes: [u8; SOCKADDR_IN6_LEN],
}

impl SockaddrBuf {
    /// `addr` in its NetBSD layout, with that layout's length.
    pub fn encode(addr: &SocketAddr) -> (SockaddrBuf, u32) {
        let mut b = SockaddrBuf::default();
        let len = sockaddr::encode(addr, &mut b.bytes);
        (b, len as u32)
    }

    /// The address the kernel stored, `len` bytes of it valid; None for
    /// an unknown family or a length too short for the family.
    pub fn decode(&self, len: u32) -> Option<SocketAddr> {
        let valid = usize::try_from(len).map_or(self.bytes.len(), |n| n.min(self.bytes.len()));
        sockaddr::decode(&self.bytes[..valid]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_buf_round_trip() {
        let a: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        let (b, len) = SockaddrBuf::encode(&a);
        assert_eq!(len, 16);
        assert_eq!(b.bytes[..4], [16, 2, 0x1f, 0x90]);
        assert_eq!(b.decode(len), Some(a));
        assert_eq!(b.decode(15), None);
        let a: SocketAddr = "[fd00::2]:7".parse().unwrap();
        let (b, len) = SockaddrBuf::encode(&a);
        assert_eq!(len, 28);
        assert_eq!(b.decode(len), Some(a));
        assert_eq!(b.decode(u32::MAX), Some(a));
    }
}
