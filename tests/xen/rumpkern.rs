//! The Rust rump kernel on Xen: the rumpkern guest (rumpcore-kernel over
//! rumpuser-xen, driven through rumpcore-client) mounts an ext2 disk that
//! dom0 made with `mke2fs -t ext2 -d` from files passed through the share,
//! served by blkback from a loop device; it prints the digests of the
//! files it reads, writes new files, fsyncs and unmounts, then answers
//! dom0's TCP echo on a static address until `xl shutdown`. Then dom0
//! checks the image: `e2fsck -fn` must be clean and `debugfs -R 'cat'` of
//! each new file must hold the guest's pattern (FNV-1a digests).

use super::*;
use check_data::{fnv1a, Pattern};
use rumpx::{Disk, Vif};
use std::path::Path;

/// Where dom0 keeps the disk image (a tmpfs).
const DIR: &str = "/run/rumpx-rumpkern";
/// The folder of the image's files, as dom0 sees it in the share.
const SRC: &str = "/share/rumpkern-files";
/// The dom0 hotplug script for the disk (tools/rumpx/dom0/block-rumpx).
const SCRIPT: &str = "block-rumpx";
/// The guest's static address on xenbr0.
const GUEST_IP: &str = "10.99.0.4";
/// Files the guest writes: name, pattern seed, bytes.
const NEW_FILES: &[(&str, u64, usize)] = &[("new1.bin", 11, 300_000), ("new2.txt", 12, 5_000)];

fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    Pattern::new(seed).fill(0, &mut v);
    v
}

/// Makes the image in dom0 (`mke2fs -t ext2 -d` over the files, passed
/// through the share) on a loop device; the device's name.
fn make_image_in_dom0(f: &Fixture, files: &[(&str, Vec<u8>)]) -> Result<String, String> {
    let src = f
        .host
        .host_path(Path::new(SRC))
        .ok_or("the share has no host path")?;
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for (name, data) in files {
        let p = src.join(name);
        std::fs::write(&p, data).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let made = f
        .host
        .dom0_exec(
            &format!(
                "set -e\n\
                 rm -rf {DIR}; mkdir -p {DIR}\n\
                 dd if=/dev/zero of={DIR}/disk.img bs=1M count=0 seek=16 2>/dev/null\n\
                 /sbin/mke2fs -q -F -t ext2 -d {SRC} {DIR}/disk.img\n\
                 echo \"made: $(/sbin/debugfs -R 'ls -l /' {DIR}/disk.img 2>/dev/null | grep -c .) entries in /\"\n\
                 echo \"loop $(losetup -f --show {DIR}/disk.img)\"\n"
            ),
            Duration::from_secs(120),
        )
        .map_err(|e| format!("making the disk in dom0: {e}"))?;
    let _ = std::fs::remove_dir_all(&src);
    if let Some(line) = made.stdout.lines().find(|l| l.starts_with("made: ")) {
        println!("    dom0 mke2fs -d: {line}");
    }
    made.stdout
        .lines()
        .find_map(|l| l.strip_prefix("loop "))
        .map(|d| d.trim().to_string())
        .ok_or_else(|| {
            format!(
                "dom0 could not make the disk (status {}): {}{}",
                made.status, made.stdout, made.stderr
            )
        })
}

pub(crate) fn rump_kernel_serves_tcp_and_ext2_on_xen(f: &Fixture) -> Verdict {
    let mut hello = Vec::new();
    for i in 0..200 {
        hello.extend_from_slice(
            format!("line {i}: ext2 made by mke2fs in dom0, read by a rump kernel\n").as_bytes(),
        );
    }
    let files = [("hello.txt", hello), ("data.bin", pattern(77, 200_000))];
    let dev = make_image_in_dom0(f, &files)?;
    let mut vif = Vif::on_bridge("xenbr0");
    vif.mac = Some("00:16:3e:52:00:04".into());
    let writes: Vec<String> = NEW_FILES
        .iter()
        .map(|(n, s, b)| format!("{n}:{s}:{b}"))
        .collect();
    let spec = GuestSpec::new("rumpkern", &f.rumpkern)
        .memory_mib(128)
        .disk(Disk::raw("xvda", &dev).with_script(SCRIPT))
        .vif(vif)
        .extra(format!(
            "ip={GUEST_IP}/24 read=hello.txt,data.bin write={}",
            writes.join(",")
        ))
        .timeout(Duration::from_secs(600));
    let probe = f.net_probe.display();
    let disk_probe = f.disk_probe.display();
    let cats: String = NEW_FILES
        .iter()
        .map(|(name, _, _)| {
            format!(
                "  /sbin/debugfs -R 'cat /{name}' {DIR}/disk.img > {DIR}/{name}.out 2>/dev/null \
                   && echo \"debugfs-cat {name}: $({disk_probe} digest {DIR}/{name}.out)\"\n"
            )
        })
        .collect();
    let script = format!(
        "{wait}set -o pipefail\n\
         finish() {{\n\
           timeout 60 xl shutdown -w rumpkern >/dev/null 2>&1 || xl destroy rumpkern >/dev/null 2>&1\n\
           for i in $(seq 600); do xl domid rumpkern >/dev/null 2>&1 || break; sleep 0.1; done\n\
           losetup -d {dev}\n\
           /sbin/e2fsck -fn {DIR}/disk.img > {DIR}/fsck.log 2>&1; echo \"e2fsck-exit $?\"\n\
           tail -n 1 {DIR}/fsck.log | sed 's/^/e2fsck: /'\n\
         {cats}\
           rm -rf {DIR}\n\
         }}\n\
         trap finish EXIT\n\
         {echo}",
        wait = wait_for_domain("rumpkern"),
        echo = echo_when_serving("rumpkern", GUEST_IP, &probe),
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    let out = &dom0.stdout;
    let shown = |v: Verdict| v.map_err(|why| format!("{why}\ndom0 said: {out}{}", dom0.stderr));
    print_guest_lines(&outcome);
    for (name, data) in &files {
        let want = format!(
            "rumpkern: read {name} bytes {} fnv1a64 {:016x}",
            data.len(),
            fnv1a(data)
        );
        shown(expect(
            outcome.find_line(&want).is_some(),
            &format!("the guest did not print {want:?}"),
            &outcome,
        ))?;
    }
    shown(expect(
        outcome.find_line("rumpkern: unmounted").is_some(),
        "the guest did not unmount",
        &outcome,
    ))?;
    let echo = out
        .lines()
        .rfind(|l| l.starts_with("tcp-echo:"))
        .unwrap_or("");
    println!("    dom0: {echo}");
    shown(expect(
        field(out, "tcp-echo:", "echoed") == Some("1048576")
            && field(out, "tcp-echo:", "digest") == field(out, "tcp-echo:", "echo-digest"),
        "dom0's 1 MiB TCP echo did not come back whole",
        &outcome,
    ))?;
    shown(expect_reason(&outcome, ShutdownReason::Poweroff))?;
    // The image as the guest left it, checked in dom0.
    for line in out
        .lines()
        .filter(|l| l.starts_with("e2fsck") || l.starts_with("debugfs-cat"))
    {
        println!("    dom0: {line}");
    }
    shown(expect(
        out.lines().any(|l| l.trim() == "e2fsck-exit 0"),
        "dom0's e2fsck -fn is not clean on the guest's image",
        &outcome,
    ))?;
    for (name, seed, bytes) in NEW_FILES {
        let want = format!(
            "debugfs-cat {name}: disk-digest: bytes {bytes} fnv1a64 {:016x}",
            fnv1a(&pattern(*seed, *bytes))
        );
        shown(expect(
            out.lines().any(|l| l.trim() == want),
            &format!("dom0's debugfs did not read the guest's {name} back ({want:?})"),
            &outcome,
        ))?;
    }
    Ok(())
}

/// The address dom0's udhcpd leases to the DHCP guest's MAC.
const DHCP_IP: &str = "10.99.0.5";
/// The DHCP guest's MAC.
const DHCP_MAC: &str = "00:16:3e:52:00:05";

/// The rumpkern guest without a disk takes its address from busybox
/// `udhcpd` in dom0 on xenbr0 (a static lease for its MAC) and answers
/// dom0's TCP echo there.
pub(crate) fn rump_kernel_answers_tcp_via_dhcp_on_xen(f: &Fixture) -> Verdict {
    let mut vif = Vif::on_bridge("xenbr0");
    vif.mac = Some(DHCP_MAC.into());
    let spec = GuestSpec::new("rumpkern-dhcp", &f.rumpkern)
        .memory_mib(128)
        .vif(vif)
        .extra("ip=dhcp disk=none")
        .timeout(Duration::from_secs(600));
    let probe = f.net_probe.display();
    let script = format!(
        "d=/run/rumpx-udhcpd; rm -rf $d; mkdir -p $d; touch $d/leases\n\
         printf 'start 10.99.0.100\\nend 10.99.0.110\\ninterface xenbr0\\nlease_file %s/leases\\npidfile %s/pid\\noption subnet 255.255.255.0\\noption lease 600\\nstatic_lease {DHCP_MAC} {DHCP_IP}\\n' $d $d > $d/conf\n\
         busybox udhcpd -f $d/conf > $d/log 2>&1 &\n\
         server=$!\n\
         finish() {{\n\
           timeout 60 xl shutdown -w rumpkern-dhcp >/dev/null 2>&1 || xl destroy rumpkern-dhcp >/dev/null 2>&1\n\
           kill $server; sed 's/^/udhcpd: /' $d/log | tail -n 5; rm -rf $d\n\
         }}\n\
         trap finish EXIT\n\
         {wait}set -o pipefail\n\
         {echo}",
        wait = wait_for_domain("rumpkern-dhcp"),
        echo = echo_when_serving("rumpkern-dhcp", DHCP_IP, &probe),
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    let out = &dom0.stdout;
    let shown = |v: Verdict| v.map_err(|why| format!("{why}\ndom0 said: {out}{}", dom0.stderr));
    print_guest_lines(&outcome);
    let echo = out
        .lines()
        .rfind(|l| l.starts_with("tcp-echo:"))
        .unwrap_or("");
    println!("    dom0: {echo}");
    shown(expect(
        outcome.find_line("rumpkern: dhcp lease applied").is_some(),
        "the guest got no DHCP lease",
        &outcome,
    ))?;
    shown(expect(
        field(out, "tcp-echo:", "echoed") == Some("1048576")
            && field(out, "tcp-echo:", "digest") == field(out, "tcp-echo:", "echo-digest"),
        &format!("dom0's 1 MiB TCP echo to the leased {DHCP_IP} did not come back whole"),
        &outcome,
    ))?;
    shown(expect_reason(&outcome, ShutdownReason::Poweroff))
}

/// The dom0 lines that wait (up to 5 min) for the rumpkern guest `name` to
/// say it serves (or failed), ping it at `ip` until it answers, and push a
/// 1 MiB TCP echo through it with `probe` (rumpx-net-probe).
fn echo_when_serving(name: &str, ip: &str, probe: &impl std::fmt::Display) -> String {
    format!(
        "log=/var/log/xen/console/guest-{name}.log\n\
         for i in $(seq 1200); do grep -q 'rumpkern: echo listening\\|FAILED' $log 2>/dev/null && break; sleep 0.25; done\n\
         grep -q 'rumpkern: echo listening' $log || {{ echo 'the guest is not serving'; exit 1; }}\n\
         for i in $(seq 300); do ping -c 1 -W 1 {ip} >/dev/null 2>&1 && break; sleep 0.2; done\n\
         echo \"first ping answered after $i tries\"\n\
         {probe} tcp-echo {ip}:7 1048576 || exit 1\n"
    )
}

/// Prints the guest's own `rumpkern:` console lines.
fn print_guest_lines(outcome: &GuestOutcome) {
    for line in outcome
        .console
        .iter()
        .filter(|l| l.text.starts_with("rumpkern: "))
    {
        println!("    {}", line.text);
    }
}
