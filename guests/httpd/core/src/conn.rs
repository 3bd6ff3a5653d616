//! One client connection as a state machine driven by the caller: bytes
//! received go in with [`Connection::receive`], bytes to send come out of
//! [`Connection::next_output`], which answers buffered requests one after
//! the other (pipelining) and reads file bodies through the [`DocRoot`] in
//! pieces no larger than the caller's buffer.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::date::{self, HttpDate};
use crate::docroot::{DocRoot, Meta};
use crate::mime::content_type;
use crate::range::{self, RangeOutcome};
use crate::request::{Method, Rejected, Request, RequestParser, Version};
use crate::response::Head;
use crate::target;

/// The path answered by the server itself.
pub const HEALTHZ: &str = "/healthz";
/// The file served for a directory.
pub const INDEX: &str = "index.html";

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Send the first `n` bytes of the buffer given to `next_output`.
    Send(usize),
    /// Read from the peer and pass the bytes (or the end) in.
    NeedInput,
    /// Close the connection (everything to send was sent).
    Close,
}

/// One answered request, for the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request line (or its start, for refused requests).
    pub line: String,
    /// The status code sent.
    pub status: u16,
    /// Body bytes handed out to send.
    pub bytes: u64,
}

/// The body of the response being sent.
#[derive(Debug)]
enum Body {
    /// Bytes made here (error texts, `/healthz`), from an offset.
    Bytes(Vec<u8>, usize),
    /// A file's bytes `next..end`.
    File { path: String, next: u64, end: u64 },
}

/// The response being sent.
#[derive(Debug)]
struct Response {
    head: Vec<u8>,
    head_sent: usize,
    body: Option<Body>,
    exchange: Exchange,
    close: bool,
}

/// A client connection.
#[derive(Debug, Default)]
pub struct Connection {
    parser: RequestParser,
    eof: bool,
    closed: bool,
    current: Option<Response>,
    done: VecDeque<Exchange>,
    answered: u64,
}

/// How a response ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persist {
    /// Keep it open for the next request (HTTP/1.0 is told so).
    Keep(Version),
    /// Close after this response.
    Close,
}

impl Connection {
    /// A fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes received from the peer.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.closed {
            self.parser.push(bytes);
        }
    }

    /// The peer will send nothing more: buffered requests are still
    /// answered, then the connection closes.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Requests answered (responses started) on this connection.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// The next finished exchange for the access log (a body cut short by
    /// a read failure is logged with the bytes handed out).
    pub fn take_exchange(&mut self) -> Option<Exchange> {
        self.done.pop_front()
    }

    /// Fills `buf` with bytes to send, or says what else to do. `now` is
    /// the wall clock (Unix seconds) for the `Date` field, if there is one.
    /// `buf` must not be empty: it bounds each read of a file body.
    pub fn next_output<R: DocRoot>(
        &mut self,
        root: &mut R,
        now: Option<u64>,
        buf: &mut [u8],
    ) -> Output {
        loop {
            if self.closed {
                return Output::Close;
            }
            if let Some(resp) = self.current.as_mut() {
                let n = fill(resp, root, buf);
                let finished = resp.head_sent == resp.head.len() && resp.body.is_none();
                if finished {
                    let resp = self.current.take().expect("current response");
                    self.done.push_back(resp.exchange);
                    self.closed = resp.close;
                }
                if n > 0 {
                    return Output::Send(n);
                }
                if !finished {
                    // Nothing fit (an empty buffer).
                    return Output::Send(0);
                }
                continue;
            }
            match self.parser.next_request() {
                Ok(Some(request)) => self.current = Some(answer(request, root, now)),
                Ok(None) if self.eof => self.closed = true,
                Ok(None) => return Output::NeedInput,
                Err(rejected) => self.current = Some(refuse(rejected, now)),
            }
            self.answered += u64::from(self.current.is_some());
        }
    }
}

/// Copies the rest of the head, then body bytes, into `buf`. A body read
/// that fails or comes up short ends the body and closes the connection
/// (the length was promised in the head).
fn fill<R: DocRoot>(resp: &mut Response, root: &mut R, buf: &mut [u8]) -> usize {
    let head_left = &resp.head[resp.head_sent..];
    let mut n = head_left.len().min(buf.len());
    buf[..n].copy_from_slice(&head_left[..n]);
    resp.head_sent += n;
    while n < buf.len() {
        let space = &mut buf[n..];
        let got = match resp.body.as_mut() {
            None => break,
            Some(Body::Bytes(bytes, at)) => {
                let k = (bytes.len() - *at).min(space.len());
                space[..k].copy_from_slice(&bytes[*at..*at + k]);
                *at += k;
                if *at == bytes.len() {
                    resp.body = None;
                }
                k
            }
            Some(Body::File { path, next, end }) => {
                let want = usize::try_from(*end - *next)
                    .unwrap_or(usize::MAX)
                    .min(space.len());
                match root.read_at(path, *next, &mut space[..want]) {
                    Ok(k) if k > 0 => {
                        let k = k.min(want);
                        *next += k as u64;
                        if *next == *end {
                            resp.body = None;
                        }
                        k
                    }
                    _ => {
                        resp.body = None;
                        resp.close = true;
                        break;
                    }
                }
            }
        };
        resp.exchange.bytes += got as u64;
        n += got;
    }
    n
}

/// The common fields and an optional small body.
fn simple(
    status: u16,
    line: String,
    persist: Persist,
    now: Option<u64>,
    head_only: bool,
    extra: &[(&str, String)],
) -> Response {
    let text = if matches!(status, 200 | 304) {
        String::new()
    } else {
        format!("{status} {}\n", crate::response::reason(status))
    };
    let mut head = Head::new(status);
    common(&mut head, persist, now);
    for (name, value) in extra {
        head.field(name, value);
    }
    if status != 304 {
        head.field("Content-Type", "text/plain; charset=utf-8");
        head.field("Content-Length", text.len());
    }
    Response {
        head: head.finish(),
        head_sent: 0,
        body: (!head_only && !text.is_empty()).then(|| Body::Bytes(text.into_bytes(), 0)),
        exchange: Exchange {
            line,
            status,
            bytes: 0,
        },
        close: persist == Persist::Close,
    }
}

/// `Date` and `Connection`.
fn common(head: &mut Head, persist: Persist, now: Option<u64>) {
    if let Some(now) = now {
        head.field("Date", HttpDate(now));
    }
    match persist {
        Persist::Close => {
            head.field("Connection", "close");
        }
        Persist::Keep(Version::Http10) => {
            head.field("Connection", "keep-alive");
        }
        Persist::Keep(Version::Http11) => {}
    }
}

/// The answer to a refused request head; the connection closes after it.
/// A request line that names HEAD gets no body even when refused.
fn refuse(rejected: Rejected, now: Option<u64>) -> Response {
    let head_only = rejected.line.starts_with("HEAD ");
    simple(
        rejected.error.status(),
        rejected.line,
        Persist::Close,
        now,
        head_only,
        &[],
    )
}

/// The answer to a parsed request.
fn answer<R: DocRoot>(request: Request, root: &mut R, now: Option<u64>) -> Response {
    let keep = if request.keep_alive {
        Persist::Keep(request.version)
    } else {
        Persist::Close
    };
    let head_only = request.method == Method::Head;
    let line = request.line.clone();
    if let Method::Other(_) = request.method {
        // A body we do not read would be taken for the next request.
        let persist = if request.has_body {
            Persist::Close
        } else {
            keep
        };
        return simple(
            405,
            line,
            persist,
            now,
            false,
            &[("Allow", String::from("GET, HEAD"))],
        );
    }
    if request.has_body {
        return simple(413, line, Persist::Close, now, head_only, &[]);
    }
    let target = match target::normalise(&request.target) {
        Ok(t) => t,
        Err(_) => return simple(400, line, keep, now, head_only, &[]),
    };
    if target.path == HEALTHZ && !target.dir {
        let mut resp = simple(200, line, keep, now, head_only, &[]);
        let mut head = Head::new(200);
        common(&mut head, keep, now);
        head.field("Content-Type", "text/plain; charset=utf-8");
        head.field("Content-Length", 3);
        head.field("Cache-Control", "no-store");
        resp.head = head.finish();
        resp.body = (!head_only).then(|| Body::Bytes(b"ok\n".to_vec(), 0));
        return resp;
    }
    let (path, meta) = match resolve(root, &target) {
        Ok(Some(found)) => found,
        Ok(None) => return simple(404, line, keep, now, head_only, &[]),
        Err(()) => return simple(500, line, Persist::Close, now, head_only, &[]),
    };
    let modified = HttpDate(meta.mtime);
    if let Some(since) = request.if_modified_since.as_deref().and_then(date::parse) {
        if meta.mtime <= since {
            return simple(
                304,
                line,
                keep,
                now,
                true,
                &[("Last-Modified", format!("{modified}"))],
            );
        }
    }
    let outcome = match (&request.range, head_only) {
        (Some(r), false) => range::resolve(r, meta.len),
        _ => RangeOutcome::Full,
    };
    let (status, first, end) = match outcome {
        RangeOutcome::Full => (200, 0, meta.len),
        RangeOutcome::Partial { first, last } => (206, first, last + 1),
        RangeOutcome::Unsatisfiable => {
            return simple(
                416,
                line,
                keep,
                now,
                head_only,
                &[("Content-Range", format!("bytes */{}", meta.len))],
            );
        }
    };
    let mut head = Head::new(status);
    common(&mut head, keep, now);
    head.field("Content-Type", content_type(&path));
    head.field("Content-Length", end - first);
    head.field("Last-Modified", modified);
    head.field("Accept-Ranges", "bytes");
    if status == 206 {
        head.field(
            "Content-Range",
            format!("bytes {first}-{}/{}", end - 1, meta.len),
        );
    }
    Response {
        head: head.finish(),
        head_sent: 0,
        body: (!head_only && end > first).then_some(Body::File {
            path,
            next: first,
            end,
        }),
        exchange: Exchange {
            line,
            status,
            bytes: 0,
        },
        close: keep == Persist::Close,
    }
}

/// The file a target names: itself, or a directory's `index.html`.
/// `Err` is a failed lookup.
fn resolve<R: DocRoot>(
    root: &mut R,
    target: &target::Target,
) -> Result<Option<(String, Meta)>, ()> {
    let Some(meta) = root.stat(&target.path).map_err(|_| ())? else {
        return Ok(None);
    };
    if !meta.is_dir {
        // A file asked for as a directory (`/a.html/`) does not exist.
        return Ok((!target.dir).then(|| (target.path.clone(), meta)));
    }
    let index = if target.path == "/" {
        format!("/{INDEX}")
    } else {
        format!("{}/{INDEX}", target.path)
    };
    match root.stat(&index).map_err(|_| ())? {
        Some(meta) if !meta.is_dir => Ok(Some((index, meta))),
        _ => Ok(None),
    }
}
