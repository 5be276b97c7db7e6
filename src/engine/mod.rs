//! The engine: one core task owns the SIP endpoint and every call; the SIP
//! driver and the media workers talk to it through bounded lanes
//! (`inputs.rs`): a high-priority lane for what concerns calls ura has, a
//! lane for new requests that are answered 503 off the core when they wait
//! too long, and a stop signal that jumps both.
//!
//! ```text
//! UDP/TCP readers ──high / new lane──▶ core task ──Transmit──▶ SipSockets
//! media workers ──high lane──────────▶ (Endpoint + calls) ──commands──▶ MediaEngine
//!        └─ new lane full / too old ──▶ shedder (503)
//! ```

pub mod admission;
pub mod attachments;
mod call;
pub mod chats;
pub mod inputs;
mod ivr_call;
pub mod live;
mod prompt_set;
pub mod queues;
pub mod records;
mod registrations;
mod sip_io;
pub mod sources;
pub mod transcripts;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use std::time::Duration;

use tokio::sync::watch;
use ura_media::{MediaConfig, MediaEngine, MediaEvent, StreamId};
use ura_prompts::BuiltinPrompts;
use ura_sip::{ConnectionId, DialogId, Endpoint, EndpointConfig, Flow, Output};
use ura_store::Store;

use crate::config::Config;
use crate::error::UraError;
use call::Calls;

/// Everything the core task reacts to.
pub enum CoreInput {
    /// A SIP message arrived.
    Sip {
        /// Where from.
        flow: Flow,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A TCP connection was accepted.
    TcpOpened {
        /// Its id.
        id: ConnectionId,
        /// Where to write to it.
        writer: sip_io::TcpWriter,
    },
    /// A TCP connection closed.
    TcpClosed {
        /// Its id.
        id: ConnectionId,
    },
    /// The media workers report.
    Media(MediaEvent),
    /// The ring time of a call is over: answer it.
    AnswerDue(DialogId),
    /// A prompt recorded by phone: save it (8 kHz samples) under `name`.
    SavePrompt {
        /// Prompt name.
        name: String,
        /// The audio.
        pcm: Vec<i16>,
    },
    /// A prompt was saved: calls can play it from now on.
    PromptSaved {
        /// Prompt name.
        name: String,
        /// Its frames.
        frames: ura_media::PromptFrames,
    },
    /// The configuration was read again (SIGHUP): new calls follow it, calls
    /// in progress keep what they started with.
    Reload {
        /// The settings to apply (see `Config::reloaded`).
        config: Box<Config>,
        /// Its routing, built off the core task.
        routing: crate::routing::Routing,
        /// Every stored prompt, as the store has them now.
        prompts: Vec<(String, ura_media::PromptFrames)>,
    },
    /// An agent's command from the command line (HTTP); the answer says
    /// what was done or why not.
    Agent {
        /// The agent's extension.
        ext: String,
        /// What to do.
        cmd: queues::AgentCommand,
        /// Where the answer goes.
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// The live view of queues and agents (HTTP).
    Status {
        /// Where the view goes.
        reply: tokio::sync::oneshot::Sender<serde_json::Value>,
    },
    /// Hang up every call and stop.
    Shutdown,
}

/// Numbers the HTTP side can read (`/health`, `/metrics`).
#[derive(Default)]
pub struct Counters {
    /// Calls up now.
    pub active_calls: AtomicUsize,
    /// Calls answered since start.
    pub answered_calls: AtomicUsize,
    /// RTP packets sent, summed when each call's media closes.
    pub rtp_sent: std::sync::atomic::AtomicU64,
    /// RTP packets received, likewise.
    pub rtp_received: std::sync::atomic::AtomicU64,
    /// DTMF digits callers pressed (any method).
    pub dtmf_digits: std::sync::atomic::AtomicU64,
    /// The call records (written, lost, by outcome).
    pub records: std::sync::OnceLock<Arc<records::RecordStats>>,
    /// The media workers (late ticks).
    pub media: std::sync::OnceLock<MediaEngine>,
    /// Text conversations open now.
    pub chats_open: AtomicUsize,
    /// Text conversations started since start.
    pub chats_started: std::sync::atomic::AtomicU64,
    /// Web chat transcripts e-mailed (sent, failed).
    pub transcripts: Arc<transcripts::MailStats>,
    /// Admin API answers by status code.
    pub api_requests: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
    /// SIP transactions the endpoint holds now (set by the core).
    pub sip_transactions: AtomicUsize,
    /// SIP dialogs the endpoint holds now (set by the core).
    pub sip_dialogs: AtomicUsize,
    /// What the input lanes shed (503 off the core) and the size of their
    /// per-source and per-Call-ID memories.
    pub shed: std::sync::OnceLock<Arc<inputs::ShedStats>>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("active_calls", &self.active_calls)
            .field("answered_calls", &self.answered_calls)
            .finish_non_exhaustive()
    }
}

/// A running engine.
pub struct Engine {
    /// Where SIP listens (UDP and TCP).
    pub sip_addr: SocketAddr,
    /// Agents whose password ura generated (extension, password), to be
    /// printed at start.
    pub generated_passwords: Vec<(String, String)>,
    /// Live counters.
    pub counters: Arc<Counters>,
    inputs: inputs::Lanes,
    stop: watch::Sender<bool>,
    store: Store,
    library: ura_prompts::PromptLibrary,
    core: tokio::task::JoinHandle<()>,
    recorder: records::RecordWriter,
}

/// How long a stopping core waits for calls to end (BYE answered, ACKs).
pub const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long a stopping engine waits for the last call records.
pub const RECORDS_GRACE: Duration = Duration::from_secs(4);

impl Engine {
    /// Binds the sockets, starts the media workers and the core task.
    pub async fn start(config: Config) -> Result<Engine, UraError> {
        let store = Store::open(&config.store_url).await?;
        // Nobody listens: no webhook wants anything, so nothing is built.
        let (events, _) = ura_webhooks::channel(1);
        Engine::start_with_store(config, store, events).await
    }

    /// [`Engine::start`] with the store already open; webhook events go
    /// to `events`.
    pub async fn start_with_store(
        mut config: Config,
        store: Store,
        events: ura_webhooks::EventSink,
    ) -> Result<Engine, UraError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let interrupted = store.interrupt_open_calls(&now).await?;
        if interrupted > 0 {
            tracing::warn!(
                calls = interrupted,
                "calls were up when ura last stopped without ending them (a crash or kill -9): \
                 their records say `interrupted`"
            );
        }
        let generated_passwords =
            crate::queues::fill_passwords(&mut config.routing.agents, &config.data_dir)?;
        let prompts = Arc::new(BuiltinPrompts::load()?);
        let user_agent = format!("ura/{}", env!("CARGO_PKG_VERSION"));
        let (records, recorder) = records::spawn(store.clone(), records::Retry::default());
        let records = records.with_events(events);
        let counters = Arc::new(Counters::default());
        let _ = counters.records.set(records.stats());
        let (tx, rx) = inputs::lanes(records.clone(), user_agent.clone(), config.source_limit());
        let _ = counters.shed.set(tx.stats.clone());
        let media_tx = tx.clone();
        let media = MediaEngine::start(
            MediaConfig {
                workers: config.media_workers,
                bind_ip: media_bind_ip(&config),
                rtp_ports: config.rtp_ports,
                rtp_timeout: config.rtp_timeout,
                realtime: config.media_realtime,
                ..MediaConfig::default()
            },
            move |ev| media_tx.media(ev),
        )?;
        // The media engine raised the open-file limit to the hard limit.
        let nofile = admission::nofile_limit();
        let (sockets, sip_addr) =
            sip_io::bind(config.sip, tx.clone(), admission::tcp_cap(nofile)).await?;
        let mut endpoint = Endpoint::new(
            EndpointConfig {
                timers: config.timers,
                user_agent,
                advertised: config.advertise,
                advertised_other: config.advertise_other,
                port: sip_addr.port(),
            },
            fastrand::u64(..),
        );
        endpoint.set_auth_policy(ura_sip::AuthPolicy {
            offer: config.sip_digest,
            ..ura_sip::AuthPolicy::default()
        });
        endpoint.set_users(agent_users(&config));
        let (registrations, restored) =
            registrations::Registrations::start(store.clone(), &mut endpoint).await;
        let _ = counters.media.set(media.clone());
        let library = crate::prompt_admin::library(&config.data_dir)?;
        let stored_prompts = crate::prompt_admin::load_all(&store, &library).await?;
        tracing::info!(count = stored_prompts.len(), "stored prompts loaded");
        let prompt_admin = PromptSaver {
            store: store.clone(),
            library: library.clone(),
            inputs: tx.clone(),
        };
        let open_now = admission::open_fds().unwrap_or(64);
        let admission = admission::Admission::new(nofile, open_now, config.rtp_ports);
        tracing::info!(
            nofile,
            open_now,
            tcp_connections = admission::tcp_cap(nofile),
            calls_by_fds = admission.fd_calls,
            calls_by_rtp_ports = admission.rtp_calls,
            max_calls = ?config.max_calls,
            limit = admission.limit(config.max_calls),
            "admission: at most {} calls at once",
            admission.limit(config.max_calls)
        );
        let mut calls = Calls::new(
            media,
            prompts,
            config.clone(),
            tx.clone(),
            counters.clone(),
            records,
            admission,
        );
        for (name, frames) in stored_prompts {
            calls.prompt_saved(name, frames);
        }
        calls.set_chat_records(chats::spawn_writer(store.clone()));
        calls.set_attachments(attachments::spawn_janitor(
            config.data_dir.join("attachments"),
        ));
        calls.set_mailer(transcripts::spawn_mailer(counters.transcripts.clone()));
        for agent in &restored {
            calls.reachability(Instant::now(), &endpoint, agent);
        }
        let core = Core {
            prompt_admin,
            calls,
            endpoint,
            sockets,
            registrations,
        };
        let (stop, stopping) = watch::channel(false);
        let core = tokio::spawn(core.run(rx, stopping));
        tracing::info!(
            sip = %sip_addr,
            rtp = %format!("{}-{}", config.rtp_ports.0, config.rtp_ports.1),
            "ura is answering calls"
        );
        for line in crate::routing::served(&config) {
            tracing::info!("serving {line}");
        }
        Ok(Engine {
            sip_addr,
            generated_passwords,
            counters,
            inputs: tx,
            stop,
            core,
            recorder,
            store,
            library,
        })
    }

    /// Applies a configuration read again (see [`EngineHandle::reload`]).
    pub async fn reload(&self, config: Config) -> Result<(usize, usize), UraError> {
        self.handle().reload(config).await
    }

    /// A handle for the HTTP side: agent commands and the live view.
    pub fn handle(&self) -> EngineHandle {
        EngineHandle {
            inputs: self.inputs.clone(),
            store: self.store.clone(),
            library: self.library.clone(),
        }
    }

    /// Hangs up every call (BYE) and stops: the stop signal jumps every
    /// queue; the core waits at most [`STOP_GRACE`] for calls to end, then
    /// the writer gets at most [`RECORDS_GRACE`] for the last records.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.core.await;
        let shed = &self.inputs.stats;
        tracing::info!(
            answered_503_off_core = shed.answered_503.load(Ordering::Relaxed),
            dropped_unanswered = shed.dropped.load(Ordering::Relaxed),
            sip_dropped_high_lane_full = shed.high_full.load(Ordering::Relaxed),
            media_events_lost = shed.media_lost.load(Ordering::Relaxed),
            "overload totals since start"
        );
        self.recorder.finish(RECORDS_GRACE).await;
    }
}

/// What the HTTP side may ask of a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    inputs: inputs::Lanes,
    store: Store,
    library: ura_prompts::PromptLibrary,
}

impl EngineHandle {
    /// Applies a configuration read again, with the stored prompts as they
    /// are now (prompts imported with the CLI while ura runs). Returns how
    /// many numbers and stored prompts new calls will see.
    pub async fn reload(&self, mut config: Config) -> Result<(usize, usize), UraError> {
        crate::queues::fill_passwords(&mut config.routing.agents, &config.data_dir)?;
        let routing = crate::routing::Routing::build(&config.routing)?;
        let numbers = routing.numbers().len();
        let prompts = crate::prompt_admin::load_all(&self.store, &self.library).await?;
        let count = prompts.len();
        self.inputs
            .send_wait(CoreInput::Reload {
                config: Box::new(config),
                routing,
                prompts,
            })
            .await
            .map_err(|_| UraError::Stopped)?;
        Ok((numbers, count))
    }

    /// Carries out an agent's command (log in, pause…).
    pub async fn agent_command(
        &self,
        ext: String,
        cmd: queues::AgentCommand,
    ) -> Result<(), String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inputs
            .send_wait(CoreInput::Agent { ext, cmd, reply })
            .await
            .map_err(|_| "ura is stopping".to_string())?;
        answer.await.map_err(|_| "ura is stopping".to_string())?
    }

    /// An input from a web chat or agent desk socket (never waits).
    pub fn chat(&self, input: chats::ChatInput) -> Result<(), inputs::ChatRefused> {
        self.inputs.chat(input)
    }

    /// Checks an agent's extension and password for the desk: the
    /// agent's name, or `None`.
    pub async fn desk_login(
        &self,
        ext: String,
        password: String,
    ) -> Result<Option<String>, inputs::ChatRefused> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inputs.chat(chats::ChatInput::DeskLogin {
            ext,
            password,
            reply,
        })?;
        answer.await.map_err(|_| inputs::ChatRefused::Stopped)
    }

    /// The customer of a conversation with agent `ext` (connected or
    /// offered to them); `None` when it is not theirs.
    pub async fn desk_customer(
        &self,
        ext: String,
        conversation: ura_channels::ConversationId,
    ) -> Result<Option<chats::Customer>, inputs::ChatRefused> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inputs.chat(chats::ChatInput::DeskCustomer {
            ext,
            conversation,
            reply,
        })?;
        answer.await.map_err(|_| inputs::ChatRefused::Stopped)
    }

    /// The open conversations of a text channel.
    pub async fn open_conversations(&self, channel: String) -> Result<Vec<String>, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inputs
            .chat(chats::ChatInput::OpenConversations { channel, reply })
            .map_err(|e| match e {
                inputs::ChatRefused::Busy => "ura is busy: try again".to_string(),
                inputs::ChatRefused::Stopped => "ura is stopping".to_string(),
            })?;
        answer.await.map_err(|_| "ura is stopping".to_string())
    }

    /// The live view of queues and agents.
    pub async fn queue_status(&self) -> Option<serde_json::Value> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inputs
            .send_wait(CoreInput::Status { reply })
            .await
            .ok()?;
        answer.await.ok()
    }
}

/// The agents' SIP credentials (extension, password).
fn agent_users(config: &Config) -> Vec<(String, String)> {
    config
        .routing
        .agents
        .iter()
        .filter_map(|(ext, a)| a.password.clone().map(|p| (ext.clone(), p)))
        .collect()
}

/// Where the RTP sockets bind: `[::]` (dual-stack: IPv6 and IPv4 offers
/// alike) when SIP listens on every address, else the advertised address.
fn media_bind_ip(config: &Config) -> std::net::IpAddr {
    if config.sip.ip().is_unspecified() {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        config.advertise
    }
}

struct Core {
    endpoint: Endpoint,
    sockets: sip_io::SipSockets,
    calls: Calls,
    prompt_admin: PromptSaver,
    registrations: registrations::Registrations,
}

/// Saves prompts recorded by phone, off the core task.
struct PromptSaver {
    store: Store,
    library: ura_prompts::PromptLibrary,
    inputs: inputs::Lanes,
}

impl PromptSaver {
    fn save_recording(&self, name: String, pcm: Vec<i16>) {
        let (store, library, inputs) = (
            self.store.clone(),
            self.library.clone(),
            self.inputs.clone(),
        );
        tokio::spawn(async move {
            let meta = crate::prompt_admin::NewPrompt {
                name: name.clone(),
                language: "pt-BR".into(),
                source: ura_store::PromptSource::Recording,
                tts: None,
            };
            let wav = crate::prompt_admin::wav_bytes(&pcm);
            match crate::prompt_admin::save(&store, &library, wav, meta).await {
                Ok((record, frames)) => {
                    tracing::info!(prompt = %name, ms = record.duration_ms, "recorded prompt saved");
                    let _ = inputs.send(CoreInput::PromptSaved { name, frames });
                }
                Err(e) => tracing::warn!(prompt = %name, error = %e, "recorded prompt not saved"),
            }
        });
    }
}

impl Core {
    fn deadline(&self) -> Option<Instant> {
        [self.endpoint.poll_timeout(), self.calls.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the SIP and per-call timers that are due. Called before every
    /// input, so timers (Timer B/H, hang-ups) are never starved by a busy
    /// queue.
    fn run_timers(&mut self) {
        let now = Instant::now();
        if self.deadline().is_some_and(|d| d <= now) {
            self.endpoint.handle_timeout(now);
            self.calls.handle_timeout(now, &mut self.endpoint);
            self.flush();
            // The endpoint's sizes for /metrics: every transaction ends on a
            // timer, so this is never stale for long.
            let counters = self.calls.counters();
            let (txs, dialogs) = (
                self.endpoint.transaction_count(),
                self.endpoint.dialog_count(),
            );
            counters.sip_transactions.store(txs, Ordering::Relaxed);
            counters.sip_dialogs.store(dialogs, Ordering::Relaxed);
        }
    }

    async fn run(mut self, mut lanes: inputs::LaneReceivers, mut stop: watch::Receiver<bool>) {
        loop {
            self.run_timers();
            let sleep = sleep_until(self.deadline());
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                input = lanes.high.recv() => match input {
                    Some(input) => {
                        if !self.handle(input) {
                            break;
                        }
                    }
                    None => break,
                },
                chat = lanes.chat.recv() => match chat {
                    Some(input) => {
                        self.calls.chat_input(Instant::now(), input);
                        self.flush();
                    }
                    None => break,
                },
                new = lanes.new.recv() => match new {
                    Some(req) => self.new_request(req, lanes.new.len()),
                    None => break,
                },
                _ = sleep => {}
            }
        }
        self.stop(lanes).await;
    }

    /// A new request from its lane: handled, or shed if it waited too long.
    fn new_request(&mut self, req: inputs::NewRequest, backlog: usize) {
        if let Some(why) = self.prompt_admin.inputs.triage(&req, backlog) {
            self.prompt_admin.inputs.shed(req, why);
            return;
        }
        self.handle(CoreInput::Sip {
            flow: req.flow,
            data: req.data,
        });
    }

    /// Handles one input; false to stop.
    fn handle(&mut self, input: CoreInput) -> bool {
        let now = Instant::now();
        match input {
            CoreInput::Sip { flow, data } => self.endpoint.handle_input(now, flow, &data),
            CoreInput::TcpOpened { id, writer } => self.sockets.tcp_opened(id, writer),
            CoreInput::TcpClosed { id } => self.sockets.tcp_closed(id),
            CoreInput::Media(ev) => self.calls.on_media(now, &mut self.endpoint, ev),
            CoreInput::AnswerDue(d) => self.calls.answer(now, &mut self.endpoint, d),
            CoreInput::SavePrompt { name, pcm } => self.prompt_admin.save_recording(name, pcm),
            CoreInput::PromptSaved { name, frames } => self.calls.prompt_saved(name, frames),
            CoreInput::Reload {
                config,
                routing,
                prompts,
            } => {
                self.endpoint.set_users(agent_users(&config));
                self.calls.reload(*config, routing, prompts)
            }
            CoreInput::Agent { ext, cmd, reply } => {
                let _ = reply.send(self.calls.agent_command(now, &ext, &cmd));
            }
            CoreInput::Status { reply } => {
                let _ = reply.send(self.calls.queue_status(now));
            }
            CoreInput::Shutdown => return false,
        }
        self.flush();
        true
    }

    /// Sends what the endpoint produced and hands its events to the calls.
    fn flush(&mut self) {
        let now = Instant::now();
        loop {
            while let Some(out) = self.endpoint.poll_output() {
                match out {
                    Output::Transmit(t) => self.sockets.send(t),
                    Output::Event(e) => {
                        self.registrations.on_event(&e);
                        self.calls.on_sip(now, &mut self.endpoint, e)
                    }
                }
            }
            // The router's decisions may send SIP (ringing an agent).
            if !self.calls.drain_router(now, &mut self.endpoint) {
                break;
            }
        }
    }

    /// Hangs up every call, then keeps serving the high lane (BYE answers,
    /// ACKs, media) until the calls are gone, at most [`STOP_GRACE`]; new
    /// requests meanwhile get 503 from the shedder.
    async fn stop(mut self, mut lanes: inputs::LaneReceivers) {
        let start = Instant::now();
        tracing::info!(
            calls = self.calls.count(),
            "stopping: hanging up every call"
        );
        self.calls.hangup_all(start, &mut self.endpoint);
        self.flush();
        let until = start + STOP_GRACE;
        // Once the calls are gone, a moment for the BYEs' answers.
        let mut linger: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if self.calls.count() == 0 && linger.is_none() {
                linger = Some(now + Duration::from_millis(200));
            }
            let end = linger.map_or(until, |l| l.min(until));
            if now >= end {
                break;
            }
            self.run_timers();
            let wake = self.deadline().map_or(end, |d| d.min(end));
            tokio::select! {
                biased;
                input = lanes.high.recv() => match input {
                    Some(CoreInput::Shutdown) | None => {}
                    Some(input) => {
                        self.handle(input);
                    }
                },
                new = lanes.new.recv() => {
                    if let Some(req) = new {
                        self.prompt_admin.inputs.shed(req, inputs::Shed::Stopping);
                    }
                }
                _ = sleep_until(Some(wake)) => {}
            }
        }
        if self.calls.count() > 0 {
            tracing::warn!(
                calls = self.calls.count(),
                "calls still up after {STOP_GRACE:?}: recorded as ended by shutdown"
            );
        }
        self.calls.shutdown();
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Maps media streams back to calls.
pub(crate) type StreamIndex = HashMap<StreamId, DialogId>;

/// For `/health`.
pub fn active_calls(c: &Counters) -> usize {
    c.active_calls.load(Ordering::Relaxed)
}
