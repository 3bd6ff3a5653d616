//! The checks, one function each; errors are messages for the console.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use core::sync::atomic::{AtomicU32, Ordering};
use xen_platform::services::{DomId, GrantTable};
use xen_platform::xenstore::{Tx, XenstoreOps};
use xen_platform::{evtchn, println, sched, time};

type Result = core::result::Result<(), String>;

fn xenstore() -> core::result::Result<&'static impl XenstoreOps, String> {
    xen_platform::xenstore::xen::xenstore().map_err(|e| format!("xenstore: {e}"))
}

fn read(path: &str) -> core::result::Result<String, String> {
    xenstore()?
        .read(Tx::NONE, path)
        .map_err(|e| format!("read {path}: {e}"))
}

fn write(path: &str, value: &str) -> Result {
    xenstore()?
        .write(Tx::NONE, path, value)
        .map_err(|e| format!("write {path}: {e}"))
}

/// Waits until `path` exists (a watch on it), returning its value.
fn wait_for_key(path: &str, token: &str) -> core::result::Result<String, String> {
    let xs = xenstore()?;
    xs.watch(path, token)
        .map_err(|e| format!("watch {path}: {e}"))?;
    let deadline = time::monotonic_ns() + 60_000_000_000;
    loop {
        if let Ok(value) = xs.read(Tx::NONE, path) {
            let _ = xs.unwatch(path, token);
            return Ok(value);
        }
        match xs.next_watch_event(token, Some(deadline)) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("{path} did not appear within 60 s")),
            Err(e) => return Err(format!("watch {path}: {e}")),
        }
    }
}

/// The guest's own domid and name, read from xenstore.
pub fn identity() -> Result {
    let domid = read("domid")?;
    let name = read("name")?;
    let home = xenstore()?
        .domain_path()
        .map_err(|e| format!("domain path: {e}"))?;
    println!("domid: {domid}");
    println!("name: {name}");
    println!("home: {home}");
    Ok(())
}

/// Writes dom0 makes under data/rumpx/k<i> (value v<i>), 1000 of them in
/// batches of 100; a watcher thread reads each, and reports progress under
/// data/rumpx-seen so dom0 sends the next batch.
pub fn watch() -> Result {
    const WRITES: usize = 1000;
    let watcher = sched::spawn("watcher", || {
        if let Err(e) = count_writes(WRITES) {
            panic!("watcher: {e}");
        }
    })
    .map_err(|e| format!("spawn: {e}"))?;
    watcher.join();
    Ok(())
}

fn count_writes(writes: usize) -> Result {
    let xs = xenstore()?;
    xs.watch("data/rumpx", "writes")
        .map_err(|e| format!("watch: {e}"))?;
    write("data/rumpx-ready", "1")?;
    let mut seen = vec![0u32; writes + 1];
    let mut distinct = 0;
    let mut duplicates = 0;
    let mut wrong = 0;
    // Progress, not total time, is what is checked: dom0's writes come in
    // batches whose pace depends on the host's load.
    const QUIET_NS: u64 = 60_000_000_000;
    while distinct < writes {
        let deadline = time::monotonic_ns() + QUIET_NS;
        let path = match xs.next_watch_event("writes", Some(deadline)) {
            Ok(Some(path)) => path,
            Ok(None) => {
                report_stall();
                return Err(format!(
                    "only {distinct} of {writes} writes seen, then none for 60 s"
                ));
            }
            Err(e) => return Err(format!("watch event: {e}")),
        };
        let Some(index) = path
            .rsplit('/')
            .next()
            .and_then(|leaf| leaf.strip_prefix('k'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| (1..=writes).contains(&n))
        else {
            continue; // the watch's own node (the initial event) or a stranger
        };
        let value = xs
            .read(Tx::NONE, &path)
            .map_err(|e| format!("read {path}: {e}"))?;
        seen[index] += 1;
        if seen[index] > 1 {
            duplicates += 1;
            continue;
        }
        distinct += 1;
        if value != format!("v{index}") {
            wrong += 1;
        }
        println!("watch: k{index} = {value}");
        if distinct % 100 == 0 {
            write("data/rumpx-seen", &distinct.to_string())?;
            let back = read("data/rumpx-seen")?;
            println!("watch: told dom0 {distinct} (reads back {back})");
        }
    }
    println!("watch: {distinct} writes seen, {duplicates} duplicates, {wrong} wrong values");
    println!("watch: upcalls nested {}", evtchn::nested_upcalls());
    Ok(())
}

/// Prints what the xenstore connection and its event channel look like, to
/// tell a lost event (bytes in the ring, nothing woke us) from a silent peer.
fn report_stall() {
    let Ok(xs) = xen_platform::xenstore::xen::xenstore() else {
        return;
    };
    let port = xs.waiter().port();
    println!("stall: xenstore {}", xs.snapshot());
    if let Some(state) = evtchn::port_state(port) {
        println!("stall: port {} {state}", port.0);
    }
    let s = sched::stats();
    println!(
        "stall: switches {} halts {} timer events {} nested upcalls {}",
        s.switches,
        s.halts,
        s.timer_events,
        evtchn::nested_upcalls()
    );
    let pumped = xs.pump();
    println!("stall: after a pump ({pumped:?}): {}", xs.snapshot());
}

/// Twenty 100 ms sleeps measured with the PV clock, then 3 s of idle sleep
/// while dom0 watches the CPU time.
pub fn sleep() -> Result {
    let cpu_before = time::cpu_time_ns().map_err(|e| format!("runstate: {e}"))?;
    // The 20 sleeps run without console output in between (every line
    // wakes dom0's console daemon and log follower, which then compete
    // with this guest for the host's CPUs); the figures come after.
    let mut took = [0u64; 20];
    let mut samples = [(None, None); 20];
    for (i, took_us) in took.iter_mut().enumerate() {
        let before = time::clock_sample();
        let start = time::monotonic_ns();
        sched::sleep_ns(100_000_000);
        *took_us = (time::monotonic_ns() - start) / 1000;
        samples[i] = (before, time::clock_sample());
    }
    let mut worst_us = 0u64;
    for (i, &took_us) in took.iter().enumerate() {
        worst_us = worst_us.max(took_us.abs_diff(100_000));
        println!("sleep {i}: {took_us} us");
        if took_us.abs_diff(100_000) > 20_000 {
            // What the clock was computed from, to tell a stale or jumping
            // record from a late timer.
            let (before, after) = samples[i];
            for (when, sample) in [("before", before), ("after", after)] {
                if let Some((c, tsc)) = sample {
                    println!(
                        "sleep {i} {when}: system_time {} tsc_timestamp {} mul {} shift {} tsc {}",
                        c.system_time, c.tsc_timestamp, c.tsc_to_system_mul, c.tsc_shift, tsc
                    );
                }
            }
        }
    }
    println!("sleep: worst deviation {worst_us} us");
    println!("sleep: idle for 3 s");
    sched::sleep_ns(3_000_000_000);
    let cpu_us = (time::cpu_time_ns().map_err(|e| format!("runstate: {e}"))? - cpu_before) / 1000;
    println!("sleep: cpu time {cpu_us} us over 5 s of sleeping");
    Ok(())
}

/// Two threads hand a token back and forth through the scheduler.
pub fn pingpong() -> Result {
    const ROUNDS: u32 = 100_000;
    static TURN: AtomicU32 = AtomicU32::new(0);
    static WAKE: sched::WaitQueue = sched::WaitQueue::new();
    fn player(me: u32) {
        for _ in 0..ROUNDS {
            WAKE.wait_for(|| TURN.load(Ordering::Acquire) == me, None);
            TURN.store(1 - me, Ordering::Release);
            WAKE.wake_all();
        }
    }
    let start = time::monotonic_ns();
    let ping = sched::spawn("ping", || player(0)).map_err(|e| format!("spawn: {e}"))?;
    let pong = sched::spawn("pong", || player(1)).map_err(|e| format!("spawn: {e}"))?;
    ping.join();
    pong.join();
    let ms = (time::monotonic_ns() - start) / 1_000_000;
    println!("pingpong: {ROUNDS} round trips in {ms} ms");
    Ok(())
}

/// Grants dom0 a page with a pattern, waits while dom0 maps it, ends access,
/// and waits while dom0 tries again.
pub fn grant() -> Result {
    let table = xen_platform::grant::grant_table().map_err(|e| format!("grant table: {e}"))?;
    let mut page = xen_platform::mm::try_alloc_frames(1).map_err(|e| format!("frame: {e}"))?;
    let bytes = page.as_mut_slice();
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let fingerprint = fnv1a(bytes);
    let gref = table
        .grant_access(DomId(0), page.gfn(), true)
        .map_err(|e| format!("grant: {e}"))?;
    println!(
        "grant: gref {} fnv1a64 {fingerprint:016x} live {}",
        gref.0,
        table.live_grants()
    );
    write("data/rumpx-gref", &gref.0.to_string())?;
    wait_for_key("data/rumpx-mapped", "mapped")?;
    table
        .end_access(gref)
        .map_err(|e| format!("end access: {e}"))?;
    println!("grant: ended, live {}", table.live_grants());
    write("data/rumpx-ended", "1")?;
    wait_for_key("data/rumpx-retried", "retried")?;
    drop(page);
    Ok(())
}

/// Waits for the toolstack's shutdown request; the platform's lifecycle
/// thread acts on it and calls the goodbye hook set here.
pub fn lifecycle() -> Result {
    xen_platform::lifecycle::on_shutdown(|request| {
        println!("platform-check: goodbye ({request:?})")
    });
    println!("lifecycle: waiting for the toolstack");
    loop {
        sched::sleep_ns(1_000_000_000);
    }
}

/// FNV-1a, 64 bit (dom0's rumpx-grant-peek prints the same fingerprint).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
