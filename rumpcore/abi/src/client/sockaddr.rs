//! NetBSD `sockaddr_in` (16 bytes) and `sockaddr_in6` (28 bytes) byte
//! layouts: `sin_len` u8, `sin_family` u8, port big-endian, then the
//! address (`sin6_flowinfo` u32 big-endian before and `sin6_scope_id`
//! u32 after it; `sockaddr_in` ends with 8 zero bytes).

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{AF_INET, AF_INET6};
use crate::errno;

/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;

/// Why bytes are not a socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockaddrError {
    /// Fewer bytes than the family's layout.
    Short,
    /// A family other than `AF_INET`/`AF_INET6`.
    Family,
}

impl SockaddrError {
    /// The NetBSD errno a socket call reports for it (`EINVAL`,
    /// `EAFNOSUPPORT`).
    pub fn errno(self) -> i32 {
        match self {
            SockaddrError::Short => errno::EINVAL,
            SockaddrError::Family => errno::EAFNOSUPPORT,
        }
    }
}

/// The layout length of `addr`'s family.
pub fn encoded_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => SOCKADDR_IN_LEN,
        SocketAddr::V6(_) => SOCKADDR_IN6_LEN,
    }
}

/// Writes `addr` in its NetBSD layout into `out`, truncated to
/// `out.len()` as `getsockname` does; returns the full length.
pub fn encode(addr: &SocketAddr, out: &mut [u8]) -> usize {
    let mut buf = [0u8; SOCKADDR_IN6_LEN];
    let len = encoded_len(addr);
    buf[0] = len as u8;
    buf[2..4].copy_from_slice(&addr.port().to_be_bytes());
    match addr {
        SocketAddr::V4(a) => {
            buf[1] = AF_INET as u8;
            buf[4..8].copy_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            buf[1] = AF_INET6 as u8;
            buf[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            buf[8..24].copy_from_slice(&a.ip().octets());
            buf[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
        }
    }
    let n = len.min(out.len());
    out[..n].copy_from_slice(&buf[..n]);
    len
}

/// Reads a NetBSD socket address from `bytes` (only the valid ones).
/// `sin_len` is not checked: callers pass the length separately.
pub fn decode(bytes: &[u8]) -> Result<SocketAddr, SockaddrError> {
    let family = *bytes.get(1).ok_or(SockaddrError::Short)?;
    let need = match i32::from(family) {
        AF_INET => SOCKADDR_IN_LEN,
        AF_INET6 => SOCKADDR_IN6_LEN,
        _ => return Err(SockaddrError::Family),
    };
    let b = bytes.get(..need).ok_or(SockaddrError::Short)?;
    let port = u16::from_be_bytes([b[2], b[3]]);
    if need == SOCKADDR_IN_LEN {
        let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
        return Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)));
    }
    let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&b[8..24]);
    let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
    Ok(SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::from(ip),
        port,
        flow,
        scope,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_layout() {
        let a: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        let mut b = [0xffu8; 16];
        assert_eq!(encode(&a, &mut b), 16);
        assert_eq!(b, [16, 2, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&b), Ok(a));
        assert_eq!(decode(&b[..15]), Err(SockaddrError::Short));
    }

    #[test]
    fn inet6_layout() {
        let a: SocketAddr = "[fd00::2]:7".parse().unwrap();
        let mut b = [0u8; 28];
        assert_eq!(encode(&a, &mut b), 28);
        assert_eq!(&b[..4], &[28, 24, 0, 7]);
        assert_eq!(&b[4..8], &[0, 0, 0, 0]);
        assert_eq!(b[8], 0xfd);
        assert_eq!(b[23], 2);
        assert_eq!(decode(&b), Ok(a));
        b[1] = 1;
        assert_eq!(decode(&b), Err(SockaddrError::Family));
    }

    #[test]
    fn truncation_and_errors() {
        let a: SocketAddr = "[::1]:1".parse().unwrap();
        let mut short = [0u8; 4];
        assert_eq!(encode(&a, &mut short), 28);
        assert_eq!(short, [28, 24, 0, 1]);
        assert_eq!(decode(&short), Err(SockaddrError::Short));
        assert_eq!(decode(&[16]), Err(SockaddrError::Short));
        assert_eq!(decode(&[16, 1, 0, 0]), Err(SockaddrError::Family));
        assert_eq!(decode(&[16, 2, 0, 0, 1, 2, 3]), Err(SockaddrError::Short));
        assert_eq!(SockaddrError::Short.errno(), errno::EINVAL);
        assert_eq!(SockaddrError::Family.errno(), errno::EAFNOSUPPORT);
    }
}
