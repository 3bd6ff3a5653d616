//! A minimal HTTP/1.1 client of our own (RFC 9112 message syntax) for dom0
//! checks and benchmarks: `http://` URLs, GET and HEAD with extra headers,
//! keep-alive connections, bodies delimited by Content-Length or by the
//! server closing; chunked bodies are reported as unsupported. Bodies are
//! not kept: they are counted and digested (FNV-1a 64) as they arrive.

use crate::fingerprint::Fnv1a;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest response head (status line and headers) accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What can go wrong talking HTTP to a server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an `http://HOST[:PORT][/PATH]` URL we can use.
    #[error("bad URL {url:?}: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The host name did not resolve to an address.
    #[error("{host}: cannot resolve: {why}")]
    Resolve {
        /// HOST:PORT as given.
        host: String,
        /// What the resolver said.
        why: String,
    },
    /// The TCP connection could not be made.
    #[error("connect {addr}: {source}")]
    Connect {
        /// The server's address.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// Sending or receiving failed (a timeout included).
    #[error("{during}: {source}")]
    Io {
        /// What the client was doing.
        during: &'static str,
        /// What the OS said.
        source: io::Error,
    },
    /// The server closed the connection before it sent a whole response head.
    #[error("the server closed the connection without a response")]
    Closed,
    /// The status line is not `HTTP/1.x NNN reason`.
    #[error("bad status line {0:?}")]
    BadStatusLine(String),
    /// A header line is not `name: value`.
    #[error("bad header line {0:?}")]
    BadHeader(String),
    /// The response head was larger than this client accepts.
    #[error("the response head is larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLong,
    /// The body uses a transfer coding (chunked) this client does not decode.
    #[error("the response uses Transfer-Encoding {0:?}, which this client does not support")]
    UnsupportedTransferEncoding(String),
    /// Content-Length is not a number, or two of them differ.
    #[error("bad Content-Length {0:?}")]
    BadContentLength(String),
    /// The connection ended before the body Content-Length announced.
    #[error("the body ended after {got} of {expected} bytes")]
    ShortBody {
        /// The announced length.
        expected: u64,
        /// What arrived.
        got: u64,
    },
}

/// A `Result` with an [`HttpError`].
pub type HttpResult<T> = std::result::Result<T, HttpError>;

/// An `http://` URL, split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host as written (a name, an IPv4 address or a bracketed IPv6 one).
    pub host: String,
    /// The port (80 unless given).
    pub port: u16,
    /// The request target: the path and query, `/` when the URL has none.
    pub path: String,
}

impl Url {
    /// Parses `http://HOST[:PORT][/PATH]`.
    pub fn parse(url: &str) -> HttpResult<Url> {
        let bad = |why| HttpError::BadUrl {
            url: url.into(),
            why,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("the path has spaces or control characters"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("unclosed '[' in host"))?;
            let host = &authority[..end + 2];
            match &v6[end + 1..] {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        if host.contains('@') {
            return Err(bad("user information is not supported"));
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        Ok(Url {
            host: host.into(),
            port,
            path,
        })
    }

    /// HOST:PORT, for the Host header and for connecting.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The server's first address.
    pub fn resolve(&self) -> HttpResult<SocketAddr> {
        resolve(&self.authority())
    }
}

/// The first address `host_port` (HOST:PORT) resolves to.
pub fn resolve(host_port: &str) -> HttpResult<SocketAddr> {
    let failed = |why: String| HttpError::Resolve {
        host: host_port.into(),
        why,
    };
    host_port
        .to_socket_addrs()
        .map_err(|e| failed(e.to_string()))?
        .next()
        .ok_or_else(|| failed("no addresses".into()))
}

/// A request method this client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET: the body is read and digested.
    Get,
    /// HEAD: the response has no body whatever its headers say.
    Head,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// A response, its body counted and digested rather than kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line as received, without its line end.
    pub status_line: String,
    /// The header fields in order, names as the server wrote them.
    pub headers: Vec<(String, String)>,
    /// Bytes in the body.
    pub body_bytes: u64,
    /// FNV-1a 64 of the body.
    pub digest: u64,
    /// Whether the connection may carry another request.
    pub reusable: bool,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One TCP connection to a server, carrying requests one after another.
pub struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    /// Connects to `url`'s server within `timeout`; every later read or
    /// write gives up after `timeout` too.
    pub fn open(url: &Url, timeout: Duration) -> HttpResult<Connection> {
        let addr = url.resolve()?;
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|source| HttpError::Connect { addr, source })?;
        let io = |source| HttpError::Io {
            during: "setting up the connection",
            source,
        };
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let reader = BufReader::with_capacity(64 * 1024, stream.try_clone().map_err(io)?);
        Ok(Connection {
            writer: stream,
            reader,
            host: url.authority(),
        })
    }

    /// Sends one request for `path` with the `extra` header fields and reads
    /// the whole response. After an error the connection is unusable.
    pub fn request(
        &mut self,
        method: Method,
        path: &str,
        extra: &[(&str, &str)],
    ) -> HttpResult<Response> {
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rumpx-http-probe\r\n",
            method.name(),
            self.host
        );
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.writer
            .write_all(head.as_bytes())
            .map_err(|source| HttpError::Io {
                during: "sending the request",
                source,
            })?;
        read_response(&mut self.reader, method)
    }
}

/// Reads one line ending in LF into `line`, counting it against `budget`.
fn read_head_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    budget: &mut usize,
) -> HttpResult<usize> {
    line.clear();
    let n = reader
        .take(*budget as u64 + 1)
        .read_until(b'\n', line)
        .map_err(|source| HttpError::Io {
            during: "reading the response head",
            source,
        })?;
    if n > *budget {
        return Err(HttpError::HeadTooLong);
    }
    *budget -= n;
    Ok(n)
}

/// The status code and HTTP minor version of a status line.
fn parse_status_line(line: &str) -> HttpResult<(u16, u8)> {
    let bad = || HttpError::BadStatusLine(line.into());
    let rest = line.strip_prefix("HTTP/1.").ok_or_else(bad)?;
    let mut bytes = rest.bytes();
    let minor = match bytes.next() {
        Some(d @ b'0'..=b'9') => d - b'0',
        _ => return Err(bad()),
    };
    let code = rest
        .get(1..5)
        .and_then(|s| s.strip_prefix(' '))
        .ok_or_else(bad)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(rest.as_bytes().get(5), None | Some(b' '))
    {
        return Err(bad());
    }
    let status: u16 = code.parse().map_err(|_| bad())?;
    if !(100..=599).contains(&status) {
        return Err(bad());
    }
    Ok((status, minor))
}

/// Reads a response head (skipping 1xx interim responses) and its body.
pub fn read_response(reader: &mut impl BufRead, method: Method) -> HttpResult<Response> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = Vec::new();
    let (status, minor, status_line, headers) = loop {
        if read_head_line(reader, &mut line, &mut budget)? == 0 {
            return Err(HttpError::Closed);
        }
        let status_line = text_line(&line);
        let (status, minor) = parse_status_line(&status_line)?;
        let mut headers = Vec::new();
        loop {
            if read_head_line(reader, &mut line, &mut budget)? == 0 {
                return Err(HttpError::Closed);
            }
            let text = text_line(&line);
            if text.is_empty() {
                break;
            }
            let (name, value) = text
                .split_once(':')
                .filter(|(n, _)| !n.is_empty() && !n.contains([' ', '\t']))
                .ok_or_else(|| HttpError::BadHeader(text.clone()))?;
            headers.push((name.to_string(), value.trim().to_string()));
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        break (status, minor, status_line, headers);
    };
    let mut response = Response {
        status,
        status_line,
        headers,
        body_bytes: 0,
        digest: Fnv1a::new().value(),
        reusable: false,
    };
    let connection = response
        .header("Connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    let keep_alive = if minor == 0 {
        connection.split(',').any(|t| t.trim() == "keep-alive")
    } else {
        !connection.split(',').any(|t| t.trim() == "close")
    };
    if method == Method::Head || status == 204 || status == 304 || status < 200 {
        response.reusable = keep_alive;
        return Ok(response);
    }
    if let Some(coding) = response.header("Transfer-Encoding") {
        return Err(HttpError::UnsupportedTransferEncoding(coding.into()));
    }
    let length = content_length(&response)?;
    let mut digest = Fnv1a::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    loop {
        let want = match length {
            Some(len) if got == len => break,
            Some(len) => (len - got).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        let n = match reader.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(HttpError::Io {
                    during: "reading the body",
                    source,
                })
            }
        };
        if n == 0 {
            match length {
                Some(expected) => return Err(HttpError::ShortBody { expected, got }),
                None => break,
            }
        }
        digest.update(&buf[..n]);
        got += n as u64;
    }
    response.body_bytes = got;
    response.digest = digest.value();
    response.reusable = keep_alive && length.is_some();
    Ok(response)
}

/// The Content-Length of a response, if it has one (all copies must agree).
fn content_length(response: &Response) -> HttpResult<Option<u64>> {
    let mut length = None;
    for (_, value) in response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
    {
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::BadContentLength(value.clone()));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| HttpError::BadContentLength(value.clone()))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::BadContentLength(value.clone()));
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// A head line without its CR LF, non-UTF-8 bytes replaced.
fn text_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fnv1a;

    fn parse(bytes: &[u8], method: Method) -> HttpResult<Response> {
        read_response(&mut &bytes[..], method)
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let url = Url::parse("http://10.99.0.30:8080/a/b.html?x=1").unwrap();
        assert_eq!(url.host, "10.99.0.30");
        assert_eq!(url.port, 8080);
        assert_eq!(url.path, "/a/b.html?x=1");
        assert_eq!(url.authority(), "10.99.0.30:8080");
        let url = Url::parse("http://example").unwrap();
        assert_eq!((url.port, url.path.as_str()), (80, "/"));
        assert_eq!(Url::parse("http://h?q").unwrap().path, "/?q");
        let v6 = Url::parse("http://[::1]:81/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 81));
        assert_eq!(Url::parse("http://[fe80::1]/").unwrap().port, 80);
        for bad in [
            "https://h/",
            "h/",
            "http:///x",
            "http://h:0/",
            "http://h:70000/",
            "http://h:x/",
            "http://u@h/",
            "http://[::1/",
            "http://h/a b",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(HttpError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn content_length_bodies_are_counted_and_digested() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhelloEXTRA",
            Method::Get,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.status_line, "HTTP/1.1 200 OK");
        assert_eq!((r.body_bytes, r.digest), (5, fnv1a(b"hello")));
        assert_eq!(r.header("x-a"), Some("b"));
        assert!(r.reusable);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        let close = parse(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            Method::Get,
        )
        .unwrap();
        assert!(!close.reusable);
        let old = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Method::Get).unwrap();
        assert!(!old.reusable);
        let old_ka = parse(
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
            Method::Get,
        )
        .unwrap();
        assert!(old_ka.reusable);
        let to_close = parse(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", Method::Get).unwrap();
        assert_eq!(to_close.body_bytes, 13);
        assert!(!to_close.reusable);
    }

    #[test]
    fn head_and_bodiless_statuses_read_no_body() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
            Method::Head,
        )
        .unwrap();
        assert_eq!((r.body_bytes, r.digest), (0, fnv1a(b"")));
        assert!(r.reusable);
        let r = parse(b"HTTP/1.1 304 Not Modified\r\n\r\n", Method::Get).unwrap();
        assert!(r.reusable);
        let r = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
            Method::Get,
        )
        .unwrap();
        assert_eq!((r.status, r.body_bytes), (404, 2));
    }

    /// A response and a check of the error it must give.
    type Case<'a> = (&'a [u8], fn(&HttpError) -> bool);

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let cases: &[Case] = &[
            (b"", |e| matches!(e, HttpError::Closed)),
            (b"HTTP/1.1 200 OK\r\n", |e| matches!(e, HttpError::Closed)),
            (b"HTTP/2 200 OK\r\n\r\n", |e| {
                matches!(e, HttpError::BadStatusLine(_))
            }),
            (b"HTTP/1.1 20 OK\r\n\r\n", |e| {
                matches!(e, HttpError::BadStatusLine(_))
            }),
            (b"HTTP/1.1 2000 OK\r\n\r\n", |e| {
                matches!(e, HttpError::BadStatusLine(_))
            }),
            (b"HTTP/1.1 099\r\n\r\n", |e| {
                matches!(e, HttpError::BadStatusLine(_))
            }),
            (b"SSH-2.0-x\r\n", |e| {
                matches!(e, HttpError::BadStatusLine(_))
            }),
            (b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", |e| {
                matches!(e, HttpError::BadHeader(_))
            }),
            (b"HTTP/1.1 200 OK\r\nA B: c\r\n\r\n", |e| {
                matches!(e, HttpError::BadHeader(_))
            }),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", |e| {
                matches!(e, HttpError::BadContentLength(_))
            }),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                |e| matches!(e, HttpError::BadContentLength(_)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                |e| matches!(e, HttpError::BadContentLength(_)),
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", |e| {
                matches!(
                    e,
                    HttpError::ShortBody {
                        expected: 10,
                        got: 5
                    }
                )
            }),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                |e| matches!(e, HttpError::UnsupportedTransferEncoding(_)),
            ),
        ];
        for (bytes, expected) in cases {
            let error = parse(bytes, Method::Get).unwrap_err();
            assert!(
                expected(&error),
                "{:?}: {error}",
                String::from_utf8_lossy(bytes)
            );
        }
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b"X-Pad: 0123456789abcdef\r\n", 4000).flatten());
        assert!(matches!(
            parse(&huge, Method::Get),
            Err(HttpError::HeadTooLong)
        ));
    }
}
