//! The per-client request rate (docs/limits.md): `server.rate_limit` requests a second for each
//! client, in bursts of up to as many, beyond which a request is refused with 429 and the wait
//! in `Retry-After`. A client is its token's subject on routes that need a token (counted once
//! the token is verified, so a bad token is 401 whatever the rate), else its IP address; an
//! IPv6 client is its /64, the block one host usually holds. `0` turns the limit off.
//!
//! Memory stays bounded: a client whose allowance has refilled is indistinguishable from one
//! never seen, and such entries are dropped about once a second.

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};

use super::error::ApiError;

/// How often entries of clients whose allowance has refilled are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// A verified token's subject.
    Subject(String),
    /// An address (IPv6 reduced to its /64).
    Address(IpAddr),
}

impl Client {
    /// The client at `ip`: an IPv4 address (also when mapped into IPv6) as it is, an IPv6
    /// address by its /64 prefix.
    pub fn address(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = v6.to_bits() & !u128::from(u64::MAX);
                Self::Address(IpAddr::V6(Ipv6Addr::from_bits(prefix)))
            }
            v4 => Self::Address(v4),
        }
    }
}

/// The limiter of one server, shared by every request.
pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<Client>>,
    last_sweep: Mutex<Instant>,
}

impl RateLimit {
    /// `per_second` requests a second per client, bursts of as many; `0` is no limit.
    pub fn new(per_second: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_second(n)));
        Self { limiter, last_sweep: Mutex::new(Instant::now()) }
    }

    /// Counts one request of `client`.
    ///
    /// # Errors
    /// 429 with the wait until it may ask again, when it is over its rate.
    pub fn check(&self, client: &Client) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        self.sweep_now_and_then(limiter);
        limiter
            .check_key(client)
            .map_err(|refused| ApiError::RateLimited(refused.wait_time_from(limiter.clock().now())))
    }

    /// How many clients the limiter holds state for.
    pub fn tracked(&self) -> usize {
        self.limiter.as_ref().map_or(0, |limiter| limiter.len())
    }

    /// Drops the clients whose allowance has refilled, at most once per [`SWEEP_EVERY`]; a
    /// request that finds another one sweeping goes on without waiting.
    fn sweep_now_and_then(&self, limiter: &DefaultKeyedRateLimiter<Client>) {
        let Ok(mut last) = self.last_sweep.try_lock() else { return };
        if last.elapsed() >= SWEEP_EVERY {
            *last = Instant::now();
            drop(last);
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit").field("on", &self.limiter.is_some()).field("tracked", &self.tracked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(limit: &RateLimit, client: &Client) -> Option<Duration> {
        match limit.check(client) {
            Ok(()) => None,
            Err(ApiError::RateLimited(wait)) => Some(wait),
            Err(other) => panic!("not a rate-limit refusal: {other:?}"),
        }
    }

    #[test]
    fn a_client_gets_its_burst_and_then_a_wait_of_at_most_one_interval() {
        let limit = RateLimit::new(5);
        let alice = Client::Subject("alice".to_owned());
        for n in 1..=5 {
            assert_eq!(refused(&limit, &alice), None, "request {n} of the burst");
        }
        let wait = refused(&limit, &alice).expect("the sixth is refused");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200), "one cell at 5/s: {wait:?}");
        assert_eq!(refused(&limit, &Client::Subject("bob".to_owned())), None, "another subject has its own");
    }

    #[test]
    fn a_rate_of_zero_never_refuses_and_tracks_no_one() {
        let limit = RateLimit::new(0);
        let client = Client::address("192.0.2.1".parse().unwrap());
        assert!((0..10_000).all(|_| limit.check(&client).is_ok()));
        assert_eq!(limit.tracked(), 0);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_prefix_and_mapped_ipv4_as_ipv4() {
        let a = Client::address("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Client::address("2001:db8:1:2:bbbb::2".parse().unwrap());
        let other = Client::address("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b, "one /64");
        assert_ne!(a, other, "another /64");
        assert_eq!(Client::address("::ffff:192.0.2.7".parse().unwrap()), Client::address("192.0.2.7".parse().unwrap()));
        assert_ne!(Client::address("192.0.2.7".parse().unwrap()), Client::address("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn clients_whose_allowance_refilled_are_forgotten() {
        // 1000/s: one request is forgotten 1 ms later; the sweep runs once a second.
        let limit = RateLimit::new(1000);
        for n in 0..500_u32 {
            limit.check(&Client::address(IpAddr::from(n.to_be_bytes()))).unwrap();
        }
        assert_eq!(limit.tracked(), 500);
        std::thread::sleep(SWEEP_EVERY + Duration::from_millis(50));
        limit.check(&Client::Subject("next".to_owned())).unwrap();
        assert_eq!(limit.tracked(), 1, "only the client just seen is kept");
    }
}
