//! Kubernetes' IP and CIDR libraries: `ip()`, `isIP()`, `ip.isCanonical()`, the address
//! predicates, and `cidr()`, `isCIDR()`, `containsIP`, `containsCIDR`, `ip()`, `masked()`,
//! `prefixLength()`; both convert back with `string()`.

use super::{opaque, opaque_type, opaque_val, take, text, Args, Ret};
use cel::common::types::{CelBool, CelInt, CelString, Type, STRING_TYPE};
use cel::common::value::CowVal;
use cel::{DeclarationError, Env, ExecutionError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

static IP_TYPE: LazyLock<Type> = LazyLock::new(ip_t);
static CIDR_TYPE: LazyLock<Type> = LazyLock::new(cidr_t);

#[derive(Clone, Debug, PartialEq)]
pub struct Ip(IpAddr);
opaque_val!(Ip, *IP_TYPE);

#[derive(Clone, Debug, PartialEq)]
pub struct Cidr {
    ip: IpAddr,
    prefix: u8,
}
opaque_val!(Cidr, *CIDR_TYPE);

/// An address as upstream accepts it: no zones, no IPv4-mapped IPv6.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.parse().ok()?;
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => None,
        ip => Some(ip),
    }
}

fn parse_cidr(s: &str) -> Option<Cidr> {
    let (ip, prefix) = s.split_once('/')?;
    let ip = parse_ip(ip)?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(Cidr { ip, prefix })
}

fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix as u32)
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.ip.is_ipv4() && masked(ip, self.prefix) == masked(self.ip, self.prefix)
    }
}

fn ip_t() -> Type {
    opaque_type("net.IP")
}

fn cidr_t() -> Type {
    opaque_type("net.CIDR")
}

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload("ip", "string_to_ip", vec![STRING_TYPE], to_ip)?;
    env.add_overload("isIP", "is_ip", vec![STRING_TYPE], is_ip)?;
    env.add_overload("ip.isCanonical", "ip_is_canonical", vec![STRING_TYPE], is_canonical)?;
    env.add_overload("string", "ip_to_string", vec![ip_t()], ip_string)?;
    env.add_member_overload("family", "ip_family", ip_t(), vec![], family)?;
    env.add_member_overload("isUnspecified", "ip_is_unspecified", ip_t(), vec![], is_unspecified)?;
    env.add_member_overload("isLoopback", "ip_is_loopback", ip_t(), vec![], is_loopback)?;
    env.add_member_overload(
        "isLinkLocalMulticast",
        "ip_is_link_local_multicast",
        ip_t(),
        vec![],
        is_ll_multicast,
    )?;
    env.add_member_overload(
        "isLinkLocalUnicast",
        "ip_is_link_local_unicast",
        ip_t(),
        vec![],
        is_ll_unicast,
    )?;
    env.add_member_overload(
        "isGlobalUnicast",
        "ip_is_global_unicast",
        ip_t(),
        vec![],
        is_global_unicast,
    )?;
    env.add_overload("cidr", "string_to_cidr", vec![STRING_TYPE], to_cidr)?;
    env.add_overload("isCIDR", "is_cidr", vec![STRING_TYPE], is_cidr)?;
    env.add_overload("string", "cidr_to_string", vec![cidr_t()], cidr_string)?;
    env.add_member_overload("containsIP", "cidr_contains_ip_ip", cidr_t(), vec![ip_t()], contains_ip)?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_string",
        cidr_t(),
        vec![STRING_TYPE],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr",
        cidr_t(),
        vec![cidr_t()],
        contains_cidr,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr_string",
        cidr_t(),
        vec![STRING_TYPE],
        contains_cidr,
    )?;
    env.add_member_overload("ip", "cidr_ip", cidr_t(), vec![], cidr_ip)?;
    env.add_member_overload("masked", "cidr_masked", cidr_t(), vec![], cidr_masked)?;
    env.add_member_overload("prefixLength", "cidr_prefix_length", cidr_t(), vec![], prefix_length)?;
    Ok(())
}

fn boolean<'b, 'v>(b: bool) -> Ret<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(b)))
}

fn to_ip<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    let s = text(s.as_ref())?;
    parse_ip(s).map(|ip| CowVal::owned(Ip(ip))).ok_or_else(|| {
        ExecutionError::function_error(
            "ip",
            format!("IP Address {s:?} parse error during conversion from string: ParseAddr({s:?}): unable to parse IP"),
        )
    })
}

fn is_ip<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    boolean(parse_ip(text(s.as_ref())?).is_some())
}

fn is_canonical<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    let s = text(s.as_ref())?;
    let ip = parse_ip(s)
        .ok_or_else(|| ExecutionError::function_error("ip.isCanonical", format!("IP Address {s:?} parse error")))?;
    boolean(ip.to_string() == s)
}

fn the_ip(v: &CowVal<'_, '_>) -> Result<IpAddr, ExecutionError> {
    Ok(opaque::<Ip>(v.as_ref())?.0)
}

fn the_cidr<'a>(v: &'a CowVal<'_, '_>) -> Result<&'a Cidr, ExecutionError> {
    opaque::<Cidr>(v.as_ref())
}

fn ip_string<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    Ok(CowVal::owned(CelString::from(the_ip(&ip)?.to_string())))
}

fn family<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    Ok(CowVal::owned(CelInt::from(if the_ip(&ip)?.is_ipv4() { 4 } else { 6 })))
}

fn is_unspecified<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    boolean(the_ip(&ip)?.is_unspecified())
}

fn is_loopback<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    boolean(the_ip(&ip)?.is_loopback())
}

fn is_ll_multicast<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    boolean(match the_ip(&ip)? {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    })
}

fn is_ll_unicast<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    boolean(match the_ip(&ip)? {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    })
}

fn is_global_unicast<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [ip] = take(args)?;
    let ip = the_ip(&ip)?;
    let special = ip.is_unspecified() || ip.is_loopback() || ip.is_multicast();
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    };
    boolean(!special && !link_local)
}

fn to_cidr<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    let s = text(s.as_ref())?;
    parse_cidr(s)
        .map(CowVal::owned)
        .ok_or_else(|| ExecutionError::function_error("cidr", format!("network address {s:?} parse error during conversion from string: netip.ParsePrefix({s:?}): invalid prefix")))
}

fn is_cidr<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    boolean(parse_cidr(text(s.as_ref())?).is_some())
}

fn cidr_string<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [c] = take(args)?;
    let c = the_cidr(&c)?;
    Ok(CowVal::owned(CelString::from(format!("{}/{}", c.ip, c.prefix))))
}

fn contains_ip<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [c, ip] = take(args)?;
    let ip = match ip.downcast_ref::<CelString>() {
        Some(s) => parse_ip(s.inner()).ok_or_else(|| ExecutionError::function_error("containsIP", "invalid IP"))?,
        None => the_ip(&ip)?,
    };
    boolean(the_cidr(&c)?.contains(ip))
}

fn contains_cidr<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [c, other] = take(args)?;
    let other = match other.downcast_ref::<CelString>() {
        Some(s) => {
            parse_cidr(s.inner()).ok_or_else(|| ExecutionError::function_error("containsCIDR", "invalid CIDR"))?
        }
        None => the_cidr(&other)?.clone(),
    };
    let c = the_cidr(&c)?;
    boolean(other.prefix >= c.prefix && c.contains(other.ip))
}

fn cidr_ip<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [c] = take(args)?;
    Ok(CowVal::owned(Ip(the_cidr(&c)?.ip)))
}

fn cidr_masked<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [c] = take(args)?;
    let c = the_cidr(&c)?;
    Ok(CowVal::owned(Cidr {
        ip: masked(c.ip, c.prefix),
        prefix: c.prefix,
    }))
}

fn prefix_length<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [c] = take(args)?;
    Ok(CowVal::owned(CelInt::from(the_cidr(&c)?.prefix as i64)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::all_true;

    #[test]
    fn ips_and_cidrs() {
        all_true(&[
            "isIP('10.0.0.1') && isIP('::1') && !isIP('10.0.0.256') && !isIP('::ffff:10.0.0.1')",
            "ip('10.0.0.1').family() == 4 && ip('fe80::1').family() == 6",
            "ip('127.0.0.1').isLoopback() && ip('0.0.0.0').isUnspecified()",
            "ip('fe80::1').isLinkLocalUnicast() && ip('8.8.8.8').isGlobalUnicast()",
            "ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')",
            "string(ip('10.0.0.1')) == '10.0.0.1'",
            "isCIDR('10.0.0.0/8') && !isCIDR('10.0.0.0/33')",
            "cidr('10.0.0.0/8').containsIP('10.1.2.3') && !cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))",
            "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16') && !cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8')",
            "cidr('10.1.2.3/8').masked() == cidr('10.0.0.0/8') && cidr('10.1.2.3/8').prefixLength() == 8",
            "string(cidr('10.1.2.3/8').ip()) == '10.1.2.3'",
        ]);
    }
}
