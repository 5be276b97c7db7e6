//! The `ura` command.

use clap::{Parser, Subcommand};
use ura::config::{Config, LogFormat, ServeArgs};
use ura::engine::Engine;

/// ura: a contact-center voice engine (SIP, RTP, IVR, agent queues).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer calls (the default). With no configuration, serves the demo numbers.
    Serve(ServeArgs),
    /// Call records.
    #[command(subcommand)]
    Calls(CallsCommand),
    /// Business hours.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Prompts: import, say, record, list, render.
    #[command(subcommand)]
    Prompt(ura::admin::PromptCommand),
    /// Agents: log in, log out, pause, resume, list (talks to a running ura).
    #[command(subcommand)]
    Agent(ura::agent_cli::AgentCli),
    /// The store's configuration: export it as TOML, import a file.
    #[command(subcommand)]
    Config(ura::config_cli::ConfigCommand),
    /// Admin API keys: create, list, revoke.
    #[command(subcommand)]
    Apikey(ura::config_cli::ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
enum ScheduleCommand {
    /// Is the number open at a time, and when does it open or close next?
    Check {
        /// The number, as dialled.
        #[arg(long)]
        number: String,
        /// When (RFC 3339, e.g. 2026-12-25T10:00:00-03:00); now when absent.
        #[arg(long)]
        at: Option<String>,
        /// Configuration file (the store's configuration when absent).
        #[arg(long, env = "URA_CONFIG")]
        config: Option<std::path::PathBuf>,
        #[command(flatten)]
        store: ura::config_cli::StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum CallsCommand {
    /// The most recent calls, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Data directory (its `ura.db` is the default store).
        #[arg(long, env = "URA_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
        /// Store URL instead of the data directory's SQLite file.
        #[arg(long, env = "URA_STORE")]
        store: Option<String>,
        /// Output: an aligned table, CSV or JSON.
        #[arg(long, value_enum, default_value_t = ura::calls_cli::CallsFormat::Table)]
        format: ura::calls_cli::CallsFormat,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::Prompt(cmd)) => return finish(block_on(ura::admin::run(cmd))),
        Some(Command::Agent(cmd)) => return finish(ura::agent_cli::run(cmd)),
        Some(Command::Config(cmd)) => return finish(block_on(ura::config_cli::config(cmd))),
        Some(Command::Apikey(cmd)) => return finish(block_on(ura::config_cli::apikey(cmd))),
        Some(Command::Schedule(ScheduleCommand::Check {
            number,
            at,
            config,
            store,
        })) => {
            return finish(schedule_check(&number, at.as_deref(), config, store));
        }
        Some(Command::Calls(CallsCommand::List {
            limit,
            data_dir,
            store,
            format,
        })) => {
            if store.is_none() {
                if let Err(e) = ura::admin::existing_data_dir(&data_dir) {
                    return finish(Err(e.to_string()));
                }
            }
            let url = store.unwrap_or_else(|| ura_store::Store::sqlite_url(&data_dir));
            return finish(block_on(calls_list(&url, limit, format)));
        }
        // `ura` alone is `ura serve` (flags then come from URA_* variables).
        None => match Cli::parse_from(["ura", "serve"]).command {
            Some(Command::Serve(a)) => a,
            _ => ServeArgs::default(),
        },
    };
    let config = match Config::resolve(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ura: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logs(config.log_format);
    let log_format = config.log_format;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ura: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(args, config));
    // Tasks still blocked (a stuck database, a TTS process) do not hold
    // the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Once: a log line where logs are JSON (a collector reads them),
            // else the plain line a person reads.
            match log_format {
                LogFormat::Json => tracing::error!("{e}"),
                LogFormat::Human => eprintln!("ura: {e}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a command's text, or its refusal with exit status 2.
fn finish(result: Result<String, String>) -> std::process::ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ura: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs an admin command's future on a small runtime.
fn block_on<T, E: std::fmt::Display>(
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(fut).map_err(|e| e.to_string())
}

/// What `ura schedule check` prints.
fn schedule_check(
    number: &str,
    at: Option<&str>,
    config: Option<std::path::PathBuf>,
    store: ura::config_cli::StoreArgs,
) -> Result<String, String> {
    use std::fmt::Write;
    let args = ServeArgs {
        config,
        ..ServeArgs::default()
    };
    let mut config = Config::resolve(&args).map_err(|e| e.to_string())?;
    // Store mode: the store's configuration, once ura has written one
    // (a data directory with no store yet is not created by a check).
    let has_store = store.store.is_some() || store.data_dir.join("ura.db").exists();
    if config.routing_file.is_none() && has_store {
        let tables = block_on(async {
            let s = store.open().await?;
            let t = ura::config_cli::stored_tables(&s).await;
            s.close().await;
            t
        })?;
        if let Some(tables) = tables {
            config.routing = ura::config_api::check(&tables).map_err(|e| e.to_string())?;
        }
    }
    let routing = ura::routing::Routing::build(&config.routing).map_err(|e| e.to_string())?;
    let at = match at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                format!("--at {text:?}: {e} (want RFC 3339, e.g. 2026-12-25T10:00:00-03:00)")
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let Some(n) = routing.lookup(number) else {
        return match ura::demo::DemoNumber::lookup(number) {
            // A demo number answers whenever it is called.
            Some(_) => Ok(format!(
                "number {number} is a built-in demo number with no schedule: always open\n\
                 at {}: open\nnever closes\n",
                at.to_rfc3339()
            )),
            None => Err(format!("number {number:?} is not configured")),
        };
    };
    let tz = n.schedule.timezone();
    let local = at.with_timezone(&tz);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "number {} ({}), time zone {}",
        n.config.number, n.config.name, tz
    );
    if n.schedule.is_open(at) {
        let _ = writeln!(out, "at {}: open", local.to_rfc3339());
        match n.schedule.next_close(at) {
            Some(c) => {
                let _ = writeln!(out, "closes {}", c.with_timezone(&tz).to_rfc3339());
            }
            None => {
                let _ = writeln!(out, "never closes");
            }
        }
    } else {
        let _ = writeln!(out, "at {}: closed", local.to_rfc3339());
        match n.schedule.next_open(at) {
            Some(o) => {
                let o = o.with_timezone(&tz);
                let words = ura_ivr::describe_next_opening(o, local, n.config.language);
                let _ = writeln!(out, "opens {} ({words})", o.to_rfc3339());
            }
            None => {
                let _ = writeln!(
                    out,
                    "does not open in the next {} days",
                    ura_ivr::HORIZON_DAYS
                );
            }
        }
    }
    Ok(out)
}

/// The call records, newest first, in `format`.
async fn calls_list(
    url: &str,
    limit: i64,
    format: ura::calls_cli::CallsFormat,
) -> Result<String, ura::error::UraError> {
    let store = ura_store::Store::open(url).await?;
    let calls = store.recent_calls(limit).await;
    store.close().await;
    Ok(ura::calls_cli::render(&calls?, format))
}

async fn serve(args: ServeArgs, mut config: Config) -> Result<(), ura::error::UraError> {
    use ura::error::UraError;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| UraError::io(format!("data dir {}", config.data_dir.display()), e))?;
    // Every address is bound before ura says it is up.
    let http_listener = ura::http::bind(config.http).await?;
    let store = ura_store::Store::open(&config.store_url).await?;
    let backend = ura::config_api::EngineBackend::new(config.clone()).with_store(store.clone());
    backend
        .refresh_prompt_names()
        .await
        .map_err(|e| UraError::Config(e.to_string()))?;
    let mode = match &config.routing_file {
        Some(path) => ura_api::Mode::File(path.display().to_string()),
        None => ura_api::Mode::Store,
    };
    let api = ura_api::Api::open(store.clone(), backend.clone(), mode, &config.routing_tables)
        .await
        .map_err(|e| UraError::Config(e.to_string()))?;
    if config.routing_file.is_none() {
        let tables = api.config().await;
        config.routing =
            ura::config_api::check(&tables).map_err(|e| UraError::Config(format!("store: {e}")))?;
        config.routing_tables = tables;
    }
    // A reference to a prompt that is neither stored nor built in is
    // refused now, not found by the first caller.
    if let Err(e) = ura_api::Backend::check(&backend, &config.routing_tables) {
        return Err(UraError::Config(match &config.routing_file {
            Some(path) => format!("{}: {e}", path.display()),
            None => e.to_string(),
        }));
    }
    tracing::info!(
        config = api.mode().name(),
        file = ?config.routing_file,
        "configuration: {}",
        match &config.routing_file {
            Some(_) => "from the file (the API only reads it)",
            None => "in the store (edit it over the API)",
        }
    );
    backend.set_running(config.clone());
    let first_key = ura::config_cli::first_key(&store, &config.data_dir).await?;
    // Webhook events: the core hands them over without waiting; the API's
    // dispatcher delivers them (webhooks live in the store in both modes).
    let (events, events_rx) = ura_webhooks::channel(ura_webhooks::EVENT_QUEUE);
    api.start_webhooks(events_rx, events.clone())
        .await
        .map_err(|e| UraError::Config(format!("webhooks: {e}")))?;
    // The omni channels' messages out, with their delivery log.
    backend
        .start_omni(store.clone())
        .await
        .map_err(|e| UraError::Config(format!("omni channels: {e}")))?;
    // The start-up lines name the HTTP port really bound (with `:0`, the
    // one the system chose).
    let mut engine_config = config.clone();
    if let Ok(bound) = http_listener.local_addr() {
        engine_config.http = bound;
    }
    let engine = Engine::start_with_store(engine_config, store, events).await?;
    backend.attach(engine.handle());
    let http = ura::http::serve(http_listener, engine.counters.clone(), api.clone())?;
    tracing::info!(%http, "HTTP is up (/health, /api/v1)");
    // Hooked before ura says it listens: a stop right after that line is
    // a clean stop, not the default action of the signal.
    let mut signals = Signals::new();
    // Tests read this line to learn the ports when they asked for port 0.
    println!("ura listening sip={} http={}", engine.sip_addr, http);
    for (ext, password) in &engine.generated_passwords {
        tracing::info!(agent = %ext, "agent password generated (kept in the data directory)");
        println!("agent {ext} password: {password}");
    }
    if let Some(key) = first_key {
        let path = config.data_dir.join(ura::config_cli::KEY_FILE);
        tracing::info!(file = %path.display(), "admin API key made (the store had none)");
        println!(
            "admin API key (super-admin, kept in {}): {key}",
            path.display()
        );
    }
    let mut config = config;
    while let Signal::Reload = signals.next().await {
        config = reload(&api, &backend, &args, config).await;
    }
    tracing::info!("stopping: hanging up every call (a second SIGTERM or Ctrl-C exits at once)");
    // A second SIGTERM or SIGINT exits at once, whatever is in progress.
    tokio::spawn(async move {
        loop {
            if let Signal::Stop(code) = signals.next().await {
                tracing::warn!("second stop signal: exiting now");
                std::process::exit(code);
            }
        }
    });
    // The engine bounds its own stop (calls, then records); this is the
    // last resort.
    if tokio::time::timeout(std::time::Duration::from_secs(9), engine.shutdown())
        .await
        .is_err()
    {
        tracing::error!("stopping took more than 9 s: exiting anyway");
    }
    Ok(())
}

/// Reads the configuration again and hands what a running ura can take to
/// the engine: the settings from the file and flags, and the routing from
/// the file (file mode) or the store (store mode). On any error the running
/// configuration stays and the log says why. Returns the configuration now
/// in force.
async fn reload(
    api: &ura::http::AdminApi,
    backend: &ura::config_api::EngineBackend,
    args: &ServeArgs,
    running: Config,
) -> Config {
    let new = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reload refused; the running configuration stays");
            return running;
        }
    };
    let (applied, restart) = running.reloaded(new);
    if !restart.is_empty() {
        tracing::warn!(settings = ?restart, "these settings changed and apply after a restart");
    }
    backend.set_running(applied.clone());
    // Prompts imported with the CLI while ura ran count as known.
    if let Err(e) = backend.refresh_prompt_names().await {
        tracing::warn!(error = %e, "stored prompts could not be listed");
    }
    let file = match api.mode() {
        ura_api::Mode::File(_) => Some(&applied.routing_tables),
        ura_api::Mode::Store => None,
    };
    match api.reload(file).await {
        Ok(objects) => {
            let (numbers, prompts) = backend.applied();
            tracing::info!(
                numbers,
                prompts,
                objects,
                config = api.mode().name(),
                "configuration reloaded"
            );
            applied
        }
        Err(e) => {
            let error = match &applied.routing_file {
                Some(path) => format!("{}: {e}", path.display()),
                None => e.to_string(),
            };
            tracing::error!(%error, "reload refused; the running configuration stays");
            backend.set_running(running.clone());
            running
        }
    }
}

/// What the process was told to do.
enum Signal {
    /// SIGHUP: read the configuration and the stored prompts again.
    Reload,
    /// SIGTERM or Ctrl-C: hang up every call and stop (the exit code
    /// for a second one: 128 + the signal's number).
    Stop(i32),
}

/// The signals `ura serve` acts on (a signal that cannot be hooked is
/// left to its default).
struct Signals {
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                hup: signal(SignalKind::hangup()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Stop(130),
                _ = recv(&mut self.term) => Signal::Stop(143),
                _ = recv(&mut self.hup) => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop(130)
        }
    }
}
