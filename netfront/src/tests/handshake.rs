//! The xenbus handshake against the simulated netback: every backend
//! feature set with every frontend configuration, the keys written, bad
//! toolstack values, and connecting with a backend in another thread.

use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, thread, vec};

use xen_platform::services::DomId;
use xen_platform::xenstore::{Tx, XenstoreOps, XsError};

use super::common::*;
use crate::handshake::EventChannels;
use crate::sim::{NetbackConfig, SimNetback, SimNetfront, Wire, WireFaults};
use crate::{Config, Gso, GsoKind, LinkState, NetError, TxChecksum, TxOffload};

const GUEST: DomId = DomId(5);

fn read(bed: &Bed, path: &str) -> Option<String> {
    match bed.store.connect(DOM0).read(Tx::NONE, path) {
        Ok(v) => Some(v),
        Err(XsError::NoEnt) => None,
        Err(e) => panic!("{path}: {e}"),
    }
}

/// Shuts the vif down and checks nothing is left behind.
fn close_cleanly(bed: &Bed, vif: &mut SimNetfront, nb: &mut SimNetback) {
    vif.shutdown();
    settle(vif, nb, |v, _| v.is_closed());
    assert_eq!(vif.grants_held(), 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    assert_eq!(bed.hv.memory.freed_while_granted(), 0);
}

/// Sends `f` over loopback and returns what came back.
fn echo(vif: &mut SimNetfront, nb: &mut SimNetback, f: &[u8], off: TxOffload) -> Received {
    let mut wire = Wire::new(1, WireFaults::default());
    vif.send(&[f], off).unwrap();
    let mut rx = Vec::new();
    for _ in 0..4 {
        loop_round(vif, nb, &mut wire, &mut rx).unwrap();
    }
    rx
}

#[test]
fn every_feature_combination_connects_and_carries_frames() {
    let mut combos = 0;
    for nb_cfg in NetbackConfig::all_feature_sets() {
        for cfg in [
            Config::default(),
            Config {
                split_event_channels: false,
                ..Config::default()
            },
            Config::minimal(),
        ] {
            combos += 1;
            let bed = Bed::new();
            let (mut vif, mut nb) = bed.connected(GUEST, 0, nb_cfg.clone(), cfg, combos);
            let f = vif.backend_features().unwrap();
            assert!(f.rx_copy);
            assert_eq!(f.sg, nb_cfg.sg);
            assert_eq!(f.gso_tcpv4, nb_cfg.gso_tcpv4);
            assert_eq!(f.gso_tcpv6, nb_cfg.gso_tcpv6);
            assert_eq!(f.ipv6_csum_offload, nb_cfg.ipv6_csum_offload);
            assert_eq!(f.split_event_channels, nb_cfg.split_event_channels);
            assert_eq!(vif.mac().unwrap().to_string(), "00:16:3e:00:00:01");
            assert_eq!(vif.mtu(), Some(1500));

            // The keys, as the backend read them.
            let dev = "/local/domain/5/device/vif/0";
            let split = nb_cfg.split_event_channels && cfg.split_event_channels;
            let ev = vif.event_channels().unwrap();
            match ev {
                EventChannels::Split { tx, rx } => {
                    assert!(split);
                    assert_ne!(tx, rx);
                    assert_eq!(
                        read(&bed, &format!("{dev}/event-channel-tx")),
                        Some(format!("{}", tx.0))
                    );
                    assert_eq!(
                        read(&bed, &format!("{dev}/event-channel-rx")),
                        Some(format!("{}", rx.0))
                    );
                    assert_eq!(read(&bed, &format!("{dev}/event-channel")), None);
                }
                EventChannels::Single(p) => {
                    assert!(!split);
                    assert_eq!(
                        read(&bed, &format!("{dev}/event-channel")),
                        Some(format!("{}", p.0))
                    );
                    assert_eq!(read(&bed, &format!("{dev}/event-channel-tx")), None);
                }
            }
            let ff = nb.front_features().unwrap();
            assert_eq!(ff.split, split);
            assert_eq!(ff.sg, cfg.sg);
            assert_eq!(ff.gso_tcpv4, cfg.gso_tcpv4());
            assert_eq!(ff.gso_tcpv6, cfg.gso_tcpv6());
            assert_eq!(ff.csum_offload, cfg.rx_csum_offload);
            assert_eq!(ff.ipv6_csum_offload, cfg.ipv6_csum_offload());
            assert!(ff.rx_notify);
            assert_eq!(
                read(&bed, &format!("{dev}/request-rx-copy")).as_deref(),
                Some("1")
            );
            for k in ["tx-ring-ref", "rx-ring-ref"] {
                let v = read(&bed, &format!("{dev}/{k}")).unwrap();
                assert!(v.parse::<u32>().is_ok(), "{k} = {v}");
            }
            assert_eq!(read(&bed, &format!("{dev}/state")).as_deref(), Some("4"));

            // A small frame, a multi-page one where both sides do sg, and
            // a GSO frame where the backend takes it and we accept it.
            let small = frame(1, 60, IPV4);
            let rx = echo(&mut vif, &mut nb, &small, TxOffload::default());
            assert_eq!(rx.len(), 1);
            assert_eq!(rx[0].0, small);
            let big = frame(2, 9000, IPV4);
            let sent = vif.send(&[&big], TxOffload::default());
            if nb_cfg.sg {
                sent.unwrap();
                let mut rx = Vec::new();
                let mut wire = Wire::new(1, WireFaults::default());
                for _ in 0..4 {
                    loop_round(&mut vif, &mut nb, &mut wire, &mut rx).unwrap();
                }
                // Delivered only if we accept multi-slot frames.
                assert_eq!(rx.len(), usize::from(cfg.sg));
            } else {
                assert!(matches!(sent, Err(NetError::InvalidFrame(_))));
            }
            let gso = TxOffload {
                csum: TxChecksum::Partial,
                gso: Some(Gso {
                    kind: GsoKind::TcpV4,
                    mss: 1448,
                }),
            };
            let tcp = frame(3, 3000, IPV4);
            let sent = vif.send(&[&tcp], gso);
            assert_eq!(sent.is_ok(), nb_cfg.gso_tcpv4, "{sent:?}");
            assert_eq!(vif.state(), LinkState::Connected);
            close_cleanly(&bed, &mut vif, &mut nb);
        }
    }
    assert_eq!(combos, 96);
}

#[test]
fn feature_keys_follow_the_config() {
    let cases = [
        (Config::default(), ["1", "1", "1", "0", "1"]),
        (Config::minimal(), ["0", "0", "0", "1", "0"]),
        (
            Config {
                sg: false,
                ..Config::default()
            },
            ["0", "0", "0", "0", "1"],
        ),
        (
            Config {
                rx_gso_tcpv6: false,
                rx_ipv6_csum_offload: false,
                ..Config::default()
            },
            ["1", "1", "0", "0", "0"],
        ),
    ];
    for (cfg, want) in cases {
        let bed = Bed::new();
        let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), cfg, 1);
        let keys = [
            "feature-sg",
            "feature-gso-tcpv4",
            "feature-gso-tcpv6",
            "feature-no-csum-offload",
            "feature-ipv6-csum-offload",
        ];
        let got: Vec<String> = keys
            .iter()
            .map(|k| read(&bed, &format!("/local/domain/5/device/vif/0/{k}")).unwrap())
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            read(&bed, "/local/domain/5/device/vif/0/feature-rx-notify").as_deref(),
            Some("1")
        );
        close_cleanly(&bed, &mut vif, &mut nb);
    }
}

#[test]
fn backend_without_rx_copy_is_refused() {
    let bed = Bed::new();
    let cfg = NetbackConfig {
        rx_copy: false,
        ..NetbackConfig::default()
    };
    let (mut vif, mut nb) = bed.vif(GUEST, 0, cfg, Config::default(), 1);
    settle(&mut vif, &mut nb, |v, _| v.state() == LinkState::Failed);
    assert!(matches!(vif.last_error(), Some(NetError::Unsupported(_))));
    assert_eq!(vif.grants_held(), 0);
    assert_eq!(bed.held(GUEST), (0, 0, 0));
    assert!(matches!(
        vif.send(&[&[0u8; 60]], TxOffload::default()),
        Err(NetError::Disconnected(_))
    ));
}

#[test]
fn toolstack_values_are_checked() {
    let cases: Vec<(NetbackConfig, Result<u16, &str>)> = vec![
        (
            NetbackConfig {
                mtu: None,
                ..NetbackConfig::default()
            },
            Ok(1500),
        ),
        (
            NetbackConfig {
                mtu: Some("9000".into()),
                ..NetbackConfig::default()
            },
            Ok(9000),
        ),
        (
            NetbackConfig {
                mtu: Some("abc".into()),
                ..NetbackConfig::default()
            },
            Err("mtu"),
        ),
        (
            NetbackConfig {
                mtu: Some("20".into()),
                ..NetbackConfig::default()
            },
            Err("mtu"),
        ),
        (
            NetbackConfig {
                mtu: Some("70000".into()),
                ..NetbackConfig::default()
            },
            Err("mtu"),
        ),
        (
            NetbackConfig {
                mac: None,
                ..NetbackConfig::default()
            },
            Err("no mac"),
        ),
        (
            NetbackConfig {
                mac: Some("00:16:3e:00:00".into()),
                ..NetbackConfig::default()
            },
            Err("not a MAC"),
        ),
    ];
    for (cfg, want) in cases {
        let bed = Bed::new();
        let (mut vif, mut nb) = bed.vif(GUEST, 0, cfg, Config::default(), 1);
        settle(&mut vif, &mut nb, |v, _| {
            matches!(v.state(), LinkState::Connected | LinkState::Failed)
        });
        match want {
            Ok(mtu) => assert_eq!(vif.mtu(), Some(mtu)),
            Err(why) => {
                assert_eq!(vif.state(), LinkState::Failed);
                match vif.last_error() {
                    Some(NetError::PeerMisbehaved(r)) => assert!(r.contains(why), "{r}"),
                    other => panic!("{other:?}"),
                }
                assert_eq!(vif.counters().violations, 1);
                assert_eq!(bed.held(GUEST), (0, 0, 0));
            }
        }
    }
    // A feature key that is not a number.
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.vif(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    bed.store
        .connect(DOM0)
        .write(Tx::NONE, &format!("{}/feature-sg", nb.path()), "yes")
        .unwrap();
    settle(&mut vif, &mut nb, |v, _| v.state() == LinkState::Failed);
    assert!(matches!(
        vif.last_error(),
        Some(NetError::PeerMisbehaved(r)) if r.contains("not a number")
    ));
    // A backend state that is not a state.
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.connected(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    bed.store
        .connect(DOM0)
        .write(Tx::NONE, &format!("{}/state", nb.path()), "connected")
        .unwrap();
    vif.poll_xenbus().unwrap();
    assert_eq!(vif.state(), LinkState::Failed);
    settle(&mut vif, &mut nb, |v, _| v.grants_held() == 0);
}

#[test]
fn a_missing_device_is_an_error() {
    let bed = Bed::new();
    let svc = crate::sim::sim_services(&bed.hv, &bed.store, GUEST);
    assert!(matches!(
        SimNetfront::open(svc, "3", Config::default()),
        Err(NetError::Xenstore(XsError::NoEnt))
    ));
    let (_vif, _nb) = bed.vif(GUEST, 4, NetbackConfig::default(), Config::default(), 1);
    let xs = bed.store.connect(GUEST);
    let devs = crate::vifs(&xs).unwrap();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0].id, "4");
}

/// `connect` waits in xenstore while the backend runs in another thread;
/// without a backend that moves, it times out.
#[test]
fn connect_waits_for_a_threaded_backend() {
    let bed = Bed::new();
    let (mut vif, mut nb) = bed.vif(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let backend = thread::spawn(move || {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            nb.step();
            thread::sleep(std::time::Duration::from_millis(1));
        }
        nb
    });
    vif.connect(None).unwrap();
    assert_eq!(vif.state(), LinkState::Connected);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut nb = backend.join().unwrap();
    assert!(nb.is_connected());
    close_cleanly(&bed, &mut vif, &mut nb);

    let bed = Bed::new();
    let (mut vif, _nb) = bed.vif(GUEST, 0, NetbackConfig::default(), Config::default(), 1);
    let deadline = bed.store.now_ns() + 20_000_000;
    assert_eq!(vif.connect(Some(deadline)), Err(NetError::Timeout));
    // It got as far as it could without the backend.
    assert_eq!(vif.state(), LinkState::Connecting);
}
