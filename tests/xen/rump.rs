//! The rump kernel hypercalls on Xen: the rumpcheck guest runs the
//! rumpuser conformance suite (the one the hosted implementation passes in
//! `cargo test`) against rumpuser-xen, with a 16 MiB disk dom0 serves from
//! a loop device (bio, iov, syncfd through blkfront) and a vif on xenbr0
//! (virt through netfront), and measures `rumpuser_curlwp` and an
//! uncontended mutex. dom0 turns hairpin mode on for the guest's bridge
//! port, so the bridge floods the suite's broadcast frames back to the
//! guest too: the echo case sees them delivered through
//! `rump_virtif_virt_deliverpkt`.

use super::*;
use rumpx::{Disk, Vif};

/// Where dom0 keeps the disk image (a tmpfs).
const DIR: &str = "/run/rumpx-rump";
/// The disk's size.
const DISK_BYTES: u64 = 16 << 20;
/// The dom0 hotplug script for the disk (tools/rumpx/dom0/block-rumpx).
const SCRIPT: &str = "block-rumpx";

/// Cases that must have run and passed: the ones that need the disk and
/// the vif prove the guest had both (the suite skips them otherwise).
const MUST_PASS: &[&str] = &[
    "init_version",
    "thread_join",
    "mutex_kmutex_contention",
    "cv_producer_consumer",
    "clock_sleep_absmono",
    "getparam_hostname",
    "file_getfileinfo",
    "bio_write_read",
    "bio_many_in_flight",
    "bio_max_transfer",
    "iov_write_read",
    "syncfd",
    "virt_create",
    "virt_send",
    "virt_echo",
    "virt_destroy",
];

pub(crate) fn rumpuser_conformance_suite_passes_on_xen(f: &Fixture) -> Verdict {
    let made = f
        .host
        .dom0_exec(
            &format!(
                "set -e\n\
                 rm -rf {DIR}; mkdir -p {DIR}\n\
                 truncate -s {DISK_BYTES} {DIR}/disk.img\n\
                 echo \"loop $(losetup -f --show {DIR}/disk.img)\"\n"
            ),
            Duration::from_secs(120),
        )
        .map_err(|e| format!("making the disk: {e}"))?;
    let dev = made
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("loop "))
        .map(|d| d.trim().to_string())
        .ok_or_else(|| {
            format!(
                "dom0 could not make the disk: {}{}",
                made.stdout, made.stderr
            )
        })?;
    let mut vif = Vif::on_bridge("xenbr0");
    vif.mac = Some("00:16:3e:52:00:07".into());
    let spec = GuestSpec::new("rumpcheck", &f.rumpcheck)
        .memory_mib(128)
        .disk(Disk::raw("xvda", &dev).with_script(SCRIPT))
        .vif(vif)
        .extra(format!("disk_bytes={DISK_BYTES} echo=1"))
        .timeout(Duration::from_secs(600));
    // The virt cases run last, many seconds after the vif's port exists.
    let script = format!(
        "{wait}port=/sys/class/net/xenbr0/brif/vif$dom.0/hairpin_mode\n\
         for i in $(seq 300); do [ -e $port ] && break; sleep 0.1; done\n\
         echo 1 > $port && echo \"hairpin $(cat $port)\"\n",
        wait = wait_for_domain("rumpcheck"),
    );
    let outcome = run_with_dom0(f, &spec, &script);
    let cleanup = f.host.dom0_exec(
        &format!("losetup -d {dev}; rm -rf {DIR}"),
        Duration::from_secs(60),
    );
    let (outcome, dom0) = outcome?;
    expect(
        dom0.stdout.contains("hairpin 1"),
        &format!(
            "dom0 could not turn hairpin mode on for the guest's port: {}{}",
            dom0.stdout, dom0.stderr
        ),
        &outcome,
    )?;
    for line in outcome
        .console
        .iter()
        .filter(|l| l.text.starts_with("rumpcheck: "))
    {
        println!("    {}", line.text);
    }
    let failed: Vec<&str> = outcome
        .console
        .iter()
        .filter(|l| l.text.starts_with("rumpcheck: ") && l.text.contains(" FAILED"))
        .map(|l| l.text.as_str())
        .collect();
    expect(
        failed.is_empty(),
        &format!("conformance cases failed on Xen:\n{}", failed.join("\n")),
        &outcome,
    )?;
    let missing: Vec<&&str> = MUST_PASS
        .iter()
        .filter(|c| outcome.find_line(&format!("rumpcheck: {c} ok")).is_none())
        .collect();
    expect(
        missing.is_empty(),
        &format!("cases that did not report ok: {missing:?}"),
        &outcome,
    )?;
    let summary = outcome.console.iter().find_map(|l| {
        let rest = l.text.strip_prefix("rumpcheck: ")?;
        let (passed, failed) = rest.split_once(" passed, ")?;
        Some((passed.parse::<u32>().ok()?, failed.to_string()))
    });
    expect(
        summary
            .as_ref()
            .is_some_and(|(p, failed)| *p >= 40 && failed == "0 failed"),
        &format!("no \"N passed, 0 failed\" line with N >= 40 (saw {summary:?})"),
        &outcome,
    )?;
    expect(
        outcome
            .find_line("rumpcheck: dprintf 42 -7 ok 0xff 18446744073709551615")
            .is_some(),
        "rumpuser_dprintf did not format its arguments",
        &outcome,
    )?;
    match outcome.find_line("rumpcheck: bench curlwp") {
        Some(l) => println!("figure: {}", l.text.trim_start_matches("rumpcheck: ")),
        None => {
            return expect(false, "the guest printed no benchmark line", &outcome);
        }
    }
    if let Some(l) = outcome.find_line("rumpcheck: bench in TSC ticks") {
        println!("figure: {}", l.text.trim_start_matches("rumpcheck: "));
    }
    if let Some(l) = outcome.find_line("rumpuser-xen: host name") {
        println!("    {}", l.text);
    }
    expect_reason(&outcome, ShutdownReason::Poweroff)?;
    cleanup
        .map(|_| ())
        .map_err(|e| format!("dom0 could not remove the loop device: {e}"))
}
