//! `rumpx bench http`: the httpd guest (the rump kernel's TCP/IP and ext2
//! behind a small HTTP server) against a Linux DomU serving the same files
//! with busybox `httpd`, on one embedded test host in one run. Each guest
//! has the same memory, a vif on xenbr0 and its own copy of one ext2 image
//! (in dom0's tmpfs, through Linux blkback). dom0 measures with
//! `rumpx-http-probe`: seconds from `xl create` to the first 200, requests
//! per second on a 4 KiB file, MB/s of one 8 MiB GET (checked byte-exact
//! by its digest), and, booting again at smaller and smaller `memory=`,
//! the smallest size at which the guest still serves the 8 MiB file
//! byte-exact. The guests run one at a time, so neither loads the other.

use crate::background_guest::{stop_guests, BackgroundGuest};
use crate::bench_http_report::{
    parse_get_line, parse_load_line, parse_wait_line, GetRun, HttpBenchReport, HttpGuestFigures,
    ImageSize, LoadRun, MemoryStep,
};
use crate::dom0_image::KERNEL_METAPACKAGE;
use crate::error::{io_at, Error, Result};
use crate::ext2_image;
use crate::fingerprint::Fnv1a;
use crate::guest_build;
use crate::job::{self, GuestSpec};
use crate::linux_domu::{self, LinuxDomuFiles};
use crate::packages::{last_lines, PackageCache};
use crate::test_host::{unique_dir, HostOptions, TestHost};
use crate::xl_config::{Disk, GuestType, Vif};
use check_data::Pattern;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

/// dom0's bridge, where the guests get their vif (dom0 is 10.99.0.1/24).
const BRIDGE: &str = "xenbr0";
/// The rumpx guest measured.
const RUMPX_GUEST: &str = "httpd";
/// The guests' virtual disk.
const VDEV: &str = "xvda";
/// Where dom0 keeps the disk images (a tmpfs) and the probes' pid files.
const DIR: &str = "/run/rumpx-bench-http";
/// The small file of the load run, its size and the seed of its bytes.
const SMALL: (&str, u64, u64) = ("bench-4k.bin", 4096, 0x4b);
/// The big file, its size and the seed of its bytes.
const BIG: (&str, u64, u64) = ("bench-8m.bin", 8 << 20, 0x8d);
/// The site's front page (so that `/` answers in both guests).
const INDEX_HTML: &str = "<!doctype html>\n<title>rumpx bench http</title>\n\
<p>The files <a href=\"bench-4k.bin\">bench-4k.bin</a> and \
<a href=\"bench-8m.bin\">bench-8m.bin</a> hold seeded bytes (check-data's pattern).</p>\n";

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct HttpBenchOptions {
    /// Memory of each guest in the timed boot, MiB (the same for both).
    pub memory_mib: u32,
    /// Connections of the 4 KiB load run.
    pub conns: u32,
    /// Requests of the 4 KiB load run, in all.
    pub requests: u32,
    /// `memory=` sizes tried for the rumpx guest, largest first.
    pub rumpx_memory_steps: Vec<u32>,
    /// `memory=` sizes tried for the Linux DomU, largest first.
    pub linux_memory_steps: Vec<u32>,
    /// How xl boots the Linux DomU.
    pub linux_type: GuestType,
    /// How long a guest may take from `xl create` to its first 200.
    pub ready_timeout: Duration,
    /// The test host.
    pub host: HostOptions,
}

impl Default for HttpBenchOptions {
    /// 128 MiB guests (Debian's kernel needs about 80 MiB before it runs),
    /// 20 connections x 2000 requests, memory steps 64..8 (rumpx) and
    /// 128..48 (Linux), Linux as PVH, 240 s to the first 200.
    fn default() -> Self {
        HttpBenchOptions {
            memory_mib: 128,
            conns: 20,
            requests: 2000,
            rumpx_memory_steps: vec![64, 32, 24, 16, 12, 8],
            linux_memory_steps: vec![128, 96, 80, 64, 48],
            linux_type: GuestType::Pvh,
            ready_timeout: Duration::from_secs(240),
            host: HostOptions::default(),
        }
    }
}

impl HttpBenchOptions {
    fn check(&self) -> Result<()> {
        let invalid = |what, detail: &str| {
            Err(Error::Invalid {
                what,
                detail: detail.into(),
            })
        };
        if self.conns == 0 || self.conns > 1000 {
            return invalid("connections", "1 to 1000");
        }
        if self.requests == 0 {
            return invalid("requests", "at least one is needed");
        }
        for steps in [&self.rumpx_memory_steps, &self.linux_memory_steps] {
            if steps.is_empty() || steps.contains(&0) || steps.windows(2).any(|w| w[1] >= w[0]) {
                return invalid(
                    "memory steps",
                    "a list of sizes in MiB, largest first, none 0",
                );
            }
        }
        if self.memory_mib == 0 {
            return invalid("memory", "at least 1 MiB");
        }
        Ok(())
    }

    /// The longest the load run may take: a minute, plus 5 requests/s.
    fn load_limit(&self) -> Duration {
        Duration::from_secs(60 + u64::from(self.requests) / 5)
    }

    /// How long one guest may live: its first 200, the measuring, a margin;
    /// dom0 destroys it after that even if this program is gone.
    fn guest_lifetime(&self) -> Duration {
        self.ready_timeout + self.load_limit() + BIG_GET_LIMIT + Duration::from_secs(300)
    }
}

/// The longest the 8 MiB GET may take (at about 15 KB/s).
const BIG_GET_LIMIT: Duration = Duration::from_secs(600);

/// The files the guests serve, with the digests dom0 must see.
#[derive(Debug, Clone, Copy)]
struct Site {
    small_digest: u64,
    big_digest: u64,
}

/// Writes the site into `dir`: `index.html` and the two seeded files.
fn write_site(dir: &Path) -> Result<Site> {
    fs::create_dir_all(dir).map_err(io_at(dir))?;
    let index = dir.join("index.html");
    fs::write(&index, INDEX_HTML).map_err(io_at(&index))?;
    let mut digests = [0u64; 2];
    for ((name, bytes, seed), digest) in [SMALL, BIG].into_iter().zip(&mut digests) {
        let mut data = vec![0u8; bytes as usize];
        Pattern::new(seed).fill(0, &mut data);
        let mut h = Fnv1a::new();
        h.update(&data);
        *digest = h.value();
        let path = dir.join(name);
        fs::write(&path, &data).map_err(io_at(&path))?;
    }
    Ok(Site {
        small_digest: digests[0],
        big_digest: digests[1],
    })
}

/// A guest's place in the benchmark.
#[derive(Debug, Clone, Copy)]
struct Role {
    /// Its address on xenbr0 (its own, so dom0's ARP cache never holds
    /// the other guest's MAC for it).
    ip: &'static str,
    /// Its MAC.
    mac: &'static str,
    /// Its disk image in dom0.
    image: &'static str,
}

/// The rumpx guest's role, then the Linux DomU's.
const ROLES: [Role; 2] = [
    Role {
        ip: "10.99.0.30",
        mac: "00:16:3e:52:00:30",
        image: "/run/rumpx-bench-http/rumpx.img",
    },
    Role {
        ip: "10.99.0.31",
        mac: "00:16:3e:52:00:31",
        image: "/run/rumpx-bench-http/linux.img",
    },
];

/// One of the two guests: how it is started (None: it could not be
/// built) and what it gave.
struct Subject {
    role: Role,
    base: Option<GuestSpec>,
    steps: Vec<u32>,
    figures: HttpGuestFigures,
}

impl Subject {
    /// Its spec with `memory=` `mib`, named `<base>-<what>`.
    fn spec(&self, what: &str, mib: u32) -> Option<GuestSpec> {
        let base = self.base.as_ref()?;
        let mut spec = base.clone().memory_mib(mib);
        spec.name = format!("{}-{what}", base.name);
        Some(spec)
    }

    fn url(&self, file: &str) -> String {
        format!("http://{}/{file}", self.role.ip)
    }
}

/// The rumpx guest's image, or why there is none ("guest httpd not found").
fn build_rumpx_guest() -> std::result::Result<PathBuf, String> {
    let manifest = guest_build::workspace_root()
        .join("guests")
        .join(RUMPX_GUEST)
        .join("Cargo.toml");
    if !manifest.exists() {
        return Err(format!(
            "guest {RUMPX_GUEST} not found (there is no {})",
            manifest.display()
        ));
    }
    guest_build::build_guest(RUMPX_GUEST)
        .map_err(|e| format!("guest {RUMPX_GUEST} did not build: {e}"))
}

/// Builds what is needed, boots the test host, measures both guests and
/// shuts everything down. Guest failures are in the report; an error means
/// nothing could be measured.
pub fn run(options: &HttpBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<HttpBenchReport> {
    options.check()?;
    progress(&format!("building guest {RUMPX_GUEST}"));
    let httpd = build_rumpx_guest();
    if let Err(why) = &httpd {
        progress(why);
    }
    progress("building rumpx-http-probe for dom0");
    let probe_tool = guest_build::build_dom0_tool("rumpx-http-probe")?;
    progress("building a static rumpx-disk-probe for the Linux DomU");
    let disk_probe = guest_build::build_static_tool("rumpx-disk-probe")?;
    let cache = PackageCache::open(&options.host.cache_dir)?;
    let linux = linux_domu::prepare(&cache, &disk_probe, progress)?;

    let scratch = unique_dir("rumpx-bench-http")?;
    let made = make_site_image(&scratch);
    let result = made.and_then(|(site, image)| {
        let mut subjects = subjects(options, httpd.as_ref().ok(), &linux);
        if let Err(why) = &httpd {
            subjects[0].figures.failures.push(why.clone());
        }
        if let Ok(path) = &httpd {
            subjects[0].figures.image = Some(rumpx_image_size(path)?);
        }
        subjects[1].figures.image = Some(linux_image_size(&cache, &linux)?);
        for subject in &subjects {
            if let Some(spec) = subject.spec("timed", options.memory_mib) {
                job::check_kernel(&spec)?;
            }
        }
        measure_on_host(options, &mut subjects, &probe_tool, &image, site, progress)?;
        let [rumpx, linux] = subjects.map(|s| s.figures);
        Ok(HttpBenchReport {
            memory_mib: options.memory_mib,
            conns: options.conns,
            requests: options.requests,
            small_bytes: SMALL.1,
            big_bytes: BIG.1,
            rumpx,
            linux,
        })
    });
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// Writes the site and makes its ext2 image in `scratch`.
fn make_site_image(scratch: &Path) -> Result<(Site, PathBuf)> {
    let site_dir = scratch.join("site");
    let site = write_site(&site_dir)?;
    let image = scratch.join("site.img");
    ext2_image::make_image(&site_dir, &image, None)?;
    Ok((site, image))
}

/// Boots the test host, measures the guests (Linux first, then rumpx) and
/// shuts the host down.
fn measure_on_host(
    options: &HttpBenchOptions,
    subjects: &mut [Subject; 2],
    probe_tool: &Path,
    image: &Path,
    site: Site,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let host = TestHost::boot(&options.host, progress)?;
    progress(&format!(
        "test host ready in {:.1} s",
        host.boot_time.as_secs_f64()
    ));
    let prepared = host.install_tool(probe_tool).and_then(|probe| {
        let image = host.install_tool(image)?;
        copy_images(&host, &image)?;
        Ok(probe)
    });
    let measured = prepared.map(|probe| {
        for subject in subjects.iter_mut().rev() {
            if subject.base.is_some() {
                measure_subject(&host, options, subject, &probe, site, progress);
            }
        }
        if let Err(e) = host.dom0_exec(&format!("rm -rf {DIR}\n"), Duration::from_secs(60)) {
            progress(&format!("removing the images: {e}"));
        }
    });
    if let Err(e) = host.shutdown() {
        progress(&e.to_string());
    }
    measured
}

/// The dom0 script giving each guest its own copy of the image at
/// `image`, and making dom0 ask for a missing neighbour every 100 ms
/// rather than every second (the first-200 figure would otherwise be
/// rounded up to dom0's next ARP request).
fn images_script(image: &Path) -> String {
    format!(
        "set -e\nrm -rf {DIR}\nmkdir -p {DIR}\ncp {} {}\ncp {} {}\n\
         echo 100 > /proc/sys/net/ipv4/neigh/{BRIDGE}/retrans_time_ms || \
         echo 'dom0 keeps its default ARP retry time'\nls -l {DIR}\n",
        image.display(),
        ROLES[0].image,
        image.display(),
        ROLES[1].image
    )
}

fn copy_images(host: &TestHost, image: &Path) -> Result<()> {
    let out = host.dom0_exec(&images_script(image), Duration::from_secs(120))?;
    if out.status != 0 {
        return Err(Error::TestHost(format!(
            "dom0 could not copy the disk images: {}",
            last_lines(&format!("{}\n{}", out.stdout, out.stderr), 6)
        )));
    }
    Ok(())
}

/// The httpd ELF's size.
fn rumpx_image_size(elf: &Path) -> Result<ImageSize> {
    let bytes = fs::metadata(elf).map_err(io_at(elf))?.len();
    Ok(ImageSize {
        parts: vec![(format!("{RUMPX_GUEST} ELF"), bytes)],
    })
}

/// The Linux DomU's boot files: Debian's bzImage (the size of
/// `boot/vmlinuz-*` in the kernel package; xl is given the ELF inside it)
/// and the initramfs.
fn linux_image_size(cache: &PackageCache, linux: &LinuxDomuFiles) -> Result<ImageSize> {
    let package = cache.resolve_metapackage(KERNEL_METAPACKAGE, "linux-image-")?;
    let debs = cache.fetch(&[&package])?;
    let deb = debs.first().ok_or_else(|| Error::Package {
        package: package.clone(),
        detail: "fetched, but no file".into(),
    })?;
    let listing = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .output()
        .map_err(|e| Error::Command {
            command: "dpkg-deb -c".into(),
            detail: e.to_string(),
        })?;
    let bzimage =
        bzimage_size(&String::from_utf8_lossy(&listing.stdout)).ok_or_else(|| Error::Package {
            package: package.clone(),
            detail: "no boot/vmlinuz-* in its file list".into(),
        })?;
    let ramdisk = fs::metadata(&linux.ramdisk)
        .map_err(io_at(&linux.ramdisk))?
        .len();
    Ok(ImageSize {
        parts: vec![
            ("bzImage".into(), bzimage),
            (
                "initramfs (shared by the bench Linux DomUs)".into(),
                ramdisk,
            ),
        ],
    })
}

/// The size of `./boot/vmlinuz-*` in a `dpkg-deb -c` (tar -tv) listing.
fn bzimage_size(listing: &str) -> Option<u64> {
    listing.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let name = words.last()?;
        if !name.trim_start_matches("./").starts_with("boot/vmlinuz-") {
            return None;
        }
        words.get(2)?.parse().ok()
    })
}

/// The two guests: httpd with `ip=10.99.0.30/24 port=80 disk=xvda` and the
/// Linux DomU with busybox httpd at 10.99.0.31, each with one vCPU, a vif
/// on xenbr0 and its copy of the image as xvda.
fn subjects(
    options: &HttpBenchOptions,
    httpd: Option<&PathBuf>,
    linux: &LinuxDomuFiles,
) -> [Subject; 2] {
    let vif = |role: Role| Vif {
        bridge: BRIDGE.into(),
        mac: Some(role.mac.into()),
        ip: None,
    };
    let lifetime = options.guest_lifetime();
    let [r, l] = ROLES;
    let rumpx = httpd.map(|image| {
        GuestSpec::new("bench-http-rumpx", image)
            .extra(format!("ip={}/24 port=80 disk={VDEV}", r.ip))
            .vif(vif(r))
            .disk(Disk::raw(VDEV, r.image))
            .timeout(lifetime)
    });
    let linux_spec = GuestSpec::linux("bench-http-linux", &linux.kernel, &linux.ramdisk)
        .guest_type(options.linux_type)
        .extra(linux_domu::httpd_command_line(
            &format!("{}/24", l.ip),
            VDEV,
        ))
        .vif(vif(l))
        .disk(Disk::raw(VDEV, l.image))
        .timeout(lifetime);
    let setup = |spec: &GuestSpec, role: Role| {
        format!(
            "{}, 1 vCPU, {}, {VDEV} = {}, command line \"{}\"",
            spec.guest_type.label(),
            role.ip,
            role.image,
            spec.extra.as_deref().unwrap_or_default()
        )
    };
    let rumpx_setup = match &rumpx {
        Some(spec) => setup(spec, r),
        None => "not built".into(),
    };
    [
        Subject {
            role: r,
            figures: HttpGuestFigures::new(format!("rumpx {RUMPX_GUEST}"), rumpx_setup),
            base: rumpx,
            steps: options.rumpx_memory_steps.clone(),
        },
        Subject {
            role: l,
            figures: HttpGuestFigures::new(
                format!("Linux {} + busybox httpd", linux.release),
                setup(&linux_spec, l),
            ),
            base: Some(linux_spec),
            steps: options.linux_memory_steps.clone(),
        },
    ]
}

/// The timed boot (first 200, load, 8 MiB GET), then the memory search.
fn measure_subject(
    host: &TestHost,
    options: &HttpBenchOptions,
    subject: &mut Subject,
    probe: &Path,
    site: Site,
    progress: &mut dyn FnMut(&str),
) {
    let label = subject.figures.label.clone();
    let Some(spec) = subject.spec("timed", options.memory_mib) else {
        return;
    };
    progress(&format!(
        "{label}: timed boot with {} MiB ({})",
        options.memory_mib, spec.name
    ));
    let small_url = subject.url(SMALL.0);
    let big_url = subject.url(BIG.0);
    let mut load_failure = None;
    let mut restarts = Vec::new();
    let timed = serve_retrying(
        host,
        options,
        &spec,
        &small_url,
        probe,
        progress,
        &mut restarts,
        || {
            checked_get(host, probe, &small_url, SMALL.1, site.small_digest)?;
            let load = load_run(host, options, probe, &small_url)?;
            if load.1.is_some() {
                load_failure = load.1.clone();
            }
            let big = checked_get(host, probe, &big_url, BIG.1, site.big_digest)?;
            Ok((load.0, big))
        },
    );
    match timed {
        Ok((first, (load, big))) => {
            progress(&format!(
                "{label}: first 200 after {first:.2} s; {:.1} requests/s ({} errors); 8 MiB at {:.2} MB/s",
                load.rps,
                load.errors,
                big.mb_per_s().unwrap_or(0.0)
            ));
            subject.figures.first_200_s = Some(first);
            subject.figures.load = Some(load);
            subject.figures.big_get = Some(big);
        }
        Err(why) => {
            progress(&format!("{label}: timed boot failed: {why}"));
            subject.figures.failures.push(format!("timed boot: {why}"));
        }
    }
    subject.figures.restarts.append(&mut restarts);
    if let Some(why) = load_failure {
        subject.figures.failures.push(format!("load run: {why}"));
    }
    for mib in subject.steps.clone() {
        let Some(spec) = subject.spec(&format!("m{mib}"), mib) else {
            return;
        };
        // The timed boot already served the file byte-exact at its size.
        let result = if mib == options.memory_mib && subject.figures.big_get.is_some() {
            Ok(())
        } else {
            progress(&format!("{label}: memory={mib} ({})", spec.name));
            serve_retrying(
                host,
                options,
                &spec,
                &small_url,
                probe,
                progress,
                &mut subject.figures.restarts,
                || checked_get(host, probe, &big_url, BIG.1, site.big_digest).map(|_| ()),
            )
            .map(|_| ())
        };
        progress(&format!(
            "{label}: memory={mib}: {}",
            match &result {
                Ok(()) => "served the 8 MiB file byte-exact".into(),
                Err(why) => format!("failed: {why}"),
            }
        ));
        let failed = result.is_err();
        subject
            .figures
            .memory
            .steps
            .push(MemoryStep { mib, result });
        if failed {
            break;
        }
    }
}

/// The dom0 script that waits for `url` to answer 200, started before
/// the guest `name`: prints the probe's line, when the wait began and when
/// `xl create` of the guest began (from its job folder), so that the time
/// from `xl create` to the first 200 is theirs to subtract. The probe's
/// pid is left in a file, for stopping the wait if the guest dies.
fn wait_script(probe: &Path, name: &str, ip: &str, url: &str, limit: Duration) -> String {
    format!(
        "ip neigh flush to {ip} dev {BRIDGE} >/dev/null 2>&1\n\
         start=$EPOCHREALTIME\n\
         {} wait {url} --timeout {} --since \"$start\" &\n\
         echo $! > {DIR}/wait-{name}.pid\n\
         wait $!\n\
         status=$?\n\
         echo \"wait-start $start\"\n\
         for d in /share/jobs/*/; do\n\
         \x20   [ \"$(sed -n 's/^name *= *\"\\(.*\\)\"/\\1/p' \"$d/guest.cfg\" 2>/dev/null)\" = '{name}' ] &&\n\
         \x20       echo \"created-at $(cat \"$d/created_at\")\"\n\
         done\n\
         exit $status\n",
        probe.display(),
        limit.as_secs().max(1),
    )
}

/// The dom0 script that stops the wait for guest `name` (which may not
/// have written its pid file yet when the guest ended at once).
fn stop_wait_script(name: &str) -> String {
    format!(
        "for i in $(seq 300); do\n\
         \x20   [ -s {DIR}/wait-{name}.pid ] && {{ kill $(cat {DIR}/wait-{name}.pid) 2>/dev/null; exit 0; }}\n\
         \x20   sleep 0.1\n\
         done\n\
         exit 0\n"
    )
}

/// Seconds from `xl create` to the first 200, from the wait script's output.
fn first_200_after_create(stdout: &str) -> std::result::Result<f64, String> {
    let stamp = |key: &str| -> Option<f64> {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
    };
    let after = parse_wait_line(stdout).ok_or("the probe printed no 'first 200' line")?;
    let start = stamp("wait-start ").ok_or("the script printed no start time")?;
    let created = stamp("created-at ").ok_or("no created_at in the guest's job folder")?;
    Ok((start + after - created).max(0.0))
}

/// Why a boot gave no figures.
#[derive(Debug)]
struct Failure {
    /// What happened, with the end of the guest's console.
    why: String,
    /// The guest ended without printing anything: the way starts that die
    /// at their first instructions under the emulator look (see
    /// docs on the test host); such a boot is made once more.
    silent: bool,
}

/// [`serve`], started once more when the first boot ended silently (the
/// retry noted in `restarts`).
#[allow(clippy::too_many_arguments)]
fn serve_retrying<T>(
    host: &TestHost,
    options: &HttpBenchOptions,
    spec: &GuestSpec,
    url: &str,
    probe: &Path,
    progress: &mut dyn FnMut(&str),
    restarts: &mut Vec<String>,
    mut work: impl FnMut() -> std::result::Result<T, String>,
) -> std::result::Result<(f64, T), String> {
    match serve(host, options, spec, url, probe, progress, &mut work) {
        Err(first) if first.silent => {
            let note = format!("{} (memory={}): {}", spec.name, spec.memory_mib, first.why);
            progress(&format!("{note}\n(starting it again)"));
            restarts.push(note);
            let mut again = spec.clone();
            again.name = format!("{}-again", spec.name);
            serve(host, options, &again, url, probe, progress, work).map_err(|f| f.why)
        }
        other => other.map_err(|f| f.why),
    }
}

/// Runs `spec`, waits for its first 200 at `url` (giving up when the guest
/// ends), runs `work`, and shuts the guest down. Gives the seconds from
/// `xl create` to the first 200 and what `work` returned, or why not.
fn serve<T>(
    host: &TestHost,
    options: &HttpBenchOptions,
    spec: &GuestSpec,
    url: &str,
    probe: &Path,
    progress: &mut dyn FnMut(&str),
    work: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<(f64, T), Failure> {
    let name = spec.name.as_str();
    let ip = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let script = wait_script(probe, name, ip, url, options.ready_timeout);
    thread::scope(|scope| {
        let waiter = scope
            .spawn(|| host.dom0_exec(&script, options.ready_timeout + Duration::from_secs(120)));
        let mut guest = BackgroundGuest::start(scope, host, spec.clone());
        let mut stopped_wait = false;
        while !waiter.is_finished() {
            if !stopped_wait && guest.has_ended() {
                let _ = host.dom0_exec(&stop_wait_script(name), Duration::from_secs(90));
                stopped_wait = true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let waited = match waiter.join() {
            Ok(Ok(out)) if out.status == 0 => first_200_after_create(&out.stdout),
            Ok(Ok(out)) => Err(last_lines(&format!("{}\n{}", out.stdout, out.stderr), 3)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the waiting thread panicked".into()),
        };
        let result = match waited {
            Ok(first) => work().map(|t| (first, t)),
            Err(why) => Err(match guest.ended() {
                Some(how) => format!("it ended before serving ({how})"),
                None => format!("no 200 from {url}: {why}"),
            }),
        };
        let result = result.map_err(|why| Failure {
            silent: guest.ended_silently(),
            why: format!("{why}; its console ends with:\n{}", guest.console_tail(10)),
        });
        match stop_guests(host, &[name], Duration::from_secs(30)) {
            Ok(destroyed) if !destroyed.is_empty() => progress(&format!(
                "destroyed {name} (it did not obey xl shutdown within 30 s)"
            )),
            Ok(_) => {}
            Err(e) => progress(&format!("shutting {name} down: {e}")),
        }
        if let Err(e) = guest.finish() {
            progress(&format!("{name}: {e}"));
        }
        result
    })
}

/// The dom0 script running `command` under `timeout`, saying so when it
/// was stopped (GNU timeout exits 124, busybox's 143).
fn limited_script(command: &str, limit: Duration) -> String {
    let secs = limit.as_secs().max(1);
    format!(
        "timeout {secs} {command}\nstatus=$?\n\
         case $status in 124|143) echo \"did not finish in {secs} s\" >&2 ;; esac\nexit $status\n"
    )
}

/// Runs a probe command in dom0 under `timeout LIMIT`; its stdout, and
/// what it said when it failed.
fn probe_run(
    host: &TestHost,
    command: &str,
    limit: Duration,
) -> std::result::Result<(String, Option<String>), String> {
    let script = limited_script(command, limit);
    let out = host
        .dom0_exec(&script, limit + Duration::from_secs(60))
        .map_err(|e| e.to_string())?;
    let said = (out.status != 0).then(|| {
        format!(
            "exit status {}: {}",
            out.status,
            last_lines(&format!("{}\n{}", out.stdout, out.stderr), 3)
        )
    });
    Ok((out.stdout, said))
}

/// The 4 KiB load run; its figures, and why it failed if some requests did.
fn load_run(
    host: &TestHost,
    options: &HttpBenchOptions,
    probe: &Path,
    url: &str,
) -> std::result::Result<(LoadRun, Option<String>), String> {
    let command = format!(
        "{} load {url} --conns {} --requests {} --timeout 30",
        probe.display(),
        options.conns,
        options.requests
    );
    let (stdout, said) = probe_run(host, &command, options.load_limit())?;
    match parse_load_line(&stdout) {
        Some(run) => Ok((run, said)),
        None => Err(format!(
            "the load run printed no figures: {}",
            said.unwrap_or_default()
        )),
    }
}

/// One timed GET of `url`, checked byte-exact: `bytes` bytes with `digest`.
fn checked_get(
    host: &TestHost,
    probe: &Path,
    url: &str,
    bytes: u64,
    digest: u64,
) -> std::result::Result<GetRun, String> {
    let command = format!(
        "{} get {url} --expect 200 --time --timeout 60",
        probe.display()
    );
    let (stdout, said) = probe_run(host, &command, BIG_GET_LIMIT)?;
    if let Some(said) = said {
        return Err(format!("GET {url}: {said}"));
    }
    let run = parse_get_line(&stdout).ok_or_else(|| format!("GET {url}: no status line"))?;
    check_body(&run, bytes, digest).map_err(|why| format!("GET {url}: {why}"))?;
    Ok(run)
}

/// Whether a GET brought status 200 and exactly `bytes` bytes with `digest`.
fn check_body(run: &GetRun, bytes: u64, digest: u64) -> std::result::Result<(), String> {
    if run.status != 200 {
        return Err(format!("status {}", run.status));
    }
    if run.bytes != bytes || run.digest != digest {
        return Err(format!(
            "{} bytes with digest {:016x}, not {bytes} bytes with digest {digest:016x}",
            run.bytes, run.digest
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fnv1a;
    use crate::test_support::{assert_parses, linux_files};

    #[test]
    fn both_guests_get_a_vif_an_address_and_a_disk_of_their_own() {
        let options = HttpBenchOptions::default();
        let image = PathBuf::from("/t/httpd");
        let [rumpx, linux] = subjects(&options, Some(&image), &linux_files());
        let r = rumpx.spec("timed", 128).unwrap();
        let l = linux.spec("timed", 128).unwrap();
        assert_eq!(
            (r.name.as_str(), l.name.as_str()),
            ("bench-http-rumpx-timed", "bench-http-linux-timed")
        );
        assert_eq!((r.memory_mib, l.memory_mib), (128, 128));
        assert_eq!(linux.spec("m96", 96).unwrap().memory_mib, 96);
        assert_eq!(
            r.extra.as_deref(),
            Some("ip=10.99.0.30/24 port=80 disk=xvda")
        );
        assert_eq!(
            l.extra.as_deref(),
            Some("console=hvc0 loglevel=4 rumpx.ip=10.99.0.31/24 rumpx.httpd=xvda")
        );
        assert_eq!(r.vifs[0].bridge, "xenbr0");
        assert_ne!(r.vifs[0].mac, l.vifs[0].mac);
        assert_eq!(
            r.disks[0].target,
            Path::new("/run/rumpx-bench-http/rumpx.img")
        );
        assert_eq!(
            l.disks[0].target,
            Path::new("/run/rumpx-bench-http/linux.img")
        );
        assert_eq!(l.kind, job::KernelKind::Linux);
        assert_eq!(rumpx.url(SMALL.0), "http://10.99.0.30/bench-4k.bin");
        assert_eq!(linux.figures.label, "Linux 6.1.0-56-amd64 + busybox httpd");
        let cfg = l
            .xl_config(Path::new("/k"), Some(Path::new("/r")))
            .render()
            .unwrap();
        assert!(cfg.contains("memory = 128\n"), "{cfg}");
        assert!(cfg.contains("vcpus = 1\n"), "{cfg}");
    }

    #[test]
    fn a_missing_httpd_guest_is_not_measured() {
        let [rumpx, linux] = subjects(&HttpBenchOptions::default(), None, &linux_files());
        assert!(rumpx.spec("timed", 64).is_none());
        assert_eq!(rumpx.figures.setup, "not built");
        assert!(linux.spec("timed", 128).is_some());
    }

    #[test]
    fn options_are_checked() {
        HttpBenchOptions::default().check().unwrap();
        for bad in [
            HttpBenchOptions {
                conns: 0,
                ..HttpBenchOptions::default()
            },
            HttpBenchOptions {
                requests: 0,
                ..HttpBenchOptions::default()
            },
            HttpBenchOptions {
                rumpx_memory_steps: vec![16, 32],
                ..HttpBenchOptions::default()
            },
            HttpBenchOptions {
                linux_memory_steps: vec![],
                ..HttpBenchOptions::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_site_holds_the_seeded_files_and_becomes_an_ext2_image() {
        let dir = unique_dir("rumpx-bench-http-test").unwrap();
        let (site, image) = make_site_image(&dir).unwrap();
        let big = fs::read(dir.join("site").join(BIG.0)).unwrap();
        assert_eq!(big.len() as u64, BIG.1);
        assert_eq!(fnv1a(&big), site.big_digest);
        let small = fs::read(dir.join("site").join(SMALL.0)).unwrap();
        assert_eq!((small.len(), fnv1a(&small)), (4096, site.small_digest));
        assert_ne!(site.small_digest, site.big_digest);
        ext2_image::check_image(&image).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_must_come_back_byte_exact() {
        let ok = GetRun {
            status: 200,
            bytes: BIG.1,
            digest: 7,
            seconds: Some(1.0),
        };
        check_body(&ok, BIG.1, 7).unwrap();
        let wrong = check_body(&ok, BIG.1, 8).unwrap_err();
        assert!(wrong.contains("not 8388608 bytes"), "{wrong}");
        let short = GetRun { bytes: 10, ..ok };
        assert!(check_body(&short, BIG.1, 7).is_err());
        let missing = GetRun { status: 404, ..ok };
        assert_eq!(check_body(&missing, BIG.1, 7).unwrap_err(), "status 404");
    }

    #[test]
    fn the_first_200_counts_from_xl_create() {
        let out = "first 200 after 3.500 s\nwait-start 1000.25\ncreated-at 1000.75\n";
        assert!((first_200_after_create(out).unwrap() - 3.0).abs() < 1e-9);
        assert!(first_200_after_create("first 200 after 3.5 s\nwait-start 1\n").is_err());
        assert!(first_200_after_create("wait-start 1\ncreated-at 1\n").is_err());
    }

    /// The Linux DomU's wait script, as the memory search runs it at 96 MiB.
    fn linux_wait_script() -> String {
        wait_script(
            Path::new("/share/tools/rumpx-http-probe"),
            "bench-http-linux-m96",
            "10.99.0.31",
            "http://10.99.0.31/bench-4k.bin",
            Duration::from_secs(240),
        )
    }

    #[test]
    fn dom0_scripts_are_valid_bash() {
        let wait = linux_wait_script();
        assert!(wait.contains(
            "/share/tools/rumpx-http-probe wait http://10.99.0.31/bench-4k.bin --timeout 240 --since \"$start\" &\n"
        ), "{wait}");
        assert!(wait.contains("= 'bench-http-linux-m96' ]"), "{wait}");
        let images = images_script(Path::new("/share/tools/site.img"));
        assert!(images.contains("cp /share/tools/site.img /run/rumpx-bench-http/linux.img\n"));
        assert!(
            images.contains("retrans_time_ms || echo 'dom0 keeps its default ARP retry time'\n"),
            "{images}"
        );
        let limited = limited_script("/p get http://x/", Duration::from_secs(600));
        assert!(
            limited.starts_with("timeout 600 /p get http://x/\n"),
            "{limited}"
        );
        let stop = stop_wait_script("bench-http-rumpx-m8");
        assert!(
            stop.contains("kill $(cat /run/rumpx-bench-http/wait-bench-http-rumpx-m8.pid)"),
            "{stop}"
        );
        for script in [wait, images, limited, stop] {
            assert_parses("bash", &script);
        }
    }

    /// The wait script finds the job folder of its guest (as dom0's
    /// run-guest leaves it) and prints the times to subtract.
    #[test]
    fn the_wait_script_reads_the_guests_created_at() {
        let script = linux_wait_script();
        let lookup: String = script
            .lines()
            .skip_while(|l| !l.starts_with("for d in"))
            .take(4)
            .map(|l| format!("{l}\n"))
            .collect();
        let dir = unique_dir("rumpx-bench-http-jobs").unwrap();
        for (job, name, at) in [
            ("g1", "other", "5.0"),
            ("g2", "bench-http-linux-m96", "1764260000.5"),
        ] {
            fs::create_dir_all(dir.join(job)).unwrap();
            fs::write(
                dir.join(job).join("guest.cfg"),
                format!("name = \"{name}\"\nmemory = 8\n"),
            )
            .unwrap();
            fs::write(dir.join(job).join("created_at"), format!("{at}\n")).unwrap();
        }
        let lookup = lookup.replace("/share/jobs/", &format!("{}/", dir.display()));
        let out = Command::new("bash").args(["-c", &lookup]).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "created-at 1764260000.5\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_bzimage_size_is_read_from_the_package_listing() {
        let listing = "drwxr-xr-x root/root         0 2026-11-16 10:17 ./boot/\n\
                       -rw-r--r-- root/root   8247232 2026-11-16 10:17 ./boot/vmlinuz-6.1.0-56-amd64\n";
        assert_eq!(bzimage_size(listing), Some(8247232));
        assert_eq!(
            bzimage_size("-rw-r--r-- root/root 1 x y ./boot/System.map-6.1\n"),
            None
        );
    }
}
