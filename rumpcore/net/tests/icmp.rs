//! The stack answers ping: an ICMP echo request from a neighbour on the
//! interface's subnet gets an echo reply with the same identifier,
//! sequence number and data (smoltcp's automatic echo reply, a feature
//! that must stay enabled; the Xen tests ping guests before using them).

mod common;

use common::Outbox;
use rumpcore_net::{Stack, StackConfig};

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 9];
const OUR_IP: [u8; 4] = [10, 0, 0, 1];
const PEER_IP: [u8; 4] = [10, 0, 0, 9];

/// RFC 1071 Internet checksum of `b`.
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame from the peer to us carrying `ethertype`.
fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ICMP echo request from the peer to us.
fn echo_request(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&ident.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(data);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&PEER_IP);
    ip.extend_from_slice(&OUR_IP);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ether(0x0800, &ip)
}

/// The ARP reply telling us the peer's address.
fn arp_reply() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 2];
    a.extend_from_slice(&PEER_MAC);
    a.extend_from_slice(&PEER_IP);
    a.extend_from_slice(&OUR_MAC);
    a.extend_from_slice(&OUR_IP);
    ether(0x0806, &a)
}

/// The ICMP echo reply to the peer among `frames`: (ident, seq, data).
fn echo_reply(frames: &[Vec<u8>]) -> Option<(u16, u16, Vec<u8>)> {
    frames.iter().find_map(|f| {
        let ip = f.get(14..)?;
        let icmp = ip.get(20..)?;
        let is_reply = f[0..6] == PEER_MAC
            && f[12..14] == [8, 0]
            && ip[9] == 1
            && ip[12..16] == OUR_IP
            && ip[16..20] == PEER_IP
            && icmp.first() == Some(&0);
        (is_reply && checksum(icmp) == 0).then(|| {
            let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
            let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
            (ident, seq, icmp[8..].to_vec())
        })
    })
}

#[test]
fn answers_ping() {
    let mut s = Stack::new(StackConfig::default());
    let out = Outbox::default();
    let ix = s
        .ifcreate("virt0", OUR_MAC, 1500, Box::new(out.clone()))
        .unwrap();
    s.ifup(ix).unwrap();
    s.ipv4_ifaddr_cidr(ix, OUR_IP.into(), 24).unwrap();
    let data: Vec<u8> = (0..56u8).collect();
    // The first request makes the stack ask for the peer's address (its
    // reply waits for that, like any first packet to a neighbour).
    s.receive(ix, &echo_request(0x4242, 0, &data)).unwrap();
    s.poll(1_000_000);
    s.receive(ix, &arp_reply()).unwrap();
    s.poll(2_000_000);
    out.0.lock().unwrap().clear();
    for seq in 1..=3u16 {
        s.receive(ix, &echo_request(0x4242, seq, &data)).unwrap();
        s.poll(2_000_000 + u64::from(seq) * 1_000_000);
        let sent = std::mem::take(&mut *out.0.lock().unwrap());
        let reply = echo_reply(&sent).unwrap_or_else(|| panic!("no echo reply to seq {seq}"));
        assert_eq!(reply, (0x4242, seq, data.clone()));
    }
}
