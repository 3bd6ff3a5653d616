//! `rumpx-http-probe`: an HTTP client a dom0 points at guests in tests and
//! benchmarks (rumpx's own HTTP/1.1 client, `rumpx::http_client`), with one
//! machine-readable line per command. Digests are FNV-1a 64 (`check-data`).
//!
//! - `get URL [--head] [--range A-B] [--headers] [--expect N] [--time]`:
//!   one request; prints `status N bytes N fnv1a64 HEX` (the body's length
//!   and digest), with `--time` followed by ` seconds S`, then with
//!   `--headers` each header field as `NAME: VALUE` on its own line.
//!   `--expect N` fails unless the status is N.
//! - `raw HOST:PORT --data STRING`: sends STRING's bytes (escapes `\r`,
//!   `\n`, `\t`, `\0`, `\\`, `\xHH`) and prints the first line the server
//!   answers without its line end, or `closed` when it closes (or resets)
//!   the connection without answering.
//! - `load URL... --conns C --requests N`: N requests in all, taken in turn
//!   by C keep-alive connections (a connection the server closes is opened
//!   again), the URLs in rotation; prints `requests N errors E seconds S
//!   rps R`, R counting the requests answered with a 2xx status.
//! - `wait URL --timeout S [--since EPOCH]`: polls the URL until it answers
//!   200 and prints `first 200 after S s`, counted from the probe's start or
//!   from the wall-clock time EPOCH (seconds since 1970, as `date +%s.%N`).
//!
//! `--timeout S` (default 30; `wait`: the whole wait) bounds each connect,
//! read and write. Exit status 0 only when the command's check held; errors
//! go to stderr as `rumpx-http-probe: ...`.

use rumpx::http_client::{resolve, Connection, HttpError, Method, Response, Url};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str =
    "usage: rumpx-http-probe get URL [--head] [--range A-B] [--headers] [--expect N] [--time]\n\
     \x20      rumpx-http-probe raw HOST:PORT --data STRING\n\
     \x20      rumpx-http-probe load URL... --conns C --requests N\n\
     \x20      rumpx-http-probe wait URL --timeout S [--since EPOCH]\n\
     options for all: --timeout S (default 30)";

/// The command line, split into positional words and `--name [value]` options.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

/// Options that take no value.
const FLAGS: [&str; 3] = ["--head", "--headers", "--time"];

impl Args {
    fn parse(words: &[String]) -> Result<Args, String> {
        let mut args = Args {
            positional: Vec::new(),
            options: Vec::new(),
        };
        let mut words = words.iter();
        while let Some(word) = words.next() {
            if !word.starts_with("--") {
                args.positional.push(word.clone());
            } else if FLAGS.contains(&word.as_str()) {
                args.options.push((word.clone(), None));
            } else {
                let value = words
                    .next()
                    .ok_or_else(|| format!("{word} needs a value"))?;
                args.options.push((word.clone(), Some(value.clone())));
            }
        }
        Ok(args)
    }

    /// Fails on options the command does not know.
    fn only(&self, known: &[&str]) -> Result<(), String> {
        match self
            .options
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((name, _)) => Err(format!("unknown option {name} for this command")),
            None => Ok(()),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name}: cannot parse {v:?} as a number")),
        }
    }

    /// `--timeout S` as a duration (at least a millisecond).
    fn timeout(&self) -> Result<Duration, String> {
        let s: f64 = self.number("--timeout", 30.0)?;
        if !(s.is_finite() && s > 0.0 && s < 1e7) {
            return Err(format!(
                "--timeout: {s} is not a positive number of seconds"
            ));
        }
        Ok(Duration::from_secs_f64(s).max(Duration::from_millis(1)))
    }

    fn one_positional(&self, what: &str) -> Result<&str, String> {
        match self.positional.as_slice() {
            [one] => Ok(one),
            [] => Err(format!("missing {what}")),
            _ => Err(format!(
                "expected one {what}, got {}",
                self.positional.len()
            )),
        }
    }
}

/// The summary line of `get`.
fn summary(response: &Response) -> String {
    format!(
        "status {} bytes {} fnv1a64 {:016x}",
        response.status, response.body_bytes, response.digest
    )
}

/// `A-B` (either end may be missing, not both) as a Range header value.
fn range_header(range: &str) -> Result<String, String> {
    let bad = || format!("--range {range:?}: expected A-B, A- or -B with byte offsets");
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let a: Option<u64> = (!a.is_empty())
        .then(|| a.parse())
        .transpose()
        .map_err(|_| bad())?;
    let b: Option<u64> = (!b.is_empty())
        .then(|| b.parse())
        .transpose()
        .map_err(|_| bad())?;
    match (a, b) {
        (None, None) => Err(bad()),
        (Some(a), Some(b)) if b < a => Err(bad()),
        _ => Ok(format!("bytes={range}")),
    }
}

fn get(args: &Args) -> Result<bool, String> {
    args.only(&[
        "--head",
        "--range",
        "--headers",
        "--expect",
        "--time",
        "--timeout",
    ])?;
    let url = Url::parse(args.one_positional("URL")?).map_err(|e| e.to_string())?;
    let method = if args.flag("--head") {
        Method::Head
    } else {
        Method::Get
    };
    let range = args.value("--range").map(range_header).transpose()?;
    let expect: Option<u16> = args
        .value("--expect")
        .map(|v| {
            v.parse()
                .map_err(|_| format!("--expect: cannot parse {v:?}"))
        })
        .transpose()?;
    let started = Instant::now();
    let mut connection = Connection::open(&url, args.timeout()?).map_err(|e| e.to_string())?;
    let extra: Vec<(&str, &str)> = range.iter().map(|r| ("Range", r.as_str())).collect();
    let response = connection
        .request(method, &url.path, &extra)
        .map_err(|e| e.to_string())?;
    let mut line = summary(&response);
    if args.flag("--time") {
        line.push_str(&format!(" seconds {:.3}", started.elapsed().as_secs_f64()));
    }
    println!("{line}");
    if args.flag("--headers") {
        for (name, value) in &response.headers {
            println!("{name}: {value}");
        }
    }
    match expect {
        Some(want) if want != response.status => Err(format!(
            "expected status {want}, got {}",
            response.status_line
        )),
        _ => Ok(true),
    }
}

/// STRING with its backslash escapes replaced by the bytes they stand for.
fn unescape(data: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let value = std::str::from_utf8(&hex)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("--data: \\x needs two hex digits")?;
                out.push(value);
            }
            Some(other) => {
                return Err(format!("--data: unknown escape \\{}", other as char));
            }
            None => return Err("--data: a lone \\ at the end".into()),
        }
    }
    Ok(out)
}

/// What a server answered to raw bytes.
#[derive(Debug, PartialEq, Eq)]
enum RawAnswer {
    /// Its first line (without the line end), or what it sent before closing.
    Line(String),
    /// It closed or reset the connection without a byte.
    Closed,
}

fn raw_exchange(addr: &str, data: &[u8], timeout: Duration) -> Result<RawAnswer, String> {
    let addr = resolve(addr).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| HttpError::Connect { addr, source: e }.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("setting timeouts: {e}"))?;
    let reset = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        )
    };
    let mut got = Vec::new();
    match stream.write_all(data) {
        Ok(()) => {}
        // The server may answer and close before it read everything.
        Err(e) if reset(&e) => {}
        Err(e) => return Err(format!("sending: {e}")),
    }
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.contains(&b'\n') || got.len() > 64 * 1024 {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if reset(&e) => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "no answer line within {:.1} s ({} bytes came)",
                    timeout.as_secs_f64(),
                    got.len()
                ));
            }
            Err(e) => return Err(format!("receiving: {e}")),
        }
    }
    if got.is_empty() {
        return Ok(RawAnswer::Closed);
    }
    let line = got.split(|&b| b == b'\n').next().unwrap_or(&got);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(RawAnswer::Line(String::from_utf8_lossy(line).into_owned()))
}

fn raw(args: &Args) -> Result<bool, String> {
    args.only(&["--data", "--timeout"])?;
    let addr = args.one_positional("HOST:PORT")?;
    let data = unescape(args.value("--data").ok_or("missing --data STRING")?)?;
    match raw_exchange(addr, &data, args.timeout()?)? {
        RawAnswer::Line(line) => println!("{line}"),
        RawAnswer::Closed => println!("closed"),
    }
    Ok(true)
}

/// The figures of a `load` run.
#[derive(Debug)]
struct LoadFigures {
    requests: u64,
    errors: u64,
    seconds: f64,
    first_error: Option<String>,
}

impl LoadFigures {
    fn line(&self) -> String {
        let answered = self.requests - self.errors;
        format!(
            "requests {} errors {} seconds {:.3} rps {:.1}",
            self.requests,
            self.errors,
            self.seconds,
            answered as f64 / self.seconds.max(1e-9)
        )
    }
}

/// One connection's share of a load run: requests are taken from `next`
/// until `total` are taken.
fn load_worker(
    urls: &[Url],
    next: &AtomicU64,
    total: u64,
    timeout: Duration,
    errors: &AtomicU64,
    first_error: &Mutex<Option<String>>,
) {
    let mut connection: Option<(usize, Connection)> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return;
        }
        let which = (i % urls.len() as u64) as usize;
        let url = &urls[which];
        // A connection serves every URL of the same server.
        let same_server = |(w, _): &(usize, Connection)| urls[*w].authority() == url.authority();
        if !connection.as_ref().is_some_and(same_server) {
            connection = None;
        }
        let result = match connection.take() {
            Some(open) => Ok(open),
            None => Connection::open(url, timeout).map(|c| (which, c)),
        }
        .and_then(|(w, mut c)| c.request(Method::Get, &url.path, &[]).map(|r| (w, c, r)));
        let failure = match result {
            Ok((w, c, response)) => {
                if response.reusable {
                    connection = Some((w, c));
                }
                (!(200..300).contains(&response.status))
                    .then(|| format!("{}: {}", url.path, response.status_line))
            }
            Err(e) => Some(format!("{}: {e}", url.path)),
        };
        if let Some(why) = failure {
            errors.fetch_add(1, Ordering::Relaxed);
            let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert(why);
        }
    }
}

fn run_load(urls: &[Url], conns: u64, total: u64, timeout: Duration) -> LoadFigures {
    let next = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let first_error = Mutex::new(None);
    let started = Instant::now();
    thread::scope(|scope| {
        for _ in 0..conns.min(total) {
            scope.spawn(|| load_worker(urls, &next, total, timeout, &errors, &first_error));
        }
    });
    LoadFigures {
        requests: total,
        errors: errors.into_inner(),
        seconds: started.elapsed().as_secs_f64(),
        first_error: first_error.into_inner().unwrap_or_else(|p| p.into_inner()),
    }
}

fn load(args: &Args) -> Result<bool, String> {
    args.only(&["--conns", "--requests", "--timeout"])?;
    if args.positional.is_empty() {
        return Err("missing URL".into());
    }
    let urls = args
        .positional
        .iter()
        .map(|u| Url::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let conns: u64 = args.number("--conns", 1)?;
    let total: u64 = args.number("--requests", 100)?;
    if !(1..=1000).contains(&conns) {
        return Err("--conns must be 1 to 1000".into());
    }
    if total == 0 {
        return Err("--requests must be at least 1".into());
    }
    let figures = run_load(&urls, conns, total, args.timeout()?);
    println!("{}", figures.line());
    match figures.first_error {
        Some(first) => Err(format!(
            "{} of {} requests failed; the first: {first}",
            figures.errors, figures.requests
        )),
        None => Ok(true),
    }
}

/// Polls `url` until it answers 200 or `limit` has passed since `start`;
/// gives the time of the first 200 after `start` (a wall-clock instant).
fn wait_for_200(url: &Url, start: SystemTime, limit: Duration) -> Result<Duration, String> {
    const POLL: Duration = Duration::from_millis(50);
    loop {
        let attempt = Connection::open(url, Duration::from_secs(1))
            .and_then(|mut c| c.request(Method::Get, &url.path, &[]));
        let now = SystemTime::now();
        let since = now.duration_since(start).unwrap_or_default();
        let last = match attempt {
            Ok(response) if response.status == 200 => return Ok(since),
            Ok(response) => response.status_line,
            Err(e) => e.to_string(),
        };
        if since >= limit {
            return Err(format!(
                "no 200 from http://{}{} within {:.1} s; the last attempt: {last}",
                url.authority(),
                url.path,
                limit.as_secs_f64()
            ));
        }
        thread::sleep(POLL);
    }
}

fn wait(args: &Args) -> Result<bool, String> {
    args.only(&["--timeout", "--since"])?;
    let url = Url::parse(args.one_positional("URL")?).map_err(|e| e.to_string())?;
    let limit = args.timeout()?;
    let start = match args.value("--since") {
        None => SystemTime::now(),
        Some(v) => {
            let secs: f64 = v
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e11)
                .ok_or_else(|| format!("--since: {v:?} is not seconds since 1970"))?;
            UNIX_EPOCH + Duration::from_secs_f64(secs)
        }
    };
    let after = wait_for_200(&url, start, limit)?;
    println!("first 200 after {:.3} s", after.as_secs_f64());
    Ok(true)
}

fn run(words: &[String]) -> Result<bool, String> {
    let (command, rest) = words.split_first().ok_or(USAGE)?;
    let args = Args::parse(rest)?;
    match command.as_str() {
        "get" => get(&args),
        "raw" => raw(&args),
        "load" => load(&args),
        "wait" => wait(&args),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(true)
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }
}

fn main() -> ExitCode {
    let words: Vec<String> = std::env::args().skip(1).collect();
    match run(&words) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("rumpx-http-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumpx::fingerprint::fnv1a;
    use std::io::{BufRead, BufReader};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// A tiny HTTP/1.1 server: `/big` (300 KiB of a counting pattern),
    /// `/small`, `/close` (Connection: close), `/chunked`, 404 otherwise;
    /// honours `Range: bytes=A-B` and HEAD; counts connections.
    struct TestServer {
        addr: SocketAddr,
        connections: Arc<AtomicUsize>,
    }

    fn big_body() -> Vec<u8> {
        (0..300 * 1024u32).map(|i| (i % 251) as u8).collect()
    }

    fn serve_connection(stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(r) = line.trim().strip_prefix("Range: bytes=") {
                    let (a, b) = r.split_once('-').unwrap();
                    range = Some((a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()));
                }
            }
            let mut parts = request_line.split_whitespace();
            let (method, path) = (parts.next().unwrap(), parts.next().unwrap());
            let (status, mut body, mut extra) = match path {
                "/big" => ("200 OK", big_body(), String::new()),
                "/small" => ("200 OK", b"small\n".to_vec(), String::new()),
                "/close" => ("200 OK", b"bye".to_vec(), "Connection: close\r\n".into()),
                "/chunked" => {
                    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
                    let _ = writer.write_all(head.as_bytes());
                    continue;
                }
                _ => ("404 Not Found", b"no\n".to_vec(), String::new()),
            };
            let status = match range {
                Some((a, b)) if status.starts_with("200") => {
                    extra.push_str(&format!("Content-Range: bytes {a}-{b}/{}\r\n", body.len()));
                    body = body[a..=b].to_vec();
                    "206 Partial Content"
                }
                _ => status,
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}\r\n",
                body.len()
            );
            let mut out = head.into_bytes();
            if method != "HEAD" {
                out.extend_from_slice(&body);
            }
            if writer.write_all(&out).is_err() || path == "/close" {
                return;
            }
        }
    }

    impl TestServer {
        fn start() -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let connections = Arc::new(AtomicUsize::new(0));
            let counter = connections.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    counter.fetch_add(1, Ordering::SeqCst);
                    thread::spawn(move || serve_connection(stream));
                }
            });
            TestServer { addr, connections }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }
    }

    fn words(line: &[&str]) -> Args {
        let owned: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        Args::parse(&owned).unwrap()
    }

    fn fetch(server: &TestServer, path: &str, method: Method, extra: &[(&str, &str)]) -> Response {
        let url = Url::parse(&server.url(path)).unwrap();
        let mut c = Connection::open(&url, Duration::from_secs(5)).unwrap();
        c.request(method, &url.path, extra).unwrap()
    }

    #[test]
    fn get_digests_the_body_and_ranges_and_head_work() {
        let server = TestServer::start();
        let body = big_body();
        let r = fetch(&server, "/big", Method::Get, &[]);
        assert_eq!(
            summary(&r),
            format!(
                "status 200 bytes {} fnv1a64 {:016x}",
                body.len(),
                fnv1a(&body)
            )
        );
        let range = range_header("100-199").unwrap();
        let r = fetch(&server, "/big", Method::Get, &[("Range", &range)]);
        assert_eq!(
            (r.status, r.body_bytes, r.digest),
            (206, 100, fnv1a(&body[100..200]))
        );
        assert_eq!(r.header("content-range"), Some("bytes 100-199/307200"));
        let r = fetch(&server, "/big", Method::Head, &[]);
        assert_eq!((r.status, r.body_bytes), (200, 0));
        assert_eq!(r.header("Content-Length"), Some("307200"));
        let r = fetch(&server, "/nothing", Method::Get, &[]);
        assert_eq!((r.status, r.body_bytes), (404, 3));
        assert!(get(&words(&[
            &server.url("/small"),
            "--expect",
            "200",
            "--time"
        ]))
        .unwrap());
        let wrong = get(&words(&[&server.url("/nothing"), "--expect", "200"])).unwrap_err();
        assert!(
            wrong.contains("expected status 200, got HTTP/1.1 404 Not Found"),
            "{wrong}"
        );
    }

    #[test]
    fn chunked_bodies_and_refused_connections_are_clear_errors() {
        let server = TestServer::start();
        let e = get(&words(&[&server.url("/chunked")])).unwrap_err();
        assert!(e.contains("Transfer-Encoding \"chunked\""), "{e}");
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let e = get(&words(&[&url])).unwrap_err();
        assert!(e.starts_with("connect 127.0.0.1:"), "{e}");
        for bad in [
            vec!["http://h/", "--range", "5-1"],
            vec!["http://h/", "--range", "-"],
            vec!["http://h/", "--bogus", "1"],
            vec!["ftp://h/"],
            vec![],
        ] {
            assert!(get(&words(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn load_keeps_connections_alive_and_counts_errors() {
        let server = TestServer::start();
        let urls = vec![Url::parse(&server.url("/small")).unwrap()];
        let figures = run_load(&urls, 4, 400, Duration::from_secs(5));
        assert_eq!((figures.requests, figures.errors), (400, 0), "{figures:?}");
        // Keep-alive: at most one connection per worker for 400 requests.
        assert!(server.connections.load(Ordering::SeqCst) <= 4);
        assert!(figures.line().starts_with("requests 400 errors 0 seconds "));

        let closing = TestServer::start();
        let urls = vec![
            Url::parse(&closing.url("/close")).unwrap(),
            Url::parse(&closing.url("/missing")).unwrap(),
        ];
        let figures = run_load(&urls, 2, 50, Duration::from_secs(5));
        assert_eq!(figures.errors, 25, "{figures:?}");
        assert!(figures.first_error.unwrap().contains("404"));
        assert!(closing.connections.load(Ordering::SeqCst) >= 25);
        let e = load(&words(&[&closing.url("/missing"), "--requests", "3"])).unwrap_err();
        assert!(e.starts_with("3 of 3 requests failed"), "{e}");
    }

    #[test]
    fn wait_returns_once_the_server_answers_200() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = Url::parse(&format!("http://{addr}/small")).unwrap();
        let start = SystemTime::now();
        let server = thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            let listener = TcpListener::bind(addr).unwrap();
            let (stream, _) = listener.accept().unwrap();
            serve_connection(stream);
        });
        let after = wait_for_200(&url, start, Duration::from_secs(20)).unwrap();
        assert!(after >= Duration::from_millis(300), "{after:?}");
        server.join().unwrap();
        let e = wait_for_200(&url, SystemTime::now(), Duration::from_millis(200)).unwrap_err();
        assert!(e.starts_with("no 200 from http://127.0.0.1:"), "{e}");
    }

    #[test]
    fn raw_sends_escaped_bytes_and_reports_the_first_line_or_closed() {
        assert_eq!(unescape("a\\r\\n\\x41\\\\\\0").unwrap(), b"a\r\nA\\\0");
        for bad in ["\\q", "\\x4", "\\xZZ", "end\\"] {
            assert!(unescape(bad).is_err(), "{bad}");
        }
        let server = TestServer::start();
        let addr = server.addr.to_string();
        let request = unescape("GET /small HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n").unwrap();
        let answer = raw_exchange(&addr, &request, Duration::from_secs(5)).unwrap();
        assert_eq!(answer, RawAnswer::Line("HTTP/1.1 200 OK".into()));

        let hangup = TcpListener::bind("127.0.0.1:0").unwrap();
        let hangup_addr = hangup.local_addr().unwrap().to_string();
        thread::spawn(move || {
            let (mut s, _) = hangup.accept().unwrap();
            let mut buf = [0u8; 16];
            let _ = s.read(&mut buf);
        });
        let answer = raw_exchange(&hangup_addr, b"junk\r\n", Duration::from_secs(5)).unwrap();
        assert_eq!(answer, RawAnswer::Closed);

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_addr = silent.local_addr().unwrap().to_string();
        let e = raw_exchange(&silent_addr, b"GET", Duration::from_millis(200)).unwrap_err();
        assert!(e.starts_with("no answer line within 0.2 s"), "{e}");
        drop(silent);
    }
}
