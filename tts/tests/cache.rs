//! `CachedSynthesizer` in front of a counting fake engine.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ura_tts::{
    Audio, Cache, CacheKey, CachedSynthesizer, Language, Rate, Synthesizer, TtsError, Voice,
};

/// Speaks every text as a distinct, text-dependent sample pattern and counts calls.
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
    fail: bool,
}

impl Synthesizer for Counting {
    fn synthesize(&self, text: &str, _: &Voice, rate: Rate) -> Result<Audio, TtsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(TtsError::EngineFailed {
                engine: "counting".into(),
                detail: "told to fail".into(),
            });
        }
        let samples = text
            .bytes()
            .cycle()
            .take(4000)
            .map(|b| i16::from(b) * 100 - i16::try_from(rate.wpm()).unwrap())
            .collect();
        Ok(Audio::new(samples, 22_050))
    }

    fn name(&self) -> &str {
        "counting"
    }
}

fn pt() -> Voice {
    Voice::Language(Language::PtBr)
}

#[test]
fn second_call_is_served_from_disk_without_synthesis() {
    let dir = common::temp_dir("cache-hit");
    let synth = CachedSynthesizer::new(Counting::default(), Cache::open(&dir).unwrap());
    let first = synth.synthesize("Bem-vindo", &pt(), Rate::DEFAULT).unwrap();
    let second = synth.synthesize("Bem-vindo", &pt(), Rate::DEFAULT).unwrap();
    assert_eq!(first, second);
    assert_eq!(second.sample_rate, 22_050);
    assert_eq!(synth.inner().calls.load(Ordering::SeqCst), 1);
    assert_eq!(synth.stats(), (1, 1));
    assert_eq!(synth.name(), "counting");

    // Exactly one entry, named after the key, and no temporary file left behind.
    let key = CacheKey::new("counting", &pt(), Rate::DEFAULT, "Bem-vindo");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("{}.s16", key.as_str())]);
    assert_eq!(
        std::fs::metadata(synth.cache().path(&key)).unwrap().len(),
        8 + 2 * 4000
    );

    // Another text, voice or rate is a miss.
    synth.synthesize("Bem-vinda", &pt(), Rate::DEFAULT).unwrap();
    synth
        .synthesize("Bem-vindo", &Language::EnUs.into(), Rate::DEFAULT)
        .unwrap();
    synth
        .synthesize("Bem-vindo", &pt(), Rate::new(200).unwrap())
        .unwrap();
    assert_eq!(synth.inner().calls.load(Ordering::SeqCst), 4);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_cache_outlives_the_process_that_filled_it() {
    let dir = common::temp_dir("cache-reopen");
    let a = CachedSynthesizer::new(Counting::default(), Cache::open(&dir).unwrap());
    let made = a.synthesize("Aguarde", &pt(), Rate::DEFAULT).unwrap();
    drop(a);
    let b = CachedSynthesizer::new(Counting::default(), Cache::open(&dir).unwrap());
    assert_eq!(b.synthesize("Aguarde", &pt(), Rate::DEFAULT).unwrap(), made);
    assert_eq!(b.inner().calls.load(Ordering::SeqCst), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_damaged_entry_is_synthesized_again_and_repaired() {
    let dir = common::temp_dir("cache-damaged");
    let synth = CachedSynthesizer::new(Counting::default(), Cache::open(&dir).unwrap());
    let good = synth.synthesize("Menu", &pt(), Rate::DEFAULT).unwrap();
    let path = synth
        .cache()
        .path(&CacheKey::new("counting", &pt(), Rate::DEFAULT, "Menu"));
    std::fs::write(&path, b"URA1\x22").unwrap();
    assert_eq!(
        synth.synthesize("Menu", &pt(), Rate::DEFAULT).unwrap(),
        good
    );
    assert_eq!(synth.inner().calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        synth.synthesize("Menu", &pt(), Rate::DEFAULT).unwrap(),
        good
    );
    assert_eq!(synth.inner().calls.load(Ordering::SeqCst), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn failures_are_not_cached() {
    let dir = common::temp_dir("cache-fail");
    let failing = Counting {
        fail: true,
        ..Counting::default()
    };
    let synth = CachedSynthesizer::new(failing, Cache::open(&dir).unwrap());
    for _ in 0..2 {
        assert!(matches!(
            synth.synthesize("x", &pt(), Rate::DEFAULT),
            Err(TtsError::EngineFailed { .. })
        ));
    }
    assert_eq!(synth.inner().calls.load(Ordering::SeqCst), 2);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_fills_of_one_key_leave_one_valid_entry() {
    let dir = common::temp_dir("cache-race");
    let synth = Arc::new(CachedSynthesizer::new(
        Counting::default(),
        Cache::open(&dir).unwrap(),
    ));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&synth);
            std::thread::spawn(move || s.synthesize("Fila", &pt(), Rate::DEFAULT).unwrap())
        })
        .collect();
    let results: Vec<Audio> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let calls = synth.inner().calls.load(Ordering::SeqCst);
    assert_eq!(
        synth.synthesize("Fila", &pt(), Rate::DEFAULT).unwrap(),
        results[0]
    );
    assert_eq!(synth.inner().calls.load(Ordering::SeqCst), calls);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unusable_cache_dir_is_an_io_error() {
    let dir = common::temp_dir("cache-notadir");
    let file = dir.join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        Cache::open(file.join("sub")),
        Err(TtsError::Io { .. })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}
