//! The parsed form of a config file: a tree of maps, arrays and scalars, each
//! node remembering its line so the apply step can point at the culprit.

use std::path::PathBuf;
use std::sync::Arc;

/// One value with the line it started on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// 1-based line in the file the value came from (for a `$VAR`
    /// reference: the line of the reference).
    pub line: usize,
}

/// The value types of the nats config format (datetimes are kept as strings).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueKind {
    /// Quoted, unquoted or `( ... )` block text.
    String(String),
    /// A whole number, size suffixes already applied (`1K` = 1000, `1KB` = 1024).
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true/false/yes/no/on/off`, any case.
    Bool(bool),
    /// `[a, b]`.
    Array(Vec<Value>),
    /// `{ key: value }`.
    Map(Map),
}

impl Value {
    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ValueKind::String(_) => "a string",
            ValueKind::Integer(_) => "an integer",
            ValueKind::Float(_) => "a float",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Array(_) => "an array",
            ValueKind::Map(_) => "a map",
        }
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(text) => Some(text),
            _ => None,
        }
    }

    /// The number, if this is an integer.
    pub fn as_integer(&self) -> Option<i64> {
        match self.kind {
            ValueKind::Integer(number) => Some(number),
            _ => None,
        }
    }

    /// The flag, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            ValueKind::Bool(flag) => Some(flag),
            _ => None,
        }
    }

    /// The map, if this is a map.
    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            ValueKind::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Where an `include` directive pulled a file in; chained for nested includes.
#[derive(Debug, PartialEq)]
pub(crate) struct IncludeSite {
    /// The included file.
    pub path: PathBuf,
    /// Line of the `include` directive in the including file.
    pub line: usize,
    /// Where the including file itself was included, if it was.
    pub parent: Option<Arc<IncludeSite>>,
}

/// One `key value` pair of a map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key exactly as written (option names match case-insensitively
    /// later; variable names match exactly).
    pub key: String,
    /// Line of the key.
    pub line: usize,
    /// The value.
    pub value: Value,
    /// Set when some `$key` referenced this entry: such an entry is a
    /// variable, and the apply step does not report it as an unknown field
    /// (nats-server's rule).
    pub used_as_variable: bool,
    /// The include that brought this entry in; None for the main text.
    pub origin: Option<Arc<IncludeSite>>,
}

/// A map in file order. Assigning a key twice keeps the last value (in the
/// position of the first), as nats-server's map does.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Map {
    entries: Vec<Entry>,
}

impl Map {
    /// The entries in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry with exactly this key.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.key == key)
    }

    /// See [`Map::get`].
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|entry| entry.key == key)
    }

    /// Adds an entry, replacing one with the same key.
    pub fn insert(&mut self, entry: Entry) {
        match self.get_mut(&entry.key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// Takes the entries out, in order.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }
}
