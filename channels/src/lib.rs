//! Text channels for ura, sans-I/O: a channel's settings
//! ([`ChannelConfig`]: web chat and the generic "omni" channel) and
//! one [`Conversation`]: its message log numbered for resume, the text
//! menu (the IVR's own [`ura_ivr::Flow`], with its prompts written as
//! text), the waiting notices, the agent and the closing message.
//!
//! The engine owns the sockets and the router; a conversation is a router
//! task of the chat channel in the same queues as
//! calls. Nothing here reads a clock: every input takes a [`Now`].
//!
//! # Decisions where the product text is silent
//!
//! - **One flow engine.** A channel names an IVR: its menu is the text
//!   menu ("Digite 1 para vendas, 2 para suporte."), with its hours, its
//!   invalid-option retries, its fallback and its operator key. A channel
//!   that names a service runs [`ura_ivr::IvrConfig::straight_to`] that
//!   service. Recorded prompts do not apply to text: the built-in texts
//!   of [`texts`] stand for them, in the channel's language; the
//!   channel's welcome replaces the built-in welcome.
//! - **Entries.** A message in the menu is one whole entry: an option's
//!   digits (`"1"`), or its label in any case (`"vendas"`); anything else
//!   is an invalid option. The menu does not time out on text (people
//!   read and type slowly); a visitor who says nothing just stays.
//! - **Waiting.** One notice when the conversation joins the queue; the
//!   position is a status (not a message in the log), sent whenever it
//!   changes. What the visitor writes while waiting is kept and shown to
//!   the agent who takes the conversation.
//! - **Numbers.** Every message has a number, 1, 2, 3… with no gap; a
//!   client resumes after the last number it showed. A message may carry
//!   the sender's own id: a resend with the same id is not added again.
//! - **Limits.** A message has at most [`MAX_TEXT`] characters and a
//!   conversation at most [`MAX_MESSAGES`] messages. A visitor may send
//!   [`VISITOR_BURST`] messages at once, then one per [`VISITOR_RATE`];
//!   past that a message is refused (`TooFast`) and the page sends it
//!   again later. Agents are not limited.
//! - **Left in the menu.** A conversation still in the menu whose visitor
//!   has no socket open and wrote nothing for [`MENU_IDLE`] is closed
//!   (the visitor left the page). One waiting in a queue stays: an agent
//!   will take it, and the visitor may come back.
//! - **Out of hours.** A conversation that arrives while the channel (or
//!   the only service of a channel without a menu) is closed is kept, not
//!   ended: the welcome, the closed text and the next opening (the IVR's
//!   words, [`ura_ivr::describe_next_opening`]), then the menu as when
//!   open; the service chosen is waited for in [`Phase::AfterHours`],
//!   where what the visitor writes is kept in the log. When the channel
//!   and that service are open ([`Conversation::opens_at`], then
//!   [`Conversation::handle_timeout`], time as input), it joins the
//!   queue as any other conversation, and the agent sees the whole log.
//!   It is kept even if the visitor leaves the page (a contact center
//!   answers messages left out of hours; the visitor may come back to
//!   read the answer). At most [`MAX_KEPT`] per channel: past that, the
//!   conversation is told the hours and ends, as a call.
//! - **Attachments.** A file is a message of the log like any other (it
//!   is numbered, resumed and recorded), carrying an [`Attachment`] (id,
//!   name, type, size) and its name as text. The channel's settings say
//!   the largest file and the allowed types; the content must be of the
//!   declared type ([`attachments::sniff`]). A visitor sends at most
//!   [`attachments::MAX_VISITOR_ATTACHMENTS`] files in a conversation, in
//!   any phase but the end; an agent, while with the visitor. The files
//!   themselves are the engine's to keep.
//! - **Identity.** A site that logs its users in signs a token for the
//!   one on the page (a JWT, HS256, with the channel's `identity_secret`;
//!   [`identity`]): `sub`, `exp` at most a day ahead, optionally `name`,
//!   `email`, `phone`. Verified, the conversation belongs to the customer
//!   `CHANNEL:sub` in every conversation, and the token's fields fill the
//!   pre-chat form. A token that fails (forged, expired, malformed) starts
//!   nothing: the visitor is told why. Without a token each conversation
//!   has a random customer of its own.
//! - **Survey.** A conversation that the agent or the visitor ended offers
//!   a rating (1 to 5, an optional comment of at most [`MAX_COMMENT`]
//!   characters), unless its channel turned the survey off. It is taken
//!   once, within [`SURVEY_WINDOW`] (24 hours) of the end: later, or a
//!   second time, it is refused with the reason. Conversations that the
//!   flow ended (hours, the menu's failures) ask nothing.

#![warn(missing_docs)]

pub mod attachments;
pub mod config;
mod conversation;
mod error;
mod hours;
pub mod identity;
mod ids;
pub mod smtp;
mod survey;
pub mod texts;
pub mod transcript;

pub use attachments::{Attachment, AttachmentRefusal, AttachmentSettings};
pub use config::{
    ChannelConfig, ChannelTexts, ChannelType, ChatLanguage, Colors, FieldRule, OmniSettings,
    PrechatFields, StartedNotice, WebchatSettings, MIN_KEY,
};
pub use conversation::{
    Author, Closer, Conversation, Message, Output, Phase, Start, MAX_CLIENT_ID, MAX_MESSAGES,
    MAX_TEXT, MENU_IDLE, VISITOR_BURST, VISITOR_RATE,
};
pub use error::{ChannelsError, IdentityRefusal};
pub use hours::{OpeningHours, MAX_KEPT};
pub use identity::Identity;
pub use ids::{ConversationId, Now, Seq};
pub use smtp::{SmtpConfig, SmtpSecurity};
pub use survey::{Rating, MAX_COMMENT, SURVEY_WINDOW};
pub use transcript::Transcript;

/// The first ```` ```toml ```` block of a module's doc comment (`doc`: the
/// module's source), for the tests that read the documented examples.
#[cfg(test)]
pub(crate) fn toml_example(doc: &str) -> String {
    doc.lines()
        .skip_while(|l| !l.starts_with("//! ```toml"))
        .skip(1)
        .take_while(|l| !l.starts_with("//! ```"))
        .map(|l| l.trim_start_matches("//!").trim_start())
        .map(|l| format!("{l}\n"))
        .collect()
}
