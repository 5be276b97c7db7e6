//! Configuration: defaults, then the TOML file, then `URA_*` variables and
//! flags (clap merges those two; a flag wins over its variable).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::error::UraError;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Flags of `ura serve` (each also read from its `URA_*` variable).
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// SIP address (UDP and TCP); `[::]` (the default) takes IPv6 and IPv4
    /// on the same dual-stack sockets (`0.0.0.0` where there is no IPv6).
    #[arg(long, env = "URA_SIP")]
    pub sip: Option<SocketAddr>,
    /// HTTP address (`/health`).
    #[arg(long, env = "URA_HTTP")]
    pub http: Option<SocketAddr>,
    /// RTP port range, `LO-HI`.
    #[arg(long, env = "URA_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// Data directory.
    #[arg(long, env = "URA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "URA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "URA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Address written in SDP, Contact and Via when the Request-URI does not
    /// name an IP of ours: one, or an IPv4 and an IPv6 address separated by
    /// a comma, each used toward peers of its family (default: the SIP bind
    /// address; on `[::]`/`0.0.0.0`, the address the system sends from
    /// toward the caller's media, else 127.0.0.1 / ::1).
    #[arg(long, env = "URA_ADVERTISE")]
    pub advertise: Option<Advertise>,
    /// Ring (180) this long before answering, in milliseconds.
    #[arg(long, env = "URA_RING_MS")]
    pub ring_ms: Option<u64>,
    /// Hang up when no RTP arrives for this many seconds (not while on hold).
    #[arg(long, env = "URA_RTP_TIMEOUT")]
    pub rtp_timeout: Option<u64>,
    /// Media worker threads (default: one per core).
    #[arg(long, env = "URA_MEDIA_WORKERS")]
    pub media_workers: Option<usize>,
    /// Run media workers at real-time priority when allowed (default true).
    #[arg(long, env = "URA_MEDIA_REALTIME")]
    pub media_realtime: Option<bool>,
    /// SIP timer T1 in milliseconds (T2 = 8·T1, T4 = 10·T1 unless set in the file).
    #[arg(long, env = "URA_SIP_T1_MS")]
    pub sip_t1_ms: Option<u64>,
    /// Store URL (`sqlite://…` or `postgres://…`; default: `ura.db` in the data directory).
    #[arg(long, env = "URA_STORE")]
    pub store: Option<String>,
    /// Feature code that records prompts by phone.
    #[arg(long, env = "URA_RECORDING_CODE")]
    pub recording_code: Option<String>,
    /// PIN for recording by phone; without one the feature is off.
    #[arg(long, env = "URA_RECORDING_PIN")]
    pub recording_pin: Option<String>,
    /// Most calls at once; a call beyond gets 503 (default: as many as the
    /// RTP ports allow).
    #[arg(long, env = "URA_MAX_CALLS")]
    pub max_calls: Option<usize>,
    /// Digest challenges offered to agents' phones: `md5+sha256` (default),
    /// `sha256+md5`, `md5` (for phones that give up on SHA-256, such as
    /// baresip 1.0) or `sha256`.
    #[arg(long, env = "URA_SIP_DIGEST")]
    pub sip_digest: Option<String>,
    /// New requests (INVITE, REGISTER…) per second one address may send
    /// (default 50, burst 100; 0: no limit); past it they get 503.
    /// `trusted_sources` in the file (default 127.0.0.1 and ::1) are never
    /// limited.
    #[arg(long, env = "URA_SOURCE_RATE")]
    pub source_rate: Option<f64>,
}

/// The `[server]`-less TOML file: the same keys as the flags, snake_case.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    sip: Option<SocketAddr>,
    http: Option<SocketAddr>,
    rtp_ports: Option<String>,
    data_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    advertise: Option<Advertise>,
    ring_ms: Option<u64>,
    rtp_timeout: Option<u64>,
    media_workers: Option<usize>,
    media_realtime: Option<bool>,
    sip_t1_ms: Option<u64>,
    sip_t2_ms: Option<u64>,
    sip_t4_ms: Option<u64>,
    store: Option<String>,
    recording_code: Option<String>,
    recording_pin: Option<String>,
    max_calls: Option<usize>,
    sip_digest: Option<String>,
    source_rate: Option<f64>,
    source_burst: Option<f64>,
    trusted_sources: Option<Vec<IpAddr>>,
    #[serde(default)]
    numbers: Vec<crate::routing::NumberConfig>,
    #[serde(default)]
    schedules: std::collections::BTreeMap<String, ura_ivr::ScheduleConfig>,
    #[serde(default)]
    services: std::collections::BTreeMap<String, crate::routing::ServiceConfig>,
    #[serde(default)]
    ivrs: std::collections::BTreeMap<String, ura_ivr::IvrConfig>,
    #[serde(default)]
    queues: std::collections::BTreeMap<String, crate::queues::QueueConfig>,
    #[serde(default)]
    agents: std::collections::BTreeMap<String, crate::queues::AgentConfig>,
    #[serde(default)]
    channels: std::collections::BTreeMap<String, ura_channels::ChannelConfig>,
    #[serde(default)]
    smtp: std::collections::BTreeMap<String, ura_channels::SmtpConfig>,
}

/// The settings ura runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// SIP bind address.
    pub sip: SocketAddr,
    /// HTTP bind address.
    pub http: SocketAddr,
    /// RTP ports, inclusive.
    pub rtp_ports: (u16, u16),
    /// Data directory.
    pub data_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Fallback address for SDP/Contact/Via.
    pub advertise: IpAddr,
    /// Fallback address of the other family, for peers of that family.
    pub advertise_other: Option<IpAddr>,
    /// The addresses `--advertise` gave (none: derived from `sip`).
    pub advertise_given: Advertise,
    /// Ring time before answering.
    pub ring: Duration,
    /// RTP inactivity timeout.
    pub rtp_timeout: Duration,
    /// Media worker count.
    pub media_workers: usize,
    /// Media workers at real-time priority when allowed.
    pub media_realtime: bool,
    /// SIP timers.
    pub timers: ura_sip::TimerConfig,
    /// Store URL.
    pub store_url: String,
    /// Feature code for recording prompts by phone.
    pub recording_code: String,
    /// Its PIN (None: the feature is off).
    pub recording_pin: Option<String>,
    /// Most calls at once (None: as many as the RTP ports allow).
    pub max_calls: Option<usize>,
    /// Digest challenges offered to agents' phones.
    pub sip_digest: ura_sip::DigestOffer,
    /// New requests per second per source address (0: no limit).
    pub source_rate: f64,
    /// How many at once.
    pub source_burst: f64,
    /// Addresses never limited.
    pub trusted_sources: Vec<IpAddr>,
    /// Numbers, schedules, services and IVRs (the demo when the file has no numbers).
    pub routing: crate::routing::RoutingConfig,
    /// The same, in the file's shape (JSON), for the admin API.
    pub routing_tables: serde_json::Value,
    /// The file that holds the routing (file mode); `None`: the store
    /// holds it (store mode).
    pub routing_file: Option<PathBuf>,
}

/// Addresses to advertise, at most one per family: `IP` or `IP,IP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Advertise {
    /// The IPv4 address.
    pub v4: Option<std::net::Ipv4Addr>,
    /// The IPv6 address.
    pub v6: Option<std::net::Ipv6Addr>,
}

impl Advertise {
    /// The address of a family (`v6`), if given.
    pub fn of(&self, v6: bool) -> Option<IpAddr> {
        match v6 {
            true => self.v6.map(IpAddr::V6),
            false => self.v4.map(IpAddr::V4),
        }
    }
}

impl std::str::FromStr for Advertise {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut a = Advertise::default();
        for part in s.split(',').map(str::trim) {
            let ip: IpAddr = part
                .parse()
                .map_err(|_| format!("{part:?} is not an IP address"))?;
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(format!("{ip} cannot be advertised"));
            }
            let twice = match ip.to_canonical() {
                IpAddr::V4(v4) => a.v4.replace(v4).is_some(),
                IpAddr::V6(v6) => a.v6.replace(v6).is_some(),
            };
            if twice {
                return Err("at most one address per family".into());
            }
        }
        Ok(a)
    }
}

impl<'de> Deserialize<'de> for Advertise {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The address advertised to peers of a family (`v6`) when none is given:
/// the SIP address when it is of that family; for `[::]` and `0.0.0.0`,
/// loopback (calls work out the media address per call, see
/// `engine::call`); none for a specific address of the other family.
fn default_advertise(sip: SocketAddr, v6: bool) -> Option<IpAddr> {
    let ip = sip.ip();
    if ip.is_unspecified() {
        return Some(match v6 {
            true => std::net::Ipv6Addr::LOCALHOST.into(),
            false => std::net::Ipv4Addr::LOCALHOST.into(),
        });
    }
    (ip.is_ipv6() == v6).then_some(ip)
}

impl Config {
    /// The rate limit per source address for new requests.
    pub fn source_limit(&self) -> crate::engine::sources::SourceLimit {
        crate::engine::sources::SourceLimit {
            rate: self.source_rate,
            burst: self.source_burst,
            trusted: self.trusted_sources.iter().copied().collect(),
        }
    }
}

/// Whether the setting a refusal names (`rtp_ports: …`) was given as a
/// flag (or its variable) rather than in the file.
fn flag_given(args: &ServeArgs, message: &str) -> bool {
    let key = message.split([':', ' ']).next().unwrap_or("");
    match key {
        "rtp_ports" => args.rtp_ports.is_some(),
        "sip_digest" => args.sip_digest.is_some(),
        "recording_pin" => args.recording_pin.is_some(),
        "source_rate" => args.source_rate.is_some(),
        "sip_t1_ms" => args.sip_t1_ms.is_some(),
        "advertise" => args.advertise.is_some(),
        "built-in" => true,
        _ => false,
    }
}

fn parse_digest(s: &str) -> Result<ura_sip::DigestOffer, UraError> {
    use ura_sip::DigestOffer;
    Ok(match s.to_ascii_lowercase().as_str() {
        "md5+sha256" => DigestOffer::Md5ThenSha256,
        "sha256+md5" => DigestOffer::Sha256ThenMd5,
        "md5" => DigestOffer::Md5,
        "sha256" => DigestOffer::Sha256,
        _ => {
            return Err(UraError::Config(format!(
                "sip_digest: {s:?} is not one of md5+sha256, sha256+md5, md5, sha256"
            )))
        }
    })
}

fn parse_ports(s: &str) -> Result<(u16, u16), UraError> {
    let bad = || UraError::Config(format!("rtp_ports: expected LO-HI, got {s:?}"));
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let (lo, hi): (u16, u16) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if lo > hi || hi - lo < 3 || lo < 1024 {
        return Err(UraError::Config(format!(
            "rtp_ports: {s:?} must be LO-HI with 1024 <= LO, and at least 4 ports"
        )));
    }
    Ok((lo, hi))
}

impl Config {
    /// Reads the file named by `--config` (if any) and layers flags over it.
    pub fn resolve(args: &ServeArgs) -> Result<Config, UraError> {
        let file = match &args.config {
            Some(path) => Some(read_file(path)?),
            None => None,
        };
        Config::resolve_text(args, file)
    }

    /// Checks a configuration file's text as `ura serve --config PATH` does
    /// (the settings, then the routing by the engine's rules), without
    /// reading `path`: it only names the file in errors. For tests and the
    /// `config` fuzz target.
    #[doc(hidden)]
    pub fn from_file_text(path: &Path, text: &str) -> Result<Config, UraError> {
        let args = ServeArgs {
            config: Some(path.to_path_buf()),
            ..ServeArgs::default()
        };
        let file = parse_file(path, text.to_string())?;
        Config::resolve_text(&args, Some(file))
    }

    /// [`Config::resolve`] with the file (if any) already read.
    fn resolve_text(
        args: &ServeArgs,
        file: Option<(FileConfig, String)>,
    ) -> Result<Config, UraError> {
        let (file, file_text) = file.unwrap_or_default();
        // A refused setting that came from the file names the file.
        Config::resolve_with(args, file, file_text).map_err(|e| match (&args.config, e) {
            (Some(path), UraError::Config(m))
                if !m.starts_with(&path.display().to_string()) && !flag_given(args, &m) =>
            {
                UraError::Config(format!("{}: {m}", path.display()))
            }
            (_, e) => e,
        })
    }

    fn resolve_with(
        args: &ServeArgs,
        file: FileConfig,
        file_text: String,
    ) -> Result<Config, UraError> {
        let sip = args
            .sip
            .or(file.sip)
            .unwrap_or((std::net::Ipv6Addr::UNSPECIFIED, 5060).into());
        let advertise_given = args.advertise.or(file.advertise).unwrap_or_default();
        let of = |v6: bool| {
            advertise_given
                .of(v6)
                .or_else(|| default_advertise(sip, v6))
        };
        let advertise = of(sip.is_ipv6() && !sip.ip().is_unspecified())
            .or_else(|| of(!sip.is_ipv6()))
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let advertise_other = of(!advertise.is_ipv6());
        let t1 = Duration::from_millis(args.sip_t1_ms.or(file.sip_t1_ms).unwrap_or(500));
        if t1.is_zero() {
            return Err(UraError::Config("sip_t1_ms must be above 0".into()));
        }
        let timers = ura_sip::TimerConfig {
            t1,
            t2: file.sip_t2_ms.map(Duration::from_millis).unwrap_or(t1 * 8),
            t4: file.sip_t4_ms.map(Duration::from_millis).unwrap_or(t1 * 10),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let store_url = args
            .store
            .clone()
            .or(file.store)
            .unwrap_or_else(|| ura_store::Store::sqlite_url(&data_dir));
        let routing_file = match &args.config {
            Some(path) if !file.numbers.is_empty() => Some(path.clone()),
            _ => None,
        };
        let routing_tables = crate::config_api::file_tables(if routing_file.is_some() {
            &file_text
        } else {
            crate::routing::DEMO
        })
        .map_err(UraError::Config)?;
        let routing = if file.numbers.is_empty() {
            toml::from_str(crate::routing::DEMO)
                .map_err(|e| UraError::Config(format!("built-in demo: {e}")))?
        } else {
            crate::routing::RoutingConfig {
                numbers: file.numbers,
                schedules: file.schedules,
                services: file.services,
                ivrs: file.ivrs,
                queues: file.queues,
                agents: file.agents,
                channels: file.channels,
                smtp: file.smtp,
                companies: Default::default(),
            }
        };
        // Refuse a bad routing now, with the file and the field named.
        crate::routing::Routing::build(&routing).map_err(|e| match (&routing_file, e) {
            (Some(path), UraError::Config(m)) => {
                UraError::Config(format!("{}: {m}", path.display()))
            }
            (_, e) => e,
        })?;
        let recording_pin = args.recording_pin.clone().or(file.recording_pin);
        if recording_pin
            .as_deref()
            .is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(UraError::Config("recording_pin: digits only".into()));
        }
        Ok(Config {
            routing_tables,
            routing_file,
            media_realtime: args.media_realtime.or(file.media_realtime).unwrap_or(true),
            recording_code: args
                .recording_code
                .clone()
                .or(file.recording_code)
                .unwrap_or_else(|| "*97".into()),
            recording_pin,
            max_calls: args.max_calls.or(file.max_calls),
            source_rate: {
                let rate = args.source_rate.or(file.source_rate).unwrap_or(50.0);
                if !(0.0..=1e6).contains(&rate) {
                    return Err(UraError::Config(format!(
                        "source_rate: {rate} is not between 0 (no limit) and 1000000"
                    )));
                }
                rate
            },
            source_burst: file.source_burst.unwrap_or(100.0).max(1.0),
            // A proxy on this machine (and the load harness) is trusted
            // unless the file names the trusted addresses itself.
            trusted_sources: file.trusted_sources.unwrap_or_else(|| {
                vec![
                    IpAddr::from([127, 0, 0, 1]),
                    IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                ]
            }),
            sip_digest: parse_digest(
                args.sip_digest
                    .as_deref()
                    .or(file.sip_digest.as_deref())
                    .unwrap_or("md5+sha256"),
            )?,
            routing,
            store_url,
            sip,
            http: args
                .http
                .or(file.http)
                .unwrap_or(([127, 0, 0, 1], 8080).into()),
            rtp_ports: parse_ports(
                args.rtp_ports
                    .as_deref()
                    .or(file.rtp_ports.as_deref())
                    .unwrap_or("20000-29999"),
            )?,
            data_dir,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            advertise,
            advertise_other,
            advertise_given,
            ring: Duration::from_millis(args.ring_ms.or(file.ring_ms).unwrap_or(0)),
            rtp_timeout: Duration::from_secs(args.rtp_timeout.or(file.rtp_timeout).unwrap_or(60)),
            media_workers: args
                .media_workers
                .or(file.media_workers)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
                .max(1),
            timers,
        })
    }
}

impl Config {
    /// What a running ura takes from `new` on reload (SIGHUP): the routing
    /// (numbers, schedules, services, IVRs), the ring time, the recording
    /// code and PIN and the call limit, which every new call reads. The rest stays as it is;
    /// the second value names the settings that differ and need a restart.
    pub fn reloaded(&self, new: Config) -> (Config, Vec<&'static str>) {
        let mut restart = Vec::new();
        let mut differs = |name, changed: bool| {
            if changed {
                restart.push(name);
            }
        };
        differs("sip", self.sip != new.sip);
        differs("http", self.http != new.http);
        differs("rtp_ports", self.rtp_ports != new.rtp_ports);
        differs("data_dir", self.data_dir != new.data_dir);
        differs("log_format", self.log_format != new.log_format);
        differs(
            "advertise",
            (self.advertise, self.advertise_other) != (new.advertise, new.advertise_other),
        );
        differs("rtp_timeout", self.rtp_timeout != new.rtp_timeout);
        differs("media_workers", self.media_workers != new.media_workers);
        differs("media_realtime", self.media_realtime != new.media_realtime);
        differs("sip timers", self.timers != new.timers);
        differs("sip_digest", self.sip_digest != new.sip_digest);
        differs("source_rate", self.source_rate != new.source_rate);
        differs("source_burst", self.source_burst != new.source_burst);
        differs(
            "trusted_sources",
            self.trusted_sources != new.trusted_sources,
        );
        differs("store", self.store_url != new.store_url);
        let applied = Config {
            routing: new.routing,
            routing_tables: new.routing_tables,
            ring: new.ring,
            recording_code: new.recording_code,
            recording_pin: new.recording_pin,
            max_calls: new.max_calls,
            ..self.clone()
        };
        (applied, restart)
    }
}

fn read_file(path: &Path) -> Result<(FileConfig, String), UraError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UraError::Config(format!("{}: {e}", path.display())))?;
    parse_file(path, text)
}

/// A configuration file's settings from its text (`path` names it in errors).
fn parse_file(path: &Path, text: String) -> Result<(FileConfig, String), UraError> {
    let bad = |e: toml::de::Error| UraError::Config(format!("{}: {e}", path.display()));
    let mut value: toml::Table = toml::from_str(&text).map_err(bad)?;
    // `company` (written by `ura config export`) belongs to the store's
    // objects; a file is one company's.
    for kind in ["schedules", "services", "ivrs", "queues", "agents"] {
        if let Some(toml::Value::Table(objects)) = value.get_mut(kind) {
            for (_, object) in objects.iter_mut() {
                if let toml::Value::Table(fields) = object {
                    fields.remove("company");
                }
            }
        }
    }
    let file = FileConfig::deserialize(value).map_err(bad)?;
    Ok((file, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::resolve(&ServeArgs::default()).unwrap();
        assert_eq!(c.sip, "[::]:5060".parse().unwrap());
        assert_eq!(c.http, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.rtp_ports, (20000, 29999));
        assert_eq!(c.advertise, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(c.advertise_other, Some("::1".parse().unwrap()));
        assert_eq!(c.timers, ura_sip::TimerConfig::default());
    }

    #[test]
    fn advertise_takes_one_address_per_family() {
        let a: Advertise = "192.0.2.5, 2001:db8::5".parse().unwrap();
        assert_eq!(a.of(false), Some("192.0.2.5".parse().unwrap()));
        assert_eq!(a.of(true), Some("2001:db8::5".parse().unwrap()));
        assert!("192.0.2.5,192.0.2.6".parse::<Advertise>().is_err());
        assert!("::".parse::<Advertise>().is_err());
        assert!("host".parse::<Advertise>().is_err());
        let args = |sip: &str, adv: Option<&str>| ServeArgs {
            sip: Some(sip.parse().unwrap()),
            advertise: adv.map(|a| a.parse().unwrap()),
            ..ServeArgs::default()
        };
        let c = Config::resolve(&args("[::1]:5060", None)).unwrap();
        assert_eq!(
            (c.advertise, c.advertise_other),
            ("::1".parse().unwrap(), None)
        );
        let c = Config::resolve(&args("127.0.0.1:5060", None)).unwrap();
        assert_eq!(
            (c.advertise, c.advertise_other),
            ("127.0.0.1".parse().unwrap(), None)
        );
        let c = Config::resolve(&args("[::]:5060", Some("2001:db8::5"))).unwrap();
        assert_eq!(c.advertise, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.advertise_other, Some("2001:db8::5".parse().unwrap()));
        let file: FileConfig = toml::from_str("advertise = \"192.0.2.5,2001:db8::5\"").unwrap();
        assert_eq!(file.advertise, Some(a));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("ura-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ura.toml");
        std::fs::write(
            &path,
            "sip = \"127.0.0.1:5070\"\nrtp_ports = \"30000-30099\"\nring_ms = 250\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            sip: Some("127.0.0.1:5080".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.sip.port(), 5080);
        assert_eq!(c.rtp_ports, (30000, 30099));
        assert_eq!(c.ring, Duration::from_millis(250));
        assert_eq!(c.advertise, IpAddr::from([127, 0, 0, 1]));
        std::fs::write(&path, "sipp = 1\n").unwrap();
        let err = Config::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("unknown field `sipp`"), "{err}");
        // A refused setting names the file when it came from the file, not
        // when a flag gave it.
        std::fs::write(&path, "rtp_ports = \"3000-2000\"\n").unwrap();
        let err = Config::resolve(&args).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}: rtp_ports:", path.display())),
            "{err}"
        );
        let flag = ServeArgs {
            rtp_ports: Some("x".into()),
            ..args.clone()
        };
        let err = Config::resolve(&flag).unwrap_err().to_string();
        assert!(err.contains("configuration: rtp_ports:"), "{err}");
    }

    #[test]
    fn reload_takes_routing_ring_and_recording_and_names_the_rest() {
        let old = Config::resolve(&ServeArgs::default()).unwrap();
        let mut new = old.clone();
        new.ring = Duration::from_millis(900);
        new.recording_pin = Some("4321".into());
        new.max_calls = Some(30);
        new.routing.numbers.truncate(1);
        new.sip = "127.0.0.1:5999".parse().unwrap();
        new.rtp_ports = (40000, 40099);
        let (applied, restart) = old.reloaded(new);
        assert_eq!(applied.ring, Duration::from_millis(900));
        assert_eq!(applied.recording_pin.as_deref(), Some("4321"));
        assert_eq!(applied.max_calls, Some(30));
        assert_eq!(applied.routing.numbers.len(), 1);
        assert_eq!(applied.sip, old.sip, "the SIP address needs a restart");
        assert_eq!(applied.rtp_ports, old.rtp_ports);
        assert_eq!(restart, ["sip", "rtp_ports"]);
        let (_, none) = old.reloaded(old.clone());
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn bad_port_ranges_are_refused() {
        for bad in ["x", "20000", "3000-2000", "10-100", "20000-20001"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_text_is_checked_as_serve_checks_the_file() {
        let path = Path::new("ura.toml");
        let config = Config::from_file_text(path, crate::routing::DEMO).unwrap();
        assert_eq!(config.routing_file.as_deref(), Some(path));
        assert!(!config.routing.numbers.is_empty());
        let e = Config::from_file_text(path, "sip_t1_ms = 0\n").unwrap_err();
        assert!(e.to_string().contains("ura.toml: sip_t1_ms"), "{e}");
        assert!(Config::from_file_text(path, "[numbers").is_err());
    }

    /// The `config` fuzz target's stored inputs (seeds, what it found, and
    /// reproducers of what it broke), checked here too: `.ci/run` fuzzes
    /// the light targets only (this one builds the whole of ura).
    #[test]
    fn the_config_fuzz_corpus_is_checked_without_a_panic() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(text) = std::str::from_utf8(&data) {
                let _ = Config::from_file_text(Path::new("fuzz.toml"), text);
                if let Ok(tables) = crate::config_api::file_tables(text) {
                    let _ = crate::config_api::check(&tables);
                }
            }
            n += 1;
        }
        assert!(n >= 2, "the corpus is in {}", dir.display());
    }
}
