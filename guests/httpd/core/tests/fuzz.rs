//! Seeded fuzzing of the connection: random bytes and mutated requests,
//! fed in random pieces and drained through random buffer sizes. Every run
//! must end, produce only well-formed responses with known statuses (one
//! per logged exchange, bodies matching the logged byte counts) and never
//! hand the document root a path outside it.

mod common;

use std::collections::BTreeMap;

use check_data::SplitMix64;
use common::{drive, split_responses, PatternRoot};
use httpd_core::Connection;

const TEMPLATES: [&[u8]; 11] = [
    b"GET /four.css HTTP/1.1\r\nHost: t\r\nRange: bytes=5000-\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"HEAD /four.css HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /mib.json HTTP/1.1\r\nHost: t\r\nRange: bytes=100-2000\r\n\r\n",
    b"GET /sub/../one.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /one.bin HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n",
    b"GET /%2e%2e/x HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab",
    b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
];
const ALPHABET: &[u8] = b"GETHAD /.%2e0-9:\r\n\r\n \tHTP1xbytes=,";
const STATUSES: [u16; 12] = [200, 206, 304, 400, 404, 405, 413, 414, 416, 431, 500, 505];

fn site() -> PatternRoot {
    PatternRoot::new(&[
        ("/", 0, u64::MAX),
        ("/index.html", 1, 300),
        ("/one.bin", 3, 1),
        ("/four.css", 4, 4096),
        ("/mib.json", 5, 1 << 20),
        ("/sub", 0, u64::MAX),
    ])
}

fn input(rng: &mut SplitMix64) -> Vec<u8> {
    let mut v = Vec::new();
    match rng.below(3) {
        0 => {
            for _ in 0..rng.below(600) {
                v.push(rng.next_u64() as u8);
            }
        }
        1 => {
            for _ in 0..rng.below(600) {
                v.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]);
            }
        }
        _ => {
            for _ in 0..=rng.below(4) {
                v.extend_from_slice(TEMPLATES[rng.below(TEMPLATES.len() as u64) as usize]);
            }
            for _ in 0..rng.below(6) {
                if v.is_empty() {
                    break;
                }
                let at = rng.below(v.len() as u64) as usize;
                match rng.below(5) {
                    4 => {
                        // A long run: over the line or header-section limit.
                        let fill: &[u8] = if rng.below(2) == 0 { b"a" } else { b"X: y\r\n" };
                        let times = 8200 / fill.len() + rng.below(4000) as usize;
                        let run: Vec<u8> = fill.repeat(times);
                        v.splice(at..at, run);
                    }
                    0 => v[at] = rng.next_u64() as u8,
                    1 => {
                        v.remove(at);
                    }
                    2 => v.insert(at, ALPHABET[rng.below(ALPHABET.len() as u64) as usize]),
                    _ => v.truncate(at),
                }
            }
        }
    }
    v
}

#[test]
fn random_requests_in_random_pieces() {
    let runs = 20_000;
    let mut rng = SplitMix64::new(0x4854_5450_2f31_2e31);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut responses = 0u64;
    for _ in 0..runs {
        let input = input(&mut rng);
        let pieces: Vec<usize> = (0..4).map(|_| 1 + rng.below(64) as usize).collect();
        let buf_len = 1 + rng.below(5000) as usize;
        let eof = rng.below(2) == 0;
        let mut root = site();
        let mut conn = Connection::new();
        let (out, _closed) = drive(&mut conn, &mut root, &input, &pieces, buf_len, eof);
        let mut log = Vec::new();
        while let Some(e) = conn.take_exchange() {
            log.push(e);
        }
        let heads: Vec<bool> = log.iter().map(|e| e.line.starts_with("HEAD ")).collect();
        let (resps, n) = split_responses(&out, &heads);
        assert_eq!(n, log.len(), "{:?}", String::from_utf8_lossy(&input));
        assert_eq!(conn.answered(), n as u64);
        for (r, e) in resps.iter().zip(&log) {
            assert!(STATUSES.contains(&r.status), "status {}", r.status);
            assert_eq!(r.status, e.status);
            assert_eq!(r.body.len() as u64, e.bytes);
            *statuses.entry(r.status).or_default() += 1;
        }
        responses += n as u64;
    }
    println!("fuzz: {runs} executions, {responses} responses, statuses {statuses:?}, 0 findings");
    assert!(
        statuses.len() >= 8,
        "the inputs reach most answers: {statuses:?}"
    );
}
