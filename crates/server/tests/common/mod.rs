//! A broker on an ephemeral port and a minimal Kafka client for scenario tests.
#![allow(dead_code)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use sluice_server::config::{BrokerConfig, RawConfig, Source};
use sluice_server::server::RunningServer;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every wait in these tests is bounded by this.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn config(dir: &Path, extra: &[(&str, &str)]) -> BrokerConfig {
    let mut raw = RawConfig::default();
    raw.set("listeners", "PLAINTEXT://127.0.0.1:0", Source::Override);
    raw.set(
        "advertised.listeners",
        "PLAINTEXT://127.0.0.1:9",
        Source::Override,
    );
    raw.set(
        "log.dirs",
        dir.to_string_lossy().to_string(),
        Source::Override,
    );
    for (k, v) in extra {
        raw.set(k, *v, Source::Override);
    }
    BrokerConfig::from_raw(raw).expect("test config")
}

pub async fn start(dir: &Path, extra: &[(&str, &str)]) -> RunningServer {
    RunningServer::start(config(dir, extra))
        .await
        .expect("broker starts")
}

pub struct Client {
    pub stream: TcpStream,
    next_correlation: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Self {
            stream,
            next_correlation: 1,
        }
    }

    /// A client whose socket receive buffer is tiny (no autotuning): the broker's writes to it
    /// block as soon as it stops reading.
    pub async fn connect_small_receive_buffer(addr: SocketAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = tokio::time::timeout(DEADLINE, socket.connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Self {
            stream,
            next_correlation: 1,
        }
    }

    pub fn encode(&mut self, api: ApiKey, version: i16, body: &RequestKind) -> (i32, Bytes) {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(StrBytes::from_static_str("sluice-test")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, api.request_header_version(version))
            .expect("header encodes");
        body.encode(&mut buf, version).expect("body encodes");
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        (correlation, buf.freeze())
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Read one response frame; None if the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        read_frame_from(&mut self.stream).await
    }

    pub fn decode(api: ApiKey, version: i16, mut frame: Bytes) -> (i32, ResponseKind) {
        let header_version = if api == ApiKey::ApiVersions {
            0
        } else {
            api.response_header_version(version)
        };
        let header = ResponseHeader::decode(&mut frame, header_version).expect("response header");
        let body = ResponseKind::decode(api, &mut frame, version).expect("response body");
        assert!(!frame.has_remaining(), "{api:?} v{version}: trailing bytes");
        (header.correlation_id, body)
    }

    pub async fn call(&mut self, api: ApiKey, version: i16, body: RequestKind) -> ResponseKind {
        let (correlation, bytes) = self.encode(api, version, &body);
        self.send_raw(&bytes).await;
        let frame = self.read_frame().await.expect("broker answered");
        let (got, resp) = Self::decode(api, version, frame);
        assert_eq!(got, correlation);
        resp
    }

    /// True once the broker has closed this connection (bounded wait).
    pub async fn is_closed_by_broker(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(DEADLINE, self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// Read one size-prefixed frame from `rd` (bounded by DEADLINE); None if the stream ended.
pub async fn read_frame_from<R: tokio::io::AsyncRead + Unpin>(rd: &mut R) -> Option<Bytes> {
    let read = async {
        let mut len = [0u8; 4];
        rd.read_exact(&mut len).await.ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        rd.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("response in time")
}

/// Poll `check` until it holds, bounded by DEADLINE (no fixed sleeps: the condition decides).
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// CreateTopics v7 of one topic (replication factor 1) with `configs`; asserts it was created.
pub async fn create_topic(c: &mut Client, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
    let t = CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
        .with_num_partitions(partitions)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        );
    let ResponseKind::CreateTopics(r) = c
        .call(
            ApiKey::CreateTopics,
            7,
            RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![t])),
        )
        .await
    else {
        panic!("not a CreateTopics response")
    };
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
}
