//! Incremental parsing of HTTP/1.x request heads (RFC 9112 sections 2-5,
//! 9.3): bytes arrive in pieces, a request is returned once its blank line
//! is in. Limits: a request line of at most [`MAX_REQUEST_LINE`] bytes
//! (else 414), a header section of at most [`MAX_HEADER_BYTES`] bytes and
//! [`MAX_HEADERS`] fields (else 431). Lines may end in CRLF or a bare LF.
//! Request bodies are not read: the server answers such requests and closes.

use alloc::string::String;
use alloc::vec::Vec;

/// Longest request line accepted, without its line ending.
pub const MAX_REQUEST_LINE: usize = 8192;
/// Largest header section accepted (field lines and their endings).
pub const MAX_HEADER_BYTES: usize = 16384;
/// Most header fields accepted.
pub const MAX_HEADERS: usize = 100;
/// Longest request line kept for the access log.
const LOG_LINE_BYTES: usize = 200;

/// The request method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// Any other method token (answered 405).
    Other(String),
}

/// The protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1` (and later 1.x minors, served as 1.1).
    Http11,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The request target as sent.
    pub target: String,
    /// The version.
    pub version: Version,
    /// The client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// The `Range` field's value (`None` if absent or sent twice).
    pub range: Option<String>,
    /// The `If-Modified-Since` field's value.
    pub if_modified_since: Option<String>,
    /// The request announces a body (`Content-Length` > 0 or any
    /// `Transfer-Encoding`).
    pub has_body: bool,
    /// The request line, for the access log.
    pub line: String,
}

/// Why a request head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Bad syntax: request line, field line, `Host` or `Content-Length` (400).
    Malformed,
    /// The request line is longer than [`MAX_REQUEST_LINE`] (414).
    UriTooLong,
    /// The header section is over [`MAX_HEADER_BYTES`] or [`MAX_HEADERS`] (431).
    HeadersTooLarge,
    /// A major version other than 1 (505).
    VersionNotSupported,
}

impl ParseError {
    /// The status code answering this error.
    pub fn status(self) -> u16 {
        match self {
            ParseError::Malformed => 400,
            ParseError::UriTooLong => 414,
            ParseError::HeadersTooLarge => 431,
            ParseError::VersionNotSupported => 505,
        }
    }
}

/// A refused request head: the error and what is known of its request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The error.
    pub error: ParseError,
    /// The start of the request line (for the access log), lossily decoded.
    pub line: String,
}

/// Buffers request bytes and splits them into request heads.
#[derive(Debug, Default)]
pub struct RequestParser {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for line ends.
    scanned: usize,
    /// Start of the line being scanned.
    line_start: usize,
    /// End of the request line (index of its `\n`), once seen.
    request_line_end: Option<usize>,
    /// Field lines seen.
    fields: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `line` without a trailing `\r`.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn lossy_prefix(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(LOG_LINE_BYTES)];
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl RequestParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet consumed by a returned request.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn reject(&self, error: ParseError) -> Rejected {
        let end = self.request_line_end.unwrap_or(self.buf.len());
        Rejected {
            error,
            line: lossy_prefix(strip_cr(&self.buf[..end])),
        }
    }

    /// The next complete request head, `Ok(None)` if more bytes are needed.
    /// After an error the parser's contents are meaningless: the caller
    /// answers and closes the connection.
    pub fn next_request(&mut self) -> Result<Option<Request>, Rejected> {
        while self.scanned < self.buf.len() {
            let i = self.scanned;
            self.scanned += 1;
            if self.buf[i] != b'\n' {
                continue;
            }
            let line = strip_cr(&self.buf[self.line_start..i]);
            match self.request_line_end {
                None if line.is_empty() => {
                    // Blank lines before a request line are skipped (RFC
                    // 9112 section 2.2); drop them from the buffer.
                    self.buf.drain(..=i);
                    self.scanned = 0;
                    self.line_start = 0;
                }
                None => {
                    if line.len() > MAX_REQUEST_LINE {
                        return Err(self.reject(ParseError::UriTooLong));
                    }
                    self.request_line_end = Some(i);
                    self.line_start = i + 1;
                }
                Some(rl) => {
                    if i - rl > MAX_HEADER_BYTES {
                        return Err(self.reject(ParseError::HeadersTooLarge));
                    }
                    if line.is_empty() {
                        let head = self.buf[..=i].to_vec();
                        let request = parse_head(&head[..=rl], &head[rl + 1..])
                            .map_err(|e| self.reject(e))?;
                        self.buf.drain(..=i);
                        self.scanned = 0;
                        self.line_start = 0;
                        self.request_line_end = None;
                        self.fields = 0;
                        return Ok(Some(request));
                    }
                    self.fields += 1;
                    if self.fields > MAX_HEADERS {
                        return Err(self.reject(ParseError::HeadersTooLarge));
                    }
                    self.line_start = i + 1;
                }
            }
        }
        // Incomplete: refuse as soon as a limit is certainly exceeded.
        match self.request_line_end {
            None if self.buf.len() - self.line_start > MAX_REQUEST_LINE + 1 => {
                Err(self.reject(ParseError::UriTooLong))
            }
            Some(rl) if self.buf.len() - (rl + 1) > MAX_HEADER_BYTES => {
                Err(self.reject(ParseError::HeadersTooLarge))
            }
            _ => Ok(None),
        }
    }
}

/// Parses `METHOD SP TARGET SP HTTP/x.y`.
fn parse_request_line(line: &[u8]) -> Result<(Method, String, Version), ParseError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed);
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::Malformed);
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err(ParseError::Malformed);
    }
    let version = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Version::Http10,
                (b'1', _) => Version::Http11,
                _ => return Err(ParseError::VersionNotSupported),
            }
        }
        _ => return Err(ParseError::Malformed),
    };
    // All bytes checked as ASCII above.
    let text = |b: &[u8]| b.iter().map(|&c| char::from(c)).collect::<String>();
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        other => Method::Other(text(other)),
    };
    Ok((method, text(target), version))
}

/// A field value as text (`None` if it is not UTF-8).
fn value_text(value: &[u8]) -> Result<String, ParseError> {
    core::str::from_utf8(value)
        .map(String::from)
        .map_err(|_| ParseError::Malformed)
}

/// Parses a request head: the request line (with its line end) and the
/// field section (with the blank line).
fn parse_head(request_line: &[u8], fields: &[u8]) -> Result<Request, ParseError> {
    let line = strip_cr(request_line.strip_suffix(b"\n").unwrap_or(request_line));
    if line.contains(&b'\r') {
        return Err(ParseError::Malformed);
    }
    let (method, target, version) = parse_request_line(line)?;
    let mut hosts = 0;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut content_length: Option<u64> = None;
    let mut chunked_or_te = false;
    let mut range: Option<String> = None;
    let mut ranges = 0;
    let mut if_modified_since = None;
    for field in fields.split(|&b| b == b'\n') {
        let field = strip_cr(field);
        if field.is_empty() {
            continue;
        }
        if field[0] == b' ' || field[0] == b'\t' {
            return Err(ParseError::Malformed); // obsolete line folding
        }
        let colon = field
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::Malformed)?;
        let name = &field[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ParseError::Malformed);
        }
        let value = field[colon + 1..].trim_ascii();
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(ParseError::Malformed);
        }
        let name_is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if name_is("host") {
            hosts += 1;
        } else if name_is("connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name_is("content-length") {
            let text = value_text(value)?;
            for item in text.split(',') {
                let item = item.trim();
                if item.is_empty() || item.len() > 19 || !item.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::Malformed);
                }
                let n: u64 = item.parse().map_err(|_| ParseError::Malformed)?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(ParseError::Malformed);
                }
                content_length = Some(n);
            }
        } else if name_is("transfer-encoding") {
            chunked_or_te = true;
        } else if name_is("range") {
            ranges += 1;
            range = Some(value_text(value)?);
        } else if name_is("if-modified-since") && if_modified_since.is_none() {
            if_modified_since = Some(value_text(value)?);
        }
    }
    if hosts > 1 || (version == Version::Http11 && hosts == 0) {
        return Err(ParseError::Malformed);
    }
    if ranges > 1 {
        range = None;
    }
    let keep_alive = match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive_token && !close,
    };
    Ok(Request {
        method,
        target,
        version,
        keep_alive,
        range,
        if_modified_since,
        has_body: chunked_or_te || content_length.is_some_and(|n| n > 0),
        line: lossy_prefix(line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Result<Option<Request>, ParseError> {
        let mut p = RequestParser::new();
        p.push(bytes);
        p.next_request().map_err(|r| r.error)
    }

    #[test]
    fn simple_get() {
        let r = one(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.target, "/a");
        assert_eq!(r.version, Version::Http11);
        assert!(r.keep_alive);
        assert!(!r.has_body);
        assert_eq!(r.line, "GET /a HTTP/1.1");
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |b: &[u8]| one(b).unwrap().unwrap().keep_alive;
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: x, CLOSE\r\n\r\n"
        ));
        assert!(ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n"
        ));
        assert!(ka(b"GET / HTTP/1.2\r\nHost: h\r\n\r\n"));
    }

    #[test]
    fn byte_at_a_time_and_pipelined() {
        let text = b"\r\nGET /1 HTTP/1.1\nHost: h\n\nHEAD /2 HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\n\r\nGET";
        let mut p = RequestParser::new();
        let mut got = alloc::vec::Vec::new();
        for &b in text {
            p.push(&[b]);
            while let Some(r) = p.next_request().unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].target, "/1");
        assert_eq!(got[1].method, Method::Head);
        assert_eq!(got[1].range.as_deref(), Some("bytes=1-2"));
        assert_eq!(p.buffered(), 3);
    }

    #[test]
    fn limits() {
        let mut long = alloc::vec![b'a'; MAX_REQUEST_LINE + 2];
        long[0] = b'/';
        let mut p = RequestParser::new();
        p.push(b"GET ");
        p.push(&long);
        assert_eq!(p.next_request().unwrap_err().error, ParseError::UriTooLong);
        let mut p = RequestParser::new();
        p.push(b"GET / HTTP/1.1\r\nHost: h\r\n");
        for _ in 1..MAX_HEADERS {
            p.push(b"X: y\r\n");
        }
        assert_eq!(p.next_request().unwrap(), None);
        p.push(b"X: y\r\n");
        assert_eq!(
            p.next_request().unwrap_err().error,
            ParseError::HeadersTooLarge
        );
        let mut p = RequestParser::new();
        p.push(b"GET / HTTP/1.1\r\nX: ");
        p.push(&alloc::vec![b'v'; MAX_HEADER_BYTES]);
        assert_eq!(
            p.next_request().unwrap_err().error,
            ParseError::HeadersTooLarge
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
            b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nRange: \xff\r\n\r\n",
            b"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTQ/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\rX\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(one(bad), Err(ParseError::Malformed), "{bad:?}");
        }
        assert_eq!(
            one(b"GET / HTTP/2.0\r\n\r\n"),
            Err(ParseError::VersionNotSupported)
        );
    }

    #[test]
    fn bodies_are_noticed() {
        let body = |b: &[u8]| one(b).unwrap().unwrap().has_body;
        assert!(!body(
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(body(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
        ));
        assert!(body(
            b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
    }
}
