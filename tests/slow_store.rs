//! A store that stops answering (PostgreSQL frozen with SIGSTOP) slows no
//! call and loses no record: calls are answered and hung up as usual, and
//! their records are written once the database answers again.
//!
//! The test runs a PostgreSQL cluster of its own (initdb in a temporary
//! folder, on a free port, as the `postgres` user), so freezing it touches
//! nothing else.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::caller::Caller;
use common::Ura;

/// The PostgreSQL server programs (`initdb`, `pg_ctl`) of this machine.
fn pg_bin() -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .find(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL's initdb not found under /usr/lib/postgresql: {}",
                common::missing_peer_hint("postgresql")
            )
        })
}

/// A private cluster, stopped (immediately) on drop.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .expect("runuser")
}

impl Cluster {
    fn start() -> Cluster {
        let bin = pg_bin();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            panic!(
                "this test runs its own PostgreSQL as the `postgres` user, which needs root \
                 (as .ci/run is); leave it out with `cargo nextest run --workspace --profile no-peers`"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "ura-pg-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(chown.success(), "chown the cluster folder to postgres");
        let data = dir.join("data");
        let init = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = common::sipp::free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
        let log = dir.join("log");
        let started = as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Cluster { bin, dir, port }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Sends `signal` to every backend, then to the postmaster (a backend
    /// may end meanwhile: only the postmaster must be there).
    fn signal(&self, signal: &str) -> bool {
        let Ok(pidfile) = std::fs::read_to_string(self.dir.join("data/postmaster.pid")) else {
            return false;
        };
        let pid = pidfile.lines().next().unwrap_or("").trim().to_string();
        let children = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
        for child in String::from_utf8_lossy(&children.stdout).split_whitespace() {
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child)
                .stderr(std::process::Stdio::null())
                .status();
        }
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(&pid)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.signal("CONT");
        let data = self.dir.join("data");
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ura calls list` on the cluster: (number, cause/side) per record.
fn records(url: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args([
            "calls", "list", "--format", "json", "--limit", "1000", "--store", url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            format!(
                "{} {}/{}",
                r["number"].as_str().unwrap_or("?"),
                r["hangup_cause"].as_str().unwrap_or("?"),
                r["hangup_side"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn a_frozen_database_slows_no_call_and_loses_no_record() {
    let pg = Cluster::start();
    let url = pg.url();
    let ura = Ura::start(&["--store", &url]);
    let call = || {
        let mut c = Caller::new(ura.sip, false);
        let started = Instant::now();
        assert_eq!(c.call("9100").status(), Some(200));
        let answered = started.elapsed();
        c.silence(5);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(c.bye(), Some(200));
        assert!(
            !c.audio().is_empty(),
            "the caller heard ura while the database was frozen"
        );
        answered
    };
    call();
    assert!(pg.signal("STOP"), "the postmaster is there to freeze");
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        slowest = slowest.max(call());
    }
    // Bounded loosely: the point is that nothing waits on the database.
    assert!(slowest < Duration::from_secs(2), "answered in {slowest:?}");
    // The records wait in ura's queue meanwhile (the database really is
    // frozen, and ura really did not wait for it).
    let pending = || -> f64 {
        let text = ureq::get(format!("http://{}/metrics", ura.http))
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("ura_call_records_pending "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    assert!(pending() >= 10.0, "records pending: {}", pending());
    assert!(pg.signal("CONT"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = records(&url);
        let done = rows
            .iter()
            .filter(|r| r.ends_with("caller-bye/caller"))
            .count();
        if done >= 11 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(rows.len(), 11, "{rows:?}");
    assert!(
        rows.iter().all(|r| r == "9100 caller-bye/caller"),
        "{rows:?}\n{}",
        ura.logs().join("\n")
    );
}
