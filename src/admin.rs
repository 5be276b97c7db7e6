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
    /// Opens the store to add prompts, creating the data directory.
    async fn open(&self) -> Result<Store, UraError> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| UraError::io(format!("data dir {}", self.data_dir.display()), e))?;
        self.connect().await
    }

    /// Opens the store to read prompts: the data directory must exist.
    async fn open_existing(&self) -> Result<Store, UraError> {
        existing_data_dir(&self.data_dir)?;
        self.connect().await
    }

    async fn connect(&self) -> Result<Store, UraError> {
        let url = self
            .store
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&self.data_dir));
        Ok(Store::open(&url).await?)
    }
}

/// Refuses a data directory that does not exist, naming it, rather than
/// creating an empty one and reporting nothing stored.
pub fn existing_data_dir(dir: &std::path::Path) -> Result<(), UraError> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(UraError::Refused(format!(
        "no data directory {} (--data-dir or URA_DATA_DIR; `ura serve` and `ura prompt import` create it)",
        dir.display()
    )))
}

/// Refuses to overwrite a stored prompt unless `replace` says so.
async fn check_new_name(store: &Store, name: &str, replace: bool) -> Result<(), UraError> {
    if replace {
        return Ok(());
    }
    match store.find_prompt("", name).await? {
        Some(p) => Err(UraError::Refused(format!(
            "a prompt named {name:?} exists ({}, {:.2} s): add --replace to replace it",
            p.source.as_str(),
            p.duration_ms as f64 / 1000.0
        ))),
        None => Ok(()),
    }
}

/// The voice for espeak-ng: one of ura's languages, or a language code
/// espeak-ng lists (`espeak-ng --voices`), with an optional variant
/// (`pt-br+f3`).
fn check_espeak_voice(voice: &ura_tts::Voice) -> Result<(), UraError> {
    let ura_tts::Voice::Named(name) = voice else {
        return Ok(());
    };
    let base = name.split('+').next().unwrap_or(name);
    let listed = std::process::Command::new("espeak-ng")
        .arg("--voices")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // Columns: Pty Language Age/Gender VoiceName File Other; a voice is
    // chosen by its language code (`en-gb`), not its display name.
    let known = listed.as_deref().is_some_and(|text| {
        text.lines().skip(1).any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|code| code.eq_ignore_ascii_case(base))
        })
    });
    if known {
        return Ok(());
    }
    let languages: Vec<&str> = ura_tts::Language::ALL.iter().map(|l| l.tag()).collect();
    Err(UraError::Refused(format!(
        "no voice {name:?}: use {} (or a variant such as pt-BR+f3, or a language code \
         `espeak-ng --voices` lists; `ura prompt voices` lists them)",
        languages.join(", ")
    )))
}

/// The language a named voice speaks, from its name: `en-gb+m3` is
/// en-GB, `pt-BR-FranciscaNeural` pt-BR.
fn voice_language(voice: &str) -> Option<String> {
    let base = voice.split('+').next().unwrap_or(voice);
    let first_two: Vec<&str> = base.split(['-', '_']).take(2).collect();
    language_tag(base)
        .or_else(|_| language_tag(&first_two.join("-")))
        .ok()
}

/// A language as a BCP 47 tag: ura's languages canonically (`pt-br` is
/// `pt-BR`), others with the primary subtag in lower case and a region
/// in upper case.
fn language_tag(tag: &str) -> Result<String, UraError> {
    if let Some(l) = ura_tts::Language::from_tag(tag) {
        return Ok(l.tag().to_string());
    }
    let parts: Vec<&str> = tag.trim().split(['-', '_']).collect();
    let ok = parts
        .iter()
        .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && (2..=3).contains(&parts[0].len())
        && parts[0].chars().all(|c| c.is_ascii_alphabetic());
    if !ok {
        return Err(UraError::Refused(format!(
            "language {tag:?}: give a BCP 47 tag such as pt-BR, en-US or es"
        )));
    }
    let canonical: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| match (i, p.len()) {
            (0, _) => p.to_ascii_lowercase(),
            (_, 2) => p.to_ascii_uppercase(),
            (_, 4) => {
                let mut s = p.to_ascii_lowercase();
                s[..1].make_ascii_uppercase();
                s
            }
            _ => p.to_ascii_lowercase(),
        })
        .collect();
    Ok(canonical.join("-"))
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
        /// Its language (BCP 47: pt-BR, en-US, es).
        #[arg(long, default_value = "pt-BR")]
        language: String,
        /// Replace a stored prompt of that name.
        #[arg(long)]
        replace: bool,
        /// Where.
        #[command(flatten)]
        place: Place,
    },
    /// Speaks text with a voice (text to speech) and keeps it as a prompt.
    Say {
        /// What to say.
        text: String,
        /// Voice: pt-BR, pt-PT, en-US, es, or a voice of the engine
        /// (`espeak-ng --voices`, or the HTTP service's names).
        #[arg(long, default_value = "pt-BR")]
        voice: String,
        /// The prompt's language (BCP 47); by default the voice's.
        #[arg(long)]
        language: Option<String>,
        /// Words per minute (80-450).
        #[arg(long, default_value_t = 160)]
        rate: u32,
        /// The prompt's name.
        #[arg(long)]
        name: String,
        /// An HTTP TTS engine's configuration (TOML) instead of espeak-ng.
        #[arg(long, env = "URA_TTS_HTTP")]
        http_engine: Option<PathBuf>,
        /// Replace a stored prompt of that name.
        #[arg(long)]
        replace: bool,
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
        /// Its language (BCP 47: pt-BR, en-US, es).
        #[arg(long, default_value = "pt-BR")]
        language: String,
        /// Replace a stored prompt of that name.
        #[arg(long)]
        replace: bool,
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
    /// Lists the voices `say` speaks with (the same list as
    /// `GET /api/v1/voices`).
    Voices,
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
            replace,
            place,
        } => {
            let language = language_tag(&language)?;
            let bytes =
                std::fs::read(&file).map_err(|e| UraError::io(format!("{}", file.display()), e))?;
            let store = place.open().await?;
            check_new_name(&store, &name, replace).await?;
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
            language,
            rate,
            name,
            http_engine,
            replace,
            place,
        } => {
            let voice_parsed: ura_tts::Voice = voice.parse()?;
            if http_engine.is_none() {
                check_espeak_voice(&voice_parsed)?;
            }
            // The language: given, or the voice's (`pt-br+f3` is pt-BR).
            let language = match (&language, voice_parsed.language()) {
                (Some(l), _) => language_tag(l)?,
                (None, Some(l)) => l.tag().to_string(),
                (None, None) => voice_language(&voice).ok_or_else(|| {
                    UraError::Refused(format!(
                        "which language does voice {voice:?} speak? add --language (e.g. pt-BR)"
                    ))
                })?,
            };
            let rate = ura_tts::Rate::new(rate)?;
            let voice_tag = voice_parsed.to_string();
            {
                let store = place.open().await?;
                let taken = check_new_name(&store, &name, replace).await;
                store.close().await;
                taken?;
            }
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
                language,
                source: PromptSource::Tts,
                tts: Some((text, voice_tag, rate.wpm().to_string())),
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
            replace,
            place,
        } => {
            let language = language_tag(&language)?;
            let store = place.open().await?;
            let taken = check_new_name(&store, &name, replace).await;
            store.close().await;
            taken?;
            record(name, max_seconds, language, place).await
        }
        PromptCommand::List { place } => {
            let store = place.open_existing().await?;
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
        PromptCommand::Voices => {
            let mut out = String::from("VOICE      LANGUAGE  ENGINE\n");
            for v in crate::config_api::voices() {
                let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                out.push_str(&format!(
                    "{:<10} {:<9} {}\n",
                    field("voice"),
                    field("language"),
                    field("engine")
                ));
            }
            out.push_str(
                "`say --voice` also takes a language code `espeak-ng --voices` lists \
                 (en-GB, fr, de…), with a variant (+m1…+m4, +f1…+f4).",
            );
            Ok(out)
        }
        PromptCommand::Render { name, to, place } => {
            // A built-in prompt renders without a data directory.
            let found = if place.data_dir.is_dir() || place.store.is_some() {
                let store = place.connect().await?;
                let found = store.find_prompt("", &name).await?;
                store.close().await;
                found
            } else {
                None
            };
            let frames = match found {
                Some(p) => prompt_admin::library(&place.data_dir)?.load(&p.audio_hash)?,
                None => ura_prompts::BuiltinPrompts::load()?
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| {
                        UraError::Refused(format!(
                            "no prompt named {name:?} in {} or built in (`ura prompt list` lists the stored ones)",
                            place.data_dir.display()
                        ))
                    })?,
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
