//! A minimal blocking Kafka client: one connection, one request at a time, raw request structs
//! from the kafka-protocol crate in, decoded responses out.

use anyhow::{bail, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Responses larger than this are refused (the cases never ask for more).
const MAX_RESPONSE: usize = 64 << 20;

pub struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    pub fn connect(addr: &str) -> Result<Self> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            correlation_id: 0,
        })
    }

    /// Sends `body` as API `api` version `version` and decodes the response.
    pub fn send<B: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        body: &B,
    ) -> Result<ResponseKind> {
        let mut buf = BytesMut::new();
        body.encode(&mut buf, version)
            .with_context(|| format!("encode {api:?} v{version}"))?;
        self.send_raw(api, version, &buf)
    }

    /// Sends a request of a version newer than the codec whose layout equals `codec_version`'s:
    /// the body is encoded and the response decoded as `codec_version`.
    pub fn send_as<B: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        codec_version: i16,
        body: &B,
    ) -> Result<ResponseKind> {
        let mut buf = BytesMut::new();
        body.encode(&mut buf, codec_version)
            .with_context(|| format!("encode {api:?} v{codec_version}"))?;
        self.send_raw_as(api, version, codec_version, &buf)
    }

    /// Sends an already encoded request body (for bodies the codec would refuse to build).
    pub fn send_raw(&mut self, api: ApiKey, version: i16, body: &[u8]) -> Result<ResponseKind> {
        self.send_raw_as(api, version, version, body)
    }

    fn send_raw_as(
        &mut self,
        api: ApiKey,
        version: i16,
        decode_version: i16,
        body: &[u8],
    ) -> Result<ResponseKind> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("sluice-differential")));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, api.request_header_version(version))
            .context("encode request header")?;
        frame.extend_from_slice(body);
        let len = i32::try_from(frame.len() - 4).context("request too large")?;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        self.stream
            .write_all(&frame)
            .with_context(|| format!("send {api:?} v{version}"))?;

        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .with_context(|| format!("{api:?} v{version}: connection closed before a response"))?;
        let size = usize::try_from(i32::from_be_bytes(size)).context("negative response size")?;
        if size > MAX_RESPONSE {
            bail!("{api:?} v{version}: response of {size} bytes is larger than {MAX_RESPONSE}");
        }
        let mut data = vec![0u8; size];
        self.stream
            .read_exact(&mut data)
            .with_context(|| format!("{api:?} v{version}: short response"))?;
        let mut data = Bytes::from(data);
        let header = ResponseHeader::decode(&mut data, api.response_header_version(version))
            .context("decode response header")?;
        if header.correlation_id != self.correlation_id {
            bail!(
                "{api:?} v{version}: correlation id {} in the response, {} expected",
                header.correlation_id,
                self.correlation_id
            );
        }
        let response = ResponseKind::decode(api, &mut data, decode_version)
            .with_context(|| format!("decode {api:?} v{version} response"))?;
        if data.has_remaining() {
            bail!(
                "{api:?} v{version}: {} bytes after the response",
                data.remaining()
            );
        }
        Ok(response)
    }
}
