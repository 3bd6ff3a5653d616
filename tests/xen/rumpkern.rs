//! The Rust rump kernel on Xen: the rumpkern guest (rumpcore-kernel over
//! rumpuser-xen) mounts an ext2 disk made with `mke2fs` and `debugfs` (on
//! this host: dom0's image has no e2fsprogs), passed to dom0 through the
//! share and served by blkback from a loop device; it prints the digests of
//! the files it reads, writes new files, fsyncs and unmounts, then answers
//! dom0's TCP echo on a static address until `xl shutdown`. The image
//! comes back through the share: `e2fsck -fn` must be clean and the new
//! files must hold the guest's pattern.

use super::*;
use check_data::{fnv1a, Pattern};
use rumpx::{Disk, Vif};
use std::path::Path;
use std::process::Command;

/// Where dom0 keeps the disk image (a tmpfs).
const DIR: &str = "/run/rumpx-rumpkern";
/// The dom0 hotplug script for the disk (tools/rumpx/dom0/block-rumpx).
const SCRIPT: &str = "block-rumpx";
/// The guest's static address on xenbr0.
const GUEST_IP: &str = "10.99.0.4";
/// Files the guest writes: name, pattern seed, bytes.
const NEW_FILES: &[(&str, u64, usize)] = &[("new1.bin", 11, 300_000), ("new2.txt", 12, 5_000)];

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// Runs a host command, its output on failure.
fn host_run(cmd: &mut Command) -> Result<std::process::Output, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    Pattern::new(seed).fill(0, &mut v);
    v
}

/// Makes the image on this host: the files (name, content) in its root.
fn make_image(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<PathBuf, String> {
    let (Some(mkfs), Some(debugfs)) = (tool("mke2fs"), tool("debugfs")) else {
        return Err("e2fsprogs (mke2fs, debugfs) are not installed on this host".into());
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let img = dir.join("rumpkern-ext2.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(16 << 20))
        .map_err(|e| format!("{}: {e}", img.display()))?;
    host_run(
        Command::new(mkfs)
            .args(["-q", "-F", "-t", "ext2"])
            .arg(&img)
            .env("MKE2FS_CONFIG", "/etc/mke2fs.conf"),
    )?;
    for (name, data) in files {
        let src = dir.join(name);
        std::fs::write(&src, data).map_err(|e| format!("{}: {e}", src.display()))?;
        host_run(
            Command::new(&debugfs)
                .arg("-w")
                .arg("-R")
                .arg(format!("write {} {name}", src.display()))
                .arg(&img),
        )?;
    }
    Ok(img)
}

pub(crate) fn rump_kernel_serves_tcp_and_ext2_on_xen(f: &Fixture) -> Verdict {
    let dir = f.scratch.join("rumpkern");
    let mut hello = Vec::new();
    for i in 0..200 {
        hello.extend_from_slice(
            format!("line {i}: ext2 made by mke2fs, read by a rump kernel\n").as_bytes(),
        );
    }
    let files = [("hello.txt", hello), ("data.bin", pattern(77, 200_000))];
    let img = make_image(&dir, &files)?;
    let shared = f
        .host
        .install_tool(&img)
        .map_err(|e| format!("passing the image to dom0: {e}"))?;
    let after = Path::new("/share/tools/rumpkern-after.img");
    let made = f
        .host
        .dom0_exec(
            &format!(
                "set -e\n\
                 rm -rf {DIR}; mkdir -p {DIR}\n\
                 cp {img} {DIR}/disk.img\n\
                 echo \"loop $(losetup -f --show {DIR}/disk.img)\"\n",
                img = shared.display()
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
    let script = format!(
        "{wait}set -o pipefail\n\
         finish() {{\n\
           timeout 60 xl shutdown -w rumpkern >/dev/null 2>&1 || xl destroy rumpkern >/dev/null 2>&1\n\
           for i in $(seq 600); do xl domid rumpkern >/dev/null 2>&1 || break; sleep 0.1; done\n\
           losetup -d {dev} && cp {DIR}/disk.img {after} && echo 'image copied back'\n\
           rm -rf {DIR}\n\
         }}\n\
         trap finish EXIT\n\
         log=/var/log/xen/console/guest-rumpkern.log\n\
         for i in $(seq 1200); do grep -q 'rumpkern: echo listening\\|FAILED' $log 2>/dev/null && break; sleep 0.25; done\n\
         grep -q 'rumpkern: echo listening' $log || {{ echo 'the guest is not serving'; exit 1; }}\n\
         for i in $(seq 300); do ping -c 1 -W 1 {GUEST_IP} >/dev/null 2>&1 && break; sleep 0.2; done\n\
         echo \"first ping answered after $i tries\"\n\
         {probe} tcp-echo {GUEST_IP}:7 1048576 || exit 1\n",
        wait = wait_for_domain("rumpkern"),
        after = after.display(),
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    let out = &dom0.stdout;
    let shown = |v: Verdict| v.map_err(|why| format!("{why}\ndom0 said: {out}{}", dom0.stderr));
    for line in outcome
        .console
        .iter()
        .filter(|l| l.text.starts_with("rumpkern: "))
    {
        println!("    {}", line.text);
    }
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
    shown(expect(
        out.contains("image copied back"),
        "dom0 did not copy the image back",
        &outcome,
    ))?;
    shown(expect_reason(&outcome, ShutdownReason::Poweroff))?;
    // The image as the guest left it: e2fsck clean, the new files' bytes.
    let back = f
        .host
        .host_path(after)
        .ok_or("the share has no host path")?;
    let fsck = tool("e2fsck").ok_or("no e2fsck on this host")?;
    let checked = Command::new(fsck)
        .arg("-fn")
        .arg(&back)
        .output()
        .map_err(|e| format!("e2fsck: {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    println!(
        "    e2fsck -fn: exit {:?}, {}",
        checked.status.code(),
        said.lines().last().unwrap_or("")
    );
    if !checked.status.success() {
        return Err(format!(
            "e2fsck -fn is not clean on the guest's image:\n{said}"
        ));
    }
    let debugfs = tool("debugfs").ok_or("no debugfs on this host")?;
    for (name, seed, bytes) in NEW_FILES {
        let dumped = dir.join(format!("{name}.dumped"));
        host_run(
            Command::new(&debugfs)
                .arg("-R")
                .arg(format!("dump {name} {}", dumped.display()))
                .arg(&back),
        )?;
        let got = std::fs::read(&dumped).map_err(|e| format!("{}: {e}", dumped.display()))?;
        if got != pattern(*seed, *bytes) {
            return Err(format!(
                "{name} on the image: {} bytes, not the guest's {bytes}-byte pattern (seed {seed})",
                got.len()
            ));
        }
        println!("    {name}: {bytes} bytes on the image match the guest's pattern");
    }
    let _ = std::fs::remove_file(&back);
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
         log=/var/log/xen/console/guest-rumpkern-dhcp.log\n\
         for i in $(seq 1200); do grep -q 'rumpkern: echo listening\\|FAILED' $log 2>/dev/null && break; sleep 0.25; done\n\
         grep -q 'rumpkern: echo listening' $log || {{ echo 'the guest is not serving'; exit 1; }}\n\
         for i in $(seq 100); do ping -c 1 -W 1 {DHCP_IP} >/dev/null 2>&1 && break; sleep 0.2; done\n\
         {probe} tcp-echo {DHCP_IP}:7 1048576 || exit 1\n",
        wait = wait_for_domain("rumpkern-dhcp"),
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    let out = &dom0.stdout;
    let shown = |v: Verdict| v.map_err(|why| format!("{why}\ndom0 said: {out}{}", dom0.stderr));
    for line in outcome
        .console
        .iter()
        .filter(|l| l.text.starts_with("rumpkern: "))
    {
        println!("    {}", line.text);
    }
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
