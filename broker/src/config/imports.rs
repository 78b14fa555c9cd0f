//! An account's `exports` and `imports`, as nats-server's
//! `parseExportStreamOrService` / `parseImportStreamOrService`, and the
//! checks nats-server makes when it adds them (`AddStreamImport`,
//! `AddServiceImport`, `checkStreamImportAuthorized`, import cycles), with
//! its wording.

use std::collections::HashMap;

use starling_proto::subject::{has_wildcard, is_subset, is_valid_subject};

use super::error::ConfigError;
use super::field::Field;
use super::value::Value;
use crate::account::ResponseType;
use crate::options::{AccountOptions, ExportOptions, ImportKind, ImportOptions};

/// `exports: [ {stream: "s"} | {service: "s", response_type: T}, accounts: [..] ]`.
pub(super) fn parse_exports(field: &Field<'_>) -> Result<Vec<ExportOptions>, ConfigError> {
    let mut exports = Vec::new();
    for item in field.array()? {
        let map = item
            .as_map()
            .ok_or_else(|| field.invalid_at(item.line, "Expected map entries for exports"))?;
        let mut kind = None;
        let mut subject = String::new();
        let mut accounts = None;
        let mut response = None;
        for entry in map.entries() {
            let sub = field.child(entry);
            match sub.lower_key().as_str() {
                "stream" | "service" => {
                    if kind.is_some() {
                        return Err(sub.invalid(
                            "Detected stream and service in the same export declaration",
                        ));
                    }
                    kind = Some(if sub.lower_key() == "stream" {
                        ImportKind::Stream
                    } else {
                        ImportKind::Service
                    });
                    subject = subject_of(&sub)?;
                }
                "accounts" => accounts = Some(names(&sub)?),
                "response" | "response_type" => {
                    let text = sub.string()?;
                    response =
                        Some(ResponseType::parse(&text).ok_or_else(|| {
                            sub.invalid(format!("Unknown response type: {text:?}"))
                        })?);
                }
                "response_threshold"
                | "threshold"
                | "account_token_position"
                | "allow_trace"
                | "advertise" => return Err(sub.unsupported()),
                _ => sub.unknown()?,
            }
        }
        let kind = kind.ok_or_else(|| {
            field.invalid_at(item.line, "Expected a stream or service in the export")
        })?;
        if kind == ImportKind::Stream && response.is_some() {
            return Err(field.invalid_at(item.line, "Detected response directive on non-service"));
        }
        exports.push(ExportOptions {
            kind,
            subject,
            accounts,
            response: response.unwrap_or_default(),
        });
    }
    Ok(exports)
}

/// `imports: [ {stream: {account, subject}, prefix|to} | {service: {account, subject}, to} ]`.
pub(super) fn parse_imports(field: &Field<'_>) -> Result<Vec<ImportOptions>, ConfigError> {
    let mut imports = Vec::new();
    for item in field.array()? {
        let map = item
            .as_map()
            .ok_or_else(|| field.invalid_at(item.line, "Expected map entries for imports"))?;
        let mut import = ImportOptions {
            kind: ImportKind::Stream,
            account: String::new(),
            subject: String::new(),
            prefix: None,
            to: None,
        };
        let mut seen_kind = false;
        for entry in map.entries() {
            let sub = field.child(entry);
            match sub.lower_key().as_str() {
                "stream" | "service" => {
                    if seen_kind {
                        return Err(sub.invalid(
                            "Detected stream and service in the same import declaration",
                        ));
                    }
                    seen_kind = true;
                    import.kind = if sub.lower_key() == "stream" {
                        ImportKind::Stream
                    } else {
                        ImportKind::Service
                    };
                    for inner in sub.map()?.entries() {
                        let leaf = sub.child(inner);
                        match leaf.lower_key().as_str() {
                            "account" => import.account = leaf.string()?,
                            "subject" => import.subject = subject_of(&leaf)?,
                            _ => leaf.unknown()?,
                        }
                    }
                }
                "prefix" => import.prefix = Some(subject_of(&sub)?),
                "to" => import.to = Some(subject_of(&sub)?),
                "share" | "allow_trace" => return Err(sub.unsupported()),
                _ => sub.unknown()?,
            }
        }
        if !seen_kind {
            return Err(field.invalid_at(item.line, "Expected a stream or service in the import"));
        }
        if import.account.is_empty() {
            return Err(field.invalid_at(item.line, "Expect an account name and a subject"));
        }
        if import.prefix.is_some() && import.to.is_some() {
            return Err(field.invalid_at(
                item.line,
                "Stream import can not have a 'prefix' and a 'to' property",
            ));
        }
        if import.kind == ImportKind::Service && import.prefix.is_some() {
            return Err(field.invalid_at(item.line, "Detected prefix directive on non-stream"));
        }
        // A service import maps one subject onto one subject; wildcards
        // are fine only when the subject is kept as it is.
        let remaps = import.to.as_deref().is_some_and(|to| to != import.subject);
        if import.kind == ImportKind::Service
            && remaps
            && (has_wildcard(&import.subject) || import.to.as_deref().is_some_and(has_wildcard))
        {
            return Err(field.invalid_at(
                item.line,
                "service import with a wildcard 'to' mapping is not supported",
            ));
        }
        imports.push(import);
    }
    Ok(imports)
}

fn subject_of(field: &Field<'_>) -> Result<String, ConfigError> {
    let subject = field.string()?;
    if !is_valid_subject(&subject) {
        return Err(field.invalid(format!("invalid subject {subject:?}")));
    }
    Ok(subject)
}

fn names(field: &Field<'_>) -> Result<Vec<String>, ConfigError> {
    field
        .array()?
        .iter()
        .map(|value: &Value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| field.invalid_at(value.line, "expected an account name"))
        })
        .collect()
}

/// The checks nats-server makes when it adds the imports: the exporter is
/// defined, exports the subject to this account, no duplicate service
/// import subject, and no import cycle.
pub(super) fn check_imports(
    field: &Field<'_>,
    accounts: &[AccountOptions],
) -> Result<(), ConfigError> {
    let by_name: HashMap<&str, &AccountOptions> =
        accounts.iter().map(|a| (a.name.as_str(), a)).collect();
    for account in accounts {
        let mut service_subjects: HashMap<&str, &ImportOptions> = HashMap::new();
        for import in &account.imports {
            let what = match import.kind {
                ImportKind::Stream => "stream",
                ImportKind::Service => "service",
            };
            let Some(exporter) = by_name.get(import.account.as_str()) else {
                return Err(field.invalid(format!(
                    "{:?} account not defined for {what} import",
                    import.account
                )));
            };
            let adding = || format!("Error adding {what} import {:?}", import.subject);
            if find_export(exporter, import, &account.name).is_none() {
                return Err(field.invalid(format!("{}: {what} import not authorized", adding())));
            }
            if import.kind == ImportKind::Service {
                let local = import.local_subject();
                if let Some(previous) = service_subjects.insert(local, import) {
                    return Err(field.invalid(format!(
                        "Duplicate service import subject {local:?}, previously used in import for account {:?}, subject {:?}",
                        previous.account, previous.subject
                    )));
                }
            }
            if forms_cycle(&by_name, &account.name, import, &mut Vec::new()) {
                return Err(field.invalid(format!("{}: import forms a cycle", adding())));
            }
        }
    }
    Ok(())
}

/// The export of `exporter` that lets `importer` import `import`.
pub(crate) fn find_export<'a>(
    exporter: &'a AccountOptions,
    import: &ImportOptions,
    importer: &str,
) -> Option<&'a ExportOptions> {
    exporter.exports.iter().find(|export| {
        export.kind == import.kind
            && is_subset(&import.subject, &export.subject)
            && export
                .accounts
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|name| name == importer))
    })
}

/// Whether following imports from `import`'s exporter leads back to
/// `start` on overlapping subjects (nats-server: "import forms a cycle").
fn forms_cycle(
    by_name: &HashMap<&str, &AccountOptions>,
    start: &str,
    import: &ImportOptions,
    visited: &mut Vec<String>,
) -> bool {
    if import.account == start {
        return true;
    }
    if visited.contains(&import.account) || visited.len() > 64 {
        return false;
    }
    visited.push(import.account.clone());
    let Some(exporter) = by_name.get(import.account.as_str()) else {
        return false;
    };
    exporter.imports.iter().any(|next| {
        next.kind == import.kind
            && overlaps(&next.local_subject_owned(), &import.subject)
            && forms_cycle(by_name, start, next, visited)
    })
}

/// Whether some subject matches both patterns.
fn overlaps(a: &str, b: &str) -> bool {
    is_subset(a, b) || is_subset(b, a)
}

impl ImportOptions {
    /// The subject in the importer's space: `to`, else `prefix.subject`,
    /// else the subject itself.
    pub fn local_subject(&self) -> &str {
        self.to.as_deref().unwrap_or(&self.subject)
    }

    /// [`ImportOptions::local_subject`] with the stream prefix applied.
    pub fn local_subject_owned(&self) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}.{}", self.subject),
            None => self.local_subject().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::account::ResponseType;
    use crate::config::test_support::{options, options_ok};
    use crate::options::ImportKind;

    fn parse_err(text: &str) -> String {
        match options(text) {
            Ok(parsed) => panic!("expected an error, got {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn exports_and_imports_parse_into_options() {
        let options = options_ok(
            r#"accounts {
              A: { exports: [ {stream: "s.>"}, {service: "svc.*", response_type: chunked, accounts: [B]} ] }
              B: { imports: [ {stream: {account: A, subject: "s.x"}, prefix: p},
                              {service: {account: A, subject: "svc.1"}, to: "local"} ] }
            }"#,
        );
        let a = &options.accounts[0];
        assert_eq!(a.exports.len(), 2);
        assert_eq!(a.exports[0].accounts, None);
        assert_eq!(a.exports[1].kind, ImportKind::Service);
        assert_eq!(a.exports[1].response, ResponseType::Chunked);
        assert_eq!(
            a.exports[1].accounts.as_deref(),
            Some(&["B".to_string()][..])
        );
        let b = &options.accounts[1];
        assert_eq!(b.imports[0].prefix.as_deref(), Some("p"));
        assert_eq!(b.imports[0].local_subject_owned(), "p.s.x");
        assert_eq!(b.imports[1].local_subject(), "local");
    }

    #[test]
    fn malformed_entries_are_errors() {
        assert!(parse_err(
            r#"accounts { A: { exports: [ {stream: "a.>"} ] }, B: { imports: [ {stream: {account: A, subject: "a.>"}, prefix: p, to: q} ] } }"#
        )
        .contains("can not have a 'prefix' and a 'to'"));
        assert!(parse_err(
            r#"accounts { A: { exports: [ {stream: "a", response_type: stream} ] } }"#
        )
        .contains("response directive on non-service"));
        assert!(
            parse_err(r#"accounts { A: { exports: [ {stream: "a", service: "b"} ] } }"#)
                .contains("stream and service")
        );
        assert!(
            parse_err(r#"accounts { A: { exports: [ {stream: "a..b"} ] } }"#)
                .contains("invalid subject")
        );
        assert!(parse_err(
            r#"accounts { B: { imports: [ {service: {account: X, subject: "a"}} ] } }"#
        )
        .contains("\"X\" account not defined for service import"));
    }

    #[test]
    fn chains_without_a_cycle_are_accepted() {
        // C imports from B, which imports from A: a chain, not a cycle.
        options_ok(
            r#"accounts {
              A: { exports: [ {stream: "x.>"} ] }
              B: { exports: [ {stream: "x.>"} ], imports: [ {stream: {account: A, subject: "x.>"}} ] }
              C: { imports: [ {stream: {account: B, subject: "x.>"}} ] }
            }"#,
        );
        // Disjoint subjects both ways are not a cycle either.
        options_ok(
            r#"accounts {
              A: { exports: [ {service: "a"} ], imports: [ {service: {account: B, subject: "b"}} ] }
              B: { exports: [ {service: "b"} ], imports: [ {service: {account: A, subject: "a"}} ] }
            }"#,
        );
    }
}
