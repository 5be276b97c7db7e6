//! Where messages come from and go to.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so transactions retransmit.
    Udp,
    /// TCP: reliable, stream framed by Content-Length.
    Tcp,
}

impl Transport {
    /// True when the transport itself retransmits (no SIP retransmissions).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    /// The token used in Via headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one TCP connection of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// A path to a peer: transport, its address, and for TCP the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The transport.
    pub transport: Transport,
    /// The peer's address (source of what we received, or destination).
    pub remote: SocketAddr,
    /// The TCP connection a message arrived on (None for UDP, or to open one).
    pub connection: Option<ConnectionId>,
}

impl Flow {
    /// A UDP flow to `remote`.
    pub fn udp(remote: SocketAddr) -> Flow {
        Flow {
            transport: Transport::Udp,
            remote,
            connection: None,
        }
    }
}

/// Bytes to send on a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub flow: Flow,
    /// The whole message.
    pub data: Vec<u8>,
}
