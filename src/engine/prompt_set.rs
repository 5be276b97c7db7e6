//! The prompts calls can play: those admins uploaded, synthesized or
//! recorded (by name, from the store), over the built-in set.

use std::collections::HashMap;
use std::sync::Arc;

use ura_media::PromptFrames;
use ura_prompts::{BuiltinLanguage, BuiltinPrompts};

/// Every playable prompt, by name. Kept by the core task; a saved prompt
/// is added while ura runs.
#[derive(Debug, Clone)]
pub struct PromptSet {
    builtin: Arc<BuiltinPrompts>,
    stored: HashMap<String, PromptFrames>,
}

impl PromptSet {
    /// The built-in prompts alone.
    pub fn new(builtin: Arc<BuiltinPrompts>) -> PromptSet {
        PromptSet {
            builtin,
            stored: HashMap::new(),
        }
    }

    /// Adds (or replaces) a stored prompt.
    pub fn insert(&mut self, name: String, frames: PromptFrames) {
        self.stored.insert(name, frames);
    }

    /// A prompt by name: a stored one first, then a built-in one.
    pub fn get(&self, name: &str) -> Option<&PromptFrames> {
        self.stored.get(name).or_else(|| self.builtin.get(name))
    }

    /// A prompt by name for callers of `lang`: a stored one first, then the
    /// built-in one in that language (or pt-BR).
    pub fn get_in(&self, lang: BuiltinLanguage, name: &str) -> Option<&PromptFrames> {
        self.stored
            .get(name)
            .or_else(|| self.builtin.get_in(lang, name))
    }

    /// The spoken digit in a language.
    pub fn digit_in(&self, lang: BuiltinLanguage, key: char) -> Option<&PromptFrames> {
        self.builtin.digit_in(lang, key)
    }

    /// All names.
    #[cfg(test)]
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stored
            .keys()
            .map(String::as_str)
            .chain(self.builtin.names())
    }
}
