//! `rumpx-disk-probe`: checks of disk images a dom0 makes for guests and
//! reads back after them, with one machine-readable line per run.
//!
//! - `digest IMG`: "disk-digest: bytes N fnv1a64 H" of the whole image.
//! - `verify-pattern IMG SEED`: compares the image with the seeded pattern
//!   of `check-data` (what the blkcheck guest writes); prints
//!   "disk-pattern: bytes N seed S mismatch none" or "... mismatch at
//!   OFFSET (M bytes differ)".
//!
//! Exit status 0 only when the command's check held.

use check_data::{Fnv1a, Pattern};
use std::fs::File;
use std::io::Read;
use std::process::ExitCode;

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["digest", path] => digest(path),
        ["verify-pattern", path, seed] => seed
            .parse()
            .map_err(|_| format!("SEED: cannot parse {seed:?}"))
            .and_then(|seed| verify_pattern(path, seed)),
        _ => Err("usage: rumpx-disk-probe digest IMG | verify-pattern IMG SEED".into()),
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
