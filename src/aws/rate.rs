//! Client-side rate limits for the quotas AWS publishes as request rates (a token bucket per
//! quota domain), so that the scanner stays inside them instead of relying on throttling and
//! retries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Organizations' rate quota per calling account: about 8 requests per second with a burst of
/// 12 (ListAccounts; the tree walk's calls are of the same family, and AWS also applies about 9
/// per second per organization). See aws-facts.md, "Request-rate quotas".
pub const ORGANIZATIONS_PER_SECOND: f64 = 8.0;
/// The burst Organizations allows above its rate.
pub const ORGANIZATIONS_BURST: u32 = 12;

/// A token bucket: `burst` requests at once, then `per_second` requests per second.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative when requests have reserved tokens not yet refilled.
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second,
            burst: f64::from(burst),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst),
                refilled_at: Instant::now(),
            }),
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token at `now`, and says how long to wait before using it. Reserving (rather than
    /// waiting under the lock) keeps callers in the order they arrived.
    fn reserve(&self, now: Instant) -> Duration {
        let Ok(mut bucket) = self.bucket.lock() else {
            return Duration::ZERO;
        };
        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled_at = now.max(bucket.refilled_at);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = RateLimiter::new(8.0, 12);
        let start = Instant::now();
        for _ in 0..12 {
            assert_eq!(limiter.reserve(start), Duration::ZERO);
        }
        // The 13th and 14th wait one and two token periods (125 ms each at 8/s).
        assert_eq!(limiter.reserve(start), Duration::from_millis(125));
        assert_eq!(limiter.reserve(start), Duration::from_millis(250));
        // A second later 8 tokens have come back: the two reserved ones and six more.
        let later = start + Duration::from_secs(1);
        for _ in 0..6 {
            assert_eq!(limiter.reserve(later), Duration::ZERO);
        }
        assert!(limiter.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn an_idle_bucket_refills_to_its_burst_only() {
        let limiter = RateLimiter::new(8.0, 12);
        let later = Instant::now() + Duration::from_secs(3600);
        for _ in 0..12 {
            assert_eq!(limiter.reserve(later), Duration::ZERO);
        }
        assert!(limiter.reserve(later) > Duration::ZERO);
    }
}
