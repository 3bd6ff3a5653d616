//! Generator for `xen-abi`: runs bindgen over the Xen public headers listed in
//! `wrapper.h` (Debian 12's libxen-dev, Xen 4.17) and writes
//! `xen-platform/xen-abi/src/bindings.rs`.
//!
//! `cargo run -p xen-abi-gen` regenerates the file;
//! `cargo run -p xen-abi-gen -- --check` regenerates into memory and exits
//! with status 1 if the committed file differs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use bindgen::callbacks::{IntKind, ItemInfo, ItemKind, ParseCallbacks};

/// Prefix of the macros in wrapper.h that restate 64-bit macros; stripped
/// from the generated names.
const U64_PREFIX: &str = "XEN_ABI_U64_";

/// The Xen interface version the bindings are generated for: the latest one
/// Xen 4.17's headers know (`__XEN_LATEST_INTERFACE_VERSION__` in
/// xen-compat.h). Without it, xen.h maps `__HYPERVISOR_sched_op` and
/// `__HYPERVISOR_event_channel_op` to their obsolete compat numbers.
const XEN_INTERFACE_VERSION: &str = "0x00040e00";

/// The header whose presence shows that the Xen public headers are installed.
const XEN_H: &str = "/usr/include/xen/xen.h";

/// The edition rustfmt formats with; must match the workspace's edition so
/// that `cargo fmt --check` agrees with the generated file.
const RUSTFMT_EDITION: &str = "2021";

/// bindgen callbacks: macro types and doc-comment cleanup.
#[derive(Debug)]
struct Callbacks;

impl ParseCallbacks for Callbacks {
    fn int_macro(&self, name: &str, _value: i64) -> Option<IntKind> {
        // Domain ids are `domid_t` (uint16_t) in xen.h; give DOMID_SELF and
        // friends that type so they can be used without casts.
        if name.starts_with("DOMID_") {
            return Some(IntKind::U16);
        }
        // 64-bit values with the top bit set: the wrapper's restated macros
        // and the x86_64 virtual address layout of xen-x86_64.h. They arrive
        // here as negative i64 and are emitted as their u64 bit pattern.
        if name.starts_with(U64_PREFIX)
            || name.starts_with("__HYPERVISOR_VIRT_")
            || name.starts_with("__MACH2PHYS_VIRT_")
        {
            return Some(IntKind::U64);
        }
        None
    }

    fn item_name(&self, item: ItemInfo<'_>) -> Option<String> {
        match item.kind {
            ItemKind::Var => item.name.strip_prefix(U64_PREFIX).map(str::to_owned),
            _ => None,
        }
    }

    fn process_comment(&self, comment: &str) -> Option<String> {
        // Xen's header comments are ASCII art and C snippets, not Markdown.
        // Strip the indentation so rustdoc never sees an indented block
        // (which it would compile as a doctest), and defuse code fences.
        let text: Vec<&str> = comment.lines().map(str::trim).collect();
        Some(text.join("\n").replace("```", "'''"))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: xen-abi-gen [--check]");
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("xen-abi-gen: error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Generates the bindings and writes or checks them.
fn run(check: bool) -> Result<ExitCode, String> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wrapper = manifest_dir.join("wrapper.h");
    let out_path: PathBuf = manifest_dir
        .parent()
        .ok_or("xen-abi-gen has no parent directory")?
        .join("xen-abi/src/bindings.rs");

    if !Path::new(XEN_H).exists() {
        return Err(format!(
            "{XEN_H} not found: the Xen public headers are missing \
             (install libxen-dev, e.g. `apt-get install libxen-dev`)"
        ));
    }

    let generated = generate(&wrapper)?;
    let out_dir = out_path
        .parent()
        .ok_or("bindings.rs has no parent directory")?;
    let formatted = rustfmt(&generated, out_dir)?;

    if check {
        let committed = std::fs::read_to_string(&out_path)
            .map_err(|e| format!("cannot read {}: {e}", out_path.display()))?;
        if committed == formatted {
            println!("xen-abi-gen: {} is up to date", out_path.display());
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!(
                "xen-abi-gen: {} is stale: it differs from what the generator \
                 produces from the installed Xen headers.\n\
                 Regenerate it with `cargo run -p xen-abi-gen` and commit the result.",
                out_path.display()
            );
            Ok(ExitCode::from(1))
        }
    } else {
        std::fs::write(&out_path, formatted)
            .map_err(|e| format!("cannot write {}: {e}", out_path.display()))?;
        println!("xen-abi-gen: wrote {}", out_path.display());
        Ok(ExitCode::SUCCESS)
    }
}

/// Runs bindgen over `wrapper` and returns the unformatted Rust source.
fn generate(wrapper: &Path) -> Result<String, String> {
    let wrapper = wrapper
        .to_str()
        .ok_or_else(|| format!("non-UTF-8 path {}", wrapper.display()))?;
    let rust_target = bindgen::RustTarget::stable(85, 0).map_err(|e| e.to_string())?;
    // clang_macro_fallback evaluates macros cexpr cannot parse (for example
    // `#define DOMID_SELF xen_mk_uint(0x7FF0)`) by compiling scratch files;
    // keep those out of the source tree.
    let scratch = std::env::temp_dir().join(format!("xen-abi-gen-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let bindings = bindgen::Builder::default()
        .header(wrapper)
        .clang_args([
            "--target=x86_64-unknown-linux-gnu",
            &format!("-D__XEN_INTERFACE_VERSION__={XEN_INTERFACE_VERSION}"),
        ])
        // Only items from the Xen headers (plus what they reference).
        .allowlist_file(r".*/xen/.*\.h")
        .allowlist_var(format!("{U64_PREFIX}.*"))
        // A static table of strings with errno values; not ABI.
        .blocklist_item("xsd_errors")
        .rust_target(rust_target)
        .use_core()
        .ctypes_prefix("core::ffi")
        .derive_default(true)
        .derive_copy(true)
        .derive_debug(true)
        .derive_eq(false)
        .layout_tests(true)
        .prepend_enum_name(false)
        .generate_cstr(true)
        .formatter(bindgen::Formatter::None)
        .parse_callbacks(Box::new(Callbacks))
        .clang_macro_fallback()
        .clang_macro_fallback_build_dir(&scratch)
        .generate();
    // Best effort: the scratch files are not needed after generation.
    let _ = std::fs::remove_dir_all(&scratch);
    let bindings = bindings.map_err(|e| format!("bindgen failed: {e}"))?;
    Ok(bindings.to_string())
}

/// Formats `source` with rustfmt (edition 2021), failing on any rustfmt error
/// so that a half-formatted file is never written. rustfmt runs in `dir` (the
/// output's directory) so it finds the same rustfmt.toml, if any, that
/// `cargo fmt` uses for the output file.
fn rustfmt(source: &str, dir: &Path) -> Result<String, String> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(&rustfmt)
        .args(["--edition", RUSTFMT_EDITION])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt ({rustfmt:?}): {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt failed: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer thread panicked".to_owned())?
        .map_err(|e| format!("cannot write to rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!("rustfmt exited with {}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output is not UTF-8: {e}"))
}
