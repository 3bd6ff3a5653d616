//! Builds guest images (`cargo build --release --target x86_64-unknown-none`
//! of a package under `guests/`) and the dom0 helper programs, each into a
//! target folder of its own so that a build started from inside `cargo test`
//! does not wait on the outer cargo.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target all guests are built for.
pub const GUEST_TARGET: &str = "x86_64-unknown-none";

/// The workspace root: `$RUMPX_WORKSPACE`, else the one this tool was built in.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("RUMPX_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Whether the workspace's source tree is here (its `Cargo.toml`): not
/// when rumpx was installed as programs only, such as on a real dom0.
pub fn has_source_tree() -> bool {
    workspace_root().join("Cargo.toml").is_file()
}

/// The dom0 helper program `bin`: built from the source tree when it is
/// here ([`build_dom0_tool`]), else the program of that name next to the
/// running one (rumpx installed without its sources).
pub fn dom0_tool(bin: &str) -> Result<PathBuf> {
    if has_source_tree() {
        return build_dom0_tool(bin);
    }
    let exe = std::env::current_exe().map_err(|e| Error::Build {
        guest: bin.into(),
        detail: format!("cannot tell where the running program is: {e}"),
    })?;
    installed_beside(&exe, bin)
}

/// `bin` in the folder of `exe`, which must hold it.
fn installed_beside(exe: &Path, bin: &str) -> Result<PathBuf> {
    let path = exe.with_file_name(bin);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Build {
            guest: bin.into(),
            detail: format!(
                "there is no source tree to build it from ({} has no Cargo.toml) and {} \
                 does not exist: install {bin} next to {}",
                workspace_root().display(),
                path.display(),
                exe.display()
            ),
        })
    }
}

/// Builds guest package `guest` and returns the image's path.
pub fn build_guest(guest: &str) -> Result<PathBuf> {
    let root = workspace_root();
    if !root.join("guests").join(guest).join("Cargo.toml").exists() {
        return Err(Error::Build {
            guest: guest.into(),
            detail: format!("there is no guests/{guest} in {}", root.display()),
        });
    }
    let target_dir = root.join("target/guests");
    cargo_build(guest, &["--target", GUEST_TARGET, "-p", guest], &target_dir)?;
    Ok(target_dir.join(GUEST_TARGET).join("release").join(guest))
}

/// Builds one of rumpx's dom0 helper programs (such as `rumpx-grant-peek`)
/// for this machine, which is also what dom0 runs (Debian 12 on both sides).
pub fn build_dom0_tool(bin: &str) -> Result<PathBuf> {
    let target_dir = workspace_root().join("target/dom0-tools");
    cargo_build(bin, &["-p", "rumpx", "--bin", bin], &target_dir)?;
    Ok(target_dir.join("release").join(bin))
}

/// Builds one of rumpx's helper programs as a static executable (glibc
/// linked in), for a Linux guest whose initramfs has no C library. The
/// target is named so that `crt-static` applies to the program only, not
/// to the proc-macros and build scripts cargo runs on this machine.
pub fn build_static_tool(bin: &str) -> Result<PathBuf> {
    const HOST_TARGET: &str = "x86_64-unknown-linux-gnu";
    let target_dir = workspace_root().join("target/static-tools");
    let mut command = cargo_command(
        &["-p", "rumpx", "--bin", bin, "--target", HOST_TARGET],
        &target_dir,
    );
    command
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    run_build(bin, command)?;
    Ok(target_dir.join(HOST_TARGET).join("release").join(bin))
}

fn cargo_build(what: &str, args: &[&str], target_dir: &Path) -> Result<()> {
    run_build(what, cargo_command(args, target_dir))
}

/// `cargo build --release` of `args` into `target_dir`, from the workspace.
fn cargo_command(args: &[&str], target_dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--quiet"])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace_root());
    command
}

fn run_build(what: &str, mut command: Command) -> Result<()> {
    let output = command.output().map_err(|e| Error::Build {
        guest: what.into(),
        detail: format!("cannot run cargo: {e}"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Build {
            guest: what.into(),
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_sources_a_tool_is_the_program_beside_rumpx() {
        let dir = std::env::temp_dir().join(format!("rumpx-beside-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("rumpx");
        std::fs::write(dir.join("rumpx-ready"), b"").unwrap();
        assert_eq!(
            installed_beside(&exe, "rumpx-ready").unwrap(),
            dir.join("rumpx-ready")
        );
        let e = installed_beside(&exe, "rumpx-http-probe")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no source tree"), "{e}");
        assert!(
            e.contains(&dir.join("rumpx-http-probe").display().to_string()),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn this_checkout_is_a_source_tree() {
        assert!(has_source_tree());
    }
}
