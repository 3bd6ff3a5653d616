//! `rumpx-forward`, run in dom0 of the embedded test host: waits for a
//! guest's readiness key in xenstore and relays a dom0 TCP port (the one
//! QEMU forwards from the host's 127.0.0.1) to the guest's service.
//!
//! Prints one line per event on stdout: `listening PORT`, `ready VALUE`
//! (the key's value, such as `http 10.99.0.20:80`), `target A.B.C.D:PORT`,
//! `gone` (the domain ended; the program exits 0), `error ...` (exit 1).

use clap::Parser;
use rumpx::port_forward::{relay, Target};
use rumpx::xenstore::{parse_ready, DomainState, DomainWatch, Xenstore};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "rumpx-forward", about = "Relay a dom0 TCP port to a guest")]
struct Args {
    /// The guest's domain name.
    #[arg(long)]
    domain: String,
    /// The dom0 port to listen on (all addresses).
    #[arg(long)]
    listen: u16,
    /// Where to relay before the guest says where it serves (its static
    /// address and service port).
    #[arg(long)]
    target: Option<SocketAddrV4>,
    /// The guest's service port, overriding the one in its readiness key.
    #[arg(long)]
    guest_port: Option<u16>,
    /// Seconds to wait for the domain to appear.
    #[arg(long, default_value_t = 120)]
    appear_timeout: u64,
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("error {e}"));
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, args.listen))
        .map_err(|e| format!("cannot listen on port {}: {e}", args.listen))?;
    let target: Target = Arc::new(Mutex::new(args.target.map(SocketAddr::V4)));
    if let Some(t) = args.target {
        say(&format!("target {t}"));
    }
    say(&format!("listening {}", args.listen));
    let relay_target = target.clone();
    thread::spawn(move || relay(listener, relay_target));

    let mut xs = Xenstore::open().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut watch = DomainWatch::new(&args.domain);
    let mut ready = false;
    loop {
        let value = match watch.poll(&mut xs).map_err(|e| e.to_string())? {
            DomainState::Absent if started.elapsed() > Duration::from_secs(args.appear_timeout) => {
                return Err(format!(
                    "domain {} did not appear in {} s",
                    args.domain, args.appear_timeout
                ));
            }
            DomainState::Gone => {
                say("gone");
                return Ok(());
            }
            DomainState::Running {
                ready: Some(value), ..
            } if !ready => value,
            _ => {
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        say(&format!("ready {value}"));
        ready = true;
        match parse_ready(&value) {
            Some((_, mut addr)) => {
                if let Some(port) = args.guest_port {
                    addr.set_port(port);
                }
                let Ok(mut t) = target.lock() else {
                    return Err("the relay's target lock is poisoned".into());
                };
                // 0.0.0.0: the guest does not know its DHCP address;
                // the one given with --target stands.
                if addr.ip().is_unspecified() {
                    match *t {
                        Some(SocketAddr::V4(known)) => addr.set_ip(*known.ip()),
                        _ => {
                            say("error the guest reports no address (0.0.0.0) and none was given");
                            continue;
                        }
                    }
                }
                *t = Some(SocketAddr::V4(addr));
                say(&format!("target {addr}"));
            }
            None => say(&format!(
                "error the readiness key {value:?} names no A.B.C.D:PORT"
            )),
        }
    }
}
