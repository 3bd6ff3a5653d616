//! `rumpx-net-probe`: network traffic a dom0 pushes at a guest in tests and
//! benchmarks, with a one-line machine-readable summary per run.
//!
//! - `udp-echo ADDR:PORT COUNT [SIZE]`: COUNT datagrams of SIZE bytes, each
//!   carrying its sequence number and seeded bytes, 32 in flight at a time;
//!   a datagram not echoed within 500 ms is sent again. Every byte echoed
//!   must match.
//! - `tcp-echo ADDR:PORT BYTES`: streams BYTES seeded bytes to an echo
//!   service while reading the echo back; compares FNV-1a digests.
//! - `tcp-sink ADDR:PORT BYTES`: streams BYTES seeded bytes, half-closes,
//!   and reads what the service answers until it closes (our guests answer
//!   "<bytes> <fnv1a64>"); the time is the throughput figure.
//!
//! Exit status 0 only when everything arrived intact.

use rumpx::fingerprint::Fnv1a as Fnv;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// A seeded byte stream (xorshift64*), the same on both sides of a check.
struct Pattern(u64);

impl Pattern {
    fn new(seed: u64) -> Self {
        Pattern(seed | 1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let word = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

fn parse<T: std::str::FromStr>(what: &str, value: Option<&String>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("missing {what}"))?;
    value
        .parse()
        .map_err(|_| format!("{what}: cannot parse {value:?}"))
}

/// Datagrams in flight at once in `udp-echo`.
const UDP_WINDOW: u64 = 32;

fn udp_echo(addr: SocketAddr, count: u64, size: usize) -> Result<(), String> {
    if !(8..=65_000).contains(&size) {
        return Err("SIZE must be 8 to 65000 bytes".into());
    }
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    socket
        .connect(addr)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| format!("timeout: {e}"))?;
    let started = Instant::now();
    let mut pattern = Pattern::new(0x5eed);
    let mut back = vec![0u8; size + 1];
    let (mut retries, mut bytes) = (0u64, 0u64);
    let mut first = 0;
    while first < count {
        // A window of datagrams, each resent until its echo came back.
        let window: Vec<Vec<u8>> = (first..count.min(first + UDP_WINDOW))
            .map(|seq| {
                let mut d = vec![0u8; size];
                d[..8].copy_from_slice(&seq.to_le_bytes());
                pattern.fill(&mut d[8..]);
                d
            })
            .collect();
        let mut echoed = vec![false; window.len()];
        for round in 0..20 {
            if round > 0 {
                retries += echoed.iter().filter(|&&e| !e).count() as u64;
            }
            for (d, _) in window.iter().zip(&echoed).filter(|(_, &e)| !e) {
                socket.send(d).map_err(|e| format!("send: {e}"))?;
            }
            while echoed.contains(&false) {
                match socket.recv(&mut back) {
                    Ok(n) => {
                        let seq = u64::from_le_bytes(back[..8].try_into().unwrap_or_default());
                        let Some(i) = seq.checked_sub(first).filter(|&i| i < window.len() as u64)
                        else {
                            continue; // a late echo of an earlier window
                        };
                        let i = i as usize;
                        if back[..n] != window[i][..] {
                            return Err(format!("datagram {seq}: echo differs"));
                        }
                        echoed[i] = true;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) => return Err(format!("recv: {e}")),
                }
            }
            if !echoed.contains(&false) {
                break;
            }
        }
        if let Some(i) = echoed.iter().position(|&e| !e) {
            return Err(format!(
                "datagram {}: no echo after 20 tries",
                first + i as u64
            ));
        }
        bytes += (window.len() * size) as u64;
        first += window.len() as u64;
    }
    let ms = started.elapsed().as_millis();
    println!("udp-echo: sent {count} echoed {count} bytes {bytes} retries {retries} ms {ms}");
    Ok(())
}

/// Writes `bytes` of the pattern to `stream`, returning their digest.
fn send_pattern(mut stream: TcpStream, bytes: u64) -> Result<u64, String> {
    let mut pattern = Pattern::new(0x7c9);
    let mut digest = Fnv::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        pattern.fill(&mut buf[..n]);
        digest.update(&buf[..n]);
        stream
            .write_all(&buf[..n])
            .map_err(|e| format!("write: {e}"))?;
        left -= n as u64;
    }
    stream
        .shutdown(Shutdown::Write)
        .map_err(|e| format!("shutdown: {e}"))?;
    Ok(digest.value())
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("timeout: {e}"))?;
    // A peer that vanishes mid-stream (a guest that crashed) would otherwise
    // block a write until TCP gives up, many minutes later.
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("timeout: {e}"))?;
    Ok(stream)
}

fn tcp_echo(addr: SocketAddr, bytes: u64) -> Result<(), String> {
    let stream = connect(addr)?;
    let writer = stream.try_clone().map_err(|e| format!("clone: {e}"))?;
    let started = Instant::now();
    let sender = thread::spawn(move || send_pattern(writer, bytes));
    let mut reader = stream;
    let mut digest = Fnv::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    while got < bytes {
        let n = reader.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        got += n as u64;
    }
    let sent = sender.join().map_err(|_| "the sender panicked")??;
    let ms = started.elapsed().as_millis().max(1);
    let mbit = bytes as f64 * 8.0 / 1000.0 / ms as f64;
    println!(
        "tcp-echo: sent {bytes} echoed {got} digest {sent:016x} echo-digest {:016x} ms {ms} mbit {mbit:.1}",
        digest.value()
    );
    if got == bytes && digest.value() == sent {
        Ok(())
    } else {
        Err("the echo differs from what was sent".into())
    }
}

fn tcp_sink(addr: SocketAddr, bytes: u64) -> Result<(), String> {
    let stream = connect(addr)?;
    let mut reader = stream.try_clone().map_err(|e| format!("clone: {e}"))?;
    let started = Instant::now();
    let sent = send_pattern(stream, bytes)?;
    let mut answer = String::new();
    reader
        .read_to_string(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let ms = started.elapsed().as_millis().max(1);
    let mbit = bytes as f64 * 8.0 / 1000.0 / ms as f64;
    let answer = answer.trim();
    println!("tcp-sink: sent {bytes} digest {sent:016x} answer {answer:?} ms {ms} mbit {mbit:.1}");
    let expected = format!("{bytes} {sent:016x}");
    if answer.is_empty() || answer == expected {
        Ok(())
    } else {
        Err(format!("the sink answered {answer:?}, not {expected:?}"))
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: rumpx-net-probe udp-echo ADDR:PORT COUNT [SIZE] | tcp-echo ADDR:PORT BYTES | tcp-sink ADDR:PORT BYTES";
    let mode = args.first().ok_or(usage)?;
    let addr: SocketAddr = parse("ADDR:PORT", args.get(1))?;
    match mode.as_str() {
        "udp-echo" => {
            let size = match args.get(3) {
                Some(_) => parse("SIZE", args.get(3))?,
                None => 512,
            };
            udp_echo(addr, parse("COUNT", args.get(2))?, size)
        }
        "tcp-echo" => tcp_echo(addr, parse("BYTES", args.get(2))?),
        "tcp-sink" => tcp_sink(addr, parse("BYTES", args.get(2))?),
        _ => Err(usage.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rumpx-net-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn the_pattern_is_seeded_and_fills_odd_lengths() {
        let (mut a, mut b) = (Pattern::new(1), Pattern::new(1));
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(x, [0u8; 13]);
    }

    /// Against local services: an echo thread and a sink thread.
    #[test]
    fn probes_pass_against_local_services() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_addr = udp.local_addr().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
        });
        udp_echo(udp_addr, 200, 700).unwrap();

        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let echo_addr = echo.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            std::io::copy(&mut s, &mut w).unwrap();
        });
        tcp_echo(echo_addr, 3_000_000).unwrap();

        let sink = TcpListener::bind("127.0.0.1:0").unwrap();
        let sink_addr = sink.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = sink.accept().unwrap();
            let mut digest = Fnv::new();
            let (mut buf, mut n) = ([0u8; 4096], 0u64);
            loop {
                let k = s.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                digest.update(&buf[..k]);
                n += k as u64;
            }
            writeln!(s, "{n} {:016x}", digest.value()).unwrap();
        });
        tcp_sink(sink_addr, 1_000_000).unwrap();
    }
}
