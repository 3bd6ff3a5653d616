//! A minimal DHCPv4 server for the tests: answers DISCOVER with OFFER and
//! REQUEST with ACK for one fixed address (hand-built frames).

use std::net::Ipv4Addr;

pub struct Server {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    pub offer: Ipv4Addr,
    pub router: Ipv4Addr,
    pub offers: u32,
    pub acks: u32,
}

impl Server {
    pub fn new(ip: Ipv4Addr, offer: Ipv4Addr) -> Self {
        Server {
            mac: [0x02, 0xdd, 0, 0, 0, 1],
            ip,
            offer,
            router: ip,
            offers: 0,
            acks: 0,
        }
    }

    /// Replies to a frame seen on the wire.
    pub fn handle(&mut self, f: &[u8]) -> Vec<Vec<u8>> {
        // Ethernet + IPv4 (no options) + UDP to port 67.
        if f.len() < 14 + 20 + 8 + 240 || f[12..14] != [0x08, 0x00] || f[23] != 17 {
            return Vec::new();
        }
        let ihl = usize::from(f[14] & 0xf) * 4;
        let udp = 14 + ihl;
        if f[udp + 2..udp + 4] != [0, 67] {
            return Vec::new();
        }
        let bootp = &f[udp + 8..];
        if bootp[0] != 1 || bootp.len() < 240 || bootp[236..240] != [99, 130, 83, 99] {
            return Vec::new();
        }
        let mut ty = 0;
        let mut o = 240;
        while o < bootp.len() && bootp[o] != 255 {
            if bootp[o] == 0 {
                o += 1;
                continue;
            }
            if o + 1 >= bootp.len() {
                break;
            }
            let len = usize::from(bootp[o + 1]);
            if bootp[o] == 53 && len == 1 {
                ty = bootp[o + 2];
            }
            o += 2 + len;
        }
        let reply = match ty {
            1 => {
                self.offers += 1;
                2
            }
            3 => {
                self.acks += 1;
                5
            }
            _ => return Vec::new(),
        };
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&bootp[28..34]);
        vec![self.build(reply, &bootp[4..8], chaddr)]
    }

    fn build(&self, ty: u8, xid: &[u8], chaddr: [u8; 6]) -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = 2; // BOOTREPLY
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(xid);
        b[16..20].copy_from_slice(&self.offer.octets()); // yiaddr
        b[20..24].copy_from_slice(&self.ip.octets()); // siaddr
        b[28..34].copy_from_slice(&chaddr);
        b[236..240].copy_from_slice(&[99, 130, 83, 99]);
        b.extend_from_slice(&[53, 1, ty]);
        b.extend_from_slice(&[54, 4]);
        b.extend_from_slice(&self.ip.octets());
        b.extend_from_slice(&[51, 4, 0, 0, 0x0e, 0x10]); // 3600 s
        b.extend_from_slice(&[1, 4, 255, 255, 255, 0]);
        b.extend_from_slice(&[3, 4]);
        b.extend_from_slice(&self.router.octets());
        b.push(255);
        let udp_len = 8 + b.len();
        let mut udp = vec![0, 67, 0, 68, (udp_len >> 8) as u8, udp_len as u8, 0, 0];
        udp.extend_from_slice(&b);
        let total = 20 + udp.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend_from_slice(&self.ip.octets());
        ip.extend_from_slice(&[255, 255, 255, 255]);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&self.mac);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&udp);
        f
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
