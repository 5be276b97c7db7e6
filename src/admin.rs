//! `ura prompt …`: the admins' prompt commands. A refused input exits
//! non-zero with the reason.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ura_media::Codec;
use ura_store::{PromptSource, Store};
use ura_tts::Synthesizer;

use crate::error::UraError;
use crate::prompt_admin::{self, NewPrompt};

/// Where the prompts are kept.
#[derive(Debug, Clone, Args)]
pub struct Place {
    /// Data directory (prompt audio, and the default store `ura.db`).
    #[arg(long, env = "URA_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Store URL instead of the data directory's SQLite file.
    #[arg(long, env = "URA_STORE")]
    pub store: Option<String>,
}

impl Place {
    async fn open(&self) -> Result<Store, UraError> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| UraError::io(format!("data dir {}", self.data_dir.display()), e))?;
        let url = self
            .store
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&self.data_dir));
        Ok(Store::open(&url).await?)
    }
}

/// The prompt commands.
#[derive(Debug, Subcommand)]
pub enum PromptCommand {
    /// Imports an mp3 or wav file as a prompt.
    Import {
        /// The file.
        file: PathBuf,
        /// The prompt's name.
        #[arg(long)]
        name: String,
        /// Its language.
        #[arg(long, default_value = "pt-BR")]
        language: String,
        /// Where.
        #[command(flatten)]
        place: Place,
    },
    /// Speaks text with a voice (text to speech) and keeps it as a prompt.
    Say {
        /// What to say.
        text: String,
        /// Voice: pt-br, pt-pt, en-us, es, or an engine's voice name.
        #[arg(long, default_value = "pt-br")]
        voice: String,
        /// Words per minute (80-450).
        #[arg(long, default_value_t = 160)]
        rate: u32,
        /// The prompt's name.
        #[arg(long)]
        name: String,
        /// An HTTP TTS engine's configuration (TOML) instead of espeak-ng.
        #[arg(long, env = "URA_TTS_HTTP")]
        http_engine: Option<PathBuf>,
        /// Where.
        #[command(flatten)]
        place: Place,
    },
    /// Records a prompt from the microphone (built with `--features local-audio`).
    Record {
        /// The prompt's name.
        name: String,
        /// Longest recording, in seconds.
        #[arg(long, default_value_t = 300)]
        max_seconds: u64,
        /// Its language.
        #[arg(long, default_value = "pt-BR")]
        language: String,
        /// Where.
        #[command(flatten)]
        place: Place,
    },
    /// Lists the stored prompts.
    List {
        /// Where.
        #[command(flatten)]
        place: Place,
    },
    /// Writes what callers hear (8 kHz, after G.711) to a WAV file.
    Render {
        /// A stored or built-in prompt.
        name: String,
        /// The WAV file to write.
        #[arg(long)]
        to: PathBuf,
        /// Where.
        #[command(flatten)]
        place: Place,
    },
}

/// Runs a prompt command; the text to print on success.
pub async fn run(cmd: PromptCommand) -> Result<String, UraError> {
    match cmd {
        PromptCommand::Import {
            file,
            name,
            language,
            place,
        } => {
            let bytes =
                std::fs::read(&file).map_err(|e| UraError::io(format!("{}", file.display()), e))?;
            let store = place.open().await?;
            let library = prompt_admin::library(&place.data_dir)?;
            let meta = NewPrompt {
                name,
                language,
                source: PromptSource::Upload,
                tts: None,
            };
            let (record, frames) = prompt_admin::save(&store, &library, bytes, meta).await?;
            store.close().await;
            Ok(format!(
                "imported {} ({:.2} s, {} frames)\n",
                record.name,
                record.duration_ms as f64 / 1000.0,
                frames.frame_count()
            ))
        }
        PromptCommand::Say {
            text,
            voice,
            rate,
            name,
            http_engine,
            place,
        } => {
            let voice_parsed: ura_tts::Voice = voice.parse()?;
            let rate = ura_tts::Rate::new(rate)?;
            let engine: Box<dyn ura_tts::Synthesizer> = match &http_engine {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| UraError::io(format!("{}", path.display()), e))?;
                    let cfg: ura_tts::HttpEngineConfig = toml::from_str(&text)
                        .map_err(|e| UraError::Config(format!("{}: {e}", path.display())))?;
                    Box::new(ura_tts::HttpEngine::new(cfg)?)
                }
                None => Box::new(ura_tts::EspeakNg::new()),
            };
            let cache = ura_tts::Cache::open(place.data_dir.join("tts-cache"))?;
            let tts = ura_tts::CachedSynthesizer::new(engine, cache);
            let spoken = text.clone();
            let audio =
                tokio::task::spawn_blocking(move || tts.synthesize(&spoken, &voice_parsed, rate))
                    .await
                    .map_err(|e| UraError::Config(format!("tts task: {e}")))??;
            let wav = ura_tts::encode_wav(&audio)?;
            let store = place.open().await?;
            let library = prompt_admin::library(&place.data_dir)?;
            let meta = NewPrompt {
                name,
                language: voice.clone(),
                source: PromptSource::Tts,
                tts: Some((text, voice, rate.wpm().to_string())),
            };
            let (record, _) = prompt_admin::save(&store, &library, wav, meta).await?;
            store.close().await;
            Ok(format!(
                "said {} ({:.2} s)\n",
                record.name,
                record.duration_ms as f64 / 1000.0
            ))
        }
        PromptCommand::Record {
            name,
            max_seconds,
            language,
            place,
        } => record(name, max_seconds, language, place).await,
        PromptCommand::List { place } => {
            let store = place.open().await?;
            let prompts = store.list_prompts().await?;
            store.close().await;
            let mut out = format!(
                "{:<20} {:<8} {:>9} {:<10} {}\n",
                "name", "language", "seconds", "source", "text"
            );
            for p in prompts {
                out.push_str(&format!(
                    "{:<20} {:<8} {:>9.2} {:<10} {}\n",
                    p.name,
                    p.language,
                    p.duration_ms as f64 / 1000.0,
                    p.source.as_str(),
                    p.tts_text.unwrap_or_default()
                ));
            }
            Ok(out)
        }
        PromptCommand::Render { name, to, place } => {
            let store = place.open().await?;
            let found = store.find_prompt("", &name).await?;
            store.close().await;
            let frames = match found {
                Some(p) => prompt_admin::library(&place.data_dir)?.load(&p.audio_hash)?,
                None => ura_prompts::BuiltinPrompts::load()?
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| UraError::Config(format!("no prompt named {name:?}")))?,
            };
            let ulaw = frames.bytes(Codec::Pcmu);
            let mut pcm = vec![0i16; ulaw.len()];
            ura_media::g711::decode(Codec::Pcmu, ulaw, &mut pcm);
            std::fs::write(&to, prompt_admin::wav_bytes(&pcm))
                .map_err(|e| UraError::io(format!("{}", to.display()), e))?;
            Ok(format!(
                "wrote {} ({:.2} s)\n",
                to.display(),
                pcm.len() as f64 / 8000.0
            ))
        }
    }
}

#[cfg(feature = "local-audio")]
async fn record(
    name: String,
    max_seconds: u64,
    language: String,
    place: Place,
) -> Result<String, UraError> {
    let max = std::time::Duration::from_secs(max_seconds);
    let wav = tokio::task::spawn_blocking(move || crate::mic::record(max))
        .await
        .map_err(|e| UraError::Config(format!("recording task: {e}")))??;
    let store = place.open().await?;
    let library = prompt_admin::library(&place.data_dir)?;
    let meta = NewPrompt {
        name,
        language,
        source: PromptSource::Recording,
        tts: None,
    };
    let (record, _) = prompt_admin::save(&store, &library, wav, meta).await?;
    store.close().await;
    Ok(format!(
        "recorded {} ({:.2} s)\n",
        record.name,
        record.duration_ms as f64 / 1000.0
    ))
}

#[cfg(not(feature = "local-audio"))]
async fn record(_: String, _: u64, _: String, _: Place) -> Result<String, UraError> {
    Err(UraError::Config(
        "this ura was built without microphone support: build with `--features local-audio` (needs libasound2-dev), \
         or record by phone (the *97 feature code)"
            .into(),
    ))
}
