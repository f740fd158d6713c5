//! How the network is configured from the kernel command line: `ip=ADDR/PREFIX`, `gw=ADDR`
//! and `mac=XX:XX:XX:XX:XX:XX`; without `ip=` the stack asks DHCPv4. Plain parsing, tested
//! on the host.

use core::net::Ipv4Addr;

/// An address with its prefix length (`10.0.2.15/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// Parses `a.b.c.d/prefix` (prefix 1..=32; the address must not be 0.0.0.0, a multicast
/// or the broadcast address).
pub fn parse_cidr(value: &str) -> Option<Ipv4Cidr> {
    let (addr, prefix) = value.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let usable = !addr.is_unspecified() && !addr.is_multicast() && !addr.is_broadcast();
    ((1..=32).contains(&prefix) && usable).then_some(Ipv4Cidr { addr, prefix })
}

/// Parses a gateway address (`a.b.c.d`, not 0.0.0.0, multicast or broadcast).
pub fn parse_gateway(value: &str) -> Option<Ipv4Addr> {
    let addr: Ipv4Addr = value.parse().ok()?;
    (!addr.is_unspecified() && !addr.is_multicast() && !addr.is_broadcast()).then_some(addr)
}

/// Parses `52:54:00:12:34:56` (or with `-`); a multicast address (lowest bit of the first
/// byte) cannot be a NIC's own.
pub fn parse_mac(value: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = value.split([':', '-']);
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    (parts.next().is_none() && mac[0] & 1 == 0 && mac != [0; 6]).then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(
            parse_cidr("10.0.2.15/24"),
            Some(Ipv4Cidr {
                addr: Ipv4Addr::new(10, 0, 2, 15),
                prefix: 24
            })
        );
        assert_eq!(parse_cidr("192.168.100.2/32").map(|c| c.prefix), Some(32));
        for bad in [
            "10.0.2.15",
            "10.0.2.15/",
            "10.0.2.15/0",
            "10.0.2.15/33",
            "10.0.2/24",
            "0.0.0.0/8",
            "224.0.0.1/4",
            "255.255.255.255/32",
            "a.b.c.d/24",
            "",
        ] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn gateways() {
        assert_eq!(parse_gateway("10.0.2.2"), Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(parse_gateway("10.0.2.2/24"), None);
        assert_eq!(parse_gateway("0.0.0.0"), None);
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("52:54:00:12:34:56"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        assert_eq!(
            parse_mac("52-54-00-12-34-56"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        for bad in [
            "52:54:00:12:34",
            "52:54:00:12:34:56:78",
            "5:54:00:12:34:56",
            "zz:54:00:12:34:56",
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
