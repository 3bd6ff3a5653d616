//! Link check of the Xen hypercall implementation: the rumpcheck guest
//! image (rumpuser-xen linked into a real guest) defines every symbol of
//! the rumpuser ABI (`rumpuser_abi::HYPERCALLS`) as a global function in
//! its ELF symbol table, so a rump kernel linked in its place (NetBSD's
//! components or the project's) finds each hypercall it calls.

use object::{Object, ObjectSymbol, SymbolKind};
use rumpx::guest_build;
use std::collections::BTreeSet;

#[test]
fn rumpcheck_image_defines_every_hypercall() {
    let image = guest_build::build_guest("rumpcheck").expect("build the rumpcheck guest");
    let bytes = std::fs::read(&image).expect("read the rumpcheck image");
    let elf = object::File::parse(&*bytes).expect("parse the rumpcheck image as ELF");
    let defined: BTreeSet<&str> = elf
        .symbols()
        .filter(|s| s.is_definition() && s.is_global() && s.kind() == SymbolKind::Text)
        .filter_map(|s| s.name().ok())
        .collect();
    let missing: Vec<&str> = rumpuser_abi::HYPERCALLS
        .iter()
        .copied()
        .filter(|name| !defined.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} hypercalls are not defined as global functions in {}: {missing:?}",
        missing.len(),
        rumpuser_abi::HYPERCALLS.len(),
        image.display()
    );
    // The kernel's entry for received frames is defined by the kernel side
    // (here the conformance suite), not by the platform; it must be there
    // for the image to link at all.
    assert!(
        defined.contains(rumpuser_abi::names::KERNEL_DELIVERPKT),
        "{} is not defined",
        rumpuser_abi::names::KERNEL_DELIVERPKT
    );
}
