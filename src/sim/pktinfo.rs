//! Datagrams on a shared UDP socket, with the address they were sent to: `IP_PKTINFO` on
//! receive tells which simulated device a datagram is for, and on send makes the reply leave
//! from that address, since clients (python-kasa, fleetreset) match replies by source IP.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, sendmsg, setsockopt,
    sockopt,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Asks the kernel to tell each datagram's destination (`IP_PKTINFO`).
pub fn enable(socket: &socket2::Socket) -> io::Result<()> {
    setsockopt(socket, sockopt::Ipv4PacketInfo, &true).map_err(io::Error::from)
}

/// One received datagram's sender and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub from: SocketAddrV4,
    /// The address the sender sent to: the device it is for.
    pub to: Ipv4Addr,
}

/// A receiver's buffer for the `IP_PKTINFO` control message, reused for every datagram.
pub struct Control(Vec<u8>);

impl Control {
    pub fn new() -> Control {
        Control(nix::cmsg_space!(libc::in_pktinfo))
    }
}

/// Receives the next datagram into `buf`. A datagram without its destination (the option
/// off, or not IPv4) is consumed and skipped.
pub async fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    control: &mut Control,
) -> io::Result<Received> {
    loop {
        let got = socket
            .async_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(buf)];
                let msg = recvmsg::<SockaddrIn>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut control.0),
                    MsgFlags::empty(),
                )
                .map_err(io::Error::from)?;
                let to = msg.cmsgs().map_err(io::Error::from)?.find_map(|c| match c {
                    ControlMessageOwned::Ipv4PacketInfo(info) => {
                        Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)))
                    }
                    _ => None,
                });
                Ok((msg.bytes, msg.address.map(SocketAddrV4::from), to))
            })
            .await?;
        if let (len, Some(from), Some(to)) = got {
            return Ok(Received { len, from, to });
        }
    }
}

/// Sends `bytes` to `to` from the local address `from`.
pub async fn send(
    socket: &UdpSocket,
    bytes: &[u8],
    to: SocketAddrV4,
    from: Ipv4Addr,
) -> io::Result<usize> {
    let info = libc::in_pktinfo {
        ipi_ifindex: 0,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(from).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let dest = SockaddrIn::from(to);
    socket
        .async_io(Interest::WRITABLE, || {
            sendmsg(
                socket.as_raw_fd(),
                &[IoSlice::new(bytes)],
                &[ControlMessage::Ipv4PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&dest),
            )
            .map_err(io::Error::from)
        })
        .await
}
