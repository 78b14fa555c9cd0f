//! A hand-written encoder for Interest frames, from borrowed names.
//!
//! A node's snapshot for a new peer is every local interest it has (100,000
//! entries and more). Building an owned [`InterestChange`] per entry, then a
//! prost struct per entry, cost three string copies each; this writes the
//! protobuf bytes straight from the sender's own strings. The output is
//! prost's, byte for byte (the property tests compare them).

use bytes::BytesMut;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};

use super::codec::{prefix_len, put_prefix, Framing};
use super::frame::InterestChange;
use crate::account;

// Field numbers from route.proto.
/// `Frame.interest`.
const FRAME_INTEREST_TAG: u32 = 3;
/// `Interest.changes`.
const INTEREST_CHANGES_TAG: u32 = 1;
/// `InterestChange.subscribe`.
const CHANGE_SUBSCRIBE_TAG: u32 = 1;
/// `InterestChange.unsubscribe`.
const CHANGE_UNSUBSCRIBE_TAG: u32 = 2;
/// `Subscribe.subject` and `Unsubscribe.subject`.
const SUBJECT_TAG: u32 = 1;
/// `Subscribe.queue` and `Unsubscribe.queue`.
const QUEUE_TAG: u32 = 2;
/// `Subscribe.weight`.
const SUBSCRIBE_WEIGHT_TAG: u32 = 3;
/// `Subscribe.account`.
const SUBSCRIBE_ACCOUNT_TAG: u32 = 4;
/// `Unsubscribe.account`.
const UNSUBSCRIBE_ACCOUNT_TAG: u32 = 3;

/// One interest change as borrowed names: what [`encode_interest_refs`]
/// writes without owning them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterestRef<'a> {
    /// See [`InterestChange::Subscribe`].
    Subscribe {
        /// The account (`$G` by default).
        account: &'a str,
        /// Subject, possibly with wildcards.
        subject: &'a str,
        /// Queue group.
        queue: Option<&'a str>,
        /// Local member count; 1 for plain interest.
        weight: u32,
    },
    /// See [`InterestChange::Unsubscribe`].
    Unsubscribe {
        /// The account.
        account: &'a str,
        /// Subject.
        subject: &'a str,
        /// Queue group.
        queue: Option<&'a str>,
    },
}

impl InterestChange {
    /// This change as borrowed names.
    pub fn as_interest_ref(&self) -> InterestRef<'_> {
        match self {
            InterestChange::Subscribe {
                account,
                subject,
                queue,
                weight,
            } => InterestRef::Subscribe {
                account,
                subject,
                queue: queue.as_deref(),
                weight: *weight,
            },
            InterestChange::Unsubscribe {
                account,
                subject,
                queue,
            } => InterestRef::Unsubscribe {
                account,
                subject,
                queue: queue.as_deref(),
            },
        }
    }
}

/// Bytes of a length-delimited field `tag` holding `len` bytes.
fn field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn put_str_field(buf: &mut BytesMut, tag: u32, text: &str) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(text.len() as u64, buf);
    buf.extend_from_slice(text.as_bytes());
}

impl InterestRef<'_> {
    /// The (wire) account, subject, queue and, for a subscribe, weight.
    fn parts(&self) -> (&str, &str, Option<&str>, Option<u32>) {
        match *self {
            InterestRef::Subscribe {
                account,
                subject,
                queue,
                weight,
            } => (wire_account(account), subject, queue, Some(weight)),
            InterestRef::Unsubscribe {
                account,
                subject,
                queue,
            } => (wire_account(account), subject, queue, None),
        }
    }

    /// Bytes of the Subscribe / Unsubscribe message body. Presence follows
    /// prost: implicit proto3 fields left out when empty or 0, `optional`
    /// ones written whenever set.
    fn body_len(&self) -> usize {
        let (account, subject, queue, weight) = self.parts();
        let mut len = 0;
        if !subject.is_empty() {
            len += field_len(SUBJECT_TAG, subject.len());
        }
        if let Some(queue) = queue {
            len += field_len(QUEUE_TAG, queue.len());
        }
        if let Some(weight) = weight.filter(|weight| *weight != 0) {
            len += key_len(SUBSCRIBE_WEIGHT_TAG) + encoded_len_varint(u64::from(weight));
        }
        if !account.is_empty() {
            let tag = if weight.is_some() {
                SUBSCRIBE_ACCOUNT_TAG
            } else {
                UNSUBSCRIBE_ACCOUNT_TAG
            };
            len += field_len(tag, account.len());
        }
        len
    }

    /// Bytes of the InterestChange message holding it.
    fn change_len(&self) -> usize {
        field_len(self.kind_tag(), self.body_len())
    }

    fn kind_tag(&self) -> u32 {
        match self {
            InterestRef::Subscribe { .. } => CHANGE_SUBSCRIBE_TAG,
            InterestRef::Unsubscribe { .. } => CHANGE_UNSUBSCRIBE_TAG,
        }
    }

    /// Appends the InterestChange message (without its own key and length).
    fn put_change(&self, buf: &mut BytesMut) {
        let (account, subject, queue, weight) = self.parts();
        encode_key(self.kind_tag(), WireType::LengthDelimited, buf);
        encode_varint(self.body_len() as u64, buf);
        if !subject.is_empty() {
            put_str_field(buf, SUBJECT_TAG, subject);
        }
        if let Some(queue) = queue {
            put_str_field(buf, QUEUE_TAG, queue);
        }
        if let Some(weight) = weight.filter(|weight| *weight != 0) {
            encode_key(SUBSCRIBE_WEIGHT_TAG, WireType::Varint, buf);
            encode_varint(u64::from(weight), buf);
        }
        if !account.is_empty() {
            let tag = if weight.is_some() {
                SUBSCRIBE_ACCOUNT_TAG
            } else {
                UNSUBSCRIBE_ACCOUNT_TAG
            };
            put_str_field(buf, tag, account);
        }
    }
}

fn wire_account(name: &str) -> &str {
    if account::to_wire(name.as_bytes()).is_empty() {
        ""
    } else {
        name
    }
}

/// Appends one Interest frame carrying `changes`, with its length prefix
/// (the bytes `encode_frame_as` writes for the same changes).
pub fn encode_interest_refs(buf: &mut BytesMut, changes: &[InterestRef<'_>], framing: Framing) {
    let interest_len: usize = changes
        .iter()
        .map(|change| field_len(INTEREST_CHANGES_TAG, change.change_len()))
        .sum();
    let frame_len = field_len(FRAME_INTEREST_TAG, interest_len);
    buf.reserve(prefix_len(frame_len, framing) + frame_len);
    put_prefix(buf, frame_len, framing);
    encode_key(FRAME_INTEREST_TAG, WireType::LengthDelimited, buf);
    encode_varint(interest_len as u64, buf);
    for change in changes {
        encode_key(INTEREST_CHANGES_TAG, WireType::LengthDelimited, buf);
        encode_varint(change.change_len() as u64, buf);
        change.put_change(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{encode_frame_as, RouteFrame};
    use proptest::prelude::*;

    fn change() -> impl Strategy<Value = InterestChange> {
        let account = prop_oneof![Just("$G".to_string()), "[A-Z$]{0,4}"];
        let queue = proptest::option::of("[a-z]{0,3}");
        prop_oneof![
            (
                account.clone(),
                "[a-z.*>]{0,6}",
                queue.clone(),
                any::<u32>()
            )
                .prop_map(|(account, subject, queue, weight)| {
                    InterestChange::Subscribe {
                        account,
                        subject,
                        queue,
                        weight,
                    }
                }),
            (account, "[a-z.*>]{0,6}", queue).prop_map(|(account, subject, queue)| {
                InterestChange::Unsubscribe {
                    account,
                    subject,
                    queue,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn hand_written_interest_frames_are_prosts_bytes(
            changes in proptest::collection::vec(change(), 0..40),
            compact in any::<bool>(),
        ) {
            let framing = if compact { Framing::Compact } else { Framing::Fixed };
            let mut expected = BytesMut::new();
            encode_frame_as(&mut expected, &RouteFrame::Interest(changes.clone()), framing);
            let refs: Vec<InterestRef<'_>> = changes.iter().map(InterestChange::as_interest_ref).collect();
            let mut written = BytesMut::from(&b"before"[..]);
            encode_interest_refs(&mut written, &refs, framing);
            prop_assert_eq!(&written[..6], b"before");
            prop_assert_eq!(&written[6..], &expected[..]);
        }
    }
}
