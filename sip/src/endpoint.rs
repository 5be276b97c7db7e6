//! The sans-I/O SIP user agent: requests and responses in, bytes and call
//! events out.
//!
//! The driver feeds every message it reads to [`Endpoint::handle_input`] and
//! calls [`Endpoint::handle_timeout`] when [`Endpoint::poll_timeout`] says so;
//! after each call it drains [`Endpoint::poll_output`]. The application
//! answers the call events with [`Endpoint::answer`], [`Endpoint::reject`],
//! [`Endpoint::hangup`] and friends. Nothing here reads the clock or a socket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::auth::{Authenticator, LockoutScope};
use crate::builder::{self, InDialogRequest, ResponseSpec, ALLOW};
use crate::dialog::{Dialog, DialogId, DialogState};
use crate::error::SipError;
use crate::message::{self, Message, Method};
use crate::registrar::{Registrar, UnregisterReason};
use crate::transaction::{
    ClientNonInvite, ServerInvite, ServerInviteState, ServerNonInvite, TimerConfig, TxOutput,
};
use crate::transport::{Flow, Transmit};

/// Settings of an endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Transaction timers.
    pub timers: TimerConfig,
    /// `Server`/`User-Agent` value.
    pub user_agent: String,
    /// Address written in Via and Contact (the address peers reach us at).
    pub advertised: IpAddr,
    /// An address of the other family than `advertised`, written instead
    /// on flows to peers of that family (an IPv6 one for calls over IPv6
    /// when `advertised` is IPv4, say). None: `advertised` everywhere.
    pub advertised_other: Option<IpAddr>,
    /// Our SIP port.
    pub port: u16,
}

impl EndpointConfig {
    /// The address written in Via and Contact on a flow to `remote`: the
    /// advertised address of `remote`'s family (an IPv4-mapped IPv6
    /// address counts as IPv4), else `advertised`.
    pub fn advertised_for(&self, remote: SocketAddr) -> IpAddr {
        let v6 = |ip: IpAddr| ip.to_canonical().is_ipv6();
        let wanted = v6(remote.ip());
        match self.advertised_other {
            Some(other) if v6(self.advertised) != wanted && v6(other) == wanted => other,
            _ => self.advertised,
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The caller cancelled before the answer.
    Cancelled,
    /// The caller sent BYE.
    RemoteBye,
    /// We hung up (BYE sent, or a final error response before the answer).
    LocalHangup,
    /// Our 2xx was never acknowledged (Timer L); a BYE was sent.
    NoAck,
}

/// What the endpoint tells the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new INVITE: answer it with `answer`, `ring` or `reject`.
    IncomingCall(IncomingCall),
    /// The ACK for our 2xx arrived; with a body when the INVITE had no offer.
    Confirmed {
        /// The call.
        dialog: DialogId,
        /// The ACK's SDP (late offer) or None.
        body: Option<Vec<u8>>,
    },
    /// A re-INVITE: answer with `accept_reoffer` or `reject_reoffer`.
    ReOffer {
        /// The call.
        dialog: DialogId,
        /// The new offer (None: the re-INVITE had no SDP).
        body: Option<Vec<u8>>,
    },
    /// A DTMF digit sent with SIP INFO.
    InfoDigit {
        /// The call.
        dialog: DialogId,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
    },
    /// The call is over; its dialog is gone.
    Ended {
        /// The call.
        dialog: DialogId,
        /// Why.
        reason: EndReason,
    },
    /// Failed authentications locked a source address or a user out.
    AuthLockout {
        /// What is locked.
        scope: LockoutScope,
        /// The address the last failure came from.
        source: IpAddr,
        /// The user the credentials named, if any.
        user: Option<String>,
        /// Locked until.
        until: Instant,
        /// Failures counted for the locked key.
        failures: u32,
    },
    /// A phone registered a contact for an agent; sent again on every
    /// refresh (the flow may have changed), and for restored bindings.
    Registered {
        /// The user (address-of-record).
        user: String,
        /// The contact URI.
        contact: String,
        /// Where the REGISTER came from: reach the agent on it.
        flow: Flow,
        /// When the binding lapses unless refreshed.
        expires_at: Instant,
    },
    /// A binding is gone.
    Unregistered {
        /// The user.
        user: String,
        /// The contact URI.
        contact: String,
        /// Why.
        reason: UnregisterReason,
    },
    /// An outgoing call got a provisional response (180, 183, …; not 100).
    Progress {
        /// The call.
        dialog: DialogId,
        /// Status code.
        status: u16,
        /// Early media SDP, if the response had a body.
        body: Option<Vec<u8>>,
    },
    /// An outgoing call was answered (2xx); the ACK is sent.
    Answered {
        /// The call.
        dialog: DialogId,
        /// The SDP answer (None if the 2xx had no body).
        body: Option<Vec<u8>>,
    },
    /// An outgoing call failed before the answer; its handle is gone.
    CallFailed {
        /// The call.
        dialog: DialogId,
        /// The final status (408 for no answer, 503 for a transport failure).
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The peer asked for a blind transfer (REFER); 202 and the first NOTIFY
    /// (`100 Trying`) were sent. Report the outcome with
    /// [`Endpoint::notify_refer`].
    Refer {
        /// The call the REFER came in.
        dialog: DialogId,
        /// The Refer-To URI (without embedded headers).
        target_uri: String,
        /// The user part of that URI.
        target_user: Option<String>,
        /// The Referred-By URI, if given.
        referred_by: Option<String>,
    },
}

/// A new call, as the application sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingCall {
    /// Our handle for it.
    pub dialog: DialogId,
    /// SIP Call-ID.
    pub call_id: String,
    /// The From header value.
    pub from: String,
    /// The user part of the Request-URI (the number dialled).
    pub request_user: Option<String>,
    /// The user part of the To URI.
    pub to_user: Option<String>,
    /// Host of the Request-URI, as the caller addressed us.
    pub request_host: Option<String>,
    /// Content-Type of the body, lower case, without parameters.
    pub content_type: Option<String>,
    /// The body (an SDP offer, usually).
    pub body: Vec<u8>,
    /// Where the INVITE came from.
    pub source: Flow,
    /// The agent who proved who they are (digest), for INVITEs whose From
    /// user is a configured user; None for everyone else.
    pub authenticated_user: Option<String>,
}

/// One unit of output.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Bytes to send.
    Transmit(Transmit),
    /// A call event.
    Event(Event),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TxKey {
    branch: String,
    method: Method,
}

#[derive(Debug)]
enum ServerTxKind {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerTx {
    kind: ServerTxKind,
    key: TxKey,
    /// Where responses go.
    flow: Flow,
    /// The request, to build responses from.
    request: Message,
    /// The source flow (for Via received/rport).
    source: Flow,
    dialog: Option<DialogId>,
}

#[derive(Debug)]
struct ClientTx {
    tx: ClientNonInvite,
    key: TxKey,
    flow: Flow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerRef {
    Server(u64),
    Client(u64),
    Uac(u64),
}

/// The SIP user agent core. See the module docs.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    rng: fastrand::Rng,
    next_id: u64,
    server_txs: HashMap<u64, ServerTx>,
    server_keys: HashMap<TxKey, u64>,
    client_txs: HashMap<u64, ClientTx>,
    client_keys: HashMap<TxKey, u64>,
    uac: HashMap<u64, uac::UacInvite>,
    refer_subs: HashMap<DialogId, refer::ReferSub>,
    dialogs: HashMap<DialogId, Dialog>,
    by_call: HashMap<(String, String), DialogId>,
    timers: BinaryHeap<Reverse<(Instant, TimerRef)>>,
    out: VecDeque<Output>,
    scratch: Vec<TxOutput>,
    auth: Authenticator,
    registrar: Registrar,
}

const MAGIC_COOKIE: &str = "z9hG4bK";

impl Endpoint {
    /// A new endpoint; `seed` makes tags and branches reproducible in tests.
    pub fn new(config: EndpointConfig, seed: u64) -> Endpoint {
        Endpoint {
            config,
            rng: fastrand::Rng::with_seed(seed),
            next_id: 1,
            server_txs: HashMap::new(),
            server_keys: HashMap::new(),
            client_txs: HashMap::new(),
            client_keys: HashMap::new(),
            uac: HashMap::new(),
            refer_subs: HashMap::new(),
            dialogs: HashMap::new(),
            by_call: HashMap::new(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            scratch: Vec::new(),
            auth: Authenticator::new(seed),
            registrar: Registrar::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Number of live dialogs (outgoing calls not yet answered included).
    pub fn dialog_count(&self) -> usize {
        self.dialogs.len() + self.uac_pending_count()
    }

    /// Number of live transactions (server + client).
    pub fn transaction_count(&self) -> usize {
        self.server_txs.len() + self.client_txs.len() + self.uac.len()
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When `handle_timeout` should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.timers.peek().map(|Reverse((t, _))| *t);
        match (tx, self.registrar.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.usize(..ALPHABET.len())] as char)
            .collect()
    }

    fn transmit(&mut self, flow: Flow, data: Vec<u8>) {
        self.out
            .push_back(Output::Transmit(Transmit { flow, data }));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// Feeds one received message (a datagram, or one framed TCP message).
    pub fn handle_input(&mut self, now: Instant, source: Flow, data: &[u8]) {
        match Message::parse(data) {
            Ok(msg) if msg.is_request() => self.handle_request(now, source, msg),
            Ok(msg) => self.handle_response(now, msg),
            Err(SipError::Malformed(reason)) => self.reject_malformed(source, data, reason),
            Err(_) => {}
        }
    }

    /// Answers a request we could not parse with 400, when enough of it can
    /// be read to address a response; otherwise it is dropped.
    fn reject_malformed(&mut self, source: Flow, data: &[u8], reason: &'static str) {
        let Some(salvaged) = salvage(data) else {
            tracing::debug!(%reason, from = %source.remote, "dropped unparsable SIP message");
            return;
        };
        // RFC 3261 §21.5.6 (RFC 4475 §3.1.2.16): another SIP version is 505.
        let spec = if reason == "bad SIP version" {
            tracing::debug!(from = %source.remote, "505 to another SIP version");
            ResponseSpec::new(505)
        } else {
            tracing::debug!(%reason, from = %source.remote, "400 to malformed request");
            let mut spec = ResponseSpec::new(400);
            spec.reason = Some(reason);
            spec
        };
        let bytes = builder::response(&salvaged, &source, &spec, &self.config.user_agent);
        let flow = builder::response_flow(&salvaged, &source);
        self.transmit(flow, bytes);
    }

    /// Sends a stateless response (no transaction): for errors before one exists.
    fn respond_stateless(&mut self, req: &Message, source: Flow, spec: ResponseSpec<'_>) {
        let bytes = builder::response(req, &source, &spec, &self.config.user_agent);
        let flow = builder::response_flow(req, &source);
        self.transmit(flow, bytes);
    }

    fn server_key(msg: &Message) -> Option<TxKey> {
        let via = msg.top_via()?;
        let method = match msg.method()? {
            Method::Ack => Method::Invite,
            m => m.clone(),
        };
        let branch = match via.branch {
            Some(b) if b.starts_with(MAGIC_COOKIE) => format!("{b}|{}|{:?}", via.host, via.port),
            // RFC 2543 peers: fall back on the request's identity.
            _ => format!(
                "{}|{}|{}|{}",
                msg.call_id().unwrap_or(""),
                msg.cseq().map_or(0, |c| c.0),
                msg.from_tag().unwrap_or(""),
                via.host
            ),
        };
        Some(TxKey { branch, method })
    }

    fn handle_request(&mut self, now: Instant, source: Flow, msg: Message) {
        if let Err(reason) = msg.validate_request() {
            // A method nobody knows is 501 even when its CSeq names another
            // (RFC 4475 §3.1.2.18 prefers it to 400).
            if reason == "CSeq method does not match"
                && matches!(msg.method(), Some(Method::Other(m)) if !is_known_method(m))
            {
                let mut spec = ResponseSpec::new(501);
                spec.headers.push(("Allow", ALLOW.to_string()));
                return self.respond_stateless(&msg, source, spec);
            }
            let mut spec = ResponseSpec::new(400);
            spec.reason = Some(reason);
            if msg.method() != Some(&Method::Ack) {
                self.respond_stateless(&msg, source, spec);
            }
            return;
        }
        // RFC 3261 §8.2.2.1 (RFC 4475 §3.3.2, §3.3.3): a Request-URI scheme
        // we do not serve is 416.
        let scheme = msg.request_uri().and_then(message::uri_scheme);
        if !scheme.is_some_and(|s| message::is_sip_scheme(s) || s.eq_ignore_ascii_case("tel")) {
            if msg.method() != Some(&Method::Ack) {
                self.respond_stateless(&msg, source, ResponseSpec::new(416));
            }
            return;
        }
        let Some(key) = Self::server_key(&msg) else {
            return;
        };
        let method = msg.method().cloned().unwrap_or(Method::Ack);
        match method {
            Method::Ack => return self.handle_ack(now, &key, msg),
            Method::Cancel => return self.handle_cancel(now, source, msg),
            _ => {}
        }
        // A retransmission of a request we are already handling.
        if let Some(&id) = self.server_keys.get(&key) {
            if let Some(tx) = self.server_txs.get_mut(&id) {
                let mut out = std::mem::take(&mut self.scratch);
                match &mut tx.kind {
                    ServerTxKind::Invite(t) => t.on_retransmission(&mut out),
                    ServerTxKind::NonInvite(t) => t.on_retransmission(&mut out),
                }
                self.apply_server_outputs(now, id, out);
            }
            return;
        }
        if method != Method::Options && msg.max_forwards().ok().flatten() == Some(0) {
            return self.respond_stateless(&msg, source, ResponseSpec::new(483));
        }
        if let Some(required) = msg.header("Require") {
            let mut spec = ResponseSpec::new(420);
            spec.headers.push(("Unsupported", required.to_string()));
            return self.respond_stateless(&msg, source, spec);
        }
        let in_dialog = msg.to_tag().is_some();
        match method {
            Method::Register if self.auth.enabled() => self.handle_register(now, source, key, msg),
            Method::Invite if !in_dialog => self.handle_new_invite(now, source, key, msg),
            Method::Options if !in_dialog => {
                let id = self.new_server_tx(source, key, msg, None);
                let mut spec = ResponseSpec::new(200);
                spec.headers.push(("Allow", ALLOW.to_string()));
                spec.headers.push(("Accept", "application/sdp".to_string()));
                self.respond(now, id, spec);
            }
            Method::Invite | Method::Bye | Method::Info | Method::Options => {
                self.handle_in_dialog(now, source, key, msg)
            }
            Method::Other(ref m) if in_dialog && m == "REFER" => {
                self.handle_in_dialog(now, source, key, msg)
            }
            Method::Other(ref m) if !is_known_method(m) => {
                let mut spec = ResponseSpec::new(501);
                spec.headers.push(("Allow", ALLOW.to_string()));
                self.respond_stateless(&msg, source, spec);
            }
            _ => {
                let mut spec = ResponseSpec::new(405);
                spec.headers.push(("Allow", ALLOW.to_string()));
                self.respond_stateless(&msg, source, spec);
            }
        }
    }

    fn new_server_tx(
        &mut self,
        source: Flow,
        key: TxKey,
        request: Message,
        dialog: Option<DialogId>,
    ) -> u64 {
        let id = self.id();
        let reliable = source.transport.is_reliable();
        let kind = if request.method() == Some(&Method::Invite) {
            ServerTxKind::Invite(ServerInvite::new(self.config.timers, reliable))
        } else {
            ServerTxKind::NonInvite(ServerNonInvite::new(self.config.timers, reliable))
        };
        let flow = builder::response_flow(&request, &source);
        self.server_keys.insert(key.clone(), id);
        self.server_txs.insert(
            id,
            ServerTx {
                kind,
                key,
                flow,
                request,
                source,
                dialog,
            },
        );
        id
    }

    /// Sends a response on a server transaction.
    fn respond(&mut self, now: Instant, id: u64, spec: ResponseSpec<'_>) {
        let Some(tx) = self.server_txs.get_mut(&id) else {
            return;
        };
        let bytes = builder::response(&tx.request, &tx.source, &spec, &self.config.user_agent);
        let mut out = std::mem::take(&mut self.scratch);
        match &mut tx.kind {
            ServerTxKind::Invite(t) => t.send_response(now, spec.code, bytes, &mut out),
            ServerTxKind::NonInvite(t) => t.send_response(now, spec.code, bytes, &mut out),
        }
        self.apply_server_outputs(now, id, out);
    }

    fn apply_server_outputs(&mut self, now: Instant, id: u64, mut out: Vec<TxOutput>) {
        let mut timed_out = false;
        let mut terminated = false;
        if let Some(tx) = self.server_txs.get(&id) {
            let flow = tx.flow;
            for o in out.drain(..) {
                match o {
                    TxOutput::Send(bytes) => self
                        .out
                        .push_back(Output::Transmit(Transmit { flow, data: bytes })),
                    TxOutput::Timeout => timed_out = true,
                    TxOutput::Terminated => terminated = true,
                    TxOutput::Response(_) => {}
                }
            }
        }
        self.scratch = out;
        if timed_out {
            self.server_tx_timed_out(now, id);
        }
        if terminated {
            if let Some(tx) = self.server_txs.remove(&id) {
                self.server_keys.remove(&tx.key);
            }
        } else if let Some(t) = self.server_txs.get(&id).and_then(|tx| match &tx.kind {
            ServerTxKind::Invite(t) => t.poll_timeout(),
            ServerTxKind::NonInvite(t) => t.poll_timeout(),
        }) {
            self.timers.push(Reverse((t, TimerRef::Server(id))));
        }
    }

    /// Timer H or L fired on an INVITE transaction.
    fn server_tx_timed_out(&mut self, now: Instant, id: u64) {
        let Some(dialog) = self.server_txs.get(&id).and_then(|t| t.dialog) else {
            return;
        };
        let Some(d) = self.dialogs.get(&dialog) else {
            return;
        };
        if d.invite_tx != Some(id) {
            return;
        }
        if d.state == DialogState::Answered {
            // No ACK for our 2xx (RFC 3261 §13.3.1.4): confirm and hang up.
            tracing::info!(%dialog, "no ACK for 2xx: sending BYE");
            self.send_bye(now, dialog);
            self.remove_dialog(dialog);
            self.event(Event::Ended {
                dialog,
                reason: EndReason::NoAck,
            });
        }
    }

    fn handle_new_invite(&mut self, now: Instant, source: Flow, key: TxKey, msg: Message) {
        // A body we cannot read is 415 with what we read (RFC 3261 §21.4.13,
        // RFC 4475 §3.3.6).
        if !msg.body.is_empty() && msg.content_type().as_deref() != Some("application/sdp") {
            let mut spec = ResponseSpec::new(415);
            spec.headers.push(("Accept", "application/sdp".to_string()));
            return self.respond_stateless(&msg, source, spec);
        }
        // An answer must be SDP: an Accept without it is 406 (RFC 3261
        // §21.4.7, RFC 4475 §3.3.15).
        if let Some(accept) = msg.header("Accept") {
            if !accept.trim().is_empty() && !accepts_sdp(accept) {
                let mut spec = ResponseSpec::new(406);
                spec.headers.push(("Accept", "application/sdp".to_string()));
                return self.respond_stateless(&msg, source, spec);
            }
        }
        let Some(authenticated_user) = self.authenticate_invite(now, source, &key, &msg) else {
            return;
        };
        let dialog = DialogId(self.id());
        let local_tag = self.token(10);
        let local_cseq = self.rng.u32(1..10_000);
        let Some(mut d) = Dialog::from_invite(dialog, &msg, local_tag, source, local_cseq) else {
            return self.respond_stateless(&msg, source, ResponseSpec::new(400));
        };
        let request_uri = msg.request_uri().unwrap_or("").to_string();
        let incoming = IncomingCall {
            dialog,
            call_id: d.call_id.clone(),
            from: msg.header("From").unwrap_or("").to_string(),
            request_user: message::uri_user(&request_uri),
            to_user: msg
                .header("To")
                .and_then(|t| message::uri_user(message::name_addr_uri(t))),
            request_host: message::uri_host_port(&request_uri).map(|(h, _)| h),
            content_type: msg.content_type(),
            body: msg.body.clone(),
            source,
            authenticated_user,
        };
        let id = self.new_server_tx(source, key, msg, Some(dialog));
        d.invite_tx = Some(id);
        self.by_call
            .insert((d.call_id.clone(), d.local_tag.clone()), dialog);
        self.dialogs.insert(dialog, d);
        self.respond(now, id, ResponseSpec::new(100));
        self.event(Event::IncomingCall(incoming));
    }

    fn find_dialog(&self, msg: &Message) -> Option<DialogId> {
        let key = (msg.call_id()?.to_string(), msg.to_tag()?.to_string());
        let id = *self.by_call.get(&key)?;
        self.dialogs
            .get(&id)
            .filter(|d| d.matches(msg))
            .map(|d| d.id)
    }

    fn handle_in_dialog(&mut self, now: Instant, source: Flow, key: TxKey, msg: Message) {
        let Some(dialog) = self.find_dialog(&msg) else {
            return self.respond_stateless(&msg, source, ResponseSpec::new(481));
        };
        let cseq = msg.cseq().map_or(0, |c| c.0);
        let method = msg.method().cloned();
        let d = self.dialogs.get_mut(&dialog).expect("found above");
        if cseq < d.remote_cseq || (cseq == d.remote_cseq && method != Some(Method::Ack)) {
            // Out of order (RFC 3261 §12.2.2).
            return self.respond_stateless(&msg, source, ResponseSpec::new(500));
        }
        d.remote_cseq = cseq;
        match method {
            Some(Method::Bye) => {
                let id = self.new_server_tx(source, key, msg, Some(dialog));
                self.respond(now, id, ResponseSpec::new(200));
                self.remove_dialog(dialog);
                self.event(Event::Ended {
                    dialog,
                    reason: EndReason::RemoteBye,
                });
            }
            Some(Method::Info) => {
                let digit = parse_dtmf_info(msg.content_type().as_deref(), &msg.body);
                let known = matches!(
                    msg.content_type().as_deref(),
                    Some("application/dtmf-relay") | Some("application/dtmf")
                );
                let id = self.new_server_tx(source, key, msg, Some(dialog));
                if known || digit.is_some() {
                    self.respond(now, id, ResponseSpec::new(200));
                } else {
                    let mut spec = ResponseSpec::new(415);
                    spec.headers.push((
                        "Accept",
                        "application/dtmf-relay, application/dtmf".to_string(),
                    ));
                    self.respond(now, id, spec);
                }
                if let Some(digit) = digit {
                    self.event(Event::InfoDigit { dialog, digit });
                }
            }
            Some(Method::Options) => {
                let id = self.new_server_tx(source, key, msg, Some(dialog));
                let mut spec = ResponseSpec::new(200);
                spec.headers.push(("Allow", ALLOW.to_string()));
                self.respond(now, id, spec);
            }
            Some(Method::Invite) => {
                if d.state != DialogState::Confirmed || d.re_invite_pending {
                    // RFC 3261 §14.2: one INVITE at a time.
                    let mut spec = ResponseSpec::new(if d.state == DialogState::Confirmed {
                        500
                    } else {
                        491
                    });
                    spec.headers.push(("Retry-After", "1".to_string()));
                    return self.respond_stateless(&msg, source, spec);
                }
                // A target refresh only to a URI ura can send to.
                if let Some(target) = msg.header("Contact").and_then(message::target_uri) {
                    d.remote_target = target.to_string();
                }
                d.re_invite_pending = true;
                let body = (!msg.body.is_empty()).then(|| msg.body.clone());
                let id = self.new_server_tx(source, key, msg, Some(dialog));
                if let Some(d) = self.dialogs.get_mut(&dialog) {
                    d.invite_tx = Some(id);
                }
                self.respond(now, id, ResponseSpec::new(100));
                self.event(Event::ReOffer { dialog, body });
            }
            Some(Method::Other(ref m)) if m == "REFER" => {
                self.handle_refer(now, source, key, msg, dialog)
            }
            _ => {}
        }
    }

    fn handle_ack(&mut self, now: Instant, key: &TxKey, msg: Message) {
        // ACK to a non-2xx: same branch as the INVITE.
        if let Some(&id) = self.server_keys.get(key) {
            if let Some(ServerTx {
                kind: ServerTxKind::Invite(t),
                ..
            }) = self.server_txs.get_mut(&id)
            {
                if t.state() == ServerInviteState::Completed {
                    let mut out = std::mem::take(&mut self.scratch);
                    t.on_ack(now, &mut out);
                    self.apply_server_outputs(now, id, out);
                    return;
                }
            }
        }
        // ACK to a 2xx: matched by the dialog.
        let Some(dialog) = self.find_dialog(&msg) else {
            return;
        };
        let Some(d) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        let first = match d.invite_tx.and_then(|id| self.server_txs.get_mut(&id)) {
            Some(ServerTx {
                kind: ServerTxKind::Invite(t),
                ..
            }) => t.on_2xx_ack(),
            _ => false,
        };
        if !first {
            return;
        }
        let was_initial = d.state == DialogState::Answered;
        d.state = DialogState::Confirmed;
        let bye_pending = d.bye_pending;
        if was_initial {
            let body = (!msg.body.is_empty()).then_some(msg.body);
            self.event(Event::Confirmed { dialog, body });
        }
        if bye_pending {
            self.send_bye(now, dialog);
            self.remove_dialog(dialog);
            self.event(Event::Ended {
                dialog,
                reason: EndReason::LocalHangup,
            });
        }
    }

    fn handle_cancel(&mut self, now: Instant, source: Flow, msg: Message) {
        let Some(mut key) = Self::server_key(&msg) else {
            return;
        };
        key.method = Method::Invite;
        let invite = self.server_keys.get(&key).copied();
        let Some(invite_id) = invite else {
            return self.respond_stateless(&msg, source, ResponseSpec::new(481));
        };
        // 200 to the CANCEL on its own transaction.
        let cancel_key = TxKey {
            branch: key.branch.clone(),
            method: Method::Cancel,
        };
        if let Some(&id) = self.server_keys.get(&cancel_key) {
            let mut out = std::mem::take(&mut self.scratch);
            if let Some(ServerTx {
                kind: ServerTxKind::NonInvite(t),
                ..
            }) = self.server_txs.get_mut(&id)
            {
                t.on_retransmission(&mut out);
            }
            return self.apply_server_outputs(now, id, out);
        }
        let cancel_id = self.new_server_tx(source, cancel_key, msg, None);
        self.respond(now, cancel_id, ResponseSpec::new(200));
        // 487 to the INVITE if it is still unanswered.
        let (proceeding, dialog) = match self.server_txs.get(&invite_id) {
            Some(ServerTx {
                kind: ServerTxKind::Invite(t),
                dialog,
                ..
            }) => (t.state() == ServerInviteState::Proceeding, *dialog),
            _ => (false, None),
        };
        if proceeding {
            let tag = dialog
                .and_then(|d| self.dialogs.get(&d))
                .map(|d| d.local_tag.clone());
            let mut spec = ResponseSpec::new(487);
            spec.to_tag = tag.as_deref();
            self.respond(now, invite_id, spec);
            if let Some(dialog) = dialog {
                if self
                    .dialogs
                    .get(&dialog)
                    .is_some_and(|d| d.state == DialogState::Early)
                {
                    self.remove_dialog(dialog);
                    self.event(Event::Ended {
                        dialog,
                        reason: EndReason::Cancelled,
                    });
                }
            }
        }
    }

    fn handle_response(&mut self, now: Instant, msg: Message) {
        let (Some(via), Some((_, method)), Some(code)) = (msg.top_via(), msg.cseq(), msg.status())
        else {
            return;
        };
        let Some(branch) = via.branch else { return };
        let key = TxKey { branch, method };
        if key.method == Method::Invite {
            return self.uac_response(now, &key, code, &msg);
        }
        let Some(&id) = self.client_keys.get(&key) else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        if let Some(tx) = self.client_txs.get_mut(&id) {
            tx.tx.on_response(now, code, &mut out);
        }
        self.apply_client_outputs(id, out);
    }

    fn apply_client_outputs(&mut self, id: u64, mut out: Vec<TxOutput>) {
        let mut terminated = false;
        if let Some(tx) = self.client_txs.get(&id) {
            let flow = tx.flow;
            for o in out.drain(..) {
                match o {
                    TxOutput::Send(bytes) => self
                        .out
                        .push_back(Output::Transmit(Transmit { flow, data: bytes })),
                    TxOutput::Terminated => terminated = true,
                    TxOutput::Timeout => tracing::debug!("BYE got no answer (Timer F)"),
                    TxOutput::Response(code) if code >= 300 => {
                        tracing::debug!(code, "BYE answered with an error")
                    }
                    TxOutput::Response(_) => {}
                }
            }
        }
        self.scratch = out;
        if terminated {
            if let Some(tx) = self.client_txs.remove(&id) {
                self.client_keys.remove(&tx.key);
            }
        } else if let Some(t) = self.client_txs.get(&id).and_then(|tx| tx.tx.poll_timeout()) {
            self.timers.push(Reverse((t, TimerRef::Client(id))));
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_bindings(now);
        while let Some(Reverse((t, r))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            match r {
                TimerRef::Server(id) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    let Some(tx) = self.server_txs.get_mut(&id) else {
                        self.scratch = out;
                        continue;
                    };
                    let next = match &tx.kind {
                        ServerTxKind::Invite(t) => t.poll_timeout(),
                        ServerTxKind::NonInvite(t) => t.poll_timeout(),
                    };
                    if next.is_none_or(|n| n > now) {
                        // Not due: the transaction's timers moved since this
                        // entry was queued (a 2xx ACKed stops its
                        // retransmissions but Timer L still runs). Queue its
                        // next time again, or nothing would ever fire it.
                        if let Some(n) = next {
                            self.timers.push(Reverse((n, TimerRef::Server(id))));
                        }
                        self.scratch = out;
                        continue;
                    }
                    match &mut tx.kind {
                        ServerTxKind::Invite(t) => t.handle_timeout(now, &mut out),
                        ServerTxKind::NonInvite(t) => t.handle_timeout(now, &mut out),
                    }
                    self.apply_server_outputs(now, id, out);
                }
                TimerRef::Client(id) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    let Some(tx) = self.client_txs.get_mut(&id) else {
                        self.scratch = out;
                        continue;
                    };
                    let next = tx.tx.poll_timeout();
                    if next.is_none_or(|n| n > now) {
                        // Not due (see above): queue its next time again.
                        if let Some(n) = next {
                            self.timers.push(Reverse((n, TimerRef::Client(id))));
                        }
                        self.scratch = out;
                        continue;
                    }
                    tx.tx.handle_timeout(now, &mut out);
                    self.apply_client_outputs(id, out);
                }
                TimerRef::Uac(id) => self.uac_timeout(now, id),
            }
        }
    }

    fn remove_dialog(&mut self, dialog: DialogId) {
        if let Some(d) = self.dialogs.remove(&dialog) {
            self.by_call.remove(&(d.call_id, d.local_tag));
        }
        self.refer_subs.remove(&dialog);
    }

    fn contact(&self, flow: &Flow) -> String {
        let host = host_for_uri(self.config.advertised_for(flow.remote));
        match flow.transport {
            crate::transport::Transport::Udp => format!("<sip:ura@{host}:{}>", self.config.port),
            crate::transport::Transport::Tcp => {
                format!("<sip:ura@{host}:{};transport=tcp>", self.config.port)
            }
        }
    }

    /// Sends 180 Ringing for a new call.
    pub fn ring(&mut self, now: Instant, dialog: DialogId) -> Result<(), SipError> {
        let d = self.dialogs.get(&dialog).ok_or(SipError::UnknownCall)?;
        if d.state != DialogState::Early {
            return Err(SipError::WrongState("ring"));
        }
        let (tx, tag, contact) = (d.invite_tx, d.local_tag.clone(), self.contact(&d.flow));
        let mut spec = ResponseSpec::new(180);
        spec.to_tag = Some(&tag);
        spec.record_route = true;
        spec.headers.push(("Contact", contact));
        if let Some(tx) = tx {
            self.respond(now, tx, spec);
        }
        Ok(())
    }

    /// Answers a new call with 200 OK carrying `sdp`.
    pub fn answer(&mut self, now: Instant, dialog: DialogId, sdp: &[u8]) -> Result<(), SipError> {
        let d = self.dialogs.get_mut(&dialog).ok_or(SipError::UnknownCall)?;
        if d.state != DialogState::Early {
            return Err(SipError::WrongState("answer"));
        }
        d.state = DialogState::Answered;
        let (tx, tag) = (d.invite_tx, d.local_tag.clone());
        let contact = self.contact(&self.dialogs[&dialog].flow);
        let mut spec = ResponseSpec::new(200);
        spec.to_tag = Some(&tag);
        spec.record_route = true;
        spec.headers.push(("Contact", contact));
        spec.headers.push(("Allow", ALLOW.to_string()));
        spec.body = Some(("application/sdp", sdp));
        if let Some(tx) = tx {
            self.respond(now, tx, spec);
        }
        Ok(())
    }

    /// Refuses a new call with a final error response (4xx-6xx).
    pub fn reject(&mut self, now: Instant, dialog: DialogId, code: u16) -> Result<(), SipError> {
        let d = self.dialogs.get(&dialog).ok_or(SipError::UnknownCall)?;
        if d.state != DialogState::Early {
            return Err(SipError::WrongState("reject"));
        }
        let (tx, tag) = (d.invite_tx, d.local_tag.clone());
        let mut spec = ResponseSpec::new(code.clamp(300, 699));
        spec.to_tag = Some(&tag);
        if code == 488 {
            spec.headers.push((
                "Warning",
                "304 ura \"Media type not available\"".to_string(),
            ));
        }
        if let Some(tx) = tx {
            self.respond(now, tx, spec);
        }
        self.remove_dialog(dialog);
        Ok(())
    }

    /// Ends a call from our side: BYE when answered, 480 before the answer.
    ///
    /// Emits [`Event::Ended`] with [`EndReason::LocalHangup`] (at once, or
    /// when the pending ACK arrives).
    ///
    /// For an outgoing call that is not answered yet this cancels it (see
    /// [`Endpoint::call`]); once answered it sends BYE like any other call.
    pub fn hangup(&mut self, now: Instant, dialog: DialogId) -> Result<(), SipError> {
        if self.hangup_outgoing(now, dialog) {
            return Ok(());
        }
        let d = self.dialogs.get_mut(&dialog).ok_or(SipError::UnknownCall)?;
        match d.state {
            DialogState::Early => {
                self.reject(now, dialog, 480)?;
            }
            DialogState::Answered => {
                // RFC 3261 §15: BYE only after the ACK (or Timer L).
                d.bye_pending = true;
                return Ok(());
            }
            DialogState::Confirmed => {
                self.send_bye(now, dialog);
                self.remove_dialog(dialog);
            }
        }
        self.event(Event::Ended {
            dialog,
            reason: EndReason::LocalHangup,
        });
        Ok(())
    }

    fn send_bye(&mut self, now: Instant, dialog: DialogId) {
        let branch = format!("{MAGIC_COOKIE}{}", self.token(16));
        let Some(d) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        let cseq = d.local_cseq;
        d.local_cseq += 1;
        let flow = d.flow;
        let host = host_for_uri(self.config.advertised_for(flow.remote));
        let sent_by = format!("{host}:{}", self.config.port);
        let bytes = builder::request(
            &InDialogRequest {
                method: "BYE",
                uri: &d.remote_target,
                route: &d.route_set,
                from: &d.local_party,
                to: &d.remote_party,
                call_id: &d.call_id,
                cseq,
                via_sent_by: &sent_by,
                transport: flow.transport.as_str(),
                branch: &branch,
                contact: None,
                body: None,
            },
            &self.config.user_agent,
        );
        let mut out = std::mem::take(&mut self.scratch);
        let tx = ClientNonInvite::start(
            now,
            self.config.timers,
            flow.transport.is_reliable(),
            bytes,
            &mut out,
        );
        let id = self.id();
        let key = TxKey {
            branch,
            method: Method::Bye,
        };
        self.client_keys.insert(key.clone(), id);
        self.client_txs.insert(id, ClientTx { tx, key, flow });
        self.apply_client_outputs(id, out);
    }

    /// Answers a re-INVITE with 200 OK and our new SDP.
    pub fn accept_reoffer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        sdp: &[u8],
    ) -> Result<(), SipError> {
        let d = self.dialogs.get_mut(&dialog).ok_or(SipError::UnknownCall)?;
        if !d.re_invite_pending {
            return Err(SipError::WrongState("accept_reoffer"));
        }
        d.re_invite_pending = false;
        let (tx, flow) = (d.invite_tx, d.flow);
        let contact = self.contact(&flow);
        let mut spec = ResponseSpec::new(200);
        spec.headers.push(("Contact", contact));
        spec.body = Some(("application/sdp", sdp));
        if let Some(tx) = tx {
            self.respond(now, tx, spec);
        }
        Ok(())
    }

    /// Refuses a re-INVITE (488 for an unacceptable offer); the call goes on as before.
    pub fn reject_reoffer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        code: u16,
    ) -> Result<(), SipError> {
        let d = self.dialogs.get_mut(&dialog).ok_or(SipError::UnknownCall)?;
        if !d.re_invite_pending {
            return Err(SipError::WrongState("reject_reoffer"));
        }
        d.re_invite_pending = false;
        if let Some(tx) = d.invite_tx {
            self.respond(now, tx, ResponseSpec::new(code.clamp(300, 699)));
        }
        Ok(())
    }
}

fn host_for_uri(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn is_known_method(m: &str) -> bool {
    [
        "SUBSCRIBE",
        "NOTIFY",
        "MESSAGE",
        "REFER",
        "UPDATE",
        "PRACK",
        "PUBLISH",
    ]
    .contains(&m)
}

/// Reads a DTMF digit from an INFO body (`application/dtmf-relay` or `application/dtmf`).
pub fn parse_dtmf_info(content_type: Option<&str>, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let value = match content_type? {
        "application/dtmf-relay" => text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?,
        "application/dtmf" => text.trim(),
        _ => return None,
    };
    let c = match value {
        "10" => '*',
        "11" => '#',
        v if v.len() == 1 => v.chars().next()?.to_ascii_uppercase(),
        _ => return None,
    };
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c)
}

/// True when an Accept value admits `application/sdp` (directly or by a
/// `*` range).
fn accepts_sdp(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim();
        let media = media.to_ascii_lowercase();
        matches!(media.as_str(), "application/sdp" | "application/*" | "*/*")
    })
}

/// Reads enough of a broken request to answer it with 400: the method, and
/// Via, Call-ID, CSeq, From and To. The Request-URI and version are not
/// needed for a response, so a start line broken there (space in the URI,
/// another SIP version) is replaced by a stand-in.
fn salvage(data: &[u8]) -> Option<Message> {
    let end = message::head_end(data).unwrap_or(data.len());
    let mut head = data[..end].to_vec();
    // Only requests get an answer.
    if head.starts_with(b"SIP/") {
        return None;
    }
    while head.ends_with(b"\r\n") || head.ends_with(b"\n") {
        head.pop();
    }
    // Drop header lines that break the parse, keep the rest.
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let start = lines.next()?;
    let method = start.split(' ').next()?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut kept = format!("{method} sip:salvaged.invalid SIP/2.0\r\n");
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let wanted = ["via", "v", "call-id", "i", "cseq", "from", "f", "to", "t"];
        if !wanted.iter().any(|w| name.eq_ignore_ascii_case(w)) {
            continue;
        }
        let value = value.trim();
        // A Via of another SIP version, read as ours to address the 505.
        let other_version = value
            .strip_prefix("SIP/")
            .and_then(|v| v.split_once('/'))
            .filter(|(version, _)| *version != "2.0");
        match other_version {
            Some((_, rest)) if name.eq_ignore_ascii_case("via") || name == "v" => {
                kept.push_str(&format!("Via: SIP/2.0/{rest}\r\n"))
            }
            _ => {
                kept.push_str(l);
                kept.push_str("\r\n");
            }
        }
    }
    kept.push_str("\r\n");
    let msg = Message::parse(kept.as_bytes()).ok()?;
    msg.top_via()?;
    msg.call_id()?;
    msg.cseq()?;
    msg.header("From")?;
    msg.header("To")?;
    Some(msg)
}

mod refer;
mod register;
mod uac;

pub use uac::OutgoingCall;

#[cfg(test)]
mod tests;
