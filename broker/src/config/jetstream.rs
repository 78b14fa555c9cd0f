//! The `jetstream` option: `jetstream: enabled` / `true` / `disabled` /
//! `false`, or a block `jetstream { store_dir, max_memory_store,
//! max_file_store, sync_interval, domain, strict, ... }` (a block enables
//! JetStream unless it says `enabled: false`), and the top-level
//! `store_dir`. Keys as nats-server's `parseJetStream`.

use std::path::PathBuf;

use super::error::ConfigError;
use super::field::{non_empty, Field};
use super::value::ValueKind;
use crate::options::Options;

/// `jetstream: ...` at the top level.
pub(super) fn apply_jetstream(field: &Field<'_>, options: &mut Options) -> Result<(), ConfigError> {
    match &field.value().kind {
        ValueKind::Bool(enabled) => options.jetstream.enabled = *enabled,
        ValueKind::String(text) => {
            options.jetstream.enabled = match text.to_ascii_lowercase().as_str() {
                "enabled" | "enable" | "true" | "yes" | "on" => true,
                "disabled" | "disable" | "false" | "no" | "off" => false,
                _ => {
                    return Err(field.invalid(format!(
                        "expected 'enabled' or 'disabled' for string value, got {text:?}"
                    )))
                }
            }
        }
        ValueKind::Map(_) => apply_block(field, options)?,
        _ => {
            return Err(
                field.invalid("jetstream must be a boolean, 'enabled'/'disabled' or a block")
            )
        }
    }
    Ok(())
}

fn apply_block(field: &Field<'_>, options: &mut Options) -> Result<(), ConfigError> {
    let jetstream = &mut options.jetstream;
    jetstream.enabled = true;
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "enabled" | "enable" => jetstream.enabled = sub.boolean()?,
            "store_dir" | "store" | "storedir" => {
                jetstream.store_dir = non_empty(sub.string()?).map(PathBuf::from)
            }
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                jetstream.max_memory_store = Some(sub.integer()?)
            }
            "max_file_store" | "max_file" => jetstream.max_file_store = Some(sub.integer()?),
            "sync_interval" | "sync" => {
                jetstream.sync_interval = match sub.value().as_str() {
                    Some(text) if text.eq_ignore_ascii_case("always") => None,
                    _ => Some(sub.duration_string()?),
                }
            }
            "sync_always" => {
                if sub.boolean()? {
                    jetstream.sync_interval = None;
                }
            }
            "domain" => {
                let domain = sub.string()?;
                if domain.contains(['.', '*', '>', ' ']) {
                    return Err(sub.invalid(format!("invalid domain name: {domain:?}")));
                }
                jetstream.domain = non_empty(domain);
            }
            "strict" => jetstream.strict = sub.boolean()?,
            // Tuning knobs of nats-server's clustering and buffers, without
            // effect on a single node.
            "max_outstanding_catchup"
            | "max_catchup"
            | "max_buffered_msgs"
            | "max_buffered_size"
            | "request_queue_limit"
            | "unique_tag" => {}
            "key" | "ek" | "cipher" | "prev_key" | "prev_ek" | "limits" | "extension_hint"
            | "tpm" | "max_ack_pending" | "max_ha_assets" => return Err(sub.unsupported()),
            _ => sub.unknown()?,
        }
    }
    Ok(())
}

/// Top-level `store_dir` (sets the directory; does not enable JetStream).
pub(super) fn apply_store_dir(field: &Field<'_>, options: &mut Options) -> Result<(), ConfigError> {
    options.jetstream.store_dir = non_empty(field.string()?).map(PathBuf::from);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::config::test_support::{options, options_ok};
    use crate::config::ConfigError;

    #[test]
    fn enabled_forms() {
        for text in [
            "jetstream: enabled",
            "jetstream: true",
            "jetstream {}",
            "jetstream: {max_mem: 1G}",
        ] {
            assert!(options_ok(text).jetstream.enabled, "{text}");
        }
        for text in [
            "jetstream: disabled",
            "jetstream: false",
            "jetstream { enabled: false }",
            "",
        ] {
            assert!(!options_ok(text).jetstream.enabled, "{text}");
        }
        assert!(matches!(
            options("jetstream: maybe"),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn block_keys() {
        let parsed = options_ok(
            "jetstream { store_dir: /data, max_memory_store: 1MB, max_file_store: 2GB, sync_interval: \"10s\", domain: hub, strict: true, max_outstanding_catchup: 64MB }",
        )
        .jetstream;
        assert_eq!(parsed.store_dir, Some(PathBuf::from("/data")));
        assert_eq!(parsed.max_memory_store, Some(1024 * 1024));
        assert_eq!(parsed.max_file_store, Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parsed.sync_interval, Some(Duration::from_secs(10)));
        assert_eq!(parsed.domain.as_deref(), Some("hub"));
        assert!(parsed.strict);
        let always = options_ok("jetstream { sync_interval: always }").jetstream;
        assert_eq!(always.sync_interval, None);
        assert!(matches!(
            options("jetstream { cipher: aes }"),
            Err(ConfigError::Unsupported { .. })
        ));
        assert!(matches!(
            options("jetstream { nonsense: 1 }"),
            Err(ConfigError::UnknownField { .. })
        ));
        let top = options_ok("store_dir: /x");
        assert_eq!(top.jetstream.store_dir, Some(PathBuf::from("/x")));
        assert!(!top.jetstream.enabled);
    }
}
