//! A dom0 xenstore client for reading guest state (domid by name, the
//! readiness key, backend states): `xsd_sockmsg` messages (`io/xs_wire.h`,
//! encoded and checked by `xen_platform::xenstore::wire`) over xenstored's
//! unix socket, or over the kernel's `/dev/xen/xenbus`.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use xen_platform::xenstore::wire::{self, Header, Reply, Request, HEADER_LEN};
use xen_platform::xenstore::{Tx, XsError};

/// The key (under `/local/domain/<domid>`) a rumpx guest writes when its
/// service is up, such as `http 10.99.0.20:80`.
pub const READY_KEY: &str = "data/rumpx-ready";

/// Where xenstored listens, in the order tried; `$XENSTORED_PATH` first.
const SOCKETS: &[&str] = &["/run/xenstored/socket", "/var/run/xenstored/socket"];
/// The kernel's xenstore device (speaks the same messages).
const XENBUS_DEVICE: &str = "/dev/xen/xenbus";

/// What can go wrong talking to xenstore.
#[derive(Debug, thiserror::Error)]
pub enum XenstoreError {
    /// Neither xenstored's socket nor the xenbus device could be opened.
    #[error("cannot reach xenstore (tried {tried}): is this a Xen dom0 with xenstored running?")]
    Unreachable {
        /// The paths tried and why each failed.
        tried: String,
    },
    /// Reading or writing the connection failed.
    #[error("xenstore connection: {0}")]
    Io(#[from] io::Error),
    /// xenstored refused the request or broke the protocol.
    #[error("{0}")]
    Protocol(XsError),
}

impl From<XsError> for XenstoreError {
    fn from(e: XsError) -> Self {
        XenstoreError::Protocol(e)
    }
}

/// Results of the xenstore client.
pub type XsResult<T> = std::result::Result<T, XenstoreError>;

/// A byte stream to xenstored.
pub trait Connection: Read + Write + Send {}
impl<T: Read + Write + Send> Connection for T {}

/// A connection to xenstore, one request at a time.
pub struct Xenstore {
    conn: Box<dyn Connection>,
    next_req: u32,
}

impl Xenstore {
    /// Connects to xenstored's socket (`$XENSTORED_PATH`, then the usual
    /// paths) or, failing that, to `/dev/xen/xenbus`.
    pub fn open() -> XsResult<Xenstore> {
        let mut tried = Vec::new();
        let sockets = std::env::var_os("XENSTORED_PATH")
            .map(PathBuf::from)
            .into_iter()
            .chain(SOCKETS.iter().map(PathBuf::from));
        for path in sockets {
            match UnixStream::connect(&path) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
                    return Ok(Xenstore::over(Box::new(stream)));
                }
                Err(e) => tried.push(format!("{}: {e}", path.display())),
            }
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .open(XENBUS_DEVICE)
        {
            Ok(file) => Ok(Xenstore::over(Box::new(file))),
            Err(e) => {
                tried.push(format!("{XENBUS_DEVICE}: {e}"));
                Err(XenstoreError::Unreachable {
                    tried: tried.join("; "),
                })
            }
        }
    }

    /// A client over an already open connection.
    pub fn over(conn: Box<dyn Connection>) -> Xenstore {
        Xenstore { conn, next_req: 1 }
    }

    /// Sends `req` and returns its checked reply; watch events (none are
    /// registered by this client) are skipped.
    fn call(&mut self, req: &Request<'_>) -> XsResult<Reply> {
        let req_id = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        let message = wire::encode_request(req_id, Tx::NONE, req)?;
        self.conn.write_all(&message)?;
        loop {
            let mut head = [0u8; HEADER_LEN];
            self.conn.read_exact(&mut head)?;
            let header = Header::from_bytes(&head);
            wire::check_reply_header(&header)?;
            let mut payload = vec![0u8; header.len as usize];
            self.conn.read_exact(&mut payload)?;
            if header.type_ == xen_abi::XS_WATCH_EVENT {
                continue;
            }
            return Ok(wire::decode_reply(req_id, req, &header, &payload)?);
        }
    }

    /// The value at `path`, or None when there is no such node.
    pub fn read(&mut self, path: &str) -> XsResult<Option<String>> {
        match self.call(&Request::Read(path)) {
            Ok(Reply::Value(v)) => Ok(Some(v)),
            Ok(_) => Err(XsError::Malformed("read reply is not a value").into()),
            Err(XenstoreError::Protocol(XsError::NoEnt)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The children of `path` (none when there is no such node).
    pub fn directory(&mut self, path: &str) -> XsResult<Vec<String>> {
        match self.call(&Request::Directory(path)) {
            Ok(Reply::Names(names)) => Ok(names),
            Ok(_) => Err(XsError::Malformed("directory reply is not names").into()),
            Err(XenstoreError::Protocol(XsError::NoEnt)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The domid of the domain called `name`, if one runs.
    pub fn domid_by_name(&mut self, name: &str) -> XsResult<Option<u32>> {
        for id in self.directory("/local/domain")? {
            let Some(domid) = wire::parse_decimal(&id) else {
                continue;
            };
            if self
                .read(&format!("/local/domain/{domid}/name"))?
                .as_deref()
                == Some(name)
            {
                return Ok(Some(domid));
            }
        }
        Ok(None)
    }

    /// The guest's readiness key ([`READY_KEY`]), once written.
    pub fn ready(&mut self, domid: u32) -> XsResult<Option<String>> {
        self.read(&format!("/local/domain/{domid}/{READY_KEY}"))
    }

    /// The xenbus `state` of each of the guest's backends in dom0, as
    /// `("vif/0", 4)`; a state that is not a number is left out.
    pub fn backend_states(&mut self, domid: u32) -> XsResult<Vec<(String, u32)>> {
        let mut states = Vec::new();
        for kind in ["vif", "vbd"] {
            let base = format!("/local/domain/0/backend/{kind}/{domid}");
            for dev in self.directory(&base)? {
                let state = self.read(&format!("{base}/{dev}/state"))?;
                if let Some(n) = state.as_deref().and_then(wire::parse_decimal) {
                    states.push((format!("{kind}/{dev}"), n));
                }
            }
        }
        Ok(states)
    }
}

/// Parses a readiness value `PROTO A.B.C.D:PORT` into its protocol and
/// address.
pub fn parse_ready(value: &str) -> Option<(String, std::net::SocketAddrV4)> {
    let mut words = value.split_whitespace();
    let proto = words.next()?;
    let addr = words.next()?.parse().ok()?;
    if words.next().is_some() || !proto.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some((proto.to_string(), addr))
}

/// A domain followed by name across polls: absent until it appears, then
/// running (with its readiness key once written), then gone.
#[derive(Debug, Clone)]
pub struct DomainWatch {
    name: String,
    domid: Option<u32>,
}

/// What a [`DomainWatch`] saw at one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainState {
    /// No domain of that name runs, and none has been seen yet.
    Absent,
    /// The domain runs; its readiness value, once written.
    Running {
        /// Its domid.
        domid: u32,
        /// The value of [`READY_KEY`], if written.
        ready: Option<String>,
    },
    /// The domain was seen and is gone now.
    Gone,
}

impl DomainWatch {
    /// Follows the domain called `name`.
    pub fn new(name: &str) -> DomainWatch {
        DomainWatch {
            name: name.to_string(),
            domid: None,
        }
    }

    /// Where the domain is now.
    pub fn poll(&mut self, xs: &mut Xenstore) -> XsResult<DomainState> {
        match (xs.domid_by_name(&self.name)?, self.domid) {
            (None, None) => Ok(DomainState::Absent),
            (None, Some(_)) => Ok(DomainState::Gone),
            (Some(domid), _) => {
                self.domid = Some(domid);
                Ok(DomainState::Running {
                    domid,
                    ready: xs.ready(domid)?,
                })
            }
        }
    }
}

/// How waiting for a guest's readiness ended ([`wait_ready`]); shown as
/// the line `rumpx-ready` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The guest wrote its readiness key, with this value.
    Ready(String),
    /// The domain ended before writing it.
    Gone,
    /// Nothing within the time given (the domain may never have appeared).
    NotReady,
}

impl std::fmt::Display for WaitOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitOutcome::Ready(value) => write!(f, "ready {value}"),
            WaitOutcome::Gone => f.write_str("gone"),
            WaitOutcome::NotReady => f.write_str("not ready"),
        }
    }
}

/// Waits up to `timeout` for the domain called `name` to run and write its
/// readiness key, polling every `every`.
pub fn wait_ready(
    xs: &mut Xenstore,
    name: &str,
    timeout: Duration,
    every: Duration,
) -> XsResult<WaitOutcome> {
    let deadline = Instant::now() + timeout;
    let mut watch = DomainWatch::new(name);
    loop {
        match watch.poll(xs)? {
            DomainState::Running {
                ready: Some(value), ..
            } => return Ok(WaitOutcome::Ready(value)),
            DomainState::Gone => return Ok(WaitOutcome::Gone),
            DomainState::Absent | DomainState::Running { ready: None, .. } => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(WaitOutcome::NotReady);
        }
        std::thread::sleep(every.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::thread;
    use xen_abi::{XS_DIRECTORY, XS_ERROR, XS_READ};

    /// A xenstored speaking the wire protocol over a socket pair, with a
    /// fixed tree; it sends a watch event before every reply.
    fn serve(peer: UnixStream, tree: BTreeMap<&'static str, &'static str>) {
        serve_shared(peer, Arc::new(Mutex::new(tree)));
    }

    /// [`serve`] over a tree another thread may change.
    fn serve_shared(mut peer: UnixStream, tree: Arc<Mutex<BTreeMap<&'static str, &'static str>>>) {
        loop {
            let mut head = [0u8; HEADER_LEN];
            if peer.read_exact(&mut head).is_err() {
                return;
            }
            let h = Header::from_bytes(&head);
            let mut payload = vec![0u8; h.len as usize];
            peer.read_exact(&mut payload).unwrap();
            let path = String::from_utf8(payload[..payload.len() - 1].to_vec()).unwrap();
            let send = |peer: &mut UnixStream, type_: u32, body: &[u8]| {
                let reply = Header {
                    type_,
                    req_id: h.req_id,
                    tx_id: 0,
                    len: body.len() as u32,
                };
                peer.write_all(&reply.to_bytes()).unwrap();
                peer.write_all(body).unwrap();
            };
            send(&mut peer, xen_abi::XS_WATCH_EVENT, b"/x\0tok\0");
            let tree = tree.lock().unwrap().clone();
            let prefix = format!("{path}/");
            match h.type_ {
                XS_READ => match tree.get(path.as_str()) {
                    Some(v) => send(&mut peer, XS_READ, v.as_bytes()),
                    None => send(&mut peer, XS_ERROR, b"ENOENT\0"),
                },
                XS_DIRECTORY => {
                    let mut names: Vec<&str> = tree
                        .keys()
                        .filter_map(|k| k.strip_prefix(prefix.as_str()))
                        .map(|rest| rest.split('/').next().unwrap())
                        .collect();
                    names.dedup();
                    let mut body = Vec::new();
                    for n in names {
                        body.extend_from_slice(n.as_bytes());
                        body.push(0);
                    }
                    send(&mut peer, XS_DIRECTORY, &body);
                }
                _ => send(&mut peer, XS_ERROR, b"EINVAL\0"),
            }
        }
    }

    #[test]
    fn finds_a_guest_and_reads_its_state() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let tree = BTreeMap::from([
            ("/local/domain/0/name", "Domain-0"),
            ("/local/domain/7/name", "httpd"),
            ("/local/domain/7/data/rumpx-ready", "http 10.99.0.20:80"),
            ("/local/domain/0/backend/vif/7/0/state", "4"),
            ("/local/domain/0/backend/vbd/7/51712/state", "2"),
        ]);
        let server = thread::spawn(move || serve(theirs, tree));
        let mut xs = Xenstore::over(Box::new(ours));
        assert_eq!(xs.domid_by_name("httpd").unwrap(), Some(7));
        assert_eq!(xs.domid_by_name("nobody").unwrap(), None);
        let ready = xs.ready(7).unwrap().unwrap();
        assert_eq!(
            parse_ready(&ready),
            Some(("http".into(), "10.99.0.20:80".parse().unwrap()))
        );
        assert_eq!(xs.ready(0).unwrap(), None);
        assert_eq!(
            xs.backend_states(7).unwrap(),
            [("vif/0".to_string(), 4), ("vbd/51712".to_string(), 2)]
        );
        let bad = xs.read("no//path").unwrap_err();
        assert!(bad.to_string().contains("empty component"), "{bad}");
        drop(xs);
        server.join().unwrap();
    }

    #[test]
    fn a_reply_for_another_request_is_refused() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let server = thread::spawn(move || {
            let mut head = [0u8; HEADER_LEN];
            theirs.read_exact(&mut head).unwrap();
            let h = Header::from_bytes(&head);
            let mut payload = vec![0u8; h.len as usize];
            theirs.read_exact(&mut payload).unwrap();
            let reply = Header {
                type_: XS_READ,
                req_id: h.req_id + 1,
                tx_id: 0,
                len: 2,
            };
            theirs.write_all(&reply.to_bytes()).unwrap();
            theirs.write_all(b"hi").unwrap();
        });
        let err = Xenstore::over(Box::new(ours)).read("/a").unwrap_err();
        assert!(err.to_string().contains("req_id"), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn waiting_ends_ready_gone_or_not_ready() {
        let tree = Arc::new(Mutex::new(BTreeMap::from([
            ("/local/domain/0/name", "Domain-0"),
            ("/local/domain/7/name", "web"),
        ])));
        let (ours, theirs) = UnixStream::pair().unwrap();
        let shared = tree.clone();
        let server = thread::spawn(move || serve_shared(theirs, shared));
        let mut xs = Xenstore::over(Box::new(ours));
        let tick = Duration::from_millis(10);
        let short = Duration::from_millis(100);
        assert_eq!(
            wait_ready(&mut xs, "nobody", short, tick).unwrap(),
            WaitOutcome::NotReady
        );
        assert_eq!(
            wait_ready(&mut xs, "web", short, tick).unwrap(),
            WaitOutcome::NotReady
        );
        let mut watch = DomainWatch::new("web");
        assert_eq!(
            watch.poll(&mut xs).unwrap(),
            DomainState::Running {
                domid: 7,
                ready: None
            }
        );
        tree.lock()
            .unwrap()
            .insert("/local/domain/7/data/rumpx-ready", "http 10.99.0.50:80");
        let ready = wait_ready(&mut xs, "web", short, tick).unwrap();
        assert_eq!(ready.to_string(), "ready http 10.99.0.50:80");
        tree.lock()
            .unwrap()
            .retain(|k, _| !k.starts_with("/local/domain/7"));
        assert_eq!(watch.poll(&mut xs).unwrap(), DomainState::Gone);
        assert_eq!(
            DomainWatch::new("web").poll(&mut xs).unwrap(),
            DomainState::Absent
        );
        assert_eq!(WaitOutcome::Gone.to_string(), "gone");
        assert_eq!(WaitOutcome::NotReady.to_string(), "not ready");
        drop(xs);
        server.join().unwrap();
    }

    #[test]
    fn readiness_values_parse_strictly() {
        assert_eq!(parse_ready("http 1.2.3.4"), None);
        assert_eq!(parse_ready("http 1.2.3.4:80 extra"), None);
        assert_eq!(parse_ready("h/t 1.2.3.4:80"), None);
        assert_eq!(parse_ready(""), None);
    }
}
