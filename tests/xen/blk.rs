//! Block cases: the blkcheck guest (blkfront) on disks Linux blkback serves
//! from image files in dom0: it writes a seeded pattern over a 64 MiB disk
//! that dom0 then checks byte for byte, verifies the digest of a disk dom0
//! filled with random bytes, sees a write to a read-only disk refused, and
//! sees a disk go away with `xl block-detach`; a disk with 4 KiB logical
//! sectors (a loop device made so) gets a pattern too.

use super::*;
use rumpx::Disk;

/// Where dom0 keeps the images (a tmpfs).
const DIR: &str = "/run/rumpx-blk";
/// The pattern's seed.
const SEED: u64 = 20261127;
/// The dom0 hotplug script for the disks (tools/rumpx/dom0/block-rumpx).
const SCRIPT: &str = "block-rumpx";
/// The seed of the pattern on the disk with 4 KiB sectors.
const SEED_4K: u64 = 4096;

/// The words after `key` on the guest's last console line that starts
/// with `prefix` and contains `key`.
fn console_field(outcome: &GuestOutcome, prefix: &str, key: &str) -> Option<String> {
    let line = outcome
        .console
        .iter()
        .rev()
        .find(|l| l.text.starts_with(prefix) && l.text.contains(key))?;
    let words: Vec<&str> = line.text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == key)
        .map(|w| w[1].to_string())
}

pub(crate) fn guest_writes_reads_and_loses_disks_through_blkfront(f: &Fixture) -> Verdict {
    let probe = f.disk_probe.display();
    // The images go behind loop devices made here, set up for blkback by
    // the test host's own hotplug script: Debian's `block` script, with
    // its sharing checks under one lock, ran past libxl's time limit with
    // several disks on the emulated dom0 (docs/test-host.md).
    let made = f
        .host
        .dom0_exec(
            &format!(
                "set -e\n\
                 rm -rf {DIR}; mkdir -p {DIR}; cd {DIR}\n\
                 truncate -s 64M write.img\n\
                 head -c 16777216 /dev/urandom > read.img\n\
                 head -c 1048576 /dev/urandom > ro.img\n\
                 truncate -s 8M 4k.img\n\
                 {probe} digest read.img\n\
                 for img in write read ro; do echo \"loop $img $(losetup -f --show $img.img)\"; done\n\
                 echo \"loop 4k $(losetup -f --show --sector-size 4096 4k.img)\"\n"
            ),
            Duration::from_secs(120),
        )
        .map_err(|e| format!("making the images: {e}"))?;
    let said = || {
        format!(
            "dom0 could not make the images: {}{}",
            made.stdout, made.stderr
        )
    };
    let digest = made
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("disk-digest: bytes 16777216 fnv1a64 "))
        .ok_or_else(said)?
        .trim()
        .to_string();
    let loop_of = |img: &str| {
        made.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("loop {img} ")))
            .map(|dev| dev.trim().to_string())
            .ok_or_else(said)
    };
    let (write_dev, read_dev, ro_dev) = (loop_of("write")?, loop_of("read")?, loop_of("ro")?);
    let dev_4k = loop_of("4k")?;
    let spec = GuestSpec::new("blkcheck", &f.blkcheck)
        .memory_mib(64)
        .disk(Disk::raw("xvda", &write_dev).with_script(SCRIPT))
        .disk(Disk::raw("xvdb", &read_dev).with_script(SCRIPT))
        .disk(Disk::raw("xvdc", &ro_dev).with_script(SCRIPT).read_only())
        .disk(Disk::raw("xvdd", &dev_4k).with_script(SCRIPT))
        .extra(format!(
            "write=xvda:{SEED},xvdd:{SEED_4K} verify=xvdb:{digest} readonly=xvdc detach=xvdb"
        ))
        .timeout(Duration::from_secs(600));
    let script = format!(
        "{wait}log=/var/log/xen/console/guest-blkcheck.log\n\
         for i in $(seq 1200); do grep -q 'xvdb waiting to be detached' $log 2>/dev/null && break; xl domid blkcheck >/dev/null 2>&1 || break; sleep 0.5; done\n\
         xl block-detach blkcheck xvdb && echo detached\n\
         for i in $(seq 1200); do xl domid blkcheck >/dev/null 2>&1 || break; sleep 0.5; done\n\
         {probe} verify-pattern {write_dev} {SEED}\n\
         {probe} verify-pattern {dev_4k} {SEED_4K}\n\
         for dev in {write_dev} {read_dev} {ro_dev} {dev_4k}; do losetup -d $dev; done\n\
         rm -rf {DIR}\n",
        wait = wait_for_domain("blkcheck"),
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    let out = &dom0.stdout;
    let shown = |v: Verdict| v.map_err(|why| format!("{why}\ndom0 said: {out}{}", dom0.stderr));
    shown(expect(
        outcome.find_line("blkcheck: done, 0 failed").is_some(),
        "a blkcheck task failed",
        &outcome,
    ))?;
    shown(expect(
        out.contains("disk-pattern: bytes 67108864 seed 20261127 mismatch none"),
        "dom0 did not find the guest's pattern on the whole 64 MiB disk",
        &outcome,
    ))?;
    shown(expect(
        outcome
            .find_line("blkcheck: xvdd vbd")
            .is_some_and(|l| l.text.contains(" sector-size 4096 "))
            && out.contains("disk-pattern: bytes 8388608 seed 4096 mismatch none"),
        "the disk with 4 KiB sectors was not seen as such, or its pattern is not on it",
        &outcome,
    ))?;
    shown(expect(
        outcome
            .find_line(&format!("fnv1a64 {digest} matches"))
            .is_some(),
        "the guest did not verify the digest of dom0's image",
        &outcome,
    ))?;
    shown(expect(
        outcome.find_line("the write was refused").is_some(),
        "the guest did not see its write to the read-only disk refused",
        &outcome,
    ))?;
    shown(expect(
        outcome.find_line("xvdb detached").is_some()
            && outcome.find_line("xvdb read after detach failed").is_some(),
        "the guest did not log the detach and a failing read after it",
        &outcome,
    ))?;
    // No grant outlives its use: the detached disk's come back once blkback
    // lets go, and the others' when the guest closes them.
    shown(expect(
        outcome
            .find_line("xvdb grants after the detach:")
            .is_some_and(|l| l.text.ends_with("then 0 once the backend let go"))
            && ["xvda", "xvdb", "xvdc", "xvdd"].iter().all(|d| {
                outcome
                    .find_line(&format!("blkcheck: {d} closed, grants held 0"))
                    .is_some()
            }),
        "the guest's grant count did not return to zero on every disk",
        &outcome,
    ))?;
    // Linux blkback offers indirect descriptors and persistent grants; the
    // driver must have used both on the big disk.
    for (offered, used) in [
        ("indirect", "indirect-requests"),
        ("persistent", "persistent-hits"),
    ] {
        let offer = console_field(&outcome, "blkcheck: xvda vbd", offered);
        let count: u64 = console_field(&outcome, "blkcheck: xvda counters", used)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        println!("figure: xvda backend offered {offered}: {offer:?}; {used} {count}");
        shown(expect(
            offer.as_deref().is_some_and(|o| o != "no") && count > 0,
            &format!("blkback offered {offered} ({offer:?}) but the guest's {used} is {count}"),
            &outcome,
        ))?;
    }
    for line in outcome.console.iter().filter(|l| l.text.contains("MB/s)")) {
        println!("figure: {}", line.text);
    }
    shown(expect_reason(&outcome, ShutdownReason::Poweroff))
}
