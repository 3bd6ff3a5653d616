//! NetBSD `sockaddr_in` (16 bytes) and `sockaddr_in6` (28 bytes) byte
//! layouts: `sin_len` u8, `sin_family` u8, port big-endian, then the
//! address (`sin6_flowinfo` u32 before and `sin6_scope_id` u32 after it).

use crate::errno::{Errno, Result};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// NetBSD `AF_INET`.
pub const AF_INET: i32 = 2;
/// NetBSD `AF_INET6`.
pub const AF_INET6: i32 = 24;
/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;

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

/// Reads a NetBSD socket address; EINVAL when too short for its family,
/// EAFNOSUPPORT for a family other than `AF_INET`/`AF_INET6`. `sin_len`
/// is not checked (callers pass the length separately).
pub fn decode(bytes: &[u8]) -> Result<SocketAddr> {
    if bytes.len() < 2 {
        return Err(Errno::EINVAL);
    }
    match i32::from(bytes[1]) {
        AF_INET => {
            if bytes.len() < SOCKADDR_IN_LEN {
                return Err(Errno::EINVAL);
            }
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let ip = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        AF_INET6 => {
            if bytes.len() < SOCKADDR_IN6_LEN {
                return Err(Errno::EINVAL);
            }
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let flow = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&bytes[8..24]);
            let scope = u32::from_ne_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
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
        assert_eq!(decode(&b).unwrap(), a);
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
        assert_eq!(decode(&b).unwrap(), a);
    }

    #[test]
    fn truncation_and_errors() {
        let a: SocketAddr = "[::1]:1".parse().unwrap();
        let mut short = [0u8; 4];
        assert_eq!(encode(&a, &mut short), 28);
        assert_eq!(short, [28, 24, 0, 1]);
        assert_eq!(decode(&short), Err(Errno::EINVAL));
        assert_eq!(decode(&[16, 1, 0, 0]), Err(Errno::EAFNOSUPPORT));
        assert_eq!(decode(&[16, 2, 0, 0, 1, 2, 3]), Err(Errno::EINVAL));
    }
}
