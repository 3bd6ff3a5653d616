//! `rumpx run` and `rumpx cfg`: a guest resolved with its package's
//! defaults (memory, disk folder, network, service port) and the user's
//! flags into a plan, written as an xl config or run, on this machine's
//! Xen or on the embedded test host (disks staged in dom0, DHCP on demand,
//! the service port forwarded to 127.0.0.1), with readiness from the
//! guest's xenstore key and Ctrl-C shutting the guest down in order.

use crate::dom0::{AttachedDisk, Dom0};
use crate::error::{io_at, Error, Result};
use crate::ext2_image;
use crate::guest_build::{self, workspace_root};
use crate::guest_defaults::{self, GuestDefaults};
use crate::job::{self, GuestSpec};
use crate::local_xen;
use crate::outcome::{ConsoleLine, GuestOutcome};
use crate::port_forward::{check_host_port_free, ForwardSpec};
use crate::qemu::HostForward;
use crate::setup_checks;
use crate::signals;
use crate::test_host::{HostOptions, TestHost};
use crate::xenstore::{parse_ready, DomainState, DomainWatch, Xenstore};
use crate::xl_config::{Disk, Vif, XlConfig};
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::thread;
use std::time::{Duration, Instant};

/// The bridge guests join unless told otherwise (the test host's only one).
pub const DEFAULT_BRIDGE: &str = "xenbr0";
/// How long a guest has to power off after `xl shutdown` before it is
/// destroyed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// "Until stopped": the time limit of `--timeout 0`.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// The MAC a DHCP guest of `rumpx run` gets on the test host, and the
/// address dom0's udhcpd leases to it (from the pool 10.99.0.100-199).
const DHCP_MAC: &str = "00:16:3e:52:00:64";
/// See [`DHCP_MAC`].
const DHCP_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
/// Where dom0's udhcpd logs (in the share: kept with RUMPX_KEEP_SHARE).
const DHCP_LOG: &str = "/share/state/udhcpd.log";

/// A `--disk IMG[,ro]` (or `IMG,rw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskArg {
    /// The image on this machine.
    pub image: PathBuf,
    /// Offered read-only.
    pub read_only: bool,
}

impl FromStr for DiskArg {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (image, read_only) = match s.rsplit_once(',') {
            Some((img, "ro")) => (img, true),
            Some((img, "rw")) => (img, false),
            Some((_, other)) => return Err(format!("{other:?}: the access is ro or rw")),
            None => (s, false),
        };
        if image.is_empty() {
            return Err("no image named".into());
        }
        Ok(DiskArg {
            image: image.into(),
            read_only,
        })
    }
}

/// A `--net [BRIDGE][,ip=A.B.C.D/LEN]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetArg {
    /// The dom0 bridge.
    pub bridge: String,
    /// The guest's static address with prefix length (xl's vif `ip=`);
    /// None: the guest asks DHCP.
    pub ip: Option<String>,
}

impl NetArg {
    /// The guest's address without the prefix length.
    pub fn address(&self) -> Option<Ipv4Addr> {
        let ip = self.ip.as_deref()?;
        ip.split('/').next()?.parse().ok()
    }
}

impl Default for NetArg {
    fn default() -> Self {
        NetArg {
            bridge: DEFAULT_BRIDGE.into(),
            ip: None,
        }
    }
}

impl FromStr for NetArg {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut net = NetArg::default();
        for (i, part) in s.split(',').enumerate() {
            if let Some(ip) = part.strip_prefix("ip=") {
                let (addr, len) = ip
                    .split_once('/')
                    .ok_or_else(|| format!("ip={ip}: write A.B.C.D/LEN"))?;
                let good = addr.parse::<Ipv4Addr>().is_ok()
                    && len.parse::<u8>().is_ok_and(|l| (1..=32).contains(&l));
                if !good {
                    return Err(format!("ip={ip}: write A.B.C.D/LEN"));
                }
                net.ip = Some(ip.into());
            } else if i == 0 && !part.is_empty() {
                let fine = part.len() <= 15
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !fine {
                    return Err(format!("{part:?} is not a bridge name"));
                }
                net.bridge = part.into();
            } else if !part.is_empty() {
                return Err(format!("{part:?}: expected ip=A.B.C.D/LEN"));
            }
        }
        Ok(net)
    }
}

/// What the user asked for (`rumpx run` / `rumpx cfg` flags).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A guest package name (built first) or an image path.
    pub guest: String,
    /// The guest's command line.
    pub extra: Option<String>,
    /// Memory in MiB (default: the package's, else 32).
    pub memory_mib: Option<u32>,
    /// Virtual CPUs (default 1).
    pub vcpus: Option<u32>,
    /// The domain name (default: the guest's).
    pub name: Option<String>,
    /// Disks (default: the package's disk folder as an ext2 image).
    pub disks: Vec<DiskArg>,
    /// A network interface (default: one on xenbr0 if the package asks).
    pub net: Option<NetArg>,
    /// The forwarded port (default: the package's, for a guest with a
    /// service port and a network).
    pub forward: Option<ForwardSpec>,
    /// Seconds the guest may run; 0: until stopped (default: until stopped
    /// for a guest with a service port, else 60).
    pub timeout_s: Option<u64>,
}

/// A request resolved against the guest's defaults, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The guest (no disks or vifs yet: where they live depends on the host).
    pub spec: GuestSpec,
    /// Its disks, checked to be ext2 revision 1.
    pub disks: Vec<DiskArg>,
    /// Its network interface.
    pub net: Option<NetArg>,
    /// The port it serves on, if known.
    pub service_port: Option<u16>,
    /// The port forwarded to it (test host only).
    pub forward: Option<ForwardSpec>,
}

/// Builds (for a package) and resolves `req`; makes the package's demo
/// disk image when no disk is given.
pub fn plan(req: &Request, progress: &mut dyn FnMut(&str)) -> Result<Plan> {
    let as_path = Path::new(&req.guest);
    let (image, defaults) = if as_path.is_file() {
        (as_path.to_path_buf(), GuestDefaults::default())
    } else {
        let manifest = workspace_root()
            .join("guests")
            .join(&req.guest)
            .join("Cargo.toml");
        let defaults = if manifest.is_file() {
            guest_defaults::read(&manifest)?
        } else {
            GuestDefaults::default()
        };
        progress(&format!("building guest {}", req.guest));
        (guest_build::build_guest(&req.guest)?, defaults)
    };
    let default_name = image
        .file_name()
        .map_or("guest".into(), |n| n.to_string_lossy().into_owned());
    let mut spec = GuestSpec::new(req.name.clone().unwrap_or(default_name), image)
        .memory_mib(req.memory_mib.or(defaults.memory_mib).unwrap_or(32));
    spec.vcpus = req.vcpus.unwrap_or(1);
    spec.extra = req.extra.clone();
    let timeout_s = req
        .timeout_s
        .unwrap_or(if defaults.port.is_some() { 0 } else { 60 });
    spec.timeout = if timeout_s == 0 {
        FOREVER
    } else {
        Duration::from_secs(timeout_s)
    };

    let mut disks = req.disks.clone();
    if disks.is_empty() {
        if let Some(dir) = &defaults.disk_dir {
            let root = fs::canonicalize(workspace_root()).map_err(io_at(workspace_root()))?;
            let img = root
                .join("target/rumpx-disks")
                .join(format!("{}.img", req.guest));
            let bytes = ext2_image::make_image(dir, &img, None)?;
            progress(&format!(
                "disk {} ({} MiB, ext2) made from {}",
                img.display(),
                bytes >> 20,
                fs::canonicalize(dir)
                    .unwrap_or_else(|_| dir.clone())
                    .display()
            ));
            disks.push(DiskArg {
                image: img,
                read_only: false,
            });
        }
    }
    for disk in &disks {
        ext2_image::check_image(&disk.image)?;
    }
    let net = req
        .net
        .clone()
        .or_else(|| defaults.net.then(NetArg::default));
    let service_port = req.forward.and_then(|f| f.guest_port).or(defaults.port);
    let forward = match req.forward {
        Some(f) => Some(ForwardSpec {
            host_port: f.host_port,
            guest_port: service_port,
        }),
        None => defaults
            .port
            .filter(|_| net.is_some())
            .map(|p| ForwardSpec {
                host_port: defaults.forward,
                guest_port: Some(p),
            }),
    };
    if forward.is_some() && net.is_none() {
        return Err(Error::Invalid {
            what: "--forward",
            detail: "the guest has no network interface: add --net".into(),
        });
    }
    Ok(Plan {
        spec,
        disks,
        net,
        service_port,
        forward,
    })
}

/// The vdev of the `i`th disk: xvda, xvdb, ...
fn vdev(i: usize) -> Result<String> {
    let letter = u8::try_from(i)
        .ok()
        .filter(|&n| n < 26)
        .ok_or_else(|| Error::Invalid {
            what: "disks",
            detail: "at most 26".into(),
        })?;
    Ok(format!("xvd{}", (b'a' + letter) as char))
}

/// The vif for the plan's network, if any.
fn vif(plan: &Plan) -> Option<Vif> {
    plan.net.as_ref().map(|n| {
        let mut vif = Vif::on_bridge(&n.bridge);
        vif.ip = n.ip.clone();
        vif
    })
}

/// The xl config a user keeps: absolute paths of this machine.
pub fn xl_config(plan: &Plan) -> Result<XlConfig> {
    job::check_image(&plan.spec.image)?;
    let abs = |p: &Path| fs::canonicalize(p).map_err(io_at(p));
    let mut spec = plan.spec.clone();
    spec.vifs.extend(vif(plan));
    for (i, d) in plan.disks.iter().enumerate() {
        let disk = Disk::raw(vdev(i)?, abs(&d.image)?);
        spec.disks
            .push(if d.read_only { disk.read_only() } else { disk });
    }
    Ok(spec.xl_config(&abs(&plan.spec.image)?, None))
}

/// Reports readiness once: `[rumpx] ready: VALUE after S s`.
struct Readiness {
    started: Instant,
    seen: bool,
}

impl Readiness {
    fn report(&mut self, value: &str, progress: &mut dyn FnMut(&str)) {
        if !self.seen {
            self.seen = true;
            progress(&format!(
                "ready: {value} after {:.1} s",
                self.started.elapsed().as_secs_f64()
            ));
        }
    }
}

/// Runs the plan on this machine's Xen.
pub fn run_local(
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
    on_line: &mut (dyn FnMut(&ConsoleLine) + Send),
) -> Result<GuestOutcome> {
    let bridges: Vec<&str> = plan.net.iter().map(|n| n.bridge.as_str()).collect();
    setup_checks::check_local(&bridges)?;
    let cfg = xl_config(plan)?;
    let mut spec = plan.spec.clone();
    spec.vifs = cfg.vifs;
    spec.disks = cfg.disks;
    let name = spec.name.clone();
    thread::scope(|scope| {
        let runner = scope.spawn(|| local_xen::run_guest(&spec, on_line));
        let mut ready = Readiness {
            started: Instant::now(),
            seen: false,
        };
        let mut xs: Option<Xenstore> = None;
        let mut watch = DomainWatch::new(&name);
        let mut stop = StopState::default();
        while !runner.is_finished() {
            if plan.net.is_some() && !ready.seen {
                if xs.is_none() {
                    match Xenstore::open() {
                        Ok(c) => xs = Some(c),
                        Err(e) => {
                            progress(&format!("cannot watch for readiness: {e}"));
                            ready.seen = true;
                        }
                    }
                }
                let state = xs.as_mut().and_then(|x| watch.poll(x).ok());
                if let Some(DomainState::Running {
                    ready: Some(value), ..
                }) = state
                {
                    ready.report(&value, progress);
                    if let Some((proto, addr)) = parse_ready(&value) {
                        progress(&format!("guest URL: {proto}://{addr}/"));
                    }
                }
            }
            if let Some(script) = stop.next_step(&name) {
                progress(&format!("stopping {name} ({})", stop.describe()));
                let _ = std::process::Command::new("bash")
                    .arg("-c")
                    .arg(script)
                    .stdout(std::process::Stdio::null())
                    .spawn();
            }
            thread::sleep(Duration::from_millis(200));
        }
        runner
            .join()
            .unwrap_or_else(|_| Err(Error::TestHost("the guest runner panicked".into())))
    })
}

/// What Ctrl-C / SIGTERM has set in motion.
#[derive(Debug, Default)]
struct StopState {
    /// Signals acted on so far.
    handled: u32,
}

impl StopState {
    /// The dom0 script to run for a newly received signal: the first asks
    /// `xl shutdown` (waiting for the domain to exist first) and destroys
    /// the domain after the grace period; a second destroys it at once.
    fn next_step(&mut self, name: &str) -> Option<String> {
        self.step_for(signals::received(), name)
    }

    /// [`StopState::next_step`] with `received` signals so far.
    fn step_for(&mut self, received: u32, name: &str) -> Option<String> {
        if received <= self.handled {
            return None;
        }
        self.handled = received;
        let grace_ticks = SHUTDOWN_GRACE.as_secs() * 10;
        Some(if self.handled == 1 {
            format!(
                "for i in $(seq 300); do xl domid {name} >/dev/null 2>&1 && break; sleep 0.1; done\n\
                 xl shutdown {name} >/dev/null 2>&1\n\
                 for i in $(seq {grace_ticks}); do xl domid {name} >/dev/null 2>&1 || exit 0; sleep 0.1; done\n\
                 xl destroy {name}\n"
            )
        } else {
            format!("xl destroy {name}\n")
        })
    }

    fn describe(&self) -> String {
        if self.handled == 1 {
            format!(
                "xl shutdown; destroyed if still there after {} s; Ctrl-C again to destroy now",
                SHUTDOWN_GRACE.as_secs()
            )
        } else {
            "xl destroy".into()
        }
    }
}

/// Makes each disk of the plan ready in the test host's dom0 and returns
/// them with the xl disks that name them.
fn stage_disks(host: &TestHost, plan: &Plan) -> Result<(Vec<AttachedDisk>, Vec<Disk>)> {
    let mut attached = Vec::new();
    let mut disks = Vec::new();
    for (i, d) in plan.disks.iter().enumerate() {
        let name = format!("rumpx-run-{}-{i}.img", plan.spec.name);
        match host.attach_disk(&d.image, &name, d.read_only) {
            Ok(disk) => {
                disks.push(disk.xl_disk(&vdev(i)?));
                attached.push(disk);
            }
            Err(e) => {
                let _ = host.release_disks(&attached);
                return Err(e);
            }
        }
    }
    Ok((attached, disks))
}

/// Starts busybox `udhcpd` on xenbr0 in dom0 (pool 10.99.0.100-199, with
/// [`DHCP_ADDRESS`] for [`DHCP_MAC`]) unless one already runs; true when
/// it started ours.
fn start_dhcp(host: &TestHost) -> Result<bool> {
    let out = host.dom0_exec(
        &format!(
            "if pidof udhcpd >/dev/null 2>&1; then echo 'already running'; exit 0; fi\n\
         d=/run/rumpx-dhcp; mkdir -p $d; touch $d/leases\n\
         printf 'start 10.99.0.100\\nend 10.99.0.199\\ninterface xenbr0\\nlease_file %s/leases\\n\
         pidfile %s/pid\\noption subnet 255.255.255.0\\noption router 10.99.0.1\\noption lease 3600\\n\
         static_lease {DHCP_MAC} {DHCP_ADDRESS}\\n' $d $d > $d/conf\n\
         busybox udhcpd -f $d/conf > {DHCP_LOG} 2>&1 < /dev/null &\n\
         sleep 0.5; kill -0 $! || {{ echo \"udhcpd ended: $(tail -n 3 {DHCP_LOG})\" >&2; exit 1; }}\n\
         echo started\n"
        ),
        Duration::from_secs(60),
    )?;
    if out.status != 0 {
        return Err(Error::TestHost(format!(
            "dom0 could not start udhcpd: {}",
            out.stderr.trim()
        )));
    }
    Ok(out.stdout.trim() == "started")
}

/// Runs the plan on the embedded test host.
pub fn run_embedded(
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
    on_line: &mut (dyn FnMut(&ConsoleLine) + Send),
) -> Result<GuestOutcome> {
    if let Some(net) = &plan.net {
        if net.bridge != DEFAULT_BRIDGE {
            return Err(Error::Invalid {
                what: "--net",
                detail: format!(
                    "the test host has one bridge, {DEFAULT_BRIDGE}, not {}",
                    net.bridge
                ),
            });
        }
    }
    let forward = plan.forward.map(|f| HostForward {
        host_port: f.host_port,
        dom0_port: f.host_port,
    });
    if let Some(f) = forward {
        check_host_port_free(f.host_port)?;
    }
    let watcher = match plan.net {
        Some(_) => {
            progress("building rumpx-forward for dom0");
            Some(guest_build::build_dom0_tool("rumpx-forward")?)
        }
        None => None,
    };
    let options = HostOptions {
        forward,
        ..HostOptions::default()
    };
    let host = TestHost::boot(&options, progress)?;
    progress(&format!(
        "test host ready in {:.1} s",
        host.boot_time.as_secs_f64()
    ));
    let outcome = run_on_host(&host, plan, watcher.as_deref(), progress, on_line);
    if let Err(e) = host.shutdown() {
        progress(&e.to_string());
    }
    outcome
}

/// The part of [`run_embedded`] with the host up.
fn run_on_host(
    host: &TestHost,
    plan: &Plan,
    watcher: Option<&Path>,
    progress: &mut dyn FnMut(&str),
    on_line: &mut (dyn FnMut(&ConsoleLine) + Send),
) -> Result<GuestOutcome> {
    if signals::received() > 0 {
        return Err(Error::Interrupted("while the test host booted".into()));
    }
    let name = plan.spec.name.clone();
    let (staged, disks) = stage_disks(host, plan)?;
    let mut spec = plan.spec.clone();
    spec.disks = disks;
    spec.vifs.extend(vif(plan));
    let mut guest_addr = plan.net.as_ref().and_then(NetArg::address);
    if plan.net.as_ref().is_some_and(|n| n.ip.is_none()) {
        if start_dhcp(host)? {
            guest_addr = Some(DHCP_ADDRESS);
            if let Some(vif) = spec.vifs.last_mut() {
                vif.mac = Some(DHCP_MAC.into());
            }
            progress(&format!(
                "dhcp: udhcpd in dom0 on {DEFAULT_BRIDGE} leases {DHCP_ADDRESS} to the guest"
            ));
        } else {
            progress(&format!(
                "dhcp: a udhcpd already runs in dom0 on {DEFAULT_BRIDGE}; the guest's address \
                 is the one it reports"
            ));
        }
    }
    let log = Path::new("/share/state").join(format!("forward-{name}.log"));
    let mut watcher_pid = None;
    if let Some(tool) = watcher {
        let tool = host.install_tool(tool)?;
        let mut args = format!("--domain {name}");
        if let Some(f) = plan.forward {
            args += &format!(" --listen {}", f.host_port);
            if let Some(p) = f.guest_port {
                args += &format!(" --guest-port {p}");
            }
        }
        let target = guest_addr.zip(plan.service_port);
        if let (Some((addr, port)), Some(_)) = (target, plan.forward) {
            args += &format!(" --target {addr}:{port}");
        }
        let out = host.dom0_exec(
            &format!(
                "{} {args} > {} 2>&1 < /dev/null &\necho \"pid $!\"\n",
                tool.display(),
                log.display()
            ),
            Duration::from_secs(60),
        )?;
        watcher_pid = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("pid "))
            .map(|p| p.trim().to_string());
    }
    let log_here = host.host_path(&log);
    let outcome = thread::scope(|scope| {
        let runner = scope.spawn(|| host.run_guest(&spec, on_line));
        let mut ready = Readiness {
            started: Instant::now(),
            seen: false,
        };
        let mut lines_seen = 0;
        let mut stop = StopState::default();
        loop {
            let finished = runner.is_finished();
            if let Some(text) = log_here.as_ref().and_then(|p| fs::read_to_string(p).ok()) {
                let complete: Vec<&str> = text.lines().collect();
                let complete = &complete[..text.matches('\n').count().min(complete.len())];
                for line in complete.iter().skip(lines_seen) {
                    watcher_line(line, plan, guest_addr, &mut ready, progress);
                }
                lines_seen = lines_seen.max(complete.len());
            }
            if finished {
                break;
            }
            if let Some(script) = stop.next_step(&name) {
                progress(&format!("stopping {name} ({})", stop.describe()));
                // The script runs in dom0 while the guest's run goes on.
                scope.spawn(move || host.dom0_exec(&script, SHUTDOWN_GRACE * 3));
            }
            thread::sleep(Duration::from_millis(100));
        }
        runner
            .join()
            .unwrap_or_else(|_| Err(Error::TestHost("the guest runner panicked".into())))
    });
    if let Some(pid) = watcher_pid {
        let _ = host.dom0_exec(
            &format!("kill {pid} 2>/dev/null\n"),
            Duration::from_secs(30),
        );
    }
    if let Err(e) = host.release_disks(&staged) {
        progress(&e.to_string());
    }
    outcome
}

/// Acts on one line of `rumpx-forward`'s report; a guest that reports
/// 0.0.0.0 (a DHCP lease it cannot query) is shown at `guest_addr`.
fn watcher_line(
    line: &str,
    plan: &Plan,
    guest_addr: Option<Ipv4Addr>,
    ready: &mut Readiness,
    progress: &mut dyn FnMut(&str),
) {
    if let Some(value) = line.strip_prefix("ready ") {
        if ready.seen {
            return;
        }
        match (parse_ready(value), guest_addr) {
            (Some((proto, mut addr)), Some(known)) if addr.ip().is_unspecified() => {
                addr.set_ip(known);
                ready.report(&format!("{proto} {addr}"), progress);
            }
            _ => ready.report(value, progress),
        }
        if let (Some(f), Some((proto, _))) = (plan.forward, parse_ready(value)) {
            progress(&format!(
                "forwarding 127.0.0.1:{p} to the guest: {proto}://127.0.0.1:{p}/",
                p = f.host_port
            ));
        }
    } else if let Some(e) = line.strip_prefix("error ") {
        progress(&format!("forwarder: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_disk_and_net_flags() {
        assert_eq!(
            "a.img".parse(),
            Ok(DiskArg {
                image: "a.img".into(),
                read_only: false
            })
        );
        assert_eq!(
            "/x/b.img,ro".parse(),
            Ok(DiskArg {
                image: "/x/b.img".into(),
                read_only: true
            })
        );
        assert!("b.img,rx".parse::<DiskArg>().is_err());
        assert!(",ro".parse::<DiskArg>().is_err());

        assert_eq!("".parse(), Ok(NetArg::default()));
        let net: NetArg = "br1,ip=10.99.0.20/24".parse().unwrap();
        assert_eq!(net.bridge, "br1");
        assert_eq!(net.ip.as_deref(), Some("10.99.0.20/24"));
        assert_eq!(net.address(), Some(Ipv4Addr::new(10, 99, 0, 20)));
        let net: NetArg = ",ip=10.99.0.21/24".parse().unwrap();
        assert_eq!(net.bridge, DEFAULT_BRIDGE);
        for bad in [
            "ip=10.99.0.1",
            "ip=10.99.0.300/24",
            "ip=1.2.3.4/40",
            "br0,x=1",
            "b r",
        ] {
            assert!(bad.parse::<NetArg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_config_of_a_plan_reads_back_with_absolute_paths() {
        let dir = std::env::temp_dir().join(format!("rumpx-launch-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let kernel = dir.join("guest");
        fs::write(
            &kernel,
            crate::elf_image::MinimalImage::pvh(&[0xf4]).to_bytes(),
        )
        .unwrap();
        let img = dir.join("www.img");
        let mut spec = GuestSpec::new("web", &kernel).memory_mib(48);
        spec.vcpus = 2;
        spec.extra = Some("port=80".into());
        let plan = Plan {
            spec,
            disks: vec![DiskArg {
                image: img.clone(),
                read_only: true,
            }],
            net: Some("xenbr0,ip=10.99.0.20/24".parse().unwrap()),
            service_port: Some(80),
            forward: None,
        };
        // The image must exist to have an absolute path.
        assert!(xl_config(&plan).is_err());
        fs::write(&img, b"").unwrap();
        let text = xl_config(&plan).unwrap().render().unwrap();
        let back = XlConfig::parse(&text).unwrap();
        assert_eq!(back.kernel, fs::canonicalize(&kernel).unwrap());
        assert_eq!(back.memory_mib, 48);
        assert_eq!(back.vcpus, 2);
        assert_eq!(back.extra.as_deref(), Some("port=80"));
        assert_eq!(back.vifs[0].ip.as_deref(), Some("10.99.0.20/24"));
        assert_eq!(back.vifs[0].bridge, "xenbr0");
        let mut want = Disk::raw("xvda", fs::canonicalize(&img).unwrap()).read_only();
        want.script = None;
        assert_eq!(back.disks, [want]);
        assert!(text.contains("on_poweroff = \"destroy\""), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_guest_on_dhcp_is_shown_at_its_lease() {
        let plan = Plan {
            spec: GuestSpec::new("web", "/k"),
            disks: Vec::new(),
            net: Some(NetArg::default()),
            service_port: Some(80),
            forward: Some("8080:80".parse().unwrap()),
        };
        let mut said = Vec::new();
        let mut ready = Readiness {
            started: Instant::now(),
            seen: false,
        };
        let lease = Some(DHCP_ADDRESS);
        let mut progress = |s: &str| said.push(s.to_string());
        watcher_line("listening 8080", &plan, lease, &mut ready, &mut progress);
        watcher_line(
            "ready http 0.0.0.0:80",
            &plan,
            lease,
            &mut ready,
            &mut progress,
        );
        watcher_line(
            "ready http 0.0.0.0:80",
            &plan,
            lease,
            &mut ready,
            &mut progress,
        );
        watcher_line("error no route", &plan, lease, &mut ready, &mut progress);
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(
            said[0].starts_with("ready: http 10.99.0.100:80 after "),
            "{said:?}"
        );
        assert_eq!(
            said[1],
            "forwarding 127.0.0.1:8080 to the guest: http://127.0.0.1:8080/"
        );
        assert_eq!(said[2], "forwarder: no route");
    }

    #[test]
    fn the_first_signal_shuts_down_the_second_destroys() {
        let mut stop = StopState::default();
        assert!(stop.step_for(0, "g").is_none());
        let first = stop.step_for(1, "g").unwrap();
        assert!(first.contains("xl shutdown g"), "{first}");
        assert!(first.contains("xl destroy g"), "{first}");
        assert!(stop.describe().contains("Ctrl-C again"));
        assert!(stop.step_for(1, "g").is_none());
        assert_eq!(stop.step_for(3, "g").unwrap(), "xl destroy g\n");
        assert!(stop.step_for(3, "g").is_none());
    }
}
