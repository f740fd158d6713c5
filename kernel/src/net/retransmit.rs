//! Counts TCP retransmissions by watching the frames the stack sends (smoltcp keeps no such
//! counter): a segment that carries sequence space below what its connection already sent
//! is a retransmission. Plain logic over frame bytes, tested on the host.

use alloc::collections::BTreeMap;

/// Connections remembered at most; past that the table starts again (a few
/// retransmissions right after may go uncounted).
const MAX_FLOWS: usize = 4096;

/// Per connection (remote address, local port, remote port): the sequence number after
/// the highest byte sent.
#[derive(Debug, Default)]
pub struct RetransmitCounter {
    flows: BTreeMap<FlowKey, u32>,
}

/// Remote IPv4 address, local port, remote port.
type FlowKey = (u32, u16, u16);

/// What [`parse`] reads from a segment.
struct Segment {
    key: FlowKey,
    seq: u32,
    /// Sequence space used: data, plus one each for SYN and FIN.
    len: u32,
    flags: u8,
}

impl RetransmitCounter {
    /// Looks at one outgoing Ethernet frame; true if it is a TCP retransmission.
    pub fn observe(&mut self, frame: &[u8]) -> bool {
        let Some(Segment {
            key,
            seq,
            len,
            flags,
        }) = parse(frame)
        else {
            return false;
        };
        const RST: u8 = 0x04;
        if flags & RST != 0 {
            self.flows.remove(&key);
            return false;
        }
        if len == 0 {
            return false; // a bare ACK
        }
        let end = seq.wrapping_add(len);
        match self.flows.get_mut(&key) {
            Some(next) => {
                let retransmit = (next.wrapping_sub(seq) as i32) > 0;
                if (end.wrapping_sub(*next) as i32) > 0 {
                    *next = end;
                }
                retransmit
            }
            None => {
                if self.flows.len() >= MAX_FLOWS {
                    self.flows.clear();
                }
                self.flows.insert(key, end);
                false
            }
        }
    }
}

/// The IPv4 TCP segment in an Ethernet frame, if it is one.
fn parse(frame: &[u8]) -> Option<Segment> {
    let u16_at = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*frame.get(i)?, *frame.get(i + 1)?]))
    };
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(frame.get(i..i + 4)?.try_into().ok()?))
    };
    if u16_at(12)? != 0x0800 || *frame.get(23)? != 6 {
        return None;
    }
    let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
    let total = usize::from(u16_at(16)?);
    let tcp = 14 + ihl;
    let data_offset = usize::from(frame.get(tcp + 12)? >> 4) * 4;
    let payload = total.checked_sub(ihl + data_offset)?;
    let flags = *frame.get(tcp + 13)?;
    let (syn, fin) = (flags & 0x02 != 0, flags & 0x01 != 0);
    let len = payload as u32 + u32::from(syn) + u32::from(fin);
    let key = (u32_at(30)?, u16_at(tcp)?, u16_at(tcp + 2)?);
    Some(Segment {
        key,
        seq: u32_at(tcp + 4)?,
        len,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// An Ethernet/IPv4/TCP frame from local port 80 to 10.0.2.2:`dst`.
    fn segment(dst: u16, seq: u32, payload: usize, flags: u8) -> Vec<u8> {
        let mut f = alloc::vec![0u8; 14 + 20 + 20 + payload];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((20 + 20 + payload) as u16).to_be_bytes());
        f[23] = 6;
        f[30..34].copy_from_slice(&[10, 0, 2, 2]);
        f[34..36].copy_from_slice(&80u16.to_be_bytes());
        f[36..38].copy_from_slice(&dst.to_be_bytes());
        f[38..42].copy_from_slice(&seq.to_be_bytes());
        f[46] = 5 << 4;
        f[47] = flags;
        f
    }

    const ACK: u8 = 0x10;

    #[test]
    fn new_data_is_not_a_retransmission_but_the_same_data_again_is() {
        let mut c = RetransmitCounter::default();
        assert!(!c.observe(&segment(5000, 1000, 100, ACK)));
        assert!(!c.observe(&segment(5000, 1100, 100, ACK)));
        assert!(c.observe(&segment(5000, 1000, 100, ACK)));
        assert!(
            c.observe(&segment(5000, 1150, 100, ACK)),
            "overlaps what was sent"
        );
        assert!(!c.observe(&segment(5000, 1250, 10, ACK)));
    }

    #[test]
    fn bare_acks_other_flows_and_other_protocols_are_ignored() {
        let mut c = RetransmitCounter::default();
        assert!(!c.observe(&segment(5000, 1000, 100, ACK)));
        assert!(!c.observe(&segment(5000, 1000, 0, ACK)));
        assert!(!c.observe(&segment(6000, 1000, 100, ACK)));
        let mut udp = segment(5000, 1000, 100, ACK);
        udp[23] = 17;
        assert!(!c.observe(&udp));
        assert!(!c.observe(&[0u8; 10]));
    }

    #[test]
    fn syn_and_fin_take_sequence_space_and_count_when_sent_again() {
        let mut c = RetransmitCounter::default();
        assert!(!c.observe(&segment(5000, 7, 0, 0x02)));
        assert!(c.observe(&segment(5000, 7, 0, 0x02)), "SYN again");
        assert!(!c.observe(&segment(5000, 8, 0, 0x01 | ACK)));
        assert!(c.observe(&segment(5000, 8, 0, 0x01 | ACK)), "FIN again");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut c = RetransmitCounter::default();
        assert!(!c.observe(&segment(5000, u32::MAX - 49, 100, ACK)));
        assert!(!c.observe(&segment(5000, 50, 100, ACK)));
        assert!(c.observe(&segment(5000, u32::MAX - 49, 100, ACK)));
    }

    #[test]
    fn a_reset_forgets_the_connection() {
        let mut c = RetransmitCounter::default();
        assert!(!c.observe(&segment(5000, 1000, 100, ACK)));
        assert!(!c.observe(&segment(5000, 1100, 0, 0x04)));
        assert!(
            !c.observe(&segment(5000, 1000, 100, ACK)),
            "a new connection on the same ports"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut c = RetransmitCounter::default();
        let mut seed = 0x9e37_79b9u64;
        for len in 0..200 {
            let frame: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            c.observe(&frame);
            let mut tcp = segment(1, seed as u32, 0, ACK);
            tcp.truncate(len.min(tcp.len()));
            c.observe(&tcp);
        }
    }
}
