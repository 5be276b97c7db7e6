//! REFER (RFC 3515): blind transfer asked by the peer of a confirmed dialog,
//! inbound or outgoing.
//!
//! The REFER is answered at once: `202 Accepted`, then [`Event::Refer`] and
//! the NOTIFY the RFC requires right after (`SIP/2.0 100 Trying`, sent by the
//! endpoint itself so the app cannot forget it). The app reports how the
//! transfer went with [`Endpoint::notify_refer`]; a `terminated` NOTIFY ends
//! the implicit subscription.
//!
//! Answers other than 202:
//! - no Refer-To, or more than one: 400;
//! - a Refer-To that is not a `sip:`, `sips:` or `tel:` URI: 416;
//! - a Refer-To carrying `?Replaces=` (attended transfer, RFC 3891): 501, not
//!   supported;
//! - a dialog not confirmed yet (early, or our 2xx not ACKed): 403.
//!
//! Other headers embedded in the Refer-To URI are dropped from `target_uri`.
//! NOTIFYs carry `Event: refer` without an `id` parameter; a second REFER in
//! the same dialog replaces the first one's subscription.

use super::*;
use crate::endpoint::uac::{write_request, Req};

/// The implicit subscription a REFER created (one per dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReferSub;

/// What a REFER's Refer-To asks for.
enum ReferTo {
    Target { uri: String },
    Reject(u16, &'static str),
}

fn parse_refer_to(msg: &Message) -> ReferTo {
    let values: Vec<&str> = msg
        .headers_named("Refer-To")
        .flat_map(message::split_commas)
        .collect();
    let value = match values.as_slice() {
        [] => return ReferTo::Reject(400, "Missing Refer-To"),
        [one] => *one,
        _ => return ReferTo::Reject(400, "More than one Refer-To"),
    };
    let uri = message::name_addr_uri(value);
    let (base, headers) = uri.split_once('?').unwrap_or((uri, ""));
    let replaces = headers.split('&').any(|h| {
        h.split_once('=')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("replaces"))
    });
    if replaces {
        return ReferTo::Reject(501, "Attended transfer (Replaces) not supported");
    }
    let lower = base.to_ascii_lowercase();
    let scheme_ok = ["sip:", "sips:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s) && lower.len() > s.len());
    if !scheme_ok || base.contains(char::is_whitespace) {
        return ReferTo::Reject(416, "Unsupported URI Scheme");
    }
    ReferTo::Target {
        uri: base.to_string(),
    }
}

impl Endpoint {
    /// A REFER inside `dialog` (CSeq already checked by `handle_in_dialog`).
    pub(super) fn handle_refer(
        &mut self,
        now: Instant,
        source: Flow,
        key: TxKey,
        msg: Message,
        dialog: DialogId,
    ) {
        let confirmed = self
            .dialogs
            .get(&dialog)
            .is_some_and(|d| d.state == DialogState::Confirmed);
        let parsed = if confirmed {
            parse_refer_to(&msg)
        } else {
            ReferTo::Reject(403, "Dialog not confirmed")
        };
        let referred_by = msg
            .header("Referred-By")
            .map(|v| message::name_addr_uri(v).to_string());
        let id = self.new_server_tx(source, key, msg, Some(dialog));
        let target_uri = match parsed {
            ReferTo::Reject(code, reason) => {
                let mut spec = ResponseSpec::new(code);
                spec.reason = Some(reason);
                return self.respond(now, id, spec);
            }
            ReferTo::Target { uri } => uri,
        };
        let mut spec = ResponseSpec::new(202);
        spec.reason = Some("Accepted");
        self.respond(now, id, spec);
        self.refer_subs.insert(dialog, ReferSub);
        self.event(Event::Refer {
            dialog,
            target_user: message::uri_user(&target_uri),
            target_uri,
            referred_by,
        });
        // RFC 3515 §2.4.4: a NOTIFY follows the 202 at once.
        let _ = self.notify_refer(now, dialog, 100, "Trying", false);
    }

    /// Reports the progress of a transfer asked by REFER: an in-dialog
    /// NOTIFY with `Event: refer` and a `message/sipfrag` body
    /// `SIP/2.0 <status> <reason>`. With `terminated` the subscription ends
    /// (`Subscription-State: terminated;reason=noresource`); otherwise it
    /// stays `active;expires=60`.
    ///
    /// How a REFER is received, in any dialog (inbound or outgoing): 202
    /// Accepted at once, then [`Event::Refer`], then the first NOTIFY
    /// (`SIP/2.0 100 Trying`, sent by the endpoint itself as RFC 3515 asks).
    /// Refused instead: no Refer-To or more than one (400); a Refer-To that
    /// is not a `sip:`, `sips:` or `tel:` URI (416); a Refer-To with
    /// `?Replaces=`, i.e. attended transfer (501, not supported); a dialog
    /// not confirmed yet (403). Other headers embedded in the Refer-To URI
    /// are left out of `target_uri`. NOTIFYs carry `Event: refer` without an
    /// `id`: a second REFER in a dialog takes over the first one's
    /// subscription. The subscription ends with the dialog.
    ///
    /// Errors: [`SipError::UnknownCall`] for an unknown dialog,
    /// [`SipError::WrongState`] when no REFER is pending in it.
    pub fn notify_refer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        status: u16,
        reason: &str,
        terminated: bool,
    ) -> Result<(), SipError> {
        if !self.dialogs.contains_key(&dialog) {
            return Err(SipError::UnknownCall);
        }
        if !self.refer_subs.contains_key(&dialog) {
            return Err(SipError::WrongState("notify_refer"));
        }
        let reason: String = reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let body = format!("SIP/2.0 {} {}\r\n", status.clamp(100, 699), reason.trim());
        let state = if terminated {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let branch = self.new_branch();
        let Some(d) = self.dialogs.get_mut(&dialog) else {
            return Err(SipError::UnknownCall);
        };
        let cseq = d.local_cseq;
        d.local_cseq += 1;
        let flow = d.flow;
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            flow.transport.as_str(),
            host_for_uri(self.config.advertised_for(flow.remote)),
            self.config.port
        );
        let contact = self.contact(&flow);
        let Some(d) = self.dialogs.get(&dialog) else {
            return Err(SipError::UnknownCall);
        };
        let bytes = write_request(
            &Req {
                method: "NOTIFY",
                uri: &d.remote_target,
                via: &via,
                route: &d.route_set,
                from: &d.local_party,
                to: &d.remote_party,
                call_id: &d.call_id,
                cseq,
                contact: Some(&contact),
                headers: &[("Event", "refer"), ("Subscription-State", state)],
                body: Some(("message/sipfrag;version=2.0", body.as_bytes())),
            },
            &self.config.user_agent,
        );
        if terminated {
            self.refer_subs.remove(&dialog);
        }
        self.start_client_request(now, flow, branch, Method::from_token("NOTIFY"), bytes);
        Ok(())
    }
}
