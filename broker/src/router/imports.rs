//! Following the import entries one match found, after the message has
//! gone to the account's own subscribers and peers.
//!
//! - A stream import republishes into the importer with the mapped
//!   subject. Only on the publisher's node: a message from a route was
//!   already imported there (its importer copies travel on their own).
//! - A service import sends the request to the exporter, its reply
//!   replaced by a generated response subject; also only on the
//!   publisher's node.
//! - A response entry sends the response back to the importer's reply
//!   subject, whatever the origin: the entry is this node's local interest,
//!   so a responder on another node forwards its response here.
//!
//! Chains (an importer that re-exports) are followed up to
//! [`MAX_IMPORT_DEPTH`]; the config refuses cycles, the bound is a guard.

use super::batch::Batch;
use super::deliver::{route, Message, Origin};
use crate::account::responses;
use crate::account::ResponseType;
use crate::interest::Interest;
use crate::server::ServerState;

/// How many imports one message may cross.
pub const MAX_IMPORT_DEPTH: u8 = 8;

/// Follow the import entries of `plain` for `message`; returns the
/// destinations reached.
pub(super) fn follow(
    server: &ServerState,
    origin: Origin<'_>,
    message: &Message<'_>,
    plain: &[Interest],
    batch: &mut Batch,
) -> usize {
    if batch.import_depth >= MAX_IMPORT_DEPTH {
        tracing::warn!(
            subject = message.subject,
            "import chain too deep; message not imported further"
        );
        return 0;
    }
    batch.import_depth += 1;
    let from_publisher_node = origin.forwards();
    let mut delivered = 0;
    for entry in plain {
        match entry {
            Interest::StreamImport(import) if from_publisher_node => {
                let subject = import.mapping.apply(&import.subject, message.subject);
                let imported = Message {
                    subject: &subject,
                    ..*message
                };
                delivered += route(server, &import.importer, Origin::Internal, &imported, batch);
            }
            Interest::ServiceImport(import) if from_publisher_node => {
                let reply = message
                    .reply
                    .and_then(|r| std::str::from_utf8(r).ok())
                    .map(|reply| {
                        import
                            .exporter
                            .responses
                            .register(import, reply, &server.local_interest)
                    });
                let subject = import.exporter_subject(message.subject);
                let request = Message {
                    subject: &subject,
                    reply: reply.as_deref().map(str::as_bytes),
                    ..*message
                };
                delivered += route(server, &import.exporter, Origin::Internal, &request, batch);
            }
            Interest::ServiceResponse(response) => {
                if !response.admit() {
                    continue;
                }
                let answer = Message {
                    subject: &response.reply,
                    ..*message
                };
                delivered += route(server, &response.importer, Origin::Internal, &answer, batch);
                if response.response == ResponseType::Singleton {
                    responses::remove(response, &server.local_interest);
                }
            }
            _ => {}
        }
    }
    batch.import_depth -= 1;
    delivered
}
