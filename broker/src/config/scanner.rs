//! Character-level scanning of the nats config format: whitespace and
//! comments, quoted and unquoted strings, and the classification of an
//! unquoted token into a boolean, number, variable reference or string.
//!
//! Mirrors nats-server's `conf/lex.go` (v2.9/v2.10): an unquoted value ends at
//! a newline, space, tab, `;`, `,`, `]` or `}`; `#` and `//` start a comment
//! only where a key or the end of a value is expected; `"..."` knows the
//! escapes `\t \n \r \" \\ \xHH`, `'...'` none; integers take the size
//! suffixes of `conf/parse.go` (`k`=1000, `kb`/`ki`/`kib`=1024, and so on up
//! to `e`/`eb`).

/// A position in the text with its 1-based line.
pub(crate) struct Cursor {
    chars: Vec<char>,
    position: usize,
    line: usize,
}

/// What an unquoted token turned out to be.
#[derive(Debug, PartialEq)]
pub(crate) enum Bare {
    /// `true/false/yes/no/on/off`.
    Bool(bool),
    /// A number, suffix applied.
    Integer(i64),
    /// `1.5`.
    Float(f64),
    /// `$NAME`: the name.
    Variable(String),
    /// Anything else (including `127.0.0.1:4222`, `30s`, `nats://a:4222`).
    String(String),
}

/// Characters that end an unquoted value.
fn ends_bare_value(c: char) -> bool {
    matches!(c, '\n' | '\r' | ' ' | '\t' | ';' | ',' | ']' | '}')
}

impl Cursor {
    /// A cursor at the start of `text`, line 1.
    pub fn new(text: &str) -> Cursor {
        Cursor {
            chars: text.chars().collect(),
            position: 0,
            line: 1,
        }
    }

    /// The current line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next character, not consumed.
    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    /// The character `offset` places ahead, not consumed.
    pub fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    /// The first character after any spaces and tabs, not consumed.
    pub fn peek_past_inline_space(&self) -> Option<char> {
        self.chars[self.position.min(self.chars.len())..]
            .iter()
            .copied()
            .find(|c| !matches!(c, ' ' | '\t'))
    }

    /// Consumes one character, counting lines.
    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// True at `#` or `//`.
    pub fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_at(1) == Some('/'),
            _ => false,
        }
    }

    /// Skips to the end of the line, leaving the newline.
    pub fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.bump();
        }
    }

    /// Skips spaces and tabs only.
    pub fn skip_inline_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    /// Skips all whitespace, newlines included, but not comments.
    pub fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Skips whitespace, newlines and comments.
    pub fn skip_blank(&mut self) {
        loop {
            self.skip_whitespace();
            if !self.at_comment() {
                return;
            }
            self.skip_comment();
        }
    }

    /// Reads up to (and consumes) `quote`, without escapes. The opening quote
    /// has been consumed. `Err` carries the message for an unterminated string.
    pub fn read_raw_until(&mut self, quote: char) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some(c) if c == quote => return Ok(text),
                Some(c) => text.push(c),
                None => return Err(format!("unterminated string, expected a closing {quote}")),
            }
        }
    }

    /// Reads a double-quoted string body with escapes; the opening `"` has
    /// been consumed.
    pub fn read_double_quoted(&mut self) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(text),
                Some('\\') => text.push(self.read_escape()?),
                Some(c) => text.push(c),
                None => return Err("unterminated string, expected a closing \"".to_string()),
            }
        }
    }

    /// Reads a `( ... )` block; the `(` has been consumed. The block ends at
    /// a `)` alone on its line; the newline before it is not part of the value.
    pub fn read_block(&mut self) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some(')') if text.ends_with('\n') && matches!(self.peek(), None | Some('\n')) => {
                    text.pop();
                    return Ok(text);
                }
                Some(c) => text.push(c),
                None => return Err("unterminated block, expected ')' on a line by itself".into()),
            }
        }
    }

    /// Reads an unquoted value up to a terminator. Returns the text and
    /// whether it contained escapes (which makes it a plain string).
    pub fn read_bare(&mut self) -> Result<(String, bool), String> {
        let mut text = String::new();
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if ends_bare_value(c) {
                break;
            }
            self.bump();
            if c == '\\' {
                text.push(self.read_escape()?);
                escaped = true;
            } else {
                text.push(c);
            }
        }
        Ok((text, escaped))
    }

    /// Reads an unquoted key: up to whitespace, `=`, `:`, `{` or `[`.
    pub fn read_bare_key(&mut self) -> String {
        let mut key = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, '=' | ':' | '{' | '[') {
                break;
            }
            key.push(c);
            self.bump();
        }
        key
    }

    /// Reads an unquoted include path: up to whitespace, `;` or `}`.
    pub fn read_bare_path(&mut self) -> String {
        let mut path = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ';' | '}') {
                break;
            }
            path.push(c);
            self.bump();
        }
        path
    }

    fn read_escape(&mut self) -> Result<char, String> {
        match self.bump() {
            Some('t') => Ok('\t'),
            Some('n') => Ok('\n'),
            Some('r') => Ok('\r'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('x') => {
                let high = self.bump().and_then(|c| c.to_digit(16));
                let low = self.bump().and_then(|c| c.to_digit(16));
                match (high, low) {
                    // Two hex digits are at most 0xFF, always a valid char.
                    (Some(high), Some(low)) => Ok(char::from((high * 16 + low) as u8)),
                    _ => Err("expected two hexadecimal digits after '\\x'".into()),
                }
            }
            Some(other) => Err(format!(
                "invalid escape character '{}'; only \\xXX, \\t, \\n, \\r, \\\", \\\\ are allowed",
                other.escape_default()
            )),
            None => Err("unexpected end of file after '\\'".into()),
        }
    }
}

/// Multipliers of nats-server's integer size suffixes (lower case).
fn suffix_multiplier(suffix: &str) -> Option<i64> {
    const KILO: i64 = 1000;
    const KIBI: i64 = 1024;
    let (decimal_power, binary) = match suffix {
        "" => return Some(1),
        "k" => (1, false),
        "kb" | "ki" | "kib" => (1, true),
        "m" => (2, false),
        "mb" | "mi" | "mib" => (2, true),
        "g" => (3, false),
        "gb" | "gi" | "gib" => (3, true),
        "t" => (4, false),
        "tb" | "ti" | "tib" => (4, true),
        "p" => (5, false),
        "pb" | "pi" | "pib" => (5, true),
        "e" => (6, false),
        "eb" | "ei" | "eib" => (6, true),
        _ => return None,
    };
    Some((if binary { KIBI } else { KILO }).pow(decimal_power))
}

/// Classifies an unquoted token. `Err` for a number that does not fit i64.
pub(crate) fn classify_bare(text: &str) -> Result<Bare, String> {
    if let Some(name) = text.strip_prefix('$') {
        return Ok(Bare::Variable(name.to_string()));
    }
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => return Ok(Bare::Bool(true)),
        "false" | "no" | "off" => return Ok(Bare::Bool(false)),
        _ => {}
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let digits = unsigned
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unsigned.len());
    if digits == 0 {
        return Ok(Bare::String(text.to_string()));
    }
    let number_end = text.len() - unsigned.len() + digits;
    let rest = &text[number_end..];
    if let Some(fraction) = rest.strip_prefix('.') {
        if !fraction.is_empty() && fraction.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(number) = text.parse::<f64>() {
                return Ok(Bare::Float(number));
            }
        }
        return Ok(Bare::String(text.to_string()));
    }
    let Some(multiplier) = suffix_multiplier(&rest.to_ascii_lowercase()) else {
        // `30s`, `4222abc`, `1m30s`: a string that starts with digits.
        return Ok(Bare::String(text.to_string()));
    };
    let out_of_range = || format!("integer '{text}' is out of range");
    let number: i64 = text[..number_end].parse().map_err(|_| out_of_range())?;
    number
        .checked_mul(multiplier)
        .map(Bare::Integer)
        .ok_or_else(out_of_range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_suffixes_follow_nats_parse_go() {
        let cases = [
            ("1k", 1000),
            ("1K", 1000),
            ("1kb", 1024),
            ("1KB", 1024),
            ("2Ki", 2048),
            ("1kib", 1024),
            ("1m", 1_000_000),
            ("2MB", 2 * 1024 * 1024),
            ("1mib", 1024 * 1024),
            ("1g", 1_000_000_000),
            ("1GB", 1 << 30),
            ("1t", 1_000_000_000_000),
            ("1TB", 1 << 40),
            ("1p", 1_000_000_000_000_000),
            ("1pb", 1 << 50),
            ("1e", 1_000_000_000_000_000_000),
            ("1EB", 1 << 60),
            ("-1", -1),
            ("4222", 4222),
        ];
        for (text, expected) in cases {
            assert_eq!(classify_bare(text), Ok(Bare::Integer(expected)), "{text}");
        }
    }

    #[test]
    fn digit_led_tokens_that_are_not_numbers_are_strings() {
        for text in [
            "30s",
            "10ms",
            "1m30s",
            "4222abc",
            "127.0.0.1",
            "1.2.3",
            "1kbb",
            "1.",
        ] {
            assert_eq!(classify_bare(text), Ok(Bare::String(text.into())), "{text}");
        }
    }

    #[test]
    fn booleans_any_case_and_floats_and_variables() {
        assert_eq!(classify_bare("Yes"), Ok(Bare::Bool(true)));
        assert_eq!(classify_bare("OFF"), Ok(Bare::Bool(false)));
        assert_eq!(classify_bare("2.5"), Ok(Bare::Float(2.5)));
        assert_eq!(classify_bare("-0.5"), Ok(Bare::Float(-0.5)));
        assert_eq!(classify_bare("$PORT"), Ok(Bare::Variable("PORT".into())));
        assert_eq!(
            classify_bare("nats://a:1"),
            Ok(Bare::String("nats://a:1".into()))
        );
    }

    #[test]
    fn integer_overflow_is_an_error() {
        assert!(classify_bare("99999999999999999999").is_err());
        assert!(classify_bare("9000000000EB").is_err());
    }

    #[test]
    fn double_quoted_escapes_are_decoded() {
        let mut cursor = Cursor::new(r#"a\tb\n\"c\\\x41" rest"#);
        assert_eq!(cursor.read_double_quoted(), Ok("a\tb\n\"c\\A".into()));
        assert_eq!(cursor.peek(), Some(' '));
    }

    #[test]
    fn invalid_escape_is_an_error() {
        let mut cursor = Cursor::new(r#"a\qb""#);
        assert!(cursor.read_double_quoted().is_err());
        let mut cursor = Cursor::new(r#"\xZZ""#);
        assert!(cursor.read_double_quoted().is_err());
    }

    #[test]
    fn bare_value_stops_at_terminators_and_keeps_colons() {
        for (input, expected) in [
            ("nats://a:4222, next", "nats://a:4222"),
            ("abc]", "abc"),
            ("abc}", "abc"),
            ("abc;", "abc"),
            ("abc def", "abc"),
            ("foo#bar\n", "foo#bar"),
        ] {
            let mut cursor = Cursor::new(input);
            assert_eq!(cursor.read_bare(), Ok((expected.to_string(), false)));
        }
    }

    #[test]
    fn block_ends_at_a_lone_closing_paren() {
        let mut cursor = Cursor::new("\nline (one)\n)\nafter");
        assert_eq!(cursor.read_block(), Ok("\nline (one)".into()));
        assert_eq!(cursor.line(), 3);
    }

    #[test]
    fn blank_skipping_counts_lines_and_skips_both_comment_styles() {
        let mut cursor = Cursor::new("  # one\n// two\n\n  key");
        cursor.skip_blank();
        assert_eq!(cursor.peek(), Some('k'));
        assert_eq!(cursor.line(), 4);
    }
}
