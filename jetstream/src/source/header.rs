//! `Nats-Stream-Source: <stream> <origin seq> <filters> <destinations>`
//! (nats-server 2.10's `genSourceHeader`), added to every sourced message
//! (mirrored ones keep their headers as they are).

/// The header a sourced message carries.
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";

/// The header value for origin sequence `seq` of the source whose index
/// name is `index_name` (`<stream> <filters> <destinations>`).
pub fn source_header_value(index_name: &str, seq: u64) -> String {
    let mut parts = index_name.splitn(3, ' ');
    let stream = parts.next().unwrap_or_default();
    let filters = parts.next().unwrap_or(">");
    let destinations = parts.next().unwrap_or(">");
    format!("{stream} {seq} {filters} {destinations}")
}

/// (stream, index name, origin sequence) from a header value: the 2.10
/// form gives the index name; the 2.9 form (`<stream> <seq>`) and the
/// older ack-reply form (`$JS.ACK.<stream>.<consumer>.<dc>.<sseq>...`)
/// give none (they match any source of that stream).
pub fn parse_source_header(value: &str) -> Option<(String, Option<String>, u64)> {
    if let Some(rest) = value.strip_prefix("$JS.ACK.") {
        let tokens: Vec<&str> = rest.split('.').collect();
        if tokens.len() != 7 {
            return None;
        }
        return Some((tokens[0].to_string(), None, tokens[3].parse().ok()?));
    }
    let fields: Vec<&str> = value.split(' ').collect();
    match fields.as_slice() {
        [stream, seq] => Some((stream.to_string(), None, seq.parse().ok()?)),
        [stream, seq, filters, destinations, ..] => Some((
            stream.to_string(),
            Some(format!("{stream} {filters} {destinations}")),
            seq.parse().ok()?,
        )),
        _ => None,
    }
}

/// The header block of a sourced message: the origin's, without its
/// `Nats-Stream-Source` (a daisy chain keeps only the last hop) and its
/// `Nats-Expected-*` (they were checked where it was published) and
/// `Nats-Batch-*`, plus
/// `Nats-Stream-Source: value`.
pub fn sourced_headers(original: &[u8], value: &str) -> Vec<u8> {
    let mut out = String::with_capacity(original.len() + value.len() + 40);
    match std::str::from_utf8(original) {
        Ok(text) if text.starts_with("NATS/") => {
            let mut lines = text.split("\r\n");
            out.push_str(lines.next().unwrap_or("NATS/1.0"));
            out.push_str("\r\n");
            for line in lines.filter(|line| !line.is_empty()) {
                let name = line.split_once(':').map_or(line, |(name, _)| name).trim();
                let prefixed = |prefix: &str| {
                    name.get(..prefix.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                };
                // nats-server drops the batch headers too: a source ignores
                // the origin's batching.
                if name.eq_ignore_ascii_case(STREAM_SOURCE)
                    || prefixed("Nats-Expected-")
                    || prefixed("Nats-Batch-")
                {
                    continue;
                }
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        _ => out.push_str("NATS/1.0\r\n"),
    }
    out.push_str(STREAM_SOURCE);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n\r\n");
    out.into_bytes()
}

/// A mirrored message's header block without `Nats-Batch-*`: a mirror
/// ignores its origin's batching (nats-server removes the headers; no
/// header left is no block). Unchanged, without copying, when it has none.
pub fn without_batch_headers(original: &bytes::Bytes) -> bytes::Bytes {
    let Ok(text) = std::str::from_utf8(original) else {
        return original.clone();
    };
    let is_batch = |line: &str| {
        line.get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case("Nats-Batch-"))
    };
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("NATS/") || !text.split("\r\n").any(is_batch) {
        return original.clone();
    }
    let kept: Vec<&str> = lines
        .filter(|line| !line.is_empty() && !is_batch(line))
        .collect();
    // A status line with a code or description is kept even alone.
    if kept.is_empty() && status.trim() == "NATS/1.0" {
        return bytes::Bytes::new();
    }
    let mut out = String::with_capacity(original.len());
    out.push_str(status);
    out.push_str("\r\n");
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    bytes::Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::headers::header_value;

    #[test]
    fn value_as_nats_server() {
        assert_eq!(source_header_value("ORDERS > >", 12), "ORDERS 12 > >");
        assert_eq!(
            source_header_value("O a.*\u{c}b x.$1\u{c}>", 3),
            "O 3 a.*\u{c}b x.$1\u{c}>"
        );
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse_source_header("ORDERS 12 > >"),
            Some(("ORDERS".into(), Some("ORDERS > >".into()), 12))
        );
        assert_eq!(
            parse_source_header("ORDERS 12"),
            Some(("ORDERS".into(), None, 12))
        );
        assert_eq!(
            parse_source_header("$JS.ACK.ORDERS.c1.1.44.7.1700000000.3"),
            Some(("ORDERS".into(), None, 44))
        );
        assert_eq!(parse_source_header("ORDERS x > >"), None);
        assert_eq!(parse_source_header("ORDERS 1 >"), None);
        assert_eq!(parse_source_header(""), None);
    }

    #[test]
    fn rewrites_headers() {
        let plain = sourced_headers(b"", "O 1 > >");
        assert_eq!(plain, b"NATS/1.0\r\nNats-Stream-Source: O 1 > >\r\n\r\n");
        let chained = sourced_headers(
            b"NATS/1.0\r\nNats-Msg-Id: m\r\nNats-Stream-Source: P 9 > >\r\nNats-Expected-Last-Sequence: 3\r\n\r\n",
            "O 2 > >",
        );
        assert_eq!(header_value(&chained, "Nats-Msg-Id"), Some("m"));
        assert_eq!(header_value(&chained, STREAM_SOURCE), Some("O 2 > >"));
        assert_eq!(header_value(&chained, "Nats-Expected-Last-Sequence"), None);
        assert!(chained.ends_with(b"\r\n\r\n"));
        // A source ignores the origin's batching (nats-server drops the headers).
        let batched = sourced_headers(
            b"NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Sequence: 2\r\nNats-Batch-Commit: 1\r\nX: y\r\n\r\n",
            "O 3 > >",
        );
        assert_eq!(header_value(&batched, "Nats-Batch-Id"), None);
        assert_eq!(header_value(&batched, "Nats-Batch-Sequence"), None);
        assert_eq!(header_value(&batched, "Nats-Batch-Commit"), None);
        assert_eq!(header_value(&batched, "X"), Some("y"));
    }

    #[test]
    fn a_mirror_drops_the_batch_headers() {
        let only = bytes::Bytes::from_static(
            b"NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Sequence: 1\r\n\r\n",
        );
        assert!(without_batch_headers(&only).is_empty());
        let mixed = bytes::Bytes::from_static(
            b"NATS/1.0\r\nnats-batch-id: b\r\nX: y\r\nNats-Batch-Commit: 1\r\n\r\n",
        );
        assert_eq!(
            &without_batch_headers(&mixed)[..],
            b"NATS/1.0\r\nX: y\r\n\r\n"
        );
        let plain = bytes::Bytes::from_static(b"NATS/1.0\r\nX: y\r\n\r\n");
        assert_eq!(without_batch_headers(&plain), plain);
        assert!(without_batch_headers(&bytes::Bytes::new()).is_empty());
    }
}
