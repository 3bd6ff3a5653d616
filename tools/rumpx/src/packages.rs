//! A cache of Debian packages for the embedded test host: fetched once with
//! `apt-get download` into a folder outside the repository, unpacked with
//! `dpkg -x`. Nothing is installed on the host this way.

use crate::error::{io_at, Error, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The package cache folder and the `.deb` files in it.
pub struct PackageCache {
    dir: PathBuf,
}

impl PackageCache {
    /// `$RUMPX_CACHE`, else `/var/cache/rumpx` for root, else `~/.cache/rumpx`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("RUMPX_CACHE") {
            return PathBuf::from(dir);
        }
        if is_root() {
            return PathBuf::from("/var/cache/rumpx");
        }
        let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
        home.join(".cache/rumpx")
    }

    /// Opens (creating) the cache at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(dir.join("debs")).map_err(io_at(&dir))?;
        Ok(PackageCache { dir })
    }

    /// The cache's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `.deb` of each named package, downloading the ones not cached yet.
    pub fn fetch(&self, packages: &[&str]) -> Result<Vec<PathBuf>> {
        let debs = self.dir.join("debs");
        let missing: Vec<&str> = packages
            .iter()
            .copied()
            .filter(|p| self.cached(p).is_none())
            .collect();
        if !missing.is_empty() {
            let output = Command::new("apt-get")
                .arg("download")
                .arg("-q")
                .args(&missing)
                .current_dir(&debs)
                .output()
                .map_err(|e| Error::Package {
                    package: missing.join(" "),
                    detail: format!("cannot run apt-get ({e}); the test host needs Debian's apt"),
                })?;
            if !output.status.success() {
                let said = String::from_utf8_lossy(&output.stderr);
                let hint = if said.contains("Unable to locate")
                    || said.contains("has no installation candidate")
                {
                    " (run `apt-get update` first)"
                } else {
                    ""
                };
                return Err(Error::Package {
                    package: missing.join(" "),
                    detail: format!("apt-get download failed{hint}: {}", last_lines(&said, 4)),
                });
            }
        }
        packages
            .iter()
            .map(|p| {
                self.cached(p).ok_or_else(|| Error::Package {
                    package: p.to_string(),
                    detail: "apt-get download reported success but left no .deb".into(),
                })
            })
            .collect()
    }

    /// The cached `.deb` of `package`: files are named `<name>_<version>_<arch>.deb`.
    fn cached(&self, package: &str) -> Option<PathBuf> {
        let prefix = format!("{package}_");
        let mut found: Vec<PathBuf> = fs::read_dir(self.dir.join("debs"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
            })
            .collect();
        found.sort();
        found.pop()
    }

    /// The package a Debian metapackage (such as `linux-image-amd64`) depends
    /// on whose name starts with `prefix`: a cached one if there is one, else
    /// what apt says today.
    pub fn resolve_metapackage(&self, meta: &str, prefix: &str) -> Result<String> {
        if let Ok(entries) = fs::read_dir(self.dir.join("debs")) {
            let mut cached: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| {
                    n.starts_with(prefix)
                        && n.ends_with(".deb")
                        && !n.starts_with(&format!("{meta}_"))
                })
                .filter_map(|n| n.split('_').next().map(str::to_string))
                .collect();
            cached.sort();
            if let Some(name) = cached.pop() {
                return Ok(name);
            }
        }
        let output = Command::new("apt-cache")
            .args(["depends", "--important", meta])
            .output()
            .map_err(|e| Error::Package {
                package: meta.into(),
                detail: format!("cannot run apt-cache: {e}"),
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends:"))
            .map(str::trim)
            .find(|name| name.starts_with(prefix))
            .map(str::to_string)
            .ok_or_else(|| Error::Package {
                package: meta.into(),
                detail: format!(
                    "apt-cache names no dependency starting with {prefix} (run `apt-get update` first?): {}",
                    last_lines(&String::from_utf8_lossy(&output.stderr), 3)
                ),
            })
    }
}

/// Unpacks `deb` into `dest` with `dpkg -x`.
pub fn extract(deb: &Path, dest: &Path) -> Result<()> {
    let output = Command::new("dpkg")
        .arg("-x")
        .arg(deb)
        .arg(dest)
        .output()
        .map_err(|e| Error::Package {
            package: deb.display().to_string(),
            detail: format!("cannot run dpkg: {e}"),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Package {
            package: deb.display().to_string(),
            detail: format!(
                "dpkg -x failed: {}",
                last_lines(&String::from_utf8_lossy(&output.stderr), 4)
            ),
        })
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The last `n` non-empty lines of a command's output, joined.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(last_lines("", 2), "");
    }

    #[test]
    fn finds_cached_debs_by_package_name() {
        let dir = std::env::temp_dir().join(format!("rumpx-pkg-test-{}", std::process::id()));
        let cache = PackageCache::open(&dir).unwrap();
        fs::write(dir.join("debs/libxenstore4_4.17.7_amd64.deb"), b"").unwrap();
        fs::write(
            dir.join("debs/linux-image-6.1.0-56-amd64_6.1.158-1_amd64.deb"),
            b"",
        )
        .unwrap();
        assert!(cache.cached("libxenstore4").is_some());
        assert!(cache.cached("libxen").is_none());
        assert_eq!(
            cache
                .resolve_metapackage("linux-image-amd64", "linux-image-")
                .unwrap(),
            "linux-image-6.1.0-56-amd64"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
