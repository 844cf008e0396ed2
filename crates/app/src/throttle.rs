//! Counting failures per key (an address, an account) in a fixed window,
//! and refusing a key that has failed too often until its window has
//! passed. Bounded: a flood of distinct keys cannot grow it past a limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys a throttle remembers at most.
const MAX_KEYS: usize = 100_000;

/// Failures per key in the current window.
pub(crate) struct Throttle<K> {
    max_failures: u32,
    window: Duration,
    by_key: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        Throttle {
            max_failures,
            window,
            by_key: Mutex::default(),
        }
    }

    /// The seconds a key must wait, when it is over the limit.
    pub(crate) fn wait(&self, key: &K) -> Option<u64> {
        let map = self.by_key.lock().expect("throttle");
        let (count, since) = map.get(key)?;
        let left = self.window.checked_sub(since.elapsed())?;
        (*count >= self.max_failures).then(|| left.as_secs().max(1))
    }

    /// Counts a failure; returns whether it is the key's first in this
    /// window.
    pub(crate) fn fail(&self, key: K) -> bool {
        let mut map = self.by_key.lock().expect("throttle");
        if map.len() >= MAX_KEYS {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
            // Still full: forget the oldest half rather than grow.
            if map.len() >= MAX_KEYS {
                let mut ages: Vec<Instant> = map.values().map(|(_, s)| *s).collect();
                ages.sort_unstable();
                let keep_after = ages[ages.len() / 2];
                map.retain(|_, (_, since)| *since >= keep_after);
            }
        }
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.0 == 1
    }

    /// Takes back one failure counted ahead of an attempt that succeeded.
    pub(crate) fn unfail(&self, key: &K) {
        if let Some((count, _)) = self.by_key.lock().expect("throttle").get_mut(key) {
            *count = count.saturating_sub(1);
        }
    }

    /// Forgets a key's failures (after it succeeded).
    pub(crate) fn forgive(&self, key: &K) {
        self.by_key.lock().expect("throttle").remove(key);
    }
}

/// The address failures are counted under: an IPv6 client is counted by
/// its /64, which one subscriber holds whole.
pub(crate) fn counted_as(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v) => {
            let s = v.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_failures_and_others_are_not() {
        let t = Throttle::new(3, Duration::from_secs(60));
        assert!(t.fail("a"));
        assert!(!t.fail("a"));
        assert_eq!(t.wait(&"a"), None);
        t.fail("a");
        assert!(t.wait(&"a").is_some_and(|s| (1..=60).contains(&s)));
        assert_eq!(t.wait(&"b"), None);
        t.forgive(&"a");
        assert_eq!(t.wait(&"a"), None);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(counted_as(a), counted_as(b));
    }
}
