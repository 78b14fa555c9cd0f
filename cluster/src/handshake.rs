//! The route handshake on one connection.
//!
//! 1. The dialer sends its Hello (with credentials when it has them).
//! 2. The acceptor checks it (magic and version, credentials, cluster name)
//!    and answers with its own Hello, or with Close(reason).
//! 3. The dialer checks the acceptor's Hello (magic and version, name).
//! 4. Both sides refuse a Hello carrying their own node id (a self-route).
//! 5. The node with the smaller id decides whether the route is kept (see
//!    `crate::membership`); the other waits for its first frame: Members
//!    means kept, Close means refused.
//!
//! The caller bounds the whole exchange with `handshake_timeout`.

use bytes::BytesMut;
use starling_proto::route::{
    encode_frame_as, Framing, Hello, Member, RouteCodec, RouteFrame, DEFAULT_SUBJECT_TABLE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::codec::Decoder;

use crate::close::CloseReason;
use crate::hello::{check_credentials, check_protocol, negotiated_framing};
use crate::limits::READ_BUFFER_SIZE;
use crate::membership::{Authority, DialOutcome};
use crate::shared::Shared;
use crate::transport::BoxedStream;
use crate::url::{resolve_advertised, RouteUrl};

/// A route connection being set up: both halves and the read state, which
/// carries over (with any frames already buffered) into the read loop.
pub(crate) struct Connection {
    pub reader: ReadHalf<BoxedStream>,
    pub writer: WriteHalf<BoxedStream>,
    pub buf: BytesMut,
    pub codec: RouteCodec,
    /// The length prefix of the frames we write (compact once negotiated).
    pub framing: Framing,
}

impl Connection {
    pub fn new(stream: BoxedStream) -> Connection {
        let (reader, writer) = tokio::io::split(stream);
        Connection {
            reader,
            writer,
            buf: BytesMut::with_capacity(READ_BUFFER_SIZE),
            codec: RouteCodec::new(),
            framing: Framing::Fixed,
        }
    }

    /// Read the next frame.
    async fn read_frame(&mut self) -> Result<RouteFrame, Failure> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(error) => {
                    return Err(Failure::local(
                        CloseReason::ProtocolError,
                        error.to_string(),
                    ))
                }
            }
            match self.reader.read_buf(&mut self.buf).await {
                Ok(0) => {
                    return Err(Failure::quiet(
                        CloseReason::ConnectionClosed,
                        "end of stream",
                    ))
                }
                Ok(_) => {}
                Err(error) => {
                    return Err(Failure::quiet(
                        CloseReason::ConnectionClosed,
                        error.to_string(),
                    ))
                }
            }
        }
    }

    /// Read the frames after the peer's Hello as the Hellos negotiated,
    /// and accept interned subjects in our announced table.
    fn read_negotiated(&mut self, peer: &Hello) {
        self.codec.set_framing(negotiated_framing(peer));
        self.codec.set_subject_table(DEFAULT_SUBJECT_TABLE);
    }

    /// Write one frame now (before the writer task exists).
    pub async fn write_frame(&mut self, frame: &RouteFrame) -> std::io::Result<()> {
        let mut buf = BytesMut::new();
        encode_frame_as(&mut buf, frame, self.framing);
        self.writer.write_all(&buf).await
    }
}

/// Which end of the connection this node is.
pub(crate) enum Role<'a> {
    /// We dialed `url` (its credentials go into our Hello).
    Dialer(&'a RouteUrl),
    /// The peer dialed us.
    Acceptor,
}

/// A completed handshake.
pub(crate) struct Established {
    /// The peer's Hello.
    pub hello: Hello,
    /// The peer's route URL, with an unspecified host resolved.
    pub route_url: String,
    /// Whether we decide on keeping the route or the peer already did.
    pub authority: Authority,
    /// The peer's members, when it decided (its verdict frame).
    pub members: Option<Vec<Member>>,
}

impl Established {
    /// The peer as a member.
    pub fn member(&self) -> Member {
        Member {
            node_id: self.hello.node_id.clone(),
            node_name: self.hello.node_name.clone(),
            route_url: self.route_url.clone(),
            client_urls: self.hello.client_urls.clone(),
            lame_duck: self.hello.lame_duck,
        }
    }
}

/// Why a handshake failed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The reason (ours or, for `RemoteClosed`, see `detail`).
    pub reason: CloseReason,
    /// More for the log: the peer's reason, an error.
    pub detail: String,
    /// We should still tell the peer (a Close frame was not sent yet).
    pub notify_peer: bool,
    /// The peer's id, when its Hello was read.
    pub node_id: Option<String>,
}

impl Failure {
    fn local(reason: CloseReason, detail: impl Into<String>) -> Failure {
        Failure {
            reason,
            detail: detail.into(),
            notify_peer: true,
            node_id: None,
        }
    }

    fn quiet(reason: CloseReason, detail: impl Into<String>) -> Failure {
        Failure {
            notify_peer: false,
            ..Failure::local(reason, detail)
        }
    }

    /// A handshake timeout.
    pub fn timeout() -> Failure {
        Failure::local(CloseReason::HandshakeTimeout, "")
    }

    /// What the membership machine makes of it, for a dialed route.
    pub fn outcome(&self) -> DialOutcome {
        match (self.reason, &self.node_id) {
            (CloseReason::SelfRoute, _) => DialOutcome::SelfRoute,
            (CloseReason::DuplicateRoute, Some(node_id)) => DialOutcome::Duplicate {
                node_id: node_id.clone(),
            },
            _ => DialOutcome::Failed,
        }
    }
}

/// Run the handshake on `conn` as `role`.
pub(crate) async fn handshake(
    shared: &Shared,
    conn: &mut Connection,
    role: Role<'_>,
    remote_addr: std::net::SocketAddr,
) -> Result<Established, Failure> {
    let hello = match role {
        Role::Dialer(url) => {
            let ours = RouteFrame::Hello(shared.hello(url.user.clone(), url.password.clone()));
            send(conn, &ours).await?;
            let hello = expect_hello(conn.read_frame().await?)?;
            // Both Hellos are out: what follows, both ways, is negotiated.
            conn.read_negotiated(&hello);
            conn.framing = negotiated_framing(&hello);
            refuse_on_error(
                conn,
                check_protocol(&hello).and_then(|()| shared.agree_name(&hello)),
            )
            .await?;
            hello
        }
        Role::Acceptor => {
            let hello = expect_hello(conn.read_frame().await?)?;
            // The dialer writes negotiated frames once it has our Hello.
            conn.read_negotiated(&hello);
            let settings = &shared.settings;
            let checked = check_protocol(&hello)
                .and_then(|()| check_credentials(&settings.user, &settings.password, &hello))
                .and_then(|()| shared.agree_name(&hello));
            refuse_on_error(conn, checked).await?;
            send(conn, &RouteFrame::Hello(shared.hello(None, None))).await?;
            conn.framing = negotiated_framing(&hello);
            hello
        }
    };
    if hello.node_id == shared.settings.node_id {
        refuse_on_error(conn, Err(CloseReason::SelfRoute)).await?;
    }
    let route_url = resolve_advertised(&hello.route_url, remote_addr);
    if shared.settings.node_id < hello.node_id {
        return Ok(Established {
            hello,
            route_url,
            authority: Authority::Decide,
            members: None,
        });
    }
    // The peer decides: its first frame is the verdict.
    let node_id = Some(hello.node_id.clone());
    match conn.read_frame().await {
        Ok(RouteFrame::Members(members)) => Ok(Established {
            hello,
            route_url,
            authority: Authority::Confirmed,
            members: Some(members),
        }),
        Ok(RouteFrame::Close(reason)) => Err(refused_by_peer(reason, node_id)),
        Ok(_) => Err(Failure {
            node_id,
            ..Failure::local(
                CloseReason::ProtocolError,
                "expected Members or Close after Hello",
            )
        }),
        Err(failure) => Err(Failure { node_id, ..failure }),
    }
}

/// The peer sent Close during the handshake.
fn refused_by_peer(reason: String, node_id: Option<String>) -> Failure {
    let known = [CloseReason::DuplicateRoute, CloseReason::SelfRoute];
    let reason_kind = known
        .into_iter()
        .find(|known| known.as_str() == reason)
        .unwrap_or(CloseReason::RemoteClosed);
    Failure {
        node_id,
        ..Failure::quiet(reason_kind, reason)
    }
}

/// A Hello, or the failure the frame means.
fn expect_hello(frame: RouteFrame) -> Result<Hello, Failure> {
    match frame {
        RouteFrame::Hello(hello) => Ok(hello),
        RouteFrame::Close(reason) => Err(refused_by_peer(reason, None)),
        _ => Err(Failure::local(CloseReason::ProtocolError, "expected Hello")),
    }
}

/// On a refusal, send Close(reason) and fail.
async fn refuse_on_error(
    conn: &mut Connection,
    checked: Result<(), CloseReason>,
) -> Result<(), Failure> {
    let Err(reason) = checked else {
        return Ok(());
    };
    // Best effort: the connection ends either way.
    let _ = conn
        .write_frame(&RouteFrame::Close(reason.as_str().to_string()))
        .await;
    Err(Failure::quiet(reason, ""))
}

async fn send(conn: &mut Connection, frame: &RouteFrame) -> Result<(), Failure> {
    conn.write_frame(frame)
        .await
        .map_err(|error| Failure::quiet(CloseReason::ConnectionClosed, error.to_string()))
}
