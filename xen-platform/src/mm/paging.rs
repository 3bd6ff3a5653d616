//! x86_64 4-level page tables (Intel SDM vol. 3, ch. 4; the PVH guest's own
//! tables, no Xen header): index math and 2 MiB -> 4 KiB splitting (pure,
//! tested on the host), and on the guest unmapping/remapping single 4 KiB
//! pages of the identity map (used for stack guard pages).

/// Present.
pub const PTE_P: u64 = 1 << 0;
/// Writable.
pub const PTE_RW: u64 = 1 << 1;
/// Page size (a 2 MiB/1 GiB leaf in a PD/PDPT entry).
pub const PTE_PS: u64 = 1 << 7;
/// PAT bit of a 2 MiB leaf (bit 7 in a 4 KiB PTE).
const PDE_PAT: u64 = 1 << 12;
/// No-execute.
pub const PTE_NX: u64 = 1 << 63;
/// Physical address bits of a table pointer or 4 KiB leaf.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Physical address bits of a 2 MiB leaf.
const ADDR_MASK_2M: u64 = 0x000f_ffff_ffe0_0000;

/// The PML4, PDPT, PD and PT indices of a virtual address.
pub fn indices(va: u64) -> [usize; 4] {
    [39, 30, 21, 12].map(|shift| ((va >> shift) & 511) as usize)
}

/// The 4 KiB PTE `i` (0..512) that maps the same memory, with the same
/// attributes, as part `i` of the 2 MiB leaf `pde`.
pub fn split_pte(pde: u64, i: usize) -> u64 {
    let base = pde & ADDR_MASK_2M;
    // Low attribute bits (P, RW, US, PWT, PCD, A, D, G) stay; PS goes; the
    // PAT bit moves from 12 to 7; NX stays.
    let low = pde & 0x17f;
    let pat = if pde & PDE_PAT != 0 { 1 << 7 } else { 0 };
    (base + i as u64 * 4096) | low | pat | (pde & PTE_NX)
}

/// The PD entry pointing at a page table `pt_paddr` that replaces leaf
/// `pde` (same P/RW/US permissions, so the PTEs decide).
pub fn table_pde(pde: u64, pt_paddr: u64) -> u64 {
    (pt_paddr & ADDR_MASK) | (pde & 0x7)
}

#[cfg(target_os = "none")]
pub(crate) use machine::{remap_page, unmap_page};

#[cfg(target_os = "none")]
mod machine {
    use super::*;
    use crate::mm::MemError;
    use core::arch::asm;

    /// Serialises page-table edits (lock order: this, then the frame
    /// allocator).
    static LOCK: spin::Mutex<()> = spin::Mutex::new(());

    fn read_cr3() -> u64 {
        let v: u64;
        // SAFETY: reading CR3 has no side effects; the guest runs in ring 0.
        unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }

    fn flush_all() {
        // SAFETY: writing CR3 back with its own value flushes non-global TLB
        // entries and changes no mapping.
        unsafe { asm!("mov cr3, {}", in(reg) read_cr3(), options(nostack, preserves_flags)) };
    }

    fn invlpg(va: u64) {
        // SAFETY: invalidating a TLB entry is always safe; the tables were
        // already updated.
        unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
    }

    /// The PTE slot for `va` (below 4 GiB), splitting its 2 MiB leaf first
    /// if needed. Caller holds `LOCK`.
    fn pte_slot(va: u64) -> Result<*mut u64, MemError> {
        if va >= 1 << 32 {
            return Err(MemError::Unmapped);
        }
        let [i4, i3, i2, i1] = indices(va);
        let pml4 = (read_cr3() & ADDR_MASK) as *mut u64;
        // SAFETY: the boot page tables (and tables added by `pte_slot`) live
        // in identity-mapped memory below 4 GiB, so a table's physical
        // address is also its virtual address; indices are < 512; only this
        // module edits the tables, under `LOCK`.
        unsafe {
            let e4 = pml4.add(i4).read_volatile();
            if e4 & PTE_P == 0 {
                return Err(MemError::Unmapped);
            }
            let pdpt = (e4 & ADDR_MASK) as *mut u64;
            let e3 = pdpt.add(i3).read_volatile();
            if e3 & PTE_P == 0 || e3 & PTE_PS != 0 {
                return Err(MemError::Unmapped);
            }
            let pd = (e3 & ADDR_MASK) as *mut u64;
            let pde_slot = pd.add(i2);
            let pde = pde_slot.read_volatile();
            if pde & PTE_P == 0 {
                return Err(MemError::Unmapped);
            }
            if pde & PTE_PS != 0 {
                let frame = crate::mm::alloc_frame_for_tables()?;
                let pt = frame as *mut u64;
                for i in 0..512 {
                    pt.add(i).write_volatile(split_pte(pde, i));
                }
                pde_slot.write_volatile(table_pde(pde, frame));
                // Same translations, new structure: drop the 2 MiB entry.
                flush_all();
            }
            let pt = (pde_slot.read_volatile() & ADDR_MASK) as *mut u64;
            Ok(pt.add(i1))
        }
    }

    /// Unmaps the 4 KiB page at `va` (below 4 GiB) from the identity map.
    /// Touching it faults afterwards.
    pub(crate) fn unmap_page(va: u64) -> Result<(), MemError> {
        let _irq = crate::mm::IrqOff::new();
        let _g = LOCK.lock();
        let slot = pte_slot(va & !0xfff)?;
        // SAFETY: `slot` is the page's PTE (see `pte_slot`); the page is
        // owned by the caller and no Rust reference points into it.
        unsafe { slot.write_volatile(0) };
        invlpg(va);
        Ok(())
    }

    /// Maps the 4 KiB page at `va` (below 4 GiB) again, identity, writable.
    pub(crate) fn remap_page(va: u64) -> Result<(), MemError> {
        let _irq = crate::mm::IrqOff::new();
        let _g = LOCK.lock();
        let va = va & !0xfff;
        let slot = pte_slot(va)?;
        // SAFETY: `slot` is the page's PTE (see `pte_slot`); mapping a page
        // of RAM to itself changes no other mapping.
        unsafe { slot.write_volatile(va | PTE_P | PTE_RW) };
        invlpg(va);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_math() {
        assert_eq!(indices(0), [0, 0, 0, 0]);
        assert_eq!(indices(0x20_1000), [0, 0, 1, 1]);
        assert_eq!(indices(0xffff_f000), [0, 3, 511, 511]);
        assert_eq!(indices(0x80_4020_3000), [1, 1, 1, 3]);
    }

    #[test]
    fn split_keeps_translation_and_attributes() {
        let pde = 0x4020_0000 | PTE_P | PTE_RW | PTE_PS;
        assert_eq!(split_pte(pde, 0), 0x4020_0000 | PTE_P | PTE_RW);
        assert_eq!(split_pte(pde, 511), 0x403f_f000 | PTE_P | PTE_RW);
        let odd = 0x20_0000 | PTE_P | PTE_PS | PDE_PAT | PTE_NX | (1 << 8);
        assert_eq!(
            split_pte(odd, 1),
            0x20_1000 | PTE_P | (1 << 7) | PTE_NX | (1 << 8)
        );
        let t = table_pde(pde, 0x1234_5000);
        assert_eq!(t & ADDR_MASK, 0x1234_5000);
        assert_eq!(t & PTE_PS, 0);
        assert_eq!(t & (PTE_P | PTE_RW), PTE_P | PTE_RW);
    }
}
