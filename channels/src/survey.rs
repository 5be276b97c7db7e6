//! The satisfaction survey offered when a conversation ends: a score of 1
//! to 5 and an optional comment, taken once per conversation within
//! [`SURVEY_WINDOW`] of the end (see [`crate::Conversation::rate`]).

use std::time::Duration;

use crate::error::ChannelsError;

/// How long after the end a rating is taken.
pub const SURVEY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 1000;

/// A visitor's rating of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// 1 (bad) to 5 (very good).
    pub score: u8,
    /// What the visitor wrote (trimmed; `None` when left empty).
    pub comment: Option<String>,
    /// When it was given, Unix milliseconds.
    pub at_ms: i64,
}

impl Rating {
    /// Checks a score and a comment as the visitor sent them; the error
    /// names the field (`score`, `comment`).
    pub fn check(score: i64, comment: Option<&str>, at_ms: i64) -> Result<Rating, ChannelsError> {
        let score = u8::try_from(score)
            .ok()
            .filter(|s| (1..=5).contains(s))
            .ok_or_else(|| ChannelsError::invalid("score", "a whole number from 1 to 5"))?;
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT) {
            return Err(ChannelsError::invalid(
                "comment",
                format!("at most {MAX_COMMENT} characters"),
            ));
        }
        Ok(Rating {
            score,
            comment: comment.map(str::to_string),
            at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<Rating, ChannelsError>) -> String {
        match r {
            Err(ChannelsError::Invalid { field, .. }) => field,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn scores_from_one_to_five_and_a_short_comment() {
        let r = Rating::check(5, Some("  Ótimo!  "), 7).unwrap();
        assert_eq!(
            (r.score, r.comment.as_deref(), r.at_ms),
            (5, Some("Ótimo!"), 7)
        );
        assert_eq!(Rating::check(1, Some("   "), 7).unwrap().comment, None);
        for bad in [0, 6, -1, 300, i64::MAX] {
            assert_eq!(field(Rating::check(bad, None, 7)), "score");
        }
        let long = "a".repeat(MAX_COMMENT + 1);
        assert_eq!(field(Rating::check(3, Some(&long), 7)), "comment");
    }
}
