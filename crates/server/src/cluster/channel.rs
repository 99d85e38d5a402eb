//! NodeChannel: this broker's connection to another node of the cluster (a controller, or
//! another broker), as Kafka's NetworkClient to one node: connect lazily, agree on API versions
//! with ApiVersions, then one request at a time, each bounded by a timeout. A failed call drops
//! the connection; the next call connects again. Callers that must not wait behind each other
//! (the metadata log's long-polling Fetch and the heartbeats) use channels of their own.
//!
//! Responses are untrusted input: frames are capped before they are read, and every body is
//! decoded through `sluice_protocol::client`, which checks it against Kafka's schema first.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sluice_protocol::client;
use sluice_protocol::header::RequestHeader;
use sluice_protocol::kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, RequestKind, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// The largest response frame accepted from a peer (a metadata Fetch is at most 8 MiB; replica
/// Fetch responses are bounded by the request's max bytes, 10 MiB by default in Kafka).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum ChannelError {
    #[error("cannot connect to {node}: {source}")]
    Connect {
        node: String,
        source: std::io::Error,
    },
    #[error("{node}: {source}")]
    Io {
        node: String,
        source: std::io::Error,
    },
    #[error("{node}: no answer to {api:?} within {timeout_ms} ms")]
    Timeout {
        node: String,
        api: ApiKey,
        timeout_ms: u128,
    },
    #[error("{node} does not serve {api:?} (versions we can use: {ours:?}, its: {theirs:?})")]
    Unsupported {
        node: String,
        api: ApiKey,
        ours: (i16, i16),
        theirs: Option<(i16, i16)>,
    },
    #[error("{node}: a response frame of {size} bytes (at most {max})")]
    FrameTooLarge {
        node: String,
        size: usize,
        max: usize,
    },
    #[error("{node}: {message}")]
    Protocol { node: String, message: String },
}

/// A response and the version it was decoded at.
#[derive(Debug)]
pub struct Response {
    pub version: i16,
    pub body: ResponseKind,
}

struct Connection {
    stream: TcpStream,
    next_correlation: i32,
    /// The peer's ApiVersions: api key -> (min, max).
    versions: HashMap<i16, (i16, i16)>,
}

/// See the module docs.
pub struct NodeChannel {
    node: String,
    addr: String,
    client_id: String,
    timeout: Duration,
    conn: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for NodeChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeChannel")
            .field("node", &self.node)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl NodeChannel {
    /// A channel to `addr` (`host:port`); `node` names the peer in errors and logs.
    pub fn new(
        node: impl Into<String>,
        addr: impl Into<String>,
        client_id: &str,
        timeout: Duration,
    ) -> Self {
        Self {
            node: node.into(),
            addr: addr.into(),
            client_id: client_id.to_string(),
            timeout,
            conn: Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Send `body` at the highest version both sides serve (and at most `max_version`), and
    /// wait for its response. Any failure drops the connection.
    pub async fn call(
        &self,
        body: RequestKind,
        max_version: Option<i16>,
    ) -> Result<Response, ChannelError> {
        self.call_with_timeout(body, max_version, self.timeout)
            .await
    }

    /// [`call`](Self::call) with its own time limit (a long-polling Fetch waits longer than
    /// its max wait).
    pub async fn call_with_timeout(
        &self,
        body: RequestKind,
        max_version: Option<i16>,
        timeout: Duration,
    ) -> Result<Response, ChannelError> {
        let api = api_key_of(&body).ok_or_else(|| ChannelError::Protocol {
            node: self.node.clone(),
            message: "a request kind without an api key".into(),
        })?;
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            *guard = Some(self.connect().await?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(ChannelError::Protocol {
                node: self.node.clone(),
                message: "no connection".into(),
            });
        };
        let version = match self.pick_version(conn, api, max_version) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        let result =
            tokio::time::timeout(timeout, self.round_trip(conn, api, version, &body)).await;
        match result {
            Ok(Ok(body)) => Ok(Response { version, body }),
            Ok(Err(e)) => {
                *guard = None;
                Err(e)
            }
            Err(_) => {
                *guard = None;
                Err(ChannelError::Timeout {
                    node: self.node.clone(),
                    api,
                    timeout_ms: timeout.as_millis(),
                })
            }
        }
    }

    /// Drop the connection (the peer is known to be gone or the wrong one).
    pub async fn disconnect(&self) {
        *self.conn.lock().await = None;
    }

    fn pick_version(
        &self,
        conn: &Connection,
        api: ApiKey,
        max_version: Option<i16>,
    ) -> Result<i16, ChannelError> {
        let ours = api.valid_versions();
        let our_max = max_version.map_or(ours.max, |m| m.min(ours.max));
        let theirs = conn.versions.get(&(api as i16)).copied();
        match theirs {
            Some((min, max)) if min.max(ours.min) <= max.min(our_max) => Ok(max.min(our_max)),
            _ => Err(ChannelError::Unsupported {
                node: self.node.clone(),
                api,
                ours: (ours.min, our_max),
                theirs,
            }),
        }
    }

    async fn connect(&self) -> Result<Connection, ChannelError> {
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| ChannelError::Connect {
                node: self.node.clone(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
            })?
            .map_err(|source| ChannelError::Connect {
                node: self.node.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream,
            next_correlation: 0,
            versions: HashMap::new(),
        };
        // ApiVersions v3 (flexible, with our software name); a peer that does not serve it
        // answers v0 with its ranges, which is all that is needed.
        let request = RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("sluice"))
                .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION"))),
        );
        let response = tokio::time::timeout(
            self.timeout,
            self.round_trip(&mut conn, ApiKey::ApiVersions, 3, &request),
        )
        .await
        .map_err(|_| ChannelError::Timeout {
            node: self.node.clone(),
            api: ApiKey::ApiVersions,
            timeout_ms: self.timeout.as_millis(),
        })??;
        let ResponseKind::ApiVersions(v) = response else {
            return Err(self.protocol("ApiVersions answered with another response"));
        };
        if v.error_code != 0 && v.api_keys.is_empty() {
            return Err(self.protocol(&format!("ApiVersions error {}", v.error_code)));
        }
        conn.versions = v
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(conn)
    }

    async fn round_trip(
        &self,
        conn: &mut Connection,
        api: ApiKey,
        version: i16,
        body: &RequestKind,
    ) -> Result<ResponseKind, ChannelError> {
        conn.next_correlation = conn.next_correlation.wrapping_add(1);
        let correlation = conn.next_correlation;
        let header = RequestHeader {
            api_key: api as i16,
            api_version: version,
            correlation_id: correlation,
            client_id: Some(self.client_id.clone()),
        };
        let frame =
            client::encode_request(&header, body).map_err(|e| self.protocol(&e.to_string()))?;
        let io = |source| ChannelError::Io {
            node: self.node.clone(),
            source,
        };
        conn.stream.write_all(&frame).await.map_err(io)?;
        let mut len = [0u8; 4];
        conn.stream.read_exact(&mut len).await.map_err(io)?;
        let size = i32::from_be_bytes(len);
        let size = usize::try_from(size)
            .map_err(|_| self.protocol(&format!("negative frame size {size}")))?;
        if size > MAX_RESPONSE_BYTES {
            return Err(ChannelError::FrameTooLarge {
                node: self.node.clone(),
                size,
                max: MAX_RESPONSE_BYTES,
            });
        }
        // Grown as the bytes arrive, not allocated from the size up front.
        let mut buf = BytesMut::with_capacity(size.min(1 << 20));
        while buf.len() < size {
            let want = (size - buf.len()).min(1 << 20);
            let start = buf.len();
            buf.resize(start + want, 0);
            let n = conn.stream.read(&mut buf[start..]).await.map_err(io)?;
            buf.truncate(start + n);
            if n == 0 {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed mid-response",
                )));
            }
        }
        let frame: Bytes = buf.freeze();
        let (got, response) = client::decode_response(api, version, frame)
            .map_err(|e| self.protocol(&e.to_string()))?;
        if got != correlation {
            return Err(self.protocol(&format!(
                "response to correlation id {got}, expected {correlation}"
            )));
        }
        Ok(response)
    }

    fn protocol(&self, message: &str) -> ChannelError {
        ChannelError::Protocol {
            node: self.node.clone(),
            message: message.to_string(),
        }
    }
}

/// The API key of a request.
pub fn api_key_of(body: &RequestKind) -> Option<ApiKey> {
    client::request_api_key(body)
}
