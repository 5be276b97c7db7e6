//! The one error type of this crate.

/// Why a text-channel input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelsError {
    /// A setting is wrong; `field` names it (`webchat.colors.button`).
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as a path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A message with no text.
    #[error("the message is empty")]
    Empty,
    /// A message longer than [`crate::MAX_TEXT`] characters.
    #[error("the message has more than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The visitor writes faster than [`crate::VISITOR_RATE`] allows:
    /// this message was not taken (send it again a moment later).
    #[error("too many messages: wait a moment")]
    TooFast,
    /// The conversation is over: nothing more can be said in it.
    #[error("the conversation is closed")]
    Closed,
    /// The agent is not (or no longer) the one in the conversation.
    #[error("the conversation is not with this agent")]
    NotYourConversation,
    /// The visitor already sent [`crate::attachments::MAX_VISITOR_ATTACHMENTS`]
    /// files in this conversation.
    #[error("at most {max} files in one conversation")]
    TooManyAttachments {
        /// The limit.
        max: u32,
    },
    /// A rating for a conversation that offers none (the channel's survey
    /// is off, it is not over, or nobody ended it: hours, the menu).
    #[error("this conversation has no survey")]
    NoSurvey,
    /// A second rating: a conversation is rated once.
    #[error("this conversation was already rated")]
    AlreadyRated,
    /// A rating later than [`crate::SURVEY_WINDOW`] after the end.
    #[error("the survey of this conversation is over (24 hours after its end)")]
    SurveyOver,
    /// A visitor's identity token was refused.
    #[error("{message}")]
    Identity {
        /// Why, for programs.
        reason: IdentityRefusal,
        /// Why, for people.
        message: String,
    },
}

/// Why an identity token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRefusal {
    /// Not a JWT signed with HS256.
    Malformed,
    /// Not signed with the channel's secret (forged, or another channel's).
    BadSignature,
    /// Its `exp` has passed.
    Expired,
    /// Its `exp` is further ahead than the longest life allowed.
    TooLongLived,
    /// A claim is missing or wrong (`sub`, `exp`, a field).
    BadClaim,
    /// The channel has no identity secret: it takes no identities.
    NotEnabled,
}

impl IdentityRefusal {
    /// As the wire says it (`reason` of the error frame).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityRefusal::Malformed => "malformed",
            IdentityRefusal::BadSignature => "bad_signature",
            IdentityRefusal::Expired => "expired",
            IdentityRefusal::TooLongLived => "too_long_lived",
            IdentityRefusal::BadClaim => "bad_claim",
            IdentityRefusal::NotEnabled => "not_enabled",
        }
    }
}

impl ChannelsError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ChannelsError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
