//! What a stream needs to take messages from other streams (`mirror`,
//! `sources[]`), apart from reading them: subject transforms, the
//! `Nats-Stream-Source` header a sourced message carries, and where each
//! source resumes after a restart (found from those headers, as
//! nats-server's `startingSequenceForSources` does).
//!
//! - [`transform`]: subject transforms ([`SubjectTransform`]).
//! - [`header`]: the `Nats-Stream-Source` value and the header rewrite.
//! - [`resume`]: the last origin sequence each source stored.
//!
//! The reading side (which origin messages to take, when) lives with the
//! caller, leader-local; what it takes becomes an
//! [`crate::stream::Operation`] (`Sourced` / `Mirrored`) holding the whole
//! message, so replicas can apply it deterministically.

pub mod header;
pub mod resume;
pub mod transform;

pub use header::{
    parse_source_header, source_header_value, sourced_headers, without_batch_headers, STREAM_SOURCE,
};
pub use resume::resume_points;
pub use transform::SubjectTransform;
