//! The two ways a config file reaches beyond its own text: `$NAME`
//! variable references and `include` directives (nats-server's
//! `conf/parse.go` `lookupVariable` and `itemInclude`).
//!
//! - `$NAME` takes the value of the key `NAME` defined earlier in the
//!   current map or an enclosing one, else of the environment variable
//!   `NAME`, itself parsed as a value (so `PORT=4222` gives an integer).
//!   The referenced entry is marked so the apply step treats it as a
//!   variable. `$2a$...` (an unquoted bcrypt hash) is a plain string.
//! - `include path` parses another file on its own (it does not see the
//!   includer's variables) and merges its keys into the current map; the
//!   path is relative to the including file.

use std::path::Path;
use std::sync::Arc;

use super::error::ConfigError;
use super::syntax::Parser;
use super::value::{IncludeSite, Value, ValueKind};

/// Includes and environment values parsed inside each other at most this
/// deep; guards against `include` cycles and self-referencing variables.
const MAX_DEPTH: usize = 16;

impl Parser<'_> {
    /// The value of `$name`, referenced on `line`.
    pub(super) fn variable(&mut self, name: &str, line: usize) -> Result<Value, ConfigError> {
        if name.is_empty() {
            return Err(self.error_at(line, "expected a variable name after '$'"));
        }
        if name.starts_with("2a$") {
            // nats-server: an unquoted bcrypt hash is not a variable.
            return Ok(Value {
                kind: ValueKind::String(format!("${name}")),
                line,
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.get_mut(name) {
                entry.used_as_variable = true;
                let mut value = entry.value.clone();
                value.line = line;
                return Ok(value);
            }
        }
        let Some(text) = (self.env)(name) else {
            return Err(ConfigError::UnresolvedVariable {
                line,
                name: name.to_string(),
            });
        };
        if text.trim().is_empty() {
            return Ok(Value {
                kind: ValueKind::String(text),
                line,
            });
        }
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(line, format!("variable '{name}' expands too deeply")));
        }
        let parsed = Parser::new(
            &format!("pk={text}"),
            &self.base_dir,
            self.env,
            self.depth + 1,
            None,
        )
        .document()
        .map_err(|error| {
            self.error_at(
                line,
                format!("variable reference for '{name}' could not be parsed: {error}"),
            )
        })?;
        match parsed
            .into_entries()
            .into_iter()
            .find(|entry| entry.key == "pk")
        {
            Some(entry) => Ok(Value {
                line,
                ..entry.value
            }),
            None => Err(self.error_at(line, format!("variable '{name}' has no value"))),
        }
    }

    /// Reads the path of an `include` on `line` (the keyword and the
    /// whitespace after it have been seen) and merges that file's keys
    /// into the current map.
    pub(super) fn include(&mut self, line: usize) -> Result<(), ConfigError> {
        self.cursor.skip_inline_space();
        let relative = match self.cursor.peek() {
            Some(quote @ ('"' | '\'')) => {
                self.cursor.bump();
                self.cursor
                    .read_raw_until(quote)
                    .map_err(|message| self.error(message))?
            }
            Some(c) if matches!(c, '[' | '{' | '(' | '-' | '\\') || c.is_ascii_digit() => {
                return Err(self.error(format!("expected an include path, got '{c}'")))
            }
            _ => self.cursor.read_bare_path(),
        };
        if relative.is_empty() {
            return Err(self.error("expected an include path"));
        }
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(line, "includes are nested too deeply (is there a cycle?)"));
        }
        let path = self.base_dir.join(&relative);
        let wrap = |source: ConfigError| ConfigError::Include {
            path: path.clone(),
            line,
            source: Box::new(source),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| {
            wrap(ConfigError::Io {
                path: path.clone(),
                source,
            })
        })?;
        let site = Arc::new(IncludeSite {
            path: path.clone(),
            line,
            parent: self.origin.clone(),
        });
        let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let included = Parser::new(&text, &base_dir, self.env, self.depth + 1, Some(site))
            .document()
            .map_err(wrap)?;
        for entry in included.into_entries() {
            self.current_scope().insert(entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::error::ConfigError;
    use crate::config::syntax::parse;
    use crate::config::test_support::{kind, no_env, parse_ok, parse_text, string, TempDir};
    use crate::config::value::{Value, ValueKind};

    #[test]
    fn variables_resolve_in_block_then_parents() {
        let map = parse_ok(
            "TOP = 1\nPORT: 4222\nport: $PORT\nb {\n  INNER = x\n  v: $INNER\n  t: $TOP\n}",
        );
        assert_eq!(kind(&map, "port"), &ValueKind::Integer(4222));
        assert!(map.get("PORT").is_some_and(|e| e.used_as_variable));
        assert!(map.get("TOP").is_some_and(|e| e.used_as_variable));
        assert!(!map.get("port").is_some_and(|e| e.used_as_variable));
        let inner = map.get("b").and_then(|e| e.value.as_map()).expect("map");
        assert_eq!(kind(inner, "v"), &string("x"));
        assert_eq!(kind(inner, "t"), &ValueKind::Integer(1));
        assert!(inner.get("INNER").is_some_and(|e| e.used_as_variable));
    }

    #[test]
    fn variable_value_takes_the_reference_line() {
        let map = parse_ok("X = [a]\n\n\ny: $X");
        assert_eq!(map.get("y").map(|e| e.value.line), Some(4));
    }

    #[test]
    fn variables_fall_back_to_the_environment_parsed_as_values() {
        let env = |name: &str| match name {
            "PORT" => Some("4222".to_string()),
            "NAME" => Some("nats-0".to_string()),
            "LIST" => Some("[a, b]".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let map = parse(
            "p: $PORT\nn: $NAME\nl: $LIST\ne: $EMPTY",
            Path::new("."),
            &env,
        )
        .expect("parses");
        assert_eq!(kind(&map, "p"), &ValueKind::Integer(4222));
        assert_eq!(kind(&map, "n"), &string("nats-0"));
        assert_eq!(
            map.get("l")
                .and_then(|e| e.value.as_array())
                .map(<[Value]>::len),
            Some(2)
        );
        assert_eq!(kind(&map, "e"), &string(""));
    }

    #[test]
    fn block_variables_shadow_the_environment() {
        let env = |_: &str| Some("from-env".to_string());
        let map = parse("X = local\ny: $X\nz: $OTHER", Path::new("."), &env).expect("parses");
        assert_eq!(kind(&map, "y"), &string("local"));
        assert_eq!(kind(&map, "z"), &string("from-env"));
    }

    #[test]
    fn self_referencing_environment_variable_is_an_error_not_a_hang() {
        let env = |_: &str| Some("$LOOP".to_string());
        assert!(parse("a: $LOOP", Path::new("."), &env).is_err());
    }

    #[test]
    fn unresolved_variable_reports_name_and_line() {
        match parse_text("a: 1\n\nb: $MISSING") {
            Err(ConfigError::UnresolvedVariable { line, name }) => {
                assert_eq!((line, name.as_str()), (3, "MISSING"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn variable_defined_later_is_not_visible() {
        assert!(matches!(
            parse_text("a: $B\nB: 1"),
            Err(ConfigError::UnresolvedVariable { line: 1, .. })
        ));
    }

    #[test]
    fn unquoted_bcrypt_hash_is_a_string() {
        let map =
            parse_ok("password: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG");
        assert_eq!(
            kind(&map, "password"),
            &string("$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG")
        );
    }

    #[test]
    fn include_merges_keys_relative_to_the_including_file() {
        let dir = TempDir::new();
        dir.write("conf/auth.conf", "user: alice\ninclude more/pass.conf\n");
        dir.write("conf/more/pass.conf", "password: secret\n");
        let main = dir.write(
            "conf/main.conf",
            "port: 1\nauthorization {\n  include auth.conf\n}\ninclude 'auth.conf'\n",
        );
        let text = std::fs::read_to_string(&main).expect("read");
        let map = parse(&text, &dir.path().join("conf"), &no_env).expect("parses");
        let auth = map
            .get("authorization")
            .and_then(|e| e.value.as_map())
            .expect("map");
        assert_eq!(kind(auth, "user"), &string("alice"));
        assert_eq!(kind(auth, "password"), &string("secret"));
        assert_eq!(kind(&map, "user"), &string("alice"));
        let origin = map
            .get("user")
            .and_then(|e| e.origin.clone())
            .expect("origin");
        assert_eq!(origin.line, 5);
        assert!(origin.path.ends_with("auth.conf"));
        assert!(map.get("port").is_some_and(|e| e.origin.is_none()));
    }

    #[test]
    fn included_variables_are_usable_afterwards() {
        let dir = TempDir::new();
        dir.write("vars.conf", "SECRET = s3cret\n");
        let map =
            parse("include \"vars.conf\"\npass: $SECRET", dir.path(), &no_env).expect("parses");
        assert_eq!(kind(&map, "pass"), &string("s3cret"));
        assert!(map.get("SECRET").is_some_and(|e| e.used_as_variable));
    }

    #[test]
    fn missing_include_is_an_io_error_wrapped_with_the_directive_line() {
        let dir = TempDir::new();
        match parse("a: 1\ninclude nope.conf", dir.path(), &no_env) {
            Err(ConfigError::Include {
                line: 2, source, ..
            }) => {
                assert!(matches!(*source, ConfigError::Io { .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn syntax_error_in_an_include_keeps_its_own_line() {
        let dir = TempDir::new();
        dir.write("bad.conf", "ok: 1\n\nbroken: [1, 2\n");
        match parse("\ninclude bad.conf", dir.path(), &no_env) {
            Err(ConfigError::Include {
                line: 2,
                source,
                path,
            }) => {
                assert!(path.ends_with("bad.conf"));
                assert!(matches!(*source, ConfigError::Syntax { line: 4, .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn include_cycle_is_an_error() {
        let dir = TempDir::new();
        dir.write("a.conf", "include b.conf\n");
        dir.write("b.conf", "include a.conf\n");
        let error = parse("include a.conf", dir.path(), &no_env).expect_err("cycle");
        assert!(matches!(error.root(), ConfigError::Syntax { .. }));
    }

    #[test]
    fn include_with_a_separator_is_an_ordinary_key() {
        let map = parse_ok("include: 5");
        assert_eq!(kind(&map, "include"), &ValueKind::Integer(5));
    }
}
