//! Subject transforms as nats-server's `server/subject_transform.go` has
//! them: a source filter and a destination whose tokens are literals,
//! `>`, or functions of the source's wildcard tokens (`$N`,
//! `{{wildcard(N)}}`, `{{partition(n,N...)}}`, `{{split(N,d)}}`,
//! `{{splitFromLeft(N,p)}}`, `{{splitFromRight(N,p)}}`,
//! `{{sliceFromLeft(N,s)}}`, `{{sliceFromRight(N,s)}}`). Used by a
//! stream's `subject_transform` (on ingest) and `republish` (destination).

use std::fmt;

use crate::subject;

/// Why a transform cannot be built; `Display` is nats-server's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// A subject is invalid, `*` appears in the destination, or only one
    /// side has `>` (`ErrBadSubject`).
    BadSubject,
    /// A destination token is wrong (`mappingDestinationErr`).
    Destination {
        /// The offending token.
        token: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::BadSubject => f.write_str("invalid subject"),
            TransformError::Destination { token, why } => {
                write!(f, "invalid mapping destination: {why} in {token}")
            }
        }
    }
}

const OUT_OF_RANGE: &str = "wildcard index out of range";
const NOT_ENOUGH: &str = "not enough arguments passed to the function";
const TOO_MANY: &str = "too many arguments passed to the function";
const INVALID_ARGUMENT: &str = "function argument is invalid or in the wrong format";
const UNKNOWN: &str = "unknown function";
const INVALID_TRANSFORM: &str = "invalid transform";

/// One destination token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// `>`: the rest of the source's tokens.
    Rest,
    /// Functions, with 0-based source token positions.
    Wildcard(usize),
    Partition {
        buckets: u32,
        of: Vec<usize>,
    },
    Split {
        of: usize,
        delimiter: String,
    },
    SplitFromLeft {
        of: usize,
        at: i64,
    },
    SplitFromRight {
        of: usize,
        at: i64,
    },
    SliceFromLeft {
        of: usize,
        size: i64,
    },
    SliceFromRight {
        of: usize,
        size: i64,
    },
}

/// A built transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    source: String,
    source_len: usize,
    destination: Vec<Token>,
    identity: bool,
}

impl SubjectTransform {
    /// `NewSubjectTransform(source, destination)`; an empty source is `>`.
    pub fn new(source: &str, destination: &str) -> Result<Self, TransformError> {
        let source = if source.is_empty() { ">" } else { source };
        let valid = |s: &str| subject::is_valid_filter(s);
        if !valid(source) || !valid(destination) {
            return Err(TransformError::BadSubject);
        }
        let source_tokens: Vec<&str> = source.split('.').collect();
        let destination_tokens: Vec<&str> = destination.split('.').collect();
        let source_fwc = source_tokens.last() == Some(&">");
        let destination_fwc = destination_tokens.last() == Some(&">");
        if destination_tokens.contains(&"*") || source_fwc != destination_fwc {
            return Err(TransformError::BadSubject);
        }
        // Position of the n-th `*` (1-based n) in the source.
        let wildcards: Vec<usize> = source_tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| **token == "*")
            .map(|(index, _)| index)
            .collect();
        let mut tokens = Vec::with_capacity(destination_tokens.len());
        for token in destination_tokens {
            let parsed = parse_token(token)?;
            let resolve = |n: usize| {
                n.checked_sub(1)
                    .and_then(|i| wildcards.get(i).copied())
                    .ok_or_else(|| TransformError::Destination {
                        token: format!("{token}: [{n}]"),
                        why: OUT_OF_RANGE,
                    })
            };
            if !matches!(parsed, Parsed::Literal) && wildcards.is_empty() {
                return Err(TransformError::Destination {
                    token: token.to_string(),
                    why: OUT_OF_RANGE,
                });
            }
            tokens.push(match parsed {
                Parsed::Literal if token == ">" => Token::Rest,
                Parsed::Literal => Token::Literal(token.to_string()),
                Parsed::Wildcard(n) => Token::Wildcard(resolve(n)?),
                Parsed::Partition(buckets, of) => Token::Partition {
                    buckets,
                    of: of.into_iter().map(resolve).collect::<Result<_, _>>()?,
                },
                Parsed::Split(n, delimiter) => Token::Split {
                    of: resolve(n)?,
                    delimiter,
                },
                Parsed::IndexInt(kind, n, value) => {
                    let of = resolve(n)?;
                    match kind {
                        IndexInt::SplitFromLeft => Token::SplitFromLeft { of, at: value },
                        IndexInt::SplitFromRight => Token::SplitFromRight { of, at: value },
                        IndexInt::SliceFromLeft => Token::SliceFromLeft { of, size: value },
                        IndexInt::SliceFromRight => Token::SliceFromRight { of, size: value },
                    }
                }
            });
        }
        Ok(SubjectTransform {
            identity: source == ">" && destination == ">",
            source: source.to_string(),
            source_len: source_tokens.len(),
            destination: tokens,
        })
    }

    /// The transformed `subject` (a literal), or None when it does not
    /// match the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        if self.identity {
            return Some(subject.to_string());
        }
        if !subject::is_subset(subject, &self.source) {
            return None;
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut out: Vec<String> = Vec::with_capacity(self.destination.len());
        for token in &self.destination {
            let piece = match token {
                Token::Literal(literal) => literal.clone(),
                Token::Rest => {
                    let from = self.source_len.saturating_sub(1);
                    tokens.get(from..).unwrap_or_default().join(".")
                }
                Token::Wildcard(of) => tokens.get(*of)?.to_string(),
                Token::Partition { buckets, of } => {
                    let key: String = of.iter().filter_map(|i| tokens.get(*i).copied()).collect();
                    (fnv1a(key.as_bytes()) % (*buckets).max(1)).to_string()
                }
                Token::Split { of, delimiter } => split(tokens.get(*of)?, delimiter),
                Token::SplitFromLeft { of, at } => split_at(tokens.get(*of)?, *at, false),
                Token::SplitFromRight { of, at } => split_at(tokens.get(*of)?, *at, true),
                Token::SliceFromLeft { of, size } => slice_left(tokens.get(*of)?, *size),
                Token::SliceFromRight { of, size } => slice_right(tokens.get(*of)?, *size),
            };
            out.push(piece);
        }
        Some(out.join("."))
    }
}

/// `ValidateMapping(source, destination)`: an empty destination is
/// accepted (no transform), anything else must build.
pub fn validate_mapping(source: &str, destination: &str) -> Result<(), TransformError> {
    if destination.is_empty() {
        return Ok(());
    }
    let mut after_fwc = false;
    for token in destination.split('.') {
        if token.is_empty() || after_fwc {
            return Err(TransformError::Destination {
                token: token.to_string(),
                why: INVALID_TRANSFORM,
            });
        }
        after_fwc = token == ">";
    }
    SubjectTransform::new(source, destination).map(|_| ())
}

enum IndexInt {
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
}

enum Parsed {
    Literal,
    Wildcard(usize),
    Partition(u32, Vec<usize>),
    Split(usize, String),
    IndexInt(IndexInt, usize, i64),
}

/// `indexPlaceHolders`: what a destination token asks for.
fn parse_token(token: &str) -> Result<Parsed, TransformError> {
    let bad = |why| TransformError::Destination {
        token: token.to_string(),
        why,
    };
    if token.len() > 1 && token.starts_with('$') {
        // `$x` that is not a number is a literal (other features use `$`).
        return Ok(token[1..].parse().map_or(Parsed::Literal, Parsed::Wildcard));
    }
    let Some(inner) = token
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .filter(|_| token.len() > 4)
    else {
        return Ok(Parsed::Literal);
    };
    let inner = inner.trim();
    let Some((name, rest)) = inner.split_once('(') else {
        return Err(bad(UNKNOWN));
    };
    let Some(args) = rest.trim_end().strip_suffix(')') else {
        return Err(bad(UNKNOWN));
    };
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let number = |text: &str| text.parse::<i64>().map_err(|_| bad(INVALID_ARGUMENT));
    let index = |text: &str| text.parse::<usize>().map_err(|_| bad(INVALID_ARGUMENT));
    let two = |args: &[&str]| match args.len() {
        0 | 1 => Err(bad(NOT_ENOUGH)),
        2 => Ok(()),
        _ => Err(bad(TOO_MANY)),
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "wildcard" => match args.as_slice() {
            [""] => Err(bad(NOT_ENOUGH)),
            [one] => Ok(Parsed::Wildcard(index(one)?)),
            _ => Err(bad(TOO_MANY)),
        },
        "partition" => {
            if args.len() < 2 {
                return Err(bad(NOT_ENOUGH));
            }
            let buckets = u32::try_from(number(args[0])?).map_err(|_| bad(INVALID_ARGUMENT))?;
            let of = args[1..]
                .iter()
                .map(|a| index(a))
                .collect::<Result<_, _>>()?;
            Ok(Parsed::Partition(buckets, of))
        }
        "split" => {
            two(&args)?;
            if args[1].contains(' ') || args[1].contains('.') {
                return Err(bad(INVALID_ARGUMENT));
            }
            Ok(Parsed::Split(index(args[0])?, args[1].to_string()))
        }
        kind @ ("splitfromleft" | "splitfromright" | "slicefromleft" | "slicefromright") => {
            two(&args)?;
            let kind = match kind {
                "splitfromleft" => IndexInt::SplitFromLeft,
                "splitfromright" => IndexInt::SplitFromRight,
                "slicefromleft" => IndexInt::SliceFromLeft,
                _ => IndexInt::SliceFromRight,
            };
            Ok(Parsed::IndexInt(kind, index(args[0])?, number(args[1])?))
        }
        _ => Err(bad(UNKNOWN)),
    }
}

/// 32-bit FNV-1a, nats-server's partition hash.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

fn split(token: &str, delimiter: &str) -> String {
    token
        .split(delimiter)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

fn split_at(token: &str, at: i64, from_right: bool) -> String {
    let len = token.len() as i64;
    if at <= 0 || at >= len {
        return token.to_string();
    }
    let cut = if from_right { len - at } else { at } as usize;
    match (token.get(..cut), token.get(cut..)) {
        (Some(left), Some(right)) => format!("{left}.{right}"),
        _ => token.to_string(),
    }
}

fn chunks(token: &str, size: usize, first: usize) -> Option<String> {
    let mut parts = Vec::new();
    if first > 0 {
        parts.push(token.get(..first)?);
    }
    let mut at = first;
    while at < token.len() {
        let end = (at + size).min(token.len());
        parts.push(token.get(at..end)?);
        at = end;
    }
    Some(parts.join("."))
}

fn slice_left(token: &str, size: i64) -> String {
    let len = token.len() as i64;
    if size <= 0 || size >= len {
        return token.to_string();
    }
    chunks(token, size as usize, 0).unwrap_or_else(|| token.to_string())
}

fn slice_right(token: &str, size: i64) -> String {
    let len = token.len() as i64;
    if size <= 0 || size >= len {
        return token.to_string();
    }
    let first = (len % size) as usize;
    chunks(token, size as usize, first).unwrap_or_else(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(source: &str, destination: &str, subject: &str) -> Option<String> {
        SubjectTransform::new(source, destination)
            .ok()?
            .apply(subject)
    }

    #[test]
    fn wildcards_and_rest() {
        assert_eq!(
            map(">", "transformed.>", "test").as_deref(),
            Some("transformed.test")
        );
        assert_eq!(map("a.>", "b.>", "a.x.y").as_deref(), Some("b.x.y"));
        assert_eq!(
            map("a.*.*", "b.$2.{{wildcard(1)}}", "a.x.y").as_deref(),
            Some("b.y.x")
        );
        assert_eq!(map("foo", "bar", "foo").as_deref(), Some("bar"));
        assert_eq!(map("a.*", "b.$1", "c.x"), None);
        assert_eq!(map("", ">", "any.thing").as_deref(), Some("any.thing"));
    }

    #[test]
    fn functions_match_nats_server() {
        // Measured on nats-server 2.15.1: tr3.a-b.c -> 0.a.b.c.
        assert_eq!(
            map(
                "tr3.*.*",
                "{{partition(3,1,2)}}.{{split(1,-)}}.$2",
                "tr3.a-b.c"
            )
            .as_deref(),
            Some("0.a.b.c")
        );
        assert_eq!(
            map("*", "{{splitFromLeft(1,2)}}", "abcd").as_deref(),
            Some("ab.cd")
        );
        assert_eq!(
            map("*", "{{splitFromRight(1,1)}}", "abcd").as_deref(),
            Some("abc.d")
        );
        assert_eq!(
            map("*", "{{sliceFromLeft(1,3)}}", "abcdefg").as_deref(),
            Some("abc.def.g")
        );
        assert_eq!(
            map("*", "{{sliceFromRight(1,3)}}", "abcdefg").as_deref(),
            Some("a.bcd.efg")
        );
    }

    #[test]
    fn refusals_with_nats_server_wording() {
        let error = |s: &str, d: &str| validate_mapping(s, d).err().map(|e| e.to_string());
        assert_eq!(
            error("x3.*", "y3.$2").as_deref(),
            Some("invalid mapping destination: wildcard index out of range in $2: [2]")
        );
        assert_eq!(error("x4.*", "y4.*").as_deref(), Some("invalid subject"));
        assert_eq!(error("x8.>", "y8").as_deref(), Some("invalid subject"));
        assert_eq!(error("x.*", ""), None);
        assert!(error("x.*", "{{nope(1)}}").is_some());
        assert!(error("x", "{{wildcard(1)}}").is_some());
    }
}
