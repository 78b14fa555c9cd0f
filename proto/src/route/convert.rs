//! The boundary between the private prost types and the domain frames.
//!
//! Encoding cannot fail: every domain frame has a protobuf form. Decoding
//! validates everything the receiver would otherwise have to re-check (a
//! frame kind is present, ids and subjects are non-empty, subjects and queue
//! names are well-formed, a header fits in its payload), so the cluster and
//! the broker only ever see valid frames. Magic number, protocol version,
//! cluster name and credentials are not checked here: they are decisions of
//! the handshake (see [`Hello::is_compatible`]).

use bytes::Bytes;
use prost::Message;

use super::error::RouteError;
use super::frame::{Hello, InterestChange, Member, RouteFrame, RouteMsg};
use super::generated as pb;
use super::intern::SubjectTable;
use crate::account::{self, GLOBAL_ACCOUNT};
use crate::subject;

/// Decodes one frame body (without its length prefix). Slicing `body` is how
/// subject, reply and payload come out: they share its allocation.
pub(crate) fn decode_frame(
    body: Bytes,
    subjects: &mut SubjectTable,
) -> Result<RouteFrame, RouteError> {
    let mut frame = pb::Frame::decode(body)?;
    if let Some(pb::frame::Kind::Msg(msg)) = &mut frame.kind {
        resolve_interned(msg, subjects)?;
    }
    frame_from_proto(frame)
}

/// Applies a Msg's `subject_id`: stores the definition it carries, or fills
/// in the subject it stands for. Afterwards the Msg is validated like any.
fn resolve_interned(msg: &mut pb::Msg, subjects: &mut SubjectTable) -> Result<(), RouteError> {
    let Some(id) = msg.subject_id else {
        return Ok(());
    };
    if msg.subject.is_empty() {
        if !msg.account.is_empty() {
            return Err(RouteError::Invalid(
                "message names an interned subject id and an account",
            ));
        }
        let (account, subject) = subjects.get(id).map_err(RouteError::Invalid)?;
        msg.account = account;
        msg.subject = subject;
    } else {
        subjects
            .define(id, &msg.account, &msg.subject)
            .map_err(RouteError::Invalid)?;
    }
    Ok(())
}

/// The protobuf form of a frame. Byte fields are shared, not copied.
pub(crate) fn frame_to_proto(frame: &RouteFrame) -> pb::Frame {
    use pb::frame::Kind;
    let kind = match frame {
        RouteFrame::Hello(hello) => Kind::Hello(hello_to_proto(hello)),
        RouteFrame::Members(members) => Kind::Members(pb::Members {
            members: members.iter().map(member_to_proto).collect(),
        }),
        RouteFrame::Interest(changes) => Kind::Interest(pb::Interest {
            changes: changes.iter().map(interest_to_proto).collect(),
        }),
        RouteFrame::Msg(msg) => Kind::Msg(msg_to_proto(msg)),
        RouteFrame::Ping => Kind::Ping(pb::Ping {}),
        RouteFrame::Pong => Kind::Pong(pb::Pong {}),
        RouteFrame::Close(reason) => Kind::Close(pb::Close {
            reason: reason.clone(),
        }),
        RouteFrame::InterestSync { seq, snapshot_end } => Kind::InterestSync(pb::InterestSync {
            seq: *seq,
            snapshot_end: *snapshot_end,
        }),
        RouteFrame::InterestAck(seq) => Kind::InterestAck(pb::InterestAck { seq: *seq }),
    };
    pb::Frame { kind: Some(kind) }
}

/// Validates a decoded frame into its domain form.
pub(crate) fn frame_from_proto(frame: pb::Frame) -> Result<RouteFrame, RouteError> {
    use pb::frame::Kind;
    let kind = frame.kind.ok_or(RouteError::Invalid("frame has no kind"))?;
    Ok(match kind {
        Kind::Hello(hello) => RouteFrame::Hello(hello_from_proto(hello)?),
        Kind::Members(members) => RouteFrame::Members(
            members
                .members
                .into_iter()
                .map(member_from_proto)
                .collect::<Result<_, _>>()?,
        ),
        Kind::Interest(interest) => RouteFrame::Interest(
            interest
                .changes
                .into_iter()
                .map(interest_from_proto)
                .collect::<Result<_, _>>()?,
        ),
        Kind::Msg(msg) => RouteFrame::Msg(msg_from_proto(msg)?),
        Kind::Ping(pb::Ping {}) => RouteFrame::Ping,
        Kind::Pong(pb::Pong {}) => RouteFrame::Pong,
        Kind::Close(close) => RouteFrame::Close(close.reason),
        Kind::InterestSync(sync) => RouteFrame::InterestSync {
            seq: sync.seq,
            snapshot_end: sync.snapshot_end,
        },
        Kind::InterestAck(ack) => RouteFrame::InterestAck(ack.seq),
    })
}

fn hello_to_proto(hello: &Hello) -> pb::Hello {
    pb::Hello {
        magic: hello.magic,
        version: hello.version,
        node_id: hello.node_id.clone(),
        node_name: hello.node_name.clone(),
        cluster_name: hello.cluster_name.clone(),
        cluster_dynamic: hello.cluster_dynamic,
        route_url: hello.route_url.clone(),
        client_urls: hello.client_urls.clone(),
        user: hello.user.clone(),
        password: hello.password.clone(),
        lame_duck: hello.lame_duck,
        interest_ack: hello.interest_ack,
        compact_framing: hello.compact_framing,
        subject_table: hello.subject_table,
    }
}

fn hello_from_proto(hello: pb::Hello) -> Result<Hello, RouteError> {
    if hello.node_id.is_empty() {
        return Err(RouteError::Invalid("hello with an empty node id"));
    }
    Ok(Hello {
        magic: hello.magic,
        version: hello.version,
        node_id: hello.node_id,
        node_name: hello.node_name,
        cluster_name: hello.cluster_name,
        cluster_dynamic: hello.cluster_dynamic,
        route_url: hello.route_url,
        client_urls: hello.client_urls,
        user: hello.user,
        password: hello.password,
        lame_duck: hello.lame_duck,
        interest_ack: hello.interest_ack,
        compact_framing: hello.compact_framing,
        subject_table: hello.subject_table,
    })
}

fn member_to_proto(member: &Member) -> pb::Member {
    pb::Member {
        node_id: member.node_id.clone(),
        node_name: member.node_name.clone(),
        route_url: member.route_url.clone(),
        client_urls: member.client_urls.clone(),
        lame_duck: member.lame_duck,
    }
}

fn member_from_proto(member: pb::Member) -> Result<Member, RouteError> {
    if member.node_id.is_empty() {
        return Err(RouteError::Invalid("member with an empty node id"));
    }
    Ok(Member {
        node_id: member.node_id,
        node_name: member.node_name,
        route_url: member.route_url,
        client_urls: member.client_urls,
        lame_duck: member.lame_duck,
    })
}

fn interest_to_proto(change: &InterestChange) -> pb::InterestChange {
    use pb::interest_change::Kind;
    let kind = match change {
        InterestChange::Subscribe {
            account,
            subject,
            queue,
            weight,
        } => Kind::Subscribe(pb::Subscribe {
            subject: subject.clone(),
            queue: queue.clone(),
            weight: *weight,
            account: account_to_wire(account),
        }),
        InterestChange::Unsubscribe {
            account,
            subject,
            queue,
        } => Kind::Unsubscribe(pb::Unsubscribe {
            subject: subject.clone(),
            queue: queue.clone(),
            account: account_to_wire(account),
        }),
    };
    pb::InterestChange { kind: Some(kind) }
}

fn interest_from_proto(change: pb::InterestChange) -> Result<InterestChange, RouteError> {
    use pb::interest_change::Kind;
    match change.kind {
        None => Err(RouteError::Invalid("interest change has no kind")),
        Some(Kind::Subscribe(subscribe)) => {
            check_interest(&subscribe.subject, subscribe.queue.as_deref())?;
            if subscribe.weight == 0 {
                return Err(RouteError::Invalid("subscribe with a weight of 0"));
            }
            Ok(InterestChange::Subscribe {
                account: account_from_wire(subscribe.account)?,
                subject: subscribe.subject,
                queue: subscribe.queue,
                weight: subscribe.weight,
            })
        }
        Some(Kind::Unsubscribe(unsubscribe)) => {
            check_interest(&unsubscribe.subject, unsubscribe.queue.as_deref())?;
            Ok(InterestChange::Unsubscribe {
                account: account_from_wire(unsubscribe.account)?,
                subject: unsubscribe.subject,
                queue: unsubscribe.queue,
            })
        }
    }
}

/// The wire form of an account name: empty for `$G`.
fn account_to_wire(name: &str) -> String {
    if name == GLOBAL_ACCOUNT {
        String::new()
    } else {
        name.to_owned()
    }
}

/// An account name off the wire: empty is `$G`; anything else must be a
/// valid name.
fn account_from_wire(name: String) -> Result<String, RouteError> {
    if name.is_empty() {
        return Ok(GLOBAL_ACCOUNT.to_owned());
    }
    if !account::is_valid_account_name(&name) {
        return Err(RouteError::Invalid("invalid account name"));
    }
    Ok(name)
}

/// Interest subjects are subscription subjects: wildcards allowed, and the
/// same rules as a client's SUB, so the route's interest map never holds a
/// subject no local client could have subscribed to.
fn check_interest(subject: &str, queue: Option<&str>) -> Result<(), RouteError> {
    if !subject::is_valid_subject(subject) {
        return Err(RouteError::Invalid("interest with an invalid subject"));
    }
    if queue.is_some_and(|queue| !subject::is_valid_queue_name(queue)) {
        return Err(RouteError::Invalid("interest with an invalid queue name"));
    }
    Ok(())
}

fn msg_to_proto(msg: &RouteMsg) -> pb::Msg {
    pb::Msg {
        account: if msg.account == GLOBAL_ACCOUNT.as_bytes() {
            Bytes::new()
        } else {
            msg.account.clone()
        },
        subject: msg.subject.clone(),
        reply: msg.reply.clone(),
        queues: msg.queues.clone(),
        header_len: msg.header_len,
        payload: msg.payload.clone(),
        subject_id: None,
    }
}

fn msg_from_proto(msg: pb::Msg) -> Result<RouteMsg, RouteError> {
    if !is_deliverable_subject(&msg.subject) {
        return Err(RouteError::Invalid(
            "message with an empty or malformed subject",
        ));
    }
    if msg
        .reply
        .as_ref()
        .is_some_and(|reply| !is_deliverable_subject(reply))
    {
        return Err(RouteError::Invalid(
            "message with an empty or malformed reply",
        ));
    }
    if msg
        .queues
        .iter()
        .any(|queue| !subject::is_valid_queue_name(queue))
    {
        return Err(RouteError::Invalid("message with an invalid queue name"));
    }
    if msg.header_len.is_some_and(|header_len| {
        usize::try_from(header_len).map_or(true, |len| len > msg.payload.len())
    }) {
        return Err(RouteError::Invalid(
            "message header longer than its payload",
        ));
    }
    let account = if msg.account.is_empty() {
        Bytes::from_static(GLOBAL_ACCOUNT.as_bytes())
    } else if std::str::from_utf8(&msg.account).is_ok_and(account::is_valid_account_name) {
        msg.account
    } else {
        return Err(RouteError::Invalid("message with an invalid account name"));
    };
    Ok(RouteMsg {
        account,
        subject: msg.subject,
        reply: msg.reply,
        queues: msg.queues,
        header_len: msg.header_len,
        payload: msg.payload,
    })
}

/// A subject (or reply) that can be written into a client's `MSG` line:
/// non-empty and without the whitespace that separates the line's fields.
/// Deliberately no stricter than what the client parser accepts from a
/// publisher, since that is where these subjects come from.
fn is_deliverable_subject(subject: &[u8]) -> bool {
    !subject.is_empty()
        && !subject
            .iter()
            .any(|byte| matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::frame::{ROUTE_MAGIC, ROUTE_PROTOCOL_VERSION};

    fn msg() -> pb::Msg {
        pb::Msg {
            account: Bytes::new(),
            subject: Bytes::from_static(b"orders.new"),
            reply: Some(Bytes::from_static(b"_INBOX.1")),
            queues: vec!["workers".to_owned()],
            header_len: Some(2),
            payload: Bytes::from_static(b"\r\nhi"),
            subject_id: None,
        }
    }

    fn invalid(frame: pb::Frame) -> &'static str {
        match frame_from_proto(frame) {
            Err(RouteError::Invalid(reason)) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn msg_frame(msg: pb::Msg) -> pb::Frame {
        pb::Frame {
            kind: Some(pb::frame::Kind::Msg(msg)),
        }
    }

    fn interest_frame(kind: Option<pb::interest_change::Kind>) -> pb::Frame {
        pb::Frame {
            kind: Some(pb::frame::Kind::Interest(pb::Interest {
                changes: vec![pb::InterestChange { kind }],
            })),
        }
    }

    fn subscribe(subject: &str, queue: Option<&str>, weight: u32) -> pb::Frame {
        interest_frame(Some(pb::interest_change::Kind::Subscribe(pb::Subscribe {
            subject: subject.to_owned(),
            queue: queue.map(str::to_owned),
            weight,
            account: String::new(),
        })))
    }

    #[test]
    fn valid_msg_converts_unchanged() {
        let frame = frame_from_proto(msg_frame(msg())).expect("valid");
        let RouteFrame::Msg(converted) = &frame else {
            panic!("expected Msg, got {frame:?}");
        };
        assert_eq!(converted.subject, "orders.new");
        assert_eq!(frame_to_proto(&frame), msg_frame(msg()));
    }

    #[test]
    fn frame_without_kind_is_invalid() {
        invalid(pb::Frame { kind: None });
    }

    #[test]
    fn hello_with_empty_node_id_is_invalid() {
        let hello = pb::Hello {
            magic: ROUTE_MAGIC,
            version: ROUTE_PROTOCOL_VERSION,
            ..pb::Hello::default()
        };
        invalid(pb::Frame {
            kind: Some(pb::frame::Kind::Hello(hello)),
        });
    }

    #[test]
    fn hello_with_wrong_magic_converts_for_the_cluster_to_refuse() {
        let hello = pb::Hello {
            magic: 1,
            version: 99,
            node_id: "N1".to_owned(),
            ..pb::Hello::default()
        };
        let frame = frame_from_proto(pb::Frame {
            kind: Some(pb::frame::Kind::Hello(hello)),
        });
        let Ok(RouteFrame::Hello(hello)) = frame else {
            panic!("expected Hello, got {frame:?}");
        };
        assert!(hello.is_compatible().is_err());
    }

    #[test]
    fn member_with_empty_node_id_is_invalid() {
        invalid(pb::Frame {
            kind: Some(pb::frame::Kind::Members(pb::Members {
                members: vec![pb::Member::default()],
            })),
        });
    }

    #[test]
    fn interest_change_without_kind_is_invalid() {
        invalid(interest_frame(None));
    }

    #[test]
    fn interest_with_empty_or_malformed_subject_is_invalid() {
        invalid(subscribe("", None, 1));
        invalid(subscribe("a..b", None, 1));
        invalid(subscribe("a.>.b", None, 1));
        invalid(subscribe("a b", None, 1));
        invalid(interest_frame(Some(
            pb::interest_change::Kind::Unsubscribe(pb::Unsubscribe::default()),
        )));
    }

    #[test]
    fn interest_with_empty_or_spaced_queue_is_invalid() {
        invalid(subscribe("a.*", Some(""), 1));
        invalid(subscribe("a.*", Some("a b"), 1));
    }

    #[test]
    fn subscribe_with_zero_weight_is_invalid() {
        invalid(subscribe("a.>", Some("q"), 0));
    }

    #[test]
    fn wildcard_interest_with_queue_is_valid() {
        assert!(frame_from_proto(subscribe("a.*.>", Some("q"), 3)).is_ok());
    }

    #[test]
    fn msg_with_empty_or_spaced_subject_is_invalid() {
        for subject in [&b""[..], b"a b", b"a\r\n", b"\t"] {
            invalid(msg_frame(pb::Msg {
                subject: Bytes::copy_from_slice(subject),
                ..msg()
            }));
        }
    }

    #[test]
    fn msg_with_empty_reply_is_invalid() {
        invalid(msg_frame(pb::Msg {
            reply: Some(Bytes::new()),
            ..msg()
        }));
    }

    #[test]
    fn msg_with_empty_queue_name_is_invalid() {
        invalid(msg_frame(pb::Msg {
            queues: vec!["workers".to_owned(), String::new()],
            ..msg()
        }));
    }

    #[test]
    fn msg_with_header_longer_than_payload_is_invalid() {
        invalid(msg_frame(pb::Msg {
            header_len: Some(5),
            ..msg()
        }));
    }

    #[test]
    fn msg_with_header_as_long_as_payload_is_valid() {
        assert!(frame_from_proto(msg_frame(pb::Msg {
            header_len: Some(4),
            ..msg()
        }))
        .is_ok());
    }

    #[test]
    fn undecodable_body_is_a_decode_error() {
        // Field 1 (hello), length-delimited, declaring 5 bytes but giving 1.
        let result = decode_frame(
            Bytes::from_static(&[0x0a, 0x05, 0x00]),
            &mut SubjectTable::default(),
        );
        assert!(matches!(result, Err(RouteError::Decode(_))), "{result:?}");
    }
}
