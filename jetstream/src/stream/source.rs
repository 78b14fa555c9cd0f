//! Messages a stream takes from other streams. A source's message is a
//! publish whose headers already carry `Nats-Stream-Source` (see
//! `crate::source::header`); a mirror's keeps its origin's sequence and
//! time, with the origin's gaps (expired, deleted or filtered-out
//! messages) as deleted sequences, as nats-server's `skipMsgs` leaves them.

use bytes::Bytes;

use super::machine::Stream;
use super::pub_ack::PubAck;
use crate::api::ApiError;

/// A message of the mirror's origin, to store as it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrored {
    /// Its origin sequence (the mirror's sequence too).
    pub seq: u64,
    /// Its subject (after the mirror's subject transforms).
    pub subject: String,
    /// Its header block.
    pub headers: Bytes,
    /// Its payload.
    pub payload: Bytes,
    /// Its origin timestamp, ns.
    pub timestamp: i64,
}

impl Stream {
    /// Store `message` at its origin sequence. A sequence the mirror
    /// already passed is acknowledged as a duplicate and not stored again.
    pub(super) fn store_mirrored(&mut self, message: &Mirrored) -> PubAck {
        let name = self.config().name.clone();
        let last = self.store().state().last_seq;
        if message.seq <= last {
            return PubAck::duplicate(&name, message.seq);
        }
        let store = self.store_mut();
        let stored = store
            .skip_msgs(message.seq, message.timestamp)
            .and_then(|()| {
                store.store_msg(
                    &message.subject,
                    &message.headers,
                    &message.payload,
                    message.timestamp,
                    None,
                )
            });
        match stored {
            Ok(seq) => PubAck::stored(&name, seq),
            Err(error) => PubAck::refused(&name, ApiError::store_failed(&error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StreamConfig;
    use crate::stream::{Operation, Outcome};
    use starling_store::MemStore;

    fn mirror() -> Stream {
        let config = serde_json::from_str::<StreamConfig>(r#"{"name":"M","mirror":{"name":"O"}}"#)
            .ok()
            .and_then(|c| c.normalized().ok())
            .unwrap_or_default();
        let store = MemStore::new(config.store_config());
        Stream::open(config, 1, Box::new(store), 1)
    }

    fn mirrored(stream: &mut Stream, seq: u64) -> PubAck {
        let message = Mirrored {
            seq,
            subject: format!("o.{seq}"),
            headers: Bytes::new(),
            payload: Bytes::from_static(b"x"),
            timestamp: 1000 + seq as i64,
        };
        match stream.apply(Operation::Mirrored(Box::new(message)), 5000) {
            Outcome::Published(ack) => ack,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keeps_origin_sequences_gaps_and_times() {
        let mut stream = mirror();
        assert_eq!(mirrored(&mut stream, 3).seq, 3);
        assert_eq!(mirrored(&mut stream, 4).seq, 4);
        assert_eq!(mirrored(&mut stream, 9).seq, 9);
        let state = stream.store().state();
        assert_eq!((state.first_seq, state.last_seq, state.msgs), (3, 9, 3));
        assert_eq!(stream.store().deleted(), vec![5, 6, 7, 8]);
        assert_eq!(
            stream.store().load_msg(9).map(|m| m.timestamp).ok(),
            Some(1009)
        );
        // A sequence already passed is not stored again.
        let again = mirrored(&mut stream, 4);
        assert!(again.duplicate && again.error.is_none());
        assert_eq!(stream.store().state().msgs, 3);
    }
}
