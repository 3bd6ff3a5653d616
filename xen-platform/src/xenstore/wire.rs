//! The xenstore wire format (`io/xs_wire.h`): `struct xsd_sockmsg` headers,
//! request payloads per message type, and strict decoding of replies and
//! watch events, which come from an untrusted peer.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Tx, XsError};
use crate::services::DomId;
use xen_abi as abi;

/// Size of a message header (`struct xsd_sockmsg`).
pub const HEADER_LEN: usize = core::mem::size_of::<abi::xsd_sockmsg>();
/// Largest payload of one message (`XENSTORE_PAYLOAD_MAX`).
pub const PAYLOAD_MAX: usize = abi::XENSTORE_PAYLOAD_MAX as usize;
/// Longest absolute path (`XENSTORE_ABS_PATH_MAX`).
pub const ABS_PATH_MAX: usize = abi::XENSTORE_ABS_PATH_MAX as usize;
/// Longest relative path (`XENSTORE_REL_PATH_MAX`).
pub const REL_PATH_MAX: usize = abi::XENSTORE_REL_PATH_MAX as usize;

/// The `OK\0` payload of acknowledgements.
const OK: &[u8] = b"OK\0";

/// A message header (`struct xsd_sockmsg`), in the native byte order the
/// shared ring uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message type (`XS_*`).
    pub type_: u32,
    /// Request id, echoed in the reply.
    pub req_id: u32,
    /// Transaction id (0: none).
    pub tx_id: u32,
    /// Payload length in bytes.
    pub len: u32,
}

impl Header {
    /// The header as bytes for the ring.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        for (i, v) in [self.type_, self.req_id, self.tx_id, self.len]
            .into_iter()
            .enumerate()
        {
            out[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        out
    }

    /// Parses a header without checking it (see [`check_reply_header`]).
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Header {
        let word = |i: usize| {
            u32::from_ne_bytes([
                bytes[i * 4],
                bytes[i * 4 + 1],
                bytes[i * 4 + 2],
                bytes[i * 4 + 3],
            ])
        };
        Header {
            type_: word(0),
            req_id: word(1),
            tx_id: word(2),
            len: word(3),
        }
    }
}

/// A request, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `XS_READ path\0`.
    Read(&'a str),
    /// `XS_WRITE path\0value` (the value has no NUL).
    Write(&'a str, &'a [u8]),
    /// `XS_MKDIR path\0`.
    Mkdir(&'a str),
    /// `XS_RM path\0`.
    Rm(&'a str),
    /// `XS_DIRECTORY path\0`.
    Directory(&'a str),
    /// `XS_WATCH path\0token\0`.
    Watch(&'a str, &'a str),
    /// `XS_UNWATCH path\0token\0`.
    Unwatch(&'a str, &'a str),
    /// `XS_TRANSACTION_START \0`.
    TransactionStart,
    /// `XS_TRANSACTION_END T\0` (commit) or `F\0` (abort).
    TransactionEnd(bool),
    /// `XS_GET_DOMAIN_PATH domid\0`.
    GetDomainPath(DomId),
}

impl Request<'_> {
    /// The message type (`XS_*`).
    pub fn type_(&self) -> u32 {
        match self {
            Request::Read(_) => abi::XS_READ,
            Request::Write(..) => abi::XS_WRITE,
            Request::Mkdir(_) => abi::XS_MKDIR,
            Request::Rm(_) => abi::XS_RM,
            Request::Directory(_) => abi::XS_DIRECTORY,
            Request::Watch(..) => abi::XS_WATCH,
            Request::Unwatch(..) => abi::XS_UNWATCH,
            Request::TransactionStart => abi::XS_TRANSACTION_START,
            Request::TransactionEnd(_) => abi::XS_TRANSACTION_END,
            Request::GetDomainPath(_) => abi::XS_GET_DOMAIN_PATH,
        }
    }
}

/// Checks a node path before it is sent: non-empty, within
/// `XENSTORE_ABS_PATH_MAX` (absolute) or `XENSTORE_REL_PATH_MAX` (relative),
/// only `[A-Za-z0-9-/_@]`, no empty components (`//`) and no trailing `/`
/// except for the root `/`.
pub fn check_path(path: &str) -> Result<(), XsError> {
    if path.is_empty() {
        return Err(XsError::BadRequest("empty path"));
    }
    let max = if path.starts_with('/') {
        ABS_PATH_MAX
    } else {
        REL_PATH_MAX
    };
    if path.len() > max {
        return Err(XsError::BadRequest("path too long"));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_' | b'@'))
    {
        return Err(XsError::BadRequest(
            "path has a character outside [A-Za-z0-9-/_@]",
        ));
    }
    if path == "/" {
        return Ok(());
    }
    if path.contains("//") {
        return Err(XsError::BadRequest("path has an empty component"));
    }
    if path.ends_with('/') {
        return Err(XsError::BadRequest("path ends with '/'"));
    }
    Ok(())
}

/// Checks a watch path: a node path, or a special path `@name`
/// (`@introduceDomain`, `@releaseDomain`).
pub fn check_watch_path(path: &str) -> Result<(), XsError> {
    match path.strip_prefix('@') {
        Some(name) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(()),
        Some(_) => Err(XsError::BadRequest("bad special watch path")),
        None => check_path(path),
    }
}

/// Checks a watch token: non-empty, no NUL.
fn check_token(token: &str) -> Result<(), XsError> {
    if token.is_empty() || token.contains('\0') {
        Err(XsError::BadRequest("watch token empty or with NUL"))
    } else {
        Ok(())
    }
}

/// Encodes a request as header and payload, after checking paths, tokens
/// and the payload size.
pub fn encode_request(req_id: u32, tx: Tx, req: &Request<'_>) -> Result<Vec<u8>, XsError> {
    let mut payload: Vec<u8> = Vec::new();
    let mut push_str = |s: &[u8]| {
        payload.extend_from_slice(s);
        payload.push(0);
    };
    match *req {
        Request::Read(p) | Request::Mkdir(p) | Request::Rm(p) | Request::Directory(p) => {
            check_path(p)?;
            push_str(p.as_bytes());
        }
        Request::Write(p, value) => {
            check_path(p)?;
            push_str(p.as_bytes());
            payload.extend_from_slice(value);
        }
        Request::Watch(p, token) | Request::Unwatch(p, token) => {
            check_watch_path(p)?;
            check_token(token)?;
            push_str(p.as_bytes());
            push_str(token.as_bytes());
        }
        Request::TransactionStart => push_str(b""),
        Request::TransactionEnd(commit) => push_str(if commit { b"T" } else { b"F" }),
        Request::GetDomainPath(domid) => {
            let mut digits = [0u8; 5];
            push_str(format_u32(u32::from(domid.0), &mut digits));
        }
    }
    if payload.len() > PAYLOAD_MAX {
        return Err(XsError::BadRequest(
            "request payload exceeds XENSTORE_PAYLOAD_MAX",
        ));
    }
    let header = Header {
        type_: req.type_(),
        req_id,
        tx_id: tx.0,
        len: payload.len() as u32,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Formats `v` in decimal into `buf` (no allocation), returning the digits.
fn format_u32(mut v: u32, buf: &mut [u8]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// Checks a header read from the peer before its payload is read: the
/// length is at most `XENSTORE_PAYLOAD_MAX` and the type is one a client can
/// receive (a reply type, `XS_ERROR` or `XS_WATCH_EVENT`).
pub fn check_reply_header(h: &Header) -> Result<(), XsError> {
    if h.len as usize > PAYLOAD_MAX {
        return Err(XsError::Malformed(
            "reply length exceeds XENSTORE_PAYLOAD_MAX",
        ));
    }
    match h.type_ {
        abi::XS_READ
        | abi::XS_WRITE
        | abi::XS_MKDIR
        | abi::XS_RM
        | abi::XS_DIRECTORY
        | abi::XS_WATCH
        | abi::XS_UNWATCH
        | abi::XS_TRANSACTION_START
        | abi::XS_TRANSACTION_END
        | abi::XS_GET_DOMAIN_PATH
        | abi::XS_ERROR
        | abi::XS_WATCH_EVENT => Ok(()),
        _ => Err(XsError::Malformed("reply of unknown or unexpected type")),
    }
}

/// A decoded successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `XS_READ`: the value.
    Value(String),
    /// `XS_WRITE`, `XS_MKDIR`, `XS_RM`, `XS_WATCH`, `XS_UNWATCH`,
    /// `XS_TRANSACTION_END`: `OK`.
    Ok,
    /// `XS_DIRECTORY`: the children's names.
    Names(Vec<String>),
    /// `XS_TRANSACTION_START`: the new transaction.
    Tx(Tx),
    /// `XS_GET_DOMAIN_PATH`: the path.
    Path(String),
}

/// A watch event (`XS_WATCH_EVENT path\0token\0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The path that changed (as the watch was registered: relative watches
    /// get relative paths).
    pub path: String,
    /// The token the watch was registered with.
    pub token: String,
}

/// Decodes a watch event's payload.
pub fn decode_watch_event(payload: &[u8]) -> Result<WatchEvent, XsError> {
    let fields = split_nul_terminated(payload)?;
    match fields.as_slice() {
        [path, token] if !path.is_empty() && !token.is_empty() => Ok(WatchEvent {
            path: path.clone(),
            token: token.clone(),
        }),
        _ => Err(XsError::Malformed("watch event is not path\\0token\\0")),
    }
}

/// Decodes the reply to `req` (sent with `req_id`): the header must echo
/// `req_id` and the request's type (or be `XS_ERROR`), and the payload must
/// have the shape of that reply. An `XS_ERROR` reply becomes `Err` with the
/// errno it names.
pub fn decode_reply(
    req_id: u32,
    req: &Request<'_>,
    h: &Header,
    payload: &[u8],
) -> Result<Reply, XsError> {
    check_reply_header(h)?;
    if h.len as usize != payload.len() {
        return Err(XsError::Malformed("payload length differs from header"));
    }
    if h.req_id != req_id {
        return Err(XsError::Malformed(
            "reply req_id does not match the request",
        ));
    }
    if h.type_ == abi::XS_ERROR {
        let name = single_string(payload)?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(XsError::Malformed("error reply is not an errno name"));
        }
        return Err(XsError::from_errno_name(&name));
    }
    if h.type_ != req.type_() {
        return Err(XsError::Malformed("reply type does not match the request"));
    }
    match req {
        Request::Read(_) => core::str::from_utf8(payload)
            .map(|s| Reply::Value(String::from(s)))
            .map_err(|_| XsError::Malformed("read reply is not UTF-8")),
        Request::Write(..)
        | Request::Mkdir(_)
        | Request::Rm(_)
        | Request::Watch(..)
        | Request::Unwatch(..)
        | Request::TransactionEnd(_) => {
            if payload == OK {
                Ok(Reply::Ok)
            } else {
                Err(XsError::Malformed("acknowledgement is not OK\\0"))
            }
        }
        Request::Directory(_) => {
            let names = split_nul_terminated(payload)?;
            if names.iter().any(|n| n.is_empty() || n.contains('/')) {
                return Err(XsError::Malformed("directory reply has a bad child name"));
            }
            Ok(Reply::Names(names))
        }
        Request::TransactionStart => {
            let id = single_string(payload)?;
            match parse_decimal(&id) {
                Some(0) | None => Err(XsError::Malformed(
                    "transaction start reply is not a non-zero decimal id",
                )),
                Some(n) => Ok(Reply::Tx(Tx(n))),
            }
        }
        Request::GetDomainPath(_) => {
            let path = single_string(payload)?;
            if !path.starts_with('/') || check_path(&path).is_err() {
                return Err(XsError::Malformed("domain path reply is not a path"));
            }
            Ok(Reply::Path(path))
        }
    }
}

/// Parses a decimal u32 strictly (digits only, no sign, no overflow).
pub fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A payload that is exactly one NUL-terminated UTF-8 string.
fn single_string(payload: &[u8]) -> Result<String, XsError> {
    let mut fields = split_nul_terminated(payload)?;
    if fields.len() != 1 {
        return Err(XsError::Malformed("expected one NUL-terminated string"));
    }
    Ok(fields.remove(0))
}

/// Splits a payload of NUL-terminated UTF-8 strings (`a\0b\0`); the empty
/// payload is the empty list.
fn split_nul_terminated(payload: &[u8]) -> Result<Vec<String>, XsError> {
    let Some((&last, body)) = payload.split_last() else {
        return Ok(Vec::new());
    };
    if last != 0 {
        return Err(XsError::Malformed("string in reply is not NUL-terminated"));
    }
    body.split(|&b| b == 0)
        .map(|field| {
            core::str::from_utf8(field)
                .map(String::from)
                .map_err(|_| XsError::Malformed("string in reply is not UTF-8"))
        })
        .collect()
}

/// Decodes a request (the server side, used by the simulated xenstored):
/// the payload must have the shape the type asks for. Strings borrow from
/// `payload`.
pub fn decode_request<'a>(h: &Header, payload: &'a [u8]) -> Result<Request<'a>, XsError> {
    if h.len as usize != payload.len() || payload.len() > PAYLOAD_MAX {
        return Err(XsError::Malformed("request length"));
    }
    // Fields of a request: NUL-terminated strings borrowed from `payload`.
    let mut rest = payload;
    let mut next = || -> Result<&'a str, XsError> {
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(XsError::Malformed("request string is not NUL-terminated"))?;
        let s = core::str::from_utf8(&rest[..end])
            .map_err(|_| XsError::Malformed("request string is not UTF-8"))?;
        rest = &rest[end + 1..];
        Ok(s)
    };
    let req = match h.type_ {
        abi::XS_READ => Request::Read(next()?),
        abi::XS_MKDIR => Request::Mkdir(next()?),
        abi::XS_RM => Request::Rm(next()?),
        abi::XS_DIRECTORY => Request::Directory(next()?),
        abi::XS_WRITE => {
            let path = next()?;
            let value = &payload[path.len() + 1..];
            return Ok(Request::Write(path, value));
        }
        abi::XS_WATCH => Request::Watch(next()?, next()?),
        abi::XS_UNWATCH => Request::Unwatch(next()?, next()?),
        abi::XS_TRANSACTION_START => match next()? {
            "" => Request::TransactionStart,
            _ => return Err(XsError::Malformed("transaction start payload")),
        },
        abi::XS_TRANSACTION_END => match next()? {
            "T" => Request::TransactionEnd(true),
            "F" => Request::TransactionEnd(false),
            _ => return Err(XsError::Malformed("transaction end payload")),
        },
        abi::XS_GET_DOMAIN_PATH => {
            let domid = parse_decimal(next()?)
                .and_then(|d| u16::try_from(d).ok())
                .ok_or(XsError::Malformed("domid"))?;
            Request::GetDomainPath(DomId(domid))
        }
        _ => return Err(XsError::Malformed("unknown request type")),
    };
    if !rest.is_empty() {
        return Err(XsError::Malformed("trailing bytes after request"));
    }
    Ok(req)
}

/// Encodes a reply message (the server side): header echoing `req_id` and
/// `tx_id`, then `payload`.
pub fn encode_message(type_: u32, req_id: u32, tx_id: u32, payload: &[u8]) -> Vec<u8> {
    let header = Header {
        type_,
        req_id,
        tx_id,
        len: payload.len() as u32,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn hdr(type_: u32, req_id: u32, payload: &[u8]) -> Header {
        Header {
            type_,
            req_id,
            tx_id: 0,
            len: payload.len() as u32,
        }
    }

    fn payload_of(msg: &[u8]) -> (Header, &[u8]) {
        let h = Header::from_bytes(msg[..HEADER_LEN].try_into().unwrap());
        assert_eq!(h.len as usize, msg.len() - HEADER_LEN);
        (h, &msg[HEADER_LEN..])
    }

    #[test]
    fn header_layout_matches_xsd_sockmsg() {
        assert_eq!(HEADER_LEN, 16);
        let h = Header {
            type_: abi::XS_WRITE,
            req_id: 7,
            tx_id: 9,
            len: 0x0102,
        };
        let b = h.to_bytes();
        assert_eq!(&b[0..4], &11u32.to_ne_bytes());
        assert_eq!(&b[12..16], &0x0102u32.to_ne_bytes());
        assert_eq!(Header::from_bytes(&b), h);
    }

    #[test]
    fn requests_encode_per_message_type() {
        let cases: &[(Request<'_>, u32, &[u8])] = &[
            (Request::Read("domid"), abi::XS_READ, b"domid\0"),
            (
                Request::Write("device/vif/0/state", b"4"),
                abi::XS_WRITE,
                b"device/vif/0/state\x004",
            ),
            (Request::Mkdir("/a/b"), abi::XS_MKDIR, b"/a/b\0"),
            (Request::Rm("/a"), abi::XS_RM, b"/a\0"),
            (
                Request::Directory("device/vif"),
                abi::XS_DIRECTORY,
                b"device/vif\0",
            ),
            (
                Request::Watch("control/shutdown", "tok"),
                abi::XS_WATCH,
                b"control/shutdown\0tok\0",
            ),
            (
                Request::Unwatch("@releaseDomain", "t"),
                abi::XS_UNWATCH,
                b"@releaseDomain\0t\0",
            ),
            (Request::TransactionStart, abi::XS_TRANSACTION_START, b"\0"),
            (
                Request::TransactionEnd(true),
                abi::XS_TRANSACTION_END,
                b"T\0",
            ),
            (
                Request::TransactionEnd(false),
                abi::XS_TRANSACTION_END,
                b"F\0",
            ),
            (
                Request::GetDomainPath(DomId(0)),
                abi::XS_GET_DOMAIN_PATH,
                b"0\0",
            ),
            (
                Request::GetDomainPath(DomId(65535)),
                abi::XS_GET_DOMAIN_PATH,
                b"65535\0",
            ),
        ];
        for (req, type_, payload) in cases {
            let msg = encode_request(42, Tx(3), req).unwrap();
            let (h, p) = payload_of(&msg);
            assert_eq!(h.type_, *type_, "{req:?}");
            assert_eq!(h.req_id, 42);
            assert_eq!(h.tx_id, 3);
            assert_eq!(p, *payload, "{req:?}");
            // The server side decodes what the client encodes.
            assert_eq!(decode_request(&h, p).unwrap(), *req);
        }
    }

    #[test]
    fn write_value_may_be_empty_and_has_no_trailing_nul() {
        let msg = encode_request(1, Tx::NONE, &Request::Write("control/shutdown", b"")).unwrap();
        assert_eq!(&msg[HEADER_LEN..], b"control/shutdown\0");
    }

    #[test]
    fn paths_are_validated_before_sending() {
        for bad in ["", "a//b", "a/", "/a b", "a\0b", "dév", "a.b"] {
            assert!(
                matches!(
                    encode_request(1, Tx::NONE, &Request::Read(bad)),
                    Err(XsError::BadRequest(_))
                ),
                "{bad:?}"
            );
        }
        for good in ["/", "/local/domain/0", "domid", "device/vif/0", "a-b_c@d"] {
            check_path(good).unwrap();
        }
        let long_rel = "a".repeat(REL_PATH_MAX + 1);
        assert!(check_path(&long_rel).is_err());
        let long_abs = alloc::format!("/{}", "a".repeat(ABS_PATH_MAX));
        assert!(check_path(&long_abs).is_err());
        check_path(&alloc::format!("/{}", "a".repeat(ABS_PATH_MAX - 1))).unwrap();
        assert!(encode_request(1, Tx::NONE, &Request::Watch("a", "")).is_err());
        assert!(encode_request(1, Tx::NONE, &Request::Watch("@", "t")).is_err());
        let big = vec![b'x'; PAYLOAD_MAX];
        assert!(matches!(
            encode_request(1, Tx::NONE, &Request::Write("a", &big)),
            Err(XsError::BadRequest(_))
        ));
    }

    fn reply(req: &Request<'_>, type_: u32, payload: &[u8]) -> Result<Reply, XsError> {
        decode_reply(5, req, &hdr(type_, 5, payload), payload)
    }

    #[test]
    fn good_replies_decode() {
        assert_eq!(
            reply(&Request::Read("name"), abi::XS_READ, b"guest-1"),
            Ok(Reply::Value("guest-1".into()))
        );
        assert_eq!(
            reply(&Request::Read("x"), abi::XS_READ, b""),
            Ok(Reply::Value("".into()))
        );
        assert_eq!(
            reply(&Request::Write("x", b"1"), abi::XS_WRITE, b"OK\0"),
            Ok(Reply::Ok)
        );
        assert_eq!(
            reply(&Request::Directory("d"), abi::XS_DIRECTORY, b"0\x0051712\0"),
            Ok(Reply::Names(vec!["0".into(), "51712".into()]))
        );
        assert_eq!(
            reply(&Request::Directory("d"), abi::XS_DIRECTORY, b""),
            Ok(Reply::Names(vec![]))
        );
        assert_eq!(
            reply(
                &Request::TransactionStart,
                abi::XS_TRANSACTION_START,
                b"17\0"
            ),
            Ok(Reply::Tx(Tx(17)))
        );
        assert_eq!(
            reply(
                &Request::GetDomainPath(DomId(3)),
                abi::XS_GET_DOMAIN_PATH,
                b"/local/domain/3\0"
            ),
            Ok(Reply::Path("/local/domain/3".into()))
        );
    }

    #[test]
    fn error_replies_map_errno_names() {
        let r = &Request::Read("x");
        assert_eq!(reply(r, abi::XS_ERROR, b"ENOENT\0"), Err(XsError::NoEnt));
        assert_eq!(reply(r, abi::XS_ERROR, b"EAGAIN\0"), Err(XsError::Again));
        assert_eq!(reply(r, abi::XS_ERROR, b"EACCES\0"), Err(XsError::Access));
        assert_eq!(
            reply(r, abi::XS_ERROR, b"EQUOTA\0"),
            Err(XsError::Other("EQUOTA".into()))
        );
        for (name, err) in [
            ("EBUSY", XsError::Busy),
            ("EPERM", XsError::Perm),
            ("EEXIST", XsError::Exist),
            ("EINVAL", XsError::Inval),
            ("ENOSPC", XsError::NoSpc),
            ("E2BIG", XsError::TooBig),
        ] {
            assert_eq!(XsError::from_errno_name(name), err);
            assert_eq!(err.errno_name(), Some(name));
        }
        // Bad error payloads are the peer's fault.
        for bad in [
            &b"ENOENT"[..],
            b"\0",
            b"",
            b"EN OENT\0",
            b"ENOENT\0x\0",
            b"\xff\0",
        ] {
            assert!(
                matches!(reply(r, abi::XS_ERROR, bad), Err(XsError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_replies_are_rejected() {
        let m = |r: Result<Reply, XsError>| matches!(r, Err(XsError::Malformed(_)));
        // Non-UTF-8 value.
        assert!(m(reply(&Request::Read("x"), abi::XS_READ, b"\xff\xfe")));
        // Acks other than OK\0.
        for bad in [&b"OK"[..], b"", b"ok\0", b"OK\0\0"] {
            assert!(
                m(reply(&Request::Mkdir("x"), abi::XS_MKDIR, bad)),
                "{bad:?}"
            );
        }
        // Directory: missing final NUL, empty name, name with '/', bad UTF-8.
        for bad in [&b"a\0b"[..], b"\0", b"a\0\0", b"a/b\0", b"\xc3\0"] {
            assert!(
                m(reply(&Request::Directory("x"), abi::XS_DIRECTORY, bad)),
                "{bad:?}"
            );
        }
        // Transaction ids: not decimal, zero, overflow, missing NUL.
        for bad in [
            &b"x\0"[..],
            b"0\0",
            b"99999999999\0",
            b"5",
            b"-1\0",
            b"1\x002\0",
        ] {
            assert!(
                m(reply(
                    &Request::TransactionStart,
                    abi::XS_TRANSACTION_START,
                    bad
                )),
                "{bad:?}"
            );
        }
        // Domain path: relative, missing NUL.
        for bad in [&b"local/domain/1\0"[..], b"/local/domain/1", b"\0"] {
            assert!(
                m(reply(
                    &Request::GetDomainPath(DomId(1)),
                    abi::XS_GET_DOMAIN_PATH,
                    bad
                )),
                "{bad:?}"
            );
        }
        // Type of a different request.
        assert!(m(reply(&Request::Read("x"), abi::XS_WRITE, b"OK\0")));
        // Unknown type.
        assert!(m(reply(&Request::Read("x"), 99, b"")));
        assert!(m(reply(&Request::Read("x"), abi::XS_INTRODUCE, b"")));
        // req_id mismatch.
        let r = Request::Read("x");
        assert!(m(decode_reply(6, &r, &hdr(abi::XS_READ, 5, b"v"), b"v")));
        // Header length differs from the payload given.
        assert!(m(decode_reply(5, &r, &hdr(abi::XS_READ, 5, b"vv"), b"v")));
        // Oversized length.
        let mut h = hdr(abi::XS_READ, 5, b"");
        h.len = PAYLOAD_MAX as u32 + 1;
        assert!(matches!(check_reply_header(&h), Err(XsError::Malformed(_))));
        h.len = PAYLOAD_MAX as u32;
        check_reply_header(&h).unwrap();
        h.len = u32::MAX;
        assert!(matches!(check_reply_header(&h), Err(XsError::Malformed(_))));
    }

    #[test]
    fn watch_events_decode_strictly() {
        assert_eq!(
            decode_watch_event(b"control/shutdown\0lifecycle\0"),
            Ok(WatchEvent {
                path: "control/shutdown".into(),
                token: "lifecycle".into()
            })
        );
        for bad in [
            &b""[..],
            b"path\0",
            b"path\0token",
            b"path\0token\0extra\0",
            b"\0token\0",
            b"path\0\0",
            b"pa\xffth\0t\0",
        ] {
            assert!(
                matches!(decode_watch_event(bad), Err(XsError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn requests_from_a_peer_are_checked_too() {
        let bad: &[(u32, &[u8])] = &[
            (abi::XS_READ, b"x"),
            (abi::XS_READ, b"x\0y"),
            (abi::XS_WATCH, b"x\0"),
            (abi::XS_TRANSACTION_END, b"X\0"),
            (abi::XS_TRANSACTION_START, b"1\0"),
            (abi::XS_GET_DOMAIN_PATH, b"70000\0"),
            (abi::XS_SET_PERMS, b"x\0"),
        ];
        for (t, p) in bad {
            assert!(decode_request(&hdr(*t, 1, p), p).is_err(), "{t} {p:?}");
        }
    }
}
