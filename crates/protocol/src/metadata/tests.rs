//! Tests of the metadata record codec.
//!
//! The golden vectors are record values (and control record keys/values) copied byte for byte
//! out of a `__cluster_metadata-0` log, its `00000000000000000000-0000000000.checkpoint` and a
//! `bootstrap.checkpoint` written by Apache Kafka 4.3.1 (one combined broker+controller with two
//! log dirs: topics created with configs, broker configs altered, an idempotent producer, a
//! topic deleted, a replica moved to the other log dir, two controlled shutdowns). The expected
//! values are what `kafka-dump-log --cluster-metadata-decoder` printed for the same records.

use super::codec::{put_uvarint, MAX_STRING_LEN};
use super::test_gen::Gen;
use super::*;
use bytes::Bytes;
use proptest::prelude::*;
use uuid::Uuid;

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A Kafka `Uuid` as Kafka prints it: URL-safe base64 of its 16 bytes, no padding.
fn kuuid(s: &str) -> Uuid {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Uuid::from_slice(&out).unwrap()
}

/// Decodes a golden metadata value, checks it is `expected` at `version`, and that encoding it
/// gives back the very same bytes.
fn golden(hex: &str, version: i16, expected: impl Into<MetadataRecord>) {
    let bytes = unhex(hex);
    let decoded = decode_metadata_value(&bytes).unwrap();
    assert_eq!(decoded, VersionedRecord::new(expected, version));
    assert_eq!(encode_metadata_value(&decoded).unwrap(), bytes);
}

fn golden_control(key: &str, value: &str, expected: ControlRecord) {
    let (key, value) = (unhex(key), unhex(value));
    let decoded = ControlRecord::decode(&key, &value).unwrap();
    assert_eq!(decoded, expected);
    let enc = decoded.encode().unwrap();
    assert_eq!((enc.key.to_vec(), enc.value), (key, value));
}

fn broker_feature(name: &str, min: i16, max: i16) -> BrokerFeature {
    BrokerFeature {
        name: name.into(),
        min_supported_version: min,
        max_supported_version: max,
        ..Default::default()
    }
}

const ALPHA: &str = "Yi0kZAGpSWy_zV2txw3D0Q";
const DOOMED: &str = "bmwJ7OncS3eZvDAp2MJWFw";
const DIR_DATA: &str = "ycI81u_m4uWAmOpVDuqiPQ";
const DIR_DATA2: &str = "AuK1TtpPTzWUj_C2mIPPmA";

// ---- golden metadata records ----

#[test]
fn golden_topic_record() {
    // {"name":"alpha","topicId":"Yi0kZAGpSWy_zV2txw3D0Q"}
    golden(
        "01020006616c706861622d246401a9496cbfcd5dadc70dc3d100",
        0,
        TopicRecord {
            name: "alpha".into(),
            topic_id: kuuid(ALPHA),
            ..Default::default()
        },
    );
}

#[test]
fn golden_partition_record_v2_with_directories() {
    // {"partitionId":0,"topicId":"Yi0k…","replicas":[1],"isr":[1],"removingReplicas":[],
    //  "addingReplicas":[],"leader":1,"leaderEpoch":0,"partitionEpoch":0,
    //  "directories":["AAAAAAAAAAAAAAAAAAAAAQ"]}  (DirectoryId.UNASSIGNED)
    golden(
        "01030200000000622d246401a9496cbfcd5dadc70dc3d1020000000102000000010101000000010000000000000000020000000000000000000000000000000100",
        2,
        PartitionRecord {
            partition_id: 0,
            topic_id: kuuid(ALPHA),
            replicas: vec![1],
            isr: vec![1],
            removing_replicas: vec![],
            adding_replicas: vec![],
            leader: 1,
            leader_recovery_state: 0,
            leader_epoch: 0,
            partition_epoch: 0,
            directories: vec![kuuid("AAAAAAAAAAAAAAAAAAAAAQ")],
            eligible_leader_replicas: None,
            last_known_elr: None,
            unknown_tagged_fields: vec![],
        },
    );
}

#[test]
fn golden_config_records() {
    // Cluster default broker config from the bootstrap records.
    golden(
        "0104000401146d696e2e696e73796e632e7265706c69636173023100",
        0,
        ConfigRecord {
            resource_type: 4,
            resource_name: "".into(),
            name: "min.insync.replicas".into(),
            value: Some("1".into()),
            ..Default::default()
        },
    );
    // A topic config.
    golden(
        "0104000206616c7068610f636c65616e75702e706f6c69637908636f6d7061637400",
        0,
        ConfigRecord {
            resource_type: 2,
            resource_name: "alpha".into(),
            name: "cleanup.policy".into(),
            value: Some("compact".into()),
            ..Default::default()
        },
    );
    // A broker config removed (value null).
    golden(
        "010400040231226c65616465722e7265706c69636174696f6e2e7468726f74746c65642e726174650000",
        0,
        ConfigRecord {
            resource_type: 4,
            resource_name: "1".into(),
            name: "leader.replication.throttled.rate".into(),
            value: None,
            ..Default::default()
        },
    );
}

#[test]
fn golden_remove_topic_record() {
    golden(
        "0109006e6c09ece9dc4b7799bc3029d8c2561700",
        0,
        RemoveTopicRecord {
            topic_id: kuuid(DOOMED),
            ..Default::default()
        },
    );
}

#[test]
fn golden_producer_ids_record() {
    // {"brokerId":1,"brokerEpoch":13,"nextProducerId":1000}
    golden(
        "010f0000000001000000000000000d00000000000003e800",
        0,
        ProducerIdsRecord {
            broker_id: 1,
            broker_epoch: 13,
            next_producer_id: 1000,
            ..Default::default()
        },
    );
}

#[test]
fn golden_feature_level_records() {
    golden(
        "010c00116d657461646174612e76657273696f6e001e00",
        0,
        FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 30,
            ..Default::default()
        },
    );
    golden(
        "010c0021656c696769626c652e6c65616465722e7265706c696361732e76657273696f6e000100",
        0,
        FeatureLevelRecord {
            name: "eligible.leader.replicas.version".into(),
            feature_level: 1,
            ..Default::default()
        },
    );
}

#[test]
fn golden_register_broker_record_v4() {
    // The version Kafka 4.3.1 writes; rack null, fenced, two log dirs (tag 0), no cordoned
    // log dirs (tag 1 absent: null).
    golden(
        "0100040000000100b4a16a0c16b8454f8c3ff684749a79a0000000000000000d020a504c41494e544558540a3132372e302e302e31a084000000080e73686172652e76657273696f6e00000001000e6b726166742e76657273696f6e00000001000e67726f75702e76657273696f6e00000001001073747265616d732e76657273696f6e0000000100147472616e73616374696f6e2e76657273696f6e000000020021656c696769626c652e6c65616465722e7265706c696361732e76657273696f6e0000000100116d657461646174612e76657273696f6e0007001e0000010001002103c9c23cd6efe6e2e58098ea550eeaa23d02e2b54eda4f4f35948ff0b69883cf98",
        4,
        RegisterBrokerRecord {
            broker_id: 1,
            is_migrating_zk_broker: false,
            incarnation_id: kuuid("tKFqDBa4RU-MP_aEdJp5oA"),
            broker_epoch: 13,
            end_points: vec![BrokerEndpoint {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 41092,
                security_protocol: 0,
                ..Default::default()
            }],
            features: vec![
                broker_feature("share.version", 0, 1),
                broker_feature("kraft.version", 0, 1),
                broker_feature("group.version", 0, 1),
                broker_feature("streams.version", 0, 1),
                broker_feature("transaction.version", 0, 2),
                broker_feature("eligible.leader.replicas.version", 0, 1),
                broker_feature("metadata.version", 7, 30),
            ],
            rack: None,
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: vec![kuuid(DIR_DATA), kuuid(DIR_DATA2)],
            cordoned_log_dirs: None,
            unknown_tagged_fields: vec![],
        },
    );
}

#[test]
fn golden_broker_registration_change_records() {
    // v0 {"brokerId":1,"brokerEpoch":13,"fenced":-1}
    golden(
        "01110000000001000000000000000d010001ff",
        0,
        BrokerRegistrationChangeRecord {
            broker_id: 1,
            broker_epoch: 13,
            fenced: -1,
            ..Default::default()
        },
    );
    // v1 {"brokerId":1,"brokerEpoch":13,"inControlledShutdown":1}
    golden(
        "01110100000001000000000000000d01010101",
        1,
        BrokerRegistrationChangeRecord {
            broker_id: 1,
            broker_epoch: 13,
            in_controlled_shutdown: 1,
            ..Default::default()
        },
    );
    // v3 {"brokerId":1,"brokerEpoch":13,"cordonedLogDirs":[]}: an empty list is not the
    // default (null), so it is written.
    golden(
        "01110300000001000000000000000d01030101",
        3,
        BrokerRegistrationChangeRecord {
            broker_id: 1,
            broker_epoch: 13,
            cordoned_log_dirs: Some(vec![]),
            ..Default::default()
        },
    );
}

#[test]
fn golden_register_controller_record() {
    golden(
        "011b0000000001f593ffe563df4e3780e5c8ecb990369d00020b434f4e54524f4c4c45520a3132372e302e302e31a085000000080e67726f75702e76657273696f6e00000001000e6b726166742e76657273696f6e0000000100116d657461646174612e76657273696f6e0007001e000e73686172652e76657273696f6e00000001001073747265616d732e76657273696f6e0000000100147472616e73616374696f6e2e76657273696f6e000000020021656c696769626c652e6c65616465722e7265706c696361732e76657273696f6e000000010000",
        0,
        RegisterControllerRecord {
            controller_id: 1,
            incarnation_id: kuuid("9ZP_5WPfTjeA5cjsuZA2nQ"),
            zk_migration_ready: false,
            end_points: vec![ControllerEndpoint {
                name: "CONTROLLER".into(),
                host: "127.0.0.1".into(),
                port: 41093,
                security_protocol: 0,
                ..Default::default()
            }],
            features: [
                ("group.version", 0, 1),
                ("kraft.version", 0, 1),
                ("metadata.version", 7, 30),
                ("share.version", 0, 1),
                ("streams.version", 0, 1),
                ("transaction.version", 0, 2),
                ("eligible.leader.replicas.version", 0, 1),
            ]
            .into_iter()
            .map(|(name, min, max)| ControllerFeature {
                name: name.into(),
                min_supported_version: min,
                max_supported_version: max,
                ..Default::default()
            })
            .collect(),
            unknown_tagged_fields: vec![],
        },
    );
}

#[test]
fn golden_no_op_and_transaction_records() {
    golden("01140000", 0, NoOpRecord::default());
    // {"name":"Bootstrap records"}: the tagged Name (tag 0).
    golden(
        "01170001001212426f6f747374726170207265636f726473",
        0,
        BeginTransactionRecord {
            name: Some("Bootstrap records".into()),
            ..Default::default()
        },
    );
    golden("01180000", 0, EndTransactionRecord::default());
}

#[test]
fn golden_partition_change_records() {
    // A replica moved to another log dir: {"partitionId":1,"topicId":"Yi0k…",
    // "directories":["AuK1TtpPTzWUj_C2mIPPmA"]} (tag 8 only).
    golden(
        "01050200000001622d246401a9496cbfcd5dadc70dc3d10108110202e2b54eda4f4f35948ff0b69883cf98",
        2,
        PartitionChangeRecord {
            partition_id: 1,
            topic_id: kuuid(ALPHA),
            directories: Some(vec![kuuid(DIR_DATA2)]),
            ..Default::default()
        },
    );
    // Controlled shutdown: {"isr":[],"leader":-1,"eligibleLeaderReplicas":[1],"lastKnownElr":[1]}
    golden(
        "01050200000000622d246401a9496cbfcd5dadc70dc3d1040001010104ffffffff0605020000000107050200000001",
        2,
        PartitionChangeRecord {
            partition_id: 0,
            topic_id: kuuid(ALPHA),
            isr: Some(vec![]),
            leader: -1,
            eligible_leader_replicas: Some(vec![1]),
            last_known_elr: Some(vec![1]),
            ..Default::default()
        },
    );
    // Back up: {"isr":[1],"leader":1,"eligibleLeaderReplicas":[],"lastKnownElr":[]}
    golden(
        "01050200000000622d246401a9496cbfcd5dadc70dc3d10400050200000001010400000001060101070101",
        2,
        PartitionChangeRecord {
            partition_id: 0,
            topic_id: kuuid(ALPHA),
            isr: Some(vec![1]),
            leader: 1,
            eligible_leader_replicas: Some(vec![]),
            last_known_elr: Some(vec![]),
            ..Default::default()
        },
    );
}

// ---- golden control records ----

#[test]
fn golden_snapshot_header_and_footer() {
    // 00000000000000000000-0000000000.checkpoint
    golden_control(
        "00000003",
        "0000000001a252fd9d1000",
        ControlRecord::SnapshotHeader(SnapshotHeaderRecord {
            version: 0,
            last_contained_log_timestamp: 1796688682256,
            ..Default::default()
        }),
    );
    // bootstrap.checkpoint
    golden_control(
        "00000003",
        "0000000000000000000000",
        ControlRecord::SnapshotHeader(SnapshotHeaderRecord::default()),
    );
    golden_control(
        "00000004",
        "000000",
        ControlRecord::SnapshotFooter(SnapshotFooterRecord::default()),
    );
}

#[test]
fn golden_kraft_version_and_voters() {
    golden_control(
        "00000005",
        "0000000100",
        ControlRecord::KRaftVersion(KRaftVersionRecord {
            version: 0,
            kraft_version: 1,
            ..Default::default()
        }),
    );
    golden_control(
        "00000006",
        "0000020000000102e2b54eda4f4f35948ff0b69883cf98020b434f4e54524f4c4c45520a3132372e302e302e31a0850000000001000000",
        ControlRecord::Voters(VotersRecord {
            version: 0,
            voters: vec![VotersRecordVoter {
                voter_id: 1,
                voter_directory_id: kuuid(DIR_DATA2),
                endpoints: vec![Endpoint {
                    name: "CONTROLLER".into(),
                    host: "127.0.0.1".into(),
                    port: 41093,
                    ..Default::default()
                }],
                kraft_version_feature: KRaftVersionFeature {
                    min_supported_version: 0,
                    max_supported_version: 1,
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        }),
    );
}

#[test]
fn golden_leader_change() {
    // {"version":0,"leaderId":1,"voters":[{"voterId":1}],"grantingVoters":[{"voterId":1}]}
    let voter = LeaderChangeMessageVoter {
        voter_id: 1,
        ..Default::default()
    };
    golden_control(
        "00000002",
        "00000000000102000000010002000000010000",
        ControlRecord::LeaderChange(LeaderChangeMessage {
            version: 0,
            leader_id: 1,
            voters: vec![voter.clone()],
            granting_voters: vec![voter],
            ..Default::default()
        }),
    );
}

/// Every golden value, for the hostile-input tests.
const GOLDEN_VALUES: &[&str] = &[
    "01020006616c706861622d246401a9496cbfcd5dadc70dc3d100",
    "01030200000000622d246401a9496cbfcd5dadc70dc3d1020000000102000000010101000000010000000000000000020000000000000000000000000000000100",
    "0104000206616c7068610f636c65616e75702e706f6c69637908636f6d7061637400",
    "010400040231226c65616465722e7265706c69636174696f6e2e7468726f74746c65642e726174650000",
    "0109006e6c09ece9dc4b7799bc3029d8c2561700",
    "010f0000000001000000000000000d00000000000003e800",
    "010c00116d657461646174612e76657273696f6e001e00",
    "0100040000000100b4a16a0c16b8454f8c3ff684749a79a0000000000000000d020a504c41494e544558540a3132372e302e302e31a084000000080e73686172652e76657273696f6e00000001000e6b726166742e76657273696f6e00000001000e67726f75702e76657273696f6e00000001001073747265616d732e76657273696f6e0000000100147472616e73616374696f6e2e76657273696f6e000000020021656c696769626c652e6c65616465722e7265706c696361732e76657273696f6e0000000100116d657461646174612e76657273696f6e0007001e0000010001002103c9c23cd6efe6e2e58098ea550eeaa23d02e2b54eda4f4f35948ff0b69883cf98",
    "01110300000001000000000000000d01030101",
    "011b0000000001f593ffe563df4e3780e5c8ecb990369d00020b434f4e54524f4c4c45520a3132372e302e302e31a085000000080e67726f75702e76657273696f6e00000001000e6b726166742e76657273696f6e0000000100116d657461646174612e76657273696f6e0007001e000e73686172652e76657273696f6e00000001001073747265616d732e76657273696f6e0000000100147472616e73616374696f6e2e76657273696f6e000000020021656c696769626c652e6c65616465722e7265706c696361732e76657273696f6e000000010000",
    "01170001001212426f6f747374726170207265636f726473",
    "01050200000000622d246401a9496cbfcd5dadc70dc3d1040001010104ffffffff0605020000000107050200000001",
];

const GOLDEN_CONTROL: &[(&str, &str)] = &[
    ("00000002", "00000000000102000000010002000000010000"),
    ("00000003", "0000000001a252fd9d1000"),
    ("00000004", "000000"),
    ("00000005", "0000000100"),
    (
        "00000006",
        "0000020000000102e2b54eda4f4f35948ff0b69883cf98020b434f4e54524f4c4c45520a3132372e302e302e31a0850000000001000000",
    ),
];

// ---- schema facts ----

#[test]
fn every_metadata_schema_has_a_record_type() {
    assert_eq!(METADATA_RECORD_SCHEMAS.len(), 26);
    assert_eq!(MetadataRecordType::ALL.len(), METADATA_RECORD_SCHEMAS.len());
    for (t, (key, name, lo, hi)) in MetadataRecordType::ALL.iter().zip(METADATA_RECORD_SCHEMAS) {
        assert_eq!(
            (
                t.api_key(),
                t.name(),
                t.lowest_version(),
                t.highest_version()
            ),
            (key, name, lo, hi)
        );
        assert_eq!(MetadataRecordType::from_api_key(key), Some(*t));
    }
    for missing in [6, 13, 16, 29, -1] {
        assert_eq!(MetadataRecordType::from_api_key(missing), None);
    }
    // A few facts of Kafka 4.3.1's schemas.
    assert_eq!(RegisterBrokerRecord::HIGHEST_VERSION, 4);
    assert_eq!(PartitionRecord::HIGHEST_VERSION, 2);
    assert_eq!(PartitionChangeRecord::HIGHEST_VERSION, 2);
    assert_eq!(BrokerRegistrationChangeRecord::HIGHEST_VERSION, 3);
    assert_eq!(LeaderChangeMessage::HIGHEST_VERSION, 1);
    assert_eq!(MetadataRecordType::ClearElr.api_key(), 28);
    assert_eq!(
        MetadataRecordType::ZkMigrationState.name(),
        "ZkMigrationStateRecord"
    );
}

#[test]
fn defaults_are_the_schemas() {
    let pc = PartitionChangeRecord::default();
    assert_eq!(
        (pc.partition_id, pc.leader, pc.leader_recovery_state),
        (-1, -2, -1)
    );
    assert!(pc.isr.is_none() && pc.replicas.is_none() && pc.directories.is_none());
    let p = PartitionRecord::default();
    assert_eq!(
        (p.partition_id, p.leader, p.leader_epoch, p.partition_epoch),
        (-1, -1, -1, -1)
    );
    assert_eq!(p.leader_recovery_state, 0);
    assert!(p.eligible_leader_replicas.is_none() && p.directories.is_empty());
    let b = RegisterBrokerRecord::default();
    assert!(b.fenced && !b.in_controlled_shutdown);
    assert_eq!(b.rack.as_deref(), Some(""));
    assert!(b.cordoned_log_dirs.is_none());
    assert_eq!(ProducerIdsRecord::default().broker_epoch, -1);
    assert_eq!(ConfigRecord::default().value.as_deref(), Some(""));
    assert!(AbortTransactionRecord::default().reason.is_none());
}

// ---- the value frame ----

fn frame(frame_version: u32, api_key: u32, version: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put_uvarint(&mut b, frame_version);
    put_uvarint(&mut b, api_key);
    put_uvarint(&mut b, version);
    b.extend_from_slice(body);
    b
}

#[test]
fn frame_versions_other_than_1_are_refused() {
    let noop = [0u8];
    assert_eq!(
        decode_metadata_value(&frame(0, 20, 0, &noop)),
        Err(E::FrameVersionZero)
    );
    assert_eq!(
        decode_metadata_value(&frame(2, 20, 0, &noop)),
        Err(E::UnknownFrameVersion(2))
    );
    assert_eq!(
        decode_metadata_value(&frame(40000, 20, 0, &noop)),
        Err(E::FrameValueTooLarge {
            what: "frame version",
            value: 40000
        })
    );
    assert!(decode_metadata_value(&frame(1, 20, 0, &noop)).is_ok());
    let err = decode_metadata_value(&frame(0, 20, 0, &noop)).unwrap_err();
    assert!(err.to_string().contains("frame version 0"), "{err}");
}

#[test]
fn unknown_api_keys_and_versions_are_refused() {
    assert_eq!(
        decode_metadata_value(&frame(1, 6, 0, &[0])),
        Err(E::UnknownApiKey(6))
    );
    assert_eq!(
        decode_metadata_value(&frame(1, 70000, 0, &[0])),
        Err(E::FrameValueTooLarge {
            what: "type",
            value: 70000
        })
    );
    assert_eq!(
        decode_metadata_value(&frame(1, 20, 1, &[0])),
        Err(E::UnsupportedVersion {
            record: "NoOpRecord",
            version: 1,
            lowest: 0,
            highest: 0
        })
    );
    let rec = VersionedRecord::new(RegisterBrokerRecord::default(), 5);
    assert!(matches!(
        encode_metadata_value(&rec),
        Err(E::UnsupportedVersion {
            record: "RegisterBrokerRecord",
            version: 5,
            ..
        })
    ));
    let rec = VersionedRecord::new(TopicRecord::default(), -1);
    assert!(matches!(
        encode_metadata_value(&rec),
        Err(E::UnsupportedVersion { .. })
    ));
}

#[test]
fn garbage_after_the_record_is_refused() {
    for hex in GOLDEN_VALUES {
        let mut b = unhex(hex);
        let len = b.len();
        b.extend_from_slice(&[0, 1]);
        let err = decode_metadata_value(&b).unwrap_err();
        assert!(
            matches!(err, E::TrailingBytes { count: 2, offset, .. } if offset == len),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("found 2 byte(s) of garbage after "),
            "{err}"
        );
    }
    for (key, value) in GOLDEN_CONTROL {
        let mut v = unhex(value);
        v.push(7);
        assert!(matches!(
            ControlRecord::decode(&unhex(key), &v),
            Err(E::ControlTrailingBytes { count: 1, .. })
        ));
    }
}

#[test]
fn every_truncation_is_an_error() {
    for hex in GOLDEN_VALUES {
        let b = unhex(hex);
        for cut in 0..b.len() {
            assert!(
                decode_metadata_value(&b[..cut]).is_err(),
                "{hex} cut at {cut}"
            );
        }
    }
    for (key, value) in GOLDEN_CONTROL {
        let (k, v) = (unhex(key), unhex(value));
        for cut in 0..v.len() {
            assert!(
                ControlRecord::decode(&k, &v[..cut]).is_err(),
                "{value} cut at {cut}"
            );
        }
        for cut in 0..k.len() {
            assert_eq!(
                ControlRecord::decode(&k[..cut], &v),
                Err(E::ControlKeyTooShort(cut))
            );
        }
    }
}

#[test]
fn errors_name_the_field_and_offset() {
    // TopicRecord cut inside its TopicId.
    let b = unhex("01020006616c706861622d246401a9496cbfcd5dadc70dc3d100");
    let err = decode_metadata_value(&b[..15]).unwrap_err();
    assert_eq!(
        err,
        E::Truncated {
            field: "TopicRecord.TopicId",
            offset: 9,
            needed: 16,
            remaining: 6
        }
    );
    assert_eq!(
        err.to_string(),
        "TopicRecord.TopicId: needs 16 byte(s) at offset 9, only 6 left"
    );
    // RegisterBrokerRecord cut inside an endpoint's host.
    let b = unhex(GOLDEN_VALUES[7]);
    let err = decode_metadata_value(&b[..48]).unwrap_err();
    assert!(
        matches!(
            err,
            E::LengthTooLarge {
                field: "RegisterBrokerRecord.BrokerEndpoint.Host",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn huge_counts_and_lengths_are_refused_before_allocation() {
    // PartitionRecord v0 whose Replicas announces 2^31-2 elements.
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&[0u8; 16]);
    put_uvarint(&mut body, i32::MAX as u32);
    body.extend_from_slice(&[0, 0, 0, 1]);
    let err = decode_metadata_value(&frame(1, 3, 0, &body)).unwrap_err();
    assert!(
        matches!(
            err,
            E::CountTooLarge {
                field: "PartitionRecord.Replicas",
                count: 2147483646,
                ..
            }
        ),
        "{err}"
    );
    // RegisterBrokerRecord whose EndPoints announces u32::MAX - 1 structs.
    let mut body = Vec::new();
    body.extend_from_slice(&[0u8; 4 + 16 + 8]);
    put_uvarint(&mut body, u32::MAX);
    body.extend_from_slice(&[0u8; 20]);
    let err = decode_metadata_value(&frame(1, 0, 0, &body)).unwrap_err();
    assert!(matches!(err, E::CountTooLarge { .. }), "{err}");
    // A TopicRecord name of 32768 bytes (Kafka's limit is 32767), and one longer than the value.
    let mut body = Vec::new();
    put_uvarint(&mut body, 0x8001);
    body.extend_from_slice(&[b'a'; 0x8000]);
    body.extend_from_slice(&[0u8; 17]);
    let err = decode_metadata_value(&frame(1, 2, 0, &body)).unwrap_err();
    assert!(
        matches!(err, E::StringTooLong { length: 32768, .. }),
        "{err}"
    );
    let mut body = Vec::new();
    put_uvarint(&mut body, 1000);
    let err = decode_metadata_value(&frame(1, 2, 0, &body)).unwrap_err();
    assert!(
        matches!(err, E::LengthTooLarge { length: 999, .. }),
        "{err}"
    );
    // A tagged field claiming more bytes than there are.
    let mut body = Vec::new();
    body.extend_from_slice(&[0u8; 20]);
    body.extend_from_slice(&[1, 0]); // one tagged field, tag 0
    put_uvarint(&mut body, u32::MAX); // its size
    let err = decode_metadata_value(&frame(1, 5, 0, &body)).unwrap_err();
    assert!(matches!(err, E::LengthTooLarge { .. }), "{err}");
}

#[test]
fn bad_varints_are_refused() {
    // Six-byte frame version; a fifth byte carrying bits above 32.
    assert!(matches!(
        decode_metadata_value(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(E::BadVarint {
            field: "frame version",
            offset: 0
        })
    ));
    assert!(matches!(
        decode_metadata_value(&[0x01, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        Err(E::BadVarint {
            field: "TopicRecord.Name",
            offset: 3
        })
    ));
    // A tagged-field count that never ends.
    let mut b = frame(1, 20, 0, &[]);
    b.extend_from_slice(&[0xff; 12]);
    assert!(matches!(
        decode_metadata_value(&b),
        Err(E::BadVarint { .. })
    ));
}

#[test]
fn non_nullable_fields_refuse_null() {
    // TopicRecord with a null Name.
    let mut body = vec![0u8];
    body.extend_from_slice(&[0u8; 17]);
    assert_eq!(
        decode_metadata_value(&frame(1, 2, 0, &body)),
        Err(E::UnexpectedNull {
            field: "TopicRecord.Name",
            offset: 3
        })
    );
    // PartitionRecord with a null Replicas array.
    let mut body = vec![0u8; 20];
    body.push(0);
    let err = decode_metadata_value(&frame(1, 3, 0, &body)).unwrap_err();
    assert!(
        matches!(
            err,
            E::UnexpectedNull {
                field: "PartitionRecord.Replicas",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn strings_must_be_utf8() {
    let mut body = vec![3, 0xc3, 0x28];
    body.extend_from_slice(&[0u8; 17]);
    assert!(matches!(
        decode_metadata_value(&frame(1, 2, 0, &body)),
        Err(E::InvalidUtf8 {
            field: "TopicRecord.Name",
            offset: 3
        })
    ));
}

// ---- tagged fields ----

#[test]
fn a_tag_of_a_later_version_is_refused() {
    // PartitionChangeRecord v0 carrying Directories (tag 8, versions 1+), as Kafka's reader
    // refuses with "Tag 8 is not valid for version 0".
    let mut body = vec![0u8; 20];
    body.extend_from_slice(&[1, 8, 1, 1]);
    let err = decode_metadata_value(&frame(1, 5, 0, &body)).unwrap_err();
    assert_eq!(
        err,
        E::TagNotValidForVersion {
            record: "PartitionChangeRecord",
            tag: 8,
            version: 0,
            offset: 24
        }
    );
    // At v1 it is read.
    let rec = decode_metadata_value(&frame(1, 5, 1, &body)).unwrap();
    let MetadataRecord::PartitionChange(pc) = rec.record else {
        panic!("{rec:?}")
    };
    assert_eq!(pc.directories, Some(vec![]));
}

#[test]
fn a_tagged_field_must_fill_its_declared_size() {
    // PartitionChangeRecord Leader (tag 1, int32) declared as 5 bytes.
    let mut body = vec![0u8; 20];
    body.extend_from_slice(&[1, 1, 5, 0, 0, 0, 3, 9]);
    let err = decode_metadata_value(&frame(1, 5, 0, &body)).unwrap_err();
    assert_eq!(
        err,
        E::TaggedFieldSize {
            field: "PartitionChangeRecord.Leader",
            offset: 24,
            declared: 5,
            used: 4
        }
    );
    // Declared as 3 bytes: the int32 does not fit.
    let mut body = vec![0u8; 20];
    body.extend_from_slice(&[1, 1, 3, 0, 0, 3, 0]);
    let err = decode_metadata_value(&frame(1, 5, 0, &body)).unwrap_err();
    assert!(
        matches!(
            err,
            E::Truncated {
                field: "PartitionChangeRecord.Leader",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unknown_tagged_fields_are_kept_and_written_back_after_the_known_ones() {
    // TopicRecord (no tagged fields of its own) with tags 3 and 200.
    let mut body = vec![2, b'x'];
    body.extend_from_slice(&[7u8; 16]);
    body.extend_from_slice(&[2, 3, 2, 0xaa, 0xbb, 0xc8, 0x01, 0]);
    let b = frame(1, 2, 0, &body);
    let rec = decode_metadata_value(&b).unwrap();
    let MetadataRecord::Topic(t) = &rec.record else {
        panic!("{rec:?}")
    };
    assert_eq!(
        t.unknown_tagged_fields,
        vec![
            RawTaggedField {
                tag: 3,
                data: Bytes::from_static(&[0xaa, 0xbb])
            },
            RawTaggedField {
                tag: 200,
                data: Bytes::new()
            },
        ]
    );
    assert_eq!(encode_metadata_value(&rec).unwrap(), b);

    // PartitionChangeRecord: unknown tag 9 read between known tags 1 and 8 is written after
    // all known ones, as Kafka's RawTaggedFieldWriter (called with Integer.MAX_VALUE) does.
    let mut body = vec![0u8; 20];
    body.extend_from_slice(&[3, 1, 4, 0, 0, 0, 5, 9, 1, 0xee, 8, 1, 1]);
    let rec = decode_metadata_value(&frame(1, 5, 1, &body)).unwrap();
    let mut want = vec![0u8; 20];
    want.extend_from_slice(&[3, 1, 4, 0, 0, 0, 5, 8, 1, 1, 9, 1, 0xee]);
    assert_eq!(encode_metadata_value(&rec).unwrap(), frame(1, 5, 1, &want));
}

#[test]
fn tagged_fields_at_their_default_are_not_written() {
    let pc = PartitionChangeRecord {
        partition_id: 3,
        leader: -2,
        leader_recovery_state: -1,
        ..Default::default()
    };
    let mut out = Vec::new();
    pc.encode(2, &mut out).unwrap();
    assert_eq!(out.len(), 4 + 16 + 1);
    assert_eq!(*out.last().unwrap(), 0);
    // PartitionRecord's LeaderRecoveryState (tag 0) defaults to 0; 1 is written.
    let p = PartitionRecord {
        leader_recovery_state: 1,
        ..Default::default()
    };
    let mut out = Vec::new();
    p.encode(0, &mut out).unwrap();
    assert_eq!(&out[out.len() - 4..], &[1, 0, 1, 1]);
}

#[test]
fn encode_refuses_fields_the_version_lacks() {
    let pc = PartitionChangeRecord {
        directories: Some(vec![Uuid::nil()]),
        ..Default::default()
    };
    let err = pc.encode(0, &mut Vec::new()).unwrap_err();
    assert_eq!(
        err,
        E::NonDefaultField {
            field: "PartitionChangeRecord.Directories",
            version: 0
        }
    );
    assert_eq!(
        err.to_string(),
        "attempted to write a non-default PartitionChangeRecord.Directories at version 0"
    );
    assert!(pc.encode(1, &mut Vec::new()).is_ok());
    let b = RegisterBrokerRecord {
        in_controlled_shutdown: true,
        ..Default::default()
    };
    assert!(matches!(
        b.encode(0, &mut Vec::new()),
        Err(E::NonDefaultField {
            field: "RegisterBrokerRecord.InControlledShutdown",
            version: 0
        })
    ));
    let b = RegisterBrokerRecord {
        log_dirs: vec![Uuid::nil()],
        ..Default::default()
    };
    assert!(matches!(
        b.encode(2, &mut Vec::new()),
        Err(E::NonDefaultField {
            field: "RegisterBrokerRecord.LogDirs",
            version: 2
        })
    ));
    // A record refused leaves the output buffer as it was.
    let mut out = vec![9u8];
    let rec = VersionedRecord::new(b, 2);
    assert!(encode_metadata_value_into(&rec, &mut out).is_err());
    assert_eq!(out, [9]);
    // An unsupported nested field: LeaderChangeMessage.Voter.VoterDirectoryId is v1+.
    let m = LeaderChangeMessage {
        voters: vec![LeaderChangeMessageVoter {
            voter_directory_id: Uuid::from_u128(1),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(matches!(
        m.encode(0, &mut Vec::new()),
        Err(E::NonDefaultField {
            field: "LeaderChangeMessage.Voter.VoterDirectoryId",
            version: 0
        })
    ));
}

#[test]
fn encode_refuses_what_kafka_cannot_read_back() {
    let t = TopicRecord {
        name: "n".repeat(MAX_STRING_LEN + 1),
        ..Default::default()
    };
    assert!(matches!(
        t.encode(0, &mut Vec::new()),
        Err(E::TooLongToEncode {
            field: "TopicRecord.Name",
            length: 32768,
            ..
        })
    ));
    let t = TopicRecord {
        name: "n".repeat(MAX_STRING_LEN),
        ..Default::default()
    };
    assert!(t.encode(0, &mut Vec::new()).is_ok());
    let raw = |tag| RawTaggedField {
        tag,
        data: Bytes::new(),
    };
    let t = TopicRecord {
        unknown_tagged_fields: vec![raw(5), raw(4)],
        ..Default::default()
    };
    assert!(matches!(
        t.encode(0, &mut Vec::new()),
        Err(E::BadUnknownTaggedField { tag: 4, .. })
    ));
    let pc = PartitionChangeRecord {
        unknown_tagged_fields: vec![raw(8)],
        ..Default::default()
    };
    // Tag 8 is Directories (from v1): a reader would take it for that field.
    assert!(matches!(
        pc.encode(0, &mut Vec::new()),
        Err(E::BadUnknownTaggedField { tag: 8, .. })
    ));
}

// ---- control records ----

#[test]
fn control_record_keys() {
    for (t, id) in [
        (ControlRecordType::Abort, 0),
        (ControlRecordType::Commit, 1),
        (ControlRecordType::LeaderChange, 2),
        (ControlRecordType::SnapshotHeader, 3),
        (ControlRecordType::SnapshotFooter, 4),
        (ControlRecordType::KRaftVersion, 5),
        (ControlRecordType::KRaftVoters, 6),
        (ControlRecordType::Unknown(77), 77),
    ] {
        assert_eq!(t.type_id(), id);
        assert_eq!(ControlRecordType::from_type_id(id), t);
        assert_eq!(ControlRecordType::parse_key(&t.key()), Ok(t));
    }
    // A later key version is read with version 0's layout; bytes after the type are ignored.
    assert_eq!(
        ControlRecordType::parse_key(&[0, 3, 0, 2, 9, 9]),
        Ok(ControlRecordType::LeaderChange)
    );
    assert_eq!(
        ControlRecordType::parse_key(&[0xff, 0xff, 0, 2]),
        Err(E::ControlKeyVersion(-1))
    );
    // Transaction markers and unknown types are not KRaft control records.
    for key in [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 9]] {
        assert!(matches!(
            ControlRecord::decode(&key, &[0, 0, 0, 0, 0, 0]),
            Err(E::NotKRaftControlRecord { .. })
        ));
    }
}

// ---- round trips ----

/// Every metadata record type at every valid version, and every control record.
fn round_trip_all(seed: u64) {
    let mut g = Gen::new(seed);
    for t in MetadataRecordType::ALL {
        for version in t.lowest_version()..=t.highest_version() {
            let record = t.arbitrary(&mut g, version);
            assert_eq!(record.record_type(), *t);
            let rec = VersionedRecord { record, version };
            let bytes = encode_metadata_value(&rec).unwrap_or_else(|e| panic!("{rec:?}: {e}"));
            let back = decode_metadata_value(&bytes).unwrap_or_else(|e| panic!("{rec:?}: {e}"));
            assert_eq!(back, rec);
            assert_eq!(encode_metadata_value(&back).unwrap(), bytes);
        }
    }
    let v = CONTROL_RECORD_VALUE_VERSION;
    for rec in [
        ControlRecord::LeaderChange(LeaderChangeMessage::arbitrary(&mut g, v)),
        ControlRecord::SnapshotHeader(SnapshotHeaderRecord::arbitrary(&mut g, v)),
        ControlRecord::SnapshotFooter(SnapshotFooterRecord::arbitrary(&mut g, v)),
        ControlRecord::KRaftVersion(KRaftVersionRecord::arbitrary(&mut g, v)),
        ControlRecord::Voters(VotersRecord::arbitrary(&mut g, v)),
    ] {
        let enc = rec.encode().unwrap();
        let back = ControlRecord::decode(&enc.key, &enc.value).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.encode().unwrap(), enc);
    }
    // LeaderChangeMessage v1 (VoterDirectoryId), which no control record uses yet.
    let m = LeaderChangeMessage::arbitrary(&mut g, 1);
    let mut out = Vec::new();
    m.encode(1, &mut out).unwrap();
    assert_eq!(
        LeaderChangeMessage::decode(&mut Reader::new(&out), 1).unwrap(),
        m
    );
}

#[test]
fn defaults_round_trip_at_every_version() {
    for t in MetadataRecordType::ALL {
        for version in t.lowest_version()..=t.highest_version() {
            let rec = VersionedRecord {
                record: t.new_record(),
                version,
            };
            let bytes = encode_metadata_value(&rec).unwrap();
            assert_eq!(decode_metadata_value(&bytes).unwrap(), rec);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_record_round_trips_at_every_version(seed in any::<u64>()) {
        round_trip_all(seed);
    }

    /// Arbitrary bytes: an error or a record, never a panic; a record decoded re-encodes and
    /// decodes to itself.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(rec) = decode_metadata_value(&bytes) {
            if let Ok(again) = encode_metadata_value(&rec) {
                prop_assert_eq!(decode_metadata_value(&again).unwrap(), rec);
            }
        }
        let (key, value) = bytes.split_at(bytes.len().min(4));
        let _ = ControlRecord::decode(key, value);
    }

    /// Golden values with one byte changed: the frame header and the schemas' structure keep
    /// most of them decodable, which exercises the decoders deeper than random bytes.
    #[test]
    fn mutated_golden_values_never_panic(which in 0..GOLDEN_VALUES.len(), at in any::<usize>(), byte in any::<u8>()) {
        let mut b = unhex(GOLDEN_VALUES[which]);
        let at = at % b.len();
        b[at] = byte;
        if let Ok(rec) = decode_metadata_value(&b) {
            if let Ok(again) = encode_metadata_value(&rec) {
                prop_assert_eq!(decode_metadata_value(&again).unwrap(), rec);
            }
        }
        let (k, v) = GOLDEN_CONTROL[which % GOLDEN_CONTROL.len()];
        let mut v = unhex(v);
        let at2 = at % v.len();
        v[at2] = byte;
        let _ = ControlRecord::decode(&unhex(k), &v);
    }
}

/// Seeds for the `metadata_record` fuzz target (crates/protocol/fuzz/run.sh): the golden values
/// and control records, and one encoding of every record type at every version. The first byte
/// picks the decoder (0: metadata value, 1: control record key + value).
#[test]
#[ignore = "writes fuzz seeds; run by crates/protocol/fuzz/run.sh"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("SLUICE_FUZZ_SEEDS") else {
        panic!("set SLUICE_FUZZ_SEEDS to the corpus directory");
    };
    let dir = std::path::PathBuf::from(dir);
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, hex) in GOLDEN_VALUES.iter().enumerate() {
        seeds.push((format!("golden-{i}"), [&[0u8][..], &unhex(hex)].concat()));
    }
    for (i, (key, value)) in GOLDEN_CONTROL.iter().enumerate() {
        let seed = [&[1u8][..], &unhex(key), &unhex(value)].concat();
        seeds.push((format!("golden-control-{i}"), seed));
    }
    let mut g = Gen::new(1);
    for t in MetadataRecordType::ALL {
        for version in t.lowest_version()..=t.highest_version() {
            let rec = VersionedRecord {
                record: t.arbitrary(&mut g, version),
                version,
            };
            let value = encode_metadata_value(&rec).unwrap();
            seeds.push((
                format!("{}-v{version}", t.name()),
                [&[0u8][..], &value].concat(),
            ));
        }
    }
    for (name, seed) in &seeds {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, seed) {
            panic!("{}: {e}", path.display());
        }
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
