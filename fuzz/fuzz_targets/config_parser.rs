//! The config parser (scanner, syntax, `$NAME` and `include` resolution,
//! then the apply step onto `Options`) over arbitrary text.
//!
//! No environment: `parse_str_without_env` resolves `$NAME` only from the
//! text. `include` paths resolve in a private temporary directory holding
//! a few small files (one pair includes each other, to reach the cycle
//! guard); inputs where a path after `include` could leave it (it holds a
//! `/`) are skipped, so no run reads the rest of the file system (think
//! `include /dev/zero`). Checked: no panic
//! and no hang; and parsing is deterministic (the same text gives the same
//! result twice).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use starling::config::parse_str_without_env;

/// Files in the include directory: name and contents.
const INCLUDE_FILES: [(&str, &str); 4] = [
    ("limits.conf", "max_payload: 512KB\nmax_connections: 100\n"),
    (
        "auth.conf",
        "authorization {\n  user: alice\n  password: secret\n  timeout: 2\n}\n",
    ),
    ("cycle_a.conf", "include cycle_b.conf\n"),
    ("cycle_b.conf", "include cycle_a.conf\n"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if include_may_leave_the_directory(text) {
        return;
    }
    let dir = include_dir();
    let first = parse_str_without_env(text, dir).map_err(|error| error.to_string());
    let second = parse_str_without_env(text, dir).map_err(|error| error.to_string());
    assert_eq!(first, second, "the same text parsed differently");
});

/// The include directory, made once per process.
fn include_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("starling-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the include directory");
        for (name, contents) in INCLUDE_FILES {
            std::fs::write(dir.join(name), contents).expect("write an include file");
        }
        dir
    })
}

/// Whether some `include` could name a path outside the include directory:
/// only a path holding a `/` can (absolute, or with `..` components). The
/// path is what follows the keyword: up to the closing quote when quoted,
/// else up to the line's end (more than the parser takes, so this errs on
/// the side of skipping).
fn include_may_leave_the_directory(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("include").any(|(at, keyword)| {
        let rest = text[at + keyword.len()..].trim_start_matches([' ', '\t']);
        let path = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next(),
            _ => rest.split('\n').next(),
        };
        path.is_some_and(|path| path.contains('/'))
    })
}
