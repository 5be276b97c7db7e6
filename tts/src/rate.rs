//! Speaking rate in words per minute.

use std::fmt;

use crate::error::TtsError;

/// Speaking rate in words per minute, within [`Rate::MIN`]..=[`Rate::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rate(u32);

impl Rate {
    /// Slowest accepted rate (espeak-ng's own floor).
    pub const MIN: u32 = 80;
    /// Fastest accepted rate.
    pub const MAX: u32 = 450;
    /// The rate engines treat as "normal speed" (factor 1.0).
    pub const NORMAL_WPM: u32 = 175;
    /// A calm rate that suits phone prompts.
    pub const DEFAULT: Rate = Rate(160);

    /// A rate in words per minute; out-of-range values are an error.
    pub fn new(wpm: u32) -> Result<Rate, TtsError> {
        if (Self::MIN..=Self::MAX).contains(&wpm) {
            Ok(Rate(wpm))
        } else {
            Err(TtsError::RateOutOfRange {
                wpm,
                min: Self::MIN,
                max: Self::MAX,
            })
        }
    }

    /// Words per minute.
    pub fn wpm(self) -> u32 {
        self.0
    }

    /// Relative speed, 1.0 at [`Rate::NORMAL_WPM`], for services that want a factor.
    pub fn factor(self) -> f64 {
        f64::from(self.0) / f64::from(Self::NORMAL_WPM)
    }
}

impl Default for Rate {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} wpm", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_enforced() {
        assert_eq!(Rate::new(80).unwrap().wpm(), 80);
        assert_eq!(Rate::new(450).unwrap().wpm(), 450);
        assert!(matches!(
            Rate::new(79),
            Err(TtsError::RateOutOfRange { wpm: 79, .. })
        ));
        assert!(Rate::new(451).is_err());
        assert!(Rate::new(0).is_err());
        assert!(Rate::new(u32::MAX).is_err());
    }

    #[test]
    fn factor_is_relative_to_normal() {
        assert!((Rate::new(175).unwrap().factor() - 1.0).abs() < 1e-12);
        assert!((Rate::new(350).unwrap().factor() - 2.0).abs() < 1e-12);
    }
}
