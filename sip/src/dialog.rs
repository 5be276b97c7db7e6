//! Dialogs (RFC 3261 §12): the state ura keeps for one call it answered or
//! placed.

use std::fmt;

use crate::message::{target_uri, Message};
use crate::transport::Flow;

/// Our handle for one call's dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId(pub u64);

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "d{}", self.0)
    }
}

/// Where a dialog is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// INVITE received, no final response yet.
    Early,
    /// 2xx sent, waiting for the ACK.
    Answered,
    /// ACK received: the call is up.
    Confirmed,
}

/// A dialog (UAS, or UAC once answered): what we need to send requests in it
/// and to match requests to it.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Our handle.
    pub id: DialogId,
    /// State.
    pub state: DialogState,
    /// Call-ID.
    pub call_id: String,
    /// Our tag (To tag of the INVITE's responses).
    pub local_tag: String,
    /// Their tag (From tag of the INVITE).
    pub remote_tag: String,
    /// Our side as written in From of our requests (URI with our tag).
    pub local_party: String,
    /// Their side as written in To of our requests (their From).
    pub remote_party: String,
    /// Remote target: the Contact URI of their last target refresh.
    pub remote_target: String,
    /// Route set, from the INVITE's Record-Route in order.
    pub route_set: Vec<String>,
    /// Highest CSeq seen from them.
    pub remote_cseq: u32,
    /// Our next CSeq.
    pub local_cseq: u32,
    /// The flow the INVITE came on: in-dialog requests go back this way.
    pub flow: Flow,
    /// Server transaction of the INVITE (or re-INVITE) being answered.
    pub invite_tx: Option<u64>,
    /// Set when the app hung up before the ACK: BYE goes out on the ACK.
    pub bye_pending: bool,
    /// The answer we sent in the 200, kept to answer the 2xx retransmission logic.
    pub re_invite_pending: bool,
}

impl Dialog {
    /// Makes the dialog for an INVITE (UAS side, RFC 3261 §12.1.1).
    pub fn from_invite(
        id: DialogId,
        invite: &Message,
        local_tag: String,
        flow: Flow,
        local_cseq: u32,
    ) -> Option<Dialog> {
        let call_id = invite.call_id()?.to_string();
        let remote_tag = invite.from_tag().unwrap_or("").to_string();
        let to = invite.header("To")?;
        let from = invite.header("From")?;
        // A Contact ura cannot send to is as good as none (RFC 3261 §8.1.1.8
        // wants one; the From URI stands in); neither usable: no dialog.
        let remote_target = match invite.header("Contact") {
            Some(c) => target_uri(c),
            None => None,
        }
        .or_else(|| target_uri(from))?
        .to_string();
        Some(Dialog {
            id,
            state: DialogState::Early,
            call_id,
            local_party: format!("{to};tag={local_tag}"),
            local_tag,
            remote_tag,
            remote_party: from.to_string(),
            remote_target,
            route_set: invite
                .headers_named("Record-Route")
                .map(str::to_string)
                .collect(),
            remote_cseq: invite.cseq().map_or(0, |c| c.0),
            local_cseq,
            flow,
            invite_tx: None,
            bye_pending: false,
            re_invite_pending: false,
        })
    }

    /// True when `msg` (a request) belongs to this dialog.
    pub fn matches(&self, msg: &Message) -> bool {
        msg.call_id() == Some(self.call_id.as_str())
            && msg.to_tag() == Some(self.local_tag.as_str())
            && msg.from_tag().unwrap_or("") == self.remote_tag
    }
}
