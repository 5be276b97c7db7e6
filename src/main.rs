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
        /// Configuration file (the demo when absent).
        #[arg(long, env = "URA_CONFIG")]
        config: Option<std::path::PathBuf>,
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
        Some(Command::Schedule(ScheduleCommand::Check { number, at, config })) => {
            return finish(schedule_check(&number, at.as_deref(), config));
        }
        Some(Command::Calls(CallsCommand::List {
            limit,
            data_dir,
            store,
        })) => {
            let url = store.unwrap_or_else(|| ura_store::Store::sqlite_url(&data_dir));
            return finish(block_on(calls_table(&url, limit)));
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
            tracing::error!("{e}");
            eprintln!("ura: {e}");
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
fn block_on<E: std::fmt::Display>(
    fut: impl std::future::Future<Output = Result<String, E>>,
) -> Result<String, String> {
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
) -> Result<String, String> {
    use std::fmt::Write;
    let args = ServeArgs {
        config,
        ..ServeArgs::default()
    };
    let config = Config::resolve(&args).map_err(|e| e.to_string())?;
    let routing = ura::routing::Routing::build(&config.routing).map_err(|e| e.to_string())?;
    let n = routing
        .lookup(number)
        .ok_or_else(|| match ura::demo::DemoNumber::lookup(number) {
            Some(_) => {
                format!("number {number:?} is a built-in demo number with no schedule: always open")
            }
            None => format!("number {number:?} is not configured"),
        })?;
    let at = match at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                format!("--at {text:?}: {e} (want RFC 3339, e.g. 2026-12-25T10:00:00-03:00)")
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
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

/// The call records, newest first, as a table.
async fn calls_table(url: &str, limit: i64) -> Result<String, ura::error::UraError> {
    use std::fmt::Write;
    let store = ura_store::Store::open(url).await?;
    let calls = store.recent_calls(limit).await;
    store.close().await;
    let mut out = format!(
        "{:<6} {:<24} {:<8} {:<7} {:<7} {:<10} {:<10} {:<16} {:<7} {:<10} {:<6} {:<6} {:<16} caller\n",
        "id", "started", "number", "answer", "sched", "digits", "service", "cause", "side", "queue",
        "agent", "wait", "queue-outcome"
    );
    for c in calls? {
        let q = c.queue.as_ref();
        let _ = writeln!(
            out,
            "{:<6} {:<24} {:<8} {:<7} {:<7} {:<10} {:<10} {:<16} {:<7} {:<10} {:<6} {:<6} {:<16} {}",
            c.id,
            c.started_at,
            c.number,
            if c.answered_at.is_some() { "yes" } else { "no" },
            c.schedule.as_deref().unwrap_or("-"),
            if c.digits.is_empty() { "-" } else { &c.digits },
            c.service.as_deref().unwrap_or("-"),
            c.hangup_cause,
            c.hangup_side.as_str(),
            q.map_or("-", |q| q.queue.as_str()),
            q.and_then(|q| q.agent.as_deref()).unwrap_or("-"),
            q.and_then(|q| q.wait_ms)
                .map_or("-".to_string(), |ms| format!("{:.1}", ms as f64 / 1000.0)),
            q.and_then(|q| q.outcome.as_deref()).unwrap_or("-"),
            c.caller
        );
        // Under its call, indented: the caller may have heard nothing.
        if let Some(w) = &c.media_warning {
            let _ = writeln!(out, "       media warning: {w}");
        }
    }
    Ok(out)
}

async fn serve(args: ServeArgs, config: Config) -> Result<(), ura::error::UraError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        ura::error::UraError::io(format!("data dir {}", config.data_dir.display()), e)
    })?;
    let engine = Engine::start(config.clone()).await?;
    let http = ura::http::serve(config.http, engine.counters.clone(), engine.handle()).await?;
    tracing::info!(%http, "HTTP is up (/health)");
    // Hooked before ura says it listens: a stop right after that line is
    // a clean stop, not the default action of the signal.
    let mut signals = Signals::new();
    // Tests read this line to learn the ports when they asked for port 0.
    println!("ura listening sip={} http={}", engine.sip_addr, http);
    for (ext, password) in &engine.generated_passwords {
        tracing::info!(agent = %ext, "agent password generated (kept in the data directory)");
        println!("agent {ext} password: {password}");
    }
    let mut config = config;
    while let Signal::Reload = signals.next().await {
        config = reload(&engine, &args, config).await;
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
/// the engine. On any error the running configuration stays and the log
/// says why. Returns the configuration now in force.
async fn reload(engine: &Engine, args: &ServeArgs, running: Config) -> Config {
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
    match engine.reload(applied.clone()).await {
        Ok((numbers, prompts)) => {
            tracing::info!(numbers, prompts, "configuration reloaded");
            applied
        }
        Err(e) => {
            tracing::error!(error = %e, "reload refused; the running configuration stays");
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
