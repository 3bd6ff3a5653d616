//! A guest package's defaults for `rumpx run` and `rumpx cfg`: the
//! `[package.metadata.rumpx]` table of `guests/<name>/Cargo.toml`
//! (`memory`, `disk`, `net`, `port`, `forward`).

use crate::error::{io_at, Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The host port a guest's service is forwarded to when its package does
/// not name one.
pub const DEFAULT_FORWARD_PORT: u16 = 8080;

/// What a guest package asks for by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestDefaults {
    /// Memory in MiB (`memory`).
    pub memory_mib: Option<u32>,
    /// A folder (absolute here; relative to the package in the file) made
    /// into an ext2 image and attached as xvda (`disk`).
    pub disk_dir: Option<PathBuf>,
    /// Whether the guest gets a network interface (`net`).
    pub net: bool,
    /// The TCP port the guest serves on (`port`).
    pub port: Option<u16>,
    /// The host port its service is forwarded to (`forward`).
    pub forward: u16,
}

impl Default for GuestDefaults {
    fn default() -> Self {
        GuestDefaults {
            memory_mib: None,
            disk_dir: None,
            net: false,
            port: None,
            forward: DEFAULT_FORWARD_PORT,
        }
    }
}

/// Reads the defaults of the package whose manifest is `manifest`; a
/// package without the table has none.
pub fn read(manifest: &Path) -> Result<GuestDefaults> {
    let text = fs::read_to_string(manifest).map_err(io_at(manifest))?;
    let package_dir = manifest.parent().unwrap_or(Path::new("."));
    parse(&text, package_dir).map_err(|detail| Error::Invalid {
        what: "[package.metadata.rumpx]",
        detail: format!("{}: {detail}", manifest.display()),
    })
}

/// Parses a manifest's text; `package_dir` anchors the `disk` folder.
pub fn parse(text: &str, package_dir: &Path) -> std::result::Result<GuestDefaults, String> {
    let manifest: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut defaults = GuestDefaults::default();
    let Some(table) = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("rumpx"))
    else {
        return Ok(defaults);
    };
    let table = table.as_table().ok_or("it is not a table")?;
    for (key, value) in table {
        let int = |lo: i64, hi: i64| {
            value
                .as_integer()
                .filter(|v| (lo..=hi).contains(v))
                .ok_or_else(|| format!("{key} = {value}: expected a whole number {lo} to {hi}"))
        };
        match key.as_str() {
            "memory" => defaults.memory_mib = Some(int(1, 1 << 20)? as u32),
            "port" => defaults.port = Some(int(1, 65535)? as u16),
            "forward" => defaults.forward = int(1, 65535)? as u16,
            "net" => {
                defaults.net = value
                    .as_bool()
                    .ok_or_else(|| format!("net = {value}: expected true or false"))?
            }
            "disk" => {
                let rel = value
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| format!("disk = {value}: expected a folder name"))?;
                defaults.disk_dir = Some(package_dir.join(rel));
            }
            other => return Err(format!("unknown key {other:?}")),
        }
    }
    Ok(defaults)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rumpx_table() {
        let text = "[package]\nname = \"httpd\"\n\n[package.metadata.rumpx]\n\
                    memory = 32\ndisk = \"www\"\nnet = true\nport = 80\nforward = 8080\n";
        let d = parse(text, Path::new("/ws/guests/httpd")).unwrap();
        assert_eq!(
            d,
            GuestDefaults {
                memory_mib: Some(32),
                disk_dir: Some("/ws/guests/httpd/www".into()),
                net: true,
                port: Some(80),
                forward: 8080,
            }
        );
        let plain = parse("[package]\nname = \"hello\"\n", Path::new("/g")).unwrap();
        assert_eq!(plain, GuestDefaults::default());
    }

    #[test]
    fn refuses_bad_values_with_the_key() {
        let bad = |body: &str| {
            parse(
                &format!("[package.metadata.rumpx]\n{body}\n"),
                Path::new("/g"),
            )
            .unwrap_err()
        };
        assert!(bad("port = 70000").contains("port = 70000"));
        assert!(bad("memory = \"lots\"").contains("memory"));
        assert!(bad("net = 1").contains("true or false"));
        assert!(bad("disk = \"\"").contains("folder"));
        assert!(bad("colour = 1").contains("unknown key"));
        assert!(parse("[package\n", Path::new("/g")).is_err());
        let err = read(Path::new("/nonexistent/Cargo.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/Cargo.toml"), "{err}");
    }
}
