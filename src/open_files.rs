//! The process's open-file limit, raised to what the system allows.
//!
//! A large run keeps a socket per job in flight (`--concurrency 2000` is two thousand), and
//! the simulator a listener or two per device in its per-device layout; the usual soft limit
//! of 1,024 would refuse them long before the hard limit does. Raising the soft limit to the
//! hard one is what the limit is for, needs no privilege, and changes nothing else.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; the soft limit in force afterwards
/// (`None` when unlimited or unreadable). A failure leaves the limit as it was.
pub fn raise_to_hard() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write only the struct given, which outlives the
    // calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    (limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let raised = super::raise_to_hard();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        if limit.rlim_cur != libc::RLIM_INFINITY {
            assert_eq!(raised, Some(limit.rlim_cur));
        }
    }
}
