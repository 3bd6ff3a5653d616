//! The checks blkcheck runs on a disk, each printing the lines dom0's tests
//! read: write the seeded pattern over the whole disk, verify a digest,
//! refuse a write to a read-only disk, see a disk detached, measure
//! throughput.

use crate::disk::{Disk, Done};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use check_data::{Fnv1a, Pattern, SplitMix64};
use xen_platform::{println, time};

/// Requests in flight at once in the streaming checks.
const DEPTH: usize = 16;
/// The largest request the checks make.
const MAX_REQUEST: u64 = 1 << 20;

/// A request size for the next piece at `offset`: one of four classes
/// (under 4 KiB, under 64 KiB, under 1 MiB, exactly 1 MiB), whole sectors,
/// never past the end of the disk.
fn mixed_size(rng: &mut SplitMix64, sector: u64, offset: u64, capacity: u64) -> u64 {
    let limit = match rng.below(4) {
        0 => 4096,
        1 => 64 * 1024,
        2 => MAX_REQUEST,
        _ => 0,
    };
    let len = if limit == 0 {
        MAX_REQUEST
    } else {
        (1 + rng.below(limit / sector)) * sector
    };
    len.min(capacity - offset)
}

/// Figures of one streaming pass.
struct Pass {
    requests: u64,
    smallest: u64,
    largest: u64,
    elapsed_ns: u64,
}

impl Pass {
    fn new() -> Self {
        Pass {
            requests: 0,
            smallest: u64::MAX,
            largest: 0,
            elapsed_ns: 0,
        }
    }

    fn count(&mut self, len: u64) {
        self.requests += 1;
        self.smallest = self.smallest.min(len);
        self.largest = self.largest.max(len);
    }

    fn mb_per_s(&self, bytes: u64) -> u64 {
        bytes * 1000 / self.elapsed_ns.max(1)
    }
}

/// Fails on a completion that carries an error.
fn check(done: &Done) -> Result<(), String> {
    done.result
        .clone()
        .map_err(|e| format!("request {} failed: {e}", done.tag))
}

/// Writes the pattern for `seed` over the whole disk in mixed request sizes
/// (512 B .. 1 MiB), `DEPTH` at a time, then flushes.
pub fn write_pattern(disk: &mut Disk, seed: u64) -> Result<(), String> {
    let capacity = disk.capacity();
    let sector = disk.sector_size() as u64;
    let pattern = Pattern::new(seed);
    let mut rng = SplitMix64::new(seed ^ 0x0057_5249_5445);
    let mut offset = 0;
    let mut pass = Pass::new();
    let started = time::monotonic_ns();
    while offset < capacity || disk.in_flight() > 0 {
        while offset < capacity && disk.in_flight() < DEPTH {
            let len = mixed_size(&mut rng, sector, offset, capacity);
            let mut data = vec![0u8; len as usize];
            pattern.fill(offset, &mut data);
            disk.submit_write(offset, data, offset)?;
            pass.count(len);
            offset += len;
        }
        let mut failed = Ok(());
        disk.wait_completions(&mut |done| {
            if failed.is_ok() {
                failed = check(&done);
            }
        })?;
        failed?;
    }
    disk.flush()?;
    pass.elapsed_ns = time::monotonic_ns() - started;
    println!(
        "blkcheck: {} wrote {} bytes seed {} in {} requests of {} to {} bytes, flushed ({} MB/s)",
        disk.name(),
        capacity,
        seed,
        pass.requests,
        pass.smallest,
        pass.largest,
        pass.mb_per_s(capacity)
    );
    Ok(())
}

/// Reads the whole disk in mixed request sizes, `DEPTH` at a time, and
/// returns its FNV-1a digest (completions may come in any order; the
/// digest takes the pieces in disk order).
fn digest(disk: &mut Disk, seed: u64) -> Result<(u64, Pass), String> {
    let capacity = disk.capacity();
    let sector = disk.sector_size() as u64;
    let mut rng = SplitMix64::new(seed);
    let mut digest = Fnv1a::new();
    let mut arrived: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut digested = 0;
    let mut offset = 0;
    let mut pass = Pass::new();
    let started = time::monotonic_ns();
    while digested < capacity {
        while offset < capacity && disk.in_flight() < DEPTH {
            let len = mixed_size(&mut rng, sector, offset, capacity);
            disk.submit_read(offset, len as usize, offset)?;
            pass.count(len);
            offset += len;
        }
        let mut failed = Ok(());
        disk.wait_completions(&mut |done| {
            if failed.is_ok() {
                failed = check(&done);
            }
            if let Some(data) = done.data {
                arrived.insert(done.tag, data);
            }
        })?;
        failed?;
        while let Some(data) = arrived.remove(&digested) {
            digest.update(&data);
            digested += data.len() as u64;
        }
    }
    pass.elapsed_ns = time::monotonic_ns() - started;
    Ok((digest.value(), pass))
}

/// Reads the whole disk and compares its digest with `expected` (hex).
pub fn verify_digest(disk: &mut Disk, expected: &str) -> Result<(), String> {
    let expected = u64::from_str_radix(expected, 16)
        .map_err(|_| format!("verify: digest {expected:?} is not hex"))?;
    let (got, pass) = digest(disk, expected)?;
    let verdict = if got == expected {
        "matches"
    } else {
        "MISMATCH"
    };
    println!(
        "blkcheck: {} read {} bytes in {} requests of {} to {} bytes, fnv1a64 {:016x} {} ({} MB/s)",
        disk.name(),
        disk.capacity(),
        pass.requests,
        pass.smallest,
        pass.largest,
        got,
        verdict,
        pass.mb_per_s(disk.capacity())
    );
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "{}: digest {got:016x}, expected {expected:016x}",
            disk.name()
        ))
    }
}

/// A read-only disk: reads work, a write is refused with an error.
pub fn refuse_write(disk: &mut Disk) -> Result<(), String> {
    let sector = disk.sector_size();
    let before = disk.read(0, sector)?;
    match disk.write(0, vec![0xa5; sector]) {
        Ok(()) => Err(format!(
            "{}: a write to a read-only disk succeeded",
            disk.name()
        )),
        Err(e) => {
            let after = disk.read(0, sector)?;
            if after != before {
                return Err(format!(
                    "{}: the refused write changed the disk",
                    disk.name()
                ));
            }
            println!(
                "blkcheck: {} is read-only: {}; the write was refused: {e}",
                disk.name(),
                disk.read_only()
            );
            Ok(())
        }
    }
}

/// Waits (up to two minutes) for the disk's backend to go away, then shows
/// that I/O to it fails instead of hanging.
pub fn see_detach(disk: &mut Disk) -> Result<(), String> {
    println!("blkcheck: {} waiting to be detached", disk.name());
    let state = disk.wait_detached(time::monotonic_ns() + 120_000_000_000)?;
    println!("blkcheck: {} detached ({state})", disk.name());
    match disk.read(0, disk.sector_size()) {
        Ok(_) => {
            return Err(format!(
                "{}: a read after the detach succeeded",
                disk.name()
            ))
        }
        Err(e) => println!("blkcheck: {} read after detach failed: {e}", disk.name()),
    }
    let held = disk.grants_held();
    let left = disk.settle_grants(time::monotonic_ns() + 30_000_000_000);
    println!(
        "blkcheck: {} grants after the detach: {held}, then {left} once the backend let go",
        disk.name()
    );
    if left == 0 {
        Ok(())
    } else {
        Err(format!(
            "{}: {left} grants still held after the detach",
            disk.name()
        ))
    }
}

/// Sequential write and read throughput (1 MiB requests, `DEPTH` in flight)
/// and 4 KiB random-read IOPS (32 in flight, for about five seconds).
pub fn bench(disk: &mut Disk) -> Result<(), String> {
    let capacity = disk.capacity() - disk.capacity() % MAX_REQUEST;
    if capacity == 0 {
        return Err(format!("{}: too small to measure", disk.name()));
    }
    let chunk = vec![0x5au8; MAX_REQUEST as usize];
    let started = time::monotonic_ns();
    let mut offset = 0;
    while offset < capacity || disk.in_flight() > 0 {
        while offset < capacity && disk.in_flight() < DEPTH {
            disk.submit_write(offset, chunk.clone(), offset)?;
            offset += MAX_REQUEST;
        }
        stream_wait(disk)?;
    }
    disk.flush()?;
    let write_ns = time::monotonic_ns() - started;
    let started = time::monotonic_ns();
    let mut offset = 0;
    while offset < capacity || disk.in_flight() > 0 {
        while offset < capacity && disk.in_flight() < DEPTH {
            disk.submit_read(offset, MAX_REQUEST as usize, offset)?;
            offset += MAX_REQUEST;
        }
        stream_wait(disk)?;
    }
    let read_ns = time::monotonic_ns() - started;
    let mut rng = SplitMix64::new(0x1b10c);
    let blocks = capacity / 4096;
    let started = time::monotonic_ns();
    let stop = started + 5_000_000_000;
    let mut reads = 0u64;
    while time::monotonic_ns() < stop || disk.in_flight() > 0 {
        while time::monotonic_ns() < stop && disk.in_flight() < 32 {
            disk.submit_read(rng.below(blocks) * 4096, 4096, reads)?;
            reads += 1;
        }
        stream_wait(disk)?;
    }
    let random_ns = time::monotonic_ns() - started;
    println!(
        "blkcheck: bench {} bytes seq-write {} MB/s seq-read {} MB/s rand-read-4k {} IOPS ({} reads)",
        capacity,
        capacity * 1000 / write_ns.max(1),
        capacity * 1000 / read_ns.max(1),
        reads * 1_000_000_000 / random_ns.max(1),
        reads
    );
    Ok(())
}

/// Waits for completions of a measurement pass and fails on an error.
fn stream_wait(disk: &mut Disk) -> Result<(), String> {
    let mut failed = Ok(());
    disk.wait_completions(&mut |done| {
        if failed.is_ok() {
            failed = check(&done);
        }
    })?;
    failed
}
