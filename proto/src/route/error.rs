//! Why a route frame could not be decoded or encoded.

use std::fmt;

/// A route frame error. Any of these makes the route stream unusable: the
/// cluster closes the route and logs the reason.
#[derive(Debug)]
pub enum RouteError {
    /// A length prefix declared a frame larger than the codec's maximum.
    /// Raised before any of the frame's body is buffered.
    TooLarge {
        /// Declared (or, when encoding, actual) frame length in bytes,
        /// without the 4-byte prefix.
        len: usize,
        /// The codec's maximum frame length in bytes.
        max: usize,
    },
    /// The frame body is not a valid protobuf `Frame`.
    Decode(prost::DecodeError),
    /// The frame decoded but breaks a rule of the route protocol (no frame
    /// kind, empty node id, invalid subject, ...).
    Invalid(&'static str),
    /// The underlying stream failed or ended inside a frame.
    Io(std::io::Error),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "route frame of {len} bytes exceeds the maximum of {max} bytes"
                )
            }
            Self::Decode(error) => write!(f, "undecodable route frame: {error}"),
            Self::Invalid(reason) => write!(f, "invalid route frame: {reason}"),
            Self::Io(error) => write!(f, "route stream error: {error}"),
        }
    }
}

impl std::error::Error for RouteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(error) => Some(error),
            Self::Io(error) => Some(error),
            Self::TooLarge { .. } | Self::Invalid(_) => None,
        }
    }
}

impl From<prost::DecodeError> for RouteError {
    fn from(error: prost::DecodeError) -> Self {
        Self::Decode(error)
    }
}

/// Required by tokio-util's `Decoder`/`Encoder`: the framed stream reports
/// socket errors through the codec's error type.
impl From<std::io::Error> for RouteError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_too_large_names_both_sizes() {
        let error = RouteError::TooLarge { len: 10, max: 5 };
        assert_eq!(
            error.to_string(),
            "route frame of 10 bytes exceeds the maximum of 5 bytes"
        );
    }

    #[test]
    fn display_invalid_gives_the_reason() {
        let error = RouteError::Invalid("frame has no kind");
        assert_eq!(error.to_string(), "invalid route frame: frame has no kind");
    }

    #[test]
    fn io_error_converts_and_is_the_source() {
        let error = RouteError::from(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert!(matches!(error, RouteError::Io(_)));
        assert!(std::error::Error::source(&error).is_some());
    }
}
