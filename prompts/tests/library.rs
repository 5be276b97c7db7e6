//! Content-addressed storage of imported prompts.

mod support;

use std::fs;
use std::path::Path;

use support::fixture;
use ura_media::g711::Codec;
use ura_prompts::{import, ImportOptions, PromptError, PromptLibrary};

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ura-prompts-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn store_twice_keeps_one_copy_and_load_gives_identical_frames() {
    let dir = tempdir("store");
    let lib = PromptLibrary::open(&dir).unwrap();
    let original = fixture("cbr_44k1_stereo.mp3");
    let imported = import(&original, &ImportOptions::default()).unwrap();

    let first = lib.store(&original, &imported).unwrap();
    let second = lib.store(&original, &imported).unwrap();
    assert!(first.newly_stored && !second.newly_stored);
    assert_eq!(first.hash, second.hash);
    assert_eq!(first.hash.len(), 64);
    assert_eq!(
        files(&dir.join("originals")),
        vec![format!("{}.mp3", first.original_hash)]
    );
    assert_eq!(
        files(&dir.join("frames")),
        ["pcma", "pcmu", "s16"].map(|ext| format!("{}.{ext}", first.hash))
    );
    assert_eq!(fs::read(&first.original).unwrap(), original);

    // The raw frames are the imported ones, 160 bytes per 20 ms.
    let pcmu = fs::read(&first.pcmu).unwrap();
    assert_eq!(pcmu.len(), 50 * 160);
    assert_eq!(pcmu, imported.frames.bytes(Codec::Pcmu));
    assert_eq!(
        fs::read(&first.pcma).unwrap(),
        imported.frames.bytes(Codec::Pcma)
    );

    // Loading rebuilds exactly the same frames, in both laws.
    let loaded = lib.load(&first.hash).unwrap();
    assert!(lib.contains(&first.hash));
    assert_eq!(loaded.frame_count(), 50);
    for codec in [Codec::Pcmu, Codec::Pcma] {
        assert_eq!(loaded.bytes(codec), imported.frames.bytes(codec));
    }
    assert_eq!(lib.load_pcm(&first.hash).unwrap(), imported.pcm_8k);

    // A reopened library sees the same content.
    let again = PromptLibrary::open(&dir).unwrap();
    assert_eq!(
        again.load(&first.hash).unwrap().bytes(Codec::Pcmu),
        &pcmu[..]
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn same_audio_from_different_files_is_stored_once() {
    let dir = tempdir("dedup");
    let lib = PromptLibrary::open(&dir).unwrap();
    // The same MP3 with and without an ID3v2 tag: two originals, one audio.
    let plain = fixture("cbr_44k1_stereo.mp3");
    let tagged = fixture("cbr_44k1_stereo_id3.mp3");
    let a = lib
        .store(&plain, &import(&plain, &ImportOptions::default()).unwrap())
        .unwrap();
    let b = lib
        .store(
            &tagged,
            &import(&tagged, &ImportOptions::default()).unwrap(),
        )
        .unwrap();
    assert_eq!(a.hash, b.hash);
    assert_ne!(a.original_hash, b.original_hash);
    assert!(a.newly_stored && !b.newly_stored);
    assert_eq!(files(&dir.join("originals")).len(), 2);
    assert_eq!(files(&dir.join("frames")).len(), 3);

    // A different prompt gets its own entry; a WAV keeps its extension.
    let wav = fixture("pcm_s16_8k_mono.wav");
    let c = lib
        .store(&wav, &import(&wav, &ImportOptions::default()).unwrap())
        .unwrap();
    assert_ne!(c.hash, a.hash);
    assert!(c.original.to_str().unwrap().ends_with(".wav"));
    assert_eq!(files(&dir.join("frames")).len(), 6);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_hashes_missing_and_damaged_prompts() {
    let dir = tempdir("errors");
    let lib = PromptLibrary::open(&dir).unwrap();
    for bad in ["", "../originals/x", "ZZ", &"A".repeat(64)] {
        assert!(
            matches!(lib.load(bad), Err(PromptError::BadHash { .. })),
            "{bad}"
        );
    }
    let missing = "0".repeat(64);
    assert!(matches!(
        lib.load(&missing),
        Err(PromptError::NotFound { .. })
    ));
    assert!(!lib.contains(&missing));

    let wav = fixture("pcm_u8_8k_mono.wav");
    let stored = lib
        .store(&wav, &import(&wav, &ImportOptions::default()).unwrap())
        .unwrap();
    let s16 = dir.join("frames").join(format!("{}.s16", stored.hash));
    let mut bytes = fs::read(&s16).unwrap();
    bytes[100] ^= 1;
    fs::write(&s16, &bytes).unwrap();
    assert!(matches!(
        lib.load(&stored.hash),
        Err(PromptError::Corrupt { .. })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unwritable_library_reports_the_path() {
    let dir = tempdir("blocked");
    fs::create_dir_all(&dir).unwrap();
    // A file where the library's directory should be.
    let blocker = dir.join("lib");
    fs::write(&blocker, b"not a directory").unwrap();
    let e = PromptLibrary::open(&blocker).unwrap_err();
    assert!(
        matches!(&e, PromptError::Io { path, .. } if path.starts_with(&blocker)),
        "{e:?}"
    );
    fs::remove_dir_all(&dir).unwrap();
}
