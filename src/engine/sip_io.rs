//! The SIP driver: owns the UDP socket and the TCP connections, and moves
//! bytes between them and the core task through its bounded lanes
//! (`inputs.rs`): messages about existing calls to the high lane, new
//! requests to the new lane (or the shedder).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Notify};
use ura_sip::framing::StreamFramer;
use ura_sip::{ConnectionId, Flow, Transmit, Transport};

use super::admission::RateLimited;
use super::inputs::{classify, Lane, Lanes, NewRequest, Reply};
use super::CoreInput;
use crate::error::UraError;

/// Messages waiting to be written to one TCP connection; a peer that lets
/// more pile up is too slow and its connection is closed.
pub const TCP_WRITE_QUEUE: usize = 256;

/// The sockets SIP runs on.
pub struct SipSockets {
    udp: Arc<UdpSocket>,
    /// The UDP socket is IPv6 (dual-stack when bound to `[::]`): IPv4
    /// destinations are written as IPv4-mapped addresses.
    udp_v6: bool,
    tcp_writers: HashMap<ConnectionId, TcpWriter>,
    slow_tcp: RateLimited,
    udp_waiting: Arc<AtomicUsize>,
    udp_dropped: RateLimited,
    udp_failed: RateLimited,
}

/// UDP sends waiting for room in the socket's send buffer, at most.
const UDP_SEND_WAITING: usize = 4_096;

/// The writing side of one TCP connection: a bounded queue, and a way to
/// close the connection.
#[derive(Clone)]
pub struct TcpWriter {
    tx: mpsc::Sender<Vec<u8>>,
    close: Arc<Notify>,
}

impl TcpWriter {
    /// Queues bytes; false (and the connection closes) when the queue is
    /// full.
    pub fn send(&self, data: Vec<u8>) -> bool {
        match self.tx.try_send(data) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Ports tried when SIP is bound to port 0 and the port UDP got is taken
/// for TCP.
const ANY_PORT_TRIES: u32 = 16;

/// Binds UDP and TCP on `addr` and starts the reader tasks; at most
/// `tcp_cap` TCP connections are kept open at once.
///
/// `[::]` binds dual-stack sockets (IPv4 peers arrive as IPv4-mapped
/// addresses and are handed on as plain IPv4); where the system has no
/// IPv6, `[::]` falls back to `0.0.0.0` with a warning.
pub async fn bind(
    addr: SocketAddr,
    lanes: Lanes,
    tcp_cap: usize,
) -> Result<(SipSockets, SocketAddr), UraError> {
    // TCP on the same port as UDP. With port 0 (any), the port the system
    // gave UDP may be taken for TCP: another port is tried, a few times.
    let mut tries = 0;
    let (udp, tcp, local) = loop {
        tries += 1;
        let (udp, addr) = match bind_udp(addr) {
            Err(e) if is_any_v6(addr) && no_ipv6(&e) => {
                let v4 = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), addr.port());
                tracing::warn!(error = %e, "no IPv6 on this system: SIP listens on {v4} only");
                (bind_udp(v4), v4)
            }
            other => (other, addr),
        };
        let udp = udp.map_err(|e| UraError::io(format!("SIP UDP bind {addr}"), e))?;
        let local = udp
            .local_addr()
            .map_err(|e| UraError::io("SIP UDP address", e))?;
        match bind_tcp(local) {
            Ok(tcp) => break (udp, tcp, local),
            Err(e)
                if addr.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && tries < ANY_PORT_TRIES =>
            {
                tracing::debug!(%local, "the port UDP got is taken for TCP: another one");
            }
            Err(e) => return Err(UraError::io(format!("SIP TCP bind {local}"), e)),
        }
    };
    let udp_v6 = local.is_ipv6();
    let udp = Arc::new(udp);
    tokio::spawn(udp_reader(udp.clone(), lanes.clone()));
    tokio::spawn(tcp_acceptor(tcp, lanes, tcp_cap));
    Ok((
        SipSockets {
            udp,
            udp_v6,
            tcp_writers: HashMap::new(),
            slow_tcp: RateLimited::default(),
            udp_waiting: Arc::default(),
            udp_dropped: RateLimited::default(),
            udp_failed: RateLimited::default(),
        },
        local,
    ))
}

fn is_any_v6(addr: SocketAddr) -> bool {
    addr.ip() == std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
}

/// The error of a system without IPv6 (no module, or disabled).
fn no_ipv6(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EAFNOSUPPORT) || e.kind() == std::io::ErrorKind::AddrNotAvailable
}

/// A socket of `addr`'s family; for `[::]` one that takes IPv4 too, where
/// the system allows (best effort: a system forcing IPv6-only keeps it).
fn socket_for(addr: SocketAddr, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, ty, None)?;
    if is_any_v6(addr) {
        if let Err(e) = sock.set_only_v6(false) {
            tracing::warn!(error = %e, "SIP on {addr} takes IPv6 only: the system refuses dual-stack sockets");
        }
    }
    Ok(sock)
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = socket_for(addr, socket2::Type::STREAM)?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    TcpListener::from_std(sock.into())
}

/// `addr` as the core sees it: an IPv4-mapped IPv6 address (from a
/// dual-stack socket) as plain IPv4.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// `addr` as a socket of family `v6` takes it: IPv4 as IPv4-mapped IPv6.
pub fn for_socket(addr: SocketAddr, v6: bool) -> SocketAddr {
    match (v6, addr) {
        (true, SocketAddr::V4(a)) => SocketAddr::new(a.ip().to_ipv6_mapped().into(), a.port()),
        _ => addr,
    }
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = socket_for(addr, socket2::Type::DGRAM)?;
    // Bursts of INVITEs at high call rates: a roomy receive buffer.
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

async fn udp_reader(sock: Arc<UdpSocket>, lanes: Lanes) {
    let mut buf = vec![0u8; 65_535];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let from = canonical(from);
                let data = &buf[..n];
                let flow = Flow::udp(from);
                let sent = match classify(data) {
                    Lane::High => lanes.udp_in_dialog(CoreInput::Sip {
                        flow,
                        data: data.to_vec(),
                    }),
                    Lane::New { call_id } => lanes.offer_new(
                        NewRequest {
                            at: Instant::now(),
                            flow,
                            data: data.to_vec(),
                            reply: Reply::Udp(sock.clone()),
                        },
                        call_id,
                    ),
                };
                if sent.is_err() {
                    return;
                }
            }
            // ICMP port unreachable from an earlier send shows up here on Linux.
            Err(e) => tracing::debug!(error = %e, "SIP UDP receive"),
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, lanes: Lanes, cap: usize) {
    let mut next = 1u64;
    let open = Arc::new(AtomicUsize::new(0));
    let refused = RateLimited::default();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok((s, remote)) => (s, canonical(remote)),
            Err(e) => {
                // Out of descriptors shows up here: back off, do not spin.
                tracing::warn!(error = %e, "SIP TCP accept");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= cap {
            drop(stream);
            if let Some(n) = refused.hit() {
                tracing::warn!(
                    %remote,
                    refused = n,
                    total = refused.total(),
                    "SIP TCP connections closed at once: {cap} are open"
                );
            }
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let id = ConnectionId(next);
        next += 1;
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::channel(TCP_WRITE_QUEUE);
        let writer = TcpWriter {
            tx,
            close: Arc::new(Notify::new()),
        };
        if lanes
            .send_wait(CoreInput::TcpOpened {
                id,
                writer: writer.clone(),
            })
            .await
            .is_err()
        {
            return;
        }
        let open = open.clone();
        let lanes = lanes.clone();
        tokio::spawn(async move {
            tcp_connection(stream, remote, id, writer, rx, &lanes).await;
            open.fetch_sub(1, Ordering::Relaxed);
            let _ = lanes.send_wait(CoreInput::TcpClosed { id }).await;
        });
    }
}

async fn tcp_connection(
    stream: TcpStream,
    remote: SocketAddr,
    id: ConnectionId,
    writer: TcpWriter,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    lanes: &Lanes,
) {
    let (mut reader, mut write_half) = stream.into_split();
    let write_task = async move {
        while let Some(data) = outgoing.recv().await {
            if write_half.write_all(&data).await.is_err() {
                break;
            }
        }
    };
    let flow = Flow {
        transport: Transport::Tcp,
        remote,
        connection: Some(id),
    };
    let close = writer.close.clone();
    let read_task = async {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            framer.push(&buf[..n]);
            loop {
                let (data, last) = match framer.next_message() {
                    Ok(Some(data)) => (data, false),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%remote, error = %e, "closing SIP TCP connection that cannot be framed");
                        // The head alone still gets its answer (400 for a
                        // bad Content-Length) before the close.
                        match framer.broken_head() {
                            Some(head) => (head.to_vec(), true),
                            None => return,
                        }
                    }
                };
                let sent = match classify(&data) {
                    Lane::High => lanes.send_wait(CoreInput::Sip { flow, data }).await,
                    Lane::New { call_id } => {
                        let call_id = call_id.map(str::to_string);
                        lanes.offer_new(
                            NewRequest {
                                at: Instant::now(),
                                flow,
                                data,
                                reply: Reply::Tcp(writer.clone()),
                            },
                            call_id.as_deref(),
                        )
                    }
                };
                if sent.is_err() {
                    return;
                }
                if last {
                    // Time for the answer to be written, then close.
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = read_task => {}
        _ = write_task => {}
        _ = close.notified() => {
            tracing::debug!(%remote, "closing a SIP TCP connection that does not read fast enough");
        }
    }
}

impl SipSockets {
    /// Keeps the writer of a new TCP connection.
    pub fn tcp_opened(&mut self, id: ConnectionId, writer: TcpWriter) {
        self.tcp_writers.insert(id, writer);
    }

    /// Forgets a closed TCP connection.
    pub fn tcp_closed(&mut self, id: ConnectionId) {
        self.tcp_writers.remove(&id);
    }

    /// Sends one message.
    pub fn send(&mut self, t: Transmit) {
        match t.flow.transport {
            Transport::Udp => match self
                .udp
                .try_send_to(&t.data, for_socket(t.flow.remote, self.udp_v6))
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // The send buffer is full: a few tasks wait for room;
                    // past that the message is dropped (UDP: the
                    // transaction layer retransmits).
                    if self.udp_waiting.load(Ordering::Relaxed) >= UDP_SEND_WAITING {
                        if let Some(n) = self.udp_dropped.hit() {
                            tracing::warn!(
                                dropped = n,
                                "SIP UDP send buffer full: messages dropped"
                            );
                        }
                        return;
                    }
                    let udp = self.udp.clone();
                    let waiting = self.udp_waiting.clone();
                    let to = for_socket(t.flow.remote, self.udp_v6);
                    waiting.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let _ = udp.send_to(&t.data, to).await;
                        waiting.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) => {
                    // Never silent: a peer we cannot send to (another
                    // family, no route) is worth a line, once a second.
                    if let Some(n) = self.udp_failed.hit() {
                        tracing::warn!(to = %t.flow.remote, error = %e, failed = n, "SIP UDP send failed");
                    }
                }
            },
            Transport::Tcp => {
                let writer = t.flow.connection.and_then(|c| self.tcp_writers.get(&c));
                match writer {
                    Some(w) => {
                        if !w.send(t.data) {
                            // Too slow (or gone): its connection closes.
                            if let Some(c) = t.flow.connection {
                                self.tcp_writers.remove(&c);
                            }
                            if let Some(n) = self.slow_tcp.hit() {
                                tracing::warn!(
                                    to = %t.flow.remote,
                                    closed = n,
                                    "SIP TCP connection closed: {TCP_WRITE_QUEUE} messages waiting to be written"
                                );
                            }
                        }
                    }
                    None => {
                        tracing::debug!(to = %t.flow.remote, "SIP TCP connection is gone; message dropped")
                    }
                }
            }
        }
    }
}
