//! The scenario file of `rumpx test` (TOML): guests to start side by side,
//! files to generate for their disks, and checks run from dom0 in order.
//! Parsing turns every mistake into a [`ScenarioError`] with its line.

use crate::outcome::ShutdownReason;
use crate::xl_config::DiskAccess;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Why a scenario file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The scenario file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key or value does not fit the format.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The scenario file.
        path: PathBuf,
        /// The line (from 1) where the problem starts.
        line: usize,
        /// What the TOML reader said.
        message: String,
    },
    /// The TOML is well formed but an entry makes no sense.
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// The line (from 1) of the entry.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name (the `name` key, else the file's stem).
    pub name: String,
    /// The folder relative paths are resolved against (the file's folder).
    pub dir: PathBuf,
    /// How long the whole run (boot of the guests and every check) may take.
    pub timeout: Duration,
    /// The guests, started in this order.
    pub guests: Vec<GuestDef>,
    /// The checks, run in this order.
    pub checks: Vec<CheckDef>,
}

/// One guest of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestDef {
    /// The domain name (unique in the scenario).
    pub name: String,
    /// A guest package under `guests/` or (when the file exists) an image path.
    pub image: String,
    /// Memory in MiB.
    pub memory_mib: u32,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// The guest's command line (xl's `extra=`).
    pub extra: Option<String>,
    /// Its disks.
    pub disks: Vec<DiskDef>,
    /// Its network interface.
    pub net: Option<NetDef>,
    /// The TCP port its service listens on (HTTP checks go there).
    pub port: u16,
}

/// Where a disk's contents come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskSource {
    /// A folder made into an ext2 image (together with the generated files).
    Dir(PathBuf),
    /// A ready image file, used as it is.
    Image(PathBuf),
    /// Only the generated files, in a fresh ext2 image.
    Generated,
}

/// One disk of a guest.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskDef {
    /// Its contents.
    pub source: DiskSource,
    /// Files generated into the image's root (deterministic patterns).
    pub generate: Vec<GeneratedFile>,
    /// The device name the guest sees (`xvda`).
    pub vdev: String,
    /// Read-write or read-only.
    pub access: DiskAccess,
}

/// A file whose bytes are check-data's [`check_data::Pattern`] for a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Its name in the image's root.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// The pattern's seed.
    pub seed: u64,
}

/// A guest's network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDef {
    /// The dom0 bridge.
    pub bridge: String,
    /// The address with prefix length ("10.99.0.20/24"), published to the
    /// guest through the vif's `ip=` key.
    pub ip: Option<String>,
    /// The MAC address, when not left to xl.
    pub mac: Option<String>,
}

impl NetDef {
    /// The address without its prefix length.
    pub fn address(&self) -> Option<&str> {
        self.ip
            .as_deref()
            .map(|ip| ip.split('/').next().unwrap_or(ip))
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    /// The guest it is about.
    pub guest: String,
    /// How long it may take.
    pub timeout: Duration,
    /// What it checks.
    pub kind: CheckKind,
    /// Its line in the file (from 1).
    pub line: usize,
}

/// What a check does.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// A console line containing this text appears.
    Console(String),
    /// The guest writes its `data/rumpx-ready` xenstore key.
    Ready,
    /// An HTTP request from dom0 gets the expected answer.
    Http(HttpCheck),
    /// Raw bytes sent to the guest's port get one of these statuses.
    RawHttp {
        /// The bytes sent.
        data: String,
        /// The acceptable statuses.
        status: Vec<u16>,
    },
    /// Keep-alive load: every request must succeed.
    Load {
        /// The path requested.
        path: String,
        /// Concurrent connections.
        conns: u32,
        /// Requests in all.
        requests: u32,
    },
    /// A TCP connection to this port of the guest is accepted.
    TcpOpen(u16),
    /// `xl shutdown`, then the guest must end with this reason.
    Shutdown(ShutdownReason),
    /// `xl destroy`; the guest must be gone.
    Destroy,
}

/// An HTTP request and what must come back.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    /// A full URL, or a path on the guest's address and port.
    pub target: HttpTarget,
    /// GET or HEAD.
    pub method: HttpMethod,
    /// A byte range (`first-last`, inclusive).
    pub range: Option<(u64, u64)>,
    /// The acceptable statuses.
    pub status: Vec<u16>,
    /// What the body must be, if anything.
    pub body: Option<BodyExpect>,
}

/// Where an HTTP check goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpTarget {
    /// A full `http://` URL.
    Url(String),
    /// A path on the guest's address and port.
    Path(String),
}

/// The HTTP methods checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// HEAD.
    Head,
}

/// What an HTTP body must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyExpect {
    /// Its FNV-1a 64 digest.
    Fnv1a64(u64),
    /// The bytes of this file (resolved against the scenario's folder).
    File(PathBuf),
    /// The bytes of a generated file of the guest's disks (by name).
    Generated(String),
    /// It contains this text.
    Contains(String),
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckKind::Console(text) => write!(f, "console {text:?}"),
            CheckKind::Ready => write!(f, "ready (xenstore data/rumpx-ready)"),
            CheckKind::Http(h) => {
                let method = match h.method {
                    HttpMethod::Get => "GET",
                    HttpMethod::Head => "HEAD",
                };
                let target = match &h.target {
                    HttpTarget::Url(u) | HttpTarget::Path(u) => u,
                };
                write!(f, "http {method} {target}")?;
                if let Some((a, b)) = h.range {
                    write!(f, " range {a}-{b}")?;
                }
                Ok(())
            }
            CheckKind::RawHttp { data, .. } => {
                let first = data.lines().next().unwrap_or("");
                let shown: String = first.chars().take(40).collect();
                let more = if first.len() > 40 { "..." } else { "" };
                write!(f, "raw_http {shown:?}{more} ({} bytes)", data.len())
            }
            CheckKind::Load {
                path,
                conns,
                requests,
            } => write!(f, "load {path} {requests} requests over {conns} conns"),
            CheckKind::TcpOpen(port) => write!(f, "tcp_open {port}"),
            CheckKind::Shutdown(reason) => write!(f, "shutdown -> {reason}"),
            CheckKind::Destroy => write!(f, "destroy"),
        }
    }
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    timeout_s: Option<u64>,
    #[serde(default)]
    guest: Vec<Spanned<RawGuest>>,
    #[serde(default)]
    check: Vec<Spanned<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuest {
    name: String,
    image: String,
    memory: Option<u32>,
    vcpus: Option<u32>,
    extra: Option<String>,
    #[serde(default)]
    disks: Vec<RawDisk>,
    net: Option<RawNet>,
    port: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisk {
    dir: Option<String>,
    image: Option<String>,
    #[serde(default)]
    generate: Vec<RawGenerated>,
    vdev: Option<String>,
    access: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerated {
    name: String,
    bytes: u64,
    seed: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNet {
    bridge: Option<String>,
    ip: Option<String>,
    mac: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u16),
    Many(Vec<u16>),
}

impl OneOrMany {
    fn list(self) -> Vec<u16> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    guest: String,
    timeout_s: Option<u64>,
    console: Option<String>,
    ready: Option<bool>,
    http: Option<RawHttp>,
    raw_http: Option<RawRawHttp>,
    load: Option<RawLoad>,
    tcp_open: Option<u16>,
    shutdown: Option<String>,
    destroy: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    url: Option<String>,
    path: Option<String>,
    method: Option<String>,
    range: Option<String>,
    status: Option<OneOrMany>,
    body_fnv1a64: Option<String>,
    body_file: Option<String>,
    body_generated: Option<String>,
    body_contains: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRawHttp {
    data: String,
    /// Repeats of "a" that replace each `{pad}` in `data` (long URIs, huge
    /// headers) without writing them out.
    pad: Option<usize>,
    status: OneOrMany,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    path: String,
    conns: u32,
    requests: u32,
}

/// Default time limits.
const DEFAULT_SCENARIO_TIMEOUT_S: u64 = 600;
const DEFAULT_CHECK_TIMEOUT_S: u64 = 60;
/// The largest pad a raw request may ask for.
const MAX_PAD: usize = 1 << 20;

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let stem = path
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        Scenario::parse(&text, path, &dir, &stem)
    }

    /// Parses scenario text; `path` names it in errors, `dir` resolves its
    /// relative paths and `default_name` is used when it has no `name`.
    pub fn parse(
        text: &str,
        path: &Path,
        dir: &Path,
        default_name: &str,
    ) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
            path: path.to_path_buf(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        let invalid = |start: usize, message: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, start),
            message,
        };
        let name = raw.name.unwrap_or_else(|| default_name.to_string());
        if !is_word(&name) {
            return Err(invalid(
                0,
                format!("scenario name {name:?}: use letters, digits, - and _"),
            ));
        }
        if raw.guest.is_empty() {
            return Err(invalid(0, "no [[guest]]: a scenario needs one".into()));
        }
        let mut guests: Vec<GuestDef> = Vec::new();
        for g in raw.guest {
            let at = g.span().start;
            let guest = guest_def(g.into_inner(), dir).map_err(|m| invalid(at, m))?;
            if guests.iter().any(|o| o.name == guest.name) {
                return Err(invalid(
                    at,
                    format!("guest {:?} is named twice", guest.name),
                ));
            }
            guests.push(guest);
        }
        let mut checks = Vec::new();
        for c in raw.check {
            let at = c.span().start;
            let check = check_def(c.into_inner(), dir, &guests, line_of(text, at))
                .map_err(|m| invalid(at, m))?;
            checks.push(check);
        }
        Ok(Scenario {
            name,
            dir: dir.to_path_buf(),
            timeout: Duration::from_secs(raw.timeout_s.unwrap_or(DEFAULT_SCENARIO_TIMEOUT_S)),
            guests,
            checks,
        })
    }

    /// The guest named `name`.
    pub fn guest(&self, name: &str) -> Option<&GuestDef> {
        self.guests.iter().find(|g| g.name == name)
    }
}

/// The line (from 1) of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether `s` is a non-empty word of letters, digits, `-` and `_` (safe
/// in domain names, file names and shell words).
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn guest_def(g: RawGuest, dir: &Path) -> Result<GuestDef, String> {
    if !is_word(&g.name) {
        return Err(format!(
            "guest name {:?}: use letters, digits, - and _",
            g.name
        ));
    }
    let memory_mib = g.memory.unwrap_or(32);
    if !(4..=65536).contains(&memory_mib) {
        return Err(format!(
            "guest {}: memory = {memory_mib} MiB is out of range (4 to 65536)",
            g.name
        ));
    }
    let vcpus = g.vcpus.unwrap_or(1);
    if !(1..=128).contains(&vcpus) {
        return Err(format!(
            "guest {}: vcpus = {vcpus} is out of range (1 to 128)",
            g.name
        ));
    }
    let mut disks: Vec<DiskDef> = Vec::new();
    for (i, d) in g.disks.into_iter().enumerate() {
        let disk = disk_def(d, i, dir).map_err(|m| format!("guest {}: {m}", g.name))?;
        if disks.iter().any(|o| o.vdev == disk.vdev) {
            return Err(format!("guest {}: two disks are {}", g.name, disk.vdev));
        }
        disks.push(disk);
    }
    let net = match g.net {
        None => None,
        Some(n) => Some(net_def(n).map_err(|m| format!("guest {}: {m}", g.name))?),
    };
    Ok(GuestDef {
        name: g.name,
        image: g.image,
        memory_mib,
        vcpus,
        extra: g.extra,
        disks,
        net,
        port: g.port.unwrap_or(80),
    })
}

fn disk_def(d: RawDisk, index: usize, dir: &Path) -> Result<DiskDef, String> {
    let source = match (d.dir, d.image) {
        (Some(_), Some(_)) => return Err("a disk takes `dir` or `image`, not both".into()),
        (Some(folder), None) => DiskSource::Dir(dir.join(folder)),
        (None, Some(image)) => {
            if !d.generate.is_empty() {
                return Err(
                    "`generate` needs a disk made by rumpx (`dir` or none), not `image`".into(),
                );
            }
            DiskSource::Image(dir.join(image))
        }
        (None, None) if d.generate.is_empty() => {
            return Err("a disk needs `dir`, `image` or `generate`".into())
        }
        (None, None) => DiskSource::Generated,
    };
    let mut generate: Vec<GeneratedFile> = Vec::new();
    for f in d.generate {
        let plain = !f.name.is_empty()
            && f.name.len() <= 200
            && f.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            && f.name != "."
            && f.name != "..";
        if !plain {
            return Err(format!(
                "generated file name {:?}: use letters, digits, . - _ (no folders)",
                f.name
            ));
        }
        if f.bytes > 1 << 30 {
            return Err(format!("generated file {}: more than 1 GiB", f.name));
        }
        if generate.iter().any(|o| o.name == f.name) {
            return Err(format!("generated file {} is named twice", f.name));
        }
        generate.push(GeneratedFile {
            name: f.name,
            bytes: f.bytes,
            seed: f.seed,
        });
    }
    let vdev = d
        .vdev
        .unwrap_or_else(|| format!("xvd{}", (b'a' + index as u8) as char));
    let vdev_ok = vdev.len() >= 4
        && vdev.starts_with("xvd")
        && vdev[3..].chars().all(|c| c.is_ascii_lowercase());
    if !vdev_ok {
        return Err(format!("vdev {vdev:?} is not an xvdX name"));
    }
    let access = match d.access.as_deref() {
        None | Some("rw") | Some("w") => DiskAccess::ReadWrite,
        Some("ro") | Some("r") => DiskAccess::ReadOnly,
        Some(other) => return Err(format!("access {other:?}: use \"rw\" or \"ro\"")),
    };
    Ok(DiskDef {
        source,
        generate,
        vdev,
        access,
    })
}

fn net_def(n: RawNet) -> Result<NetDef, String> {
    if let Some(ip) = &n.ip {
        parse_cidr(ip)?;
    }
    Ok(NetDef {
        bridge: n.bridge.unwrap_or_else(|| "xenbr0".into()),
        ip: n.ip,
        mac: n.mac,
    })
}

/// Checks "A.B.C.D/LEN".
fn parse_cidr(ip: &str) -> Result<(std::net::Ipv4Addr, u8), String> {
    let bad =
        || format!("net.ip {ip:?}: write an IPv4 address with its prefix, like 10.99.0.20/24");
    let (addr, len) = ip.split_once('/').ok_or_else(bad)?;
    let addr: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    Ok((addr, len))
}

fn check_def(
    c: RawCheck,
    dir: &Path,
    guests: &[GuestDef],
    line: usize,
) -> Result<CheckDef, String> {
    let Some(guest) = guests.iter().find(|g| g.name == c.guest) else {
        let names: Vec<&str> = guests.iter().map(|g| g.name.as_str()).collect();
        return Err(format!(
            "check names guest {:?}, which is not one of: {}",
            c.guest,
            names.join(", ")
        ));
    };
    let mut kinds = Vec::new();
    if let Some(text) = c.console {
        if text.is_empty() {
            return Err("console = \"\" matches any line: give the text to wait for".into());
        }
        kinds.push(CheckKind::Console(text));
    }
    match c.ready {
        Some(true) => kinds.push(CheckKind::Ready),
        Some(false) => return Err("ready = false checks nothing: leave it out".into()),
        None => {}
    }
    if let Some(h) = c.http {
        kinds.push(CheckKind::Http(http_check(h, dir, guest)?));
    }
    if let Some(r) = c.raw_http {
        let data = match r.pad {
            Some(n) if n > MAX_PAD => return Err(format!("raw_http.pad {n} is over {MAX_PAD}")),
            Some(n) => r.data.replace("{pad}", &"a".repeat(n)),
            None => r.data,
        };
        if data.is_empty() {
            return Err("raw_http.data is empty".into());
        }
        need_net(guest, "raw_http")?;
        kinds.push(CheckKind::RawHttp {
            data,
            status: statuses(r.status.list())?,
        });
    }
    if let Some(l) = c.load {
        if l.conns == 0 || l.requests == 0 || l.conns > 1000 {
            return Err("load needs 1 to 1000 conns and at least 1 request".into());
        }
        if !l.path.starts_with('/') {
            return Err(format!("load.path {:?} must start with /", l.path));
        }
        need_net(guest, "load")?;
        kinds.push(CheckKind::Load {
            path: l.path,
            conns: l.conns,
            requests: l.requests,
        });
    }
    if let Some(port) = c.tcp_open {
        if port == 0 {
            return Err("tcp_open = 0 is no port".into());
        }
        need_net(guest, "tcp_open")?;
        kinds.push(CheckKind::TcpOpen(port));
    }
    if let Some(reason) = c.shutdown {
        let known = [
            ShutdownReason::Poweroff,
            ShutdownReason::Reboot,
            ShutdownReason::Crash,
        ];
        let Some(r) = known.into_iter().find(|r| r.as_str() == reason) else {
            return Err(format!(
                "shutdown = {reason:?}: expect \"poweroff\", \"reboot\" or \"crash\""
            ));
        };
        kinds.push(CheckKind::Shutdown(r));
    }
    match c.destroy {
        Some(true) => kinds.push(CheckKind::Destroy),
        Some(false) => return Err("destroy = false checks nothing: leave it out".into()),
        None => {}
    }
    if kinds.len() != 1 {
        return Err(format!(
            "a check does exactly one thing (console, ready, http, raw_http, load, tcp_open, shutdown or destroy); this one has {}",
            kinds.len()
        ));
    }
    let timeout_s = c.timeout_s.unwrap_or(DEFAULT_CHECK_TIMEOUT_S);
    if timeout_s == 0 {
        return Err("timeout_s = 0 leaves no time".into());
    }
    Ok(CheckDef {
        guest: c.guest,
        timeout: Duration::from_secs(timeout_s),
        kind: kinds.remove(0),
        line,
    })
}

fn need_net(guest: &GuestDef, what: &str) -> Result<(), String> {
    match guest.net.as_ref().and_then(NetDef::address) {
        Some(_) => Ok(()),
        None => Err(format!(
            "{what} needs guest {}'s address: give it net = {{ ip = \"A.B.C.D/LEN\" }}",
            guest.name
        )),
    }
}

fn statuses(list: Vec<u16>) -> Result<Vec<u16>, String> {
    if list.is_empty() {
        return Err("status = [] accepts nothing".into());
    }
    if let Some(bad) = list.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(format!("status {bad} is not an HTTP status (100 to 599)"));
    }
    Ok(list)
}

fn http_check(h: RawHttp, dir: &Path, guest: &GuestDef) -> Result<HttpCheck, String> {
    let target = match (h.url, h.path) {
        (Some(_), Some(_)) => return Err("http takes `url` or `path`, not both".into()),
        (None, None) => return Err("http needs `url` or `path`".into()),
        (Some(url), None) => {
            if !url.starts_with("http://") {
                return Err(format!("http.url {url:?} must start with http://"));
            }
            HttpTarget::Url(url)
        }
        (None, Some(path)) => {
            if !path.starts_with('/') {
                return Err(format!("http.path {path:?} must start with /"));
            }
            need_net(guest, "http with a path")?;
            HttpTarget::Path(path)
        }
    };
    let method = match h.method.as_deref() {
        None | Some("GET") => HttpMethod::Get,
        Some("HEAD") => HttpMethod::Head,
        Some(other) => {
            return Err(format!(
                "http.method {other:?}: checks use GET or HEAD (send others with raw_http)"
            ))
        }
    };
    let range = match h.range {
        None => None,
        Some(r) => {
            let bad = || format!("http.range {r:?}: write FIRST-LAST, like 0-1023");
            let (a, b) = r.split_once('-').ok_or_else(bad)?;
            let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            Some((a, b))
        }
    };
    let default_status = if range.is_some() { 206 } else { 200 };
    let status = statuses(h.status.map_or(vec![default_status], OneOrMany::list))?;
    let mut bodies = Vec::new();
    if let Some(hex) = h.body_fnv1a64 {
        let v = u64::from_str_radix(&hex, 16)
            .map_err(|_| format!("body_fnv1a64 {hex:?} is not a 64-bit hex number"))?;
        bodies.push(BodyExpect::Fnv1a64(v));
    }
    if let Some(file) = h.body_file {
        bodies.push(BodyExpect::File(dir.join(file)));
    }
    if let Some(name) = h.body_generated {
        let known = guest
            .disks
            .iter()
            .flat_map(|d| &d.generate)
            .any(|f| f.name == name);
        if !known {
            return Err(format!(
                "body_generated {name:?} is not a generated file of guest {}'s disks",
                guest.name
            ));
        }
        bodies.push(BodyExpect::Generated(name));
    }
    if let Some(text) = h.body_contains {
        bodies.push(BodyExpect::Contains(text));
    }
    if bodies.len() > 1 {
        return Err("give one of body_fnv1a64, body_file, body_generated, body_contains".into());
    }
    if method == HttpMethod::Head && !bodies.is_empty() {
        return Err("a HEAD answer has no body to check".into());
    }
    Ok(HttpCheck {
        target,
        method,
        range,
        status,
        body: bodies.pop(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Path::new("t.toml"), Path::new("/s"), "t")
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const GOOD: &str = r#"
name = "web"
timeout_s = 300

[[guest]]
name = "www1"
image = "httpd"
memory = 48
extra = "port=80"
disks = [{ dir = "site", generate = [{ name = "big.bin", bytes = 8388608, seed = 5 }] }]
net = { ip = "10.99.0.20/24" }

[[check]]
guest = "www1"
timeout_s = 90
console = "httpd: serving http on"

[[check]]
guest = "www1"
http = { path = "/big.bin", body_generated = "big.bin" }

[[check]]
guest = "www1"
http = { path = "/big.bin", range = "10-19", body_fnv1a64 = "00ff" }

[[check]]
guest = "www1"
raw_http = { data = "GET /{pad} HTTP/1.1\r\n\r\n", pad = 10, status = [414, 400] }

[[check]]
guest = "www1"
load = { path = "/", conns = 20, requests = 200 }

[[check]]
guest = "www1"
shutdown = "poweroff"
"#;

    #[test]
    fn a_good_file_parses_with_defaults_filled_in() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.name, "web");
        assert_eq!(s.timeout, Duration::from_secs(300));
        let g = &s.guests[0];
        assert_eq!((g.memory_mib, g.vcpus, g.port), (48, 1, 80));
        assert_eq!(g.disks[0].vdev, "xvda");
        assert_eq!(g.disks[0].source, DiskSource::Dir("/s/site".into()));
        assert_eq!(g.disks[0].generate[0].bytes, 8 << 20);
        assert_eq!(g.net.as_ref().unwrap().bridge, "xenbr0");
        assert_eq!(g.net.as_ref().unwrap().address(), Some("10.99.0.20"));
        assert_eq!(s.checks.len(), 6);
        assert_eq!(s.checks[0].timeout, Duration::from_secs(90));
        assert_eq!(s.checks[0].line, 13);
        assert_eq!(s.checks[1].timeout, Duration::from_secs(60));
        let CheckKind::Http(h) = &s.checks[2].kind else {
            panic!("{:?}", s.checks[2].kind)
        };
        assert_eq!(h.range, Some((10, 19)));
        assert_eq!(h.status, vec![206]);
        assert_eq!(h.body, Some(BodyExpect::Fnv1a64(0xff)));
        let CheckKind::RawHttp { data, status } = &s.checks[3].kind else {
            panic!()
        };
        assert_eq!(data, &format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10)));
        assert_eq!(status, &vec![414, 400]);
        assert_eq!(
            s.checks[5].kind,
            CheckKind::Shutdown(ShutdownReason::Poweroff)
        );
        assert_eq!(
            s.checks[4].kind.to_string(),
            "load / 200 requests over 20 conns"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = err("[[guest]]\nname = \"a\"\nimage = \n");
        assert!(e.starts_with("t.toml:3: "), "{e}");
        let e = err("[[guest]]\nname = \"a\"\nimage = \"x\"\ncolour = 1\n");
        assert!(e.starts_with("t.toml:4: ") && e.contains("colour"), "{e}");
        let e = err("[[guest]]\nname = \"a\"\nimage = \"x\"\nmemory = \"big\"\n");
        assert!(e.starts_with("t.toml:4: "), "{e}");
    }

    #[test]
    fn mistakes_in_entries_name_the_entry_line_and_the_fix() {
        let head = "[[guest]]\nname = \"a\"\nimage = \"x\"\nnet = { ip = \"10.99.0.2/24\" }\n";
        let cases: &[(&str, &str)] = &[
            (
                "[[check]]\nguest = \"b\"\nconsole = \"x\"\n",
                "not one of: a",
            ),
            ("[[check]]\nguest = \"a\"\n", "exactly one thing"),
            (
                "[[check]]\nguest = \"a\"\nconsole = \"x\"\ntcp_open = 7\n",
                "this one has 2",
            ),
            (
                "[[check]]\nguest = \"a\"\nshutdown = \"off\"\n",
                "\"poweroff\"",
            ),
            (
                "[[check]]\nguest = \"a\"\nhttp = { path = \"x\" }\n",
                "must start with /",
            ),
            (
                "[[check]]\nguest = \"a\"\nhttp = { path = \"/\", method = \"POST\" }\n",
                "raw_http",
            ),
            (
                "[[check]]\nguest = \"a\"\nhttp = { path = \"/\", range = \"9-1\" }\n",
                "FIRST-LAST",
            ),
            (
                "[[check]]\nguest = \"a\"\nhttp = { path = \"/\", body_generated = \"z\" }\n",
                "not a generated file",
            ),
            (
                "[[check]]\nguest = \"a\"\nhttp = { path = \"/\", body_fnv1a64 = \"xyz\" }\n",
                "hex",
            ),
            (
                "[[check]]\nguest = \"a\"\nraw_http = { data = \"x\", status = 99 }\n",
                "not an HTTP status",
            ),
            (
                "[[check]]\nguest = \"a\"\nload = { path = \"/\", conns = 0, requests = 1 }\n",
                "1 to 1000 conns",
            ),
            (
                "[[check]]\nguest = \"a\"\ntimeout_s = 0\nconsole = \"x\"\n",
                "no time",
            ),
        ];
        for (check, want) in cases {
            let e = err(&format!("{head}{check}"));
            assert!(e.starts_with("t.toml:5: "), "{check}: {e}");
            assert!(e.contains(want), "{check}: {e}");
        }
    }

    #[test]
    fn bad_guests_are_refused_with_their_line() {
        let cases: &[(&str, &str)] = &[
            ("name = \"a b\"\nimage = \"x\"\n", "letters, digits"),
            ("name = \"a\"\nimage = \"x\"\nmemory = 1\n", "out of range"),
            (
                "name = \"a\"\nimage = \"x\"\nnet = { ip = \"10.99.0.2\" }\n",
                "with its prefix",
            ),
            (
                "name = \"a\"\nimage = \"x\"\ndisks = [{ vdev = \"xvda\" }]\n",
                "needs `dir`",
            ),
            (
                "name = \"a\"\nimage = \"x\"\ndisks = [{ dir = \"d\", vdev = \"sda\" }]\n",
                "xvdX",
            ),
            (
                "name = \"a\"\nimage = \"x\"\ndisks = [{ generate = [{ name = \"../x\", bytes = 1, seed = 1 }] }]\n",
                "no folders",
            ),
            (
                "name = \"a\"\nimage = \"x\"\ndisks = [{ dir = \"d\", access = \"rx\" }]\n",
                "\"ro\"",
            ),
        ];
        for (guest, want) in cases {
            let e = err(&format!("# c\n[[guest]]\n{guest}"));
            assert!(e.starts_with("t.toml:2: "), "{guest}: {e}");
            assert!(e.contains(want), "{guest}: {e}");
        }
        let twice =
            "[[guest]]\nname = \"a\"\nimage = \"x\"\n[[guest]]\nname = \"a\"\nimage = \"x\"\n";
        assert!(err(twice).starts_with("t.toml:4: "), "{}", err(twice));
        assert!(err("name = \"x\"\n").contains("no [[guest]]"));
    }

    #[test]
    fn net_checks_need_an_address() {
        let e =
            err("[[guest]]\nname = \"a\"\nimage = \"x\"\n[[check]]\nguest = \"a\"\ntcp_open = 7\n");
        assert!(e.contains("net = { ip"), "{e}");
    }

    /// The scenario the Xen tier runs (tests/xen/httpd.rs).
    #[test]
    fn the_httpd_scenario_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios/httpd.toml");
        let s = Scenario::load(&path).unwrap();
        assert_eq!(s.name, "httpd");
        let names: Vec<&str> = s.guests.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["www1", "www2", "httpd-small"]);
        for g in &s.guests {
            let sizes: Vec<u64> = g.disks[0].generate.iter().map(|f| f.bytes).collect();
            if g.name == "httpd-small" {
                assert_eq!(g.memory_mib, 12);
                assert_eq!(sizes, [4096, 8 << 20]);
            } else {
                assert_eq!(sizes, [0, 1, 4096, 1 << 20, 8 << 20]);
            }
            assert!(
                matches!(&g.disks[0].source, DiskSource::Dir(d) if d.join("index.html").is_file())
            );
        }
        let count = |guest: &str, f: fn(&CheckKind) -> bool| {
            s.checks
                .iter()
                .filter(|c| c.guest == guest && f(&c.kind))
                .count()
        };
        for guest in ["www1", "www2"] {
            assert_eq!(count(guest, |k| matches!(k, CheckKind::RawHttp { .. })), 5);
            assert_eq!(
                count(guest, |k| matches!(
                    k,
                    CheckKind::Load {
                        conns: 20,
                        requests: 200,
                        ..
                    }
                )),
                1
            );
            assert_eq!(
                count(guest, |k| matches!(
                    k,
                    CheckKind::Shutdown(ShutdownReason::Poweroff)
                )),
                1
            );
        }
        // The small guest takes more connections than it serves at once.
        assert_eq!(
            count("httpd-small", |k| matches!(
                k,
                CheckKind::Load {
                    conns: 40,
                    requests: 100,
                    ..
                }
            )),
            1
        );
        assert_eq!(
            count("httpd-small", |k| matches!(
                k,
                CheckKind::Shutdown(ShutdownReason::Poweroff)
            )),
            1
        );
    }

    /// The example without HTTP (tests/scenarios/rumpkern.toml).
    #[test]
    fn the_rumpkern_scenario_parses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios/rumpkern.toml");
        let s = Scenario::load(&path).unwrap();
        assert_eq!(s.guests.len(), 2);
        assert_eq!(s.checks.len(), 8);
        assert_eq!(s.checks[3].kind, CheckKind::TcpOpen(7));
        assert_eq!(s.checks[7].kind, CheckKind::Destroy);
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let e = Scenario::load(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert!(matches!(e, ScenarioError::Io { .. }));
        assert!(e.to_string().starts_with("/nonexistent/x.toml: "), "{e}");
    }
}
