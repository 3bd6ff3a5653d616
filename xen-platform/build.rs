//! Build script: places the guest linker script `rumpx-pvh.ld` on the linker
//! search path, so every guest binary that depends on xen-platform links with
//! `-Trumpx-pvh.ld` (set in the workspace's `.cargo/config.toml`).

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::copy("rumpx-pvh.ld", out.join("rumpx-pvh.ld")).expect("copy rumpx-pvh.ld to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=rumpx-pvh.ld");
    println!("cargo:rerun-if-changed=build.rs");
}
