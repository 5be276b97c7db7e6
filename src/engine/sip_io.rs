//! The SIP driver: owns the UDP socket and the TCP connections, and moves
//! bytes between them and the core task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc::{self, UnboundedSender};
use ura_sip::framing::StreamFramer;
use ura_sip::{ConnectionId, Flow, Transmit, Transport};

use super::CoreInput;
use crate::error::UraError;

/// The sockets SIP runs on.
pub struct SipSockets {
    udp: Arc<UdpSocket>,
    tcp_writers: HashMap<ConnectionId, UnboundedSender<Vec<u8>>>,
}

/// Binds UDP and TCP on `addr` and starts the reader tasks.
pub async fn bind(
    addr: SocketAddr,
    core: UnboundedSender<CoreInput>,
) -> Result<(SipSockets, SocketAddr), UraError> {
    let udp = bind_udp(addr).map_err(|e| UraError::io(format!("SIP UDP bind {addr}"), e))?;
    let local = udp
        .local_addr()
        .map_err(|e| UraError::io("SIP UDP address", e))?;
    // TCP on the same port as UDP (which may have been 0 = any).
    let tcp = TcpListener::bind(local)
        .await
        .map_err(|e| UraError::io(format!("SIP TCP bind {local}"), e))?;
    let udp = Arc::new(udp);
    tokio::spawn(udp_reader(udp.clone(), core.clone()));
    tokio::spawn(tcp_acceptor(tcp, core));
    Ok((
        SipSockets {
            udp,
            tcp_writers: HashMap::new(),
        },
        local,
    ))
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Bursts of INVITEs at high call rates: a roomy receive buffer.
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

async fn udp_reader(sock: Arc<UdpSocket>, core: UnboundedSender<CoreInput>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let input = CoreInput::Sip {
                    flow: Flow::udp(from),
                    data: buf[..n].to_vec(),
                };
                if core.send(input).is_err() {
                    return;
                }
            }
            // ICMP port unreachable from an earlier send shows up here on Linux.
            Err(e) => tracing::debug!(error = %e, "SIP UDP receive"),
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, core: UnboundedSender<CoreInput>) {
    let mut next = 1u64;
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "SIP TCP accept");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = ConnectionId(next);
        next += 1;
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::unbounded_channel();
        if core.send(CoreInput::TcpOpened { id, writer: tx }).is_err() {
            return;
        }
        tokio::spawn(tcp_connection(stream, remote, id, rx, core.clone()));
    }
}

async fn tcp_connection(
    stream: TcpStream,
    remote: SocketAddr,
    id: ConnectionId,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    core: UnboundedSender<CoreInput>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let write_task = tokio::spawn(async move {
        while let Some(data) = outgoing.recv().await {
            if writer.write_all(&data).await.is_err() {
                break;
            }
        }
    });
    let flow = Flow {
        transport: Transport::Tcp,
        remote,
        connection: Some(id),
    };
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_message() {
                Ok(Some(data)) => {
                    if core.send(CoreInput::Sip { flow, data }).is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(%remote, error = %e, "closing SIP TCP connection that cannot be framed");
                    break 'read;
                }
            }
        }
    }
    write_task.abort();
    let _ = core.send(CoreInput::TcpClosed { id });
}

impl SipSockets {
    /// Keeps the writer of a new TCP connection.
    pub fn tcp_opened(&mut self, id: ConnectionId, writer: UnboundedSender<Vec<u8>>) {
        self.tcp_writers.insert(id, writer);
    }

    /// Forgets a closed TCP connection.
    pub fn tcp_closed(&mut self, id: ConnectionId) {
        self.tcp_writers.remove(&id);
    }

    /// Sends one message.
    pub fn send(&self, t: Transmit) {
        match t.flow.transport {
            Transport::Udp => match self.udp.try_send_to(&t.data, t.flow.remote) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let udp = self.udp.clone();
                    tokio::spawn(async move {
                        let _ = udp.send_to(&t.data, t.flow.remote).await;
                    });
                }
                Err(e) => tracing::debug!(to = %t.flow.remote, error = %e, "SIP UDP send"),
            },
            Transport::Tcp => {
                let writer = t.flow.connection.and_then(|c| self.tcp_writers.get(&c));
                match writer {
                    Some(w) => {
                        let _ = w.send(t.data);
                    }
                    None => {
                        tracing::debug!(to = %t.flow.remote, "SIP TCP connection is gone; message dropped")
                    }
                }
            }
        }
    }
}
