//! The address of the client behind a request, for the login rate limit.
//!
//! Behind a reverse proxy (nginx, Caddy, Traefik) every request arrives from the
//! proxy's address; the client's is in `X-Forwarded-For`. That header is only
//! believed when the peer is one of the configured trusted proxies
//! (`PRICETRACK_TRUSTED_PROXIES`), otherwise anyone could pick a fresh address
//! per attempt and never be limited.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// Parses `PRICETRACK_TRUSTED_PROXIES`: addresses or CIDR ranges, comma-separated.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("{item:?} is not an IP address or a CIDR range like 10.0.0.0/8")
                })
        })
        .collect()
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then
/// the nearest address in `X-Forwarded-For` (read from the right, skipping
/// trusted proxies) that is not itself a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.into_iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            // A garbled hop: nothing to its left can be believed.
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in forwarded {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &[]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8").unwrap();
        // Client 203.0.113.9 → CDN 10.1.2.3 → local proxy; a spoofed first entry is ignored.
        let h = headers(&["1.2.3.4, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
        // Nothing forwarded, or only proxies: the peer itself.
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers(&[]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers(&["10.9.9.9"]), &trusted),
            ip("127.0.0.1")
        );
        // A garbled hop ends the chain there.
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &headers(&["garbage, 203.0.113.9"]),
                &trusted
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &headers(&["203.0.113.9, garbage"]),
                &trusted
            ),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_setting_takes_addresses_and_ranges_and_names_bad_items() {
        let nets = parse_trusted_proxies("127.0.0.1, ::1,172.16.0.0/12").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[2].contains(&ip("172.20.1.1")));
        let err = parse_trusted_proxies("127.0.0.1, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
    }
}
