//! Access tokens already verified, remembered until they expire.
//!
//! A client sends the same access token with every request for its lifetime (15 minutes by
//! default), and verifying it — base64, HMAC-SHA256 and two JSON parses — was the largest
//! single cost of `GET /orders/{id}` (callgrind: ~40 % of the server's instructions). Once a
//! token has passed every check, only one of them can change with time: `exp` (`nbf` and
//! `iat` are lower bounds, so a token valid once stays valid for them). So a token seen before
//! is looked up by its whole text and only its expiry checked again, exactly as `jsonwebtoken`
//! checks it. Access tokens cannot be revoked (refresh tokens can; they are not cached), so
//! remembering one changes no answer. The map is bounded: when full it is emptied. It hashes
//! with foldhash, not SipHash: every request hashes its whole token (~200 bytes), SipHash
//! cost ~750 instructions of it, and only tokens that passed verification are ever inserted.
//! Delete this module (every request then verifies its token) when callgrind on `GET
//! /orders/{id}` shows verification under ~5 % of the server's instructions, or when access
//! tokens must become revocable before they expire.

use std::sync::{Mutex, PoisonError};

use foldhash::HashMap;

use super::claims::Principal;

/// Tokens remembered at most; ~300 bytes each.
const CAPACITY: usize = 4096;

/// Verified access tokens and what they grant.
#[derive(Debug, Default)]
pub(super) struct Verified {
    tokens: Mutex<HashMap<String, Known>>,
}

#[derive(Debug)]
struct Known {
    principal: Principal,
    exp: i64,
}

/// What a remembered token is now.
pub(super) enum Lookup {
    /// Never verified, or forgotten: verify it in full.
    Unknown,
    /// Verified, and not expired at `now`.
    Valid(Principal),
    /// Verified once, expired since (and forgotten).
    Expired,
}

impl Verified {
    /// The token as last verified, its expiry checked at `now` (seconds) with `leeway`.
    pub(super) fn lookup(&self, token: &str, now: i64, leeway: i64) -> Lookup {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(token) {
            None => Lookup::Unknown,
            Some(known) if known.exp >= now - leeway => Lookup::Valid(known.principal.clone()),
            Some(_) => {
                tokens.remove(token);
                Lookup::Expired
            }
        }
    }

    /// Remembers a token that passed every check, valid until `exp` (seconds).
    pub(super) fn remember(&self, token: &str, principal: &Principal, exp: i64) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= CAPACITY {
            tokens.clear();
        }
        tokens.insert(token.to_owned(), Known { principal: principal.clone(), exp });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::claims::Role;

    fn me() -> Principal {
        Principal { subject: "me".to_owned(), role: Role::Reader }
    }

    #[test]
    fn a_remembered_token_is_valid_until_its_expiry_and_the_leeway_then_forgotten() {
        let verified = Verified::default();
        assert!(matches!(verified.lookup("t", 100, 5), Lookup::Unknown));
        verified.remember("t", &me(), 100);
        assert!(matches!(verified.lookup("t", 105, 5), Lookup::Valid(p) if p == me()));
        assert!(matches!(verified.lookup("other", 100, 5), Lookup::Unknown));
        assert!(matches!(verified.lookup("t", 106, 5), Lookup::Expired));
        assert!(matches!(verified.lookup("t", 100, 5), Lookup::Unknown), "an expired token is forgotten");
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        let verified = Verified::default();
        for i in 0..=CAPACITY {
            verified.remember(&i.to_string(), &me(), 100);
        }
        assert_eq!(verified.tokens.lock().unwrap().len(), 1);
        assert!(matches!(verified.lookup(&CAPACITY.to_string(), 0, 5), Lookup::Valid(_)));
    }
}
