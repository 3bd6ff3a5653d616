//! The xenstore client (`io/xs_wire.h`, docs/misc/xenstore.txt): wire
//! format, the shared-page ring transport, the client with watches and
//! transactions, and the [`XenstoreOps`] trait drivers are generic over (the
//! real client and the simulated xenstored both implement it).

pub mod client;
pub mod page;
pub mod ring;
pub mod wire;
#[cfg(target_os = "none")]
pub mod xen;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::error::XenError;

/// A xenstore transaction id (`tx_id` of `xsd_sockmsg`); [`Tx::NONE`] is
/// "no transaction".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tx(pub u32);

impl Tx {
    /// Outside any transaction (id 0).
    pub const NONE: Tx = Tx(0);
}

/// An error from xenstore: an error reply of xenstored (by errno name), a
/// malformed reply (the peer misbehaved), a request we refused to send, or a
/// failure of the transport below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XsError {
    /// xenstored: the node does not exist (`ENOENT`).
    NoEnt,
    /// xenstored: busy, retry: the transaction conflicted with another
    /// change (`EAGAIN`); retry the whole transaction.
    Again,
    /// xenstored: busy, retry later (`EBUSY`).
    Busy,
    /// xenstored: permission denied (`EACCES`).
    Access,
    /// xenstored: operation not permitted (`EPERM`).
    Perm,
    /// xenstored: the node already exists (`EEXIST`).
    Exist,
    /// xenstored: the request was invalid (`EINVAL`).
    Inval,
    /// xenstored: out of space or quota (`ENOSPC`).
    NoSpc,
    /// xenstored: the request or node is too big / over quota (`E2BIG`).
    TooBig,
    /// xenstored: another errno name, kept verbatim.
    Other(String),
    /// Peer misbehaved: a reply broke the wire protocol (bad length, missing
    /// NUL, bad UTF-8, unexpected type, wrong `req_id`, impossible ring
    /// indices). The connection is not trustworthy after this.
    Malformed(&'static str),
    /// Our own request was refused before sending (invalid path, value too
    /// long for one message, ...); nothing was sent.
    BadRequest(&'static str),
    /// Hypercall failed: the transport below (e.g. the event channel
    /// notification) failed.
    Hypercall(XenError),
    /// No reply (or event) before the deadline.
    Timeout,
}

impl XsError {
    /// Maps an errno name from an `XS_ERROR` reply (without the NUL).
    pub fn from_errno_name(name: &str) -> XsError {
        match name {
            "ENOENT" => XsError::NoEnt,
            "EAGAIN" => XsError::Again,
            "EBUSY" => XsError::Busy,
            "EACCES" => XsError::Access,
            "EPERM" => XsError::Perm,
            "EEXIST" => XsError::Exist,
            "EINVAL" => XsError::Inval,
            "ENOSPC" => XsError::NoSpc,
            "E2BIG" => XsError::TooBig,
            other => XsError::Other(String::from(other)),
        }
    }

    /// The errno name xenstored uses for this error, if it is one of its
    /// error replies (used by the simulated xenstored).
    pub fn errno_name(&self) -> Option<&str> {
        Some(match self {
            XsError::NoEnt => "ENOENT",
            XsError::Again => "EAGAIN",
            XsError::Busy => "EBUSY",
            XsError::Access => "EACCES",
            XsError::Perm => "EPERM",
            XsError::Exist => "EEXIST",
            XsError::Inval => "EINVAL",
            XsError::NoSpc => "ENOSPC",
            XsError::TooBig => "E2BIG",
            XsError::Other(name) => name,
            _ => return None,
        })
    }

    /// Whether this error means "busy, retry" (the transaction helper
    /// retries on it).
    pub fn is_retry(&self) -> bool {
        matches!(self, XsError::Again)
    }
}

impl fmt::Display for XsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XsError::Malformed(what) => write!(f, "xenstore peer misbehaved: {what}"),
            XsError::BadRequest(what) => write!(f, "xenstore request refused: {what}"),
            XsError::Hypercall(e) => write!(f, "xenstore transport: {e}"),
            XsError::Timeout => write!(f, "xenstore: timed out"),
            other => write!(
                f,
                "xenstore error {}",
                other.errno_name().unwrap_or("(unknown)")
            ),
        }
    }
}

impl From<XenError> for XsError {
    fn from(e: XenError) -> XsError {
        XsError::Hypercall(e)
    }
}

/// Xenstore as drivers see it. Paths are absolute (`/local/domain/0/...`) or
/// relative to the domain's home `/local/domain/<domid>`. Deadlines are
/// absolute monotonic times in ns (`None`: wait without bound).
pub trait XenstoreOps {
    /// Reads a node's value (`XS_READ`); the value must be UTF-8.
    fn read(&self, tx: Tx, path: &str) -> Result<String, XsError>;
    /// Writes a node's value, creating it and missing parents (`XS_WRITE`).
    fn write(&self, tx: Tx, path: &str, value: &str) -> Result<(), XsError>;
    /// Creates a node with an empty value if missing (`XS_MKDIR`).
    fn mkdir(&self, tx: Tx, path: &str) -> Result<(), XsError>;
    /// Removes a node and its children (`XS_RM`).
    fn rm(&self, tx: Tx, path: &str) -> Result<(), XsError>;
    /// Lists a node's children by name (`XS_DIRECTORY`).
    fn directory(&self, tx: Tx, path: &str) -> Result<Vec<String>, XsError>;
    /// Registers a watch (`XS_WATCH`). xenstored fires it once at once, then
    /// on every change of `path` or below. Events are queued per `token`.
    fn watch(&self, path: &str, token: &str) -> Result<(), XsError>;
    /// Removes a watch (`XS_UNWATCH`); its queued events are dropped.
    fn unwatch(&self, path: &str, token: &str) -> Result<(), XsError>;
    /// Waits for the next event of the watch with `token` and returns the
    /// path that changed; `Ok(None)` when the deadline passed first.
    fn next_watch_event(
        &self,
        token: &str,
        deadline_ns: Option<u64>,
    ) -> Result<Option<String>, XsError>;
    /// Starts a transaction (`XS_TRANSACTION_START`).
    fn transaction_start(&self) -> Result<Tx, XsError>;
    /// Ends a transaction, committing it or not (`XS_TRANSACTION_END`).
    /// [`XsError::Again`] on commit means it conflicted: retry.
    fn transaction_end(&self, tx: Tx, commit: bool) -> Result<(), XsError>;
    /// The domain's home path, e.g. `/local/domain/5`
    /// (`XS_GET_DOMAIN_PATH` for our own domid, read from the `domid` key).
    fn domain_path(&self) -> Result<String, XsError>;
}

/// How many times [`transaction`] retries a transaction that ended in
/// `EAGAIN` before giving up with [`XsError::Again`].
pub const TRANSACTION_RETRIES: u32 = 16;

/// Runs `body` in a transaction and commits it, retrying the whole
/// transaction (up to [`TRANSACTION_RETRIES`] times) when the commit, or an
/// operation inside, fails with `EAGAIN`. An error from `body` aborts the
/// transaction and is returned.
pub fn transaction<S, T>(
    store: &S,
    mut body: impl FnMut(Tx) -> Result<T, XsError>,
) -> Result<T, XsError>
where
    S: XenstoreOps + ?Sized,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let tx = store.transaction_start()?;
        let result = match body(tx) {
            Ok(value) => store.transaction_end(tx, true).map(|()| value),
            Err(e) => {
                // The body's error wins; aborting can fail only for reasons
                // the body's error already covers.
                let _ = store.transaction_end(tx, false);
                Err(e)
            }
        };
        match result {
            Err(e) if e.is_retry() && attempts <= TRANSACTION_RETRIES => continue,
            other => return other,
        }
    }
}
