//! Reads xl domain configuration files (xl.cfg(5)) back into an
//! [`XlConfig`]: the settings `xl_config` writes (strings, numbers and
//! lists of strings, `#` comments), so a kept config can be checked.

use crate::error::{Error, Result};
use crate::xl_config::{Disk, DiskAccess, GuestType, ShutdownAction, TscMode, Vif, XlConfig};
use std::path::PathBuf;

/// One setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// `"text"` or `'text'`.
    Str(String),
    /// A whole number.
    Num(u32),
    /// `[ 'a', "b" ]`.
    List(Vec<String>),
}

fn invalid(line: usize, detail: impl Into<String>) -> Error {
    Error::Invalid {
        what: "xl config",
        detail: format!("line {line}: {}", detail.into()),
    }
}

/// Reads a quoted string starting at `s` (its opening quote); returns it
/// and the rest after the closing quote.
fn quoted(s: &str, line: usize) -> Result<(String, &str)> {
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next().filter(|(_, c)| matches!(c, '"' | '\'')) else {
        return Err(invalid(line, "expected a quoted string"));
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => out.push(e),
                None => break,
            },
            c if c == q => return Ok((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    Err(invalid(line, "unterminated string"))
}

/// Parses a value and checks nothing but a comment follows it.
fn value(s: &str, line: usize) -> Result<Value> {
    let s = s.trim_start();
    let (v, rest) = if s.starts_with(['"', '\'']) {
        let (text, rest) = quoted(s, line)?;
        (Value::Str(text), rest)
    } else if let Some(mut rest) = s.strip_prefix('[') {
        let mut items = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(']') {
                break (Value::List(items), after);
            }
            let (item, after) = quoted(rest, line)?;
            items.push(item);
            rest = after.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    } else {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let n = s[..end]
            .parse()
            .map_err(|_| invalid(line, format!("cannot read the value {s:?}")))?;
        (Value::Num(n), &s[end..])
    };
    let rest = rest.trim_start();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(invalid(
            line,
            format!("unexpected {rest:?} after the value"),
        ));
    }
    Ok(v)
}

/// Parses a `key=value,...` device spec into its pairs, in order.
fn pairs(spec: &str, line: usize) -> Result<Vec<(&str, &str)>> {
    spec.split(',')
        .map(|kv| {
            kv.split_once('=')
                .ok_or_else(|| invalid(line, format!("{kv:?} in {spec:?} is not key=value")))
        })
        .collect()
}

fn vif(spec: &str, line: usize) -> Result<Vif> {
    let mut vif = Vif::on_bridge("");
    for (k, v) in pairs(spec, line)? {
        match k {
            "bridge" => vif.bridge = v.into(),
            "mac" => vif.mac = Some(v.into()),
            "ip" => vif.ip = Some(v.into()),
            _ => {
                return Err(invalid(
                    line,
                    format!("vif key {k:?} is not one rumpx writes"),
                ))
            }
        }
    }
    Ok(vif)
}

fn disk(spec: &str, line: usize) -> Result<Disk> {
    let mut disk = Disk::raw("", "");
    for (k, v) in pairs(spec, line)? {
        match k {
            "format" if v == "raw" => {}
            "vdev" => disk.vdev = v.into(),
            "access" if v == "rw" => disk.access = DiskAccess::ReadWrite,
            "access" if v == "ro" => disk.access = DiskAccess::ReadOnly,
            "script" => disk.script = Some(v.into()),
            "target" => disk.target = PathBuf::from(v),
            _ => {
                return Err(invalid(
                    line,
                    format!("disk setting {k}={v} is not one rumpx writes"),
                ))
            }
        }
    }
    Ok(disk)
}

impl XlConfig {
    /// Reads a configuration in the form [`XlConfig::render`] writes;
    /// settings it does not write are refused.
    pub fn parse(text: &str) -> Result<XlConfig> {
        let mut cfg = XlConfig::new("", "");
        let (mut have_name, mut have_kernel) = (false, false);
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (key, rest) = trimmed
                .split_once('=')
                .ok_or_else(|| invalid(line, "expected key = value"))?;
            let key = key.trim();
            let v = value(rest, line)?;
            let word = |what: &str| match &v {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(invalid(line, format!("{key} must be a string ({what})"))),
            };
            let num = || match v {
                Value::Num(n) => Ok(n),
                _ => Err(invalid(line, format!("{key} must be a number"))),
            };
            let list = || match &v {
                Value::List(items) => Ok(items.clone()),
                _ => Err(invalid(line, format!("{key} must be a list"))),
            };
            let action = |s: String| {
                ShutdownAction::from_xl(&s)
                    .ok_or_else(|| invalid(line, format!("{key} = {s:?} is no action")))
            };
            match key {
                "type" => {
                    let s = word("pvh or pv")?;
                    cfg.guest_type = GuestType::from_xl(&s)
                        .ok_or_else(|| invalid(line, format!("type {s:?}")))?;
                }
                "name" => (cfg.name, have_name) = (word("the domain name")?, true),
                "kernel" => (cfg.kernel, have_kernel) = (word("a path")?.into(), true),
                "ramdisk" => cfg.ramdisk = Some(word("a path")?.into()),
                "memory" => cfg.memory_mib = num()?,
                "vcpus" => cfg.vcpus = num()?,
                "tsc_mode" => {
                    let s = word("a mode")?;
                    cfg.tsc_mode = Some(
                        TscMode::from_xl(&s)
                            .ok_or_else(|| invalid(line, format!("tsc_mode {s:?}")))?,
                    );
                }
                "extra" => cfg.extra = Some(word("the command line")?),
                "vif" => {
                    cfg.vifs = list()?
                        .iter()
                        .map(|s| vif(s, line))
                        .collect::<Result<_>>()?
                }
                "disk" => {
                    cfg.disks = list()?
                        .iter()
                        .map(|s| disk(s, line))
                        .collect::<Result<_>>()?
                }
                "on_poweroff" => cfg.on_poweroff = action(word("an action")?)?,
                "on_reboot" => cfg.on_reboot = action(word("an action")?)?,
                "on_crash" => cfg.on_crash = action(word("an action")?)?,
                other => {
                    return Err(invalid(
                        line,
                        format!("{other} is not a setting rumpx writes"),
                    ))
                }
            }
        }
        if !have_name || !have_kernel {
            return Err(invalid(0, "a config needs name and kernel"));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_rendered_reads_back_the_same() {
        let mut cfg = XlConfig::new("httpd", "/abs/target/httpd");
        cfg.memory_mib = 48;
        cfg.vcpus = 2;
        cfg.tsc_mode = Some(TscMode::Native);
        cfg.ramdisk = Some("/abs/initrd".into());
        cfg.extra = Some("port=80 say=\"a 'b' \\c\"".into());
        let mut vif = Vif::on_bridge("xenbr0");
        vif.ip = Some("10.99.0.20/24".into());
        vif.mac = Some("00:16:3e:00:00:20".into());
        cfg.vifs = vec![vif, Vif::on_bridge("xenbr1")];
        cfg.disks = vec![
            Disk::raw("xvda", "/abs/www.img"),
            Disk::raw("xvdb", "/dev/loop0")
                .read_only()
                .with_script("block-rumpx"),
        ];
        cfg.on_crash = ShutdownAction::Preserve;
        cfg.on_reboot = ShutdownAction::Restart;
        cfg.guest_type = GuestType::Pv;
        let text = cfg.render().unwrap();
        assert_eq!(XlConfig::parse(&text).unwrap(), cfg, "{text}");
        let plain = XlConfig::new("a", "/k");
        assert_eq!(XlConfig::parse(&plain.render().unwrap()).unwrap(), plain);
    }

    #[test]
    fn refuses_what_it_cannot_read_with_the_line() {
        let bad = |text: &str| XlConfig::parse(text).unwrap_err().to_string();
        assert!(bad("name = \"a\"\nkernel = \"/k\"\nmemory = \"x\"\n").contains("line 3"));
        assert!(bad("name = \"a\"\nkernel = \"/k\"\nbuilder = \"hvm\"\n").contains("builder"));
        assert!(bad("name = \"a\nkernel = \"/k\"\n").contains("line 1"));
        assert!(bad("name = \"a\"\n").contains("name and kernel"));
        assert!(bad("name = \"a\" junk\nkernel = \"/k\"\n").contains("unexpected"));
        assert!(bad("name = \"a\"\nkernel = \"/k\"\nvif = [ 'bridge' ]\n").contains("key=value"));
        assert!(
            bad("name = \"a\"\nkernel = \"/k\"\non_crash = \"explode\"\n").contains("no action")
        );
        let ok = XlConfig::parse("# c\nname = 'a' # the name\nkernel = \"/k\"\n").unwrap();
        assert_eq!(ok.name, "a");
    }
}
