//! Login throttling: who must wait, and how long, before a password is evaluated.
//!
//! Failures are counted per **account and source** (the peer's address without its port, an
//! IPv6 peer by its /64; the peer's uid on the Unix socket), per **source** across accounts (a
//! spray over many accounts), and per **account from the network** (a guess spread over many
//! addresses). Each count allows a few failures, then asks for a delay that doubles with every
//! further failure up to a cap: a delay, never a lock a stranger can hold on someone else's
//! account. The account-wide delay does not apply on the local Unix socket, so an operator on the
//! host can always get in while the account is under attack over the network (kanidm and
//! vaultwarden work the same way).

use std::net::{IpAddr, SocketAddr};

use chrono::{Duration, NaiveDateTime};

/// Failures counted within this window decide the delay.
pub const RECENT: Duration = Duration::minutes(15);

/// One throttle: what it counts, how many failures are free, the longest delay, and the most
/// failures per hour after which it waits out the hour.
#[derive(Debug, Clone, Copy)]
struct Rule {
    why: &'static str,
    free: i64,
    max_delay_secs: i64,
    per_hour: Option<i64>,
}

const PAIR: Rule = Rule {
    why: "for this account from this client",
    free: 3,
    max_delay_secs: 300,
    per_hour: Some(100),
};
const SOURCE: Rule = Rule {
    why: "from this client",
    free: 10,
    max_delay_secs: 300,
    per_hour: Some(200),
};
/// Never locks: at most a minute's wait for the rightful admin on the network.
const ACCOUNT: Rule = Rule {
    why: "for this account",
    free: 20,
    max_delay_secs: 60,
    per_hour: None,
};

/// A count of failures: how many, and the latest.
pub type Failures = (i64, Option<NaiveDateTime>);

/// The failures that decide one attempt.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub pair_recent: Failures,
    pub pair_hour: Failures,
    pub source_recent: Failures,
    pub source_hour: Failures,
    /// From network sources only; not consulted for the local socket.
    pub account_recent: Failures,
}

/// The attempt must wait `retry_secs`; `why` names the throttle, in mama's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub retry_secs: i64,
    pub why: &'static str,
}

/// Where an attempt comes from, as throttling counts it: `ip:port` → the IP (an IPv6 address by
/// its /64, which one host can rotate through freely), `unix:uid=…,pid=…` → the uid.
pub fn source_of(client: &str) -> String {
    if let Some(rest) = client.strip_prefix("unix:") {
        let uid = rest.split(',').next().unwrap_or(rest);
        return format!("unix:{uid}");
    }
    match client.parse::<SocketAddr>().map(|a| a.ip()) {
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => client.to_string(),
    }
}

/// Whether the source is the local Unix socket (an operator on the host).
pub fn is_local(source: &str) -> bool {
    source.starts_with("unix:")
}

/// Decides one attempt from `source` at `now`.
pub fn decide(counts: &Counts, source: &str, now: NaiveDateTime) -> Result<(), Throttled> {
    let mut checks = vec![
        (PAIR, counts.pair_recent, counts.pair_hour),
        (SOURCE, counts.source_recent, counts.source_hour),
    ];
    if !is_local(source) {
        checks.push((ACCOUNT, counts.account_recent, (0, None)));
    }
    for (rule, recent, hour) in checks {
        if let (Some(cap), (n, Some(last))) = (rule.per_hour, hour) {
            if n >= cap {
                let wait = (last + Duration::hours(1) - now).num_seconds();
                if wait > 0 {
                    return Err(Throttled {
                        retry_secs: wait,
                        why: rule.why,
                    });
                }
            }
        }
        let (n, last) = recent;
        if n >= rule.free {
            let delay = (1i64 << (n - rule.free).min(12)).min(rule.max_delay_secs);
            if let Some(last) = last {
                let wait = (last + Duration::seconds(delay) - now).num_milliseconds();
                if wait > 0 {
                    return Err(Throttled {
                        retry_secs: (wait + 999) / 1000,
                        why: rule.why,
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn sources_ignore_ports_and_pids() {
        assert_eq!(source_of("10.0.0.7:51234"), "10.0.0.7");
        assert_eq!(source_of("10.0.0.7:40000"), source_of("10.0.0.7:51234"));
        assert_eq!(source_of("unix:uid=1000,pid=4242"), "unix:uid=1000");
        assert_eq!(source_of("[2001:db8:1:2:aa::1]:443"), "2001:db8:1:2::/64");
        assert_eq!(
            source_of("[2001:db8:1:2:ffff::9]:80"),
            source_of("[2001:db8:1:2:aa::1]:443")
        );
        assert_eq!(source_of("[::ffff:10.0.0.7]:1"), "10.0.0.7");
    }

    #[test]
    fn three_free_failures_then_a_growing_delay_for_the_pair() {
        let now = at(0);
        let mut counts = Counts {
            pair_recent: (3, Some(at(0))),
            ..Counts::default()
        };
        assert_eq!(decide(&counts, "10.0.0.7", now).unwrap_err().retry_secs, 1);
        counts.pair_recent = (6, Some(at(0)));
        assert_eq!(decide(&counts, "10.0.0.7", now).unwrap_err().retry_secs, 8);
        assert!(decide(&counts, "10.0.0.7", at(8)).is_ok(), "the delay ends");
        counts.pair_recent = (40, Some(at(0)));
        assert_eq!(
            decide(&counts, "10.0.0.7", now).unwrap_err().retry_secs,
            300,
            "capped"
        );
    }

    #[test]
    fn a_network_attack_on_an_account_never_holds_the_local_socket() {
        let counts = Counts {
            account_recent: (500, Some(at(0))),
            ..Counts::default()
        };
        let over_network = decide(&counts, "192.0.2.1", at(0)).unwrap_err();
        assert_eq!(over_network.why, "for this account");
        assert!(over_network.retry_secs <= 60, "a delay, not a lock");
        assert!(decide(&counts, "unix:uid=0", at(0)).is_ok());
    }

    #[test]
    fn a_spray_over_many_accounts_slows_its_source() {
        let counts = Counts {
            source_recent: (12, Some(at(0))),
            ..Counts::default()
        };
        let err = decide(&counts, "198.51.100.9", at(0)).unwrap_err();
        assert_eq!(err.why, "from this client");
        assert_eq!(err.retry_secs, 4);
    }

    #[test]
    fn the_hourly_cap_waits_out_the_hour() {
        let counts = Counts {
            pair_hour: (100, Some(at(0))),
            ..Counts::default()
        };
        assert_eq!(
            decide(&counts, "10.0.0.7", at(60)).unwrap_err().retry_secs,
            3540
        );
    }
}
