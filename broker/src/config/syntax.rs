//! Parser of nats-server's config format into a [`Map`] of [`Value`]s.
//!
//! Recursive descent over [`Cursor`], following `conf/lex.go` and
//! `conf/parse.go` of nats-server:
//! - `key value`, `key: value`, `key = value`; the separator before a `{`
//!   is optional; values end at a newline, `;` or `,` (or `}` in a map);
//! - a file whose first token is `{` is one map (so JSON files parse);
//! - `include path` and `$NAME` references are resolved while parsing (see
//!   the `resolve` module for their rules).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ConfigError;
use super::scanner::{classify_bare, Bare, Cursor};
use super::value::{Entry, IncludeSite, Map, Value, ValueKind};

/// How variable references reach the environment; injected so tests need
/// not mutate the process environment.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Maps and arrays nested at most this deep, so hostile input cannot
/// overflow the stack.
const MAX_NESTING: usize = 128;

/// How the map being parsed ends.
#[derive(Clone, Copy, PartialEq)]
enum Closing {
    EndOfFile,
    Brace,
}

/// Parses a whole file. `base_dir` resolves relative `include` paths.
pub(crate) fn parse(text: &str, base_dir: &Path, env: EnvLookup<'_>) -> Result<Map, ConfigError> {
    Parser::new(text, base_dir, env, 0, None).document()
}

/// The parser state for one text (a file, an included file, or an
/// environment variable's value).
pub(super) struct Parser<'a> {
    pub(super) cursor: Cursor,
    /// The maps under construction, outermost first: the scopes `$NAME`
    /// is looked up in.
    pub(super) scopes: Vec<Map>,
    pub(super) base_dir: PathBuf,
    pub(super) env: EnvLookup<'a>,
    /// Include / environment-value nesting of this parser.
    pub(super) depth: usize,
    /// Map and array nesting at the cursor.
    pub(super) nesting: usize,
    /// Stamped on every entry, so apply errors can name the included file.
    pub(super) origin: Option<Arc<IncludeSite>>,
}

impl<'a> Parser<'a> {
    pub(super) fn new(
        text: &str,
        base_dir: &Path,
        env: EnvLookup<'a>,
        depth: usize,
        origin: Option<Arc<IncludeSite>>,
    ) -> Parser<'a> {
        Parser {
            cursor: Cursor::new(text),
            scopes: Vec::new(),
            base_dir: base_dir.to_path_buf(),
            env,
            depth,
            nesting: 0,
            origin,
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ConfigError {
        self.error_at(self.cursor.line(), message)
    }

    pub(super) fn error_at(&self, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            line,
            message: message.into(),
        }
    }

    pub(super) fn document(mut self) -> Result<Map, ConfigError> {
        self.cursor.skip_blank();
        if self.cursor.peek() != Some('{') {
            return self.map_body(Closing::EndOfFile, 1);
        }
        let opened = self.cursor.line();
        self.cursor.bump();
        let map = self.map_body(Closing::Brace, opened)?;
        self.cursor.skip_blank();
        match self.cursor.peek() {
            None => Ok(map),
            Some(c) => Err(self.error(format!(
                "unexpected '{c}' after the '}}' that closes the top-level map"
            ))),
        }
    }

    /// Parses entries until the closing; consumes a closing `}`.
    fn map_body(&mut self, closing: Closing, opened: usize) -> Result<Map, ConfigError> {
        self.scopes.push(Map::default());
        loop {
            self.cursor.skip_blank();
            match (self.cursor.peek(), closing) {
                (None, Closing::EndOfFile) => break,
                (None, Closing::Brace) => {
                    return Err(self.error(format!(
                        "unexpected end of file, the map opened on line {opened} is not closed"
                    )))
                }
                (Some('}'), Closing::Brace) => {
                    self.cursor.bump();
                    break;
                }
                (Some(c @ ('}' | ']' | ',' | ';' | '=' | ':')), _) => {
                    return Err(self.error(format!("unexpected '{c}', expected a key")))
                }
                _ => self.entry(closing)?,
            }
        }
        Ok(self.scopes.pop().unwrap_or_default())
    }

    fn entry(&mut self, closing: Closing) -> Result<(), ConfigError> {
        let line = self.cursor.line();
        let (key, quoted) = match self.cursor.peek() {
            Some(quote @ ('"' | '\'')) => {
                self.cursor.bump();
                let key = self
                    .cursor
                    .read_raw_until(quote)
                    .map_err(|message| self.error_at(line, message))?;
                (key, true)
            }
            _ => (self.cursor.read_bare_key(), false),
        };
        if !quoted && key.is_empty() {
            return Err(self.error("expected a key"));
        }
        if !quoted
            && key.eq_ignore_ascii_case("include")
            && matches!(self.cursor.peek(), Some(' ' | '\t'))
            && !matches!(self.cursor.peek_past_inline_space(), Some('=' | ':'))
        {
            self.include(line)?;
            return self.value_end(closing, &key);
        }
        self.cursor.skip_whitespace();
        if matches!(self.cursor.peek(), Some('=' | ':')) {
            self.cursor.bump();
            self.cursor.skip_whitespace();
        }
        if matches!(self.cursor.peek(), None | Some('}')) {
            return Err(self.error(format!("expected a value for '{key}'")));
        }
        let value = self.value()?;
        self.value_end(closing, &key)?;
        let entry = Entry {
            key,
            line,
            value,
            used_as_variable: false,
            origin: self.origin.clone(),
        };
        self.current_scope().insert(entry);
        Ok(())
    }

    pub(super) fn current_scope(&mut self) -> &mut Map {
        if self.scopes.is_empty() {
            self.scopes.push(Map::default());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    /// After a value: spaces, an optional comment, then a newline, `;`, `,`,
    /// the end of the file, or (in a map) the closing `}`.
    fn value_end(&mut self, closing: Closing, key: &str) -> Result<(), ConfigError> {
        self.cursor.skip_inline_space();
        if self.cursor.at_comment() {
            self.cursor.skip_comment();
        }
        match self.cursor.peek() {
            None => Ok(()),
            Some('\n' | '\r' | ';' | ',') => {
                self.cursor.bump();
                Ok(())
            }
            Some('}') if closing == Closing::Brace => Ok(()),
            Some(c) => Err(self.error(format!(
                "expected a newline, ';' or ',' after the value of '{key}', got '{c}'"
            ))),
        }
    }

    fn value(&mut self) -> Result<Value, ConfigError> {
        let line = self.cursor.line();
        let kind = match self.cursor.peek() {
            None => return Err(self.error("expected a value, got the end of the file")),
            Some('[') => {
                self.cursor.bump();
                self.nested(|parser| parser.array_body(line))?
            }
            Some('{') => {
                self.cursor.bump();
                let map = self.nested(|parser| parser.map_body(Closing::Brace, line))?;
                ValueKind::Map(map)
            }
            Some('"') => {
                self.cursor.bump();
                let text = self
                    .cursor
                    .read_double_quoted()
                    .map_err(|message| self.error_at(line, message))?;
                ValueKind::String(text)
            }
            Some('\'') => {
                self.cursor.bump();
                let text = self
                    .cursor
                    .read_raw_until('\'')
                    .map_err(|message| self.error_at(line, message))?;
                ValueKind::String(text)
            }
            Some('(') => {
                self.cursor.bump();
                let text = self
                    .cursor
                    .read_block()
                    .map_err(|message| self.error_at(line, message))?;
                ValueKind::String(text)
            }
            Some(c @ ('\n' | '\r' | ',' | ';' | ']' | '}')) => {
                return Err(self.error(format!("expected a value, got '{}'", c.escape_default())))
            }
            Some(_) => return self.bare_value(line),
        };
        Ok(Value { kind, line })
    }

    fn nested<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        if self.nesting >= MAX_NESTING {
            return Err(self.error("maps and arrays are nested too deeply"));
        }
        self.nesting += 1;
        let result = parse(self);
        self.nesting -= 1;
        result
    }

    fn bare_value(&mut self, line: usize) -> Result<Value, ConfigError> {
        let (text, escaped) = self
            .cursor
            .read_bare()
            .map_err(|message| self.error(message))?;
        if escaped {
            return Ok(Value {
                kind: ValueKind::String(text),
                line,
            });
        }
        let kind = match classify_bare(&text).map_err(|message| self.error_at(line, message))? {
            Bare::Bool(flag) => ValueKind::Bool(flag),
            Bare::Integer(number) => ValueKind::Integer(number),
            Bare::Float(number) => ValueKind::Float(number),
            Bare::String(text) => ValueKind::String(text),
            Bare::Variable(name) => return self.variable(&name, line),
        };
        Ok(Value { kind, line })
    }

    /// `[` has been consumed. Elements are separated by `,` or newlines; a
    /// trailing `,` is allowed.
    fn array_body(&mut self, opened: usize) -> Result<ValueKind, ConfigError> {
        let mut items = Vec::new();
        let unclosed = |parser: &Self| {
            parser.error(format!(
                "unexpected end of file, the array opened on line {opened} is not closed"
            ))
        };
        loop {
            self.cursor.skip_blank();
            match self.cursor.peek() {
                None => return Err(unclosed(self)),
                Some(']') => {
                    self.cursor.bump();
                    return Ok(ValueKind::Array(items));
                }
                Some(',') => return Err(self.error("unexpected ',' in array")),
                Some(_) => items.push(self.value()?),
            }
            self.cursor.skip_inline_space();
            if self.cursor.at_comment() {
                self.cursor.skip_comment();
            }
            match self.cursor.peek() {
                None => return Err(unclosed(self)),
                Some(',' | '\n' | '\r') => {
                    self.cursor.bump();
                }
                Some(']') => {
                    self.cursor.bump();
                    return Ok(ValueKind::Array(items));
                }
                Some(c) => {
                    return Err(self.error(format!(
                        "expected ',' or ']' after an array element, got '{c}'"
                    )))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{kind, parse_ok, parse_text, string};

    fn syntax_line(result: Result<Map, ConfigError>) -> usize {
        match result {
            Err(ConfigError::Syntax { line, .. }) => line,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn all_three_separators_assign() {
        let map = parse_ok("a 1\nb: 2\nc = 3\nd:4\ne=5\n");
        for (key, number) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)] {
            assert_eq!(kind(&map, key), &ValueKind::Integer(number));
        }
    }

    #[test]
    fn maps_with_and_without_separator_nest() {
        let map = parse_ok(
            "cluster {\n  port: 6222\n  auth = { user: a }\n}\nother: { x: 1 }\nthird{y 2}",
        );
        let cluster = map
            .get("cluster")
            .and_then(|e| e.value.as_map())
            .expect("map");
        assert_eq!(kind(cluster, "port"), &ValueKind::Integer(6222));
        let auth = cluster
            .get("auth")
            .and_then(|e| e.value.as_map())
            .expect("map");
        assert_eq!(kind(auth, "user"), &string("a"));
        assert!(map.get("other").and_then(|e| e.value.as_map()).is_some());
        let third = map
            .get("third")
            .and_then(|e| e.value.as_map())
            .expect("map");
        assert_eq!(kind(third, "y"), &ValueKind::Integer(2));
    }

    #[test]
    fn arrays_take_commas_newlines_comments_and_trailing_comma() {
        let map = parse_ok(
            "a: [1, 2, 3]\nb: [\n  x # first\n  y, // second\n  z,\n]\nc: [[1], {k: v}]\nd: []",
        );
        let numbers: Vec<_> = map
            .get("a")
            .and_then(|e| e.value.as_array())
            .expect("array")
            .iter()
            .map(|v| v.kind.clone())
            .collect();
        assert_eq!(
            numbers,
            vec![
                ValueKind::Integer(1),
                ValueKind::Integer(2),
                ValueKind::Integer(3)
            ]
        );
        let words: Vec<_> = map
            .get("b")
            .and_then(|e| e.value.as_array())
            .expect("array")
            .iter()
            .map(|v| v.kind.clone())
            .collect();
        assert_eq!(words, vec![string("x"), string("y"), string("z")]);
        let mixed = map
            .get("c")
            .and_then(|e| e.value.as_array())
            .expect("array");
        assert!(mixed[0].as_array().is_some());
        assert!(mixed[1].as_map().is_some());
        assert_eq!(kind(&map, "d"), &ValueKind::Array(Vec::new()));
    }

    #[test]
    fn array_elements_remember_their_lines() {
        let map = parse_ok("routes: [\n  a\n  b\n]");
        let lines: Vec<_> = map
            .get("routes")
            .and_then(|e| e.value.as_array())
            .expect("array")
            .iter()
            .map(|v| v.line)
            .collect();
        assert_eq!(lines, vec![2, 3]);
    }

    #[test]
    fn semicolons_and_commas_terminate_values_on_one_line() {
        let map = parse_ok("max_payload: 2MB; max_pending = 64MB\ndebug: false, trace: true;");
        assert_eq!(
            kind(&map, "max_payload"),
            &ValueKind::Integer(2 * 1024 * 1024)
        );
        assert_eq!(
            kind(&map, "max_pending"),
            &ValueKind::Integer(64 * 1024 * 1024)
        );
        assert_eq!(kind(&map, "debug"), &ValueKind::Bool(false));
        assert_eq!(kind(&map, "trace"), &ValueKind::Bool(true));
    }

    #[test]
    fn comments_of_both_styles_are_ignored_everywhere() {
        let map = parse_ok(
            "# top\n// top too\nport: 1 # trailing\nm { // inside\n  a: 2 // after\n  # alone\n}\n",
        );
        assert_eq!(kind(&map, "port"), &ValueKind::Integer(1));
        let inner = map.get("m").and_then(|e| e.value.as_map()).expect("map");
        assert_eq!(kind(inner, "a"), &ValueKind::Integer(2));
        assert_eq!(inner.entries().len(), 1);
    }

    #[test]
    fn quoted_and_unquoted_strings() {
        let map = parse_ok(
            "a: \"x y\\tz\"\nb: 'raw \\t $X'\nc: nats://u:p@h:4222\nd: 127.0.0.1:4222\ne: 30s\nf: \"$NOT_A_VAR\"\ng: 2016-05-04T18:53:41Z",
        );
        assert_eq!(kind(&map, "a"), &string("x y\tz"));
        assert_eq!(kind(&map, "b"), &string("raw \\t $X"));
        assert_eq!(kind(&map, "c"), &string("nats://u:p@h:4222"));
        assert_eq!(kind(&map, "d"), &string("127.0.0.1:4222"));
        assert_eq!(kind(&map, "e"), &string("30s"));
        assert_eq!(kind(&map, "f"), &string("$NOT_A_VAR"));
        assert_eq!(kind(&map, "g"), &string("2016-05-04T18:53:41Z"));
    }

    #[test]
    fn booleans_numbers_and_quoted_keys() {
        let map =
            parse_ok("a: yes\nb: Off\nc: TRUE\nd: 1.5\ne: -1\n\"quoted key\": 1\n'single': 2");
        assert_eq!(kind(&map, "a"), &ValueKind::Bool(true));
        assert_eq!(kind(&map, "b"), &ValueKind::Bool(false));
        assert_eq!(kind(&map, "c"), &ValueKind::Bool(true));
        assert_eq!(kind(&map, "d"), &ValueKind::Float(1.5));
        assert_eq!(kind(&map, "e"), &ValueKind::Integer(-1));
        assert_eq!(kind(&map, "quoted key"), &ValueKind::Integer(1));
        assert_eq!(kind(&map, "single"), &ValueKind::Integer(2));
    }

    #[test]
    fn block_strings_run_to_a_lone_paren() {
        let map = parse_ok("text (\nfirst\n  second)\n)\nafter: 1");
        assert_eq!(kind(&map, "text"), &string("\nfirst\n  second)"));
        assert_eq!(map.get("after").map(|e| e.line), Some(5));
    }

    #[test]
    fn value_may_sit_on_the_line_after_its_key() {
        let map = parse_ok("port\n  4222\n");
        assert_eq!(kind(&map, "port"), &ValueKind::Integer(4222));
    }

    #[test]
    fn a_json_file_parses() {
        let map = parse_ok(
            "{\n  \"port\": 4222,\n  \"debug\": true,\n  \"cluster\": {\"routes\": [\"nats://a:6222\", \"nats://b:6222\"]},\n  \"users\": [{\"user\": \"a\"}, {\"user\": \"b\"}]\n}\n",
        );
        assert_eq!(kind(&map, "port"), &ValueKind::Integer(4222));
        assert_eq!(kind(&map, "debug"), &ValueKind::Bool(true));
        let users = map
            .get("users")
            .and_then(|e| e.value.as_array())
            .expect("array");
        assert_eq!(users.len(), 2);
        assert!(parse_ok("{}").entries().is_empty());
    }

    #[test]
    fn a_later_assignment_replaces_an_earlier_one() {
        let map = parse_ok("port: 1\nport: 2");
        assert_eq!(map.entries().len(), 1);
        assert_eq!(kind(&map, "port"), &ValueKind::Integer(2));
        assert_eq!(map.get("port").map(|e| e.line), Some(2));
    }

    #[test]
    fn malformed_input_reports_the_line() {
        assert_eq!(syntax_line(parse_text("a: 1\nb {\n  c: 2\n")), 4);
        assert_eq!(syntax_line(parse_text("a: 1\nb: 2 3\n")), 2);
        assert_eq!(syntax_line(parse_text("a: 1\n\nb: \"open\n\n")), 3);
        assert_eq!(syntax_line(parse_text("a: [1,, 2]")), 1);
        assert_eq!(syntax_line(parse_text("a: 1\nb:\n")), 3);
        assert_eq!(syntax_line(parse_text("x\n}\n")), 2);
        assert_eq!(syntax_line(parse_text("{ a: 1 } b")), 1);
        assert_eq!(syntax_line(parse_text("a: \"bad \\q escape\"")), 1);
        assert_eq!(syntax_line(parse_text("a: [1 2]")), 1);
        assert_eq!(syntax_line(parse_text("a: 99999999999999999999")), 1);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = format!("a: {}{}", "[".repeat(500), "]".repeat(500));
        assert!(matches!(parse_text(&text), Err(ConfigError::Syntax { .. })));
    }
}
