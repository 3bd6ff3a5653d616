//! The connection state machine end to end over a pattern document root:
//! byte-exact bodies of all sizes, HEAD, ranges, conditional requests,
//! keep-alive and pipelining, refused and hostile requests, path escapes.

mod common;

use check_data::fnv1a;
use common::{drive, split_responses, PatternRoot, Resp};
use httpd_core::{Connection, Exchange};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

fn site() -> PatternRoot {
    PatternRoot::new(&[
        ("/", 0, u64::MAX),
        ("/index.html", 1, 300),
        ("/empty.txt", 2, 0),
        ("/one.bin", 3, 1),
        ("/four.css", 4, 4 * KIB),
        ("/mib.json", 5, MIB),
        ("/eight.png", 6, 8 * MIB),
        ("/sub", 0, u64::MAX),
        ("/sub/index.html", 7, 50),
        ("/noindex", 0, u64::MAX),
        ("/a b.txt", 8, 5),
    ])
}

/// Sends `input` whole and returns the responses, whether the server
/// closed, and the log.
fn exchange(
    root: &mut PatternRoot,
    input: &[u8],
    heads: &[bool],
) -> (Vec<Resp>, bool, Vec<Exchange>) {
    let mut conn = Connection::new();
    let (out, closed) = drive(&mut conn, root, input, &[usize::MAX], 64 * 1024, false);
    let (resps, _) = split_responses(&out, heads);
    let mut log = Vec::new();
    while let Some(e) = conn.take_exchange() {
        log.push(e);
    }
    (resps, closed, log)
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

#[test]
fn files_of_every_size_are_byte_exact_and_stream_in_buffer_sized_reads() {
    for (path, ctype) in [
        ("/empty.txt", "text/plain; charset=utf-8"),
        ("/one.bin", "application/octet-stream"),
        ("/four.css", "text/css; charset=utf-8"),
        ("/mib.json", "application/json"),
        ("/eight.png", "image/png"),
    ] {
        for buf_len in [1usize, 1000, 64 * 1024] {
            if buf_len == 1 && path == "/eight.png" {
                continue; // 8 Mi steps: covered by the other sizes
            }
            let mut root = site();
            let mut conn = Connection::new();
            let (out, closed) = drive(&mut conn, &mut root, &get(path), &[7], buf_len, false);
            assert!(!closed);
            let (resps, _) = split_responses(&out, &[false]);
            assert_eq!(resps.len(), 1);
            let r = &resps[0];
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.header("Content-Type"), Some(ctype));
            assert_eq!(
                r.header("Last-Modified"),
                Some("Tue, 14 Nov 2023 22:13:20 GMT")
            );
            assert_eq!(r.header("Date"), Some("Fri, 15 Jan 2027 08:00:00 GMT"));
            assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
            assert_eq!(fnv1a(&r.body), fnv1a(&root.bytes(path)), "{path}");
            assert_eq!(r.body.len(), root.bytes(path).len());
            assert!(
                root.largest_read <= buf_len,
                "read of {} > {buf_len}",
                root.largest_read
            );
            let ex = conn.take_exchange().unwrap();
            assert_eq!(ex.status, 200);
            assert_eq!(ex.bytes, r.body.len() as u64);
            assert_eq!(ex.line, format!("GET {path} HTTP/1.1"));
        }
    }
}

#[test]
fn head_gives_the_get_headers_without_a_body() {
    let mut root = site();
    let (resps, closed, log) = exchange(
        &mut root,
        b"HEAD /mib.json HTTP/1.1\r\nHost: t\r\n\r\n",
        &[true],
    );
    assert!(!closed);
    assert_eq!(resps[0].status, 200);
    assert_eq!(resps[0].header("Content-Length"), Some("1048576"));
    assert!(resps[0].body.is_empty());
    assert_eq!(log[0].bytes, 0);
    assert!(!root.asked.is_empty());
    // And nothing was read.
    assert_eq!(root.largest_read, 0);
}

#[test]
fn directories_serve_their_index() {
    let mut root = site();
    for (path, want) in [
        ("/", Some("/index.html")),
        ("/sub", Some("/sub/index.html")),
        ("/sub/", Some("/sub/index.html")),
        ("/sub/./", Some("/sub/index.html")),
        ("/noindex/", None),
        ("/index.html/", None),
        ("/missing", None),
    ] {
        let (resps, _, _) = exchange(&mut root, &get(path), &[false]);
        match want {
            Some(file) => {
                assert_eq!(resps[0].status, 200, "{path}");
                assert_eq!(resps[0].body, root.bytes(file), "{path}");
                assert_eq!(
                    resps[0].header("Content-Type"),
                    Some("text/html; charset=utf-8")
                );
            }
            None => {
                assert_eq!(resps[0].status, 404, "{path}");
                assert_eq!(resps[0].body, b"404 Not Found\n");
            }
        }
    }
    let (resps, _, _) = exchange(&mut root, &get("/a%20b.txt"), &[false]);
    assert_eq!(resps[0].body, root.bytes("/a b.txt"));
}

#[test]
fn healthz() {
    let mut root = PatternRoot::new(&[]);
    let (resps, closed, log) = exchange(&mut root, &get("/healthz"), &[false]);
    assert!(!closed);
    assert_eq!(resps[0].status, 200);
    assert_eq!(resps[0].body, b"ok\n");
    assert_eq!(
        resps[0].header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(log[0].bytes, 3);
    assert!(root.asked.is_empty(), "healthz does not touch the disk");
}

#[test]
fn ranges_are_byte_exact() {
    let mut root = site();
    let whole = root.bytes("/mib.json");
    let len = whole.len() as u64;
    for (spec, first, last) in [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1048575", 1000, len - 1),
        ("bytes=1000-99999999", 1000, len - 1),
        ("bytes=524288-", 524_288, len - 1),
        ("bytes=-1", len - 1, len - 1),
        ("bytes=-65537", len - 65_537, len - 1),
        ("bytes=-99999999", 0, len - 1),
    ] {
        let req = format!("GET /mib.json HTTP/1.1\r\nHost: t\r\nRange: {spec}\r\n\r\n");
        let (resps, closed, _) = exchange(&mut root, req.as_bytes(), &[false]);
        assert!(!closed);
        let r = &resps[0];
        assert_eq!(r.status, 206, "{spec}");
        assert_eq!(
            r.header("Content-Range").unwrap(),
            format!("bytes {first}-{last}/{len}"),
            "{spec}"
        );
        assert_eq!(r.body, whole[first as usize..=last as usize], "{spec}");
    }
    for spec in ["bytes=1048576-", "bytes=-0", "bytes=2000000-3000000"] {
        let req = format!("GET /mib.json HTTP/1.1\r\nHost: t\r\nRange: {spec}\r\n\r\n");
        let (resps, closed, _) = exchange(&mut root, req.as_bytes(), &[false]);
        assert!(!closed);
        assert_eq!(resps[0].status, 416, "{spec}");
        assert_eq!(resps[0].header("Content-Range"), Some("bytes */1048576"));
    }
    let req = b"GET /empty.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n";
    assert_eq!(exchange(&mut root, req, &[false]).0[0].status, 416);
    // Ignored: lists, bad syntax, two Range fields, HEAD.
    for extra in [
        "Range: bytes=0-1,5-6\r\n",
        "Range: bytes=5-1\r\n",
        "Range: pages=1-2\r\n",
        "Range: bytes=0-1\r\nRange: bytes=2-3\r\n",
    ] {
        let req = format!("GET /four.css HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
        let (resps, _, _) = exchange(&mut root, req.as_bytes(), &[false]);
        assert_eq!(resps[0].status, 200, "{extra}");
        assert_eq!(resps[0].body.len(), 4096);
    }
    let req = b"HEAD /four.css HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1\r\n\r\n";
    let r = &exchange(&mut root, req, &[true]).0[0];
    assert_eq!((r.status, r.header("Content-Length")), (200, Some("4096")));
}

#[test]
fn if_modified_since() {
    let mut root = site();
    for (date, status) in [
        ("Tue, 14 Nov 2023 22:13:20 GMT", 304),
        ("Wed, 15 Nov 2023 00:00:00 GMT", 304),
        ("Tue, 14 Nov 2023 22:13:19 GMT", 200),
        ("garbage", 200),
        ("Tuesday, 14-Nov-23 22:13:20 GMT", 200),
    ] {
        let req = format!("GET /one.bin HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {date}\r\n\r\n");
        let (resps, closed, log) = exchange(&mut root, req.as_bytes(), &[false]);
        assert!(!closed);
        assert_eq!(resps[0].status, status, "{date}");
        if status == 304 {
            assert!(resps[0].body.is_empty());
            assert_eq!(
                resps[0].header("Last-Modified"),
                Some("Tue, 14 Nov 2023 22:13:20 GMT")
            );
            assert_eq!(resps[0].header("Content-Length"), None);
            assert_eq!(log[0].bytes, 0);
        }
    }
}

#[test]
fn keep_alive_and_close_rules() {
    let mut root = site();
    for (req, closes, conn_field) in [
        (
            &b"GET /one.bin HTTP/1.1\r\nHost: t\r\n\r\n"[..],
            false,
            None,
        ),
        (
            b"GET /one.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            true,
            Some("close"),
        ),
        (b"GET /one.bin HTTP/1.0\r\n\r\n", true, Some("close")),
        (
            b"GET /one.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            false,
            Some("keep-alive"),
        ),
        (
            b"GET /nothing HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            false,
            Some("keep-alive"),
        ),
    ] {
        let (resps, closed, _) = exchange(&mut root, req, &[false]);
        assert_eq!(closed, closes, "{:?}", String::from_utf8_lossy(req));
        assert_eq!(resps[0].header("Connection"), conn_field);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_whatever_the_split() {
    let mut input = Vec::new();
    let paths = [
        "/one.bin",
        "/four.css",
        "/missing",
        "/",
        "/empty.txt",
        "/healthz",
    ];
    for p in paths {
        input.extend_from_slice(&get(p));
    }
    input.extend_from_slice(b"HEAD /mib.json HTTP/1.1\r\nHost: t\r\n\r\n");
    input.extend_from_slice(b"GET /four.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    input.extend_from_slice(&get("/never-answered"));
    let heads = [false, false, false, false, false, false, true, false];
    for pieces in [&[1usize][..], &[2, 3, 5, 7], &[4096], &[usize::MAX]] {
        for buf_len in [1usize, 17, 4096] {
            let mut root = site();
            let mut conn = Connection::new();
            let (out, closed) = drive(&mut conn, &mut root, &input, pieces, buf_len, false);
            assert!(closed);
            let (resps, n) = split_responses(&out, &heads);
            assert_eq!(n, 8);
            let statuses: Vec<u16> = resps.iter().map(|r| r.status).collect();
            assert_eq!(statuses, [200, 200, 404, 200, 200, 200, 200, 200]);
            assert_eq!(resps[1].body, root.bytes("/four.css"));
            assert_eq!(resps[7].body, root.bytes("/four.css"));
            assert_eq!(conn.answered(), 8);
        }
    }
}

#[test]
fn eof_after_requests_still_answers_them_then_closes() {
    let mut root = site();
    let mut conn = Connection::new();
    let mut input = get("/one.bin");
    input.extend_from_slice(b"GET /one.bin HTTP/1.1\r\nHo");
    let (out, closed) = drive(&mut conn, &mut root, &input, &[3], 100, true);
    assert!(closed);
    assert_eq!(split_responses(&out, &[false]).1, 1);
}

/// Hostile and malformed requests: each gets its status, and either the
/// connection closes (framing can no longer be trusted) or the next
/// request on it is answered normally.
#[test]
fn refused_requests_get_the_right_status_and_leave_a_sane_connection() {
    let long_target = format!("/{}", "a".repeat(9000));
    let many_fields: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let big_field = format!("X: {}\r\n", "v".repeat(17_000));
    let cases: Vec<(Vec<u8>, u16, bool)> = vec![
        // (request, status, connection closes)
        (b"GARBAGE\r\n\r\n".to_vec(), 400, true),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400, true),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            400,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\n bad fold\r\n\r\n".to_vec(),
            400,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n".to_vec(),
            400,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n".to_vec(),
            400,
            true,
        ),
        (b"GET /\x00 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400, true),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
            true,
        ),
        (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n".to_vec(), 505, true),
        (
            format!("GET {long_target} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes(),
            414,
            true,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: t\r\n{many_fields}\r\n").into_bytes(),
            431,
            true,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: t\r\n{big_field}\r\n").into_bytes(),
            431,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            413,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            413,
            true,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
            405,
            true,
        ),
        // Framing intact: the connection goes on.
        (
            b"DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            405,
            false,
        ),
        (
            b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            405,
            false,
        ),
        (
            b"GET /../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
            false,
        ),
        (
            b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
            false,
        ),
        (
            b"GET /sub/../../index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
            false,
        ),
        (
            b"GET /..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
            false,
        ),
        (
            b"GET /index.html%00.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
            false,
        ),
        (b"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400, false),
        (
            b"GET index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
            false,
        ),
        (b"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400, false),
        (
            b"GET /etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            404,
            false,
        ),
        (
            b"GET /sub/../index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            200,
            false,
        ),
    ];
    for (req, status, closes) in cases {
        let shown = String::from_utf8_lossy(&req[..req.len().min(60)]).into_owned();
        let mut input = req.clone();
        input.extend_from_slice(&get("/one.bin"));
        for pieces in [&[usize::MAX][..], &[1, 2, 3]] {
            let mut root = site();
            let mut conn = Connection::new();
            let (out, closed) = drive(&mut conn, &mut root, &input, pieces, 4096, false);
            let is_head = [false, false];
            let (resps, n) = split_responses(&out, &is_head);
            assert_eq!(resps[0].status, status, "{shown}");
            assert_eq!(closed, closes, "{shown}");
            if closes {
                assert_eq!(n, 1, "{shown}");
                assert_eq!(resps[0].header("Connection"), Some("close"), "{shown}");
            } else {
                assert_eq!(n, 2, "{shown}");
                assert_eq!(resps[1].status, 200, "{shown}");
                assert_eq!(resps[1].body, root.bytes("/one.bin"));
            }
            if status == 405 {
                assert_eq!(resps[0].header("Allow"), Some("GET, HEAD"));
            }
            if status != 200 {
                assert_eq!(
                    resps[0].body,
                    format!("{status} {}\n", httpd_core::response::reason(status)).as_bytes()
                );
            }
            if status == 400 {
                // Refused targets never reach the document root.
                assert!(
                    root.asked.iter().all(|p| p == "/one.bin"),
                    "{shown}: asked {:?}",
                    root.asked
                );
            }
            let ex = conn.take_exchange().unwrap();
            assert_eq!(ex.status, status);
        }
    }
}

#[test]
fn a_read_failure_mid_body_closes_the_connection() {
    let mut root = site();
    root.fail_from = Some(100_000);
    let mut conn = Connection::new();
    let mut input = get("/mib.json");
    input.extend_from_slice(&get("/one.bin"));
    let (out, closed) = drive(&mut conn, &mut root, &input, &[usize::MAX], 65536, false);
    assert!(closed);
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(out[..end].starts_with(b"HTTP/1.1 200 OK\r\n"));
    let body = &out[end..];
    assert!(body.len() >= 100_000 && body.len() < 1_048_576);
    assert_eq!(body, &root.bytes("/mib.json")[..body.len()]);
    let ex = conn.take_exchange().unwrap();
    assert_eq!((ex.status, ex.bytes), (200, body.len() as u64));
    assert_eq!(conn.take_exchange(), None);
}

#[test]
fn a_stat_failure_is_500_and_closes() {
    struct Broken;
    impl httpd_core::DocRoot for Broken {
        type Error = ();
        fn stat(&mut self, _: &str) -> Result<Option<httpd_core::Meta>, ()> {
            Err(())
        }
        fn read_at(&mut self, _: &str, _: u64, _: &mut [u8]) -> Result<usize, ()> {
            Err(())
        }
    }
    let mut conn = Connection::new();
    let (out, closed) = drive(
        &mut conn,
        &mut Broken,
        &get("/x"),
        &[usize::MAX],
        512,
        false,
    );
    assert!(closed);
    assert_eq!(split_responses(&out, &[false]).0[0].status, 500);
}
