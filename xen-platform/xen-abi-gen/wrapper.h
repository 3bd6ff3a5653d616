/*
 * The Xen public headers that xen-abi binds (Debian 12, libxen-dev, Xen 4.17).
 * The generator passes -D__XEN_INTERFACE_VERSION__=0x00040e00 (the latest
 * interface of Xen 4.17); without it xen.h maps sched_op and
 * event_channel_op to their obsolete hypercall numbers.
 */
#include <stdint.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/arch-x86_64.h>
#include <xen/arch-x86/xen.h>
#include <xen/arch-x86/xen-x86_64.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/elfnote.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/memory.h>
#include <xen/version.h>
#include <xen/hvm/params.h>
#include <xen/hvm/hvm_op.h>
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>
#include <xen/io/console.h>
#include <xen/io/netif.h>
#include <xen/io/blkif.h>

/*
 * Macros whose values do not fit in an i64 are dropped by bindgen's macro
 * evaluation (cexpr and its clang fallback). Restate each as a signed 64-bit
 * macro that clang evaluates from the header's own definition; the generator
 * types them u64 and strips the XEN_ABI_U64_ prefix, so the Rust constants
 * carry the C macro names and values.
 */
#define XEN_ABI_U64_XEN_RUNSTATE_UPDATE ((long long)XEN_RUNSTATE_UPDATE)
#define XEN_ABI_U64_HVM_PARAM_CALLBACK_IRQ_TYPE_MASK \
    ((long long)HVM_PARAM_CALLBACK_IRQ_TYPE_MASK)
#define XEN_ABI_U64_HYPERVISOR_VIRT_START ((long long)HYPERVISOR_VIRT_START)
#define XEN_ABI_U64_HYPERVISOR_VIRT_END ((long long)HYPERVISOR_VIRT_END)
#define XEN_ABI_U64_MACH2PHYS_VIRT_START ((long long)MACH2PHYS_VIRT_START)
#define XEN_ABI_U64_MACH2PHYS_VIRT_END ((long long)MACH2PHYS_VIRT_END)
