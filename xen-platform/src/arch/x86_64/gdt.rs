//! The long-mode GDT (flat 64-bit code and data, as the boot GDT in `pvh`)
//! plus a 64-bit TSS whose IST1 stack the #DF handler runs on, so a stack
//! overflow into the boot stack's guard page is still reported.

use core::cell::UnsafeCell;

/// Selector of the 64-bit code segment (same as the boot GDT).
pub(crate) const KERNEL_CS: u16 = 0x08;
/// Selector of the TSS.
const TSS_SELECTOR: u16 = 0x18;
/// IST slot (1-based) used for #DF.
pub(crate) const DOUBLE_FAULT_IST: u8 = 1;
/// Size of the #DF stack in bytes.
const IST_STACK_SIZE: usize = 16 * 1024;

/// The 64-bit task-state segment (Intel SDM vol. 3, "64-bit TSS").
#[derive(Clone, Copy)]
#[repr(C, packed)]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

const _: () = assert!(size_of::<Tss>() == 104);

/// Boot-time tables, written once by [`init`] on the boot CPU.
struct Tables {
    gdt: UnsafeCell<[u64; 5]>,
    tss: UnsafeCell<Tss>,
    ist_stack: UnsafeCell<IstStack>,
}

#[repr(C, align(16))]
struct IstStack([u8; IST_STACK_SIZE]);

// SAFETY: the tables are written only by `init`, on the single boot CPU,
// before they are loaded; afterwards only the CPU uses them.
unsafe impl Sync for Tables {}

static TABLES: Tables = Tables {
    gdt: UnsafeCell::new([0; 5]),
    tss: UnsafeCell::new(Tss {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        ist: [0; 7],
        reserved2: 0,
        reserved3: 0,
        iomap_base: 0,
    }),
    ist_stack: UnsafeCell::new(IstStack([0; IST_STACK_SIZE])),
};

/// Loads the GDT with the TSS and the task register.
pub(crate) fn init() {
    let ist_top = TABLES.ist_stack.get() as u64 + IST_STACK_SIZE as u64;
    let tss = TABLES.tss.get();
    let base = tss as u64;
    let limit = (size_of::<Tss>() - 1) as u64;
    let gdt = TABLES.gdt.get();
    // SAFETY: runs once on the boot CPU before the GDT/TSS are loaded, so
    // nothing else accesses the tables; the writes are whole-value writes.
    unsafe {
        tss.write(Tss {
            reserved0: 0,
            rsp: [0; 3],
            reserved1: 0,
            ist: [ist_top, 0, 0, 0, 0, 0, 0],
            reserved2: 0,
            reserved3: 0,
            // No I/O permission bitmap.
            iomap_base: size_of::<Tss>() as u16,
        });
        gdt.write([
            0,
            // 64-bit code, present, DPL 0.
            0x00af_9a00_0000_ffff,
            // Data, present, writable.
            0x00cf_9200_0000_ffff,
            // Available 64-bit TSS (type 9), present.
            (limit & 0xffff)
                | ((base & 0xff_ffff) << 16)
                | (0x89 << 40)
                | (((limit >> 16) & 0xf) << 48)
                | (((base >> 24) & 0xff) << 56),
            base >> 32,
        ]);
    }
    #[repr(C, packed)]
    struct Gdtr {
        limit: u16,
        base: u64,
    }
    let gdtr = Gdtr {
        limit: (size_of::<[u64; 5]>() - 1) as u16,
        base: gdt as u64,
    };
    // SAFETY: the new GDT has the same code and data descriptors at the same
    // selectors as the boot GDT, so the loaded segment registers stay valid;
    // the TSS descriptor points at the initialised static TSS.
    unsafe {
        core::arch::asm!(
            "lgdt [{gdtr}]",
            "ltr {sel:x}",
            gdtr = in(reg) &gdtr,
            sel = in(reg) TSS_SELECTOR,
            options(readonly, nostack, preserves_flags),
        );
    }
}
