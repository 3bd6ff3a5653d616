//! Running guests on the Xen of this machine, when it is a dom0: the same
//! `run-guest` script the test host uses, with the real `xl`; and
//! [`LocalDom0`], this machine as a [`Dom0`].

use crate::dom0::{AttachedDisk, CommandOutput, Dom0};
use crate::dom0_image::RUN_GUEST;
use crate::error::{io_at, Error, Result};
use crate::job::{self, GuestSpec};
use crate::outcome::{ConsoleLine, GuestOutcome};
use crate::qemu::which;
use crate::test_host::unique_dir;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Where xenconsoled writes guest console logs when started with `--log=guest`
/// (on Debian: XENCONSOLED_TRACE=guest in /etc/default/xen).
const CONSOLE_LOG_DIR: &str = "/var/log/xen/console";

/// Whether this machine is a Xen dom0 with the toolstack installed.
pub fn available() -> bool {
    which("xl").is_some() && Path::new("/proc/xen/capabilities").exists()
}

/// Runs one guest with the local `xl`, following its console.
pub fn run_guest(spec: &GuestSpec, on_line: &mut dyn FnMut(&ConsoleLine)) -> Result<GuestOutcome> {
    job::check_kernel(spec)?;
    if !Path::new(CONSOLE_LOG_DIR).is_dir() {
        return Err(Error::Invalid {
            what: "dom0 setup",
            detail: format!(
                "{CONSOLE_LOG_DIR} does not exist: start xenconsoled with --log=guest \
                 (Debian: XENCONSOLED_TRACE=guest in /etc/default/xen)"
            ),
        });
    }
    let dir = unique_dir("rumpx-run")?;
    let image = fs::canonicalize(&spec.image).map_err(io_at(&spec.image))?;
    let ramdisk = match &spec.ramdisk {
        Some(r) => Some(fs::canonicalize(r).map_err(io_at(r))?),
        None => None,
    };
    job::write_inputs(&dir, spec, &image, ramdisk.as_deref())?;
    let mut runner = Command::new("bash")
        .arg("-c")
        .arg(RUN_GUEST)
        .arg("run-guest")
        .arg(&dir)
        .env("RUMPX_CONSOLE_LOG_DIR", CONSOLE_LOG_DIR)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| Error::Command {
            command: "bash run-guest".into(),
            detail: e.to_string(),
        })?;
    let deadline = Instant::now() + spec.timeout + Duration::from_secs(60);
    let outcome = job::follow(
        &dir,
        &spec.name,
        deadline,
        &mut || match runner.try_wait() {
            Ok(Some(_)) => Ok(true),
            Ok(None) => Ok(false),
            Err(e) => Err(Error::Command {
                command: "bash run-guest".into(),
                detail: e.to_string(),
            }),
        },
        on_line,
    );
    let _ = fs::remove_dir_all(&dir);
    outcome
}

/// This machine's Xen as a [`Dom0`]: guests through [`run_guest`], scripts
/// with this machine's bash, programs and disk images used where they are
/// (xl's own `block` script attaches an image file and detaches it when
/// the guest ends).
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalDom0;

impl Dom0 for LocalDom0 {
    fn describe(&self) -> &str {
        "this machine's Xen"
    }

    fn run_guest(
        &self,
        spec: &GuestSpec,
        on_line: &mut dyn FnMut(&ConsoleLine),
    ) -> Result<GuestOutcome> {
        run_guest(spec, on_line)
    }

    fn exec(&self, script: &str, timeout: Duration) -> Result<CommandOutput> {
        exec(script, timeout)
    }

    fn install_tool(&self, program: &Path) -> Result<PathBuf> {
        existing_file(program, "dom0 tool")
    }

    fn attach_disk(&self, image: &Path, _name: &str, read_only: bool) -> Result<AttachedDisk> {
        Ok(AttachedDisk {
            target: existing_file(image, "disk image")?,
            script: None,
            read_only,
            staged: None,
        })
    }

    fn release_disks(&self, _disks: &[AttachedDisk]) -> Result<()> {
        Ok(())
    }
}

/// The canonical path of `path`, which must be a file.
fn existing_file(path: &Path, what: &'static str) -> Result<PathBuf> {
    let canonical = fs::canonicalize(path).map_err(io_at(path))?;
    if canonical.is_file() {
        Ok(canonical)
    } else {
        Err(Error::Invalid {
            what,
            detail: format!("{} is not a file", path.display()),
        })
    }
}

/// Runs `script` with bash in a process group of its own, its output in
/// files (so that programs it leaves in the background cannot hold it up);
/// after `timeout` the whole group is killed and an error returned.
fn exec(script: &str, timeout: Duration) -> Result<CommandOutput> {
    let dir = unique_dir("rumpx-exec")?;
    let result = exec_in(&dir, script, timeout);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn exec_in(dir: &Path, script: &str, timeout: Duration) -> Result<CommandOutput> {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let out = fs::File::create(&out_path).map_err(io_at(&out_path))?;
    let err = fs::File::create(&err_path).map_err(io_at(&err_path))?;
    let failed = |e: std::io::Error| Error::Command {
        command: "bash (dom0 script)".into(),
        detail: e.to_string(),
    };
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(failed)?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(failed)? {
            break status;
        }
        if Instant::now() >= deadline {
            let group = libc::pid_t::try_from(child.id()).unwrap_or(0);
            if group > 0 {
                // SAFETY: kill has no memory effects; the negative pid names
                // the process group the child leads (process_group(0)), which
                // holds only the script and what it started.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
            let _ = child.wait();
            return Err(Error::Command {
                command: "bash (dom0 script)".into(),
                detail: format!("did not finish in {:.1} s: killed", timeout.as_secs_f64()),
            });
        }
        thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(CommandOutput {
        status: status.code().unwrap_or(-1),
        stdout: read(&out_path).map_err(io_at(&out_path))?,
        stderr: read(&err_path).map_err(io_at(&err_path))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_returns_status_and_both_outputs() {
        let out = LocalDom0
            .exec("echo out; echo err >&2; exit 3", Duration::from_secs(10))
            .unwrap();
        assert_eq!(
            (out.status, out.stdout.as_str(), out.stderr.as_str()),
            (3, "out\n", "err\n")
        );
        let ok = LocalDom0.exec("true", Duration::from_secs(10)).unwrap();
        assert_eq!((ok.status, ok.stdout.as_str()), (0, ""));
    }

    #[test]
    fn exec_kills_a_script_that_overruns_with_what_it_started() {
        let dir = unique_dir("rumpx-exec-test").unwrap();
        let mark = dir.join("survived");
        let script = format!("(sleep 2; touch {m}) &\nsleep 30\n", m = mark.display());
        let started = Instant::now();
        let e = LocalDom0
            .exec(&script, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did not finish in 0.3 s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        thread::sleep(Duration::from_millis(2500));
        assert!(!mark.exists(), "the background child outlived the kill");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn exec_does_not_wait_for_programs_left_in_the_background() {
        let started = Instant::now();
        let out = LocalDom0
            .exec("sleep 20 &\necho started\n", Duration::from_secs(10))
            .unwrap();
        assert_eq!(out.stdout, "started\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn tools_and_disks_are_used_where_they_are() {
        let dir = unique_dir("rumpx-local-dom0").unwrap();
        let img = dir.join("www.img");
        fs::write(&img, b"").unwrap();
        let canonical = fs::canonicalize(&img).unwrap();
        assert_eq!(LocalDom0.install_tool(&img).unwrap(), canonical);
        let disk = LocalDom0.attach_disk(&img, "ignored", true).unwrap();
        assert_eq!(
            (disk.target.as_path(), disk.script.as_deref()),
            (canonical.as_path(), None)
        );
        assert!(LocalDom0.release_disks(&[disk]).is_ok());
        let e = LocalDom0
            .attach_disk(&dir, "d", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a file"), "{e}");
        let e = LocalDom0
            .attach_disk(&dir.join("missing.img"), "d", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.img"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
