//! The error type of the `ura` engine and CLI.

/// Everything that stops `ura` from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum UraError {
    /// Bad configuration; the text names the setting.
    #[error("configuration: {0}")]
    Config(String),
    /// A command refused its input; the text says what is wrong and what to
    /// do instead.
    #[error("{0}")]
    Refused(String),
    /// A socket could not be bound or used.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The media engine failed.
    #[error("media: {0}")]
    Media(#[from] ura_media::MediaError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] ura_store::StoreError),
    /// Text to speech failed.
    #[error("text to speech: {0}")]
    Tts(#[from] ura_tts::TtsError),
    /// The engine has stopped and takes no more requests.
    #[error("the engine has stopped")]
    Stopped,
    /// The built-in prompts could not be loaded.
    #[error("prompts: {0}")]
    Prompts(#[from] ura_prompts::PromptError),
}

impl UraError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> UraError {
        UraError::Io {
            what: what.into(),
            source,
        }
    }
}
