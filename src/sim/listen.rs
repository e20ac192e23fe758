//! How the simulator lays out its sockets: one set per device at the device's own address, or
//! one socket per port for the whole fleet ([`super::shared`]), and which one a fleet gets.

use std::net::SocketAddr;

use super::model::Transport;

/// What the caller asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Listeners {
    /// Per device while that fits well within the open-file limit, else shared.
    #[default]
    Auto,
    PerDevice,
    Shared,
}

/// The layout a simulator runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenMode {
    /// Each device binds its own TCP listener and UDP sockets at its address; a dark device
    /// drops its listener, so connects are refused.
    PerDevice,
    /// One socket per (port, TCP or UDP) for the fleet, on the loopback interface; a
    /// connection to a dark device is accepted and reset at once.
    Shared,
}

impl ListenMode {
    /// For the listing `simulate` prints.
    pub fn describe(self) -> &'static str {
        match self {
            ListenMode::PerDevice => "per device (a dark device refuses connections)",
            ListenMode::Shared => {
                "shared, one socket per port on lo (a dark device resets connections)"
            }
        }
    }
}

/// Picks the layout: per device unless asked otherwise or unless its sockets would take more
/// than half of `soft_limit` open files (the rest is for client connections, the journal and
/// the runtime); no limit known means no limit.
pub fn choose(asked: Listeners, sockets_needed: usize, soft_limit: Option<u64>) -> ListenMode {
    match asked {
        Listeners::PerDevice => ListenMode::PerDevice,
        Listeners::Shared => ListenMode::Shared,
        Listeners::Auto => match soft_limit {
            Some(limit) if sockets_needed as u64 > limit / 2 => ListenMode::Shared,
            _ => ListenMode::PerDevice,
        },
    }
}

/// The process's soft `RLIMIT_NOFILE`; `None` when unlimited or unreadable.
pub fn soft_open_files() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given, which lives for the call.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// The UDP addresses a device at `addr` answers on: XOR devices on their own port, HTTP
/// devices on 20002 and 20004, Kasa cameras on the legacy 9999.
pub fn udp_addrs(addr: SocketAddr, transport: Transport) -> Vec<SocketAddr> {
    if transport == Transport::Linkie2 {
        vec![SocketAddr::new(
            addr.ip(),
            crate::protocol::discovery::IOT_PORT,
        )]
    } else if transport.is_http() {
        super::discovery::PORTS
            .iter()
            .map(|&p| SocketAddr::new(addr.ip(), p))
            .collect()
    } else {
        vec![addr]
    }
}

/// Sockets a device needs when it binds its own: its TCP listener and its UDP sockets.
pub fn per_device_sockets(addr: SocketAddr, transport: Transport) -> usize {
    1 + udp_addrs(addr, transport).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_shares_listeners_only_past_half_the_open_file_limit() {
        let auto = |needed, limit| choose(Listeners::Auto, needed, limit);
        assert_eq!(auto(10_000, Some(20_000)), ListenMode::PerDevice);
        assert_eq!(auto(10_001, Some(20_000)), ListenMode::Shared);
        assert_eq!(auto(200_000, Some(1024)), ListenMode::Shared);
        assert_eq!(auto(200_000, None), ListenMode::PerDevice);
        assert_eq!(
            choose(Listeners::Shared, 1, Some(20_000)),
            ListenMode::Shared
        );
        assert_eq!(
            choose(Listeners::PerDevice, 200_000, Some(1024)),
            ListenMode::PerDevice
        );
    }

    #[test]
    fn xor_devices_need_two_sockets_http_devices_three_kasa_cameras_two() {
        let at = |port| SocketAddr::from(([127, 60, 0, 1], port));
        assert_eq!(per_device_sockets(at(9999), Transport::Xor), 2);
        assert_eq!(udp_addrs(at(19999), Transport::Xor), [at(19999)]);
        assert_eq!(per_device_sockets(at(8080), Transport::KlapV2), 3);
        assert_eq!(udp_addrs(at(8080), Transport::Aes), [at(20002), at(20004)]);
        assert_eq!(udp_addrs(at(10443), Transport::Linkie2), [at(9999)]);
    }
}
