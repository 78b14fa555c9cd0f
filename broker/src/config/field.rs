//! Typed access to one key of the parsed tree, with errors that carry the
//! key's dotted name, its line and the include it came from.

use std::sync::Arc;
use std::time::Duration;

use super::address::{port_from_integer, split_host_port, Port};
use super::duration::parse_go_duration;
use super::error::ConfigError;
use super::value::{Entry, IncludeSite, Map, Value, ValueKind};
use crate::limits;

/// Empty strings mean "not set", as in nats-server.
pub(crate) fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Wraps `error` in one [`ConfigError::Include`] per include that brought
/// the entry in, innermost file first.
fn wrap_origin(origin: Option<&Arc<IncludeSite>>, mut error: ConfigError) -> ConfigError {
    let mut site = origin.map(Arc::as_ref);
    while let Some(current) = site {
        error = ConfigError::Include {
            path: current.path.clone(),
            line: current.line,
            source: Box::new(error),
        };
        site = current.parent.as_deref();
    }
    error
}

/// A key being applied: its entry and its dotted name for messages.
#[derive(Clone)]
pub(crate) struct Field<'a> {
    entry: &'a Entry,
    /// `cluster.authorization.user` style.
    name: String,
}

impl<'a> Field<'a> {
    /// The field for `entry` inside the block named `prefix` ("" at top level).
    pub fn new(prefix: &str, entry: &'a Entry) -> Field<'a> {
        let name = if prefix.is_empty() {
            entry.key.clone()
        } else {
            format!("{prefix}.{}", entry.key)
        };
        Field { entry, name }
    }

    /// A field of the map this field holds.
    pub fn child<'b>(&self, entry: &'b Entry) -> Field<'b> {
        Field::new(&self.name, entry)
    }

    /// The key in lower case, for matching option names.
    pub fn lower_key(&self) -> String {
        self.entry.key.to_ascii_lowercase()
    }

    /// The value.
    pub fn value(&self) -> &'a Value {
        &self.entry.value
    }

    /// Adds include context to an error about this field.
    pub fn wrap(&self, error: ConfigError) -> ConfigError {
        wrap_origin(self.entry.origin.as_ref(), error)
    }

    /// An `InvalidValue` at the key's line.
    pub fn invalid(&self, message: impl Into<String>) -> ConfigError {
        self.invalid_at(self.entry.line, message)
    }

    /// An `InvalidValue` at a given line (an array element's).
    pub fn invalid_at(&self, line: usize, message: impl Into<String>) -> ConfigError {
        self.wrap(ConfigError::InvalidValue {
            line,
            name: self.name.clone(),
            message: message.into(),
        })
    }

    /// This option is not implemented.
    pub fn unsupported(&self) -> ConfigError {
        self.wrap(ConfigError::Unsupported {
            name: self.name.clone(),
        })
    }

    /// An unknown key: fine if it is a referenced variable, else an error.
    pub fn unknown(&self) -> Result<(), ConfigError> {
        if self.entry.used_as_variable {
            return Ok(());
        }
        Err(self.wrap(ConfigError::UnknownField {
            line: self.entry.line,
            name: self.name.clone(),
        }))
    }

    fn type_error(&self, expected: &str) -> ConfigError {
        self.invalid(format!(
            "{}: expected {expected}, got {}",
            self.name,
            self.value().type_name()
        ))
    }

    /// The value as a string.
    pub fn string(&self) -> Result<String, ConfigError> {
        self.value()
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.type_error("a string"))
    }

    /// The value as an integer.
    pub fn integer(&self) -> Result<i64, ConfigError> {
        self.value()
            .as_integer()
            .ok_or_else(|| self.type_error("an integer"))
    }

    /// The value as a boolean.
    pub fn boolean(&self) -> Result<bool, ConfigError> {
        self.value()
            .as_bool()
            .ok_or_else(|| self.type_error("a boolean"))
    }

    /// The value as a map.
    pub fn map(&self) -> Result<&'a Map, ConfigError> {
        self.value()
            .as_map()
            .ok_or_else(|| self.type_error("a map"))
    }

    /// The value as an array.
    pub fn array(&self) -> Result<&'a [Value], ConfigError> {
        self.value()
            .as_array()
            .ok_or_else(|| self.type_error("an array"))
    }

    /// A bind host; empty means the default.
    pub fn host(&self) -> Result<String, ConfigError> {
        Ok(non_empty(self.string()?).unwrap_or_else(|| limits::DEFAULT_HOST.to_string()))
    }

    /// An integer port (-1 = random).
    pub fn port(&self) -> Result<Port, ConfigError> {
        port_from_integer(self.integer()?).map_err(|message| self.invalid(message))
    }

    /// `listen`-style: a port alone, or `host:port`. The host is None when
    /// empty or absent.
    pub fn listen(&self) -> Result<(Option<String>, Port), ConfigError> {
        match &self.value().kind {
            ValueKind::Integer(number) => Ok((
                None,
                port_from_integer(*number).map_err(|message| self.invalid(message))?,
            )),
            ValueKind::String(text) => {
                let (host, port) =
                    split_host_port(text).map_err(|message| self.invalid(message))?;
                Ok((non_empty(host), port))
            }
            _ => Err(self.type_error("a port or host:port")),
        }
    }

    /// A non-negative size; 0 means `default`.
    pub fn size_or(&self, default: usize) -> Result<usize, ConfigError> {
        let number = self.integer()?;
        let size = usize::try_from(number)
            .map_err(|_| self.invalid(format!("{} can not be negative", self.name)))?;
        Ok(if size == 0 { default } else { size })
    }

    /// Like [`Field::size_or`], at most `i32::MAX` as nats-server allows.
    pub fn size_within_i32(&self, default: usize) -> Result<usize, ConfigError> {
        if self.integer()? > i64::from(i32::MAX) {
            return Err(self.invalid(format!("{} value is too big", self.name)));
        }
        self.size_or(default)
    }

    /// A non-negative count that fits u32; 0 means `default`.
    pub fn count_or(&self, default: u32) -> Result<u32, ConfigError> {
        let number = self.integer()?;
        let count = u32::try_from(number).map_err(|_| {
            self.invalid(format!("{} must be between 0 and {}", self.name, u32::MAX))
        })?;
        Ok(if count == 0 { default } else { count })
    }

    /// A duration string (Go syntax), or a bare integer meaning seconds
    /// (nats-server's backward-compatible form); 0 means `default`.
    pub fn duration_or(&self, default: Duration) -> Result<Duration, ConfigError> {
        let duration = match &self.value().kind {
            ValueKind::Integer(seconds) => u64::try_from(*seconds)
                .map(Duration::from_secs)
                .map_err(|_| self.invalid(format!("{} can not be negative", self.name)))?,
            ValueKind::String(_) => self.duration_string()?,
            _ => return Err(self.type_error("a duration such as \"30s\"")),
        };
        Ok(if duration.is_zero() {
            default
        } else {
            duration
        })
    }

    /// A duration string only (Go syntax), not negative.
    pub fn duration_string(&self) -> Result<Duration, ConfigError> {
        let text = self
            .value()
            .as_str()
            .ok_or_else(|| self.type_error("a duration string such as \"30s\""))?;
        let nanos = parse_go_duration(text)
            .map_err(|message| self.invalid(format!("error parsing {}: {message}", self.name)))?;
        u64::try_from(nanos)
            .map(Duration::from_nanos)
            .map_err(|_| self.invalid(format!("invalid {}, needs to be positive", self.name)))
    }

    /// Seconds as an integer, a float or a duration string (auth timeouts);
    /// 0 means `default`.
    pub fn seconds_or(&self, default: Duration) -> Result<Duration, ConfigError> {
        let duration = match &self.value().kind {
            ValueKind::Integer(_) => return self.duration_or(default),
            ValueKind::Float(seconds) => Duration::try_from_secs_f64(*seconds)
                .map_err(|_| self.invalid(format!("invalid {} of {seconds}", self.name)))?,
            ValueKind::String(_) => self.duration_string()?,
            _ => return Err(self.type_error("a number of seconds")),
        };
        Ok(if duration.is_zero() {
            default
        } else {
            duration
        })
    }
}
