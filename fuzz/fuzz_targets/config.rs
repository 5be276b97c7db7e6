//! The TOML configuration check: any text as the file of
//! `ura serve --config` (`Config::from_file_text`: the settings, then the
//! routing by the engine's rules), and as the tables of
//! `ura config import` / the admin API (`config_api::file_tables`, then
//! `config_api::check`). Errors are fine; a panic is not.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ura::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::from_file_text(Path::new("fuzz.toml"), text);
    if let Ok(tables) = ura::config_api::file_tables(text) {
        let _ = ura::config_api::check(&tables);
    }
});
