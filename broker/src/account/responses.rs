
#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::imports::ServiceImport;

    fn import(response: ResponseType) -> ServiceImport {
        ServiceImport {
            importer: Arc::new(Account::new("B")),
            exporter: Arc::new(Account::new("A")),
            subject: Arc::from("svc"),
            local: Arc::from("svc"),
            response,
        }
    }

    fn entry_of(import: &ServiceImport, subject: &str) -> Arc<ServiceResponse> {
        let matches = import.exporter.sublist.match_subject(subject);
        match matches.plain.first() {
            Some(Interest::ServiceResponse(entry)) => entry.clone(),
            other => panic!("no response entry for {subject}: {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn singleton_admits_once_and_stream_until_the_threshold() {
        let interest = LocalInterest::default();
        let single = import(ResponseType::Singleton);
        let subject = single.exporter.responses.register(&single, "inbox.1", &interest);
        assert!(subject.starts_with("_R_."));
        let entry = entry_of(&single, &subject);
        assert_eq!(&*entry.reply, "inbox.1");
        assert!(entry.admit());
        assert!(!entry.admit(), "a singleton crosses once");
        remove(&entry, &interest);
        assert!(single.exporter.sublist.match_subject(&subject).plain.is_empty());

        let stream = import(ResponseType::Stream);
        let subject = stream.exporter.responses.register(&stream, "inbox.2", &interest);
        let entry = entry_of(&stream, &subject);
        assert!(entry.admit() && entry.admit() && entry.admit());
        tokio::time::advance(RESPONSE_THRESHOLD).await;
        assert!(!entry.admit(), "expired after the threshold");
        // The next registration sweeps the expired entry out of the sublist.
        stream.exporter.responses.register(&stream, "inbox.3", &interest);
        assert!(stream.exporter.sublist.match_subject(&subject).plain.is_empty());
        assert_eq!(stream.exporter.responses.len(), 1);
    }
}
