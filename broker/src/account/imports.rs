//! Stream and service imports as entries of the sublists (nats-server's
//! `streamImport` / `serviceImport`):
//!
//! - a stream import is an entry in the EXPORTER's sublist on the imported
//!   subject; the router republishes a match into the importer with the
//!   mapped subject;
//! - a service import is an entry in the IMPORTER's sublist on its local
//!   subject; the router sends a match to the exporter on the export's
//!   subject, with the reply replaced by a generated `_R_.` subject whose
//!   [`ServiceResponse`] entry (in the exporter's sublist, see
//!   [`super::responses`]) maps the response back.

use std::sync::Arc;

use starling_proto::subject::has_wildcard;

use super::registry::Accounts;
use super::Account;
use crate::interest::Interest;
use crate::options::{ImportKind, Options};

/// A service export's `response_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResponseType {
    /// One response per request (the default).
    #[default]
    Singleton,
    /// Any number of responses until the response threshold.
    Stream,
    /// Any number of responses (chunks of one answer) until the threshold.
    Chunked,
}

impl ResponseType {
    /// `singleton`, `stream` or `chunked` (any case), as nats-server.
    pub fn parse(text: &str) -> Option<ResponseType> {
        match text.to_ascii_lowercase().as_str() {
            "singleton" | "single" => Some(ResponseType::Singleton),
            "stream" => Some(ResponseType::Stream),
            "chunked" => Some(ResponseType::Chunked),
            _ => None,
        }
    }
}

/// How an imported subject becomes the importer's subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectMapping {
    /// The same subject.
    Same,
    /// `prefix`: `prefix.subject`.
    Prefix(Arc<str>),
    /// `to`: a literal subject, or a pattern whose wildcards take the
    /// tokens the import subject's wildcards matched, in order.
    To(Arc<str>),
}

impl SubjectMapping {
    /// The mapped subject of `subject`, which matched `pattern`.
    pub fn apply(&self, pattern: &str, subject: &str) -> String {
        match self {
            SubjectMapping::Same => subject.to_owned(),
            SubjectMapping::Prefix(prefix) => format!("{prefix}.{subject}"),
            SubjectMapping::To(to) if !has_wildcard(to) => to.to_string(),
            SubjectMapping::To(to) => map_wildcards(pattern, subject, to),
        }
    }
}

/// Fill `to`'s wildcards with the tokens `pattern`'s wildcards matched.
fn map_wildcards(pattern: &str, subject: &str, to: &str) -> String {
    let tokens: Vec<&str> = subject.split('.').collect();
    let mut captured: Vec<String> = Vec::new();
    for (index, token) in pattern.split('.').enumerate() {
        match token {
            "*" => captured.push(tokens.get(index).copied().unwrap_or("").to_owned()),
            ">" => captured.push(tokens.get(index..).unwrap_or(&[]).join(".")),
            _ => {}
        }
    }
    let mut captured = captured.into_iter();
    to.split('.')
        .map(|token| match token {
            "*" | ">" => captured.next().unwrap_or_else(|| token.to_owned()),
            literal => literal.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A stream import: in the exporter's sublist on `subject`.
#[derive(Debug)]
pub struct StreamImport {
    /// Where matching messages are republished.
    pub importer: Arc<Account>,
    /// The imported subject (exporter's space).
    pub subject: Arc<str>,
    /// The importer's subject for a message.
    pub mapping: SubjectMapping,
}

/// A service import: in the importer's sublist on `local`.
#[derive(Debug)]
pub struct ServiceImport {
    /// The account whose sublist holds this entry.
    pub importer: Arc<Account>,
    /// The account that serves the requests.
    pub exporter: Arc<Account>,
    /// The subject requests are sent to in the exporter.
    pub subject: Arc<str>,
    /// The importer's subject (`to`, else `subject`).
    pub local: Arc<str>,
    /// The export's response type.
    pub response: ResponseType,
}

impl ServiceImport {
    /// The exporter's subject for a request published on `subject`.
    pub fn exporter_subject(&self, subject: &str) -> String {
        if self.local == self.subject {
            subject.to_owned()
        } else {
            self.subject.to_string()
        }
    }
}

/// A configured import, resolved to its sublist entry and the account
/// whose sublist holds it.
enum Wanted {
    /// In the exporter's sublist.
    Stream(Arc<Account>, StreamImport),
    /// In the importer's sublist.
    Service(Arc<Account>, ServiceImport),
}

/// What makes two import entries the same import: the account holding it,
/// its sublist subject and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ImportKey {
    Stream {
        holder: Arc<str>,
        subject: Arc<str>,
        importer: Arc<str>,
        mapping: SubjectMapping,
    },
    Service {
        holder: Arc<str>,
        local: Arc<str>,
        exporter: Arc<str>,
        subject: Arc<str>,
        response: ResponseType,
    },
}

impl StreamImport {
    fn key(&self, holder: &Account) -> ImportKey {
        ImportKey::Stream {
            holder: holder.name.clone(),
            subject: self.subject.clone(),
            importer: self.importer.name.clone(),
            mapping: self.mapping.clone(),
        }
    }
}

impl ServiceImport {
    fn key(&self) -> ImportKey {
        ImportKey::Service {
            holder: self.importer.name.clone(),
            local: self.local.clone(),
            exporter: self.exporter.name.clone(),
            subject: self.subject.clone(),
            response: self.response,
        }
    }
}

impl Wanted {
    fn key(&self) -> ImportKey {
        match self {
            Wanted::Stream(exporter, entry) => entry.key(exporter),
            Wanted::Service(_, entry) => entry.key(),
        }
    }

    fn insert(self) {
        match self {
            Wanted::Stream(exporter, entry) => {
                let subject = entry.subject.clone();
                exporter
                    .sublist
                    .insert(&subject, None, Interest::StreamImport(Arc::new(entry)));
            }
            Wanted::Service(importer, entry) => {
                let local = entry.local.clone();
                importer
                    .sublist
                    .insert(&local, None, Interest::ServiceImport(Arc::new(entry)));
            }
        }
    }
}

/// Every import `options` configure, resolved. Imports the config layer
/// would refuse (unknown account, not exported) are skipped with a warning,
/// for options built in code.
fn wanted(accounts: &Accounts, options: &Options) -> Vec<Wanted> {
    let mut wanted = Vec::new();
    for configured in &options.accounts {
        let Some(importer) = accounts.get(&configured.name) else {
            continue;
        };
        for import in &configured.imports {
            let exporter_options = options.accounts.iter().find(|a| a.name == import.account);
            let export = exporter_options.and_then(|exporter| {
                crate::config::find_export(exporter, import, &configured.name)
            });
            let (Some(exporter), Some(export)) = (accounts.get(&import.account), export) else {
                tracing::warn!(account = %configured.name, from = %import.account, subject = %import.subject, "import not authorized; skipped");
                continue;
            };
            let subject: Arc<str> = Arc::from(import.subject.as_str());
            match import.kind {
                ImportKind::Stream => {
                    let mapping = match (&import.prefix, &import.to) {
                        (Some(prefix), _) => SubjectMapping::Prefix(Arc::from(prefix.as_str())),
                        (None, Some(to)) => SubjectMapping::To(Arc::from(to.as_str())),
                        (None, None) => SubjectMapping::Same,
                    };
                    let entry = StreamImport {
                        importer: importer.clone(),
                        subject,
                        mapping,
                    };
                    wanted.push(Wanted::Stream(exporter, entry));
                }
                ImportKind::Service => {
                    let entry = ServiceImport {
                        importer: importer.clone(),
                        exporter,
                        subject,
                        local: Arc::from(import.local_subject()),
                        response: export.response,
                    };
                    wanted.push(Wanted::Service(importer.clone(), entry));
                }
            }
        }
    }
    wanted
}

/// Put every configured import in the sublists (at start).
pub(super) fn install(accounts: &Accounts, options: &Options) {
    for entry in wanted(accounts, options) {
        entry.insert();
    }
}

/// Bring the sublists' import entries in line with reloaded `options`:
/// imports no longer configured leave, new ones arrive, unchanged ones stay
/// untouched (so traffic through them never pauses). Returns how many
/// entries were (removed, added).
pub(super) fn reconcile(accounts: &Accounts, options: &Options) -> (usize, usize) {
    let mut wanted: std::collections::HashMap<ImportKey, Wanted> = wanted(accounts, options)
        .into_iter()
        .map(|entry| (entry.key(), entry))
        .collect();
    let mut removed = 0;
    for account in accounts.all() {
        let stale: Vec<(String, Interest)> = account
            .sublist
            .all()
            .into_iter()
            .filter_map(|(subject, _queue, interest)| {
                let key = match &interest {
                    Interest::StreamImport(entry) => entry.key(&account),
                    Interest::ServiceImport(entry) => entry.key(),
                    _ => return None,
                };
                // Present and still wanted: keep it, nothing to add.
                match wanted.remove(&key) {
                    Some(_) => None,
                    None => Some((subject, interest)),
                }
            })
            .collect();
        for (subject, interest) in &stale {
            if account.sublist.remove(subject, None, interest) {
                removed += 1;
            }
        }
    }
    let added = wanted.len();
    for (_, entry) in wanted {
        entry.insert();
    }
    (removed, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_prefix_literal_and_wildcard_tokens() {
        assert_eq!(SubjectMapping::Same.apply("a.>", "a.b"), "a.b");
        assert_eq!(
            SubjectMapping::Prefix(Arc::from("p")).apply("a.>", "a.b"),
            "p.a.b"
        );
        assert_eq!(
            SubjectMapping::To(Arc::from("x.y")).apply("a.>", "a.b"),
            "x.y"
        );
        assert_eq!(
            SubjectMapping::To(Arc::from("m.*.n.>")).apply("a.*.>", "a.1.2.3"),
            "m.1.n.2.3"
        );
    }

    #[test]
    fn response_types_parse_as_nats_server() {
        assert_eq!(ResponseType::parse("Stream"), Some(ResponseType::Stream));
        assert_eq!(ResponseType::parse("chunked"), Some(ResponseType::Chunked));
        assert_eq!(
            ResponseType::parse("singleton"),
            Some(ResponseType::Singleton)
        );
        assert_eq!(ResponseType::parse("many"), None);
    }
}
