//! Assembles the embedded test host's boot files from Debian packages: the
//! Xen hypervisor, the dom0 Linux kernel, and a dom0 initramfs holding the Xen
//! toolstack, the backends' kernel modules, busybox and our dom0 scripts
//! (`dom0/init`, `dom0/run-guest`). Built once and reused while its inputs
//! (the exact package files and the scripts) stay the same.

use crate::build_cache;
use crate::cpio::CpioWriter;
use crate::error::{io_at, Error, Result};
use crate::fingerprint::fnv1a;
use crate::kernel_modules;
use crate::packages::{self, PackageCache};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use object::elf;
use object::read::elf::{Dyn, FileHeader};
use object::Endianness;
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The packages dom0 is made of (Debian 12), besides the kernel.
pub const HOST_PACKAGES: &[&str] = &[
    "xen-hypervisor-4.17-amd64",
    "xen-utils-4.17",
    "xen-utils-common",
    "xenstore-utils",
    "libxenmisc4.17",
    "libxencall1",
    "libxendevicemodel1",
    "libxenevtchn1",
    "libxenforeignmemory1",
    "libxengnttab1",
    "libxenhypfs1",
    "libxenstore4",
    "libxentoolcore1",
    "libxentoollog1",
    "libyajl2",
    "busybox-static",
    "bash",
    "iproute2",
    "util-linux",
    "mount",
    "libc6",
    "libgcc-s1",
    "libncurses6",
    "libtinfo6",
    "e2fsprogs",
    "libext2fs2",
    "libss2",
    "libcom-err2",
    "liblzma5",
    "libuuid1",
    "libzstd1",
    "zlib1g",
    "libmnl0",
    "libelf1",
    "libbpf1",
    "libcap2",
    "libbsd0",
    "libmd0",
    "libselinux1",
    "libpcre2-8-0",
    "libblkid1",
    "libmount1",
    "libsmartcols1",
    "libudev1",
    "libcrypt1",
    "libsystemd0",
    "libgcrypt20",
    "libgpg-error0",
    "liblz4-1",
    "libcap-ng0",
    "libaudit1",
    "libaudit-common",
    "libtirpc3",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libkrb5support0",
    "libkeyutils1",
    "libssl3",
    "libdb5.3",
];

/// The metapackage naming the current Debian 12 kernel.
pub const KERNEL_METAPACKAGE: &str = "linux-image-amd64";

/// Kernel modules dom0 loads (with their dependencies): Xen device files,
/// the backends, bridging, loop devices, TAP, the 9p share, and the NIC
/// `rumpx run` gives dom0 for port forwarding (virtio-net).
pub const DOM0_MODULES: &[&str] = &[
    "xen-privcmd",
    "xenfs",
    "xen-evtchn",
    "xen-gntdev",
    "xen-gntalloc",
    "xen-netback",
    "xen-blkback",
    "bridge",
    "loop",
    "tun",
    "virtio_pci",
    "virtio_net",
    "9pnet_virtio",
    "9p",
];

/// Programs dom0 runs; each must find its shared libraries in the image.
const CHECKED_PROGRAMS: &[&str] = &[
    "bin/bash",
    "bin/ip",
    "sbin/losetup",
    "usr/bin/flock",
    "usr/bin/xenstore",
    "usr/lib/xen-4.17/bin/xl",
    "usr/lib/xen-4.17/bin/xenstored",
    "usr/lib/xen-4.17/bin/xenconsoled",
    "usr/lib/xen-4.17/bin/xen-init-dom0",
    "sbin/mke2fs",
    "sbin/e2fsck",
    "sbin/debugfs",
];

/// Parts of the packages dom0 never uses (documentation, other boot files,
/// the whole module tree: the wanted modules are added one by one).
const LEFT_OUT: &[&str] = &[
    "boot",
    "lib/modules",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bash-completion",
    "usr/lib/xen-4.17/boot",
    "usr/lib/python3",
];

/// Empty folders dom0's init expects.
const DIRS: &[&str] = &[
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "share",
    "var/log/xen/console",
    "var/lib/xen",
    "etc/rumpx",
];

/// dom0's init script.
const INIT: &str = include_str!("../dom0/init");
/// The script that runs one guest with `xl create` (also used on a real dom0).
pub const RUN_GUEST: &str = include_str!("../dom0/run-guest");
/// The hotplug script for disks on block devices dom0 made (`script=block-rumpx`).
const BLOCK_SCRIPT: &str = include_str!("../dom0/block-rumpx");

/// Bump when the image's layout changes, so old cached images are rebuilt.
const FORMAT: u32 = 1;

/// The three files QEMU boots.
#[derive(Debug, Clone)]
pub struct BootFiles {
    /// Xen, uncompressed (QEMU's multiboot loader takes an ELF).
    pub xen: PathBuf,
    /// dom0's Linux kernel.
    pub kernel: PathBuf,
    /// dom0's initramfs (gzip'd newc cpio).
    pub initramfs: PathBuf,
}

/// Fetches what is missing and builds the boot files unless a build from the
/// same inputs is cached. `progress` hears about each long step.
pub fn prepare(cache: &PackageCache, progress: &mut dyn FnMut(&str)) -> Result<BootFiles> {
    let kernel_package = cache.resolve_metapackage(KERNEL_METAPACKAGE, "linux-image-")?;
    let mut wanted: Vec<&str> = HOST_PACKAGES.to_vec();
    wanted.push(&kernel_package);
    progress("fetching Debian packages (first use only)");
    let debs = cache.fetch(&wanted)?;

    let out = cache.dir().join("dom0");
    let files = BootFiles {
        xen: out.join("xen.elf"),
        kernel: out.join("vmlinuz"),
        initramfs: out.join("dom0.cpio.gz"),
    };
    build_cache::ensure(
        &out,
        &manifest(&debs),
        &[&files.xen, &files.kernel, &files.initramfs],
        |root| {
            progress("unpacking packages");
            for deb in &debs {
                packages::extract(deb, root)?;
            }
            progress("assembling dom0's initramfs");
            write_xen(root, &files.xen)?;
            copy_kernel(root, &files.kernel)?;
            let modules = pick_modules(root)?;
            check_shared_libraries(root)?;
            write_initramfs(root, &modules, &files.initramfs)
        },
    )?;
    Ok(files)
}

/// What the boot files are made from: the exact package files and our scripts.
fn manifest(debs: &[PathBuf]) -> String {
    let mut names: Vec<String> = debs
        .iter()
        .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    format!(
        "format {FORMAT}\ninit {:016x}\nrun-guest {:016x}\nblock-rumpx {:016x}\nmodules {}\n{}\n",
        fnv1a(INIT.as_bytes()),
        fnv1a(RUN_GUEST.as_bytes()),
        fnv1a(BLOCK_SCRIPT.as_bytes()),
        DOM0_MODULES.join(","),
        names.join("\n")
    )
}

/// The only file in `dir` whose name starts with `prefix` and ends with `suffix`.
pub(crate) fn find_one(dir: &Path, prefix: &str, suffix: &str) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_at(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| Error::Dom0Image(format!("no {prefix}*{suffix} in {}", dir.display())))
}

fn write_xen(root: &Path, dest: &Path) -> Result<()> {
    let gz = find_one(&root.join("boot"), "xen-4.17", ".gz")?;
    let mut reader = GzDecoder::new(fs::File::open(&gz).map_err(io_at(&gz))?);
    let mut out = fs::File::create(dest).map_err(io_at(dest))?;
    io::copy(&mut reader, &mut out).map_err(io_at(&gz))?;
    Ok(())
}

fn copy_kernel(root: &Path, dest: &Path) -> Result<()> {
    let vmlinuz = find_one(&root.join("boot"), "vmlinuz-", "")?;
    fs::copy(&vmlinuz, dest).map_err(io_at(&vmlinuz))?;
    Ok(())
}

/// The wanted modules and their dependencies, in load order, as paths inside root.
fn pick_modules(root: &Path) -> Result<Vec<PathBuf>> {
    let modules_dir = root.join("lib/modules");
    let version_dir = find_one(&modules_dir, "", "")?;
    let index = kernel_modules::index_modules(&version_dir.join("kernel"))?;
    let order = kernel_modules::load_order(&index, DOM0_MODULES)?;
    Ok(order
        .into_iter()
        .map(|p| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p))
        .collect())
}

/// Folders the dynamic loader searches in dom0.
const LIBRARY_DIRS: &[&str] = &[
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/xen-4.17/lib",
    "lib64",
    "lib",
    "usr/lib",
];

/// Every program dom0 runs finds all its shared libraries (transitively) in
/// the image; a missing one is named with who needs it.
fn check_shared_libraries(root: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut seen = BTreeSet::new();
    let mut pending: Vec<(String, PathBuf)> = CHECKED_PROGRAMS
        .iter()
        .map(|p| (p.to_string(), root.join(p)))
        .collect();
    while let Some((who, path)) = pending.pop() {
        let real = resolve_in_root(root, &path)
            .ok_or_else(|| Error::Dom0Image(format!("{who} is not in the packages")))?;
        let bytes = fs::read(&real).map_err(io_at(&real))?;
        let needed =
            needed_libraries(&bytes).map_err(|e| Error::Dom0Image(format!("{who}: {e}")))?;
        for lib in needed {
            if !seen.insert(lib.clone()) {
                continue;
            }
            match LIBRARY_DIRS
                .iter()
                .map(|d| root.join(d).join(&lib))
                .find(|p| resolve_in_root(root, p).is_some())
            {
                Some(found) => pending.push((lib, found)),
                None => missing.push(format!("{lib} (needed by {who})")),
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Dom0Image(format!(
            "shared libraries missing from the package list: {}",
            missing.join(", ")
        )))
    }
}

/// Follows symbolic links the way dom0 will, with `root` as `/`.
fn resolve_in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..16 {
        let meta = fs::symlink_metadata(&path).ok()?;
        if !meta.file_type().is_symlink() {
            return Some(path);
        }
        let target = fs::read_link(&path).ok()?;
        path = if target.is_absolute() {
            root.join(target.strip_prefix("/").ok()?)
        } else {
            path.parent()?.join(target)
        };
    }
    None
}

/// The DT_NEEDED entries of an ELF file (none for a static one or a script).
fn needed_libraries(bytes: &[u8]) -> std::result::Result<Vec<String>, String> {
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(Vec::new());
    }
    let header = elf::FileHeader64::<Endianness>::parse(bytes).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let sections = header.sections(endian, bytes).map_err(|e| e.to_string())?;
    let Some((entries, link)) = sections.dynamic(endian, bytes).map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let strings = sections
        .strings(endian, bytes, link)
        .map_err(|e| e.to_string())?;
    entries
        .iter()
        .filter(|d| d.d_tag(endian) == u64::from(elf::DT_NEEDED))
        .map(|d| {
            d.string(endian, strings)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Whether `rel` (a path inside the packages) belongs in the image.
fn kept(rel: &Path) -> bool {
    !LEFT_OUT.iter().any(|p| rel.starts_with(p))
}

fn write_initramfs(root: &Path, modules: &[PathBuf], dest: &Path) -> Result<()> {
    let tmp = dest.with_extension("tmp");
    let file = fs::File::create(&tmp).map_err(io_at(&tmp))?;
    let mut cpio = CpioWriter::new(GzEncoder::new(
        io::BufWriter::new(file),
        Compression::fast(),
    ));
    let mut present = BTreeSet::new();
    add_tree(&mut cpio, root, Path::new(""), &mut present).map_err(io_at(root))?;

    let mut module_list = String::new();
    for module in modules {
        let rel = module.to_string_lossy();
        add_parents(&mut cpio, module, &mut present).map_err(io_at(module))?;
        let bytes = fs::read(root.join(module)).map_err(io_at(module))?;
        cpio.file(&rel, 0o644, &bytes).map_err(io_at(module))?;
        module_list.push_str(&format!("/{rel}\n"));
    }
    let w = |e| Error::Dom0Image(format!("writing the initramfs: {e}"));
    for dir in DIRS {
        add_parents(&mut cpio, &Path::new(dir).join("x"), &mut present).map_err(w)?;
    }
    add_parents(&mut cpio, Path::new("usr/lib/rumpx/x"), &mut present).map_err(w)?;
    cpio.file("init", 0o755, INIT.as_bytes()).map_err(w)?;
    cpio.file("usr/lib/rumpx/run-guest", 0o755, RUN_GUEST.as_bytes())
        .map_err(w)?;
    add_parents(
        &mut cpio,
        Path::new("etc/xen/scripts/block-rumpx"),
        &mut present,
    )
    .map_err(w)?;
    cpio.file(
        "etc/xen/scripts/block-rumpx",
        0o755,
        BLOCK_SCRIPT.as_bytes(),
    )
    .map_err(w)?;
    cpio.file("etc/rumpx/modules", 0o644, module_list.as_bytes())
        .map_err(w)?;
    for applet in busybox_applets(root)? {
        let rel = applet.trim_start_matches('/');
        if present.contains(Path::new(rel)) {
            continue;
        }
        add_parents(&mut cpio, Path::new(rel), &mut present).map_err(w)?;
        cpio.symlink(rel, "/bin/busybox").map_err(w)?;
        present.insert(PathBuf::from(rel));
    }
    if !present.contains(Path::new("var/lock")) {
        cpio.symlink("var/lock", "/run/lock").map_err(w)?;
    }
    let gz = cpio.finish().map_err(w)?;
    let mut buffered = gz.finish().map_err(w)?;
    buffered.flush().map_err(w)?;
    drop(buffered);
    fs::rename(&tmp, dest).map_err(io_at(dest))?;
    Ok(())
}

/// Adds everything below `root/rel` that `kept` allows, recording each path.
fn add_tree<W: Write>(
    cpio: &mut CpioWriter<W>,
    root: &Path,
    rel: &Path,
    present: &mut BTreeSet<PathBuf>,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(root.join(rel))?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel = rel.join(entry.file_name());
        if !kept(&rel) {
            continue;
        }
        let meta = fs::symlink_metadata(entry.path())?;
        let name = rel.to_string_lossy();
        let mode = meta.permissions().mode();
        if meta.file_type().is_symlink() {
            cpio.symlink(&name, &fs::read_link(entry.path())?.to_string_lossy())?;
        } else if meta.is_dir() {
            cpio.dir(&name, mode)?;
            present.insert(rel.clone());
            add_tree(cpio, root, &rel, present)?;
        } else if meta.is_file() {
            cpio.file(&name, mode, &fs::read(entry.path())?)?;
        } else {
            continue;
        }
        present.insert(rel);
    }
    Ok(())
}

/// Adds the folders leading to `rel` that are not in the archive yet.
fn add_parents<W: Write>(
    cpio: &mut CpioWriter<W>,
    rel: &Path,
    present: &mut BTreeSet<PathBuf>,
) -> io::Result<()> {
    let mut parents: Vec<&Path> = rel
        .ancestors()
        .skip(1)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    parents.reverse();
    for parent in parents {
        if present.insert(parent.to_path_buf()) {
            cpio.dir(&parent.to_string_lossy(), 0o755)?;
        }
    }
    Ok(())
}

/// The applets of the packaged (static) busybox, as absolute paths.
fn busybox_applets(root: &Path) -> Result<Vec<String>> {
    let busybox = root.join("bin/busybox");
    let output = Command::new(&busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| Error::Command {
            command: format!("{} --list-full", busybox.display()),
            detail: e.to_string(),
        })?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| format!("/{}", l.trim().trim_start_matches('/')))
        .filter(|l| l.len() > 1)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_out_documentation_and_the_module_tree() {
        assert!(!kept(Path::new("usr/share/doc/bash/copyright")));
        assert!(!kept(Path::new(
            "lib/modules/6.1.0-56-amd64/kernel/net/bridge/bridge.ko"
        )));
        assert!(kept(Path::new("usr/lib/xen-4.17/bin/xl")));
        assert!(kept(Path::new("usr/share/xen-utils-common")));
    }

    #[test]
    fn manifest_names_packages_sorted() {
        let m = manifest(&[
            PathBuf::from("/c/b_1_amd64.deb"),
            PathBuf::from("/c/a_1_amd64.deb"),
        ]);
        assert!(m.ends_with("a_1_amd64.deb\nb_1_amd64.deb\n"), "{m}");
    }

    #[test]
    fn reads_needed_libraries_of_a_host_program() {
        let bytes = fs::read("/bin/sh").unwrap();
        let needed = needed_libraries(&bytes).unwrap();
        assert!(
            needed.iter().any(|l| l.starts_with("libc.so")),
            "{needed:?}"
        );
        assert!(needed_libraries(b"#!/bin/sh\n").unwrap().is_empty());
    }
}
