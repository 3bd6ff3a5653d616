//! Disk images staged in the test host's dom0 (its [`Dom0::attach_disk`]
//! and [`Dom0::release_disks`]): copied through the share into dom0's
//! tmpfs and attached to a free loop device for the `block-rumpx` hotplug
//! script; afterwards the loop devices are freed and what a guest wrote to
//! a writable disk is copied back to the image file.
//!
//! [`Dom0::attach_disk`]: crate::dom0::Dom0::attach_disk
//! [`Dom0::release_disks`]: crate::dom0::Dom0::release_disks

use crate::dom0::AttachedDisk;
use crate::error::{Error, Result};
use crate::test_host::TestHost;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The dom0 hotplug script for loop-device disks (tools/rumpx/dom0/block-rumpx).
pub const BLOCK_SCRIPT: &str = "block-rumpx";
/// The share's folder for disk images on their way into dom0 (and back).
const SHARE_DIR: &str = "disks";
/// Where dom0 keeps its copies of the images (a tmpfs).
const DOM0_DIR: &str = "/run/rumpx-disks";
/// How long dom0 may take to copy and attach, or to free and copy back.
const DOM0_TIMEOUT: Duration = Duration::from_secs(300);

/// What a staged disk leaves to undo.
#[derive(Debug, Clone)]
pub(crate) struct StagedCopy {
    /// The loop device blkback serves.
    dev: String,
    /// dom0's copy of the image.
    dom0_image: String,
    /// The image in the share, as dom0 sees it.
    shared: PathBuf,
    /// The image in the share, as this machine sees it.
    shared_here: Option<PathBuf>,
    /// The image file on this machine.
    original: PathBuf,
}

/// Copies `image` into dom0 as `name` and attaches the copy to a free
/// loop device (read-only if asked).
pub(crate) fn attach(
    host: &TestHost,
    image: &Path,
    name: &str,
    read_only: bool,
) -> Result<AttachedDisk> {
    let name = file_name(name);
    if !image.is_file() {
        return Err(Error::Invalid {
            what: "disk image",
            detail: format!("{} is not a file", image.display()),
        });
    }
    let shared = host.share_file(image, SHARE_DIR, &name)?;
    let shared_here = host.host_path(&shared);
    let dom0_image = format!("{DOM0_DIR}/{name}");
    let out = host.dom0_exec(
        &attach_script(&shared, &dom0_image, read_only),
        DOM0_TIMEOUT,
    );
    let dev = out.and_then(|out| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("loop "))
            .map(|d| d.trim().to_string())
            .filter(|d| d.starts_with("/dev/loop"))
            .ok_or_else(|| {
                Error::TestHost(format!(
                    "dom0 could not set up the disk {}: {}{}",
                    image.display(),
                    out.stdout,
                    out.stderr
                ))
            })
    });
    let dev = match dev {
        Ok(dev) => dev,
        Err(e) => {
            if let Some(p) = &shared_here {
                let _ = fs::remove_file(p);
            }
            return Err(e);
        }
    };
    Ok(AttachedDisk {
        target: PathBuf::from(&dev),
        script: Some(BLOCK_SCRIPT.into()),
        read_only,
        staged: Some(StagedCopy {
            dev,
            dom0_image,
            shared,
            shared_here,
            original: image.to_path_buf(),
        }),
    })
}

/// Frees the loop devices, copies the writable images back to their files
/// on this machine and removes every copy.
pub(crate) fn release(host: &TestHost, disks: &[AttachedDisk]) -> Result<()> {
    let staged: Vec<(&StagedCopy, bool)> = disks
        .iter()
        .filter_map(|d| d.staged.as_ref().map(|s| (s, d.read_only)))
        .collect();
    if staged.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    let failed: Vec<String> = match host.dom0_exec(&release_script(&staged), DOM0_TIMEOUT) {
        Ok(out) => out.stdout.lines().map(str::to_string).collect(),
        Err(e) => {
            problems.push(e.to_string());
            staged.iter().map(|(s, _)| s.dev.clone()).collect()
        }
    };
    for (copy, read_only) in &staged {
        let stuck = failed
            .iter()
            .any(|l| l.split_whitespace().last() == Some(copy.dev.as_str()));
        if let (false, false, Some(here)) = (*read_only, stuck, &copy.shared_here) {
            if let Err(e) = fs::copy(here, &copy.original) {
                problems.push(format!(
                    "could not copy {} back: {e}",
                    copy.original.display()
                ));
            }
        }
        if let Some(here) = &copy.shared_here {
            let _ = fs::remove_file(here);
        }
    }
    problems.extend(failed);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::TestHost(format!(
            "releasing disks in dom0: {}",
            problems.join("; ")
        )))
    }
}

/// `name` as one plain file name for dom0's scripts: characters other
/// than letters, digits, '-', '_' and '.' become '_', as does a leading '.'.
fn file_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

/// The dom0 script behind [`attach`]: it prints `loop <device>`.
fn attach_script(src: &Path, dom0_image: &str, read_only: bool) -> String {
    format!(
        "set -e\nmkdir -p {DOM0_DIR}\ncp {src} {dom0_image}\n\
         echo \"loop $(losetup -f --show {ro}{dom0_image})\"\n",
        src = src.display(),
        ro = if read_only { "-r " } else { "" },
    )
}

/// The dom0 script behind [`release`]: frees each loop device, copies each
/// writable image back into the share, removes dom0's copies; it prints
/// `cannot free DEV` or `cannot copy back DEV` for what failed.
fn release_script(staged: &[(&StagedCopy, bool)]) -> String {
    let mut script = String::new();
    for (copy, read_only) in staged {
        let (dev, img) = (&copy.dev, &copy.dom0_image);
        script += &format!("if losetup -d {dev}; then\n");
        if !read_only {
            script += &format!(
                "    cp {img} {} || echo \"cannot copy back {dev}\"\n",
                copy.shared.display()
            );
        }
        script += &format!("    rm -f {img}\nelse\n    echo \"cannot free {dev}\"\nfi\n");
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_attach_script_makes_the_folder_copies_and_attaches() {
        let script = attach_script(
            Path::new("/share/disks/d.img"),
            "/run/rumpx-disks/d.img",
            false,
        );
        assert_eq!(
            script,
            "set -e\nmkdir -p /run/rumpx-disks\ncp /share/disks/d.img /run/rumpx-disks/d.img\n\
             echo \"loop $(losetup -f --show /run/rumpx-disks/d.img)\"\n"
        );
        let ro = attach_script(Path::new("/s/d.img"), "/run/rumpx-disks/e.img", true);
        assert!(
            ro.contains("losetup -f --show -r /run/rumpx-disks/e.img"),
            "{ro}"
        );
    }

    #[test]
    fn disk_names_stay_one_file_name() {
        assert_eq!(
            file_name("rumpx-test-httpd-www1-xvda.img"),
            "rumpx-test-httpd-www1-xvda.img"
        );
        assert_eq!(file_name("a/b c;$(x).img"), "a_b_c___x_.img");
        assert_eq!(file_name(".."), "_..");
        assert_eq!(file_name(""), "_");
    }

    /// Against a stand-in `losetup` that cannot free /dev/loop7 (still
    /// held by a guest): the others are freed and their images removed,
    /// the writable one copied back first; the stuck one is named and its
    /// image kept.
    #[test]
    fn the_release_script_frees_every_loop_and_names_the_stuck_ones() {
        let dir = std::env::temp_dir().join(format!("rumpx-release-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("share")).unwrap();
        let copy = |dev: &str, img: &str| StagedCopy {
            dev: dev.into(),
            dom0_image: dir.join(img).display().to_string(),
            shared: dir.join("share").join(img),
            shared_here: None,
            original: img.into(),
        };
        for img in ["a.img", "b.img", "c.img"] {
            fs::write(dir.join(img), img).unwrap();
        }
        let (a, b, c) = (
            copy("/dev/loop3", "a.img"),
            copy("/dev/loop7", "b.img"),
            copy("/dev/loop4", "c.img"),
        );
        let log = dir.join("freed");
        let losetup = dir.join("losetup");
        fs::write(
            &losetup,
            format!(
                "#!/bin/bash\n[ \"$2\" = /dev/loop7 ] && exit 1\necho \"$2\" >> {}\n",
                log.display()
            ),
        )
        .unwrap();
        Command::new("chmod")
            .arg("+x")
            .arg(&losetup)
            .status()
            .unwrap();
        let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
        let script = release_script(&[(&a, true), (&b, false), (&c, false)]);
        let out = Command::new("bash")
            .args(["-c", &script])
            .env("PATH", path)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "cannot free /dev/loop7\n"
        );
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "/dev/loop3\n/dev/loop4\n"
        );
        assert!(!dir.join("a.img").exists() && !dir.join("c.img").exists());
        assert!(dir.join("b.img").exists());
        assert!(
            !dir.join("share/a.img").exists(),
            "a read-only disk is not copied back"
        );
        assert_eq!(
            fs::read_to_string(dir.join("share/c.img")).unwrap(),
            "c.img"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
