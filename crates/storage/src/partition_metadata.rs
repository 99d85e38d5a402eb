//! Kafka's `partition.metadata` (PartitionMetadataFile): the topic id of the partition whose
//! directory holds it, so that a log can be matched to its topic after a restart and a
//! recreated topic of the same name is never mistaken for the old one.
//!
//! Format (Kafka's `PartitionMetadata.encode`, no trailing newline):
//! ```text
//! version: 0
//! topic_id: <the id as Kafka prints it: 22 characters of URL-safe base64>
//! ```
//! Read as Kafka's PartitionMetadataReadBuffer reads it: each of the first two lines must split
//! into exactly two parts at `:` followed by whitespace; the version must be an integer >= 0
//! (newer versions are read the same, for downgrades); the topic id must parse and must not be
//! the all-zero id. Anything else is an error naming the file. Written atomically: temp file,
//! fsync, rename, fsync of the directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::checkpoint::sync_dir;
use crate::error::{IoContext, Result, StorageError};
use crate::kafka_uuid;

pub const PARTITION_METADATA_FILE: &str = "partition.metadata";
const CURRENT_VERSION: i32 = 0;

/// The `partition.metadata` file of one partition directory.
#[derive(Debug, Clone)]
pub struct PartitionMetadataFile {
    path: PathBuf,
}

impl PartitionMetadataFile {
    /// The file in partition directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(PARTITION_METADATA_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The topic id in the file; None when there is no file.
    pub fn read(&self) -> Result<Option<Uuid>> {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StorageError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let text = String::from_utf8(text).map_err(|_| self.corrupt("not UTF-8 text".into()))?;
        parse(&text)
            .map(Some)
            .map_err(|reason| self.corrupt(reason))
    }

    /// Write `topic_id` (replacing the file atomically).
    pub fn write(&self, topic_id: Uuid) -> Result<()> {
        if topic_id.is_nil() {
            return Err(self.corrupt("refusing to write the all-zero topic id".into()));
        }
        let text = format!(
            "version: {CURRENT_VERSION}\ntopic_id: {}",
            kafka_uuid::to_base64(topic_id)
        );
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut f = fs::File::create(&tmp).at(&tmp)?;
            f.write_all(text.as_bytes()).at(&tmp)?;
            f.sync_all().at(&tmp)?;
        }
        fs::rename(&tmp, &self.path).at(&self.path)?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }

    fn corrupt(&self, reason: String) -> StorageError {
        StorageError::CorruptPartitionMetadata {
            path: self.path.clone(),
            reason,
        }
    }
}

/// Java's `line.split(":\\s+")`: the parts between every `:` followed by whitespace, trailing
/// empty parts dropped.
fn split_kafka(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' {
            let ws = line[i + 1..]
                .char_indices()
                .take_while(|(_, c)| matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r'))
                .last()
                .map(|(j, c)| j + c.len_utf8());
            if let Some(n) = ws {
                parts.push(&line[start..i]);
                i += 1 + n;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    parts.push(&line[start..]);
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

fn parse(text: &str) -> std::result::Result<Uuid, String> {
    let mut lines = text.lines();
    let version_line = lines.next().ok_or("empty file")?;
    let [_, version] = split_kafka(version_line)[..] else {
        return Err(format!("malformed line {version_line:?}"));
    };
    let version: i32 = version
        .parse()
        .map_err(|_| format!("malformed line {version_line:?}"))?;
    if version < CURRENT_VERSION {
        return Err(format!("unrecognized version {version}"));
    }
    let id_line = lines.next().ok_or("missing the topic_id line")?;
    let [_, id] = split_kafka(id_line)[..] else {
        return Err(format!("malformed line {id_line:?}"));
    };
    let id = kafka_uuid::from_base64(id).ok_or_else(|| format!("invalid topic id {id:?}"))?;
    if id.is_nil() {
        return Err("invalid topic id: the all-zero id".into());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_kafkas_bytes_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = PartitionMetadataFile::new(dir.path());
        assert_eq!(file.read().unwrap(), None);
        let id = kafka_uuid::random();
        file.write(id).unwrap();
        let text = fs::read_to_string(dir.path().join(PARTITION_METADATA_FILE)).unwrap();
        assert_eq!(
            text,
            format!("version: 0\ntopic_id: {}", kafka_uuid::to_base64(id))
        );
        assert_eq!(file.read().unwrap(), Some(id));
        assert!(!dir.path().join("partition.metadata.tmp").exists());
        assert!(file.write(Uuid::nil()).is_err());
    }

    #[test]
    fn reads_what_kafkas_reader_accepts() {
        // A file Apache Kafka 4.3.1 wrote (bytes as on disk), a trailing newline, a newer
        // version, CRLF line ends, extra lines.
        for text in [
            "version: 0\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw",
            "version: 0\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw\n",
            "version: 1\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw\nsomething: new\n",
            "version:  0\r\ntopic_id:\tpdSyFBR9QHWwvUqnbCZsCw\r\n",
        ] {
            assert_eq!(
                parse(text).map(kafka_uuid::to_base64).as_deref(),
                Ok("pdSyFBR9QHWwvUqnbCZsCw"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_damaged_files_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = PartitionMetadataFile::new(dir.path());
        for text in [
            &b""[..],
            b"version: 0",
            b"version:0\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw",
            b"version: -1\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw",
            b"version: x\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw",
            b"version: 0\ntopic_id: pdSyFBR9QHWwvUqnbCZs",
            b"version: 0\ntopic_id: pdSyFBR9QHWwvUqnbCZsCw ",
            b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA",
            b"version: 0\ntopic_id: a: pdSyFBR9QHWwvUqnbCZsCw",
            b"\xff\xfe",
        ] {
            fs::write(file.path(), text).unwrap();
            match file.read() {
                Err(e @ StorageError::CorruptPartitionMetadata { .. }) => {
                    assert!(e.to_string().contains("partition.metadata"), "{e}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn splits_as_java_does() {
        assert_eq!(split_kafka("a: b"), vec!["a", "b"]);
        assert_eq!(split_kafka("a:b"), vec!["a:b"]);
        assert_eq!(split_kafka("a: "), vec!["a"]);
        assert_eq!(split_kafka(": b"), vec!["", "b"]);
        assert_eq!(split_kafka("a: b: c"), vec!["a", "b", "c"]);
    }
}
