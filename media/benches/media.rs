//! Micro-benchmarks of the per-packet work of the media workers.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use ura_media::dtmf::inband::Detector;
use ura_media::g711::{self, Codec};
use ura_media::rtp::{self, RtpHeader};

fn speechlike_frame() -> [i16; 160] {
    let mut f = [0i16; 160];
    for (i, s) in f.iter_mut().enumerate() {
        let t = i as f32 / 8000.0;
        *s = (6000.0 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
            + 2000.0 * (2.0 * std::f32::consts::PI * 1330.0 * t).sin()) as i16;
    }
    f
}

fn g711_encode(c: &mut Criterion) {
    let pcm = speechlike_frame();
    let mut out = [0u8; 160];
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let name = format!("g711 encode 160-sample frame ({})", codec.encoding_name());
        c.bench_function(&name, |b| {
            b.iter(|| {
                g711::encode(codec, black_box(&pcm), &mut out);
                black_box(&out);
            })
        });
    }
    let mut enc = [0u8; 160];
    g711::encode(Codec::Pcmu, &pcm, &mut enc);
    let mut dec = [0i16; 160];
    c.bench_function("g711 decode 160-byte frame (PCMU)", |b| {
        b.iter(|| {
            g711::decode(Codec::Pcmu, black_box(&enc), &mut dec);
            black_box(&dec);
        })
    });
}

fn goertzel(c: &mut Criterion) {
    let pcm = speechlike_frame();
    let mut det = Detector::new();
    c.bench_function("goertzel per 20 ms frame", |b| {
        b.iter(|| black_box(det.feed(black_box(&pcm))))
    });
}

fn rtp_header(c: &mut Criterion) {
    let mut buf = [0u8; 172];
    let mut seq = 0u16;
    c.bench_function("rtp header write+parse", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let h = RtpHeader {
                marker: false,
                payload_type: 0,
                sequence: seq,
                timestamp: seq as u32 * 160,
                ssrc: 0x1234_5678,
                ..RtpHeader::default()
            };
            h.write(&mut buf).ok();
            black_box(rtp::parse(black_box(&buf)).map(|p| p.header.sequence).ok())
        })
    });
}

criterion_group!(benches, g711_encode, goertzel, rtp_header);
criterion_main!(benches);
