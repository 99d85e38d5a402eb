//! Throws random, truncated, oversized, negative-length and schema-violating frames at a live
//! broker; the broker must close only the offending connections and keep serving everyone else.

mod common;

use common::Client;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use sluice_server::handlers::SUPPORTED;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn header(api: i16, version: i16, flexible: bool) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&api.to_be_bytes());
    h.extend_from_slice(&version.to_be_bytes());
    h.extend_from_slice(&42i32.to_be_bytes());
    h.extend_from_slice(&(-1i16).to_be_bytes());
    if flexible {
        h.push(0);
    }
    h
}

async fn healthy(addr: std::net::SocketAddr, name: &str) {
    let mut c = Client::connect(addr).await;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
        )
        .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))]))
        .with_allow_auto_topic_creation(true);
    let ResponseKind::Metadata(m) = c
        .call(ApiKey::Metadata, 12, RequestKind::Metadata(req))
        .await
    else {
        panic!("not a metadata response")
    };
    assert_eq!(m.topics[0].error_code, 0);
}

#[tokio::test]
async fn hostile_frames_close_only_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("socket.request.max.bytes", "1048576")]).await;
    let addr = server.addr("PLAINTEXT").unwrap();
    // A well-behaved client that stays connected throughout.
    let mut bystander = Client::connect(addr).await;

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("negative size", (-5i32).to_be_bytes().to_vec()),
        ("oversized", 1_048_577i32.to_be_bytes().to_vec()),
        ("huge", i32::MAX.to_be_bytes().to_vec()),
        ("shorter than a header", frame(&[0, 3, 0])),
        ("empty frame", frame(&[])),
        ("unknown api key", frame(&header(999, 0, false))),
        ("unsupported metadata version", frame(&header(3, 99, true))),
        ("client id longer than frame", {
            let mut h = header(3, 1, false);
            h[8..10].copy_from_slice(&1000i16.to_be_bytes());
            frame(&h)
        }),
        (
            "metadata v12 with 2^31-1 topics (kafka-protocol allocation bomb)",
            {
                let mut b = header(3, 12, true);
                b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]); // compact array count
                b.extend_from_slice(&[0u8; 8]);
                frame(&b)
            },
        ),
        ("create topics v7 with a huge config array", {
            let mut b = header(19, 7, true);
            b.push(2); // one topic
            b.push(2);
            b.push(b'x');
            b.extend_from_slice(&1i32.to_be_bytes());
            b.extend_from_slice(&1i16.to_be_bytes());
            b.push(1); // no assignments
            b.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x07]); // configs count
            frame(&b)
        }),
    ];
    for (name, bytes) in cases {
        let mut c = Client::connect(addr).await;
        c.send_raw(&bytes).await;
        assert!(
            c.is_closed_by_broker().await,
            "{name}: connection should be closed"
        );
    }

    // Truncated frames: the peer goes away mid-frame.
    for cut in [1usize, 3, 4, 7, 20] {
        let mut c = Client::connect(addr).await;
        let mut b = header(3, 12, true);
        b.extend_from_slice(&[1, 0, 0]);
        let f = frame(&b);
        c.send_raw(&f[..cut.min(f.len() - 1)]).await;
        drop(c);
    }

    // Random bodies for every supported API at every version, and pure noise.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..400 {
        let mut c = Client::connect(addr).await;
        let bytes = if round % 4 == 0 {
            let n = rng.below(200) as usize;
            (0..n).map(|_| rng.next() as u8).collect()
        } else {
            let (api, min, max) = SUPPORTED[rng.below(SUPPORTED.len() as u64) as usize];
            let version = min + rng.below((max - min + 1) as u64) as i16;
            let flexible = api.request_header_version(version) >= 2;
            let mut b = header(api as i16, version, flexible);
            let n = rng.below(64) as usize;
            b.extend((0..n).map(|_| {
                // Mostly 0xff/0x7f/0 to hit length fields with extreme values.
                match rng.below(4) {
                    0 => 0xff,
                    1 => 0x7f,
                    2 => 0,
                    _ => rng.next() as u8,
                }
            }));
            frame(&b)
        };
        c.send_raw(&bytes).await;
        // Either an answer or a close; both are fine. A crash fails `healthy` below.
        drop(c);
    }

    healthy(addr, "after-hostile").await;
    // The bystander's connection was never disturbed.
    let req = ApiVersionsRequest::default();
    let ResponseKind::ApiVersions(r) = bystander
        .call(ApiKey::ApiVersions, 2, RequestKind::ApiVersions(req))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    server.shutdown().await;
}
