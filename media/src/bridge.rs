//! Bridging two streams of one worker: G.711 transcoding tables, the
//! per-bridge recording mix and the recording writer thread.
//!
//! The relay itself lives in `stream` (a packet accepted on one leg is
//! rewritten and sent out of the other leg in the same event-loop
//! iteration); this module holds what the relay and the recording share.
//!
//! Rules where the product spec was silent:
//!
//! * Both legs must be on one worker ([`MediaEngine::allocate_with`]);
//!   `bridge` refuses streams of different workers rather than moving one
//!   (moving sockets between event loops mid-call is not worth the risk).
//! * Bridging a leg that is bridged elsewhere unbridges it first.
//! * While bridged a leg's play queue is paused (not cleared): after
//!   `unbridge` it resumes where it was (e.g. looped hold music).
//! * A bridged leg sends silence ticks of its own while nothing has been
//!   relayed out of it for 60 ms (and from the bridge until the first
//!   relayed packet): NAT bindings stay open and the listener keeps one
//!   continuous stream. Each switch between ticks and relayed packets
//!   sets the marker bit; timestamps never step back (the relay maps the
//!   source's timestamps onto our clock at the switch, ticks are moved
//!   forward past the last relayed packet if needed).
//! * What a leg receives is relayed only if its direction receives
//!   (sendrecv/recvonly), and only out of a leg whose direction sends
//!   (sendrecv/sendonly); anything else counts as `relay_dropped` on the
//!   outgoing leg, as do telephone-events for a leg without a negotiated
//!   telephone-event payload type (the digit is still reported).
//! * A bridge recording belongs to the bridge: it ends (and its
//!   [`BridgeRecorded`] summary goes to the callback given to
//!   `record_bridge`; a new `MediaEvent` variant would break callers'
//!   exhaustive matches) on unbridge, on close of
//!   either leg, or on a new `record_bridge` for the same leg. A file that
//!   cannot be written is logged and reported with `seconds: 0`.
//!
//! [`MediaEngine::allocate_with`]: crate::MediaEngine::allocate_with

use crate::engine::{BridgeRecorded, StreamId};
use crate::g711::{self, Codec};
use crate::prompt::FRAME_SAMPLES;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// µ-law code → A-law code of the same decoded sample.
static ULAW_TO_ALAW: LazyLock<[u8; 256]> =
    LazyLock::new(|| table(|c| g711::alaw_encode(g711::ulaw_decode(c))));
/// A-law code → µ-law code of the same decoded sample.
static ALAW_TO_ULAW: LazyLock<[u8; 256]> =
    LazyLock::new(|| table(|c| g711::ulaw_encode(g711::alaw_decode(c))));

fn table(f: impl Fn(u8) -> u8) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (c, out) in t.iter_mut().enumerate() {
        *out = f(c as u8);
    }
    t
}

/// Copies `src` (in codec `from`) into `dst` (in codec `to`), transcoding
/// code by code when the codecs differ. `dst` must be at least as long.
pub(crate) fn transcode(from: Codec, to: Codec, src: &[u8], dst: &mut [u8]) {
    let dst = &mut dst[..src.len()];
    match (from, to) {
        (Codec::Pcmu, Codec::Pcma) => {
            let t = &*ULAW_TO_ALAW;
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = t[s as usize];
            }
        }
        (Codec::Pcma, Codec::Pcmu) => {
            let t = &*ALAW_TO_ULAW;
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = t[s as usize];
            }
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Decoded audio of both directions of a recorded bridge, waiting for the
/// next 20 ms tick of the recording leg. Shared by the two legs (same
/// worker thread, so the lock is never contended).
pub(crate) struct RecMix {
    sides: [RecSide; 2],
}

/// Up to three frames of one direction; beyond that the excess is dropped
/// (a burst longer than 60 ms cannot be aligned to the tick anyway).
struct RecSide {
    samples: [i16; 3 * FRAME_SAMPLES],
    len: usize,
}

impl RecMix {
    pub(crate) fn new() -> RecMix {
        let side = || RecSide {
            samples: [0; 3 * FRAME_SAMPLES],
            len: 0,
        };
        RecMix {
            sides: [side(), side()],
        }
    }

    /// Appends decoded samples heard on `side` (0: leg a, 1: leg b).
    pub(crate) fn push(&mut self, side: usize, pcm: &[i16]) {
        let s = &mut self.sides[side & 1];
        let n = pcm.len().min(s.samples.len() - s.len);
        s.samples[s.len..s.len + n].copy_from_slice(&pcm[..n]);
        s.len += n;
    }

    /// Takes one 20 ms frame per side (silence where a side sent nothing).
    pub(crate) fn pop_frame(&mut self) -> ([i16; FRAME_SAMPLES], [i16; FRAME_SAMPLES]) {
        let mut out = [[0i16; FRAME_SAMPLES]; 2];
        for (s, o) in self.sides.iter_mut().zip(out.iter_mut()) {
            let n = s.len.min(FRAME_SAMPLES);
            o[..n].copy_from_slice(&s.samples[..n]);
            s.samples.copy_within(n..s.len, 0);
            s.len -= n;
        }
        (out[0], out[1])
    }
}

/// Frames waiting for the writer thread, at most (≈ 40 s of one call).
const FRAME_QUEUE: usize = 2048;

/// One 20 ms frame of a recording (fixed size: no allocation per frame).
pub(crate) struct Frame {
    rec: u64,
    left: [i16; FRAME_SAMPLES],
    right: [i16; FRAME_SAMPLES],
}

/// Told the summary of a finished recording.
pub(crate) type Done = Box<dyn FnOnce(BridgeRecorded) + Send>;

/// Start and end of a recording (rare, so an unbounded channel).
pub(crate) enum Control {
    Start {
        rec: u64,
        stream: StreamId,
        path: PathBuf,
        stereo: bool,
        done: Done,
    },
    Finish {
        rec: u64,
        frames_sent: u64,
        dropped: u64,
    },
}

/// The engine's handle on the one writer thread of all bridge recordings.
#[derive(Clone)]
pub(crate) struct Writer {
    pub(crate) frames: SyncSender<Frame>,
    pub(crate) control: Sender<Control>,
}

impl Writer {
    /// Starts the writer thread; it ends when every handle is dropped.
    pub(crate) fn spawn() -> std::io::Result<Writer> {
        let (frames, frames_rx) = mpsc::sync_channel(FRAME_QUEUE);
        // Unbounded on purpose, yet bounded in fact: two messages (start,
        // finish) per recorded bridge, and bridges are bounded by call
        // admission. Dropping one would leave a file never finished.
        let (control, control_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("ura-media-rec".into())
            .spawn(move || write_loop(frames_rx, control_rx))?;
        Ok(Writer { frames, control })
    }
}

/// A recording as the recording leg's worker sees it.
pub(crate) struct Recorder {
    pub(crate) rec: u64,
    pub(crate) mix: Arc<Mutex<RecMix>>,
    pub(crate) writer: Writer,
    pub(crate) frames_sent: u64,
    pub(crate) dropped: u64,
}

impl Recorder {
    /// Hands the next 20 ms frame to the writer; never blocks (a full queue
    /// drops the frame and counts it).
    pub(crate) fn tick(&mut self) {
        let (left, right) = self
            .mix
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_frame();
        let frame = Frame {
            rec: self.rec,
            left,
            right,
        };
        match self.writer.frames.try_send(frame) {
            Ok(()) => self.frames_sent += 1,
            Err(_) => self.dropped += 1,
        }
    }

    /// Asks the writer to finalise the file once it has every frame sent.
    pub(crate) fn finish(self) {
        let _ = self.writer.control.send(Control::Finish {
            rec: self.rec,
            frames_sent: self.frames_sent,
            dropped: self.dropped,
        });
    }
}

struct Open {
    stream: StreamId,
    path: PathBuf,
    stereo: bool,
    wav: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    frames: u64,
    finish: Option<(u64, u64)>,
    done: Done,
}

fn write_loop(frames: Receiver<Frame>, control: Receiver<Control>) {
    let mut open: HashMap<u64, Open> = HashMap::new();
    let mut frames_alive = true;
    let mut control_alive = true;
    while frames_alive || control_alive || !open.is_empty() {
        let got = if frames_alive {
            match frames.recv_timeout(Duration::from_millis(20)) {
                Ok(f) => Some(f),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    frames_alive = false;
                    None
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
            None
        };
        // Control first: a frame's recording may have just been started.
        while control_alive {
            match control.try_recv() {
                Ok(c) => on_control(&mut open, c),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => control_alive = false,
            }
        }
        if let Some(f) = got {
            if let Some(o) = open.get_mut(&f.rec) {
                o.frames += 1;
                if let Some(w) = &mut o.wav {
                    let ok = if o.stereo {
                        f.left.iter().zip(&f.right).try_for_each(|(&l, &r)| {
                            w.write_sample(l)?;
                            w.write_sample(r)
                        })
                    } else {
                        f.left.iter().zip(&f.right).try_for_each(|(&l, &r)| {
                            w.write_sample((l as i32 + r as i32).clamp(-32768, 32767) as i16)
                        })
                    };
                    if let Err(e) = ok {
                        tracing::error!(path = %o.path.display(), "recording write failed: {e}");
                        o.wav = None;
                    }
                }
            }
        }
        let done: Vec<u64> = open
            .iter()
            .filter(|(_, o)| {
                o.finish.is_some_and(|(sent, _)| o.frames >= sent)
                    || (!frames_alive && o.finish.is_some())
                    || (!control_alive && !frames_alive)
            })
            .map(|(&k, _)| k)
            .collect();
        for rec in done {
            if let Some(o) = open.remove(&rec) {
                finalise(o);
            }
        }
    }
}

fn on_control(open: &mut HashMap<u64, Open>, c: Control) {
    match c {
        Control::Start {
            rec,
            stream,
            path,
            stereo,
            done,
        } => {
            let spec = hound::WavSpec {
                channels: if stereo { 2 } else { 1 },
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            // The folder too, here on the writer thread: the caller of
            // `record_bridge` does no file I/O.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            let wav = match hound::WavWriter::create(&path, spec) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::error!(path = %path.display(), "cannot create recording: {e}");
                    None
                }
            };
            open.insert(
                rec,
                Open {
                    stream,
                    path,
                    stereo,
                    wav,
                    frames: 0,
                    finish: None,
                    done,
                },
            );
        }
        Control::Finish {
            rec,
            frames_sent,
            dropped,
        } => {
            if let Some(o) = open.get_mut(&rec) {
                o.finish = Some((frames_sent, dropped));
            }
        }
    }
}

fn finalise(o: Open) {
    let mut seconds = o.frames as f64 * 0.02;
    if let Some(w) = o.wav {
        if let Err(e) = w.finalize() {
            tracing::error!(path = %o.path.display(), "cannot finalise recording: {e}");
            seconds = 0.0;
        }
    } else {
        seconds = 0.0;
    }
    (o.done)(BridgeRecorded {
        stream: o.stream,
        path: o.path,
        seconds,
        dropped_frames: o.finish.map_or(0, |(_, d)| d),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_decode_then_encode_for_every_code() {
        for c in 0..=255u8 {
            let mut out = [0u8; 1];
            transcode(Codec::Pcmu, Codec::Pcma, &[c], &mut out);
            assert_eq!(out[0], g711::alaw_encode(g711::ulaw_decode(c)), "µ {c}");
            transcode(Codec::Pcma, Codec::Pcmu, &[c], &mut out);
            assert_eq!(out[0], g711::ulaw_encode(g711::alaw_decode(c)), "A {c}");
            transcode(Codec::Pcma, Codec::Pcma, &[c], &mut out);
            assert_eq!(out[0], c);
        }
        // Silence stays (near) silence: A-law has no exact zero.
        let mut out = [0u8; 1];
        transcode(Codec::Pcmu, Codec::Pcma, &[0xFF], &mut out);
        assert!(g711::alaw_decode(out[0]).abs() <= 8);
    }

    #[test]
    fn mix_aligns_sides_and_pads_with_silence() {
        let mut m = RecMix::new();
        m.push(0, &[1; 200]);
        m.push(1, &[2; 100]);
        let (l, r) = m.pop_frame();
        assert!(l.iter().all(|&s| s == 1));
        assert!(r[..100].iter().all(|&s| s == 2) && r[100..].iter().all(|&s| s == 0));
        let (l, r) = m.pop_frame();
        assert!(l[..40].iter().all(|&s| s == 1) && l[40..].iter().all(|&s| s == 0));
        assert!(r.iter().all(|&s| s == 0));
        m.push(0, &[3; 1000]);
        assert_eq!(m.sides[0].len, 480, "excess beyond three frames dropped");
    }
}
