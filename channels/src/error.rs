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
}

impl ChannelsError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ChannelsError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
