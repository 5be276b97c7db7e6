//! The crate's single error type.

/// Everything that can be wrong with a schedule or an IVR configuration.
///
/// Each variant names the offending field with a dotted path such as
/// `weekly.mon[1]` or `submenus.support.items[0].digits`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IvrError {
    /// A time window is not `HH:MM-HH:MM`, or its times are out of range.
    #[error("{field}: time window {value:?} overlaps {other:?}")]
    Overlap {
        /// Where in the configuration.
        field: String,
        /// The window.
        value: String,
        /// The window it overlaps.
        other: String,
    },
    /// A time window is not `HH:MM-HH:MM`, or its times are out of range.
    #[error("{field}: bad time window {value:?}: {reason}")]
    BadTime {
        /// Where in the configuration.
        field: String,
        /// The text given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Not an IANA time zone name known to the bundled database.
    #[error("{field}: unknown time zone {value:?}")]
    BadZone {
        /// Where in the configuration.
        field: String,
        /// The text given.
        value: String,
    },
    /// A date is not `YYYY-MM-DD` or `*-MM-DD`, or does not exist.
    #[error("{field}: bad date {value:?}: {reason}")]
    BadDate {
        /// Where in the configuration.
        field: String,
        /// The text given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A menu option's digits, or a special key, are not usable.
    #[error("{field}: bad keys {value:?}: {reason}")]
    BadKeys {
        /// Where in the configuration.
        field: String,
        /// The text given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Two options of one menu have the same digits.
    #[error("{field}: digits {digits:?} used twice in the same menu")]
    DuplicateDigits {
        /// The menu's item list.
        field: String,
        /// The repeated digits.
        digits: String,
    },
    /// A target names a menu that is not configured.
    #[error("{field}: unknown menu {menu:?}")]
    UnknownMenu {
        /// Where in the configuration.
        field: String,
        /// The menu named.
        menu: String,
    },
    /// Any other out-of-range or empty value.
    #[error("{field}: {reason}")]
    BadValue {
        /// Where in the configuration.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
}
