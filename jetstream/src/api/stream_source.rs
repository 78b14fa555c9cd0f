//! A stream's `mirror` and `sources[]` (`StreamSource`), their checks as
//! nats-server's `checkStreamCfg` makes them (the ones that need no other
//! stream), and the `mirror` / `sources` entries of `StreamInfo`
//! (`StreamSourceInfo`).

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::stream_config::{is_valid_name, StreamConfig};
use crate::consumer::time::rfc3339_option;
use crate::source::SubjectTransform;
use crate::subject;

/// One subject transform of a source: `{"src": ..., "dest": ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceTransform {
    /// Filter of the origin's subjects (empty = `>`).
    pub src: String,
    /// What a matching subject becomes (empty = unchanged).
    pub dest: String,
}

/// Another account's or domain's API and delivery prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalStream {
    /// API prefix (`$JS.<domain>.API`).
    pub api: String,
    /// Delivery prefix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver: String,
}

/// A pre-created durable consumer to source through (2.14, ADR-60): kept
/// and shown; Starling reads the origin's store directly instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceConsumer {
    /// Durable consumer name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its deliver subject.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
}

/// `mirror` or one of `sources[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSource {
    /// The origin stream.
    pub name: String,
    /// First origin sequence to take (first start only).
    #[serde(skip_serializing_if = "is_zero")]
    pub opt_start_seq: u64,
    /// First origin time to take, ns (first start only).
    #[serde(with = "rfc3339_option", skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<i64>,
    /// Only origin subjects matching this.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// Filters with subject transforms (instead of `filter_subject`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SourceTransform>,
    /// Another account or domain (refused for now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// A durable consumer to source through (2.14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<SourceConsumer>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl StreamSource {
    /// nats-server's index name (`composeIName`): `<name> <filters>
    /// <destinations>`, the filters and destinations `\f`-joined, empty
    /// ones as `>`. Two sources of one stream must differ in it; the
    /// `Nats-Stream-Source` header carries it, so a restart finds where
    /// each source stopped.
    pub fn index_name(&self) -> String {
        let (filters, destinations) = if self.subject_transforms.is_empty() {
            let filter = if self.filter_subject.is_empty() {
                ">"
            } else {
                &self.filter_subject
            };
            (filter.to_string(), ">".to_string())
        } else {
            let or_all = |text: &str| {
                if text.is_empty() {
                    ">".to_string()
                } else {
                    text.to_string()
                }
            };
            let filters: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.src))
                .collect();
            let destinations: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.dest))
                .collect();
            (filters.join("\u{c}"), destinations.join("\u{c}"))
        };
        format!("{} {filters} {destinations}", self.name)
    }

    /// The origin subject filters this source takes (`>` for all).
    pub fn filters(&self) -> Vec<String> {
        if !self.subject_transforms.is_empty() {
            return self
                .subject_transforms
                .iter()
                .map(|t| {
                    if t.src.is_empty() {
                        ">".to_string()
                    } else {
                        t.src.clone()
                    }
                })
                .collect();
        }
        if self.filter_subject.is_empty() {
            vec![">".to_string()]
        } else {
            vec![self.filter_subject.clone()]
        }
    }

    /// The transforms, in order (checked by the config checks).
    pub fn transforms(&self) -> Vec<SubjectTransform> {
        self.subject_transforms
            .iter()
            .filter_map(|t| SubjectTransform::new(&t.src, &t.dest).ok())
            .collect()
    }
}

/// `StreamInfo.mirror` / `StreamInfo.sources[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSourceInfo {
    /// The origin stream.
    pub name: String,
    /// External prefixes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// Origin messages not taken yet.
    pub lag: u64,
    /// ns since the origin was last read; -1 if never.
    pub active: i64,
    /// Why the source is not working, if it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The filter, without transforms.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// The transforms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SourceTransform>,
}

impl ApiError {
    /// 10030: the mirror's max message size is below its origin's.
    pub fn mirror_max_message_size() -> Self {
        Self::new(
            400,
            10030,
            "stream mirror must have max message size >= source",
        )
    }

    /// 10031: a mirror with sources.
    pub fn mirror_with_sources() -> Self {
        Self::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }

    /// 10034: a mirror with subjects.
    pub fn mirror_with_subjects() -> Self {
        Self::new(400, 10034, "stream mirrors can not contain subjects")
    }

    /// 10046: a source's max message size is above the stream's.
    pub fn source_max_message_size() -> Self {
        Self::new(
            400,
            10046,
            "stream source must have max message size >= target",
        )
    }

    /// 10055: a mirror's config changed (only removing it is allowed).
    pub fn mirror_not_updatable() -> Self {
        Self::new(400, 10055, "stream mirror configuration can not be updated")
    }

    /// 10140: two sources with the same stream, filter and transforms.
    pub fn source_duplicate() -> Self {
        Self::new(400, 10140, "duplicate source configuration detected")
    }

    /// 10141: a source names no valid stream.
    pub fn source_invalid_stream_name() -> Self {
        Self::new(400, 10141, "sourced stream name is invalid")
    }

    /// 10142: the mirror names no valid stream.
    pub fn mirror_invalid_stream_name() -> Self {
        Self::new(400, 10142, "mirrored stream name is invalid")
    }

    /// 10143: a mirror with `first_seq`.
    pub fn mirror_with_first_seq() -> Self {
        Self::new(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }

    /// 10144: a source with both `filter_subject` and `subject_transforms`.
    pub fn source_multiple_filters() -> Self {
        Self::new(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// 10145: a source transform's filter is not a valid subject.
    pub fn source_invalid_filter(why: &str) -> Self {
        Self::new(400, 10145, format!("source transform source: {why}"))
    }

    /// 10146: a source transform's destination is invalid.
    pub fn source_invalid_transform(why: &str) -> Self {
        Self::new(400, 10146, format!("source transform: {why}"))
    }

    /// 10147: a source's transform filters overlap.
    pub fn source_overlapping_filters() -> Self {
        Self::new(400, 10147, "source filters can not overlap")
    }

    /// 10150: a mirror with both `filter_subject` and `subject_transforms`.
    pub fn mirror_multiple_filters() -> Self {
        Self::new(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// 10151: a mirror transform's filter is not a valid subject.
    pub fn mirror_invalid_filter(why: &str) -> Self {
        Self::new(400, 10151, format!("mirror transform source: {why}"))
    }

    /// 10152: the mirror's transform filters overlap.
    pub fn mirror_overlapping_filters() -> Self {
        Self::new(400, 10152, "mirror subject filters can not overlap")
    }

    /// 10154: a mirror transform's destination is invalid.
    pub fn mirror_invalid_transform(why: &str) -> Self {
        Self::new(400, 10154, format!("mirror transform: {why}"))
    }
}

impl StreamConfig {
    /// Whether the stream takes messages from other streams.
    pub fn has_sources(&self) -> bool {
        self.mirror.is_some() || self.sources.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// The checks of `mirror` and `sources` that need no other stream, in
    /// nats-server's order. Called on the raw config (before `subjects`
    /// defaults to the name).
    pub(super) fn check_sources(&self) -> Result<(), ApiError> {
        if let Some(mirror) = &self.mirror {
            check_mirror(self, mirror)?;
        }
        let sources = self.sources.as_deref().unwrap_or_default();
        let mut seen = Vec::with_capacity(sources.len());
        for source in sources {
            if !is_valid_name(&source.name) {
                return Err(ApiError::source_invalid_stream_name());
            }
            let index = source.index_name();
            if seen.contains(&index) {
                return Err(ApiError::source_duplicate());
            }
            seen.push(index);
            check_external(source.external.as_ref())?;
            if !source.filter_subject.is_empty() && !source.subject_transforms.is_empty() {
                return Err(ApiError::source_multiple_filters());
            }
            check_filter(&source.filter_subject, ApiError::source_invalid_filter)?;
            for transform in &source.subject_transforms {
                check_transform(
                    transform,
                    ApiError::source_invalid_filter,
                    ApiError::source_invalid_transform,
                )?;
            }
            let filters = source.filters();
            for (outer, a) in filters.iter().enumerate() {
                for (inner, b) in filters.iter().enumerate() {
                    if inner != outer && subject::is_subset(a, b) {
                        return Err(ApiError::source_overlapping_filters());
                    }
                }
            }
            check_consumer(source.consumer.as_ref(), 10215, "stream source")?;
        }
        Ok(())
    }
}

fn check_mirror(config: &StreamConfig, mirror: &StreamSource) -> Result<(), ApiError> {
    if config.first_seq > 0 {
        return Err(ApiError::mirror_with_first_seq());
    }
    if !config.subjects.is_empty() {
        return Err(ApiError::mirror_with_subjects());
    }
    if config.sources.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::mirror_with_sources());
    }
    if !mirror.filter_subject.is_empty() && !mirror.subject_transforms.is_empty() {
        return Err(ApiError::mirror_multiple_filters());
    }
    if config.subject_delete_marker_ttl > 0 {
        return Err(ApiError::invalid_stream_config(
            "subject delete markers forbidden on mirrors",
        ));
    }
    if config.allow_atomic {
        return Err(ApiError::new(
            400,
            10198,
            "stream mirrors can not also use atomic publishing",
        ));
    }
    if config.allow_batched {
        return Err(ApiError::new(
            400,
            10209,
            "stream mirrors can not also use batch publishing",
        ));
    }
    check_filter(&mirror.filter_subject, ApiError::mirror_invalid_filter)?;
    for transform in &mirror.subject_transforms {
        check_transform(
            transform,
            ApiError::mirror_invalid_filter,
            ApiError::mirror_invalid_transform,
        )?;
    }
    let filters = mirror.filters();
    for (outer, a) in filters.iter().enumerate() {
        for (inner, b) in filters.iter().enumerate() {
            if inner != outer && subject::overlaps(a, b) {
                return Err(ApiError::mirror_overlapping_filters());
            }
        }
    }
    if mirror.external.is_none() && !is_valid_name(&mirror.name) {
        return Err(ApiError::mirror_invalid_stream_name());
    }
    check_external(mirror.external.as_ref())?;
    check_consumer(mirror.consumer.as_ref(), 10213, "stream mirror")
}

fn check_filter(filter: &str, invalid: fn(&str) -> ApiError) -> Result<(), ApiError> {
    if !filter.is_empty() && !subject::is_valid_filter(filter) {
        return Err(invalid(&format!("invalid subject {filter}")));
    }
    Ok(())
}

fn check_transform(
    transform: &SourceTransform,
    invalid_filter: fn(&str) -> ApiError,
    invalid_transform: fn(&str) -> ApiError,
) -> Result<(), ApiError> {
    check_filter(&transform.src, invalid_filter)?;
    SubjectTransform::new(&transform.src, &transform.dest)
        .map(|_| ())
        .map_err(|why| invalid_transform(&why))
}

/// Sourcing through another account's or domain's API needs an internal
/// consumer across it; Starling reads the origin's store, so refuse.
fn check_external(external: Option<&ExternalStream>) -> Result<(), ApiError> {
    match external {
        None => Ok(()),
        Some(_) => Err(ApiError::invalid_stream_config(
            "external stream sources are not supported by starling yet",
        )),
    }
}

/// ADR-60: both fields are required and must be valid (10213 for a
/// mirror, 10215 for a source).
fn check_consumer(
    consumer: Option<&SourceConsumer>,
    err_code: u16,
    what: &str,
) -> Result<(), ApiError> {
    let Some(consumer) = consumer else {
        return Ok(());
    };
    let deliver_ok = subject::is_valid_filter(&consumer.deliver_subject)
        && !consumer
            .deliver_subject
            .split('.')
            .any(|t| t == "*" || t == ">");
    if !is_valid_name(&consumer.name) || !deliver_ok {
        return Err(ApiError::new(
            400,
            err_code,
            format!("{what} consumer config is invalid"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "stream_source_tests.rs"]
mod tests;
