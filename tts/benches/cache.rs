//! "tts cache hit": a `CachedSynthesizer` answering from its disk cache
//! (1.5 s of 22.05 kHz audio, as espeak-ng would produce for a short prompt).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ura_tts::{Audio, Cache, CachedSynthesizer, Language, Rate, Synthesizer, TtsError, Voice};

struct Fixed(Audio);

impl Synthesizer for Fixed {
    fn synthesize(&self, _: &str, _: &Voice, _: Rate) -> Result<Audio, TtsError> {
        Ok(self.0.clone())
    }

    fn name(&self) -> &str {
        "fixed"
    }
}

fn cache_hit(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ura-tts-bench-{}", std::process::id()));
    let samples = (0..33_075)
        .map(|i| ((i % 200) * 100 - 10_000) as i16)
        .collect();
    let synth = CachedSynthesizer::new(
        Fixed(Audio::new(samples, 22_050)),
        Cache::open(&dir).expect("cache dir"),
    );
    let voice = Voice::Language(Language::PtBr);
    let text = "Você é o terceiro da fila. Espera de cerca de cinco minutos.";
    synth
        .synthesize(text, &voice, Rate::DEFAULT)
        .expect("first call fills the cache");
    c.bench_function("tts cache hit", |b| {
        b.iter(|| {
            let audio = synth
                .synthesize(black_box(text), &voice, Rate::DEFAULT)
                .expect("hit");
            black_box(audio.samples.len())
        })
    });
    assert_eq!(synth.stats().1, 1, "every iteration must have been a hit");
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, cache_hit);
criterion_main!(benches);
