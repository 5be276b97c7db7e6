//! The UAC half of the endpoint: calls ura places (to an agent's softphone).
//! The call flow and the choices made where RFC 3261 leaves room are
//! documented on [`OutgoingCall`].

use std::fmt::Write;

use super::*;
use crate::transaction::ClientInvite;

/// Most 2xx legs (different To tags) ACKed for one INVITE; more are
/// dropped, so a broken or hostile peer cannot make us start BYEs at will.
const MAX_LEGS: usize = 8;

/// Headers an application may not set through `extra_headers`: the endpoint
/// writes them.
const RESERVED_HEADERS: &[&str] = &[
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "max-forwards",
    "contact",
    "m",
    "content-length",
    "l",
    "content-type",
    "c",
    "route",
    "record-route",
];

/// A call for ura to place with [`Endpoint::call`], e.g. to an agent's
/// registered softphone.
///
/// The INVITE runs on a client INVITE transaction (Timer A retransmissions
/// on UDP, Timer B = 64·T1, the RFC 6026 Accepted state). What the answers
/// become:
///
/// | response | what happens |
/// |---|---|
/// | 100 | nothing (the transaction stops retransmitting) |
/// | 101-199 | [`Event::Progress`] (with the body: early media SDP) |
/// | first 2xx | dialog made (To tag; Contact as remote target; Record-Route reversed as route set), ACK sent, [`Event::Answered`] |
/// | 2xx again, same To tag | the same ACK again, no event |
/// | 2xx with another To tag (a fork) | ACK, then BYE on that leg; the app never sees it (at most 8 legs per call) |
/// | 300-699 | the transaction ACKs it (same branch); [`Event::CallFailed`] with its status and reason phrase (3xx are not followed) |
/// | none (Timer B) | [`Event::CallFailed`] 408 |
/// | [`Endpoint::transport_failed`] / [`Endpoint::call_unreachable`] | [`Event::CallFailed`] 503 |
///
/// Timer B (32 s by default) counts from the INVITE and keeps running after
/// a provisional, so it also bounds the ringing time; when it fires while
/// the agent's phone rings, a CANCEL goes out before the 408 is reported.
///
/// Cancelling is [`Endpoint::hangup`] before the final answer. RFC 3261
/// §9.1 allows the CANCEL only once a provisional arrived: before that the
/// wish is kept and the CANCEL goes out with the first provisional (100
/// included); if none ever comes, Timer B ends the attempt with no CANCEL.
/// A cancelled call always ends with [`Event::Ended`] /
/// [`EndReason::LocalHangup`] (never `CallFailed`), emitted when the
/// INVITE's final answer arrives (normally 487, which is ACKed) or Timer B
/// fires. Provisional responses after the hangup are not reported. A 2xx
/// crossing the CANCEL is ACKed and then BYE'd.
///
/// Once answered, the call is an ordinary confirmed dialog: BYE, INFO,
/// re-INVITE and REFER from the agent, and [`Endpoint::hangup`] (BYE with
/// the next CSeq, the route set and the remote target), work as for inbound
/// calls. Every request of the call, ACK and BYE included, is sent on
/// `target` (the flow the agent registered from), not resolved from the
/// route set or the remote target. Early dialogs (To tags of provisionals)
/// are not tracked: there is no PRACK or UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCall {
    /// Where to send the INVITE (the agent's registered flow).
    pub target: Flow,
    /// The Request-URI (the agent's registered Contact URI).
    pub request_uri: String,
    /// Display name in From.
    pub from_display: Option<String>,
    /// User part of the From URI (the caller's number: caller ID).
    pub from_user: String,
    /// The To URI (the agent's address of record).
    pub to_uri: String,
    /// More headers for the INVITE, e.g. `("X-Ura-Queue", "vendas")`.
    pub extra_headers: Vec<(String, String)>,
    /// Our SDP offer.
    pub sdp: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    /// The app did not hang up.
    No,
    /// The app hung up before any provisional: CANCEL goes with the first one.
    Wanted,
    /// CANCEL sent.
    Sent,
}

/// One outgoing INVITE: its transaction and what ACK, CANCEL and BYE need.
#[derive(Debug)]
pub(super) struct UacInvite {
    tx: ClientInvite,
    key: TxKey,
    flow: Flow,
    dialog: DialogId,
    request_uri: String,
    /// Our Via, as sent (CANCEL and the non-2xx ACK repeat it).
    via: String,
    /// From with our tag.
    from: String,
    local_tag: String,
    /// To as sent (no tag).
    to: String,
    call_id: String,
    cseq: u32,
    /// No final answer yet: the app sees the call as ringing.
    pending: bool,
    provisional: bool,
    cancel: Cancel,
    /// To tag of the 2xx that made the call's dialog.
    answered_tag: Option<String>,
    /// The ACK sent for each 2xx To tag, sent again for retransmissions.
    acks: Vec<(String, Vec<u8>)>,
}

/// A request written by the endpoint (outside the [`builder`] helpers, which
/// have no room for extra headers).
pub(super) struct Req<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    /// The whole Via value.
    pub via: &'a str,
    pub route: &'a [String],
    pub from: &'a str,
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    pub contact: Option<&'a str>,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<(&'a str, &'a [u8])>,
}

/// Writes a request: start line, Via, Max-Forwards, Route, the dialog
/// headers, Contact, extra headers, User-Agent and the body.
pub(super) fn write_request(r: &Req<'_>, user_agent: &str) -> Vec<u8> {
    let mut s = String::with_capacity(640);
    let _ = write!(
        s,
        "{} {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n",
        r.method, r.uri, r.via
    );
    for route in r.route {
        let _ = write!(s, "Route: {route}\r\n");
    }
    let _ = write!(
        s,
        "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
        r.from, r.to, r.call_id, r.cseq, r.method
    );
    if let Some(c) = r.contact {
        let _ = write!(s, "Contact: {c}\r\n");
    }
    for (name, value) in r.headers {
        let _ = write!(s, "{name}: {value}\r\n");
    }
    let _ = write!(s, "User-Agent: {user_agent}\r\n");
    match r.body {
        Some((ctype, body)) => {
            let _ = write!(
                s,
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let mut out = s.into_bytes();
            out.extend_from_slice(body);
            out
        }
        None => {
            s.push_str("Content-Length: 0\r\n\r\n");
            s.into_bytes()
        }
    }
}

fn has_ctl(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

fn is_sip_uri(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    (lower.starts_with("sip:") || lower.starts_with("sips:"))
        && s.len() > 4
        && !s.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
}

fn is_user(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()%&=+$,;?/".contains(c))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
}

/// Checks what the application gave [`Endpoint::call`]: nothing that could
/// break the message or inject headers.
fn validate(call: &OutgoingCall) -> Result<(), SipError> {
    if !is_sip_uri(&call.request_uri) {
        return Err(SipError::Malformed(
            "request_uri must be a sip: or sips: URI",
        ));
    }
    if !is_sip_uri(&call.to_uri) {
        return Err(SipError::Malformed("to_uri must be a sip: or sips: URI"));
    }
    if !is_user(&call.from_user) {
        return Err(SipError::Malformed(
            "from_user is not a valid URI user part",
        ));
    }
    if call.from_display.as_deref().is_some_and(has_ctl) {
        return Err(SipError::Malformed("control character in from_display"));
    }
    for (name, value) in &call.extra_headers {
        if !is_token(name) || RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(SipError::Malformed(
                "extra header name is not a token or is set by the endpoint",
            ));
        }
        if has_ctl(value) {
            return Err(SipError::Malformed("control character in an extra header"));
        }
    }
    if call.sdp.is_empty() {
        return Err(SipError::Malformed("an outgoing call needs an SDP offer"));
    }
    Ok(())
}

fn quote(display: &str) -> String {
    let mut s = String::with_capacity(display.len() + 2);
    s.push('"');
    for c in display.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

impl Endpoint {
    /// Our Via value for a new request on `flow`.
    pub(super) fn via_value(&self, flow: &Flow, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            flow.transport.as_str(),
            host_for_uri(self.config.advertised_for(flow.remote)),
            self.config.port
        )
    }

    /// A fresh branch with the RFC 3261 magic cookie.
    pub(super) fn new_branch(&mut self) -> String {
        format!("{MAGIC_COOKIE}{}", self.token(16))
    }

    /// Outgoing calls waiting for their final answer.
    pub(super) fn uac_pending_count(&self) -> usize {
        self.uac.values().filter(|u| u.pending).count()
    }

    /// Places a call: sends the INVITE to `call.target` and returns the
    /// call's handle. The answers come as [`Event::Progress`], then
    /// [`Event::Answered`] or [`Event::CallFailed`]; see [`OutgoingCall`]
    /// for the whole flow. The INVITE has CSeq 1, a fresh Call-ID and From
    /// tag, `Allow` (with REFER), our Contact and `extra_headers`.
    ///
    /// Errors with [`SipError::Malformed`] when a URI, the caller number, a
    /// header or the display name would not make a valid INVITE, or the SDP
    /// offer is empty.
    pub fn call(&mut self, now: Instant, call: OutgoingCall) -> Result<DialogId, SipError> {
        validate(&call)?;
        let dialog = DialogId(self.id());
        let host = host_for_uri(self.config.advertised_for(call.target.remote));
        let local_tag = self.token(10);
        let call_id = format!("{}@{host}", self.token(20));
        let branch = self.new_branch();
        let via = self.via_value(&call.target, &branch);
        let from = match &call.from_display {
            Some(d) => format!(
                "{} <sip:{}@{host}>;tag={local_tag}",
                quote(d),
                call.from_user
            ),
            None => format!("<sip:{}@{host}>;tag={local_tag}", call.from_user),
        };
        let to = format!("<{}>", call.to_uri);
        let contact = self.contact(&call.target);
        let mut headers: Vec<(&str, &str)> = vec![("Allow", crate::builder::ALLOW)];
        headers.extend(
            call.extra_headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let cseq = 1;
        let bytes = write_request(
            &Req {
                method: "INVITE",
                uri: &call.request_uri,
                via: &via,
                route: &[],
                from: &from,
                to: &to,
                call_id: &call_id,
                cseq,
                contact: Some(&contact),
                headers: &headers,
                body: Some(("application/sdp", &call.sdp)),
            },
            &self.config.user_agent,
        );
        let mut out = std::mem::take(&mut self.scratch);
        let flow = call.target;
        let tx = ClientInvite::start(
            now,
            self.config.timers,
            flow.transport.is_reliable(),
            bytes,
            &mut out,
        );
        let id = self.id();
        let key = TxKey {
            branch,
            method: Method::Invite,
        };
        self.client_keys.insert(key.clone(), id);
        self.uac.insert(
            id,
            UacInvite {
                tx,
                key,
                flow,
                dialog,
                request_uri: call.request_uri,
                via,
                from,
                local_tag,
                to,
                call_id,
                cseq,
                pending: true,
                provisional: false,
                cancel: Cancel::No,
                answered_tag: None,
                acks: Vec::new(),
            },
        );
        self.apply_uac_outputs(now, id, out, None);
        Ok(dialog)
    }

    /// The driver could not deliver on `flow` (ICMP unreachable, connection
    /// refused or reset): every outgoing call still waiting for its answer
    /// on that flow ends with [`Event::CallFailed`] 503 (or
    /// [`Event::Ended`] when it was being cancelled). Returns how many.
    pub fn transport_failed(&mut self, _now: Instant, flow: Flow) -> usize {
        let ids: Vec<u64> = self
            .uac
            .iter()
            .filter(|(_, u)| u.pending && u.flow == flow)
            .map(|(id, _)| *id)
            .collect();
        for &id in &ids {
            self.uac_unreachable(id);
        }
        ids.len()
    }

    /// Like [`Endpoint::transport_failed`] for one outgoing call that is not
    /// answered yet.
    pub fn call_unreachable(&mut self, _now: Instant, dialog: DialogId) -> Result<(), SipError> {
        let id = self.pending_uac(dialog).ok_or(SipError::UnknownCall)?;
        self.uac_unreachable(id);
        Ok(())
    }

    fn pending_uac(&self, dialog: DialogId) -> Option<u64> {
        self.uac
            .iter()
            .find(|(_, u)| u.dialog == dialog && u.pending)
            .map(|(id, _)| *id)
    }

    /// Ends an attempt at once: its transaction is dropped.
    fn uac_unreachable(&mut self, id: u64) {
        if let Some(u) = self.uac.remove(&id) {
            self.client_keys.remove(&u.key);
            self.uac_end(u.dialog, u.cancel, 503, "Service Unavailable");
        }
    }

    /// The final event of an attempt that was not answered.
    fn uac_end(&mut self, dialog: DialogId, cancel: Cancel, status: u16, reason: &str) {
        if cancel == Cancel::No {
            self.event(Event::CallFailed {
                dialog,
                status,
                reason: reason.to_string(),
            });
        } else {
            self.event(Event::Ended {
                dialog,
                reason: EndReason::LocalHangup,
            });
        }
    }

    /// `hangup` of an outgoing call not answered yet: CANCEL now or with the
    /// first provisional. False when `dialog` is not such a call.
    pub(super) fn hangup_outgoing(&mut self, now: Instant, dialog: DialogId) -> bool {
        let Some(id) = self.pending_uac(dialog) else {
            return false;
        };
        let Some(u) = self.uac.get_mut(&id) else {
            return false;
        };
        if u.cancel == Cancel::No {
            if u.provisional {
                self.send_cancel(now, id);
            } else {
                u.cancel = Cancel::Wanted;
            }
        }
        true
    }

    /// CANCEL for the INVITE of `id` (RFC 3261 §9.1): same Request-URI,
    /// Call-ID, From, To, CSeq number and Via; its own transaction.
    fn send_cancel(&mut self, now: Instant, id: u64) {
        let Some(u) = self.uac.get_mut(&id) else {
            return;
        };
        u.cancel = Cancel::Sent;
        let bytes = write_request(
            &Req {
                method: "CANCEL",
                uri: &u.request_uri,
                via: &u.via,
                route: &[],
                from: &u.from,
                to: &u.to,
                call_id: &u.call_id,
                cseq: u.cseq,
                contact: None,
                headers: &[],
                body: None,
            },
            &self.config.user_agent,
        );
        let (flow, branch) = (u.flow, u.key.branch.clone());
        self.start_client_request(now, flow, branch, Method::Cancel, bytes);
    }

    /// Runs a non-INVITE client transaction for `bytes`.
    pub(super) fn start_client_request(
        &mut self,
        now: Instant,
        flow: Flow,
        branch: String,
        method: Method,
        bytes: Vec<u8>,
    ) {
        let mut out = std::mem::take(&mut self.scratch);
        let tx = ClientNonInvite::start(
            now,
            self.config.timers,
            flow.transport.is_reliable(),
            bytes,
            &mut out,
        );
        let id = self.id();
        let key = TxKey { branch, method };
        self.client_keys.insert(key.clone(), id);
        self.client_txs.insert(id, ClientTx { tx, key, flow });
        self.apply_client_outputs(id, out);
    }

    /// A response with CSeq method INVITE.
    pub(super) fn uac_response(&mut self, now: Instant, key: &TxKey, code: u16, msg: &Message) {
        let Some(&id) = self.client_keys.get(key) else {
            return;
        };
        let Some(u) = self.uac.get_mut(&id) else {
            return;
        };
        let ours = msg.call_id() == Some(u.call_id.as_str())
            && msg.cseq().map(|c| c.0) == Some(u.cseq)
            && msg.from_tag() == Some(u.local_tag.as_str());
        if !ours || !(100..700).contains(&code) {
            tracing::debug!(code, "dropped a response that does not match our INVITE");
            return;
        }
        if (200..300).contains(&code) && msg.to_tag().is_none_or(str::is_empty) {
            tracing::debug!(code, "dropped a 2xx without To tag");
            return;
        }
        let ack = (code >= 300).then(|| {
            // Non-2xx ACK (RFC 3261 §17.1.1.3): the INVITE's Via and URI,
            // the response's To.
            write_request(
                &Req {
                    method: "ACK",
                    uri: &u.request_uri,
                    via: &u.via,
                    route: &[],
                    from: &u.from,
                    to: msg.header("To").unwrap_or(&u.to),
                    call_id: &u.call_id,
                    cseq: u.cseq,
                    contact: None,
                    headers: &[],
                    body: None,
                },
                &self.config.user_agent,
            )
        });
        let mut out = std::mem::take(&mut self.scratch);
        u.tx.on_response(now, code, || ack.unwrap_or_default(), &mut out);
        self.apply_uac_outputs(now, id, out, Some(msg));
    }

    /// Timer A, B, D or M of an outgoing INVITE.
    pub(super) fn uac_timeout(&mut self, now: Instant, id: u64) {
        let Some(u) = self.uac.get_mut(&id) else {
            return;
        };
        let next = u.tx.poll_timeout();
        if next.is_none_or(|n| n > now) {
            // Not due: its timers moved since this entry was queued. Queue
            // its next time again, or nothing would ever fire it.
            if let Some(n) = next {
                self.timers.push(Reverse((n, TimerRef::Uac(id))));
            }
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        u.tx.handle_timeout(now, &mut out);
        self.apply_uac_outputs(now, id, out, None);
    }

    fn apply_uac_outputs(
        &mut self,
        now: Instant,
        id: u64,
        mut out: Vec<TxOutput>,
        msg: Option<&Message>,
    ) {
        let Some(flow) = self.uac.get(&id).map(|u| u.flow) else {
            out.clear();
            self.scratch = out;
            return;
        };
        let mut terminated = false;
        for o in out.drain(..) {
            match o {
                TxOutput::Send(bytes) => self.transmit(flow, bytes),
                TxOutput::Response(code) => {
                    if let Some(msg) = msg {
                        self.uac_on_response(now, id, code, msg);
                    }
                }
                TxOutput::Timeout => {
                    if let Some(u) = self.uac.get_mut(&id).filter(|u| u.pending) {
                        u.pending = false;
                        let (dialog, cancel, ringing) = (u.dialog, u.cancel, u.provisional);
                        if ringing && cancel == Cancel::No {
                            // Timer B runs while ringing too: stop the phone.
                            self.send_cancel(now, id);
                        }
                        self.uac_end(dialog, cancel, 408, "Request Timeout");
                    }
                }
                TxOutput::Terminated => terminated = true,
            }
        }
        self.scratch = out;
        if terminated {
            if let Some(u) = self.uac.remove(&id) {
                self.client_keys.remove(&u.key);
            }
        } else if let Some(t) = self.uac.get(&id).and_then(|u| u.tx.poll_timeout()) {
            self.timers.push(Reverse((t, TimerRef::Uac(id))));
        }
    }

    /// What the transaction passed up (provisional, 2xx, first non-2xx).
    fn uac_on_response(&mut self, now: Instant, id: u64, code: u16, msg: &Message) {
        let Some(u) = self.uac.get_mut(&id) else {
            return;
        };
        match code {
            100..=199 => {
                u.provisional = true;
                match u.cancel {
                    Cancel::Wanted => self.send_cancel(now, id),
                    Cancel::No if code > 100 && u.pending => {
                        let body = (!msg.body.is_empty()).then(|| msg.body.clone());
                        let dialog = u.dialog;
                        self.event(Event::Progress {
                            dialog,
                            status: code,
                            body,
                        });
                    }
                    _ => {}
                }
            }
            200..=299 => self.uac_2xx(now, id, msg),
            _ => {
                if u.pending {
                    u.pending = false;
                    let (dialog, cancel) = (u.dialog, u.cancel);
                    let reason = match &msg.start {
                        crate::message::StartLine::Response { reason, .. } => reason.clone(),
                        _ => String::new(),
                    };
                    self.uac_end(dialog, cancel, code, &reason);
                }
            }
        }
    }

    /// A 2xx to our INVITE: the first makes the dialog; each is ACKed.
    fn uac_2xx(&mut self, now: Instant, id: u64, msg: &Message) {
        let branch = self.new_branch();
        let Some(u) = self.uac.get_mut(&id) else {
            return;
        };
        let to_tag = msg.to_tag().unwrap_or("").to_string();
        if let Some((_, ack)) = u.acks.iter().find(|(t, _)| *t == to_tag) {
            // A retransmission: ACK again (RFC 3261 §13.2.2.4).
            let (flow, ack) = (u.flow, ack.clone());
            return self.transmit(flow, ack);
        }
        if u.acks.len() >= MAX_LEGS {
            tracing::debug!(to_tag, "too many 2xx legs for one INVITE: dropped");
            return;
        }
        // A Contact ura could not send to: the ACK and BYE go to the
        // Request-URI of the INVITE instead.
        let remote_target = msg
            .header("Contact")
            .and_then(message::target_uri)
            .map_or_else(|| u.request_uri.clone(), str::to_string);
        let mut route_set: Vec<String> = msg
            .headers_named("Record-Route")
            .map(str::to_string)
            .collect();
        route_set.reverse();
        let remote_party = msg.header("To").unwrap_or(&u.to).to_string();
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            u.flow.transport.as_str(),
            host_for_uri(self.config.advertised_for(u.flow.remote)),
            self.config.port
        );
        let ack = write_request(
            &Req {
                method: "ACK",
                uri: &remote_target,
                via: &via,
                route: &route_set,
                from: &u.from,
                to: &remote_party,
                call_id: &u.call_id,
                cseq: u.cseq,
                contact: None,
                headers: &[],
                body: None,
            },
            &self.config.user_agent,
        );
        u.acks.push((to_tag.clone(), ack.clone()));
        let flow = u.flow;
        let dialog_id = u.dialog;
        if u.pending && u.cancel == Cancel::No && u.answered_tag.is_none() {
            u.pending = false;
            u.answered_tag = Some(to_tag.clone());
            let d = Dialog {
                id: dialog_id,
                state: DialogState::Confirmed,
                call_id: u.call_id.clone(),
                local_tag: u.local_tag.clone(),
                remote_tag: to_tag,
                local_party: u.from.clone(),
                remote_party,
                remote_target,
                route_set,
                remote_cseq: 0,
                local_cseq: u.cseq + 1,
                flow,
                invite_tx: None,
                bye_pending: false,
                re_invite_pending: false,
            };
            self.transmit(flow, ack);
            self.by_call
                .insert((d.call_id.clone(), d.local_tag.clone()), dialog_id);
            self.dialogs.insert(dialog_id, d);
            let body = (!msg.body.is_empty()).then(|| msg.body.clone());
            self.event(Event::Answered {
                dialog: dialog_id,
                body,
            });
            return;
        }
        // A forked 2xx from another UAS, or a 2xx crossing our CANCEL:
        // confirm that leg with the ACK and close it at once.
        let was_pending = u.pending;
        u.pending = false;
        let cancel = u.cancel;
        let bye_branch = self.new_branch();
        let Some(u) = self.uac.get(&id) else {
            return;
        };
        let bye_via = self.via_value(&flow, &bye_branch);
        let bye = write_request(
            &Req {
                method: "BYE",
                uri: &remote_target,
                via: &bye_via,
                route: &route_set,
                from: &u.from,
                to: &remote_party,
                call_id: &u.call_id,
                cseq: u.cseq + 1,
                contact: None,
                headers: &[],
                body: None,
            },
            &self.config.user_agent,
        );
        tracing::debug!(dialog = %dialog_id, "2xx after CANCEL or from a fork: ACK and BYE");
        self.transmit(flow, ack);
        self.start_client_request(now, flow, bye_branch, Method::Bye, bye);
        if was_pending {
            self.uac_end(dialog_id, cancel, 487, "Request Terminated");
        }
    }
}

#[cfg(test)]
mod tests;
