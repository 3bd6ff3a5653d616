//! `rumpx-disk-probe`: checks of disk images a dom0 makes for guests and
//! reads back after them, with one machine-readable line per run.
//!
//! - `digest IMG`: "disk-digest: bytes N fnv1a64 H" of the whole image.
//! - `verify-pattern IMG SEED`: compares the image with the seeded pattern
//!   of `check-data` (what the blkcheck guest writes); prints
//!   "disk-pattern: bytes N seed S mismatch none" or "... mismatch at
//!   OFFSET (M bytes differ)".
//! - `bench DEV`: the block benchmark the blkcheck guest runs, done the same
//!   way through Linux's block layer (`O_DIRECT`, so no page cache): a
//!   sequential write of the whole device (rounded down to 1 MiB) in 1 MiB
//!   requests with 16 in flight, then `fsync`; a sequential read of the
//!   same; then aligned 4 KiB reads at uniformly random places with 32 in
//!   flight for about five seconds. Prints, in blkcheck's words,
//!   "disk-probe: bench N bytes seq-write W MB/s seq-read R MB/s
//!   rand-read-4k I IOPS (n reads)", MB/s being 10^6 bytes per second.
//!   Runs in the Linux DomU `rumpx bench blk` compares blkcheck with.
//!
//! Exit status 0 only when the command's check held.

use check_data::{Fnv1a, Pattern, SplitMix64};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

/// Calls `each(offset, bytes)` for the image's bytes in order.
fn read_all(path: &str, mut each: impl FnMut(u64, &[u8])) -> Result<u64, String> {
    let mut file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| format!("{path}: {e}"))?;
        if n == 0 {
            return Ok(offset);
        }
        each(offset, &buf[..n]);
        offset += n as u64;
    }
}

fn digest(path: &str) -> Result<bool, String> {
    let mut h = Fnv1a::new();
    let bytes = read_all(path, |_, data| h.update(data))?;
    println!("disk-digest: bytes {bytes} fnv1a64 {:016x}", h.value());
    Ok(true)
}

fn verify_pattern(path: &str, seed: u64) -> Result<bool, String> {
    let pattern = Pattern::new(seed);
    let mut first = None;
    let mut differing = 0u64;
    let mut expected = vec![0u8; CHUNK];
    let bytes = read_all(path, |offset, data| {
        let expected = &mut expected[..data.len()];
        pattern.fill(offset, expected);
        if expected != data {
            differing += data
                .iter()
                .zip(expected.iter())
                .filter(|(a, b)| a != b)
                .count() as u64;
            first = first.or_else(|| pattern.first_mismatch(offset, data));
        }
    })?;
    match first {
        None => println!("disk-pattern: bytes {bytes} seed {seed} mismatch none"),
        Some(at) => println!(
            "disk-pattern: bytes {bytes} seed {seed} mismatch at {at} ({differing} bytes differ)"
        ),
    }
    Ok(first.is_none())
}

/// Bytes per sequential request (blkcheck's largest request).
const SEQ_REQUEST: usize = 1 << 20;
/// Sequential requests in flight (blkcheck's `DEPTH`).
const SEQ_DEPTH: usize = 16;
/// Bytes per random read.
const RANDOM_READ: usize = 4096;
/// Random reads in flight.
const RANDOM_DEPTH: usize = 32;
/// How long the random reads go on.
const RANDOM_FOR: Duration = Duration::from_secs(5);
/// The alignment `O_DIRECT` buffers and offsets need (at least the
/// device's logical block size; Xen's virtual disks have 512 bytes).
const ALIGN: usize = 4096;
/// The random reads' seed (blkcheck's).
const RANDOM_SEED: u64 = 0x1b10c;

/// A zeroed buffer of `len` bytes that starts on an `ALIGN` boundary: a
/// larger vector of which only the aligned part is used.
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> Result<Self, String> {
        let storage = vec![0u8; len + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN);
        if start > ALIGN {
            return Err(format!("cannot align a buffer to {ALIGN} bytes"));
        }
        Ok(AlignedBuf {
            storage,
            start,
            len,
        })
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// What one benchmark run measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BenchFigures {
    /// Bytes written, then read, sequentially.
    bytes: u64,
    /// Sequential write, flush included.
    write_ns: u64,
    /// Sequential read.
    read_ns: u64,
    /// Random 4 KiB reads done.
    reads: u64,
    /// How long they took, the last completions included.
    random_ns: u64,
}

impl BenchFigures {
    /// The summary line, in the blkcheck guest's words and arithmetic.
    fn line(&self) -> String {
        format!(
            "disk-probe: bench {} bytes seq-write {} MB/s seq-read {} MB/s rand-read-4k {} IOPS ({} reads)",
            self.bytes,
            self.bytes * 1000 / self.write_ns.max(1),
            self.bytes * 1000 / self.read_ns.max(1),
            self.reads * 1_000_000_000 / self.random_ns.max(1),
            self.reads
        )
    }
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `work(i)` on `n` threads and returns the first error, if any.
fn on_threads(n: usize, work: impl Fn(usize) -> Result<(), String> + Sync) -> Result<(), String> {
    let work = &work;
    thread::scope(|s| {
        let workers: Vec<_> = (0..n).map(|i| s.spawn(move || work(i))).collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect::<Result<Vec<()>, String>>()
            .map(|_| ())
    })
}

/// One sequential pass over `bytes` bytes of `file` in 1 MiB requests,
/// `SEQ_DEPTH` in flight: thread i moves chunks i, i + SEQ_DEPTH, ...
fn sequential(file: &File, bytes: u64, write: bool) -> Result<(), String> {
    let chunks = bytes / SEQ_REQUEST as u64;
    on_threads(SEQ_DEPTH, |i| {
        let mut buf = AlignedBuf::new(SEQ_REQUEST)?;
        buf.bytes().fill(0x5a);
        let mut chunk = i as u64;
        while chunk < chunks {
            let offset = chunk * SEQ_REQUEST as u64;
            let done = if write {
                file.write_all_at(buf.bytes(), offset)
            } else {
                file.read_exact_at(buf.bytes(), offset)
            };
            let what = if write { "write" } else { "read" };
            done.map_err(|e| format!("{what} of 1 MiB at {offset}: {e}"))?;
            chunk += SEQ_DEPTH as u64;
        }
        Ok(())
    })
}

/// Aligned 4 KiB reads at uniformly random places below `bytes`,
/// `RANDOM_DEPTH` in flight, for `duration`; returns how many were done.
fn random_reads(file: &File, bytes: u64, duration: Duration) -> Result<u64, String> {
    let blocks = bytes / RANDOM_READ as u64;
    let reads = AtomicU64::new(0);
    let stop = Instant::now() + duration;
    on_threads(RANDOM_DEPTH, |i| {
        let mut buf = AlignedBuf::new(RANDOM_READ)?;
        let mut rng = SplitMix64::new(RANDOM_SEED ^ ((i as u64) << 32));
        while Instant::now() < stop {
            let offset = rng.below(blocks) * RANDOM_READ as u64;
            file.read_exact_at(buf.bytes(), offset)
                .map_err(|e| format!("read of 4 KiB at {offset}: {e}"))?;
            reads.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    })?;
    Ok(reads.into_inner())
}

/// The three passes over the first `bytes` bytes of `file`.
fn bench_file(file: &File, bytes: u64, random_for: Duration) -> Result<BenchFigures, String> {
    let started = Instant::now();
    sequential(file, bytes, true)?;
    file.sync_all().map_err(|e| format!("fsync: {e}"))?;
    let write_ns = elapsed_ns(started);
    let started = Instant::now();
    sequential(file, bytes, false)?;
    let read_ns = elapsed_ns(started);
    let started = Instant::now();
    let reads = random_reads(file, bytes, random_for)?;
    let random_ns = elapsed_ns(started);
    Ok(BenchFigures {
        bytes,
        write_ns,
        read_ns,
        reads,
        random_ns,
    })
}

/// `bench DEV`: opens the device for direct I/O and measures it.
fn bench(path: &str) -> Result<bool, String> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .map_err(|e| format!("{path} (O_DIRECT): {e}"))?;
    // A block device's metadata has no length; its end does.
    let size = file
        .seek(SeekFrom::End(0))
        .map_err(|e| format!("{path}: {e}"))?;
    let bytes = size - size % SEQ_REQUEST as u64;
    if bytes == 0 {
        return Err(format!("{path}: {size} bytes is too small to measure"));
    }
    let figures = bench_file(&file, bytes, RANDOM_FOR).map_err(|e| format!("{path}: {e}"))?;
    println!("{}", figures.line());
    Ok(true)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["digest", path] => digest(path),
        ["verify-pattern", path, seed] => seed
            .parse()
            .map_err(|_| format!("SEED: cannot parse {seed:?}"))
            .and_then(|seed| verify_pattern(path, seed)),
        ["bench", path] => bench(path),
        _ => Err("usage: rumpx-disk-probe digest IMG | verify-pattern IMG SEED | bench DEV".into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rumpx-disk-probe: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned() {
        for len in [RANDOM_READ, SEQ_REQUEST, 1] {
            let mut buf = AlignedBuf::new(len).unwrap();
            let bytes = buf.bytes();
            assert_eq!(bytes.len(), len);
            assert_eq!(bytes.as_ptr() as usize % ALIGN, 0);
        }
    }

    #[test]
    fn the_line_reads_like_blkcheck_s() {
        let figures = BenchFigures {
            bytes: 64 << 20,
            write_ns: 2_000_000_000,
            read_ns: 1_000_000_000,
            reads: 10_000,
            random_ns: 5_000_000_000,
        };
        assert_eq!(
            figures.line(),
            "disk-probe: bench 67108864 bytes seq-write 33 MB/s seq-read 67 MB/s \
             rand-read-4k 2000 IOPS (10000 reads)"
        );
    }

    #[test]
    fn measures_a_file_and_writes_every_chunk() {
        // Without O_DIRECT: a temporary folder may be a tmpfs, which refuses it.
        let path = std::env::temp_dir().join(format!("rumpx-disk-probe-{}", std::process::id()));
        let bytes = 20 * SEQ_REQUEST as u64;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(bytes + 4096).unwrap();
        let figures = bench_file(&file, bytes, Duration::from_millis(50)).unwrap();
        assert_eq!(figures.bytes, bytes);
        assert!(figures.reads > 0);
        let written = std::fs::read(&path).unwrap();
        assert!(written[..bytes as usize].iter().all(|&b| b == 0x5a));
        assert!(written[bytes as usize..].iter().all(|&b| b == 0));
        std::fs::remove_file(&path).unwrap();
    }
}
