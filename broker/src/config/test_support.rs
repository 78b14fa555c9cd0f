//! Helpers shared by the config unit tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates an empty, uniquely named directory.
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "starling-config-test-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `name` (creating subdirectories) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create subdir");
        }
        fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// An environment with nothing in it.
pub(crate) fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses and applies config text with an empty environment.
pub(crate) fn options(text: &str) -> Result<crate::options::Options, super::ConfigError> {
    super::load::parse_str_with_env(text, Path::new("."), &no_env)
}

/// Like [`options`], panicking with the error text on failure.
pub(crate) fn options_ok(text: &str) -> crate::options::Options {
    match options(text) {
        Ok(options) => options,
        Err(error) => panic!("{text:?} failed: {error}"),
    }
}

/// Parse config text with no environment variables.
pub(crate) fn parse_text(text: &str) -> Result<super::value::Map, super::error::ConfigError> {
    super::syntax::parse(text, Path::new("."), &no_env)
}

/// Parse config text that must be valid.
pub(crate) fn parse_ok(text: &str) -> super::value::Map {
    match parse_text(text) {
        Ok(map) => map,
        Err(error) => panic!("{text:?} failed: {error}"),
    }
}

/// The kind of value at `key`.
pub(crate) fn kind<'m>(map: &'m super::value::Map, key: &str) -> &'m super::value::ValueKind {
    &map.get(key)
        .unwrap_or_else(|| panic!("no key {key}"))
        .value
        .kind
}

/// A string value kind.
pub(crate) fn string(text: &str) -> super::value::ValueKind {
    super::value::ValueKind::String(text.into())
}
