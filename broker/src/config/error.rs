//! The one error type of configuration loading, for the file and the CLI alike.

use std::fmt;
use std::path::PathBuf;

/// Why a configuration file or a command line was rejected.
///
/// Line numbers are 1-based and refer to the file the error sits in; an error
/// inside an included file comes wrapped in [`ConfigError::Include`], which
/// names that file and the line of the `include` directive.
#[derive(Debug)]
pub enum ConfigError {
    /// A file (the config file or an included one) could not be read.
    Io {
        /// The path as it was opened.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not valid nats config syntax.
    Syntax {
        /// Where the problem was found.
        line: usize,
        /// What was expected or found.
        message: String,
    },
    /// A key no block of that kind knows (and that is not a referenced variable).
    UnknownField {
        /// Line of the key.
        line: usize,
        /// The key, prefixed with its enclosing blocks (`cluster.foo`).
        name: String,
    },
    /// A nats-server option or flag that Starling does not implement, named as
    /// written (`jetstream`, `cluster.tls`, `--tls`, `-js`).
    Unsupported {
        /// The option or flag.
        name: String,
    },
    /// A known key with a value of the wrong type or out of range.
    InvalidValue {
        /// Line of the key (or of the offending array element).
        line: usize,
        /// The key, prefixed with its enclosing blocks.
        name: String,
        /// A complete sentence, e.g. `invalid lame_duck_duration of 10s,
        /// minimum is 30 seconds`.
        message: String,
    },
    /// `$NAME` matched no variable in scope and no environment variable.
    UnresolvedVariable {
        /// Line of the reference.
        line: usize,
        /// The variable name, without the `$`.
        name: String,
    },
    /// A malformed command line: unknown flag, missing or bad flag value,
    /// inconsistent flags.
    BadFlag(String),
    /// An error inside a file pulled in with `include`.
    Include {
        /// The included file.
        path: PathBuf,
        /// Line of the `include` directive in the including file.
        line: usize,
        /// The error within the included file.
        source: Box<ConfigError>,
    },
}

impl ConfigError {
    /// The innermost error, looking through `Include` wrappers; handy for
    /// tests and for callers that only care about the kind of problem.
    pub fn root(&self) -> &ConfigError {
        match self {
            ConfigError::Include { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Options that are planned (HTTPS monitoring, OCSP and other TLS extras)
/// get "not supported yet"; everything else is out of scope for Starling.
fn is_planned(name: &str) -> bool {
    let bare = name.trim_start_matches('-');
    let last = bare.rsplit('.').next().unwrap_or(bare);
    last.starts_with("tls")
        || matches!(
            last,
            "https" | "https_port" | "ms" | "help_tls" | "allow_non_tls" | "ocsp" | "ocsp_cache"
        )
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "error opening config file {}: {source}", path.display())
            }
            ConfigError::Syntax { line, message } => write!(f, "line {line}: {message}"),
            ConfigError::UnknownField { line, name } => {
                write!(f, "line {line}: unknown field \"{name}\"")
            }
            ConfigError::Unsupported { name } if is_planned(name) => {
                write!(f, "{name} is not supported yet")
            }
            ConfigError::Unsupported { name } => write!(f, "{name} is not supported by starling"),
            ConfigError::InvalidValue { line, message, .. } => write!(f, "line {line}: {message}"),
            ConfigError::UnresolvedVariable { line, name } => write!(
                f,
                "line {line}: variable reference for '{name}' can not be found"
            ),
            ConfigError::BadFlag(message) => f.write_str(message),
            ConfigError::Include { path, line, source } => write!(
                f,
                "line {line}: in included file {}: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Include { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_tls_family_says_not_yet() {
        for name in ["tls", "cluster.tls", "--tlscert", "-ms", "https_port"] {
            let text = ConfigError::Unsupported { name: name.into() }.to_string();
            assert_eq!(text, format!("{name} is not supported yet"));
        }
    }

    #[test]
    fn unsupported_feature_says_not_supported_by_starling() {
        let text = ConfigError::Unsupported {
            name: "jetstream".into(),
        }
        .to_string();
        assert_eq!(text, "jetstream is not supported by starling");
    }

    #[test]
    fn include_error_display_names_file_and_directive_line() {
        let error = ConfigError::Include {
            path: PathBuf::from("/etc/auth.conf"),
            line: 4,
            source: Box::new(ConfigError::UnknownField {
                line: 2,
                name: "foo".into(),
            }),
        };
        assert_eq!(
            error.to_string(),
            "line 4: in included file /etc/auth.conf: line 2: unknown field \"foo\""
        );
        assert!(matches!(
            error.root(),
            ConfigError::UnknownField { line: 2, .. }
        ));
    }
}
