//! Typed identifiers, so a service can't be passed where a menu is expected.

use std::fmt;

use serde::Deserialize;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a name.
            pub fn new(name: impl Into<String>) -> Self {
                Self(name.into())
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self(name.to_owned())
            }
        }
    };
}

string_id!(
    /// A service (queue) a call can be sent to, e.g. `vendas`.
    ServiceId
);
string_id!(
    /// A menu of the IVR; the top menu is [`MenuId::root`].
    MenuId
);
string_id!(
    /// The name of a prompt configured in the prompt store.
    PromptName
);

impl MenuId {
    /// The id of the top-level menu (`main`), configured as `menu`.
    pub fn root() -> Self {
        Self("main".to_owned())
    }

    /// Whether this is the top-level menu.
    pub fn is_root(&self) -> bool {
        self.0 == "main"
    }
}

/// Names one `Play` output, so a `prompt_finished` for a prompt that was
/// already stopped or replaced can be told apart and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlayToken(pub u64);
