//! Running guests on the Xen of this machine, when it is a dom0: the same
//! `run-guest` script the test host uses, with the real `xl`.

use crate::dom0_image::RUN_GUEST;
use crate::error::{io_at, Error, Result};
use crate::job::{self, GuestSpec};
use crate::outcome::{ConsoleLine, GuestOutcome};
use crate::qemu::which;
use crate::test_host::unique_dir;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
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
