//! Test support: a document root of seeded pattern files (bodies are made
//! on demand, so an 8 MiB file is never held in memory) and a client-side
//! reader that splits the server's output into responses.
#![allow(dead_code)]

use check_data::Pattern;
use httpd_core::{Connection, DocRoot, Meta, Output};

/// Files as `(path, seed, len)`, directories as `(path, 0, u64::MAX)`.
pub struct PatternRoot {
    pub entries: Vec<(String, u64, u64)>,
    pub mtime: u64,
    /// Largest single `read_at` request seen.
    pub largest_read: usize,
    /// Every path asked for (to check none escapes the root).
    pub asked: Vec<String>,
    /// Fail reads at or past this offset (an I/O error mid-body).
    pub fail_from: Option<u64>,
}

impl PatternRoot {
    pub fn new(entries: &[(&str, u64, u64)]) -> Self {
        PatternRoot {
            entries: entries
                .iter()
                .map(|(p, s, l)| (p.to_string(), *s, *l))
                .collect(),
            mtime: 1_700_000_000,
            largest_read: 0,
            asked: Vec::new(),
            fail_from: None,
        }
    }

    /// The bytes of a file, made the same way `read_at` makes them.
    pub fn bytes(&self, path: &str) -> Vec<u8> {
        let (_, seed, len) = self.entries.iter().find(|e| e.0 == path).unwrap();
        let mut v = vec![0; *len as usize];
        Pattern::new(*seed).fill(0, &mut v);
        v
    }

    fn check_path(&mut self, path: &str) {
        assert!(path.starts_with('/'), "{path:?}");
        assert!(path == "/" || !path.ends_with('/'), "{path:?}");
        assert!(
            !path
                .split('/')
                .skip(1)
                .any(|s| s.is_empty() && path != "/" || s == "." || s == ".."),
            "{path:?}"
        );
        assert!(!path.contains('\0'), "{path:?}");
        self.asked.push(path.to_string());
    }
}

/// A failed read.
#[derive(Debug)]
pub struct ReadFailed;

impl DocRoot for PatternRoot {
    type Error = ReadFailed;

    fn stat(&mut self, path: &str) -> Result<Option<Meta>, ReadFailed> {
        self.check_path(path);
        Ok(self
            .entries
            .iter()
            .find(|e| e.0 == path)
            .map(|(_, _, len)| Meta {
                len: if *len == u64::MAX { 0 } else { *len },
                mtime: self.mtime,
                is_dir: *len == u64::MAX,
            }))
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, ReadFailed> {
        self.check_path(path);
        self.largest_read = self.largest_read.max(buf.len());
        if self.fail_from.is_some_and(|f| offset >= f) {
            return Err(ReadFailed);
        }
        let (_, seed, len) = self
            .entries
            .iter()
            .find(|e| e.0 == path)
            .ok_or(ReadFailed)?;
        let n = (len.saturating_sub(offset)).min(buf.len() as u64) as usize;
        Pattern::new(*seed).fill(offset, &mut buf[..n]);
        Ok(n)
    }
}

/// One response as the client sees it.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `out` into responses; `heads` says, per response, whether it
/// answers a HEAD (no body whatever Content-Length says). Panics on any
/// framing error: the server must always produce well-formed responses.
pub fn split_responses(mut out: &[u8], heads: &[bool]) -> (Vec<Resp>, usize) {
    let mut resps = Vec::new();
    while !out.is_empty() {
        let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
            panic!("truncated head: {:?}", String::from_utf8_lossy(out));
        };
        let head = std::str::from_utf8(&out[..end]).expect("head is UTF-8");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
        let status: u16 = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").expect("field line");
                (n.to_string(), v.to_string())
            })
            .collect();
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        let is_head = heads.get(resps.len()).copied().unwrap_or(false);
        let len: usize = match resp.header("Content-Length") {
            Some(l) => l.parse().unwrap(),
            None => {
                assert_eq!(status, 304, "only 304 goes without Content-Length");
                0
            }
        };
        out = &out[end + 4..];
        if !is_head && status != 304 {
            assert!(out.len() >= len, "short body: {} < {len}", out.len());
            resp.body = out[..len].to_vec();
            out = &out[len..];
        }
        resps.push(resp);
    }
    let n = resps.len();
    (resps, n)
}

/// Drives a connection with `input` handed over in `pieces` (sizes, cycled)
/// and an output buffer of `buf_len`, then the end of input. Returns all
/// bytes sent and whether the server closed.
pub fn drive<R: DocRoot>(
    conn: &mut Connection,
    root: &mut R,
    input: &[u8],
    pieces: &[usize],
    buf_len: usize,
    eof: bool,
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; buf_len];
    let mut at = 0;
    let mut piece = 0;
    let mut steps = 0u64;
    loop {
        steps += 1;
        assert!(steps < 10_000_000, "no progress");
        match conn.next_output(root, Some(1_800_000_000), &mut buf) {
            Output::Send(n) => {
                assert!(n > 0 && n <= buf_len);
                out.extend_from_slice(&buf[..n]);
            }
            Output::Close => return (out, true),
            Output::NeedInput => {
                if at == input.len() {
                    if !eof {
                        return (out, false);
                    }
                    conn.receive_eof();
                    continue;
                }
                let size = pieces[piece % pieces.len()].max(1);
                piece += 1;
                let end = (at + size).min(input.len());
                conn.receive(&input[at..end]);
                at = end;
            }
        }
    }
}
