//! Port forwarding from the host to a guest's service: the `--forward
//! HOSTPORT[:GUESTPORT]` option, the check that the host port is free, and
//! the TCP relay (one thread per direction and connection) that
//! `rumpx-forward` runs in dom0 between QEMU's forwarded port and the guest.

use crate::error::{Error, Result};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A `--forward` request: a host port and, optionally, the guest's port
/// (else the guest's default or what it reports when ready).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardSpec {
    /// The port on 127.0.0.1 of this machine.
    pub host_port: u16,
    /// The guest's service port.
    pub guest_port: Option<u16>,
}

impl std::str::FromStr for ForwardSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|&n| n != 0)
                .ok_or_else(|| format!("{p:?} is not a port (1 to 65535)"))
        };
        let (host, guest) = match s.split_once(':') {
            Some((h, g)) => (port(h)?, Some(port(g)?)),
            None => (port(s)?, None),
        };
        Ok(ForwardSpec {
            host_port: host,
            guest_port: guest,
        })
    }
}

/// An error unless `port` on 127.0.0.1 is free to be forwarded.
pub fn check_host_port_free(port: u16) -> Result<()> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::Invalid {
            what: "forwarded port",
            detail: format!(
                "127.0.0.1:{port} cannot be used ({e}): another program has it; \
                 pick another with --forward HOSTPORT[:GUESTPORT]"
            ),
        }),
    }
}

/// Where connections go; None until the guest's address is known.
pub type Target = Arc<Mutex<Option<SocketAddr>>>;

/// Accepts connections on `listener` for ever, relaying each to the
/// current target (a connection that comes before there is one, or that
/// the target refuses, is closed).
pub fn relay(listener: TcpListener, target: Target) -> io::Result<()> {
    loop {
        let (client, _) = listener.accept()?;
        let to = target.lock().map(|t| *t).unwrap_or(None);
        thread::spawn(move || {
            if let Some(to) = to {
                if let Ok(server) = TcpStream::connect_timeout(&to, Duration::from_secs(10)) {
                    let _ = pipe_both_ways(client, server);
                }
            }
        });
    }
}

/// Copies each side's bytes to the other until both have ended.
fn pipe_both_ways(a: TcpStream, b: TcpStream) -> io::Result<()> {
    let (a2, b2) = (a.try_clone()?, b.try_clone()?);
    let back = thread::spawn(move || copy_then_shut(b2, a2));
    copy_then_shut(a, b);
    let _ = back.join();
    Ok(())
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s sending side.
fn copy_then_shut(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forward_specs() {
        assert_eq!(
            "8080".parse(),
            Ok(ForwardSpec {
                host_port: 8080,
                guest_port: None
            })
        );
        assert_eq!(
            "7007:7".parse(),
            Ok(ForwardSpec {
                host_port: 7007,
                guest_port: Some(7)
            })
        );
        for bad in ["", "0", "x", "80:", "70000", "1:2:3"] {
            assert!(bad.parse::<ForwardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_taken_port_is_refused_clearly() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let err = check_host_port_free(port).unwrap_err().to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        drop(held);
        check_host_port_free(port).unwrap();
    }

    #[test]
    fn relays_both_ways_once_the_target_is_known() {
        // The "guest": an upper-casing echo that answers after its peer ends.
        let service = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let service_addr = service.local_addr().unwrap();
        thread::spawn(move || {
            for conn in service.incoming() {
                let mut conn = conn.unwrap();
                let mut got = Vec::new();
                conn.read_to_end(&mut got).unwrap();
                conn.write_all(&got.to_ascii_uppercase()).unwrap();
            }
        });
        let front = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let front_addr = front.local_addr().unwrap();
        let target: Target = Arc::new(Mutex::new(None));
        let relay_target = target.clone();
        thread::spawn(move || relay(front, relay_target));

        // No target yet: the connection is closed without a byte.
        let mut early = TcpStream::connect(front_addr).unwrap();
        let mut got = Vec::new();
        early.read_to_end(&mut got).unwrap();
        assert!(got.is_empty());

        *target.lock().unwrap() = Some(service_addr);
        let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut conn = TcpStream::connect(front_addr).unwrap();
        let writer = {
            let mut conn = conn.try_clone().unwrap();
            let big = big.clone();
            thread::spawn(move || {
                conn.write_all(&big).unwrap();
                conn.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut back = Vec::new();
        conn.read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        assert_eq!(back, big.to_ascii_uppercase());
    }
}
