//! Each source's quota: events and bytes per second, with a burst of some
//! seconds' worth. Write keys are public, so one source's flood is turned
//! away (429 with `Retry-After`) before it reaches the shared writer's
//! queue, and other sources' requests keep being acknowledged.

use crate::AppError;
use governor::{DefaultDirectRateLimiter, Quota};
use smarketing_store::ingest::Source;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// The server's quota for sources that set none of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceQuota {
    pub events_per_second: u32,
    pub bytes_per_second: u32,
    /// The burst a quiet source may send at once, in seconds of its rate.
    pub burst_seconds: u32,
}

impl Default for SourceQuota {
    /// 1,000 events and 2 MB a second, bursts of ten seconds' worth: far
    /// above what one busy site sends, far below what fills the queue.
    fn default() -> Self {
        SourceQuota {
            events_per_second: 1_000,
            bytes_per_second: 2_000_000,
            burst_seconds: 10,
        }
    }
}

impl SourceQuota {
    /// This quota with a source's own rates where it has them.
    pub fn of(&self, source: &Source) -> SourceQuota {
        let own =
            |v: Option<i64>, default: u32| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(default);
        SourceQuota {
            events_per_second: own(source.events_per_second, self.events_per_second),
            bytes_per_second: own(source.bytes_per_second, self.bytes_per_second),
            burst_seconds: self.burst_seconds,
        }
    }
}

/// A source's two buckets, and the quota they were made for.
struct Buckets {
    quota: SourceQuota,
    events: DefaultDirectRateLimiter,
    bytes: DefaultDirectRateLimiter,
}

fn bucket(per_second: u32, burst_seconds: u32) -> DefaultDirectRateLimiter {
    let rate = NonZeroU32::new(per_second.max(1)).expect("at least one");
    let burst = NonZeroU32::new(per_second.max(1).saturating_mul(burst_seconds.max(1)))
        .expect("at least one");
    governor::RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

/// The buckets of every source that sent since the server started.
#[derive(Default)]
pub(crate) struct Quotas {
    sources: Mutex<HashMap<i64, Arc<Buckets>>>,
}

impl Quotas {
    /// Takes `events` and `bytes` from the source's buckets, or refuses
    /// with the seconds until they would fit. A request larger than a
    /// whole burst takes the whole burst, so a valid batch is slowed down,
    /// never refused for ever.
    pub(crate) fn admit(
        &self,
        source: &Source,
        quota: SourceQuota,
        events: usize,
        bytes: usize,
    ) -> Result<(), AppError> {
        let buckets = {
            let mut sources = self.sources.lock().expect("quotas");
            let b = sources.get(&source.id).filter(|b| b.quota == quota);
            match b {
                Some(b) => b.clone(),
                None => {
                    let b = Arc::new(Buckets {
                        quota,
                        events: bucket(quota.events_per_second, quota.burst_seconds),
                        bytes: bucket(quota.bytes_per_second, quota.burst_seconds),
                    });
                    sources.insert(source.id, b.clone());
                    b
                }
            }
        };
        let burst = |per_second: u32| per_second.max(1).saturating_mul(quota.burst_seconds.max(1));
        let cells = |n: usize, per_second: u32| {
            NonZeroU32::new(
                u32::try_from(n)
                    .unwrap_or(u32::MAX)
                    .clamp(1, burst(per_second)),
            )
            .expect("at least one")
        };
        // Bytes first: a refused request then takes nothing from the
        // events bucket; one refused for its events has spent its bytes,
        // which only slows a source that is over its quota anyway.
        for (limiter, n) in [
            (&buckets.bytes, cells(bytes, quota.bytes_per_second)),
            (&buckets.events, cells(events, quota.events_per_second)),
        ] {
            match limiter.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => {
                    let wait =
                        not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
                    return Err(AppError::RateLimited {
                        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                    });
                }
                // Cannot happen: cells are clamped to the burst.
                Err(_) => {
                    return Err(AppError::RateLimited {
                        retry_after_secs: u64::from(quota.burst_seconds.max(1)),
                    });
                }
            }
        }
        Ok(())
    }
}
