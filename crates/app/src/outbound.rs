//! Requests Smarketing makes to addresses its users give it (webhook
//! receivers). A receiver's URL must not reach into the network the server
//! runs in: every connection resolves the host again and refuses loopback,
//! private, link-local, IPv4-mapped, NAT64 and other special addresses (so a
//! name whose DNS answer changes after registration gets nowhere), and no
//! redirect is followed. `allow_private_webhooks` opens loopback and private
//! networks, for tests and for receivers on the same network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whether `ip` is an IPv4 address no public receiver has: this host, a
/// private or shared network, link-local, multicast, reserved or set aside
/// for documentation and benchmarks.
fn is_special_v4(v: Ipv4Addr) -> bool {
    let [a, b, c, _] = v.octets();
    v.is_loopback()
        || v.is_private()
        || v.is_link_local()
        || v.is_unspecified()
        || v.is_broadcast()
        || v.is_multicast()
        || v.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// Whether `ip` is an address no public receiver has. IPv6 forms that
/// carry or translate to an IPv4 address (mapped, compatible, NAT64,
/// 6to4, Teredo) are refused whatever they carry: a public receiver has a
/// native address.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => is_special_v4(v),
        IpAddr::V6(v) => is_special_v6(v),
    }
}

fn is_special_v6(v: Ipv6Addr) -> bool {
    let s = v.segments();
    v.is_loopback()
        || v.is_unspecified()
        || v.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || v.to_ipv4_mapped().is_some() // ::ffff:a.b.c.d
        || s[..6] == [0; 6] // ::a.b.c.d (IPv4-compatible)
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
        || s[0] == 0x2002 // 6to4
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || (s[0] == 0x100 && s[1..4] == [0; 3]) // discard
}

/// The resolver of the outbound client: the system's answer without the
/// special addresses, and an error when nothing is left.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| !is_special(a.ip())).collect();
            if public.is_empty() {
                return Err(refused(&host).into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn refused(host: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "{host} is a loopback, private or special address; allow_private_webhooks opens loopback and private networks"
    ))
}

/// The HTTP client for receivers' URLs: no redirects, bounded times, and
/// (unless `allow_private`) only public addresses.
pub fn client(allow_private: bool) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .user_agent("smarketing-webhooks")
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build().expect("an HTTP client")
}

/// A failed request's error with its causes ("error sending request …:
/// client error (Connect): … is a loopback, private or special address"),
/// so the delivery log says why.
pub fn explain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Checks a URL's host before a request: a literal address is not
/// resolved, so the resolver never sees it. Returns why it is refused.
pub fn check_literal(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    // The URL parser has already written any IPv4 form (`2130706433`,
    // `0x7f.1`) as four decimal parts.
    let Some(Ok(ip)) = url
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).parse::<IpAddr>())
    else {
        return Ok(());
    };
    // Where private networks are allowed, the IPv4-carrying forms still
    // are not.
    let allowed = allow_private && !is_translated(ip);
    if is_special(ip) && !allowed {
        return Err(refused(&ip.to_string()).to_string());
    }
    Ok(())
}

/// Whether `ip` is an IPv6 form of another address, refused even where
/// private networks are allowed (nothing legitimate is reached that way).
fn is_translated(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v) => {
            let s = v.segments();
            v.to_ipv4_mapped().is_some()
                || (s[..6] == [0; 6] && !v.is_loopback() && !v.is_unspecified())
                || (s[0] == 0x64 && s[1] == 0xff9b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_refused_and_public_ones_are_not() {
        for special in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = special.parse().unwrap();
            assert!(is_special(ip), "{special}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_special(ip), "{public}");
        }
    }

    #[test]
    fn literal_addresses_in_urls_are_checked() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(check_literal(&url("http://[::ffff:127.0.0.1]:8080/h"), false).is_err());
        assert!(check_literal(&url("http://[::ffff:127.0.0.1]:8080/h"), true).is_err());
        assert!(check_literal(&url("http://127.0.0.1:8080/h"), false).is_err());
        assert!(check_literal(&url("http://127.0.0.1:8080/h"), true).is_ok());
        assert!(check_literal(&url("http://2130706433:8080/h"), false).is_err());
        assert!(check_literal(&url("http://0x7f.1/h"), false).is_err());
        assert!(check_literal(&url("https://8.8.8.8/h"), false).is_ok());
        assert!(check_literal(&url("https://hooks.example.com/h"), false).is_ok());
    }
}
