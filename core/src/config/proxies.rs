//! `WSGITrustedProxies` addresses/subnets and `WSGITrustedProxyHeaders`
//! names, checked the way mod_wsgi (through APR) reads them.

use super::ConfigError;
use super::values::Field;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One trusted proxy: an address and a mask, as `apr_ipsubnet_t` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    pub network: IpAddr,
    pub mask: IpAddr,
}

impl TrustedProxy {
    /// Whether `addr` is inside this subnet. IPv4 and IPv6 never mix, but
    /// an IPv4-mapped IPv6 address is its IPv4 one (as `apr_ipsubnet_test`).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, self.mask, addr) {
            (IpAddr::V4(n), IpAddr::V4(m), IpAddr::V4(a)) => u32::from(a) & u32::from(m) == u32::from(n) & u32::from(m),
            (IpAddr::V6(n), IpAddr::V6(m), IpAddr::V6(a)) => {
                u128::from(a) & u128::from(m) == u128::from(n) & u128::from(m)
            }
            _ => false,
        }
    }

    /// `a.b.c.d`, a leading part such as `10.1` (a /16), `addr/bits`,
    /// `a.b.c.d/m.m.m.m`, or an IPv6 address with optional `/bits`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, mask) = match text.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (text, None),
        };
        if addr.contains(':') {
            let network: Ipv6Addr = addr.parse().ok()?;
            // APR refuses IPv4-mapped networks: they could never match.
            if network.to_ipv4_mapped().is_some() {
                return None;
            }
            let bits = match mask {
                None => 128,
                Some(m) => prefix_bits(m, 128)?,
            };
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            return Some(Self { network: IpAddr::V6(network), mask: IpAddr::V6(Ipv6Addr::from(mask)) });
        }
        let octets = ipv4_octets(addr)?;
        let mask = match mask {
            // A partial address names the network of its leading octets.
            None => u32::MAX.checked_shl(32 - 8 * octets.len() as u32).unwrap_or(0),
            // With a mask, APR wants all four octets.
            Some(_) if octets.len() != 4 => return None,
            Some(m) if m.contains('.') => u32::from_be_bytes(ipv4_octets(m)?.try_into().ok()?),
            Some(m) => u32::MAX.checked_shl(32 - prefix_bits(m, 32)?).unwrap_or(0),
        };
        let mut full = [0u8; 4];
        full[..octets.len()].copy_from_slice(&octets);
        Some(Self { network: IpAddr::V4(Ipv4Addr::from(full)), mask: IpAddr::V4(Ipv4Addr::from(mask)) })
    }
}

/// 1 to 4 dot-separated decimal octets (leading zeros allowed, as APR does).
fn ipv4_octets(text: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse::<u8>().ok()
            }
        })
        .collect()
}

/// A prefix length `1..=max` (APR refuses `/0`).
fn prefix_bits(text: &str, max: u32) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|b| (1..=max).contains(b))
}

pub(crate) fn trusted_proxies(f: Field, words: &[String]) -> Result<Vec<TrustedProxy>, ConfigError> {
    if words.is_empty() {
        return Err(f.missing("list one or more IP addresses or subnets"));
    }
    words
        .iter()
        .map(|w| {
            TrustedProxy::parse(w).ok_or_else(|| {
                f.invalid(
                    w,
                    "must be an IP address or subnet such as 10.0.0.1, 10.0.0.0/8, \
                     10.0.0.0/255.0.0.0, 10.1 or ::1/128",
                )
            })
        })
        .collect()
}

/// Header names of letters, digits and `-` (mod_wsgi cannot map any other
/// character to its CGI form, so such a name could never match), and only
/// those mod_wsgi interprets: mod_wsgi 4.9 accepts any other name and
/// ignores it, which would leave a header the administrator meant to
/// trust silently unused.
pub(crate) fn trusted_proxy_headers(f: Field, words: &[String]) -> Result<Vec<String>, ConfigError> {
    if words.is_empty() {
        return Err(f.missing("list one or more header names such as X-Forwarded-For"));
    }
    words
        .iter()
        .map(|w| {
            if w.is_empty() || !w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                Err(f.invalid(w, "must be a header name of letters, digits and '-', such as X-Forwarded-For"))
            } else if !crate::proxy_headers::interprets(w) {
                let known = crate::proxy_headers::HEADER_NAMES.join(", ");
                Err(f.invalid(
                    w,
                    &format!("is not a header mod_wsgi interprets, so it would have no effect; use {known}"),
                ))
            } else {
                Ok(w.clone())
            }
        })
        .collect()
}

/// The CGI variable a header arrives as: `X-Forwarded-For` is
/// `HTTP_X_FORWARDED_FOR`, the form mod_wsgi compares against.
pub fn header_env_name(header: &str) -> String {
    let mut name = String::with_capacity(header.len() + 5);
    name.push_str("HTTP_");
    for c in header.chars() {
        name.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
    }
    name
}

#[cfg(test)]
mod tests {
    use super::{TrustedProxy, header_env_name, trusted_proxies, trusted_proxy_headers};
    use crate::config::values::Field;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn accepts_what_apr_accepts() {
        for good in [
            "10",
            "10.1",
            "1.2.3.4",
            "01.2.3.4",
            "1.2.3.4/32",
            "1.2.3.4/08",
            "1.2.3.4/255.255.0.255",
            "::1",
            "::1/128",
            "fe80::/10",
        ] {
            assert!(TrustedProxy::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "10.1/8",
            "10.0.0.0/0",
            "::/0",
            "::1/129",
            "fe80::1%eth0",
            "1.2.3.4.5",
            "0x1.2.3.4",
            "/8",
            "1.2.3.4/",
            "1.2.3.256",
            "::1/64/2",
            "::ffff:127.0.0.0/104",
            "::ffff:10.0.0.1",
            "bogus",
        ] {
            assert!(TrustedProxy::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn subnets_contain_their_addresses() {
        let p = |s| TrustedProxy::parse(s).unwrap();
        assert!(p("10").contains(ip("10.200.3.4")));
        assert!(!p("10").contains(ip("11.0.0.1")));
        assert!(p("10.1").contains(ip("10.1.9.9")));
        assert!(p("192.168.0.0/16").contains(ip("192.168.44.1")));
        assert!(!p("192.168.0.0/16").contains(ip("192.169.0.1")));
        assert!(p("1.2.3.4").contains(ip("1.2.3.4")));
        assert!(!p("1.2.3.4").contains(ip("1.2.3.5")));
        assert!(p("1.2.0.0/255.255.0.0").contains(ip("1.2.7.7")));
        assert!(p("fe80::/10").contains(ip("fe80::1")));
        assert!(!p("fe80::/10").contains(ip("::1")));
        assert!(!p("10").contains(ip("::1")));
        assert!(p("10").contains(ip("::ffff:10.1.2.3")));
        assert!(!p("::/1").contains(ip("::ffff:10.1.2.3")));
        assert!(p("::/1").contains(ip("::1")));
    }

    #[test]
    fn list_errors() {
        let f = Field::directive("WSGITrustedProxies");
        let words = |s: &[&str]| s.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(trusted_proxies(f, &words(&["10", "::1"])).unwrap().len(), 2);
        let e = trusted_proxies(f, &words(&["10", "bogus"])).unwrap_err();
        assert!(
            e.to_string().starts_with("WSGITrustedProxies: invalid value 'bogus': must be an IP address or subnet")
        );
        assert!(trusted_proxies(f, &[]).is_err());
        let h = Field::directive("WSGITrustedProxyHeaders");
        assert_eq!(trusted_proxy_headers(h, &words(&["X-Forwarded-For"])).unwrap(), vec!["X-Forwarded-For"]);
        assert!(trusted_proxy_headers(h, &words(&["X Forwarded"])).is_err());
        assert!(trusted_proxy_headers(h, &words(&["X:Y"])).is_err());
        assert!(trusted_proxy_headers(h, &words(&["X_Real_IP"])).is_err());
        let e = trusted_proxy_headers(h, &words(&["X-Real-IP", "X-Custom-Client"])).unwrap_err().to_string();
        assert!(e.starts_with("WSGITrustedProxyHeaders: invalid value 'X-Custom-Client': is not a header"), "{e}");
        assert!(e.contains("X-Forwarded-For, X-Client-IP"), "{e}");
        assert_eq!(trusted_proxy_headers(h, &words(&["x-real-ip"])).unwrap(), vec!["x-real-ip"]);
        assert!(trusted_proxy_headers(h, &[]).is_err());
    }

    #[test]
    fn env_names() {
        assert_eq!(header_env_name("X-Forwarded-For"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(header_env_name("x-real-ip"), "HTTP_X_REAL_IP");
    }
}
