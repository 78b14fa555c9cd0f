//! Where each source of a stream resumes: the origin sequence in the
//! `Nats-Stream-Source` header of the newest stored message it brought,
//! found by a backward scan that stops once every source is placed.

use starling_store::MessageStore;

use super::header::{parse_source_header, STREAM_SOURCE};
use crate::stream::headers::header_value;

/// For each source, given as (stream name, index name), the last origin
/// sequence `store` holds from it, if any. A header without an index name
/// (older servers) counts for every source of its stream.
pub fn resume_points(
    store: &(impl MessageStore + ?Sized),
    sources: &[(String, String)],
) -> Vec<Option<u64>> {
    let mut found: Vec<Option<u64>> = vec![None; sources.len()];
    let state = store.state();
    if state.msgs == 0 || sources.is_empty() {
        return found;
    }
    let mut seq = state.last_seq;
    while seq >= state.first_seq && seq > 0 && found.iter().any(Option::is_none) {
        if let Ok(message) = store.load_msg(seq) {
            let parsed =
                header_value(&message.headers, STREAM_SOURCE).and_then(parse_source_header);
            if let Some((stream, index, origin_seq)) = parsed {
                for (slot, (name, index_name)) in found.iter_mut().zip(sources) {
                    let same = match &index {
                        Some(index) => index == index_name,
                        None => stream == *name,
                    };
                    if same && slot.is_none() {
                        *slot = Some(origin_seq);
                    }
                }
            }
        }
        seq -= 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_store::{MemStore, StoreConfig};

    #[test]
    fn finds_each_sources_newest() {
        let mut store = MemStore::new(StoreConfig::default());
        let put = |store: &mut MemStore, header: &str| {
            let block = format!("NATS/1.0\r\nNats-Stream-Source: {header}\r\n\r\n");
            let _ = store.store_msg("s", block.as_bytes(), b"x", 1, None);
        };
        put(&mut store, "A 1 > >");
        put(&mut store, "B 7 b.> >");
        put(&mut store, "A 2 > >");
        let _ = store.store_msg("plain", b"", b"y", 1, None);
        let sources = vec![
            ("A".to_string(), "A > >".to_string()),
            ("B".to_string(), "B b.> >".to_string()),
            ("C".to_string(), "C > >".to_string()),
        ];
        assert_eq!(
            resume_points(&store, &sources),
            vec![Some(2), Some(7), None]
        );
        put(&mut store, "C 5");
        assert_eq!(resume_points(&store, &sources)[2], Some(5));
    }
}
