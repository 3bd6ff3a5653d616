//! The backend going away and coming back: a backend that closes and
//! reopens, `xl network-detach` then `xl network-attach`, a backend domain
//! that dies; frames in flight fail, grants come back, traffic resumes.

use std::vec::Vec;

use xen_platform::services::DomId;
use xen_platform::xenbus::XenbusState;

use super::common::*;
use crate::sim::{NetbackConfig, SimNetback, SimNetfront, Wire, WireFaults};
use crate::{Config, LinkState, NetError, TxOffload};

const GUEST: DomId = DomId(8);

fn traffic_works(vif: &mut SimNetfront, nb: &mut SimNetback, seq: u32) {
    let mut wire = Wire::new(u64::from(seq), WireFaults::default());
    for i in 0..3 {
        vif.send(&[&frame(seq + i, 5000, IPV4)], TxOffload::default())
            .unwrap();
    }
    let mut rx = Vec::new();
    for _ in 0..6 {
        loop_round(vif, nb, &mut wire, &mut rx).unwrap();
    }
    let got: Vec<u32> = rx.iter().map(|(f, _)| check(f).unwrap()).collect();
    assert_eq!(got, [seq, seq + 1, seq + 2]);
}

#[test]
fn backend_closes_and_comes_back() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    traffic_works(&mut vif, &mut nb, 0);
    for cycle in 1..=3u64 {
        // Frames in flight when the backend goes.
        for i in 0..5 {
            vif.send(&[&frame(i, 200, IPV4)], TxOffload::default())
                .unwrap();
        }
        let dropped = vif.counters().tx_dropped;
        nb.close();
        vif.poll_xenbus().unwrap();
        assert_eq!(vif.state(), LinkState::Detached);
        assert_eq!(vif.counters().tx_dropped, dropped + 5);
        assert!(matches!(
            vif.send(&[&frame(0, 60, IPV4)], TxOffload::default()),
            Err(NetError::NotConnected)
        ));
        settle(&mut vif, &mut nb, |v, n| {
            v.state() == LinkState::Connected && n.is_connected()
        });
        assert_eq!(vif.counters().connects, cycle + 1);
        assert_eq!(vif.counters().disconnects, cycle);
        assert_eq!(vif.counters().violations, 0);
        traffic_works(&mut vif, &mut nb, 100 * cycle as u32);
    }
    // Only the live connection's grants: rings and rx buffers.
    assert_eq!(vif.grants_held(), 2 + 256);
    assert_eq!(bed.held(GUEST).0, 2 + 256);
}

#[test]
fn xl_network_detach_then_attach() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    traffic_works(&mut vif, &mut nb, 0);
    nb.detach();
    settle(&mut vif, &mut nb, |_, n| n.state() == XenbusState::Closed);
    // Everything given back before the toolstack removes the device.
    settle(&mut vif, &mut nb, |v, _| v.grants_held() == 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    nb.remove();
    for _ in 0..5 {
        nb.step();
        vif.poll_xenbus().unwrap();
    }
    assert_ne!(vif.state(), LinkState::Connected);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    nb.attach();
    settle(&mut vif, &mut nb, |v, n| {
        v.state() == LinkState::Connected && n.is_connected()
    });
    traffic_works(&mut vif, &mut nb, 10);
    assert_eq!(vif.counters().disconnects, 1);
}

#[test]
fn backend_domain_dies_and_a_new_one_attaches() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    vif.send(&[&frame(0, 3000, IPV4)], TxOffload::default())
        .unwrap();
    nb.step(); // maps and answers, keeps the rings mapped
    nb.kill();
    vif.poll_xenbus().unwrap();
    assert_eq!(vif.state(), LinkState::Detached);
    assert_eq!(vif.grants_held(), 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    nb.attach();
    settle(&mut vif, &mut nb, |v, n| {
        v.state() == LinkState::Connected && n.is_connected()
    });
    traffic_works(&mut vif, &mut nb, 20);
}

#[test]
fn shutdown_while_traffic_is_in_flight() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    for i in 0..10 {
        vif.send(&[&frame(i, 9000, IPV4)], TxOffload::default())
            .unwrap();
    }
    nb.step();
    vif.shutdown();
    assert_eq!(vif.state(), LinkState::Shut);
    settle(&mut vif, &mut nb, |v, n| {
        v.is_closed() && n.state() == XenbusState::Closed
    });
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    // It stays shut when the backend comes back.
    nb.attach();
    for _ in 0..5 {
        nb.step();
        vif.poll_xenbus().unwrap();
    }
    assert_eq!(vif.state(), LinkState::Shut);
}
