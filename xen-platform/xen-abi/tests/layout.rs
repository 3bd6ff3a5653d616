//! Hand-written layout and constant checks for the generated Xen ABI bindings.
//!
//! Every expected number here was worked out from the text of the Xen 4.17
//! public headers (field types, C alignment rules on x86_64, the sizes the
//! headers state in comments), not copied from bindgen's output, so a wrong
//! generator setting (target, interface version, packing) shows up here.

use core::mem::{align_of, offset_of, size_of};

use xen_abi::*;

/// arch-x86/hvm/start_info.h: the PVH start info, version 1 layout.
#[test]
fn hvm_start_info() {
    assert_eq!(size_of::<hvm_start_info>(), 56);
    assert_eq!(offset_of!(hvm_start_info, magic), 0);
    assert_eq!(offset_of!(hvm_start_info, version), 4);
    assert_eq!(offset_of!(hvm_start_info, flags), 8);
    assert_eq!(offset_of!(hvm_start_info, nr_modules), 12);
    assert_eq!(offset_of!(hvm_start_info, modlist_paddr), 16);
    assert_eq!(offset_of!(hvm_start_info, cmdline_paddr), 24);
    assert_eq!(offset_of!(hvm_start_info, rsdp_paddr), 32);
    assert_eq!(offset_of!(hvm_start_info, memmap_paddr), 40);
    assert_eq!(offset_of!(hvm_start_info, memmap_entries), 48);
    assert_eq!(offset_of!(hvm_start_info, reserved), 52);

    assert_eq!(size_of::<hvm_memmap_table_entry>(), 24);
    assert_eq!(offset_of!(hvm_memmap_table_entry, addr), 0);
    assert_eq!(offset_of!(hvm_memmap_table_entry, size), 8);
    assert_eq!(offset_of!(hvm_memmap_table_entry, type_), 16);
    assert_eq!(offset_of!(hvm_memmap_table_entry, reserved), 20);

    assert_eq!(size_of::<hvm_modlist_entry>(), 32);
    assert_eq!(offset_of!(hvm_modlist_entry, cmdline_paddr), 16);

    // "xEn3" with the 0x80 bit of the "E" set.
    assert_eq!(XEN_HVM_START_MAGIC_VALUE, 0x336e_c578);
    assert_eq!(XEN_HVM_MEMMAP_TYPE_RAM, 1);
    assert_eq!(XEN_HVM_MEMMAP_TYPE_RESERVED, 2);
}

/// io/console.h: the console ring page.
#[test]
fn xencons_interface() {
    assert_eq!(size_of::<xencons_interface>(), 3088);
    assert_eq!(offset_of!(xencons_interface, in_), 0);
    assert_eq!(offset_of!(xencons_interface, out), 1024);
    assert_eq!(offset_of!(xencons_interface, in_cons), 3072);
    assert_eq!(offset_of!(xencons_interface, in_prod), 3076);
    assert_eq!(offset_of!(xencons_interface, out_cons), 3080);
    assert_eq!(offset_of!(xencons_interface, out_prod), 3084);
    let cons = xencons_interface::default();
    assert_eq!(cons.in_.len(), 1024);
    assert_eq!(cons.out.len(), 2048);
}

/// io/xs_wire.h: the xenstore ring page and message header.
#[test]
fn xenstore() {
    assert_eq!(XENSTORE_RING_SIZE, 1024);
    assert_eq!(size_of::<xenstore_domain_interface>(), 2076);
    assert_eq!(offset_of!(xenstore_domain_interface, req), 0);
    assert_eq!(offset_of!(xenstore_domain_interface, rsp), 1024);
    assert_eq!(offset_of!(xenstore_domain_interface, req_cons), 2048);
    assert_eq!(offset_of!(xenstore_domain_interface, req_prod), 2052);
    assert_eq!(offset_of!(xenstore_domain_interface, rsp_cons), 2056);
    assert_eq!(offset_of!(xenstore_domain_interface, rsp_prod), 2060);
    assert_eq!(offset_of!(xenstore_domain_interface, server_features), 2064);
    assert_eq!(offset_of!(xenstore_domain_interface, connection), 2068);
    assert_eq!(offset_of!(xenstore_domain_interface, error), 2072);

    assert_eq!(size_of::<xsd_sockmsg>(), 16);
    assert_eq!(offset_of!(xsd_sockmsg, type_), 0);
    assert_eq!(offset_of!(xsd_sockmsg, req_id), 4);
    assert_eq!(offset_of!(xsd_sockmsg, tx_id), 8);
    assert_eq!(offset_of!(xsd_sockmsg, len), 12);
    assert_eq!(XENSTORE_PAYLOAD_MAX, 4096);

    // enum xsd_sockmsg_type counts up from XS_CONTROL = 0, XS_RESTRICT (20)
    // removed, XS_RESET_WATCHES = XS_SET_TARGET + 2.
    let types: [(xsd_sockmsg_type, u32); 10] = [
        (XS_CONTROL, 0),
        (XS_DIRECTORY, 1),
        (XS_READ, 2),
        (XS_WATCH, 4),
        (XS_TRANSACTION_START, 6),
        (XS_WRITE, 11),
        (XS_WATCH_EVENT, 15),
        (XS_ERROR, 16),
        (XS_RESET_WATCHES, 21),
        (XS_TYPE_COUNT, 23),
    ];
    for (got, want) in types {
        assert_eq!(got, want);
    }
    assert_eq!(XS_WATCH_PATH, 0);
    assert_eq!(XS_WATCH_TOKEN, 1);
}

/// io/xenbus.h: enum xenbus_state.
#[test]
fn xenbus_state() {
    let states: [(XenbusState, u32); 9] = [
        (XenbusStateUnknown, 0),
        (XenbusStateInitialising, 1),
        (XenbusStateInitWait, 2),
        (XenbusStateInitialised, 3),
        (XenbusStateConnected, 4),
        (XenbusStateClosing, 5),
        (XenbusStateClosed, 6),
        (XenbusStateReconfiguring, 7),
        (XenbusStateReconfigured, 8),
    ];
    for (got, want) in states {
        assert_eq!(got, want);
    }
}

/// io/netif.h: requests, responses and extra info slots.
#[test]
fn netif() {
    assert_eq!(size_of::<netif_tx_request>(), 12);
    assert_eq!(offset_of!(netif_tx_request, gref), 0);
    assert_eq!(offset_of!(netif_tx_request, offset), 4);
    assert_eq!(offset_of!(netif_tx_request, flags), 6);
    assert_eq!(offset_of!(netif_tx_request, id), 8);
    assert_eq!(offset_of!(netif_tx_request, size), 10);

    assert_eq!(size_of::<netif_tx_response>(), 4);
    assert_eq!(offset_of!(netif_tx_response, status), 2);

    assert_eq!(size_of::<netif_rx_request>(), 8);
    assert_eq!(offset_of!(netif_rx_request, id), 0);
    assert_eq!(offset_of!(netif_rx_request, gref), 4);

    assert_eq!(size_of::<netif_rx_response>(), 8);
    assert_eq!(offset_of!(netif_rx_response, id), 0);
    assert_eq!(offset_of!(netif_rx_response, offset), 2);
    assert_eq!(offset_of!(netif_rx_response, flags), 4);
    assert_eq!(offset_of!(netif_rx_response, status), 6);

    // type, flags, then a 6-byte union aligned to 2.
    assert_eq!(size_of::<netif_extra_info>(), 8);
    assert_eq!(offset_of!(netif_extra_info, type_), 0);
    assert_eq!(offset_of!(netif_extra_info, flags), 1);
    assert_eq!(offset_of!(netif_extra_info, u), 2);

    assert_eq!(NETTXF_csum_blank, 1);
    assert_eq!(NETTXF_data_validated, 2);
    assert_eq!(NETTXF_more_data, 4);
    assert_eq!(NETTXF_extra_info, 8);
    assert_eq!(NETRXF_data_validated, 1);
    assert_eq!(NETRXF_csum_blank, 2);
    assert_eq!(NETRXF_more_data, 4);
    assert_eq!(NETRXF_extra_info, 8);
    assert_eq!(NETRXF_gso_prefix, 16);
    assert_eq!(XEN_NETIF_EXTRA_TYPE_GSO, 1);
}

/// io/blkif.h: requests and responses (x86_64 layout).
#[test]
fn blkif() {
    assert_eq!(BLKIF_MAX_SEGMENTS_PER_REQUEST, 11);
    assert_eq!(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, 8);

    assert_eq!(size_of::<blkif_request_segment>(), 8);
    assert_eq!(offset_of!(blkif_request_segment, gref), 0);
    assert_eq!(offset_of!(blkif_request_segment, first_sect), 4);
    assert_eq!(offset_of!(blkif_request_segment, last_sect), 5);

    assert_eq!(size_of::<blkif_request>(), 112);
    assert_eq!(align_of::<blkif_request>(), 8);
    assert_eq!(offset_of!(blkif_request, operation), 0);
    assert_eq!(offset_of!(blkif_request, nr_segments), 1);
    assert_eq!(offset_of!(blkif_request, handle), 2);
    assert_eq!(offset_of!(blkif_request, id), 8);
    assert_eq!(offset_of!(blkif_request, sector_number), 16);
    assert_eq!(offset_of!(blkif_request, seg), 24);

    assert_eq!(size_of::<blkif_request_discard>(), 32);
    assert_eq!(offset_of!(blkif_request_discard, nr_sectors), 24);

    // 60 bytes of fields, padded to 8 (no i386 pad field on x86_64).
    assert_eq!(size_of::<blkif_request_indirect>(), 64);
    assert_eq!(offset_of!(blkif_request_indirect, operation), 0);
    assert_eq!(offset_of!(blkif_request_indirect, indirect_op), 1);
    assert_eq!(offset_of!(blkif_request_indirect, nr_segments), 2);
    assert_eq!(offset_of!(blkif_request_indirect, id), 8);
    assert_eq!(offset_of!(blkif_request_indirect, sector_number), 16);
    assert_eq!(offset_of!(blkif_request_indirect, handle), 24);
    assert_eq!(offset_of!(blkif_request_indirect, indirect_grefs), 28);

    assert_eq!(size_of::<blkif_response>(), 16);
    assert_eq!(offset_of!(blkif_response, id), 0);
    assert_eq!(offset_of!(blkif_response, operation), 8);
    assert_eq!(offset_of!(blkif_response, status), 10);

    assert_eq!(BLKIF_OP_READ, 0);
    assert_eq!(BLKIF_OP_WRITE, 1);
    assert_eq!(BLKIF_OP_FLUSH_DISKCACHE, 3);
    assert_eq!(BLKIF_OP_DISCARD, 5);
    assert_eq!(BLKIF_OP_INDIRECT, 6);
    assert_eq!(BLKIF_RSP_OKAY, 0);
    assert_eq!(BLKIF_RSP_ERROR, -1);
    assert_eq!(BLKIF_RSP_EOPNOTSUPP, -2);
}

/// io/ring.h DEFINE_RING_TYPES: four indexes, 48 bytes of private and
/// padding space, then the entries at byte 64.
#[test]
fn shared_rings() {
    macro_rules! sring_header {
        ($t:ty) => {
            assert_eq!(offset_of!($t, req_prod), 0);
            assert_eq!(offset_of!($t, req_event), 4);
            assert_eq!(offset_of!($t, rsp_prod), 8);
            assert_eq!(offset_of!($t, rsp_event), 12);
            assert_eq!(offset_of!($t, pvt), 16);
            assert_eq!(offset_of!($t, __pad), 20);
            assert_eq!(offset_of!($t, ring), 64);
        };
    }
    sring_header!(netif_tx_sring);
    sring_header!(netif_rx_sring);
    sring_header!(blkif_sring);

    // One entry each: a union of the request and the response.
    assert_eq!(size_of::<netif_tx_sring_entry>(), 12);
    assert_eq!(size_of::<netif_rx_sring_entry>(), 8);
    assert_eq!(size_of::<blkif_sring_entry>(), 112);
    assert_eq!(size_of::<netif_tx_sring>(), 64 + 12);
    assert_eq!(size_of::<netif_rx_sring>(), 64 + 8);
    assert_eq!(size_of::<blkif_sring>(), 64 + 112);
    assert_eq!(size_of::<RING_IDX>(), 4);

    // The front/back private views exist too.
    assert_eq!(offset_of!(netif_tx_front_ring, req_prod_pvt), 0);
    assert_eq!(offset_of!(netif_tx_front_ring, rsp_cons), 4);
    assert_eq!(offset_of!(netif_tx_front_ring, nr_ents), 8);
    assert_eq!(offset_of!(netif_tx_front_ring, sring), 16);
}

/// xen.h and arch-x86: the shared info page and per-vCPU info.
#[test]
fn shared_info() {
    // "32 bytes" says the header.
    assert_eq!(size_of::<vcpu_time_info>(), 32);
    assert_eq!(offset_of!(vcpu_time_info, version), 0);
    assert_eq!(offset_of!(vcpu_time_info, tsc_timestamp), 8);
    assert_eq!(offset_of!(vcpu_time_info, system_time), 16);
    assert_eq!(offset_of!(vcpu_time_info, tsc_to_system_mul), 24);
    assert_eq!(offset_of!(vcpu_time_info, tsc_shift), 28);
    assert_eq!(offset_of!(vcpu_time_info, flags), 29);

    assert_eq!(size_of::<arch_vcpu_info>(), 16);
    // "64 bytes (x86)" says the header.
    assert_eq!(size_of::<vcpu_info>(), 64);
    assert_eq!(offset_of!(vcpu_info, evtchn_upcall_pending), 0);
    assert_eq!(offset_of!(vcpu_info, evtchn_upcall_mask), 1);
    assert_eq!(offset_of!(vcpu_info, evtchn_pending_sel), 8);
    assert_eq!(offset_of!(vcpu_info, arch), 16);
    assert_eq!(offset_of!(vcpu_info, time), 32);

    assert_eq!(XEN_LEGACY_MAX_VCPUS, 32);
    assert_eq!(offset_of!(shared_info, vcpu_info), 0);
    assert_eq!(offset_of!(shared_info, evtchn_pending), 32 * 64);
    assert_eq!(offset_of!(shared_info, evtchn_mask), 2048 + 64 * 8);
    assert_eq!(offset_of!(shared_info, wc_version), 3072);
    assert_eq!(offset_of!(shared_info, wc_sec), 3076);
    assert_eq!(offset_of!(shared_info, wc_nsec), 3080);
    assert_eq!(offset_of!(shared_info, wc_sec_hi), 3084);
    assert_eq!(offset_of!(shared_info, arch), 3088);
    assert_eq!(size_of::<arch_shared_info>(), 6 * 8);
    assert_eq!(size_of::<shared_info>(), 3088 + 48);

    assert_eq!(size_of::<vcpu_runstate_info>(), 48);
    assert_eq!(XEN_RUNSTATE_UPDATE, 1 << 63);
}

/// grant_table.h, event_channel.h, sched.h, hvm_op.h, memory.h, vcpu.h:
/// hypercall argument structures.
#[test]
fn hypercall_arguments() {
    assert_eq!(size_of::<grant_entry_v1>(), 8);
    assert_eq!(offset_of!(grant_entry_v1, flags), 0);
    assert_eq!(offset_of!(grant_entry_v1, domid), 2);
    assert_eq!(offset_of!(grant_entry_v1, frame), 4);
    assert_eq!(size_of::<grant_ref_t>(), 4);

    assert_eq!(size_of::<evtchn_send>(), 4);
    assert_eq!(size_of::<evtchn_alloc_unbound>(), 8);
    assert_eq!(offset_of!(evtchn_alloc_unbound, dom), 0);
    assert_eq!(offset_of!(evtchn_alloc_unbound, remote_dom), 2);
    assert_eq!(offset_of!(evtchn_alloc_unbound, port), 4);
    assert_eq!(size_of::<evtchn_port_t>(), 4);

    assert_eq!(size_of::<sched_shutdown>(), 4);
    // unsigned int *ports (a guest handle), unsigned int nr_ports, uint64_t timeout.
    assert_eq!(size_of::<sched_poll>(), 24);
    assert_eq!(offset_of!(sched_poll, nr_ports), 8);
    assert_eq!(offset_of!(sched_poll, timeout), 16);

    assert_eq!(size_of::<xen_hvm_param>(), 16);
    assert_eq!(offset_of!(xen_hvm_param, domid), 0);
    assert_eq!(offset_of!(xen_hvm_param, pad), 2);
    assert_eq!(offset_of!(xen_hvm_param, index), 4);
    assert_eq!(offset_of!(xen_hvm_param, value), 8);

    assert_eq!(size_of::<xen_add_to_physmap>(), 24);
    assert_eq!(offset_of!(xen_add_to_physmap, domid), 0);
    assert_eq!(offset_of!(xen_add_to_physmap, size), 2);
    assert_eq!(offset_of!(xen_add_to_physmap, space), 4);
    assert_eq!(offset_of!(xen_add_to_physmap, idx), 8);
    assert_eq!(offset_of!(xen_add_to_physmap, gpfn), 16);

    assert_eq!(size_of::<vcpu_set_singleshot_timer>(), 16);
    assert_eq!(offset_of!(vcpu_set_singleshot_timer, flags), 8);
    assert_eq!(size_of::<vcpu_register_vcpu_info>(), 16);
    assert_eq!(offset_of!(vcpu_register_vcpu_info, mfn), 0);
    assert_eq!(offset_of!(vcpu_register_vcpu_info, offset), 8);
}

/// xen.h: hypercall numbers as of interface version 0x00040e00 (not the
/// `_compat` numbers an unversioned build would get).
#[test]
fn hypercall_numbers() {
    assert_eq!(__HYPERVISOR_memory_op, 12);
    assert_eq!(__HYPERVISOR_set_timer_op, 15);
    assert_eq!(__HYPERVISOR_xen_version, 17);
    assert_eq!(__HYPERVISOR_console_io, 18);
    assert_eq!(__HYPERVISOR_grant_table_op, 20);
    assert_eq!(__HYPERVISOR_vcpu_op, 24);
    assert_eq!(__HYPERVISOR_sched_op, 29);
    assert_eq!(__HYPERVISOR_event_channel_op, 32);
    assert_eq!(__HYPERVISOR_hvm_op, 34);
    assert_eq!(__HYPERVISOR_sched_op_compat, 6);
    assert_eq!(__HYPERVISOR_event_channel_op_compat, 16);
}

/// Sub-operation and parameter numbers from the text of their headers.
#[test]
fn operation_numbers() {
    assert_eq!(SCHEDOP_yield, 0);
    assert_eq!(SCHEDOP_block, 1);
    assert_eq!(SCHEDOP_shutdown, 2);
    assert_eq!(SCHEDOP_poll, 3);
    assert_eq!(SHUTDOWN_poweroff, 0);
    assert_eq!(SHUTDOWN_reboot, 1);
    assert_eq!(SHUTDOWN_suspend, 2);
    assert_eq!(SHUTDOWN_crash, 3);
    assert_eq!(XENVER_version, 0);
    assert_eq!(XENVER_get_features, 6);
    assert_eq!(EVTCHNOP_bind_virq, 1);
    assert_eq!(EVTCHNOP_send, 4);
    assert_eq!(EVTCHNOP_alloc_unbound, 6);
    assert_eq!(GNTTABOP_setup_table, 2);
    assert_eq!(XENMEM_add_to_physmap, 7);
    assert_eq!(XENMAPSPACE_shared_info, 0);
    assert_eq!(XENMAPSPACE_grant_table, 1);
    assert_eq!(HVMOP_set_param, 0);
    assert_eq!(HVMOP_get_param, 1);
    assert_eq!(HVM_PARAM_CALLBACK_IRQ, 0);
    assert_eq!(HVM_PARAM_STORE_PFN, 1);
    assert_eq!(HVM_PARAM_STORE_EVTCHN, 2);
    assert_eq!(HVM_PARAM_CONSOLE_PFN, 17);
    assert_eq!(HVM_PARAM_CONSOLE_EVTCHN, 18);
    assert_eq!(HVM_PARAM_CALLBACK_TYPE_VECTOR, 2);
    assert_eq!(HVM_PARAM_CALLBACK_IRQ_TYPE_MASK, 0xFF00_0000_0000_0000);
    assert_eq!(VCPUOP_set_singleshot_timer, 8);
    assert_eq!(VCPUOP_register_vcpu_info, 10);
    assert_eq!(XEN_ELFNOTE_PHYS32_ENTRY, 18);
    assert_eq!(GTF_permit_access, 1);
}

/// xen.h: reserved domain ids, typed as `domid_t`.
#[test]
fn domain_ids() {
    let self_id: domid_t = DOMID_SELF;
    assert_eq!(self_id, 0x7FF0);
    assert_eq!(DOMID_FIRST_RESERVED, 0x7FF0);
    assert_eq!(DOMID_IO, 0x7FF1);
    assert_eq!(DOMID_XEN, 0x7FF2);
    assert_eq!(DOMID_INVALID, 0x7FF4);
    assert_eq!(DOMID_IDLE, 0x7FFF);
}

/// arch-x86/xen-x86_64.h: the hypervisor's reserved virtual range (PV).
#[test]
fn x86_64_layout() {
    assert_eq!(HYPERVISOR_VIRT_START, 0xFFFF_8000_0000_0000);
    assert_eq!(HYPERVISOR_VIRT_END, 0xFFFF_8800_0000_0000);
    assert_eq!(MACH2PHYS_VIRT_START, 0xFFFF_8000_0000_0000);
    assert_eq!(MACH2PHYS_VIRT_END, 0xFFFF_8040_0000_0000);
    assert_eq!(size_of::<xen_pfn_t>(), 8);
    assert_eq!(size_of::<xen_ulong_t>(), 8);
}
