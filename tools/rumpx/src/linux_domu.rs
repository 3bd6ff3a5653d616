//! The Linux DomU that benchmarks compare rumpx guests with: the kernel of
//! the Debian package dom0 boots (unpacked here from its bzImage into the
//! ELF inside), and a small initramfs written here (our
//! cpio writer; busybox from `busybox-static`; `xen-netfront`,
//! `xen-blkfront`, `ext4` (which also mounts ext2) and what they depend on;
//! a static `rumpx-disk-probe`; the init script `linux-domu/init`). For
//! `rumpx bench net` it brings eth0 up with the address on the kernel
//! command line and serves a TCP sink (port 9) and echo (port 7); for
//! `rumpx bench blk` it runs `rumpx-disk-probe bench` on the disk the
//! command line names and powers off; for `rumpx bench http` it mounts an
//! ext2 disk and serves it with busybox's `httpd` on port 80. Built once
//! into the package cache and reused while its inputs (the package files,
//! the probe and our scripts) stay the same.

use crate::build_cache;
use crate::bzimage::{check_bzimage, PayloadCompression};
use crate::cpio::CpioWriter;
use crate::dom0_image::KERNEL_METAPACKAGE;
use crate::error::{io_at, Error, Result};
use crate::fingerprint::fnv1a;
use crate::kernel_modules;
use crate::packages::{self, last_lines, PackageCache};
use crate::pvh_elf::check_pvh_image;
use crate::qemu::which;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The package besides the kernel that the initramfs is made of.
const BUSYBOX_PACKAGE: &str = "busybox-static";

/// Kernel modules the guest loads (with their dependencies, in load order).
/// (`crc32c_generic`: what ext4 asks the crypto API for on file systems
/// with checksums; it has no `depends=` on it.)
pub const MODULES: &[&str] = &["xen-netfront", "xen-blkfront", "crc32c_generic", "ext4"];

/// The busybox applets the init script and the kernel run, linked in `bin`
/// (and `sbin` is a link to `bin`: the kernel runs `/sbin/poweroff` when
/// Xen asks the guest to shut down).
pub const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "insmod", "ip", "mount", "nc", "sleep", "poweroff", "reboot", "halt",
    "dmesg", "grep", "httpd",
];

/// The guest's init script.
const INIT: &str = include_str!("../linux-domu/init");
/// The program serving one TCP sink connection.
const SINK: &str = include_str!("../linux-domu/rumpx-sink");

/// What the init script prints once its services listen.
pub const READY_MARKER: &str = "rumpx-linux: ready";

/// Where the block benchmark's probe (a static `rumpx-disk-probe`) lives
/// in the guest.
pub const DISK_PROBE: &str = "bin/rumpx-disk-probe";

/// Bump when the initramfs's layout changes, so cached ones are rebuilt.
const FORMAT: u32 = 5;

/// The guest's boot files.
#[derive(Debug, Clone)]
pub struct LinuxDomuFiles {
    /// The kernel release, e.g. "6.1.0-56-amd64".
    pub release: String,
    /// Debian's kernel, the same one dom0 runs, as the ELF (`vmlinux`)
    /// inside its bzImage, gzip'd: given the bzImage, xl unpacks its xz in
    /// dom0 on every start, which took about two minutes on the emulated
    /// test host. (The bzImage itself when this machine has no `xz`.)
    pub kernel: PathBuf,
    /// The initramfs: one gzip stream (libxc, which unpacks it, reads only
    /// the first stream of a concatenation).
    pub ramdisk: PathBuf,
}

/// The kernel command line giving the guest `address` (`A.B.C.D/LEN`) on
/// eth0 and its console on hvc0.
pub fn command_line(address: &str) -> String {
    format!("console=hvc0 loglevel=4 rumpx.ip={address}")
}

/// The kernel command line that makes the guest run the block benchmark
/// (`rumpx-disk-probe bench /dev/VDEV`) on its disk `vdev` and power off.
pub fn blkbench_command_line(vdev: &str) -> String {
    format!("console=hvc0 loglevel=4 rumpx.blkbench={vdev}")
}

/// The kernel command line that makes the guest serve the ext2 file system
/// on its disk `vdev` over HTTP (busybox `httpd`, port 80) at `address`
/// (`A.B.C.D/LEN`) on eth0.
pub fn httpd_command_line(address: &str, vdev: &str) -> String {
    format!("console=hvc0 loglevel=4 rumpx.ip={address} rumpx.httpd={vdev}")
}

/// Fetches what is missing and builds the boot files unless a build from the
/// same inputs is cached. `disk_probe` is a static `rumpx-disk-probe`
/// (see [`crate::guest_build::build_static_tool`]) to carry.
/// `progress` hears about each long step.
pub fn prepare(
    cache: &PackageCache,
    disk_probe: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<LinuxDomuFiles> {
    let probe = fs::read(disk_probe).map_err(io_at(disk_probe))?;
    check_static(&probe).map_err(|why| {
        Error::LinuxDomuImage(format!(
            "{}: {why}; the guest has no C library",
            disk_probe.display()
        ))
    })?;
    let kernel_package = cache.resolve_metapackage(KERNEL_METAPACKAGE, "linux-image-")?;
    progress("fetching the Linux DomU's Debian packages (first use only)");
    let debs = cache.fetch(&[&kernel_package, BUSYBOX_PACKAGE])?;

    let out = cache.dir().join("linux-domu");
    let files = LinuxDomuFiles {
        release: kernel_package
            .strip_prefix("linux-image-")
            .unwrap_or(&kernel_package)
            .to_string(),
        kernel: out.join("kernel"),
        ramdisk: out.join("initrd.cpio.gz"),
    };
    build_cache::ensure(
        &out,
        &manifest(&debs, &probe),
        &[&files.kernel, &files.ramdisk],
        |root| {
            progress("assembling the Linux DomU's initramfs");
            build(&debs, &probe, root, &files, progress)
        },
    )?;
    Ok(files)
}

/// Whether `elf` is an x86-64 executable that needs no program
/// interpreter (no dynamic loader, no shared C library).
pub fn check_static(elf: &[u8]) -> std::result::Result<(), String> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let header = object::elf::FileHeader64::<object::Endianness>::parse(elf)
        .map_err(|e| format!("not a 64-bit ELF file: {e}"))?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let segments = header
        .program_headers(endian, elf)
        .map_err(|e| e.to_string())?;
    if segments
        .iter()
        .any(|s| s.p_type(endian) == object::elf::PT_INTERP)
    {
        return Err("it is linked dynamically (it has a program interpreter)".into());
    }
    Ok(())
}

/// Unpacks the packages into `root` and writes the boot files from it,
/// with `probe`'s bytes as the guest's `rumpx-disk-probe`.
fn build(
    debs: &[PathBuf],
    probe: &[u8],
    root: &Path,
    files: &LinuxDomuFiles,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    for deb in debs {
        packages::extract(deb, root)?;
    }
    let version = kernel_version(root)?;
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{version}"));
    let tmp = files.kernel.with_extension("tmp");
    match unpack_kernel(&vmlinuz)? {
        Some(vmlinux) => write_gzip(&vmlinux, &tmp)?,
        None => {
            progress("the host has no xz: the Linux DomU boots from the bzImage, which xl unpacks in dom0 on every start (minutes on the emulated host)");
            fs::copy(&vmlinuz, &tmp)
                .map(|_| ())
                .map_err(io_at(&vmlinuz))?
        }
    }
    fs::rename(&tmp, &files.kernel).map_err(io_at(&files.kernel))?;

    let module_dir = root.join("lib/modules").join(&version);
    let index = kernel_modules::index_modules(&module_dir.join("kernel"))?;
    let modules: Vec<PathBuf> = kernel_modules::load_order(&index, MODULES)?
        .into_iter()
        .map(|p| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p))
        .collect();
    let probe_at = Path::new("rumpx-disk-probe");
    fs::write(root.join(probe_at), probe).map_err(io_at(root.join(probe_at)))?;
    write_initramfs(root, &initramfs_entries(&modules, probe_at), &files.ramdisk)
}

/// The ELF kernel inside the bzImage at `vmlinuz`, checked to be one Xen
/// can start as PVH; None when it cannot be unpacked on this machine (the
/// host's `xz` is missing) and xl must be given the bzImage.
fn unpack_kernel(vmlinuz: &Path) -> Result<Option<Vec<u8>>> {
    let bytes = fs::read(vmlinuz).map_err(io_at(vmlinuz))?;
    let failed = |what: String| Error::LinuxDomuImage(format!("{}: {what}", vmlinuz.display()));
    let header = check_bzimage(&bytes).map_err(|e| failed(e.to_string()))?;
    let payload = header.payload(&bytes);
    let elf = match PayloadCompression::of(payload) {
        PayloadCompression::Gzip => {
            let mut out = Vec::new();
            GzDecoder::new(payload)
                .read_to_end(&mut out)
                .map_err(|e| failed(format!("unpacking the gzip'd kernel: {e}")))?;
            out
        }
        // busybox's xz lacks the x86 BCJ filter kernels are packed with.
        PayloadCompression::Xz if which("xz").is_some() => unpack_xz(payload).map_err(failed)?,
        _ => return Ok(None),
    };
    check_pvh_image(&elf)
        .map_err(|e| failed(format!("the kernel inside cannot boot as PVH: {e}")))?;
    Ok(Some(elf))
}

/// Writes `bytes` gzip'd to `dest`. xl takes a gzip'd kernel and unpacks
/// it in dom0; the raw ELF would be read through the 9p share page by page
/// (xl maps the file), which took over three minutes for its 63 MiB.
fn write_gzip(bytes: &[u8], dest: &Path) -> Result<()> {
    let file = fs::File::create(dest).map_err(io_at(dest))?;
    let mut gz = GzEncoder::new(io::BufWriter::new(file), Compression::default());
    gz.write_all(bytes)
        .and_then(|()| gz.finish())
        .and_then(|mut out| out.flush())
        .map_err(io_at(dest))
}

/// Unpacks the xz stream at the start of `input` with the host's `xz`
/// (the kernel's payload is followed by its unpacked size, four bytes that
/// `--single-stream` ignores).
fn unpack_xz(input: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let command = "xz -dc --single-stream";
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{command}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("xz has no stdin")?;
    let (fed, output) = std::thread::scope(|s| {
        let feeder = s.spawn(move || stdin.write_all(input));
        let output = child.wait_with_output();
        (feeder.join(), output)
    });
    let output = output.map_err(|e| format!("{command}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command} failed ({}): {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr), 3)
        ));
    }
    match fed {
        Ok(Ok(())) => Ok(output.stdout),
        _ => Err(format!("{command} did not read the whole kernel")),
    }
}

/// The kernel release the package holds: the only folder in `lib/modules`.
fn kernel_version(root: &Path) -> Result<String> {
    let dir = root.join("lib/modules");
    let mut versions: Vec<String> = fs::read_dir(&dir)
        .map_err(io_at(&dir))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort();
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::LinuxDomuImage(format!(
            "expected one kernel release in the kernel package's lib/modules, found {versions:?}"
        ))),
    }
}

/// What the boot files are made from: the exact package files, our
/// scripts and the probe's bytes.
fn manifest(debs: &[PathBuf], probe: &[u8]) -> String {
    let mut names: Vec<String> = debs
        .iter()
        .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    format!(
        "format {FORMAT}\nunpacked-by-xz {}\ninit {:016x}\nsink {:016x}\ndisk-probe {:016x}\nmodules {}\napplets {}\n{}\n",
        which("xz").is_some(),
        fnv1a(INIT.as_bytes()),
        fnv1a(SINK.as_bytes()),
        fnv1a(probe),
        MODULES.join(","),
        APPLETS.join(","),
        names.join("\n")
    )
}

/// Where an initramfs file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Written by this module.
    Text(String),
    /// A file of the build's scratch folder (the unpacked packages and the
    /// probe), relative to it.
    Unpacked(PathBuf),
}

/// One initramfs entry; paths are relative to the guest's `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A folder.
    Dir(String),
    /// A regular file with permission bits.
    File {
        /// Its path.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Its bytes.
        source: Source,
    },
    /// A symbolic link.
    Symlink {
        /// Its path.
        path: String,
        /// What it points to.
        target: String,
    },
}

impl Entry {
    /// The entry's path.
    pub fn path(&self) -> &str {
        match self {
            Entry::Dir(path) | Entry::File { path, .. } | Entry::Symlink { path, .. } => path,
        }
    }
}

/// Everything in the initramfs, in archive order (each folder before what
/// it holds), for `modules` (paths inside the unpacked packages, in load
/// order) and the static `rumpx-disk-probe` at `disk_probe` (also there).
pub fn initramfs_entries(modules: &[PathBuf], disk_probe: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut dirs = BTreeSet::new();
    let mut dir = |entries: &mut Vec<Entry>, path: &Path| {
        let mut chain: Vec<&Path> = path
            .ancestors()
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        chain.reverse();
        for p in chain {
            if dirs.insert(p.to_path_buf()) {
                entries.push(Entry::Dir(p.to_string_lossy().into_owned()));
            }
        }
    };
    for empty in ["proc", "sys", "dev", "tmp", "bin", "etc/rumpx", "www"] {
        dir(&mut entries, Path::new(empty));
    }
    entries.push(Entry::Symlink {
        path: "sbin".into(),
        target: "bin".into(),
    });
    entries.push(Entry::File {
        path: "init".into(),
        mode: 0o755,
        source: Source::Text(INIT.into()),
    });
    entries.push(Entry::File {
        path: "bin/busybox".into(),
        mode: 0o755,
        source: Source::Unpacked("bin/busybox".into()),
    });
    for applet in APPLETS {
        entries.push(Entry::Symlink {
            path: format!("bin/{applet}"),
            target: "busybox".into(),
        });
    }
    entries.push(Entry::File {
        path: "bin/rumpx-sink".into(),
        mode: 0o755,
        source: Source::Text(SINK.into()),
    });
    entries.push(Entry::File {
        path: DISK_PROBE.into(),
        mode: 0o755,
        source: Source::Unpacked(disk_probe.to_path_buf()),
    });
    let mut list = String::new();
    for module in modules {
        if let Some(parent) = module.parent() {
            dir(&mut entries, parent);
        }
        let path = module.to_string_lossy().into_owned();
        list.push_str(&format!("/{path}\n"));
        entries.push(Entry::File {
            path,
            mode: 0o644,
            source: Source::Unpacked(module.clone()),
        });
    }
    entries.push(Entry::File {
        path: "etc/rumpx/modules".into(),
        mode: 0o644,
        source: Source::Text(list),
    });
    entries
}

/// Writes `entries` (file bytes read from `root`) as one gzip'd newc archive.
fn write_initramfs(root: &Path, entries: &[Entry], dest: &Path) -> Result<()> {
    let tmp = dest.with_extension("tmp");
    let failed = |e: io::Error| Error::LinuxDomuImage(format!("writing {}: {e}", tmp.display()));
    let file = fs::File::create(&tmp).map_err(io_at(&tmp))?;
    let mut cpio = CpioWriter::new(GzEncoder::new(
        io::BufWriter::new(file),
        Compression::best(),
    ));
    for entry in entries {
        match entry {
            Entry::Dir(path) => cpio.dir(path, 0o755).map_err(failed)?,
            Entry::Symlink { path, target } => cpio.symlink(path, target).map_err(failed)?,
            Entry::File { path, mode, source } => {
                let bytes = match source {
                    Source::Text(text) => text.clone().into_bytes(),
                    Source::Unpacked(rel) => {
                        fs::read(root.join(rel)).map_err(io_at(root.join(rel)))?
                    }
                };
                cpio.file(path, *mode, &bytes).map_err(failed)?;
            }
        }
    }
    let mut buffered = cpio.finish().and_then(|gz| gz.finish()).map_err(failed)?;
    buffered.flush().map_err(failed)?;
    drop(buffered);
    fs::rename(&tmp, dest).map_err(io_at(dest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    const NETFRONT: &str = "lib/modules/6.1.0-56-amd64/kernel/drivers/net/xen-netfront.ko";
    const BLKFRONT: &str = "lib/modules/6.1.0-56-amd64/kernel/drivers/block/xen-blkfront.ko";
    const PROBE: &str = "rumpx-disk-probe";

    fn entries() -> Vec<Entry> {
        initramfs_entries(
            &[PathBuf::from(NETFRONT), PathBuf::from(BLKFRONT)],
            Path::new(PROBE),
        )
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(Entry::path).collect()
    }

    #[test]
    fn lists_init_busybox_applets_services_probe_and_modules() {
        let entries = entries();
        let names = paths(&entries);
        for wanted in [
            "init",
            "bin/busybox",
            "bin/sh",
            "bin/nc",
            "bin/ip",
            "bin/poweroff",
            "bin/rumpx-sink",
            "sbin",
            "proc",
            "sys",
            "dev",
            "etc/rumpx/modules",
            NETFRONT,
            BLKFRONT,
            DISK_PROBE,
        ] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "duplicates in {names:?}");
        let modules = entries.iter().find_map(|e| match e {
            Entry::File {
                path,
                source: Source::Text(text),
                ..
            } if path == "etc/rumpx/modules" => Some(text.clone()),
            _ => None,
        });
        assert_eq!(modules.unwrap(), format!("/{NETFRONT}\n/{BLKFRONT}\n"));
        let mode_of = |wanted: &str| {
            entries.iter().find_map(|e| match e {
                Entry::File { path, mode, .. } if path == wanted => Some(*mode),
                _ => None,
            })
        };
        assert_eq!(mode_of("init"), Some(0o755));
        assert_eq!(mode_of(DISK_PROBE), Some(0o755));
        let probe_source = entries.iter().find_map(|e| match e {
            Entry::File { path, source, .. } if path == DISK_PROBE => Some(source.clone()),
            _ => None,
        });
        assert_eq!(probe_source, Some(Source::Unpacked(PROBE.into())));
    }

    #[test]
    fn the_guest_loads_both_frontends_and_ext4() {
        assert!(MODULES.contains(&"xen-netfront"));
        assert!(MODULES.contains(&"xen-blkfront"));
        assert!(MODULES.contains(&"ext4"));
    }

    #[test]
    fn the_init_script_serves_http_from_the_disk_when_asked() {
        assert!(INIT.contains("rumpx.httpd=*"));
        assert!(
            INIT.contains("mount -t ext2 -o ro \"/dev/$httpd\" /www"),
            "{INIT}"
        );
        assert!(INIT.contains("httpd -p 80 -h /www"), "{INIT}");
        assert!(APPLETS.contains(&"httpd"));
        assert!(paths(&entries()).contains(&"www"));
        assert_eq!(
            httpd_command_line("10.99.0.31/24", "xvda"),
            "console=hvc0 loglevel=4 rumpx.ip=10.99.0.31/24 rumpx.httpd=xvda"
        );
    }

    #[test]
    fn every_folder_comes_before_what_it_holds() {
        let entries = entries();
        let mut seen = BTreeSet::new();
        for entry in &entries {
            let parent = Path::new(entry.path()).parent().unwrap();
            assert!(
                parent.as_os_str().is_empty() || seen.contains(parent),
                "{} comes before its folder",
                entry.path()
            );
            if let Entry::Dir(path) = entry {
                seen.insert(PathBuf::from(path));
            }
        }
    }

    #[test]
    fn the_init_script_reads_its_address_and_says_ready() {
        assert!(INIT.starts_with("#!/bin/sh\n"));
        assert!(INIT.contains("rumpx.ip=*"));
        assert!(INIT.contains(&format!(
            "say \"{}",
            READY_MARKER.trim_start_matches("rumpx-linux: ")
        )));
        assert!(command_line("10.99.0.3/24").contains("console=hvc0"));
        assert!(command_line("10.99.0.3/24").ends_with(" rumpx.ip=10.99.0.3/24"));
    }

    #[test]
    fn the_init_script_runs_the_block_benchmark_when_asked() {
        assert!(INIT.contains("rumpx.blkbench=*"));
        assert!(INIT.contains(&format!("/{DISK_PROBE} bench")), "{INIT}");
        let line = blkbench_command_line("xvda");
        assert!(line.contains("console=hvc0"), "{line}");
        assert!(line.ends_with(" rumpx.blkbench=xvda"), "{line}");
        crate::test_support::assert_parses("sh", INIT);
    }

    /// The newc names in an uncompressed archive.
    fn cpio_names(bytes: &[u8]) -> Vec<String> {
        let field = |at: usize| {
            usize::from_str_radix(std::str::from_utf8(&bytes[at..at + 8]).unwrap(), 16).unwrap()
        };
        let mut names = Vec::new();
        let mut at = 0;
        while at + 110 <= bytes.len() {
            assert_eq!(&bytes[at..at + 6], b"070701");
            let size = field(at + 54);
            let name_size = field(at + 94);
            let name =
                String::from_utf8_lossy(&bytes[at + 110..at + 110 + name_size - 1]).into_owned();
            at = (at + 110 + name_size).next_multiple_of(4);
            at = (at + size).next_multiple_of(4);
            if name == "TRAILER!!!" {
                break;
            }
            names.push(name);
        }
        names
    }

    #[test]
    fn writes_one_gzip_stream_holding_every_entry() {
        let dir = std::env::temp_dir().join(format!("rumpx-linux-domu-{}", std::process::id()));
        let root = dir.join("root");
        fs::create_dir_all(root.join("bin")).unwrap();
        for module in [NETFRONT, BLKFRONT] {
            fs::create_dir_all(root.join(module).parent().unwrap()).unwrap();
            fs::write(root.join(module), b"\x7fELF module").unwrap();
        }
        fs::write(root.join("bin/busybox"), b"\x7fELF busybox").unwrap();
        fs::write(root.join(PROBE), b"\x7fELF the probe").unwrap();
        let entries = entries();
        let dest = dir.join("initrd.cpio.gz");
        write_initramfs(&root, &entries, &dest).unwrap();

        let gz = fs::read(&dest).unwrap();
        let mut first_stream = GzDecoder::new(&gz[..]);
        let mut cpio = Vec::new();
        first_stream.read_to_end(&mut cpio).unwrap();
        assert_eq!(cpio_names(&cpio), paths(&entries));
        assert!(cpio.windows(11).any(|w| w == b"ELF busybox"));
        assert!(cpio.windows(13).any(|w| w == b"ELF the probe"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn manifest_changes_with_the_packages_and_the_probe() {
        let a = manifest(&[PathBuf::from("/c/busybox-static_1_amd64.deb")], b"p1");
        let b = manifest(&[PathBuf::from("/c/busybox-static_2_amd64.deb")], b"p1");
        let c = manifest(&[PathBuf::from("/c/busybox-static_1_amd64.deb")], b"p2");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(
            a.contains("modules xen-netfront,xen-blkfront,crc32c_generic,ext4\n"),
            "{a}"
        );
        assert!(a.contains(&format!("init {:016x}\n", fnv1a(INIT.as_bytes()))));
    }

    #[test]
    fn only_a_static_probe_is_taken() {
        let this = fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = check_static(&this).unwrap_err();
        assert!(err.contains("dynamically"), "{err}");
        assert!(check_static(b"#!/bin/sh\n").is_err());
        let minimal = crate::elf_image::MinimalImage::pvh(&[0xf4]).to_bytes();
        check_static(&minimal).unwrap();
    }
}
