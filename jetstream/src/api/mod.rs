//! `$JS.API` request and response types, with nats-server's JSON shapes.

pub mod consumer;
