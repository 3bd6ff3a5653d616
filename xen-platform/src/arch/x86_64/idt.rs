//! The 64-bit IDT for exceptions 0..31: assembly stubs push the vector (and
//! a zero error code where the CPU pushes none) and hand the saved state to
//! [`rumpx_exception`], which reports vector, name, error code, RIP and (for
//! #PF) CR2 on the console and the 0xE9 port, then crash-shuts down. The
//! table also holds the event-channel upcall vector (see `upcall`).

use super::gdt::{DOUBLE_FAULT_IST, KERNEL_CS};
use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

/// Number of exception vectors handled.
const VECTORS: usize = 32;
/// Entries in the IDT (exceptions plus the upcall vector).
const IDT_ENTRIES: usize = 256;

// One 16-byte stub per vector; vectors with a CPU-pushed error code are 8,
// 10-14, 17, 21, 29 and 30.
core::arch::global_asm!(
    r#"
    .pushsection .text.rumpx_isr, "ax", @progbits
    .balign 16
    .globl rumpx_isr_stubs
rumpx_isr_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 16
    .if (\n != 8) && (\n != 10) && (\n != 11) && (\n != 12) && (\n != 13) && (\n != 14) && (\n != 17) && (\n != 21) && (\n != 29) && (\n != 30)
    pushq $0
    .endif
    pushq $\n
    jmp rumpx_isr_common
    .endr

rumpx_isr_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rbx
    pushq %rbp
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    call {handler}
    ud2
    .popsection
    "#,
    handler = sym rumpx_exception,
    options(att_syntax)
);

unsafe extern "C" {
    /// Start of the exception stubs (defined above), 16 bytes apart.
    static rumpx_isr_stubs: [u8; 16 * VECTORS];
    /// The unmapped guard page below the boot stack (defined in `pvh`).
    static rumpx_boot_stack_guard: [u8; 4096];
}

/// An IDT gate descriptor (64-bit interrupt gate).
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn interrupt(handler: u64, ist: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: KERNEL_CS,
            ist,
            // Present, DPL 0, 64-bit interrupt gate.
            type_attr: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

/// The IDT; written once by [`init`] before interrupts or faults are
/// expected.
#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; IDT_ENTRIES]>);

// SAFETY: the table is written only by `init`, on the single boot CPU, before
// it is loaded; afterwards only the CPU reads it.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new([Gate::MISSING; IDT_ENTRIES]));

/// Loads the GDT and TSS, then fills and loads the IDT.
pub(crate) fn init() {
    super::gdt::init();
    let stubs = (&raw const rumpx_isr_stubs) as u64;
    let table = IDT.0.get();
    for v in 0..VECTORS {
        // SAFETY: `init` runs once on the boot CPU before the IDT is loaded,
        // so nothing else reads or writes the table; `v` is in bounds.
        unsafe {
            let ist = if v == 8 { DOUBLE_FAULT_IST } else { 0 };
            (*table)[v] = Gate::interrupt(stubs + 16 * v as u64, ist);
        };
    }
    // SAFETY: as above; the upcall vector is in bounds and not an exception.
    unsafe {
        (*table)[usize::from(super::upcall::UPCALL_VECTOR)] =
            Gate::interrupt(super::upcall::stub_address(), 0);
    }
    #[repr(C, packed)]
    struct Idtr {
        limit: u16,
        base: u64,
    }
    let idtr = Idtr {
        limit: (size_of::<[Gate; IDT_ENTRIES]>() - 1) as u16,
        base: table as u64,
    };
    // SAFETY: the IDT is a static with valid gates pointing at the stubs,
    // whose code segment is the boot GDT's 64-bit code segment.
    unsafe {
        core::arch::asm!("lidt [{}]", in(reg) &idtr, options(readonly, nostack, preserves_flags));
    }
}

/// The state the stubs save, lowest address first.
#[repr(C)]
pub(crate) struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rdi: u64,
    rsi: u64,
    rbp: u64,
    rbx: u64,
    rdx: u64,
    rcx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

/// Mnemonic and name of an exception vector.
fn vector_name(vector: u64) -> (&'static str, &'static str) {
    match vector {
        0 => ("#DE", "divide error"),
        1 => ("#DB", "debug"),
        2 => ("NMI", "non-maskable interrupt"),
        3 => ("#BP", "breakpoint"),
        4 => ("#OF", "overflow"),
        5 => ("#BR", "bound range exceeded"),
        6 => ("#UD", "invalid opcode"),
        7 => ("#NM", "device not available"),
        8 => ("#DF", "double fault"),
        9 => ("--", "coprocessor segment overrun"),
        10 => ("#TS", "invalid TSS"),
        11 => ("#NP", "segment not present"),
        12 => ("#SS", "stack-segment fault"),
        13 => ("#GP", "general protection"),
        14 => ("#PF", "page fault"),
        16 => ("#MF", "x87 floating-point error"),
        17 => ("#AC", "alignment check"),
        18 => ("#MC", "machine check"),
        19 => ("#XM", "SIMD floating-point exception"),
        20 => ("#VE", "virtualization exception"),
        21 => ("#CP", "control protection"),
        28 => ("#HV", "hypervisor injection"),
        29 => ("#VC", "VMM communication"),
        30 => ("#SX", "security exception"),
        _ => ("--", "reserved"),
    }
}

impl fmt::Display for ExceptionFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mnemonic, name) = vector_name(self.vector);
        write!(
            f,
            "exception {} {mnemonic} ({name}), error code {:#x}, RIP {:#018x}",
            self.vector, self.error_code, self.rip
        )?;
        if self.vector == 14 || self.vector == 8 {
            let cr2 = super::cpu::read_cr2();
            write!(f, ", CR2 {cr2:#018x}")?;
            let guard = (&raw const rumpx_boot_stack_guard) as u64;
            if (guard..guard + 4096).contains(&cr2) {
                write!(f, " (boot stack overflow: guard page)")?;
            }
        }
        write!(
            f,
            "\n  rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}\
             \n  rsi {:#018x} rdi {:#018x} rbp {:#018x} rsp {:#018x}\
             \n  r8  {:#018x} r9  {:#018x} r10 {:#018x} r11 {:#018x}\
             \n  r12 {:#018x} r13 {:#018x} r14 {:#018x} r15 {:#018x}\
             \n  cs {:#x} ss {:#x} rflags {:#x}",
            self.rax,
            self.rbx,
            self.rcx,
            self.rdx,
            self.rsi,
            self.rdi,
            self.rbp,
            self.rsp,
            self.r8,
            self.r9,
            self.r10,
            self.r11,
            self.r12,
            self.r13,
            self.r14,
            self.r15,
            self.cs,
            self.ss,
            self.rflags
        )
    }
}

/// Set while an exception is being reported (a fault inside the report must
/// not recurse).
static IN_EXCEPTION: AtomicBool = AtomicBool::new(false);

/// Reports an exception and crash-shuts the domain down.
extern "C" fn rumpx_exception(frame: &ExceptionFrame) -> ! {
    if IN_EXCEPTION.swap(true, Ordering::Relaxed) {
        super::cpu::debug_port_write(b"rumpx: exception while reporting an exception\n");
        crate::start::shutdown_crash_now();
    }
    crate::console::fault(format_args!("rumpx: {frame}\n"));
    crate::start::crash();
}
