//! `ura config export|import` and `ura apikey create|list|revoke`: the
//! store's configuration and the admin API's keys, from the command line
//! of the machine ura runs on.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;
use ura_api::{Api, Docs, Mode};
use ura_store::Store;

use crate::config::{Config, ServeArgs};
use crate::config_api::{file_tables, to_toml, EngineBackend};
use crate::error::UraError;

/// The file in the data directory holding the key made at the first start.
pub const KEY_FILE: &str = "api-key";

/// Which store.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory (its `ura.db` is the default store).
    #[arg(long, env = "URA_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Store URL instead of the data directory's SQLite file.
    #[arg(long, env = "URA_STORE")]
    pub store: Option<String>,
}

impl StoreArgs {
    /// Opens the store (creating the data directory's SQLite file).
    pub async fn open(&self) -> Result<Store, UraError> {
        let url = match &self.store {
            Some(u) => u.clone(),
            None => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    UraError::io(format!("data dir {}", self.data_dir.display()), e)
                })?;
                Store::sqlite_url(&self.data_dir)
            }
        };
        Ok(Store::open(&url).await?)
    }
}

/// `ura config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the store's configuration in the configuration file's format.
    Export {
        /// `toml` (the file's format) or `json` (the API's).
        #[arg(long, default_value = "toml")]
        format: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the store's configuration with a file's numbers, schedules,
    /// services, IVRs, queues and agents: checked first, all or nothing.
    Import {
        /// The TOML file.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `ura apikey …`.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key and print it (the only time it is shown).
    Create {
        /// The company it acts for.
        #[arg(long, required_unless_present = "super_admin")]
        company: Option<String>,
        /// A key for every company (companies, keys, imports).
        #[arg(long = "super", conflicts_with = "company")]
        super_admin: bool,
        /// A name for people.
        #[arg(long, default_value = "cli")]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The keys (prefix, name, company; never the key).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its prefix.
    Revoke {
        /// The prefix `list` shows.
        prefix: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The store's configuration in the file's shape, or `None` before ura's
/// first start in store mode.
pub async fn stored_tables(store: &Store) -> Result<Option<Value>, UraError> {
    let companies = store.companies().await?;
    if companies.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        Docs::from_store(store.config_docs().await?, companies).config(None),
    ))
}

/// Runs `ura config …`; the text to print.
pub async fn config(cmd: ConfigCommand) -> Result<String, UraError> {
    match cmd {
        ConfigCommand::Export { format, store } => {
            let s = store.open().await?;
            let tables = stored_tables(&s).await?;
            s.close().await;
            let tables = tables.ok_or_else(|| {
                UraError::Config(
                    "the store has no configuration yet: ura writes the demo to it at its first \
                     start without --config"
                        .into(),
                )
            })?;
            match format.as_str() {
                "toml" => to_toml(&tables).map_err(UraError::Config),
                "json" => Ok(format!("{tables:#}\n")),
                other => Err(UraError::Config(format!(
                    "--format {other:?}: toml or json"
                ))),
            }
        }
        ConfigCommand::Import { file, store } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| UraError::io(format!("reading {}", file.display()), e))?;
            let tables = file_tables(&text)
                .map_err(|e| UraError::Config(format!("{}: {e}", file.display())))?;
            let s = store.open().await?;
            let config = Config::resolve(&ServeArgs::default())?;
            let demo = config.routing_tables.clone();
            let backend = EngineBackend::new(config).with_store(s.clone());
            backend
                .refresh_prompt_names()
                .await
                .map_err(|e| UraError::Config(e.to_string()))?;
            let api = Api::open(s.clone(), backend, Mode::Store, &demo)
                .await
                .map_err(|e| UraError::Config(e.to_string()))?;
            let count = api
                .import(&tables)
                .await
                .map_err(|e| UraError::Config(format!("{}: {e}", file.display())))?;
            s.close().await;
            Ok(format!(
                "imported {count} objects from {}; a running ura takes them on SIGHUP \
                 (kill -HUP <pid>)\n",
                file.display()
            ))
        }
    }
}

/// Runs `ura apikey …`; the text to print.
pub async fn apikey(cmd: ApiKeyCommand) -> Result<String, UraError> {
    let fail = |e: ura_api::ApiError| UraError::Config(e.to_string());
    match cmd {
        ApiKeyCommand::Create {
            company,
            super_admin: _,
            name,
            store,
        } => {
            let s = store.open().await?;
            if let Some(c) = &company {
                if !s.companies().await?.iter().any(|x| &x.id == c) {
                    return Err(UraError::Config(format!(
                        "--company {c:?}: no such company (see GET /api/v1/companies)"
                    )));
                }
            }
            let (key, record) = ura_api::create_key(&s, company.as_deref(), &name)
                .await
                .map_err(fail)?;
            s.close().await;
            Ok(format!(
                "{key}\n(prefix {}, {}; shown once: keep it)\n",
                record.prefix,
                record
                    .company
                    .map_or("super-admin".to_string(), |c| format!("company {c}"))
            ))
        }
        ApiKeyCommand::List { store } => {
            use std::fmt::Write;
            let s = store.open().await?;
            let keys = s.api_keys().await?;
            s.close().await;
            let mut out = format!(
                "{:<14} {:<20} {:<14} {:<22} revoked\n",
                "prefix", "name", "company", "created"
            );
            for k in keys {
                let _ = writeln!(
                    out,
                    "{:<14} {:<20} {:<14} {:<22} {}",
                    k.prefix,
                    k.name,
                    k.company.as_deref().unwrap_or("(super)"),
                    k.created_at,
                    k.revoked_at.as_deref().unwrap_or("-")
                );
            }
            Ok(out)
        }
        ApiKeyCommand::Revoke { prefix, store } => {
            let s = store.open().await?;
            let done = s.revoke_api_key(&prefix, &ura_api::now()).await?;
            s.close().await;
            if done {
                Ok(format!("key {prefix} revoked\n"))
            } else {
                Err(UraError::Config(format!(
                    "no live key with prefix {prefix:?}"
                )))
            }
        }
    }
}

/// At a start with no live key, makes a super-admin key, keeps it in the
/// data directory (mode 0600) and returns it to be printed once.
pub async fn first_key(
    store: &Store,
    data_dir: &std::path::Path,
) -> Result<Option<String>, UraError> {
    if store
        .api_keys()
        .await?
        .iter()
        .any(|k| k.revoked_at.is_none())
    {
        return Ok(None);
    }
    let (key, _) = ura_api::create_key(store, None, "first start")
        .await
        .map_err(|e| UraError::Config(e.to_string()))?;
    let path = data_dir.join(KEY_FILE);
    write_private(&path, &format!("{key}\n"))
        .map_err(|e| UraError::io(format!("writing {}", path.display()), e))?;
    Ok(Some(key))
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}
