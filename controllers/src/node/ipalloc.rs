//! Pod IPs from the node's podCIDR, as the host-local IPAM plugin hands them out: from the third
//! address on (the network address and the bridge's .1 are skipped), round-robin after the last
//! one given, released when the pod goes away.

use crate::cluster::node_ipam::Cidr;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The first offset handed to pods (.2).
const FIRST: u128 = 2;

#[derive(Debug, Default)]
pub struct IpAllocator {
    cidr: Option<Cidr>,
    used: BTreeSet<u128>,
    next: u128,
}

impl IpAllocator {
    /// The node's range, once it has one (keeps the addresses already given that fit in it).
    pub fn set_range(&mut self, cidr: Cidr) {
        if self.cidr != Some(cidr) {
            self.cidr = Some(cidr);
            self.used.clear();
            self.next = FIRST;
        }
    }

    pub fn range(&self) -> Option<Cidr> {
        self.cidr
    }

    /// The last usable offset (the broadcast address is skipped for IPv4).
    fn last(cidr: &Cidr) -> u128 {
        let size = cidr.size();
        if cidr.is_ipv6() {
            size.saturating_sub(1).min(u128::from(u64::MAX))
        } else {
            size.saturating_sub(2)
        }
    }

    /// A free address, if the node has a range and it is not full.
    pub fn allocate(&mut self) -> Option<IpAddr> {
        let cidr = self.cidr?;
        let last = Self::last(&cidr);
        if last < FIRST {
            return None;
        }
        let span = last - FIRST + 1;
        let start = self.next.clamp(FIRST, last);
        for step in 0..span.min(1 << 20) {
            let offset = FIRST + (start - FIRST + step) % span;
            if self.used.insert(offset) {
                self.next = offset + 1;
                return cidr.addr(offset);
            }
        }
        None
    }

    /// Mark `ip` taken (a pod that already has it); false when it is not in the range.
    pub fn occupy(&mut self, ip: IpAddr) -> bool {
        match self.cidr.and_then(|c| c.offset_of(ip)) {
            Some(offset) => {
                self.used.insert(offset);
                true
            }
            None => false,
        }
    }

    pub fn release(&mut self, ip: IpAddr) {
        if let Some(offset) = self.cidr.and_then(|c| c.offset_of(ip)) {
            self.used.remove(&offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_start_at_two_and_go_round() {
        let mut ips = IpAllocator::default();
        assert_eq!(ips.allocate(), None);
        ips.set_range("10.244.1.0/29".parse().unwrap());
        let got: Vec<String> = (0..5).filter_map(|_| ips.allocate()).map(|ip| ip.to_string()).collect();
        assert_eq!(
            got,
            ["10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5", "10.244.1.6"]
        );
        assert_eq!(ips.allocate(), None);
        ips.release("10.244.1.3".parse().unwrap());
        assert_eq!(ips.allocate().map(|ip| ip.to_string()).as_deref(), Some("10.244.1.3"));
    }

    #[test]
    fn recovered_addresses_are_kept() {
        let mut ips = IpAllocator::default();
        ips.set_range("10.244.0.0/24".parse().unwrap());
        assert!(ips.occupy("10.244.0.2".parse().unwrap()));
        assert!(!ips.occupy("10.9.0.2".parse().unwrap()));
        assert_eq!(ips.allocate().map(|ip| ip.to_string()).as_deref(), Some("10.244.0.3"));
    }
}
