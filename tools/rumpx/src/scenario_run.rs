//! Runs a [`Scenario`] on a dom0 (this machine's Xen or the embedded test
//! host): builds the guests' images and ext2 disks, starts every guest in
//! the background, runs the checks from dom0 in order (readiness through
//! `rumpx-ready`, HTTP through `rumpx-http-probe`), and always tears the
//! guests and their disks down, keeping each console in the output folder.

use crate::background_guest::{stop_guests, BackgroundGuest, NotReady};
use crate::dom0::{AttachedDisk, Dom0};
use crate::error::{io_at, Error, Result};
use crate::ext2_image;
use crate::guest_build;
use crate::outcome::GuestOutcome;
use crate::scenario::{
    BodyExpect, CheckDef, CheckKind, DiskSource, GeneratedFile, GuestDef, HttpCheck, HttpMethod,
    HttpTarget, Scenario,
};
use crate::scenario_report::{CheckResult, Report, Row};
use crate::xl_config::{DiskAccess, Vif};
use crate::GuestSpec;
use check_data::{Fnv1a, Pattern};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long guests get to end after `xl shutdown` at teardown.
const TEARDOWN_GRACE: Duration = Duration::from_secs(20);

/// The default output folder of a scenario: `target/rumpx-test/<name>` of
/// the source tree, or `rumpx-test/<name>` in the current folder when
/// rumpx was installed without its sources.
pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    let base = if guest_build::has_source_tree() {
        guest_build::workspace_root().join("target")
    } else {
        PathBuf::new()
    };
    base.join("rumpx-test").join(&scenario.name)
}

/// A disk made ready on the host: its image and, for checks, the generated
/// files it holds.
struct HostDisk {
    vdev: String,
    access: DiskAccess,
    image: PathBuf,
}

/// What the host side prepared.
struct Prepared {
    images: HashMap<String, PathBuf>,
    disks: HashMap<String, Vec<HostDisk>>,
    /// (guest, file name) -> the file's bytes and FNV-1a 64.
    generated: HashMap<(String, String), GeneratedFile>,
}

/// Runs `scenario` on `host`, writing consoles to `out_dir`. Once `cancel`
/// says true (a Ctrl-C), the remaining checks are skipped for teardown.
/// Errors are setup failures before any guest started; everything after
/// that is in the report.
pub fn run(
    host: &dyn Dom0,
    scenario: &Scenario,
    out_dir: &Path,
    cancel: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Report> {
    let started = Instant::now();
    fs::create_dir_all(out_dir).map_err(io_at(out_dir))?;
    let prepared = prepare_host_side(scenario, out_dir, progress)?;
    let probe = if scenario.checks.iter().any(|c| needs_probe(&c.kind)) {
        Some(install_tool(host, "rumpx-http-probe", progress)?)
    } else {
        None
    };
    let ready = if scenario
        .checks
        .iter()
        .any(|c| matches!(c.kind, CheckKind::Ready))
    {
        Some(install_tool(host, "rumpx-ready", progress)?)
    } else {
        None
    };
    let mut report = Report {
        scenario: scenario.name.clone(),
        out_dir: out_dir.to_path_buf(),
        ..Report::default()
    };
    let mut attached: Vec<AttachedDisk> = Vec::new();
    let specs = match attach_disks(host, scenario, &prepared, &mut attached) {
        Ok(specs) => specs,
        Err(e) => {
            release_disks(host, &attached, &mut report);
            return Err(e);
        }
    };
    let guest_timeout = scenario.timeout + Duration::from_secs(60);
    std::thread::scope(|scope| {
        let mut slots: Vec<Slot> = specs
            .into_iter()
            .map(|spec| {
                progress(&format!("starting guest {}", spec.name));
                let name = spec.name.clone();
                Slot {
                    name,
                    guest: Some(BackgroundGuest::start(
                        scope,
                        host,
                        spec.timeout(guest_timeout),
                    )),
                    outcome: None,
                }
            })
            .collect();
        let ctx = Ctx {
            host,
            scenario,
            probe: probe.as_deref(),
            ready: ready.as_deref(),
            prepared: &prepared,
        };
        let deadline = started + scenario.timeout;
        let total = scenario.checks.len();
        for (i, check) in scenario.checks.iter().enumerate() {
            let label = format!("{} {}", i + 1, check.kind);
            let skip = if cancel() {
                Some("interrupted")
            } else if Instant::now() >= deadline {
                Some("the scenario's timeout_s ran out")
            } else {
                None
            };
            if let Some(why) = skip {
                report.rows.push(Row {
                    check: label,
                    guest: check.guest.clone(),
                    result: CheckResult::Skipped,
                    time: Duration::ZERO,
                    detail: why.into(),
                });
                continue;
            }
            progress(&format!(
                "check {}/{total} {} on {}",
                i + 1,
                check.kind,
                check.guest
            ));
            let at = Instant::now();
            let timeout = check.timeout.min(deadline.saturating_duration_since(at));
            let outcome = match slots.iter_mut().find(|s| s.name == check.guest) {
                Some(slot) => ctx.run_check(check, timeout, slot, cancel),
                None => Err(format!("the scenario has no guest {}", check.guest)),
            };
            let (result, detail) = match outcome {
                Ok(detail) => (CheckResult::Pass, detail),
                Err(why) => (CheckResult::Fail, why),
            };
            progress(&format!("check {}/{total}: {result}", i + 1));
            report.rows.push(Row {
                check: label,
                guest: check.guest.clone(),
                result,
                time: at.elapsed(),
                detail,
            });
        }
        progress("tearing the guests down");
        teardown(host, &mut slots, &mut report);
        for slot in &slots {
            if let Some(outcome) = &slot.outcome {
                if let Err(e) = write_logs(out_dir, &slot.name, outcome) {
                    report.notes.push(e.to_string());
                }
            }
        }
    });
    release_disks(host, &attached, &mut report);
    Ok(report)
}

/// Gets the dom0 helper program `bin` ([`guest_build::dom0_tool`]) and
/// installs it in dom0; returns its path there.
fn install_tool(host: &dyn Dom0, bin: &str, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    if guest_build::has_source_tree() {
        progress(&format!("building {bin}"));
    }
    host.install_tool(&guest_build::dom0_tool(bin)?)
}

/// A started guest: running (`guest`) until it ends and is finished
/// (`outcome`).
struct Slot<'scope> {
    name: String,
    guest: Option<BackgroundGuest<'scope>>,
    outcome: Option<Result<GuestOutcome>>,
}

impl Slot<'_> {
    /// Waits up to `timeout` for the guest to end, then collects how.
    fn wait_end(
        &mut self,
        timeout: Duration,
        cancel: &dyn Fn() -> bool,
    ) -> std::result::Result<&GuestOutcome, String> {
        let deadline = Instant::now() + timeout;
        if let Some(guest) = self.guest.as_mut() {
            while !guest.has_ended() {
                if Instant::now() >= deadline || cancel() {
                    return Err(format!("still running after {} s", timeout.as_secs()));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if let Some(guest) = self.guest.take() {
            self.outcome = Some(guest.finish());
        }
        match &self.outcome {
            Some(Ok(o)) => Ok(o),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the guest was never started".into()),
        }
    }

    /// How the guest ended, if it has.
    fn ended(&mut self) -> Option<String> {
        match &mut self.guest {
            Some(g) => g.ended(),
            None => Some("it has ended".into()),
        }
    }
}

/// The names of the guests still running: the ones teardown must stop.
fn still_running(slots: &mut [Slot]) -> Vec<String> {
    let mut names = Vec::new();
    for slot in slots.iter_mut() {
        if slot.guest.as_mut().is_some_and(|g| !g.has_ended()) {
            names.push(slot.name.clone());
        }
    }
    names
}

/// Stops every guest still running (`xl shutdown`, then `xl destroy`
/// after a grace period) and collects every outcome.
fn teardown(host: &dyn Dom0, slots: &mut [Slot], report: &mut Report) {
    let running = still_running(slots);
    if !running.is_empty() {
        let names: Vec<&str> = running.iter().map(String::as_str).collect();
        match stop_guests(host, &names, TEARDOWN_GRACE) {
            Ok(destroyed) => {
                for name in destroyed {
                    report.notes.push(format!(
                        "{name} did not end within {} s of xl shutdown at teardown: destroyed",
                        TEARDOWN_GRACE.as_secs()
                    ));
                }
            }
            Err(e) => report
                .notes
                .push(format!("stopping guests at teardown: {e}")),
        }
    }
    for slot in slots.iter_mut() {
        if let Some(guest) = slot.guest.take() {
            slot.outcome = Some(guest.finish());
        }
    }
}

/// Writes `<guest>.console.log` (lines stamped with seconds from `xl
/// create`) and `<guest>.xl.log`.
fn write_logs(out_dir: &Path, name: &str, outcome: &Result<GuestOutcome>) -> Result<()> {
    let (console, xl) = match outcome {
        Ok(o) => {
            let lines: Vec<String> = o
                .console
                .iter()
                .map(|l| format!("[{:9.3}] {}", l.at.as_secs_f64(), l.text))
                .collect();
            let mut console = lines.join("\n");
            console.push_str(&format!(
                "\n# ended: {} after {:.1} s\n",
                o.reason,
                o.lifetime.as_secs_f64()
            ));
            (console, o.xl_log.clone())
        }
        Err(e) => (format!("# the guest did not run: {e}\n"), String::new()),
    };
    let path = out_dir.join(format!("{name}.console.log"));
    fs::write(&path, console).map_err(io_at(&path))?;
    let path = out_dir.join(format!("{name}.xl.log"));
    fs::write(&path, xl).map_err(io_at(&path))
}

fn needs_probe(kind: &CheckKind) -> bool {
    matches!(
        kind,
        CheckKind::Http(HttpCheck {
            body: None
                | Some(BodyExpect::Fnv1a64(_) | BodyExpect::File(_) | BodyExpect::Generated(_)),
            ..
        }) | CheckKind::RawHttp { .. }
            | CheckKind::Load { .. }
    )
}

/// Builds the guests' images and makes their ext2 disks (generated files
/// included) in `out_dir/disks`.
fn prepare_host_side(
    scenario: &Scenario,
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Prepared> {
    let mut prepared = Prepared {
        images: HashMap::new(),
        disks: HashMap::new(),
        generated: HashMap::new(),
    };
    let mut built: HashMap<String, PathBuf> = HashMap::new();
    for guest in &scenario.guests {
        let as_path = scenario.dir.join(&guest.image);
        let image = if as_path.is_file() {
            as_path
        } else if let Some(image) = built.get(&guest.image) {
            image.clone()
        } else if !guest_build::has_source_tree() {
            return Err(Error::Invalid {
                what: "guest image",
                detail: format!(
                    "guest {}: {} is not a file, and there is no source tree here to build \
                     a guest package from: give the image's path (relative to the scenario file)",
                    guest.name,
                    as_path.display()
                ),
            });
        } else {
            progress(&format!("building guest {}", guest.image));
            let image = guest_build::build_guest(&guest.image)?;
            built.insert(guest.image.clone(), image.clone());
            image
        };
        prepared.images.insert(guest.name.clone(), image);
        let mut disks = Vec::new();
        for disk in &guest.disks {
            let image = match &disk.source {
                DiskSource::Image(path) => {
                    if !path.is_file() {
                        return Err(Error::Invalid {
                            what: "disk image",
                            detail: format!(
                                "guest {}: {} is not a file",
                                guest.name,
                                path.display()
                            ),
                        });
                    }
                    if disk.access == DiskAccess::ReadWrite {
                        // The guest writes to a copy: the scenario's image
                        // stays as it is for the next run.
                        let copy = disk_path(out_dir, guest, disk);
                        fs::create_dir_all(out_dir.join("disks"))
                            .map_err(io_at(out_dir.join("disks")))?;
                        fs::copy(path, &copy).map_err(io_at(path))?;
                        copy
                    } else {
                        path.clone()
                    }
                }
                DiskSource::Dir(_) | DiskSource::Generated => {
                    progress(&format!("making guest {}'s disk {}", guest.name, disk.vdev));
                    make_disk(guest, disk, out_dir)?
                }
            };
            for file in &disk.generate {
                prepared
                    .generated
                    .insert((guest.name.clone(), file.name.clone()), file.clone());
            }
            disks.push(HostDisk {
                vdev: disk.vdev.clone(),
                access: disk.access,
                image,
            });
        }
        prepared.disks.insert(guest.name.clone(), disks);
    }
    Ok(prepared)
}

/// Stages a disk's folder and generated files and makes the ext2 image.
fn make_disk(guest: &GuestDef, disk: &crate::scenario::DiskDef, out_dir: &Path) -> Result<PathBuf> {
    let stage = out_dir
        .join("disks")
        .join(format!("{}-{}", guest.name, disk.vdev));
    let _ = fs::remove_dir_all(&stage);
    fs::create_dir_all(&stage).map_err(io_at(&stage))?;
    if let DiskSource::Dir(dir) = &disk.source {
        if !dir.is_dir() {
            return Err(Error::Invalid {
                what: "disk folder",
                detail: format!("guest {}: {} is not a folder", guest.name, dir.display()),
            });
        }
        copy_tree(dir, &stage)?;
    }
    for file in &disk.generate {
        write_generated(&stage.join(&file.name), file)?;
    }
    let image = disk_path(out_dir, guest, disk);
    ext2_image::make_image(&stage, &image, None)?;
    Ok(image)
}

/// Where a guest's disk image is made (or copied) on this machine.
fn disk_path(out_dir: &Path, guest: &GuestDef, disk: &crate::scenario::DiskDef) -> PathBuf {
    out_dir
        .join("disks")
        .join(format!("{}-{}.img", guest.name, disk.vdev))
}

/// Copies the files and folders of `from` into `to` (symbolic links are
/// refused: a disk holds what the folder holds).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).map_err(io_at(from))? {
        let entry = entry.map_err(io_at(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_at(&src))?;
        if kind.is_dir() {
            fs::create_dir_all(&dst).map_err(io_at(&dst))?;
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            fs::copy(&src, &dst).map_err(io_at(&src))?;
        } else {
            return Err(Error::Invalid {
                what: "disk folder entry",
                detail: format!("{} is neither a file nor a folder", src.display()),
            });
        }
    }
    Ok(())
}

/// The bytes of a generated file, in pieces of at most 1 MiB.
fn for_each_piece(
    file: &GeneratedFile,
    from: u64,
    to: u64,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let pattern = Pattern::new(file.seed);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(buf.len());
        pattern.fill(at, &mut buf[..n]);
        each(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

fn write_generated(path: &Path, file: &GeneratedFile) -> Result<()> {
    use std::io::Write;
    let mut out = fs::File::create(path).map_err(io_at(path))?;
    for_each_piece(file, 0, file.bytes, |piece| {
        out.write_all(piece).map_err(io_at(path))
    })
}

/// The length and FNV-1a 64 of `bytes[first..=last]` of a generated file
/// (the whole file without a range; a range past the end is cut short).
fn generated_digest(file: &GeneratedFile, range: Option<(u64, u64)>) -> (u64, u64) {
    let (from, to) = window(file.bytes, range);
    let mut fnv = Fnv1a::new();
    let _ = for_each_piece(file, from, to, |piece| {
        fnv.update(piece);
        Ok(())
    });
    (to - from, fnv.value())
}

/// The half-open window of a `first-last` range over `len` bytes.
fn window(len: u64, range: Option<(u64, u64)>) -> (u64, u64) {
    match range {
        None => (0, len),
        Some((a, b)) => (a.min(len), b.saturating_add(1).min(len)),
    }
}

/// Makes each guest's disk images ready in dom0 ([`Dom0::attach_disk`])
/// and returns the guests' specs. The disks attached are pushed to
/// `attached` as they are made, for [`release_disks`].
fn attach_disks(
    host: &dyn Dom0,
    scenario: &Scenario,
    prepared: &Prepared,
    attached: &mut Vec<AttachedDisk>,
) -> Result<Vec<GuestSpec>> {
    let mut specs = Vec::new();
    for guest in &scenario.guests {
        let (Some(image), Some(disks)) = (
            prepared.images.get(&guest.name),
            prepared.disks.get(&guest.name),
        ) else {
            return Err(Error::Invalid {
                what: "scenario",
                detail: format!("guest {} was not prepared", guest.name),
            });
        };
        let mut spec = GuestSpec::new(&guest.name, image).memory_mib(guest.memory_mib);
        spec.vcpus = guest.vcpus;
        spec.extra = guest.extra.clone();
        if let Some(net) = &guest.net {
            let mut vif = Vif::on_bridge(&net.bridge);
            vif.ip = net.address().map(str::to_string);
            vif.mac = net.mac.clone();
            spec = spec.vif(vif);
        }
        for disk in disks {
            let name = format!(
                "rumpx-test-{}-{}-{}.img",
                scenario.name, guest.name, disk.vdev
            );
            let read_only = disk.access == DiskAccess::ReadOnly;
            let disk_ready = host.attach_disk(&disk.image, &name, read_only)?;
            spec = spec.disk(disk_ready.xl_disk(&disk.vdev));
            attached.push(disk_ready);
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Releases the disks in dom0 ([`Dom0::release_disks`]); what failed goes
/// to the report's notes.
fn release_disks(host: &dyn Dom0, attached: &[AttachedDisk], report: &mut Report) {
    if let Err(e) = host.release_disks(attached) {
        report.notes.push(format!("dom0 cleanup: {e}"));
    }
}

/// Shell-quotes a word for bash.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Writes bytes the way `rumpx-http-probe raw --data` reads them back:
/// printable ASCII as it is, `\\`, `\r`, `\n`, `\t` and `\xHH` for the rest.
fn probe_escape(data: &str) -> String {
    let mut out = String::new();
    for b in data.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The fields of a probe output line (`status 200 bytes 5 fnv1a64 ...`)
/// as key-value pairs.
fn fields(line: &str) -> HashMap<&str, &str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1]))
        .collect()
}

/// What the checks share.
struct Ctx<'a> {
    host: &'a dyn Dom0,
    scenario: &'a Scenario,
    /// `rumpx-http-probe` in dom0, when a check needs it.
    probe: Option<&'a Path>,
    /// `rumpx-ready` in dom0, when a check needs it.
    ready: Option<&'a Path>,
    prepared: &'a Prepared,
}

impl Ctx<'_> {
    fn run_check(
        &self,
        check: &CheckDef,
        timeout: Duration,
        slot: &mut Slot,
        cancel: &dyn Fn() -> bool,
    ) -> std::result::Result<String, String> {
        let Some(guest) = self.scenario.guest(&check.guest) else {
            return Err(format!("the scenario has no guest {}", check.guest));
        };
        let with_console = |slot: &mut Slot, why: String| {
            let tail = slot
                .guest
                .as_mut()
                .map_or_else(|| "(the guest has ended)".into(), |g| g.console_tail(8));
            format!("{why}\nconsole ends:\n{tail}")
        };
        match &check.kind {
            CheckKind::Console(text) => {
                let Some(g) = slot.guest.as_mut() else {
                    return self.console_after_end(slot, text);
                };
                // In slices of a second, so that a Ctrl-C is not kept waiting.
                let deadline = Instant::now() + timeout;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match g.wait_for_line(text, left.min(Duration::from_secs(1))) {
                        Ok(line) => {
                            return Ok(format!("at {:.1} s: {}", line.at.as_secs_f64(), line.text))
                        }
                        Err(NotReady::TimedOut(_)) if !left.is_zero() && !cancel() => continue,
                        Err(NotReady::TimedOut(_)) => {
                            let why =
                                format!("no line with {text:?} within {} s", timeout.as_secs());
                            return Err(with_console(slot, why));
                        }
                        Err(why) => {
                            return Err(with_console(slot, format!("no line with {text:?}: {why}")))
                        }
                    }
                }
            }
            CheckKind::Shutdown(reason) => {
                self.dom0(&format!("xl shutdown {}", quote(&guest.name)), timeout)?;
                let outcome = slot.wait_end(timeout, cancel)?;
                if outcome.reason == *reason {
                    Ok(format!(
                        "{} after {:.1} s",
                        outcome.reason,
                        outcome.lifetime.as_secs_f64()
                    ))
                } else {
                    Err(format!(
                        "ended with reason {}, want {reason}\nconsole ends:\n{}",
                        outcome.reason,
                        crate::packages::last_lines(&outcome.console_text(), 8)
                    ))
                }
            }
            CheckKind::Destroy => {
                self.dom0(&format!("xl destroy {}", quote(&guest.name)), timeout)?;
                let outcome = slot.wait_end(timeout, cancel)?;
                Ok(format!(
                    "gone ({}) after {:.1} s",
                    outcome.reason,
                    outcome.lifetime.as_secs_f64()
                ))
            }
            _ => {
                if let Some(how) = slot.ended() {
                    return Err(format!("the guest has ended: {how}"));
                }
                let result = self.dom0_check(check, guest, timeout);
                result.map_err(|why| with_console(slot, why))
            }
        }
    }

    /// A console check on a guest that has ended: its whole console.
    fn console_after_end(&self, slot: &Slot, text: &str) -> std::result::Result<String, String> {
        match &slot.outcome {
            Some(Ok(o)) => match o.find_line(text) {
                Some(line) => Ok(format!("at {:.1} s: {}", line.at.as_secs_f64(), line.text)),
                None => Err(format!("no line with {text:?} before the guest ended")),
            },
            _ => Err("the guest did not run".into()),
        }
    }

    /// Checks done by a dom0 command.
    fn dom0_check(
        &self,
        check: &CheckDef,
        guest: &GuestDef,
        timeout: Duration,
    ) -> std::result::Result<String, String> {
        let addr = guest.net.as_ref().and_then(|n| n.address()).unwrap_or("");
        let secs = timeout.as_secs().max(1);
        match &check.kind {
            CheckKind::Ready => {
                let tool = self.ready.ok_or("rumpx-ready is not installed in dom0")?;
                let out = self.dom0_any(&ready_script(tool, &guest.name, secs), timeout)?;
                match out.lines().find_map(|l| l.strip_prefix("ready ")) {
                    Some(v) => Ok(format!("data/rumpx-ready = {v:?}")),
                    None => Err(format!(
                        "no data/rumpx-ready key within {secs} s: rumpx-ready said {:?}",
                        out.trim()
                    )),
                }
            }
            CheckKind::TcpOpen(port) => {
                let script = format!(
                    "end=$((SECONDS+{secs}))\n\
                     while [ $SECONDS -lt $end ]; do\n\
                     \x20 timeout 3 bash -c 'exec 3<>/dev/tcp/{addr}/{port}' 2>/dev/null && {{ echo open; exit 0; }}\n\
                     \x20 sleep 0.2\n\
                     done\necho closed\n"
                );
                let out = self.dom0(&script, timeout)?;
                if out.lines().any(|l| l == "open") {
                    Ok(format!("{addr}:{port} accepts connections"))
                } else {
                    Err(format!(
                        "{addr}:{port} accepted no connection within {secs} s"
                    ))
                }
            }
            CheckKind::Http(h) => self.http(h, guest, addr, secs, timeout),
            CheckKind::RawHttp { data, status } => {
                let probe = self.probe()?;
                let script = format!(
                    "{probe} raw {addr}:{port} --data {data} --timeout {secs}\n",
                    probe = probe.display(),
                    port = guest.port,
                    data = quote(&probe_escape(data)),
                );
                let out = self.dom0(&script, timeout)?;
                let line = out.lines().next().unwrap_or("").trim();
                let got: Option<u16> = line.split_whitespace().nth(1).and_then(|s| s.parse().ok());
                match got {
                    Some(s) if status.contains(&s) => Ok(line.to_string()),
                    _ => Err(format!("answer {line:?}, want status {}", list(status))),
                }
            }
            CheckKind::Load {
                path,
                conns,
                requests,
            } => {
                let probe = self.probe()?;
                let script = format!(
                    "{probe} load {url} --conns {conns} --requests {requests} --timeout {secs}\n",
                    probe = probe.display(),
                    url = quote(&format!("http://{addr}:{}{path}", guest.port)),
                );
                let out = self.dom0(&script, timeout)?;
                let line = out
                    .lines()
                    .find(|l| l.starts_with("requests "))
                    .unwrap_or("");
                let f = fields(line);
                let done = f.get("requests").and_then(|v| v.parse::<u32>().ok());
                let errors = f.get("errors").and_then(|v| v.parse::<u32>().ok());
                if done == Some(*requests) && errors == Some(0) {
                    Ok(line.to_string())
                } else {
                    Err(format!(
                        "probe said {:?}, want {requests} requests and 0 errors",
                        out.trim()
                    ))
                }
            }
            CheckKind::Console(_) | CheckKind::Shutdown(_) | CheckKind::Destroy => Err(format!(
                "{} is not a dom0 check (run_check takes it)",
                check.kind
            )),
        }
    }

    fn http(
        &self,
        h: &HttpCheck,
        guest: &GuestDef,
        addr: &str,
        secs: u64,
        timeout: Duration,
    ) -> std::result::Result<String, String> {
        let url = match &h.target {
            HttpTarget::Url(u) => u.clone(),
            HttpTarget::Path(p) => format!("http://{addr}:{}{p}", guest.port),
        };
        if let Some(BodyExpect::Contains(text)) = &h.body {
            return self.http_contains(&url, h, text, secs, timeout);
        }
        let probe = self.probe()?;
        let mut cmd = format!("{} get {} --timeout {secs}", probe.display(), quote(&url));
        if h.method == HttpMethod::Head {
            cmd.push_str(" --head");
        }
        if let Some((a, b)) = h.range {
            cmd.push_str(&format!(" --range {a}-{b}"));
        }
        let out = self.dom0(&format!("{cmd}\n"), timeout)?;
        let line = out.lines().find(|l| l.starts_with("status ")).unwrap_or("");
        let f = fields(line);
        let status: Option<u16> = f.get("status").and_then(|v| v.parse().ok());
        let bytes: Option<u64> = f.get("bytes").and_then(|v| v.parse().ok());
        let digest = f
            .get("fnv1a64")
            .and_then(|v| u64::from_str_radix(v, 16).ok());
        let (Some(status), Some(bytes), Some(digest)) = (status, bytes, digest) else {
            return Err(format!("the probe said {:?}", out.trim()));
        };
        if !h.status.contains(&status) {
            return Err(format!(
                "status {status}, want {} ({line})",
                list(&h.status)
            ));
        }
        let want: Option<(Option<u64>, u64)> = match &h.body {
            None | Some(BodyExpect::Contains(_)) => None,
            Some(BodyExpect::Fnv1a64(d)) => Some((None, *d)),
            Some(BodyExpect::Generated(name)) => {
                let file = self
                    .prepared
                    .generated
                    .get(&(guest.name.clone(), name.clone()))
                    .ok_or_else(|| format!("guest {} has no generated file {name}", guest.name))?;
                let (len, d) = generated_digest(file, h.range);
                Some((Some(len), d))
            }
            Some(BodyExpect::File(path)) => {
                let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let (from, to) = window(data.len() as u64, h.range);
                let part = &data[from as usize..to as usize];
                Some((Some(part.len() as u64), check_data::fnv1a(part)))
            }
        };
        match want {
            None => Ok(line.to_string()),
            Some((len, d)) if d == digest && len.is_none_or(|l| l == bytes) => Ok(line.to_string()),
            Some((len, d)) => Err(format!(
                "body: {bytes} bytes fnv1a64 {digest:016x}, want {}fnv1a64 {d:016x}",
                len.map_or(String::new(), |l| format!("{l} bytes "))
            )),
        }
    }

    /// GET with the body's text checked: HTTP/1.0 over bash's /dev/tcp in
    /// dom0 (the probe digests bodies but does not print them); bytes that
    /// are not printable ASCII are dropped from what comes back.
    fn http_contains(
        &self,
        url: &str,
        h: &HttpCheck,
        text: &str,
        secs: u64,
        timeout: Duration,
    ) -> std::result::Result<String, String> {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>().map_err(|_| format!("bad port in {url}"))?,
            ),
            None => (authority, 80),
        };
        let mut request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n");
        if let Some((a, b)) = h.range {
            request.push_str(&format!("Range: bytes={a}-{b}\r\n"));
        }
        request.push_str("\r\n");
        let script = format!(
            "exec 3<>/dev/tcp/{host}/{port} || exit 1\n\
             printf '%s' {req} >&3\n\
             timeout {secs} cat <&3 | head -c 1048576 | tr -cd '\\11\\12\\15\\40-\\176'\n",
            req = quote(&request)
        );
        let out = self.dom0(&script, timeout)?;
        let status_line = out.lines().next().unwrap_or("").trim_end();
        let status: Option<u16> = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok());
        match status {
            Some(s) if h.status.contains(&s) => {}
            _ => {
                return Err(format!(
                    "answer {status_line:?}, want status {}",
                    list(&h.status)
                ))
            }
        }
        let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        if body.contains(text) {
            Ok(format!("{status_line}; body has {text:?}"))
        } else {
            let start: String = body.chars().take(80).collect();
            Err(format!(
                "body does not contain {text:?}; it starts {start:?}"
            ))
        }
    }

    fn probe(&self) -> std::result::Result<&Path, String> {
        self.probe
            .ok_or_else(|| "rumpx-http-probe is not installed in dom0".into())
    }

    /// Runs a dom0 script with a little more time than the check's and
    /// returns what it printed, whatever its exit status.
    fn dom0_any(&self, script: &str, timeout: Duration) -> std::result::Result<String, String> {
        self.host
            .exec(script, timeout + Duration::from_secs(30))
            .map(|out| out.stdout)
            .map_err(|e| e.to_string())
    }

    /// Runs a dom0 script with a little more time than the check's; an
    /// exit status other than 0 fails the check.
    fn dom0(&self, script: &str, timeout: Duration) -> std::result::Result<String, String> {
        let out = self
            .host
            .exec(script, timeout + Duration::from_secs(30))
            .map_err(|e| e.to_string())?;
        if out.status == 0 {
            Ok(out.stdout)
        } else {
            Err(format!(
                "dom0 command failed (status {}): {}{}",
                out.status,
                out.stdout.trim(),
                out.stderr.trim()
            ))
        }
    }
}

/// The dom0 command of a `ready` check: `rumpx-ready` (rumpx's own
/// xenstore client) waiting up to `secs` for the guest's key.
fn ready_script(tool: &Path, guest: &str, secs: u64) -> String {
    format!(
        "{} --domain {} --timeout {secs}\n",
        quote(&tool.display().to_string()),
        quote(guest)
    )
}

fn list(statuses: &[u16]) -> String {
    let words: Vec<String> = statuses.iter().map(u16::to_string).collect();
    words.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_digests_match_the_written_bytes_in_any_window() {
        let file = GeneratedFile {
            name: "f".into(),
            bytes: 3 << 20 | 5,
            seed: 5,
        };
        let dir = std::env::temp_dir().join(format!("rumpx-scn-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        write_generated(&path, &file).unwrap();
        let data = fs::read(&path).unwrap();
        assert_eq!(data.len() as u64, file.bytes);
        assert_eq!(
            generated_digest(&file, None),
            (file.bytes, check_data::fnv1a(&data))
        );
        let part = &data[1_048_570..=2_097_200];
        assert_eq!(
            generated_digest(&file, Some((1_048_570, 2_097_200))),
            (part.len() as u64, check_data::fnv1a(part))
        );
        // A range past the end is cut short, as a server answers it.
        let tail = &data[(3 << 20)..];
        assert_eq!(
            generated_digest(&file, Some((3 << 20, u64::MAX))),
            (5, check_data::fnv1a(tail))
        );
        assert_eq!(
            generated_digest(&GeneratedFile { bytes: 0, ..file }, None),
            (0, check_data::fnv1a(&[]))
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// The digest the rumpkern guest printed on Xen for the generated
    /// big.bin of tests/scenarios/rumpkern.toml (seed 5, 300000 bytes),
    /// read through ext2: the file on the disk is the pattern.
    #[test]
    fn the_generated_file_is_what_the_guest_read_on_xen() {
        let file = GeneratedFile {
            name: "big.bin".into(),
            bytes: 300_000,
            seed: 5,
        };
        assert_eq!(
            generated_digest(&file, None),
            (300_000, 0x085b_9159_1325_166d)
        );
    }

    #[test]
    fn raw_requests_are_escaped_for_the_probe_and_quoted_for_bash() {
        assert_eq!(
            probe_escape("GET / HTTP/1.1\r\n\\\x01é"),
            "GET / HTTP/1.1\\r\\n\\\\\\x01\\xc3\\xa9"
        );
        let q = quote("it's");
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("printf %s {q}")])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's");
    }

    #[test]
    fn the_ready_check_asks_rumpx_ready_not_xenstore_read() {
        let script = ready_script(Path::new("/share/tools/rumpx-ready"), "www1", 180);
        assert_eq!(
            script,
            "'/share/tools/rumpx-ready' --domain 'www1' --timeout 180\n"
        );
        crate::test_support::assert_parses("bash", &script);
        let source = include_str!("scenario_run.rs");
        let needle = ["xenstore", "-read"].concat();
        assert!(!source.contains(&needle), "the runner has a second reader");
    }

    #[test]
    fn probe_lines_split_into_fields() {
        let f = fields("status 206 bytes 10 fnv1a64 00ff");
        assert_eq!(f["status"], "206");
        assert_eq!(f["fnv1a64"], "00ff");
        let f = fields("requests 200 errors 0 seconds 3.1 rps 64.5");
        assert_eq!((f["requests"], f["errors"]), ("200", "0"));
    }

    #[test]
    fn disk_folders_are_copied_whole_and_links_refused() {
        let base = std::env::temp_dir().join(format!("rumpx-scn-copy-{}", std::process::id()));
        let (src, dst) = (base.join("src"), base.join("dst"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::create_dir_all(&dst).unwrap();
        fs::write(src.join("index.html"), "hi").unwrap();
        fs::write(src.join("sub/empty"), "").unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(fs::read(dst.join("index.html")).unwrap(), b"hi");
        assert_eq!(fs::read(dst.join("sub/empty")).unwrap(), b"");
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        fs::create_dir_all(base.join("dst2")).unwrap();
        let e = copy_tree(&src, &base.join("dst2")).unwrap_err().to_string();
        assert!(e.contains("neither a file nor a folder"), "{e}");
        fs::remove_dir_all(&base).unwrap();
    }
}
