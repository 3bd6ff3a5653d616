//! Safe wrappers for the Xen hypercalls the platform uses now (`xen.h`,
//! `version.h`, `sched.h`, `hvm/hvm_op.h`, `memory.h`, `event_channel.h`),
//! on top of the arch hypercall page.

use crate::arch::x86_64::hypercall::{hypercall5, ready};
use crate::boot_info::XenVersion;
use crate::error::XenError;
use xen_abi as abi;

/// Xen's ENOSYS (`errno.h`), returned by the wrappers before the hypercall
/// page exists.
const ENOSYS: i64 = abi::XEN_ENOSYS as i64;

/// Makes hypercall `nr` with arguments that are plain values or pointers to
/// live, correctly typed argument structures owned by the wrapper; fails
/// with ENOSYS before the hypercall page is installed.
fn call(nr: u32, a1: u64, a2: u64) -> i64 {
    call3(nr, a1, a2, 0)
}

/// `XENVER_version`: the Xen version.
pub fn xen_version() -> Result<XenVersion, XenError> {
    let ret = call(abi::__HYPERVISOR_xen_version, abi::XENVER_version as u64, 0);
    XenError::check("xen_version(XENVER_version)", ret).map(|v| XenVersion::from_raw(v as u32))
}

/// `SCHEDOP_yield`: lets other vCPUs (and the backends in dom0) run.
pub fn sched_yield() {
    // Yield cannot fail in a way we could act on.
    let _ = call(abi::__HYPERVISOR_sched_op, abi::SCHEDOP_yield as u64, 0);
}

/// Why the domain shuts down (`sched.h`, `SHUTDOWN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    /// Normal end: power off.
    Poweroff,
    /// Restart the domain.
    Reboot,
    /// The guest crashed.
    Crash,
}

impl ShutdownReason {
    fn raw(self) -> u32 {
        match self {
            ShutdownReason::Poweroff => abi::SHUTDOWN_poweroff,
            ShutdownReason::Reboot => abi::SHUTDOWN_reboot,
            ShutdownReason::Crash => abi::SHUTDOWN_crash,
        }
    }
}

/// `SCHEDOP_shutdown`: asks Xen to shut the domain down. Returns only if the
/// hypercall failed.
pub fn sched_shutdown(reason: ShutdownReason) -> XenError {
    let arg = abi::sched_shutdown {
        reason: reason.raw() as _,
    };
    let ret = call(
        abi::__HYPERVISOR_sched_op,
        abi::SCHEDOP_shutdown as u64,
        (&raw const arg) as u64,
    );
    match XenError::check("sched_op(SCHEDOP_shutdown)", ret) {
        Err(e) => e,
        Ok(_) => XenError::PeerMisbehaved("SCHEDOP_shutdown returned"),
    }
}

/// `HVMOP_get_param` for this domain.
pub fn hvm_get_param(index: u32) -> Result<u64, XenError> {
    let mut arg = abi::xen_hvm_param {
        domid: abi::DOMID_SELF as _,
        index: index as _,
        ..Default::default()
    };
    let ret = call(
        abi::__HYPERVISOR_hvm_op,
        abi::HVMOP_get_param as u64,
        (&raw mut arg) as u64,
    );
    XenError::check("hvm_op(HVMOP_get_param)", ret)?;
    Ok(arg.value)
}

/// `XENMEM_add_to_physmap` for this domain: maps `idx` of `space` (e.g.
/// `XENMAPSPACE_shared_info`) at guest frame `gpfn`.
///
/// # Safety
/// Whatever was at `gpfn` is replaced: no Rust reference may point into that
/// frame except through the mapping's new contents' rules.
pub unsafe fn add_to_physmap(space: u32, idx: u64, gpfn: u64) -> Result<(), XenError> {
    let arg = abi::xen_add_to_physmap {
        domid: abi::DOMID_SELF as _,
        size: 0,
        space: space as _,
        idx: idx as _,
        gpfn: gpfn as _,
    };
    if !ready() {
        return Err(XenError::Hypercall {
            op: "memory_op(XENMEM_add_to_physmap)",
            errno: ENOSYS as u32,
        });
    }
    // SAFETY: the page is installed (checked); `arg` lives for the call; the
    // caller guarantees the remapped frame is not referenced by Rust.
    let ret = unsafe {
        hypercall5(
            abi::__HYPERVISOR_memory_op,
            abi::XENMEM_add_to_physmap as u64,
            (&raw const arg) as u64,
            0,
            0,
            0,
        )
    };
    XenError::check("memory_op(XENMEM_add_to_physmap)", ret).map(|_| ())
}

/// `XENMEM_current_reservation`: the number of pages this domain holds.
pub fn current_reservation() -> Result<u64, XenError> {
    let domid: abi::domid_t = abi::DOMID_SELF as _;
    let ret = call(
        abi::__HYPERVISOR_memory_op,
        abi::XENMEM_current_reservation as u64,
        (&raw const domid) as u64,
    );
    XenError::check("memory_op(XENMEM_current_reservation)", ret)
}

/// `EVTCHNOP_send`: notifies the other end of event channel `port`.
pub fn evtchn_send(port: u32) -> Result<(), XenError> {
    let mut arg = abi::evtchn_send { port: port as _ };
    evtchn_op(
        abi::EVTCHNOP_send,
        "event_channel_op(EVTCHNOP_send)",
        &mut arg,
    )
}

/// `event_channel_op(cmd, arg)`: `arg` is the command's argument structure,
/// which Xen may fill in (the new port of a bind).
fn evtchn_op<T>(cmd: u32, op: &'static str, arg: &mut T) -> Result<(), XenError> {
    let ret = call(
        abi::__HYPERVISOR_event_channel_op,
        cmd as u64,
        (arg as *mut T) as u64,
    );
    XenError::check(op, ret).map(|_| ())
}

/// Like `call`, with a third argument (`vcpu_op` takes cmd, vcpu, arg).
fn call3(nr: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    if !ready() {
        return -ENOSYS;
    }
    // SAFETY: the page is installed (checked); every wrapper in this module
    // passes either scalars or pointers to argument structures that live on
    // its stack for the duration of the call, for operations that do not
    // remap memory Rust references.
    unsafe { hypercall5(nr, a1, a2, a3, 0, 0) }
}

/// `HVMOP_set_param` for this domain.
pub fn hvm_set_param(index: u32, value: u64) -> Result<(), XenError> {
    let mut arg = abi::xen_hvm_param {
        domid: abi::DOMID_SELF as _,
        index: index as _,
        value,
        ..Default::default()
    };
    let ret = call(
        abi::__HYPERVISOR_hvm_op,
        abi::HVMOP_set_param as u64,
        (&raw mut arg) as u64,
    );
    XenError::check("hvm_op(HVMOP_set_param)", ret).map(|_| ())
}

/// `EVTCHNOP_bind_virq`: binds virtual IRQ `virq` of `vcpu` to a new port.
pub fn evtchn_bind_virq(virq: u32, vcpu: u32) -> Result<u32, XenError> {
    let mut arg = abi::evtchn_bind_virq {
        virq,
        vcpu,
        port: 0,
    };
    evtchn_op(
        abi::EVTCHNOP_bind_virq,
        "event_channel_op(EVTCHNOP_bind_virq)",
        &mut arg,
    )?;
    Ok(arg.port)
}

/// `EVTCHNOP_alloc_unbound`: a new port of this domain that `remote_dom`
/// may bind to.
pub fn evtchn_alloc_unbound(remote_dom: u16) -> Result<u32, XenError> {
    let mut arg = abi::evtchn_alloc_unbound {
        dom: abi::DOMID_SELF as _,
        remote_dom: remote_dom as _,
        port: 0,
    };
    evtchn_op(
        abi::EVTCHNOP_alloc_unbound,
        "event_channel_op(EVTCHNOP_alloc_unbound)",
        &mut arg,
    )?;
    Ok(arg.port)
}

/// `EVTCHNOP_bind_interdomain`: a new local port connected to
/// `remote_port` of `remote_dom`.
pub fn evtchn_bind_interdomain(remote_dom: u16, remote_port: u32) -> Result<u32, XenError> {
    let mut arg = abi::evtchn_bind_interdomain {
        remote_dom: remote_dom as _,
        remote_port,
        local_port: 0,
    };
    evtchn_op(
        abi::EVTCHNOP_bind_interdomain,
        "event_channel_op(EVTCHNOP_bind_interdomain)",
        &mut arg,
    )?;
    Ok(arg.local_port)
}

/// `EVTCHNOP_close`.
pub fn evtchn_close(port: u32) -> Result<(), XenError> {
    let mut arg = abi::evtchn_close { port };
    evtchn_op(
        abi::EVTCHNOP_close,
        "event_channel_op(EVTCHNOP_close)",
        &mut arg,
    )
}

/// `EVTCHNOP_unmask`: clears the mask bit and, if the port is pending,
/// raises the upcall again.
pub fn evtchn_unmask(port: u32) -> Result<(), XenError> {
    let mut arg = abi::evtchn_unmask { port };
    evtchn_op(
        abi::EVTCHNOP_unmask,
        "event_channel_op(EVTCHNOP_unmask)",
        &mut arg,
    )
}

/// `VCPUOP_set_singleshot_timer`: raise VIRQ_TIMER on `vcpu` at system
/// time `timeout_abs_ns` (at once if it is past).
pub fn vcpu_set_singleshot_timer(vcpu: u32, timeout_abs_ns: u64) -> Result<(), XenError> {
    let arg = abi::vcpu_set_singleshot_timer {
        timeout_abs_ns,
        flags: 0,
    };
    let ret = call3(
        abi::__HYPERVISOR_vcpu_op,
        abi::VCPUOP_set_singleshot_timer as u64,
        vcpu as u64,
        (&raw const arg) as u64,
    );
    XenError::check("vcpu_op(VCPUOP_set_singleshot_timer)", ret).map(|_| ())
}

/// `VCPUOP_stop_periodic_timer`: no periodic VIRQ_TIMER on `vcpu`.
pub fn vcpu_stop_periodic_timer(vcpu: u32) -> Result<(), XenError> {
    let ret = call3(
        abi::__HYPERVISOR_vcpu_op,
        abi::VCPUOP_stop_periodic_timer as u64,
        vcpu as u64,
        0,
    );
    XenError::check("vcpu_op(VCPUOP_stop_periodic_timer)", ret).map(|_| ())
}

/// `VCPUOP_get_runstate_info`: how long `vcpu` has spent running,
/// runnable, blocked and offline (ns, indexed by `RUNSTATE_*`).
pub fn vcpu_runstate_info(vcpu: u32) -> Result<abi::vcpu_runstate_info, XenError> {
    let mut arg = abi::vcpu_runstate_info {
        state: 0,
        state_entry_time: 0,
        time: [0; 4],
    };
    let ret = call3(
        abi::__HYPERVISOR_vcpu_op,
        abi::VCPUOP_get_runstate_info as u64,
        vcpu as u64,
        (&raw mut arg) as u64,
    );
    XenError::check("vcpu_op(VCPUOP_get_runstate_info)", ret)?;
    Ok(arg)
}
