//! PVH entry (`arch-x86/hvm/start_info.h`, `elfnote.h`): the Xen ELF notes,
//! the 32-bit entry point, boot page tables, GDT, the switch to long mode and
//! the hand-over of `hvm_start_info` to the generic start code.
//!
//! Xen (and QEMU's PVH loader) enters at the `XEN_ELFNOTE_PHYS32_ENTRY`
//! address in 32-bit protected mode with paging off, flat segments, and
//! `%ebx` holding the physical address of `struct hvm_start_info`.

use crate::start::{self, EarlyBoot};
use crate::start_info::{self, MemoryMap};
use xen_abi::{hvm_memmap_table_entry, hvm_start_info};

/// Size of the boot stack in bytes.
const BOOT_STACK_SIZE: usize = 64 * 1024;

// Xen ELF notes. Each note: namesz, descsz, type, "Xen\0", desc (padded to 4).
core::arch::global_asm!(
    r#"
    .pushsection .note.Xen, "a", @note
    .macro xen_note type, desc_start, desc_end
    .balign 4
    .long 4
    .long \desc_end - \desc_start
    .long \type
    .asciz "Xen"
    .balign 4
    .endm

    xen_note {guest_os}, 1f, 2f
1:  .asciz "rumpx"
2:
    xen_note {xen_version}, 1f, 2f
1:  .asciz "xen-3.0"
2:
    xen_note {loader}, 1f, 2f
1:  .asciz "generic"
2:
    xen_note {phys32_entry}, 1f, 2f
1:  .long rumpx_pvh_start32
2:
    .balign 4
    .popsection
    "#,
    guest_os = const xen_abi::XEN_ELFNOTE_GUEST_OS,
    xen_version = const xen_abi::XEN_ELFNOTE_XEN_VERSION,
    loader = const xen_abi::XEN_ELFNOTE_LOADER,
    phys32_entry = const xen_abi::XEN_ELFNOTE_PHYS32_ENTRY,
    options(att_syntax)
);

// The entry path. Everything below 4 GiB is identity-mapped with 2 MiB pages
// (the console ring, xenstore page and other special pages live just below
// 4 GiB).
core::arch::global_asm!(
    r#"
    .pushsection .text.rumpx_boot, "ax", @progbits
    .code32
    .globl rumpx_pvh_start32
    .type rumpx_pvh_start32, @function
rumpx_pvh_start32:
    cli
    cld
    /* Keep the start-info address in %esi across the setup. */
    movl %ebx, %esi

    /* Zero .bss (page tables and stack live there too). */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* PD entries: 2048 x 2 MiB pages covering 0..4 GiB (present, rw, PS). */
    movl $rumpx_boot_pd, %edi
    movl $0x83, %eax
    movl $2048, %ecx
1:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b

    /* PDPT entries 0..3 point at the four PDs. */
    movl $rumpx_boot_pdpt, %edi
    movl $rumpx_boot_pd + 0x3, %eax
    movl $4, %ecx
2:  movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop 2b

    /* The 2 MiB region holding the stack guard page is mapped with 4 KiB
       pages instead, leaving the guard page unmapped: a boot stack
       overflow faults (and is reported through the #DF IST stack) instead of
       silently overwriting what lies below the stack. */
    movl $rumpx_boot_stack_guard, %edx
    andl $0xffe00000, %edx
    movl $rumpx_boot_pt, %edi
    leal 0x3(%edx), %eax
    movl $512, %ecx
5:  movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop 5b
    movl $rumpx_boot_stack_guard, %eax
    shrl $12, %eax
    andl $511, %eax
    movl $0, rumpx_boot_pt(,%eax,8)
    shrl $21, %edx
    movl $rumpx_boot_pt + 0x3, rumpx_boot_pd(,%edx,8)

    /* PML4 entry 0 points at the PDPT. */
    movl $rumpx_boot_pdpt + 0x3, rumpx_boot_pml4

    lgdt rumpx_gdt_ptr

    /* CR4.PAE */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4

    movl $rumpx_boot_pml4, %eax
    movl %eax, %cr3

    /* EFER.LME, and EFER.NXE if CPUID says NX exists. */
    movl $0x80000000, %eax
    cpuid
    xorl %edi, %edi
    cmpl $0x80000001, %eax
    jb 3f
    movl $0x80000001, %eax
    cpuid
    btl $20, %edx
    jnc 3f
    movl $(1 << 11), %edi
3:  movl $0xc0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    orl %edi, %eax
    wrmsr

    /* CR0.PG and CR0.WP (PE is already set). */
    movl %cr0, %eax
    orl $0x80010000, %eax
    movl %eax, %cr0

    ljmp ${code64}, $rumpx_pvh_start64

    .code64
rumpx_pvh_start64:
    lgdt rumpx_gdt_ptr
    movl ${data64}, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs

    movq $rumpx_boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl %esi, %edi
    call {rust_entry}
4:  cli
    hlt
    jmp 4b
    .size rumpx_pvh_start32, . - rumpx_pvh_start32

    .popsection

    /* GDT: null, 64-bit code, data. */
    .pushsection .rodata.rumpx_gdt, "a", @progbits
    .balign 16
rumpx_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
rumpx_gdt_end:
    .balign 8
    /* Read as 6 bytes by the 32-bit lgdt and as 10 by the 64-bit one. */
rumpx_gdt_ptr:
    .word rumpx_gdt_end - rumpx_gdt - 1
    .quad rumpx_gdt
    .popsection

    .pushsection .bss.rumpx_pages, "aw", @nobits
    .balign 4096
rumpx_boot_pml4:
    .skip 4096
rumpx_boot_pdpt:
    .skip 4096
rumpx_boot_pd:
    .skip 4096 * 4
rumpx_boot_pt:
    .skip 4096
    .globl rumpx_boot_stack_guard
rumpx_boot_stack_guard:
    .skip 4096
rumpx_boot_stack:
    .skip {stack_size}
rumpx_boot_stack_top:
    .popsection
    "#,
    code64 = const 0x08,
    data64 = const 0x10,
    stack_size = const BOOT_STACK_SIZE,
    rust_entry = sym rumpx_pvh_start_rust,
    options(att_syntax)
);

/// Longest command line we read (bytes).
const CMDLINE_MAX: usize = 4096;
/// Most memory-map entries we accept.
const MEMMAP_MAX: usize = 128;

/// First Rust code on the PVH path: long mode, identity-mapped first 4 GiB,
/// boot stack, zeroed `.bss`.
extern "C" fn rumpx_pvh_start_rust(start_info_paddr: u32) -> ! {
    super::idt::init();
    crate::console::early_str("rumpx: PVH entry, long mode up\n");
    // As early as possible, so that even boot errors end in a proper
    // crash shutdown on Xen.
    let xen_cpuid_base = super::hypercall::install().ok();

    if start_info_paddr == 0 {
        start::fatal_early(format_args!("no hvm_start_info (%ebx is 0)"));
    }
    // SAFETY: PVH hands over the physical address of a `hvm_start_info` in
    // %ebx; it is below 4 GiB (identity-mapped) and the loader does not
    // touch it after entry. It is copied out, so alignment does not matter.
    let info: hvm_start_info =
        unsafe { (start_info_paddr as usize as *const hvm_start_info).read_unaligned() };
    let info = &info;
    if let Err(e) = start_info::check(info) {
        start::fatal_early(format_args!("{e}"));
    }

    let cmdline = if info.cmdline_paddr != 0 && info.cmdline_paddr < (1 << 32) {
        let base = info.cmdline_paddr as usize as *const u8;
        let max = CMDLINE_MAX.min(((1u64 << 32) - info.cmdline_paddr) as usize);
        // Find the NUL first, one byte at a time, so nothing past the
        // string (possibly not RAM) is touched.
        let mut len = 0;
        // SAFETY: the start info points at a NUL-terminated command line in
        // identity-mapped memory below 4 GiB; reading stops at the NUL or at
        // CMDLINE_MAX bytes, and stays below 4 GiB.
        while len < max && unsafe { base.add(len).read() } != 0 {
            len += 1;
        }
        // SAFETY: the `len` bytes were just read (see above); the loader's
        // data is not written by anyone after entry.
        let bytes: &'static [u8] = unsafe { core::slice::from_raw_parts(base, len) };
        start_info::cmdline_from_bytes(bytes)
    } else {
        ""
    };

    let memory_map = match start_info::memmap_location(info) {
        Some((paddr, entries))
            if paddr % 8 == 0
                && entries <= MEMMAP_MAX
                && paddr + (entries * size_of::<hvm_memmap_table_entry>()) as u64 <= 1 << 32 =>
        {
            // SAFETY: the start info (version >= 1) points at `entries`
            // memory-map entries; the range is aligned, below 4 GiB
            // (identity-mapped) and bounded (checked above), and is not
            // written after entry.
            let entries: &'static [hvm_memmap_table_entry] = unsafe {
                core::slice::from_raw_parts(
                    paddr as usize as *const hvm_memmap_table_entry,
                    entries,
                )
            };
            MemoryMap::new(entries)
        }
        _ => MemoryMap::empty(),
    };

    start::start(EarlyBoot {
        cmdline,
        memory_map,
        xen_cpuid_base,
    })
}
