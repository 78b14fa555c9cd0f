//! Entry points from text or a file to [`Options`].

use std::path::Path;

use super::apply::apply;
use super::error::ConfigError;
use super::syntax::{parse, EnvLookup};
use crate::options::Options;

/// Reads, parses and applies a config file over the defaults, and records
/// its path in [`Options::config_file`] (so a reload can read it again).
/// `include` paths are relative to the file's directory.
///
/// # Errors
/// [`ConfigError::Io`] if the file cannot be read; otherwise as
/// [`parse_str`].
pub fn load_file(path: &Path) -> Result<Options, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let mut options = parse_str(&text, base_dir)?;
    options.config_file = Some(path.to_path_buf());
    Ok(options)
}

/// Parses config text and applies it over the defaults. `include` paths are
/// relative to `base_dir`; `$NAME` falls back to the process environment.
///
/// # Errors
/// Syntax errors, unresolved variables, unknown or unsupported keys and bad
/// values, each with its line ([`ConfigError`]); errors inside an included
/// file come wrapped in [`ConfigError::Include`].
pub fn parse_str(text: &str, base_dir: &Path) -> Result<Options, ConfigError> {
    parse_str_with_env(text, base_dir, &|name| std::env::var(name).ok())
}

/// [`parse_str`] with an empty environment: a `$NAME` the text does not
/// define is unresolved. The entry point of the config fuzz target
/// (`fuzz/`), which must not depend on the process environment.
///
/// # Errors
/// As [`parse_str`].
#[doc(hidden)]
pub fn parse_str_without_env(text: &str, base_dir: &Path) -> Result<Options, ConfigError> {
    parse_str_with_env(text, base_dir, &|_| None)
}

/// [`parse_str`] with the environment injected.
pub(crate) fn parse_str_with_env(
    text: &str,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Options, ConfigError> {
    let map = parse(text, base_dir, env)?;
    let mut options = Options::default();
    apply(&map, &mut options)?;
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::TempDir;

    #[test]
    fn load_file_records_the_path_and_resolves_includes_next_to_it() {
        let dir = TempDir::new();
        dir.write("etc/limits.conf", "max_payload: 512KB\n");
        let path = dir.write("etc/main.conf", "port: 4333\ninclude limits.conf\n");
        let options = load_file(&path).expect("loads");
        assert_eq!(options.port, 4333);
        assert_eq!(options.max_payload, 512 * 1024);
        assert_eq!(options.config_file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn load_file_of_a_missing_file_is_an_io_error_naming_it() {
        let dir = TempDir::new();
        let path = dir.path().join("absent.conf");
        match load_file(&path) {
            Err(ConfigError::Io { path: reported, .. }) => assert_eq!(reported, path),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_text_gives_the_defaults() {
        assert_eq!(parse_str("", Path::new(".")).ok(), Some(Options::default()));
        assert_eq!(
            parse_str("# only a comment\n", Path::new(".")).ok(),
            Some(Options::default())
        );
    }

    #[test]
    fn duration_overflowing_i128_is_a_config_error() {
        // The line of the config_parser fuzz target's crash.
        let text = "lame_duck_duration: 3099999999999999999999999999999999s\n";
        let error = parse_str_without_env(text, Path::new(".")).expect_err("refused");
        assert!(error.to_string().contains("lame_duck_duration"), "{error}");
    }

    #[test]
    fn parse_str_reads_the_process_environment() {
        // PATH is set in any test environment; its value is some string.
        let options = parse_str("client_advertise: $PATH", Path::new(".")).expect("parses");
        assert!(options.client_advertise.is_some());
    }
}
