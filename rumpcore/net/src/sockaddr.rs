//! NetBSD `sockaddr_in`/`sockaddr_in6` byte layouts for the socket layer:
//! the shared encoder and decoder of [`rumpuser_abi::client::sockaddr`],
//! with decoding errors as this crate's [`Errno`].

use crate::errno::{Errno, Result};
use core::net::SocketAddr;
use rumpuser_abi::client::sockaddr;

pub use rumpuser_abi::client::sockaddr::{encode, encoded_len, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN};
pub use rumpuser_abi::client::{AF_INET, AF_INET6};

/// Reads a NetBSD socket address; EINVAL when too short for its family,
/// EAFNOSUPPORT for a family other than `AF_INET`/`AF_INET6`. `sin_len`
/// is not checked (callers pass the length separately).
pub fn decode(bytes: &[u8]) -> Result<SocketAddr> {
    sockaddr::decode(bytes).map_err(|e| Errno(e.errno()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_as_errno() {
        let v4 = [16, 2, 0, 80, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode(&v4), Ok("10.0.0.1:80".parse().unwrap()));
        assert_eq!(decode(&v4[..15]), Err(Errno::EINVAL));
        assert_eq!(decode(&[16, 1, 0, 0]), Err(Errno::EAFNOSUPPORT));
    }
}
