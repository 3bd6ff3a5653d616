//! Writes plain xl domain configuration files (xl.cfg(5)) for PVH (and PV)
//! guests: the same file a user keeps and starts with `xl create`.

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the toolstack does when the guest shuts down for a given reason
/// (xl.cfg's `on_poweroff`, `on_reboot`, `on_crash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownAction {
    /// Destroy the domain.
    Destroy,
    /// Start it again.
    Restart,
    /// Keep the dead domain around for inspection.
    Preserve,
}

impl ShutdownAction {
    fn as_xl(self) -> &'static str {
        match self {
            ShutdownAction::Destroy => "destroy",
            ShutdownAction::Restart => "restart",
            ShutdownAction::Preserve => "preserve",
        }
    }

    /// The action named `word` in xl.cfg.
    pub fn from_xl(word: &str) -> Option<Self> {
        [Self::Destroy, Self::Restart, Self::Preserve]
            .into_iter()
            .find(|a| a.as_xl() == word)
    }
}

/// How the guest is booted (xl.cfg's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestType {
    /// `type = "pvh"`: a hardware-virtualized guest without emulated devices,
    /// entered at its `XEN_ELFNOTE_PHYS32_ENTRY`. What rumpx guests are.
    Pvh,
    /// `type = "pv"`: a paravirtualized guest (no hardware virtualization needed).
    Pv,
}

impl GuestType {
    fn as_xl(self) -> &'static str {
        match self {
            GuestType::Pvh => "pvh",
            GuestType::Pv => "pv",
        }
    }

    /// The type named `word` in xl.cfg.
    pub fn from_xl(word: &str) -> Option<Self> {
        [Self::Pvh, Self::Pv]
            .into_iter()
            .find(|t| t.as_xl() == word)
    }

    /// The upper-case name used in reports and comments.
    pub fn label(self) -> &'static str {
        match self {
            GuestType::Pvh => "PVH",
            GuestType::Pv => "PV",
        }
    }
}

/// How the guest's TSC is offered (xl.cfg's `tsc_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TscMode {
    /// `default`: Xen decides (it traps RDTSC(P) when the TSC is not invariant).
    Default,
    /// `always_emulate`: every TSC read traps.
    AlwaysEmulate,
    /// `native`: the guest reads the hardware TSC. A Linux guest needs this
    /// on the test host, where Xen fails to emulate a trapped RDTSCP.
    Native,
    /// `native_paravirt`: native, with the PV clock advertised.
    NativeParavirt,
}

impl TscMode {
    fn as_xl(self) -> &'static str {
        match self {
            TscMode::Default => "default",
            TscMode::AlwaysEmulate => "always_emulate",
            TscMode::Native => "native",
            TscMode::NativeParavirt => "native_paravirt",
        }
    }

    /// The mode named `word` in xl.cfg.
    pub fn from_xl(word: &str) -> Option<Self> {
        [
            Self::Default,
            Self::AlwaysEmulate,
            Self::Native,
            Self::NativeParavirt,
        ]
        .into_iter()
        .find(|m| m.as_xl() == word)
    }
}

/// A virtual network interface (one entry of xl.cfg's `vif` list, see
/// xl-network-configuration(5)): a netback in dom0 attached to a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    /// The dom0 bridge the backend joins (`bridge=`).
    pub bridge: String,
    /// The guest's MAC address (`mac=`); xl picks a random 00:16:3e one if None.
    pub mac: Option<String>,
    /// The guest's IPv4 address (`ip=`), published in xenstore for the guest.
    pub ip: Option<String>,
}

impl Vif {
    /// An interface on `bridge` with xl's defaults for the rest.
    pub fn on_bridge(bridge: impl Into<String>) -> Self {
        Vif {
            bridge: bridge.into(),
            mac: None,
            ip: None,
        }
    }

    /// The vif spec string; refuses values that would break xl's
    /// `key=value,...` syntax.
    fn render(&self) -> Result<String> {
        let mut parts = vec![("bridge", self.bridge.as_str())];
        parts.extend(self.mac.as_deref().map(|m| ("mac", m)));
        parts.extend(self.ip.as_deref().map(|i| ("ip", i)));
        let mut out = Vec::new();
        for (key, value) in parts {
            let fine = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '/'));
            if !fine {
                return Err(Error::Invalid {
                    what: "vif setting",
                    detail: format!("{key}={value:?}: use letters, digits and . : - _ /"),
                });
            }
            out.push(format!("{key}={value}"));
        }
        Ok(out.join(","))
    }
}

/// How a guest may use a virtual disk (the `access=` of xl-disk-configuration(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskAccess {
    /// Read and write (`rw`).
    ReadWrite,
    /// Read only (`ro`): the backend refuses writes and tells the guest so.
    ReadOnly,
}

/// A virtual block device (one entry of xl.cfg's `disk` list, see
/// xl-disk-configuration(5)): a raw image file in dom0 that Linux blkback
/// serves to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The image, as the toolstack sees it (`target=`).
    pub target: PathBuf,
    /// The guest's name for it (`vdev=`), such as `xvda`.
    pub vdev: String,
    /// `access=`.
    pub access: DiskAccess,
    /// The dom0 hotplug script that sets the disk up (`script=`, a name in
    /// /etc/xen/scripts); xl's default (`block`) when None.
    pub script: Option<String>,
}

impl Disk {
    /// A raw image `target` the guest sees read-write as `vdev`.
    pub fn raw(vdev: impl Into<String>, target: impl Into<PathBuf>) -> Self {
        Disk {
            target: target.into(),
            vdev: vdev.into(),
            access: DiskAccess::ReadWrite,
            script: None,
        }
    }

    /// The same disk set up by the hotplug script `script` instead of xl's
    /// default.
    pub fn with_script(mut self, script: impl Into<String>) -> Self {
        self.script = Some(script.into());
        self
    }

    /// The same disk offered read-only.
    pub fn read_only(mut self) -> Self {
        self.access = DiskAccess::ReadOnly;
        self
    }

    /// The disk spec string (`target=` last, as xl requires); refuses values
    /// that would break its `key=value,...` syntax.
    fn render(&self) -> Result<String> {
        let word = |w: &str| {
            !w.is_empty()
                && w.len() <= 32
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !word(&self.vdev) {
            return Err(Error::Invalid {
                what: "disk vdev",
                detail: format!("{:?}: use letters and digits, such as xvda", self.vdev),
            });
        }
        if let Some(script) = self.script.as_deref().filter(|s| !word(s)) {
            return Err(Error::Invalid {
                what: "disk hotplug script",
                detail: format!("{script:?}: use a plain name in /etc/xen/scripts"),
            });
        }
        let target = utf8_path("disk image path", &self.target)?;
        if target.is_empty() || target.contains([',', '\'', '"', '\n']) {
            return Err(Error::Invalid {
                what: "disk image path",
                detail: format!("{target:?}: no commas, quotes or newlines"),
            });
        }
        let access = match self.access {
            DiskAccess::ReadWrite => "rw",
            DiskAccess::ReadOnly => "ro",
        };
        let script = self
            .script
            .as_deref()
            .map(|s| format!("script={s},"))
            .unwrap_or_default();
        Ok(format!(
            "format=raw,vdev={},access={access},{script}target={target}",
            self.vdev
        ))
    }
}

/// A guest's xl configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlConfig {
    /// How the guest boots (`type`).
    pub guest_type: GuestType,
    /// The domain name (`name`).
    pub name: String,
    /// The guest image, as the toolstack will see the path (`kernel`).
    pub kernel: PathBuf,
    /// An initial ramdisk handed to the kernel (`ramdisk`), as the toolstack
    /// will see the path; xl unpacks a gzip'd one itself.
    pub ramdisk: Option<PathBuf>,
    /// Memory in MiB (`memory`).
    pub memory_mib: u32,
    /// Virtual CPUs (`vcpus`).
    pub vcpus: u32,
    /// `tsc_mode`, when not left to xl.
    pub tsc_mode: Option<TscMode>,
    /// The guest's command line (`extra`), if any.
    pub extra: Option<String>,
    /// Network interfaces (`vif`), in device order.
    pub vifs: Vec<Vif>,
    /// Virtual disks (`disk`), in device order.
    pub disks: Vec<Disk>,
    /// `on_poweroff`.
    pub on_poweroff: ShutdownAction,
    /// `on_reboot`.
    pub on_reboot: ShutdownAction,
    /// `on_crash`.
    pub on_crash: ShutdownAction,
}

impl XlConfig {
    /// A one-vCPU, 32 MiB PVH guest that is destroyed however it ends, so
    /// that `xl create -F` returns with the shutdown reason.
    pub fn new(name: impl Into<String>, kernel: impl Into<PathBuf>) -> Self {
        XlConfig {
            guest_type: GuestType::Pvh,
            name: name.into(),
            kernel: kernel.into(),
            ramdisk: None,
            memory_mib: 32,
            vcpus: 1,
            tsc_mode: None,
            extra: None,
            vifs: Vec::new(),
            disks: Vec::new(),
            on_poweroff: ShutdownAction::Destroy,
            on_reboot: ShutdownAction::Destroy,
            on_crash: ShutdownAction::Destroy,
        }
    }

    /// The configuration file's text; refuses values xl would misread.
    pub fn render(&self) -> Result<String> {
        check_name(&self.name)?;
        if self.memory_mib == 0 || self.vcpus == 0 {
            return Err(Error::Invalid {
                what: "guest size",
                detail: format!(
                    "memory {} MiB, vcpus {}: both must be at least 1",
                    self.memory_mib, self.vcpus
                ),
            });
        }
        let kernel = utf8_path("kernel path", &self.kernel)?;
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# xl.cfg(5) for a rumpx {} guest; start it with `xl create <this file>`",
            self.guest_type.label()
        );
        let _ = writeln!(out, "type = \"{}\"", self.guest_type.as_xl());
        let _ = writeln!(out, "name = {}", quote("name", &self.name)?);
        let _ = writeln!(out, "kernel = {}", quote("kernel path", kernel)?);
        if let Some(ramdisk) = &self.ramdisk {
            let ramdisk = utf8_path("ramdisk path", ramdisk)?;
            let _ = writeln!(out, "ramdisk = {}", quote("ramdisk path", ramdisk)?);
        }
        let _ = writeln!(out, "memory = {}", self.memory_mib);
        let _ = writeln!(out, "vcpus = {}", self.vcpus);
        if let Some(mode) = self.tsc_mode {
            let _ = writeln!(out, "tsc_mode = \"{}\"", mode.as_xl());
        }
        if let Some(extra) = &self.extra {
            let _ = writeln!(out, "extra = {}", quote("command line", extra)?);
        }
        if !self.vifs.is_empty() {
            let specs = self
                .vifs
                .iter()
                .map(|v| Ok(format!("'{}'", v.render()?)))
                .collect::<Result<Vec<_>>>()?;
            let _ = writeln!(out, "vif = [ {} ]", specs.join(", "));
        }
        if !self.disks.is_empty() {
            let specs = self
                .disks
                .iter()
                .map(|d| Ok(format!("'{}'", d.render()?)))
                .collect::<Result<Vec<_>>>()?;
            let _ = writeln!(out, "disk = [ {} ]", specs.join(", "));
        }
        let _ = writeln!(out, "on_poweroff = \"{}\"", self.on_poweroff.as_xl());
        let _ = writeln!(out, "on_reboot = \"{}\"", self.on_reboot.as_xl());
        let _ = writeln!(out, "on_crash = \"{}\"", self.on_crash.as_xl());
        Ok(out)
    }
}

/// A path as the UTF-8 text xl.cfg holds.
fn utf8_path<'a>(what: &'static str, path: &'a Path) -> Result<&'a str> {
    path.to_str().ok_or_else(|| Error::Invalid {
        what,
        detail: format!("{} is not UTF-8", path.display()),
    })
}

/// Domain names: what xl and xenstore paths accept without surprises.
fn check_name(name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('-');
    if fine {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "domain name",
            detail: format!("{name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"),
        })
    }
}

/// A double-quoted xl.cfg string. xl's parser understands `\\` and `\"`;
/// control characters (a newline above all) cannot be expressed and are refused.
fn quote(what: &'static str, value: &str) -> Result<String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Error::Invalid {
            what,
            detail: format!("{value:?} contains the control character {c:?}"),
        });
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_pvh_guest() {
        let mut cfg = XlConfig::new("hello", "/share/jobs/1/hello");
        cfg.extra = Some("greeting=\"hi\" path=C:\\x".into());
        cfg.memory_mib = 16;
        cfg.on_crash = ShutdownAction::Preserve;
        assert_eq!(
            cfg.render().unwrap(),
            "# xl.cfg(5) for a rumpx PVH guest; start it with `xl create <this file>`\n\
             type = \"pvh\"\n\
             name = \"hello\"\n\
             kernel = \"/share/jobs/1/hello\"\n\
             memory = 16\n\
             vcpus = 1\n\
             extra = \"greeting=\\\"hi\\\" path=C:\\\\x\"\n\
             on_poweroff = \"destroy\"\n\
             on_reboot = \"destroy\"\n\
             on_crash = \"preserve\"\n"
        );
    }

    #[test]
    fn renders_network_interfaces() {
        let mut cfg = XlConfig::new("net", "/k");
        cfg.vifs.push(Vif::on_bridge("xenbr0"));
        cfg.vifs.push(Vif {
            bridge: "xenbr1".into(),
            mac: Some("00:16:3e:00:00:02".into()),
            ip: Some("10.99.0.2".into()),
        });
        let text = cfg.render().unwrap();
        assert!(
            text.contains(
                "vif = [ 'bridge=xenbr0', 'bridge=xenbr1,mac=00:16:3e:00:00:02,ip=10.99.0.2' ]\n"
            ),
            "{text}"
        );
        cfg.vifs[0].bridge = "br0,script=evil".into();
        assert!(cfg.render().is_err());
    }

    #[test]
    fn renders_a_linux_guest_with_a_ramdisk() {
        let mut cfg = XlConfig::new("linux", "/share/jobs/2/kernel");
        cfg.ramdisk = Some("/share/jobs/2/ramdisk".into());
        cfg.tsc_mode = Some(TscMode::Native);
        cfg.memory_mib = 128;
        cfg.extra = Some("console=hvc0 rumpx.ip=10.99.0.3/24".into());
        assert_eq!(
            cfg.render().unwrap(),
            "# xl.cfg(5) for a rumpx PVH guest; start it with `xl create <this file>`\n\
             type = \"pvh\"\n\
             name = \"linux\"\n\
             kernel = \"/share/jobs/2/kernel\"\n\
             ramdisk = \"/share/jobs/2/ramdisk\"\n\
             memory = 128\n\
             vcpus = 1\n\
             tsc_mode = \"native\"\n\
             extra = \"console=hvc0 rumpx.ip=10.99.0.3/24\"\n\
             on_poweroff = \"destroy\"\n\
             on_reboot = \"destroy\"\n\
             on_crash = \"destroy\"\n"
        );
        cfg.guest_type = GuestType::Pv;
        let text = cfg.render().unwrap();
        assert!(text.contains("type = \"pv\"\n"), "{text}");
        assert!(
            text.starts_with("# xl.cfg(5) for a rumpx PV guest"),
            "{text}"
        );
        cfg.ramdisk = Some("/share/x\"y\nz".into());
        assert!(cfg.render().is_err());
    }

    #[test]
    fn renders_disks_in_order_and_refuses_bad_ones() {
        let mut cfg = XlConfig::new("blk", "/k");
        cfg.disks = vec![
            Disk::raw("xvda", "/run/rumpx/a.img"),
            Disk::raw("xvdb", "/run/rumpx/b.img").read_only(),
            Disk::raw("xvdc", "/dev/loop3").with_script("block-rumpx"),
        ];
        let text = cfg.render().unwrap();
        assert!(
            text.contains(
                "disk = [ 'format=raw,vdev=xvda,access=rw,target=/run/rumpx/a.img', \
                 'format=raw,vdev=xvdb,access=ro,target=/run/rumpx/b.img', \
                 'format=raw,vdev=xvdc,access=rw,script=block-rumpx,target=/dev/loop3' ]\n"
            ),
            "{text}"
        );
        cfg.disks[0].target = "/a,script=evil".into();
        assert!(cfg.render().is_err());
        cfg.disks[0] = Disk::raw("xvd a", "/a");
        assert!(cfg.render().is_err());
        cfg.disks[0] = Disk::raw("xvda", "/a").with_script("../evil");
        assert!(cfg.render().is_err());
    }

    #[test]
    fn leaves_out_extra_when_there_is_none() {
        let text = XlConfig::new("a", "/k").render().unwrap();
        assert!(!text.contains("extra"));
        assert!(!text.contains("ramdisk"));
        assert!(!text.contains("tsc_mode"));
        assert!(!text.contains("disk"));
    }

    #[test]
    fn refuses_what_xl_would_misread() {
        assert!(XlConfig::new("two words", "/k").render().is_err());
        assert!(XlConfig::new("", "/k").render().is_err());
        assert!(XlConfig::new("-x", "/k").render().is_err());
        let mut cfg = XlConfig::new("ok", "/k");
        cfg.extra = Some("line\nbreak".into());
        assert!(cfg.render().is_err());
        let mut cfg = XlConfig::new("ok", "/k");
        cfg.memory_mib = 0;
        assert!(cfg.render().is_err());
    }
}
