//! RFC 3261 §17 transactions as sans-I/O state machines, with the RFC 6026
//! "Accepted" states.
//!
//! A transaction never reads the clock: every method takes `now`, and
//! [`poll_timeout`](ServerInvite::poll_timeout) says when `handle_timeout`
//! must be called next. What a transaction wants done is pushed to an output
//! list ([`TxOutput`]); the endpoint sends the bytes on the transaction's flow.
//!
//! Timers (T1 = 500 ms, T2 = 4 s, T4 = 5 s by default):
//!
//! | timer | transaction | what |
//! |---|---|---|
//! | A | client INVITE | retransmit the INVITE (UDP), T1 doubling |
//! | B | client INVITE | give up, 64·T1 |
//! | D | client INVITE | absorb final retransmissions, 32 s (UDP) / 0 |
//! | E | client non-INVITE | retransmit (UDP), T1 doubling to T2 |
//! | F | client non-INVITE | give up, 64·T1 |
//! | G | server INVITE | retransmit a non-2xx final (UDP), T1 doubling to T2 |
//! | H | server INVITE | give up waiting for the ACK, 64·T1 |
//! | I | server INVITE | absorb ACK retransmissions, T4 (UDP) / 0 |
//! | J | server non-INVITE | absorb request retransmissions, 64·T1 (UDP) / 0 |
//! | K | client non-INVITE | absorb response retransmissions, T4 (UDP) / 0 |
//! | L | server INVITE (RFC 6026) | Accepted: 2xx retransmitted until its ACK, 64·T1 |
//! | M | client INVITE (RFC 6026) | Accepted: absorb 2xx retransmissions, 64·T1 |

use std::time::{Duration, Instant};

/// The base timer values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction asks of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutput {
    /// Send these bytes on the transaction's flow.
    Send(Vec<u8>),
    /// A response for the transaction user (client transactions).
    Response(u16),
    /// The transaction timed out (B, F, H; or L without an ACK).
    Timeout,
    /// The transaction is over and can be dropped.
    Terminated,
}

fn earliest(timers: &[Option<Instant>]) -> Option<Instant> {
    timers.iter().flatten().min().copied()
}

fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// States of the server INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// Waiting for the TU's final response.
    Proceeding,
    /// A non-2xx final was sent; waiting for the ACK.
    Completed,
    /// The ACK arrived; absorbing its retransmissions.
    Confirmed,
    /// A 2xx was sent (RFC 6026); it is retransmitted until the ACK.
    Accepted,
    /// Done.
    Terminated,
}

/// Server INVITE transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).
///
/// In the Accepted state this transaction also retransmits the 2xx until the
/// dialog reports the ACK (RFC 3261 §13.3.1.4 puts that in the TU; keeping
/// it here keeps every timer of a call in one tested place).
#[derive(Debug)]
pub struct ServerInvite {
    timers: TimerConfig,
    reliable: bool,
    state: ServerInviteState,
    last_response: Option<Vec<u8>>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// Timer H (Completed) or L (Accepted).
    give_up_at: Option<Instant>,
    timer_i: Option<Instant>,
    acked: bool,
}

impl ServerInvite {
    /// A new transaction for an INVITE received at `now`.
    pub fn new(timers: TimerConfig, reliable: bool) -> ServerInvite {
        ServerInvite {
            timers,
            reliable,
            state: ServerInviteState::Proceeding,
            last_response: None,
            retransmit_at: None,
            interval: timers.t1,
            give_up_at: None,
            timer_i: None,
            acked: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// The INVITE arrived again: answer with the last response, if any.
    pub fn on_retransmission(&mut self, out: &mut Vec<TxOutput>) {
        if matches!(
            self.state,
            ServerInviteState::Proceeding
                | ServerInviteState::Completed
                | ServerInviteState::Accepted
        ) {
            if let Some(r) = &self.last_response {
                out.push(TxOutput::Send(r.clone()));
            }
        }
    }

    /// The TU sends a response (`code`, whole message bytes).
    pub fn send_response(
        &mut self,
        now: Instant,
        code: u16,
        bytes: Vec<u8>,
        out: &mut Vec<TxOutput>,
    ) {
        if self.state != ServerInviteState::Proceeding {
            return;
        }
        out.push(TxOutput::Send(bytes.clone()));
        self.last_response = Some(bytes);
        if code < 200 {
            return;
        }
        self.interval = self.timers.t1;
        self.give_up_at = Some(now + self.timers.t1x64());
        if (200..300).contains(&code) {
            self.state = ServerInviteState::Accepted;
            self.retransmit_at = Some(now + self.timers.t1);
        } else {
            self.state = ServerInviteState::Completed;
            self.retransmit_at = (!self.reliable).then(|| now + self.timers.t1);
        }
    }

    /// An ACK for a non-2xx final (same branch) arrived.
    pub fn on_ack(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if self.state == ServerInviteState::Completed {
            self.state = ServerInviteState::Confirmed;
            self.retransmit_at = None;
            self.give_up_at = None;
            if self.reliable {
                self.terminate(out);
            } else {
                self.timer_i = Some(now + self.timers.t4);
            }
        }
    }

    /// The dialog got the ACK for our 2xx: stop retransmitting it. Returns
    /// true the first time.
    pub fn on_2xx_ack(&mut self) -> bool {
        if self.state == ServerInviteState::Accepted && !self.acked {
            self.acked = true;
            self.retransmit_at = None;
            return true;
        }
        false
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.retransmit_at, self.give_up_at, self.timer_i])
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if due(self.retransmit_at, now) {
            if let Some(r) = &self.last_response {
                out.push(TxOutput::Send(r.clone()));
            }
            self.interval = (self.interval * 2).min(self.timers.t2);
            self.retransmit_at = Some(now + self.interval);
        }
        if due(self.give_up_at, now) {
            // Timer H (no ACK for a non-2xx) or Timer L (Accepted over).
            let timed_out = self.state == ServerInviteState::Completed || !self.acked;
            if timed_out {
                out.push(TxOutput::Timeout);
            }
            self.terminate(out);
        }
        if due(self.timer_i, now) {
            self.terminate(out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        if self.state != ServerInviteState::Terminated {
            self.state = ServerInviteState::Terminated;
            self.retransmit_at = None;
            self.give_up_at = None;
            self.timer_i = None;
            out.push(TxOutput::Terminated);
        }
    }
}

/// States of a non-INVITE transaction (server or client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteState {
    /// Nothing answered yet.
    Trying,
    /// A provisional response was sent/received.
    Proceeding,
    /// A final response was sent/received.
    Completed,
    /// Done.
    Terminated,
}

/// Server non-INVITE transaction (RFC 3261 §17.2.2).
#[derive(Debug)]
pub struct ServerNonInvite {
    timers: TimerConfig,
    reliable: bool,
    state: NonInviteState,
    last_response: Option<Vec<u8>>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    /// A new transaction for a request received now.
    pub fn new(timers: TimerConfig, reliable: bool) -> ServerNonInvite {
        ServerNonInvite {
            timers,
            reliable,
            state: NonInviteState::Trying,
            last_response: None,
            timer_j: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> NonInviteState {
        self.state
    }

    /// The request arrived again.
    pub fn on_retransmission(&mut self, out: &mut Vec<TxOutput>) {
        if matches!(
            self.state,
            NonInviteState::Proceeding | NonInviteState::Completed
        ) {
            if let Some(r) = &self.last_response {
                out.push(TxOutput::Send(r.clone()));
            }
        }
    }

    /// The TU sends a response.
    pub fn send_response(
        &mut self,
        now: Instant,
        code: u16,
        bytes: Vec<u8>,
        out: &mut Vec<TxOutput>,
    ) {
        if matches!(
            self.state,
            NonInviteState::Completed | NonInviteState::Terminated
        ) {
            return;
        }
        out.push(TxOutput::Send(bytes.clone()));
        self.last_response = Some(bytes);
        if code < 200 {
            self.state = NonInviteState::Proceeding;
        } else if self.reliable {
            self.state = NonInviteState::Completed;
            self.terminate(out);
        } else {
            self.state = NonInviteState::Completed;
            self.timer_j = Some(now + self.timers.t1x64());
        }
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    /// Runs the timers due at `now` (Timer J).
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if due(self.timer_j, now) {
            self.terminate(out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        self.timer_j = None;
        self.state = NonInviteState::Terminated;
        out.push(TxOutput::Terminated);
    }
}

/// States of the client INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, nothing back.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A non-2xx final arrived; ACK sent.
    Completed,
    /// A 2xx arrived (RFC 6026); its retransmissions go to the TU.
    Accepted,
    /// Done.
    Terminated,
}

/// Client INVITE transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).
#[derive(Debug)]
pub struct ClientInvite {
    timers: TimerConfig,
    reliable: bool,
    state: ClientInviteState,
    request: Vec<u8>,
    ack: Option<Vec<u8>>,
    timer_a: Option<Instant>,
    interval: Duration,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
}

impl ClientInvite {
    /// Starts the transaction: sends `request` now.
    pub fn start(
        now: Instant,
        timers: TimerConfig,
        reliable: bool,
        request: Vec<u8>,
        out: &mut Vec<TxOutput>,
    ) -> ClientInvite {
        out.push(TxOutput::Send(request.clone()));
        ClientInvite {
            timers,
            reliable,
            state: ClientInviteState::Calling,
            request,
            ack: None,
            timer_a: (!reliable).then(|| now + timers.t1),
            interval: timers.t1,
            timer_b: Some(now + timers.t1x64()),
            timer_d: None,
            timer_m: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// A response arrived. `ack` builds the ACK for a non-2xx final (the
    /// transaction sends it, and again for each retransmitted final).
    pub fn on_response(
        &mut self,
        now: Instant,
        code: u16,
        ack: impl FnOnce() -> Vec<u8>,
        out: &mut Vec<TxOutput>,
    ) {
        match self.state {
            ClientInviteState::Calling | ClientInviteState::Proceeding => {
                self.timer_a = None;
                if code < 200 {
                    self.state = ClientInviteState::Proceeding;
                    out.push(TxOutput::Response(code));
                } else if code < 300 {
                    self.timer_b = None;
                    self.state = ClientInviteState::Accepted;
                    self.timer_m = Some(now + self.timers.t1x64());
                    out.push(TxOutput::Response(code));
                } else {
                    self.timer_b = None;
                    self.state = ClientInviteState::Completed;
                    let ack = ack();
                    out.push(TxOutput::Send(ack.clone()));
                    self.ack = Some(ack);
                    out.push(TxOutput::Response(code));
                    if self.reliable {
                        self.terminate(out);
                    } else {
                        self.timer_d =
                            Some(now + Duration::from_secs(32).max(self.timers.t1x64() / 2));
                    }
                }
            }
            ClientInviteState::Completed => {
                if code >= 300 {
                    if let Some(a) = &self.ack {
                        out.push(TxOutput::Send(a.clone()));
                    }
                }
            }
            ClientInviteState::Accepted => {
                // Retransmitted 2xx go to the TU, which re-sends its ACK.
                if (200..300).contains(&code) {
                    out.push(TxOutput::Response(code));
                }
            }
            ClientInviteState::Terminated => {}
        }
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_a, self.timer_b, self.timer_d, self.timer_m])
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if due(self.timer_a, now) {
            out.push(TxOutput::Send(self.request.clone()));
            self.interval *= 2;
            self.timer_a = Some(now + self.interval);
        }
        if due(self.timer_b, now) {
            out.push(TxOutput::Timeout);
            self.terminate(out);
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.terminate(out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        if self.state != ClientInviteState::Terminated {
            self.state = ClientInviteState::Terminated;
            self.timer_a = None;
            self.timer_b = None;
            self.timer_d = None;
            self.timer_m = None;
            out.push(TxOutput::Terminated);
        }
    }
}

/// Client non-INVITE transaction (RFC 3261 §17.1.2).
#[derive(Debug)]
pub struct ClientNonInvite {
    timers: TimerConfig,
    reliable: bool,
    state: NonInviteState,
    request: Vec<u8>,
    timer_e: Option<Instant>,
    interval: Duration,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// Starts the transaction: sends `request` now.
    pub fn start(
        now: Instant,
        timers: TimerConfig,
        reliable: bool,
        request: Vec<u8>,
        out: &mut Vec<TxOutput>,
    ) -> ClientNonInvite {
        out.push(TxOutput::Send(request.clone()));
        ClientNonInvite {
            timers,
            reliable,
            state: NonInviteState::Trying,
            request,
            timer_e: (!reliable).then(|| now + timers.t1),
            interval: timers.t1,
            timer_f: Some(now + timers.t1x64()),
            timer_k: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> NonInviteState {
        self.state
    }

    /// A response arrived.
    pub fn on_response(&mut self, now: Instant, code: u16, out: &mut Vec<TxOutput>) {
        match self.state {
            NonInviteState::Trying | NonInviteState::Proceeding => {
                out.push(TxOutput::Response(code));
                if code < 200 {
                    self.state = NonInviteState::Proceeding;
                    return;
                }
                self.state = NonInviteState::Completed;
                self.timer_e = None;
                self.timer_f = None;
                if self.reliable {
                    self.terminate(out);
                } else {
                    self.timer_k = Some(now + self.timers.t4);
                }
            }
            NonInviteState::Completed | NonInviteState::Terminated => {}
        }
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_e, self.timer_f, self.timer_k])
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if due(self.timer_e, now) {
            out.push(TxOutput::Send(self.request.clone()));
            // In Proceeding the interval is T2 (RFC 3261 §17.1.2.2).
            self.interval = if self.state == NonInviteState::Proceeding {
                self.timers.t2
            } else {
                (self.interval * 2).min(self.timers.t2)
            };
            self.timer_e = Some(now + self.interval);
        }
        if due(self.timer_f, now) {
            out.push(TxOutput::Timeout);
            self.terminate(out);
        }
        if due(self.timer_k, now) {
            self.terminate(out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        if self.state != NonInviteState::Terminated {
            self.state = NonInviteState::Terminated;
            self.timer_e = None;
            self.timer_f = None;
            self.timer_k = None;
            out.push(TxOutput::Terminated);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Drives a machine through simulated time, recording when it sent.
    fn run_until<T>(
        tx: &mut T,
        start: Instant,
        end: Duration,
        poll: impl Fn(&T) -> Option<Instant>,
        fire: impl Fn(&mut T, Instant, &mut Vec<TxOutput>),
    ) -> Vec<(Duration, TxOutput)> {
        let mut log = Vec::new();
        while let Some(t) = poll(tx) {
            if t > start + end {
                break;
            }
            let mut out = Vec::new();
            fire(tx, t, &mut out);
            log.extend(out.into_iter().map(|o| (t - start, o)));
        }
        log
    }

    fn sends(log: &[(Duration, TxOutput)]) -> Vec<u64> {
        log.iter()
            .filter(|(_, o)| matches!(o, TxOutput::Send(_)))
            .map(|(t, _)| t.as_millis() as u64)
            .collect()
    }

    #[test]
    fn timer_a_doubles_and_timer_b_gives_up_at_64_t1() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ClientInvite::start(
            t0,
            TimerConfig::default(),
            false,
            b"INVITE".to_vec(),
            &mut out,
        );
        assert_eq!(out, vec![TxOutput::Send(b"INVITE".to_vec())]);
        let log = run_until(
            &mut tx,
            t0,
            Duration::from_secs(40),
            |t| t.poll_timeout(),
            |t, n, o| t.handle_timeout(n, o),
        );
        // Retransmissions at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s.
        assert_eq!(sends(&log), vec![500, 1500, 3500, 7500, 15500, 31500]);
        let ends: Vec<_> = log
            .iter()
            .filter(|(_, o)| !matches!(o, TxOutput::Send(_)))
            .collect();
        assert_eq!(ends[0], &(Duration::from_secs(32), TxOutput::Timeout));
        assert_eq!(tx.state(), ClientInviteState::Terminated);
    }

    #[test]
    fn timer_a_is_not_used_on_tcp_but_b_is() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let tx = ClientInvite::start(
            t0,
            TimerConfig::default(),
            true,
            b"INVITE".to_vec(),
            &mut out,
        );
        assert_eq!(tx.poll_timeout(), Some(t0 + 64 * 500 * MS));
    }

    #[test]
    fn timer_d_absorbs_final_retransmissions_then_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ClientInvite::start(
            t0,
            TimerConfig::default(),
            false,
            b"INVITE".to_vec(),
            &mut out,
        );
        out.clear();
        tx.on_response(t0 + 100 * MS, 180, Vec::new, &mut out);
        assert_eq!(out, vec![TxOutput::Response(180)]);
        out.clear();
        tx.on_response(t0 + 200 * MS, 486, || b"ACK".to_vec(), &mut out);
        assert_eq!(
            out,
            vec![TxOutput::Send(b"ACK".to_vec()), TxOutput::Response(486)]
        );
        out.clear();
        // Retransmitted 486: ACK again, not passed up.
        tx.on_response(t0 + 300 * MS, 486, || unreachable!(), &mut out);
        assert_eq!(out, vec![TxOutput::Send(b"ACK".to_vec())]);
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + 200 * MS + Duration::from_secs(32))
        );
        out.clear();
        tx.handle_timeout(t0 + 200 * MS + Duration::from_secs(32), &mut out);
        assert_eq!(out, vec![TxOutput::Terminated]);
    }

    #[test]
    fn timer_m_passes_2xx_retransmissions_then_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ClientInvite::start(
            t0,
            TimerConfig::default(),
            false,
            b"INVITE".to_vec(),
            &mut out,
        );
        out.clear();
        tx.on_response(t0, 200, Vec::new, &mut out);
        tx.on_response(t0 + 500 * MS, 200, Vec::new, &mut out);
        assert_eq!(out, vec![TxOutput::Response(200), TxOutput::Response(200)]);
        assert_eq!(tx.poll_timeout(), Some(t0 + 32_000 * MS));
        out.clear();
        tx.handle_timeout(t0 + 32_000 * MS, &mut out);
        assert_eq!(out, vec![TxOutput::Terminated]);
    }

    #[test]
    fn timer_e_doubles_to_t2_and_timer_f_gives_up() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx =
            ClientNonInvite::start(t0, TimerConfig::default(), false, b"BYE".to_vec(), &mut out);
        let log = run_until(
            &mut tx,
            t0,
            Duration::from_secs(40),
            |t| t.poll_timeout(),
            |t, n, o| t.handle_timeout(n, o),
        );
        assert_eq!(
            sends(&log),
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert!(log.contains(&(Duration::from_secs(32), TxOutput::Timeout)));
        assert_eq!(tx.state(), NonInviteState::Terminated);
    }

    #[test]
    fn timer_e_uses_t2_after_a_provisional() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx =
            ClientNonInvite::start(t0, TimerConfig::default(), false, b"BYE".to_vec(), &mut out);
        tx.on_response(t0 + 100 * MS, 100, &mut out);
        let log = run_until(
            &mut tx,
            t0,
            Duration::from_secs(10),
            |t| t.poll_timeout(),
            |t, n, o| t.handle_timeout(n, o),
        );
        assert_eq!(sends(&log), vec![500, 4500, 8500]);
    }

    #[test]
    fn timer_k_absorbs_then_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx =
            ClientNonInvite::start(t0, TimerConfig::default(), false, b"BYE".to_vec(), &mut out);
        out.clear();
        tx.on_response(t0 + 10 * MS, 200, &mut out);
        tx.on_response(t0 + 20 * MS, 200, &mut out);
        assert_eq!(out, vec![TxOutput::Response(200)]);
        assert_eq!(tx.poll_timeout(), Some(t0 + 5010 * MS));
        out.clear();
        tx.handle_timeout(t0 + 5010 * MS, &mut out);
        assert_eq!(out, vec![TxOutput::Terminated]);
        // Over TCP, K is zero: Completed ends at once.
        let mut tcp =
            ClientNonInvite::start(t0, TimerConfig::default(), true, b"BYE".to_vec(), &mut out);
        out.clear();
        tcp.on_response(t0, 200, &mut out);
        assert_eq!(out, vec![TxOutput::Response(200), TxOutput::Terminated]);
    }

    #[test]
    fn timer_g_doubles_to_t2_and_timer_h_gives_up() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ServerInvite::new(TimerConfig::default(), false);
        tx.send_response(t0, 486, b"486".to_vec(), &mut out);
        assert_eq!(tx.state(), ServerInviteState::Completed);
        let log = run_until(
            &mut tx,
            t0,
            Duration::from_secs(40),
            |t| t.poll_timeout(),
            |t, n, o| t.handle_timeout(n, o),
        );
        assert_eq!(
            sends(&log),
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert!(log.contains(&(Duration::from_secs(32), TxOutput::Timeout)));
        assert_eq!(tx.state(), ServerInviteState::Terminated);
    }

    #[test]
    fn timer_i_absorbs_acks_then_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ServerInvite::new(TimerConfig::default(), false);
        tx.send_response(t0, 487, b"487".to_vec(), &mut out);
        out.clear();
        tx.on_ack(t0 + 100 * MS, &mut out);
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
        assert!(out.is_empty());
        assert_eq!(tx.poll_timeout(), Some(t0 + 5100 * MS));
        tx.handle_timeout(t0 + 5100 * MS, &mut out);
        assert_eq!(out, vec![TxOutput::Terminated]);
        // TCP: no G, and I is zero.
        let mut tcp = ServerInvite::new(TimerConfig::default(), true);
        out.clear();
        tcp.send_response(t0, 487, b"487".to_vec(), &mut out);
        assert_eq!(
            tcp.poll_timeout(),
            Some(t0 + 32_000 * MS),
            "only H is armed"
        );
        tcp.on_ack(t0, &mut out);
        assert_eq!(out.last(), Some(&TxOutput::Terminated));
    }

    #[test]
    fn accepted_retransmits_2xx_until_ack_and_timer_l_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ServerInvite::new(TimerConfig::default(), false);
        tx.send_response(t0, 100, b"100".to_vec(), &mut out);
        tx.send_response(t0, 200, b"200".to_vec(), &mut out);
        assert_eq!(tx.state(), ServerInviteState::Accepted);
        out.clear();
        tx.handle_timeout(t0 + 500 * MS, &mut out);
        tx.handle_timeout(t0 + 1500 * MS, &mut out);
        assert_eq!(
            out,
            vec![
                TxOutput::Send(b"200".to_vec()),
                TxOutput::Send(b"200".to_vec())
            ]
        );
        // A retransmitted INVITE gets the 2xx again.
        out.clear();
        tx.on_retransmission(&mut out);
        assert_eq!(out, vec![TxOutput::Send(b"200".to_vec())]);
        assert!(tx.on_2xx_ack());
        assert!(!tx.on_2xx_ack(), "a second ACK is not news");
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + 32_000 * MS),
            "only Timer L is left"
        );
        out.clear();
        tx.handle_timeout(t0 + 32_000 * MS, &mut out);
        assert_eq!(out, vec![TxOutput::Terminated], "acked: no timeout");
    }

    #[test]
    fn timer_l_without_ack_is_a_timeout() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ServerInvite::new(TimerConfig::default(), false);
        tx.send_response(t0, 200, b"200".to_vec(), &mut out);
        let log = run_until(
            &mut tx,
            t0,
            Duration::from_secs(40),
            |t| t.poll_timeout(),
            |t, n, o| t.handle_timeout(n, o),
        );
        assert_eq!(
            sends(&log),
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert!(log.contains(&(Duration::from_secs(32), TxOutput::Timeout)));
    }

    #[test]
    fn server_invite_answers_retransmissions_with_last_provisional() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ServerInvite::new(TimerConfig::default(), false);
        tx.on_retransmission(&mut out);
        assert!(out.is_empty(), "nothing sent yet, nothing to repeat");
        tx.send_response(t0, 180, b"180".to_vec(), &mut out);
        out.clear();
        tx.on_retransmission(&mut out);
        assert_eq!(out, vec![TxOutput::Send(b"180".to_vec())]);
    }

    #[test]
    fn timer_j_absorbs_retransmissions_then_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut tx = ServerNonInvite::new(TimerConfig::default(), false);
        tx.on_retransmission(&mut out);
        assert!(out.is_empty());
        tx.send_response(t0, 200, b"200".to_vec(), &mut out);
        out.clear();
        tx.on_retransmission(&mut out);
        assert_eq!(out, vec![TxOutput::Send(b"200".to_vec())]);
        assert_eq!(tx.poll_timeout(), Some(t0 + 32_000 * MS));
        out.clear();
        tx.handle_timeout(t0 + 31_999 * MS, &mut out);
        assert!(out.is_empty(), "not yet");
        tx.handle_timeout(t0 + 32_000 * MS, &mut out);
        assert_eq!(out, vec![TxOutput::Terminated]);
        let mut tcp = ServerNonInvite::new(TimerConfig::default(), true);
        out.clear();
        tcp.send_response(t0, 200, b"200".to_vec(), &mut out);
        assert_eq!(out.last(), Some(&TxOutput::Terminated), "J is zero on TCP");
    }

    #[test]
    fn configured_t1_scales_every_timer() {
        let cfg = TimerConfig {
            t1: Duration::from_millis(100),
            t2: Duration::from_millis(400),
            t4: Duration::from_millis(1000),
        };
        let t0 = Instant::now();
        let mut out = Vec::new();
        let tx = ClientNonInvite::start(t0, cfg, false, b"BYE".to_vec(), &mut out);
        assert_eq!(tx.poll_timeout(), Some(t0 + 100 * MS));
        let mut s = ServerNonInvite::new(cfg, false);
        s.send_response(t0, 200, vec![], &mut out);
        assert_eq!(s.poll_timeout(), Some(t0 + 6400 * MS));
    }
}
