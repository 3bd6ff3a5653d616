//! Access log lines: `A.B.C.D:PORT "METHOD TARGET HTTP/1.x" STATUS BYTES`
//! (the guest prefixes `httpd: `). The request line is escaped so a
//! hostile client cannot forge lines or fields.

use alloc::string::String;
use core::fmt::Write;
use core::net::SocketAddr;

use crate::conn::Exchange;

/// The access log line for one exchange with `peer`.
pub fn access_line(peer: SocketAddr, exchange: &Exchange) -> String {
    let mut line = String::with_capacity(exchange.line.len() + 48);
    let _ = write!(line, "{peer} \"");
    for c in exchange.line.chars() {
        match c {
            '"' | '\\' => {
                line.push('\\');
                line.push(c);
            }
            ' '..='~' => line.push(c),
            _ => {
                let _ = write!(line, "\\x{:02x}", u32::from(c) & 0xff);
            }
        }
    }
    let _ = write!(line, "\" {} {}", exchange.status, exchange.bytes);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn formats_and_escapes() {
        let peer = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 1), 40000));
        let ex = Exchange {
            line: "GET /index.html HTTP/1.1".into(),
            status: 200,
            bytes: 1234,
        };
        assert_eq!(
            access_line(peer, &ex),
            "10.99.0.1:40000 \"GET /index.html HTTP/1.1\" 200 1234"
        );
        let ex = Exchange {
            line: "GET /\"x\\\u{1b}[31m\u{ff} HTTP/1.1".into(),
            status: 400,
            bytes: 0,
        };
        assert_eq!(
            access_line(peer, &ex),
            "10.99.0.1:40000 \"GET /\\\"x\\\\\\x1b[31m\\xff HTTP/1.1\" 400 0"
        );
    }
}
