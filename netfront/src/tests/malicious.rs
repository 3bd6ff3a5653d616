//! A backend that breaks the protocol: every kind of bad response
//! disconnects the vif with the reason, every grant comes back, no page is
//! freed while the backend can still reach it, and the vif can be
//! restarted.

use std::vec::Vec;

use xen_platform::services::DomId;

use super::common::*;
use crate::sim::{Malice, NetbackConfig, SimNetback, SimNetfront, Wire, WireFaults};
use crate::{Config, LinkState, NetError, TxOffload};

const GUEST: DomId = DomId(6);

/// What the reason must mention, and the frontend config that makes the
/// malice a violation.
fn expect(m: Malice) -> (&'static str, Config) {
    let d = Config::default();
    match m {
        Malice::TxUnknownId => ("not in flight", d),
        Malice::TxDuplicateId => ("tx response id", d),
        Malice::TxBadStatus => ("status unknown", d),
        Malice::TxSpuriousNull => ("NULL response", d),
        Malice::TxRspProdTooFar => ("rsp_prod runs ahead", d),
        Malice::RxWrongId => ("id is not the buffer", d),
        Malice::RxOffsetPastPage => ("runs past its page", d),
        Malice::RxBadStatus => ("status unknown", d),
        Malice::RxUnknownFlags => ("unknown flags", d),
        Malice::RxGsoPrefix => ("gso_prefix", d),
        Malice::RxBadExtraType => ("not negotiated", d),
        Malice::RxTooManySlots => ("too many slots", d),
        Malice::RxCsumBlank => ("csum_blank", Config::minimal()),
        Malice::RxMoreData => ("without feature-sg", Config::minimal()),
        Malice::RxRspProdTooFar => ("rsp_prod runs ahead", d),
        Malice::RxRandom(_) | Malice::TxRandom(_) => ("", d),
    }
}

/// Runs traffic until the vif fails (re-injecting random malice that
/// happened to be harmless); returns the reason.
fn until_failed(vif: &mut SimNetfront, nb: &mut SimNetback, m: Malice) -> &'static str {
    let mut seq = 0;
    for _ in 0..200 {
        if vif.state() == LinkState::Failed {
            break;
        }
        if !nb.malice_pending() {
            nb.inject(m);
        }
        // Two frames per batch, so tx malice has responses to bend.
        for _ in 0..2 {
            let _ = vif.send(&[&frame(seq, 100, IPV4)], TxOffload::default());
            seq += 1;
        }
        nb.step();
        let _ = nb.take_sent();
        let _ = vif.poll(|_| {});
        let _ = vif.poll_xenbus();
    }
    assert_eq!(vif.state(), LinkState::Failed, "{m:?} never failed the vif");
    match vif.last_error() {
        Some(NetError::PeerMisbehaved(why)) => why,
        other => panic!("{m:?}: {other:?}"),
    }
}

#[test]
fn every_malice_disconnects_with_reason_and_frees_everything() {
    for (k, m) in Malice::ALL.into_iter().enumerate() {
        let (want, cfg) = expect(m);
        let bed = Bed::new();
        let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), cfg, k as u64);
        let why = until_failed(&mut vif, &mut nb, m);
        assert!(why.contains(want), "{m:?}: {why}");
        let c = vif.counters();
        assert_eq!((c.violations, c.disconnects), (1, 1), "{m:?}");
        // Sends are refused with the reason.
        assert_eq!(
            vif.send(&[&frame(0, 60, IPV4)], TxOffload::default()),
            Err(NetError::Disconnected(why))
        );
        // The frontend went Closing; the backend unmaps and closes; every
        // grant ends.
        settle(&mut vif, &mut nb, |v, _| v.grants_held() == 0);
        assert_eq!(bed.held(GUEST), (0, 0, 0), "{m:?}");
        assert_eq!(bed.hv.memory.freed_while_granted(), 0, "{m:?}");
        // Restarted, it connects again and carries frames.
        vif.restart();
        settle(&mut vif, &mut nb, |v, n| {
            v.state() == LinkState::Connected && n.is_connected()
        });
        let mut wire = Wire::new(1, WireFaults::default());
        vif.send(&[&frame(7, 1000, IPV4)], TxOffload::default())
            .unwrap();
        let mut rx = Vec::new();
        for _ in 0..5 {
            loop_round(&mut vif, &mut nb, &mut wire, &mut rx).unwrap();
        }
        assert_eq!(rx.len(), 1, "{m:?}");
        assert_eq!(check(&rx[0].0), Some(7));
        assert_eq!(vif.counters().connects, 2);
        assert!(vif.last_error().is_none());
    }
}

/// A backend that never unmaps: the vif fails, but its pages stay
/// allocated (in quarantine) until the backend lets go.
#[test]
fn pages_held_by_the_backend_are_never_freed() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    bed.hv.grants.set_holding(DOM0, true);
    let mut wire = Wire::new(1, WireFaults::default());
    let mut rx = Vec::new();
    for i in 0..20 {
        vif.send(&[&frame(i, 6000, IPV4)], TxOffload::default())
            .unwrap();
        loop_round(&mut vif, &mut nb, &mut wire, &mut rx).unwrap();
    }
    for _ in 0..5 {
        loop_round(&mut vif, &mut nb, &mut wire, &mut rx).unwrap();
    }
    assert_eq!(rx.len(), 20);
    nb.inject(Malice::RxWrongId);
    let why = until_failed(&mut vif, &mut nb, Malice::RxWrongId);
    assert!(why.contains("id"));
    for _ in 0..10 {
        nb.step();
        vif.poll_xenbus().unwrap();
    }
    let held = vif.grants_held();
    assert!(held > 0);
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    assert_eq!(bed.held(GUEST).0, held);
    assert!(bed.held(GUEST).1 >= held);
    // The backend domain dies: its mappings go, the pages come back.
    nb.kill();
    bed.hv.grants.set_holding(DOM0, false);
    vif.poll_xenbus().unwrap();
    assert_eq!(vif.grants_held(), 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
}

/// Dropping a vif whose pages the backend still maps leaks them rather
/// than freeing memory the backend could write.
#[test]
fn drop_leaks_rather_than_frees_held_pages() {
    let bed = Bed::new();
    let (vif, _nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    bed.hv.grants.set_holding(DOM0, true);
    drop(vif);
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
    // The two ring pages stay granted (and allocated); the rx buffers
    // were never mapped and are freed.
    assert_eq!(bed.held(GUEST).0, 2);
    assert_eq!(bed.held(GUEST).2, 0);
}
