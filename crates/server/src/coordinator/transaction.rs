//! The transaction coordinator (Kafka's TransactionCoordinator and TransactionStateManager):
//! transactional ids, their producer ids and epochs, and the state of each one's transaction,
//! kept as records in the compacted internal topic `__transaction_state`
//! ([`super::txn_records`]) and rebuilt from it at start-up.
//!
//! State machine (as Kafka's TransactionState):
//!
//! ```text
//! Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn──▶ PrepareCommit ──markers──▶ CompleteCommit
//!   ▲                                   │                 PrepareAbort  ──markers──▶ CompleteAbort
//!   └──────── InitProducerId ◀──────────┴─ (timeout, or InitProducerId fencing: epoch bump + abort)
//! ```
//!
//! Invariants:
//! - Every transition is written to `__transaction_state` before it is visible and before the
//!   client is answered. While one is being written the transactional id is *pending*: other
//!   requests for it get CONCURRENT_TRANSACTIONS (Kafka's pendingState), and no lock is held
//!   across the write.
//! - EndTxn writes PrepareCommit/PrepareAbort, then a COMMIT/ABORT marker into every partition
//!   of the transaction (the group coordinator materializes or drops transactional offsets when
//!   its marker is written), then CompleteCommit/CompleteAbort. On this single node the markers
//!   are local appends, so the whole sequence runs before EndTxn is answered. A crash in between
//!   leaves a Prepare state in the log; loading finishes it (markers are written again, which
//!   ends nothing twice).
//! - Producer ids come from the broker's persisted [`ProducerIdManager`]; an epoch is bumped on
//!   every InitProducerId, and when it is exhausted the transactional id gets a new producer id.
//! - Both client transaction protocols (KIP-890), per transaction as the client's request
//!   versions say: version 1 (AddPartitionsToTxn / AddOffsetsToTxn before writing, one epoch
//!   for the producer's life) and version 2 (partitions added implicitly by Produce v12+ and
//!   TxnOffsetCommit v5+; every EndTxn v5+ bumps the epoch, markers carry the bumped epoch, and
//!   an exhausted epoch moves the id to a new producer id). `transaction.version` 2 is
//!   advertised as finalized, as on a new Kafka 4.3 cluster.

use super::group::{GroupCoordinator, OFFSETS_TOPIC};
use super::txn_records::{self, TxnLogValue, TxnPartitions, TxnState};
use super::{scan_log, LogEntry, Placement};
use crate::producer_ids::ProducerIdManager;
use sluice_protocol::error::KafkaError;
use sluice_storage::{LogManager, TopicPartition, TxnMarker};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const TRANSACTION_STATE_TOPIC: &str = crate::topics::TRANSACTION_STATE;

/// Kafka's RecordBatch.NO_PRODUCER_EPOCH.
const NO_EPOCH: i16 = -1;

#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// transaction.state.log.num.partitions (50).
    pub partitions: i32,
    /// transaction.max.timeout.ms (900000): InitProducerId with a longer timeout gets
    /// INVALID_TRANSACTION_TIMEOUT.
    pub max_timeout_ms: i32,
    /// transaction.abort.timed.out.transaction.cleanup.interval.ms (10000).
    pub abort_interval_ms: i64,
    /// transactional.id.expiration.ms (7 days): a transactional id without a transaction for this
    /// long is forgotten.
    pub id_expiration_ms: i64,
    /// transaction.partition.verification.enable (true): a transactional produce must be to a
    /// partition of the producer's ongoing transaction.
    pub verification: bool,
}

impl Default for TxnConfig {
    fn default() -> Self {
        Self {
            partitions: 50,
            max_timeout_ms: 900_000,
            abort_interval_ms: 10_000,
            id_expiration_ms: 604_800_000,
            verification: true,
        }
    }
}

/// Kafka's TransactionMetadata for one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub producer_id: i64,
    pub prev_producer_id: i64,
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump (a retried InitProducerId of that epoch gets the current
    /// one back); -1 after a fencing bump.
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: TxnPartitions,
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// The client's transaction version of the current (or last) transaction: 2 when it uses
    /// transactions v2 (KIP-890 part 2), else 0.
    pub client_tv: i16,
    /// A transition of this id is being written.
    pending: bool,
}

impl TxnMetadata {
    fn to_value(&self) -> TxnLogValue {
        TxnLogValue {
            producer_id: self.producer_id,
            previous_producer_id: self.prev_producer_id,
            next_producer_id: self.next_producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions: if self.state == TxnState::Empty {
                TxnPartitions::new()
            } else {
                self.partitions.clone()
            },
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
            client_transaction_version: self.client_tv,
        }
    }

    fn from_value(v: TxnLogValue) -> Self {
        Self {
            producer_id: v.producer_id,
            prev_producer_id: v.previous_producer_id,
            next_producer_id: v.next_producer_id,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: NO_EPOCH,
            timeout_ms: v.timeout_ms,
            state: v.state,
            partitions: v.partitions,
            start_ms: v.start_ms,
            last_update_ms: v.last_update_ms,
            client_tv: v.client_transaction_version,
            pending: false,
        }
    }

    fn epoch_exhausted(epoch: i16) -> bool {
        epoch >= i16::MAX - 1
    }

    fn contains(&self, topic: &str, partition: i32) -> bool {
        self.partitions
            .get(topic)
            .is_some_and(|ps| ps.contains(&partition))
    }
}

/// A transactional id as DescribeTransactions / ListTransactions show it.
#[derive(Debug, Clone)]
pub struct TxnDescription {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: TxnState,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub partitions: TxnPartitions,
}

pub struct TransactionCoordinator {
    txns: Mutex<HashMap<String, TxnMetadata>>,
    config: TxnConfig,
    logs: Arc<LogManager>,
    groups: Arc<GroupCoordinator>,
    producer_ids: Arc<ProducerIdManager>,
    clock: Arc<dyn sluice_storage::Time>,
}

impl TransactionCoordinator {
    pub fn new(
        config: TxnConfig,
        logs: Arc<LogManager>,
        groups: Arc<GroupCoordinator>,
        producer_ids: Arc<ProducerIdManager>,
        clock: Arc<dyn sluice_storage::Time>,
    ) -> Arc<Self> {
        Arc::new(Self {
            txns: Mutex::new(HashMap::new()),
            config,
            logs,
            groups,
            producer_ids,
            clock,
        })
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, TxnMetadata>> {
        self.txns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.milliseconds()
    }

    /// The `__transaction_state` partition of `transactional_id` (Kafka: the Java hash code of
    /// the id, made non-negative, modulo the partition count).
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        super::records::partition_for(transactional_id, self.config.partitions)
    }

    /// The coordinator epoch of `transactional_id`'s coordinator (Kafka's
    /// TransactionStateManager): the leader epoch of its `__transaction_state` partition. Its
    /// markers carry it; a partition refuses markers of an older coordinator epoch than the
    /// last it holds (a Kafka data directory's markers carry Kafka's epochs).
    fn coordinator_epoch(&self, transactional_id: &str) -> i32 {
        let tp = TopicPartition::new(
            TRANSACTION_STATE_TOPIC,
            self.partition_for(transactional_id),
        );
        self.logs.get_log(&tp).map_or(0, |l| l.leader_epoch())
    }

    // ------------------------------------------------------------------ persistence

    /// Write the state of `transactional_id` (`None`: a tombstone).
    fn write(&self, transactional_id: &str, m: Option<&TxnMetadata>) -> Result<(), KafkaError> {
        let tp = TopicPartition::new(
            TRANSACTION_STATE_TOPIC,
            self.partition_for(transactional_id),
        );
        let log = self
            .logs
            .get_log(&tp)
            .ok_or(KafkaError::CoordinatorNotAvailable)?;
        let key = txn_records::encode_key(transactional_id);
        let value = m.map(|m| m.to_value().encode());
        let mut batch = sluice_protocol::batch::encode_batch(
            &[(Some(key.as_slice()), value.as_deref())],
            self.now(),
        );
        let info = log.append_as_leader(&mut batch, log.leader_epoch()).map_err(|e| {
            tracing::error!(transactional_id, error = %e, "writing to __transaction_state failed");
            KafkaError::CoordinatorNotAvailable
        })?;
        if log.config().fsync_before_ack {
            log.sync_to(info.last_offset).map_err(|e| {
                tracing::error!(transactional_id, error = %e, "syncing __transaction_state failed");
                KafkaError::CoordinatorNotAvailable
            })?;
        }
        Ok(())
    }

    /// Mark `transactional_id` pending and hand out its current metadata, after `check`
    /// approves it; CONCURRENT_TRANSACTIONS while another transition is being written.
    fn begin(
        &self,
        transactional_id: &str,
        check: impl FnOnce(&TxnMetadata) -> Result<(), KafkaError>,
    ) -> Result<TxnMetadata, KafkaError> {
        let mut txns = self.lock();
        let m = txns
            .get_mut(transactional_id)
            .ok_or(KafkaError::InvalidProducerIdMapping)?;
        check(m)?;
        if m.pending {
            return Err(KafkaError::ConcurrentTransactions);
        }
        m.pending = true;
        Ok(m.clone())
    }

    /// Write `target` and make it the state of `transactional_id`; the id stops being pending
    /// either way (on failure it keeps its previous state).
    fn commit_transition(
        &self,
        transactional_id: &str,
        target: TxnMetadata,
    ) -> Result<TxnMetadata, KafkaError> {
        let written = self.write(transactional_id, Some(&target));
        let mut txns = self.lock();
        if let Some(m) = txns.get_mut(transactional_id) {
            if written.is_ok() {
                *m = target.clone();
            }
            m.pending = false;
        }
        written.map(|()| target)
    }

    /// Leave the pending state without a transition.
    fn release(&self, transactional_id: &str) {
        if let Some(m) = self.lock().get_mut(transactional_id) {
            m.pending = false;
        }
    }

    /// Rebuild every transactional id from `__transaction_state` (start-up), then finish the
    /// transactions a crash left between Prepare and Complete.
    pub fn load(&self) {
        let mut loaded = 0usize;
        let mut txns = HashMap::new();
        // Records an older Sluice wrote to another partition than Kafka's for their id.
        let mut placement = Placement::new(self.config.partitions);
        for log in self.logs.all_logs() {
            if log.topic_partition().topic != TRANSACTION_STATE_TOPIC {
                continue;
            }
            let partition = log.topic_partition().partition;
            scan_log(&log, |e| {
                let LogEntry::Record { key, value: v, .. } = e else {
                    return;
                };
                if !placement.admit(key, partition) {
                    return;
                }
                let Ok(id) = txn_records::decode_key(key) else {
                    return;
                };
                loaded += 1;
                match v.map(TxnLogValue::decode) {
                    Some(Ok(v)) => {
                        txns.insert(id, TxnMetadata::from_value(v));
                    }
                    Some(Err(e)) => {
                        tracing::warn!(transactional_id = id, error = %e, "skipping a __transaction_state record");
                    }
                    None => {
                        txns.remove(&id);
                    }
                }
            });
        }
        let unfinished: Vec<String> = txns
            .iter()
            .filter(|(_, m)| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|(id, _)| id.clone())
            .collect();
        let count = txns.len();
        *self.lock() = txns;
        for id in unfinished {
            self.finish_prepared(&id);
        }
        if loaded > 0 {
            tracing::info!(
                records = loaded,
                transactional_ids = count,
                "loaded transaction state"
            );
        }
    }

    // ------------------------------------------------------------------ InitProducerId

    /// InitProducerId with a transactional id (Kafka's handleInitProducerId): a new id gets a
    /// producer id with epoch 0; a known one gets its epoch bumped (a new producer id once the
    /// epoch is exhausted). An ongoing transaction is aborted first with a bumped epoch, which
    /// fences the previous producer, and the caller gets CONCURRENT_TRANSACTIONS so that it
    /// retries. `expected`: KIP-360's (producer id, epoch) of a producer recovering from an
    /// error, or None.
    pub fn init_producer_id(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), KafkaError> {
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(KafkaError::InvalidTransactionTimeout);
        }
        let now = self.now();
        let known = self.lock().contains_key(transactional_id);
        if !known {
            let producer_id = self.producer_ids.generate().map_err(|e| {
                tracing::warn!(error = %e, "cannot allocate a producer id");
                e.kafka_error()
            })?;
            self.lock()
                .entry(transactional_id.to_string())
                .or_insert(TxnMetadata {
                    producer_id,
                    prev_producer_id: -1,
                    next_producer_id: -1,
                    producer_epoch: NO_EPOCH,
                    last_producer_epoch: NO_EPOCH,
                    timeout_ms,
                    state: TxnState::Empty,
                    partitions: TxnPartitions::new(),
                    start_ms: -1,
                    last_update_ms: now,
                    client_tv: 0,
                    pending: false,
                });
        }
        let m = self.begin(transactional_id, |m| {
            let valid = expected.is_none_or(|(pid, epoch)| {
                m.producer_epoch == NO_EPOCH
                    || pid == m.producer_id
                    || (pid == m.prev_producer_id && TxnMetadata::epoch_exhausted(epoch))
            });
            if valid {
                Ok(())
            } else {
                Err(KafkaError::ProducerFenced)
            }
        })?;
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                self.release(transactional_id);
                Err(KafkaError::ConcurrentTransactions)
            }
            TxnState::Ongoing => {
                // Fence the current producer and abort its transaction; the client retries.
                let mut target = m.clone();
                if !TxnMetadata::epoch_exhausted(m.producer_epoch) {
                    target.producer_epoch = m.producer_epoch + 1;
                }
                target.last_producer_epoch = NO_EPOCH;
                target.state = TxnState::PrepareAbort;
                target.last_update_ms = now;
                self.end(transactional_id, target)?;
                Err(KafkaError::ConcurrentTransactions)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let mut target = m.clone();
                target.timeout_ms = timeout_ms;
                target.state = TxnState::Empty;
                target.partitions.clear();
                target.start_ms = -1;
                target.last_update_ms = now;
                if TxnMetadata::epoch_exhausted(m.producer_epoch)
                    && expected.is_none_or(|(_, e)| e == m.producer_epoch)
                {
                    let new_id = self.producer_ids.generate().map_err(|e| {
                        self.release(transactional_id);
                        tracing::warn!(error = %e, "cannot allocate a producer id");
                        e.kafka_error()
                    })?;
                    target.prev_producer_id = m.producer_id;
                    target.producer_id = new_id;
                    target.producer_epoch = 0;
                    target.last_producer_epoch = if expected.is_some() {
                        m.producer_epoch
                    } else {
                        NO_EPOCH
                    };
                } else {
                    match expected.map(|(_, e)| e) {
                        None => {
                            target.producer_epoch = m.producer_epoch + 1;
                            target.last_producer_epoch = NO_EPOCH;
                        }
                        Some(e) if m.producer_epoch == NO_EPOCH || e == m.producer_epoch => {
                            target.producer_epoch = m.producer_epoch + 1;
                            target.last_producer_epoch = m.producer_epoch;
                        }
                        Some(e) if e == m.last_producer_epoch => {
                            // A retry of a bump that succeeded: the current epoch again.
                        }
                        Some(_) => {
                            self.release(transactional_id);
                            return Err(KafkaError::ProducerFenced);
                        }
                    }
                }
                let t = self.commit_transition(transactional_id, target)?;
                Ok((t.producer_id, t.producer_epoch))
            }
            TxnState::Dead | TxnState::PrepareEpochFence => {
                self.release(transactional_id);
                tracing::error!(
                    transactional_id,
                    state = m.state.name(),
                    "transactional id in a state it should never rest in"
                );
                Err(KafkaError::UnknownServerError)
            }
        }
    }

    // ------------------------------------------------------------------ AddPartitionsToTxn

    /// Check the producer of a request against the transactional id (Kafka's order):
    /// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, then CONCURRENT_TRANSACTIONS while a
    /// transition is pending or the transaction is completing.
    fn check_producer(m: &TxnMetadata, producer_id: i64, epoch: i16) -> Result<(), KafkaError> {
        if m.producer_id != producer_id {
            return Err(KafkaError::InvalidProducerIdMapping);
        }
        if m.producer_epoch != epoch {
            return Err(KafkaError::ProducerFenced);
        }
        if m.pending || matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Err(KafkaError::ConcurrentTransactions);
        }
        Ok(())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn, and the implicit adds of transactions v2 (Produce
    /// v12+, TxnOffsetCommit v5+; `client_tv` 2): add `partitions` to the producer's
    /// transaction, starting it if none is ongoing.
    pub fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        client_tv: i16,
    ) -> Result<(), KafkaError> {
        let m = {
            let mut txns = self.lock();
            let m = txns
                .get_mut(transactional_id)
                .ok_or(KafkaError::InvalidProducerIdMapping)?;
            Self::check_producer(m, producer_id, epoch)?;
            if m.state == TxnState::Ongoing && partitions.iter().all(|(t, p)| m.contains(t, *p)) {
                return Ok(());
            }
            if matches!(m.state, TxnState::Dead | TxnState::PrepareEpochFence) {
                return Err(KafkaError::InvalidTxnState);
            }
            m.pending = true;
            m.clone()
        };
        let now = self.now();
        let mut target = m.clone();
        if m.state != TxnState::Ongoing {
            target.start_ms = now;
            target.partitions.clear();
        }
        target.state = TxnState::Ongoing;
        target.last_update_ms = now;
        target.client_tv = client_tv;
        for (t, p) in partitions {
            target.partitions.entry(t.clone()).or_default().insert(*p);
        }
        self.commit_transition(transactional_id, target).map(|_| ())
    }

    /// KIP-890 part 1 (AddPartitionsToTxn v4+ verify_only, and the check a transactional
    /// Produce makes): is this partition in the producer's ongoing transaction? As Kafka's
    /// handleVerifyPartitionsInTransaction: the producer checks first, then
    /// TRANSACTION_ABORTABLE for a partition that is not in the transaction.
    pub fn verify_partition(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), KafkaError> {
        let txns = self.lock();
        let m = txns
            .get(transactional_id)
            .ok_or(KafkaError::InvalidProducerIdMapping)?;
        Self::check_producer(m, producer_id, epoch)?;
        if m.state == TxnState::Ongoing && m.contains(topic, partition) {
            Ok(())
        } else {
            Err(KafkaError::TransactionAbortable)
        }
    }

    // ------------------------------------------------------------------ EndTxn

    /// EndTxn (Kafka's handleEndTransaction). With `client_tv` 2 (EndTxn v5+, transactions v2)
    /// every completion bumps the epoch, which is returned for the next transaction; a retry
    /// carries the epoch from before the bump; an abort with nothing to abort still bumps the
    /// epoch. Returns the producer id and epoch to use next.
    pub fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        client_tv: i16,
    ) -> Result<(i64, i16), KafkaError> {
        let tv2 = client_tv >= 2;
        let now = self.now();
        let m = {
            let mut txns = self.lock();
            let m = txns
                .get_mut(transactional_id)
                .ok_or(KafkaError::InvalidProducerIdMapping)?;
            let retry_overflow = tv2
                && m.prev_producer_id == producer_id
                && epoch == i16::MAX - 1
                && m.producer_epoch == 0;
            let retry_bump = tv2 && i32::from(m.producer_epoch) == i32::from(epoch) + 1;
            if m.producer_id != producer_id && !retry_overflow {
                return Err(KafkaError::InvalidProducerIdMapping);
            }
            let valid_epoch = if tv2 {
                match m.state {
                    TxnState::PrepareCommit | TxnState::PrepareAbort => retry_bump,
                    TxnState::CompleteCommit | TxnState::CompleteAbort => {
                        retry_bump || retry_overflow || epoch == m.producer_epoch
                    }
                    _ => epoch == m.producer_epoch,
                }
            } else {
                epoch == m.producer_epoch
            };
            if !valid_epoch {
                return Err(KafkaError::ProducerFenced);
            }
            if m.pending {
                return Err(KafkaError::ConcurrentTransactions);
            }
            let is_retry = retry_bump || retry_overflow;
            let done = (m.producer_id, m.producer_epoch);
            let mut empty_abort = false;
            match (m.state, commit) {
                (TxnState::Ongoing, _) => {}
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false)
                    if !tv2 || is_retry =>
                {
                    return Ok(done)
                }
                (TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Empty, false)
                    if tv2 && !is_retry =>
                {
                    // Transactions v2: a client aborts to bump its epoch even when nothing was
                    // written (Kafka's noPartitionAdded).
                    empty_abort = true;
                }
                (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                    return Err(KafkaError::ConcurrentTransactions)
                }
                _ => return Err(KafkaError::InvalidTxnState),
            }
            m.pending = true;
            let mut current = m.clone();
            if empty_abort {
                current.partitions.clear();
                current.start_ms = now;
            }
            current
        };
        let mut target = m.clone();
        target.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        target.last_update_ms = now;
        if tv2 {
            target.client_tv = client_tv;
            if TxnMetadata::epoch_exhausted(m.producer_epoch) {
                match self.producer_ids.generate() {
                    Ok(id) => target.next_producer_id = id,
                    Err(e) => {
                        self.release(transactional_id);
                        tracing::warn!(error = %e, "cannot allocate a producer id");
                        return Err(e.kafka_error());
                    }
                }
            }
            target.producer_epoch = m.producer_epoch.saturating_add(1);
            target.last_producer_epoch = m.producer_epoch;
        }
        let done = self.end(transactional_id, target)?;
        Ok((done.producer_id, done.producer_epoch))
    }

    /// From a pending id: write `prepared` (PrepareCommit / PrepareAbort), the markers, and the
    /// Complete state.
    fn end(
        &self,
        transactional_id: &str,
        prepared: TxnMetadata,
    ) -> Result<TxnMetadata, KafkaError> {
        let written = self.write(transactional_id, Some(&prepared));
        {
            let mut txns = self.lock();
            if let Some(m) = txns.get_mut(transactional_id) {
                if written.is_err() {
                    m.pending = false;
                } else {
                    *m = prepared.clone();
                    m.pending = true;
                }
            }
        }
        written?;
        Ok(self.complete(transactional_id, prepared))
    }

    /// Write the markers of a prepared transaction and its Complete state (the id is pending).
    /// If the Complete state cannot be written the id stays prepared; the periodic check and
    /// the next start-up finish it.
    fn complete(&self, transactional_id: &str, prepared: TxnMetadata) -> TxnMetadata {
        let commit = prepared.state == TxnState::PrepareCommit;
        self.write_markers(
            self.coordinator_epoch(transactional_id),
            prepared.producer_id,
            prepared.producer_epoch,
            commit,
            &prepared.partitions,
            prepared.client_tv,
        );
        let mut target = prepared.clone();
        target.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        target.partitions.clear();
        target.last_update_ms = self.now();
        if prepared.next_producer_id >= 0 {
            // Transactions v2 with an exhausted epoch: the id continues with a new producer id
            // (the client sees epoch MAX-1, then the new id at epoch 0).
            target.prev_producer_id = prepared.producer_id;
            target.producer_id = prepared.next_producer_id;
            target.next_producer_id = -1;
            target.producer_epoch = 0;
            target.last_producer_epoch = NO_EPOCH;
        }
        match self.commit_transition(transactional_id, target) {
            Ok(t) => t,
            Err(_) => prepared,
        }
    }

    /// Finish a prepared transaction found at load or by the periodic check.
    fn finish_prepared(&self, transactional_id: &str) {
        let prepared = {
            let mut txns = self.lock();
            let Some(m) = txns.get_mut(transactional_id) else {
                return;
            };
            if m.pending || !matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
                return;
            }
            m.pending = true;
            m.clone()
        };
        self.complete(transactional_id, prepared);
    }

    /// Append a COMMIT or ABORT marker, stamped with the coordinator epoch, to every partition
    /// of a transaction (Kafka's TransactionMarkerChannelManager, local here). A partition whose topic was deleted is
    /// skipped, as Kafka drops markers for unknown partitions.
    fn write_markers(
        &self,
        coordinator_epoch: i32,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        partitions: &TxnPartitions,
        client_tv: i16,
    ) {
        let marker = TxnMarker {
            producer_id,
            producer_epoch: epoch,
            coordinator_epoch,
            commit,
            transaction_version: client_tv,
        };
        for (topic, parts) in partitions {
            for p in parts {
                let tp = TopicPartition::new(topic.clone(), *p);
                let Some(log) = self.logs.get_log(&tp) else {
                    tracing::warn!(%tp, producer_id, "no log for a transaction marker; skipped");
                    continue;
                };
                match log.append_control_marker(&marker, log.leader_epoch()) {
                    Ok(info) => {
                        if log.config().fsync_before_ack {
                            if let Err(e) = log.sync_to(info.last_offset) {
                                tracing::error!(%tp, error = %e, "syncing a transaction marker failed");
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(%tp, producer_id, error = %e, "writing a transaction marker failed");
                        continue;
                    }
                }
                if topic == OFFSETS_TOPIC {
                    self.groups.complete_txn(*p, producer_id, commit);
                }
            }
        }
    }

    // ------------------------------------------------------------------ timers

    /// Abort every transaction that has run longer than its timeout, fencing its producer with
    /// an epoch bump (Kafka's abortTimedOutTransactions), finish prepared ones left behind, and
    /// forget transactional ids idle for transactional.id.expiration.ms. Returns how many
    /// transactions were aborted.
    pub fn check_timeouts(&self) -> usize {
        let now = self.now();
        let (expired, prepared, idle): (Vec<String>, Vec<String>, Vec<String>) = {
            let txns = self.lock();
            let mut e = Vec::new();
            let mut p = Vec::new();
            let mut i = Vec::new();
            for (id, m) in txns.iter().filter(|(_, m)| !m.pending) {
                match m.state {
                    TxnState::Ongoing if m.start_ms + i64::from(m.timeout_ms) < now => {
                        e.push(id.clone())
                    }
                    TxnState::PrepareCommit | TxnState::PrepareAbort => p.push(id.clone()),
                    TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                        if m.last_update_ms + self.config.id_expiration_ms < now =>
                    {
                        i.push(id.clone())
                    }
                    _ => {}
                }
            }
            (e, p, i)
        };
        let mut aborted = 0;
        for id in expired {
            let Ok(m) = self.begin(&id, |m| {
                if m.state == TxnState::Ongoing {
                    Ok(())
                } else {
                    Err(KafkaError::InvalidTxnState)
                }
            }) else {
                continue;
            };
            tracing::info!(
                transactional_id = id,
                producer_id = m.producer_id,
                "aborting a transaction that timed out"
            );
            let mut target = m.clone();
            if !TxnMetadata::epoch_exhausted(m.producer_epoch) {
                target.producer_epoch = m.producer_epoch + 1;
            }
            target.last_producer_epoch = NO_EPOCH;
            target.state = TxnState::PrepareAbort;
            target.last_update_ms = now;
            if self.end(&id, target).is_ok() {
                aborted += 1;
            }
        }
        for id in prepared {
            self.finish_prepared(&id);
        }
        for id in idle {
            self.expire_id(&id, now);
        }
        aborted
    }

    fn expire_id(&self, transactional_id: &str, now: i64) {
        let Ok(m) = self.begin(transactional_id, |m| {
            let idle = matches!(
                m.state,
                TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
            ) && m.last_update_ms + self.config.id_expiration_ms < now;
            if idle {
                Ok(())
            } else {
                Err(KafkaError::InvalidTxnState)
            }
        }) else {
            return;
        };
        match self.write(transactional_id, None) {
            Ok(()) => {
                tracing::info!(
                    transactional_id,
                    producer_id = m.producer_id,
                    "transactional id expired"
                );
                self.lock().remove(transactional_id);
            }
            Err(_) => self.release(transactional_id),
        }
    }

    // ------------------------------------------------------------------ admin

    pub fn describe(&self, transactional_id: &str) -> Option<TxnDescription> {
        self.lock().get(transactional_id).map(|m| TxnDescription {
            transactional_id: transactional_id.to_string(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            state: m.state,
            timeout_ms: m.timeout_ms,
            start_ms: m.start_ms,
            partitions: m.partitions.clone(),
        })
    }

    /// Every transactional id (ListTransactions), sorted by id.
    pub fn list(&self) -> Vec<TxnDescription> {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        let mut out: Vec<TxnDescription> = ids.iter().filter_map(|id| self.describe(id)).collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::group::GroupConfig;
    use sluice_protocol::batch::{encode_batch_with, TRANSACTIONAL_BIT};
    use sluice_storage::{LogConfig, MockTime};

    const TXN_PARTS: i32 = 3;
    const OFFSETS_PARTS: i32 = 2;

    struct Fixture {
        txn: Arc<TransactionCoordinator>,
        groups: Arc<GroupCoordinator>,
        logs: Arc<LogManager>,
    }

    fn open(dir: &std::path::Path, clock: Arc<MockTime>) -> Fixture {
        open_with(dir, clock, LogConfig::default())
    }

    fn open_with(dir: &std::path::Path, clock: Arc<MockTime>, config: LogConfig) -> Fixture {
        let logs =
            Arc::new(LogManager::open(vec![dir.to_path_buf()], config, clock.clone()).unwrap());
        for p in 0..TXN_PARTS {
            logs.get_or_create_log(
                &TopicPartition::new(TRANSACTION_STATE_TOPIC, p),
                crate::kafka_uuid::test_topic_id(TRANSACTION_STATE_TOPIC),
                None,
            )
            .unwrap();
        }
        for p in 0..OFFSETS_PARTS {
            logs.get_or_create_log(
                &TopicPartition::new(OFFSETS_TOPIC, p),
                crate::kafka_uuid::test_topic_id(OFFSETS_TOPIC),
                None,
            )
            .unwrap();
        }
        for p in 0..2 {
            logs.get_or_create_log(
                &TopicPartition::new("t", p),
                crate::kafka_uuid::test_topic_id("t"),
                None,
            )
            .unwrap();
        }
        let groups = GroupCoordinator::new(
            GroupConfig {
                offsets_partitions: OFFSETS_PARTS,
                ..GroupConfig::default()
            },
            logs.clone(),
            clock.clone(),
        );
        groups.load();
        let ids = Arc::new(ProducerIdManager::new(Arc::new(
            crate::producer_ids::CountingProducerIds::default(),
        )));
        let txn = TransactionCoordinator::new(
            TxnConfig {
                partitions: TXN_PARTS,
                max_timeout_ms: 60_000,
                id_expiration_ms: 3_600_000,
                ..TxnConfig::default()
            },
            logs.clone(),
            groups.clone(),
            ids,
            clock.clone(),
        );
        txn.load();
        Fixture { txn, groups, logs }
    }

    fn log(f: &Fixture, topic: &str, p: i32) -> Arc<sluice_storage::PartitionLog> {
        f.logs.get_log(&TopicPartition::new(topic, p)).unwrap()
    }

    /// A transactional batch of the producer into t-`p`, as a client sends it.
    fn produce(f: &Fixture, p: i32, pid: i64, epoch: i16, seq: i32) {
        let mut b = encode_batch_with(
            &[(Some(b"k".as_slice()), Some(b"v".as_slice()))],
            1,
            TRANSACTIONAL_BIT,
            pid,
            epoch,
            seq,
        );
        log(f, "t", p).append_as_leader(&mut b, 0).unwrap();
    }

    fn parts(ps: &[i32]) -> Vec<(String, i32)> {
        ps.iter().map(|p| ("t".to_string(), *p)).collect()
    }

    #[test]
    fn commit_writes_markers_and_moves_the_last_stable_offset() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        assert_eq!(epoch, 0);
        f.txn
            .add_partitions("a", pid, epoch, &parts(&[0, 1]), 0)
            .unwrap();
        assert_eq!(f.txn.verify_partition("a", pid, epoch, "t", 0), Ok(()));
        produce(&f, 0, pid, epoch, 0);
        assert_eq!(log(&f, "t", 0).last_stable_offset(), 0);
        assert_eq!(f.txn.end_txn("a", pid, epoch, true, 0), Ok((pid, epoch)));
        // Data at 0, COMMIT marker at 1 in t-0; only a marker in t-1.
        assert_eq!(log(&f, "t", 0).log_end_offset(), 2);
        assert_eq!(log(&f, "t", 0).last_stable_offset(), 2);
        assert_eq!(log(&f, "t", 1).log_end_offset(), 1);
        let desc = f.txn.describe("a").unwrap();
        assert_eq!(desc.state, TxnState::CompleteCommit);
        // A retried EndTxn succeeds; the other outcome is INVALID_TXN_STATE.
        assert_eq!(f.txn.end_txn("a", pid, epoch, true, 0), Ok((pid, epoch)));
        assert_eq!(
            f.txn.end_txn("a", pid, epoch, false, 0),
            Err(KafkaError::InvalidTxnState)
        );
        // A partition outside the (now finished) transaction fails verification.
        assert_eq!(
            f.txn.verify_partition("a", pid, epoch, "t", 0),
            Err(KafkaError::TransactionAbortable)
        );
    }

    #[test]
    fn producer_checks_come_in_kafkas_order() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        assert_eq!(
            f.txn.init_producer_id("a", 60_001, None),
            Err(KafkaError::InvalidTransactionTimeout)
        );
        let (pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        let p = parts(&[0]);
        assert_eq!(
            f.txn.add_partitions("nobody", pid, epoch, &p, 0),
            Err(KafkaError::InvalidProducerIdMapping)
        );
        assert_eq!(
            f.txn.add_partitions("a", pid + 1, epoch, &p, 0),
            Err(KafkaError::InvalidProducerIdMapping)
        );
        assert_eq!(
            f.txn.add_partitions("a", pid, epoch + 1, &p, 0),
            Err(KafkaError::ProducerFenced)
        );
        assert_eq!(
            f.txn.end_txn("a", pid, epoch, true, 0),
            Err(KafkaError::InvalidTxnState)
        );
    }

    #[test]
    fn init_on_an_open_transaction_fences_and_aborts_it() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, e0) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        f.txn.add_partitions("a", pid, e0, &parts(&[0]), 0).unwrap();
        produce(&f, 0, pid, e0, 0);
        assert_eq!(
            f.txn.init_producer_id("a", 10_000, None),
            Err(KafkaError::ConcurrentTransactions)
        );
        // Aborted with epoch e0 + 1: the ABORT marker is in, the transaction is over.
        let t0 = log(&f, "t", 0);
        assert_eq!(t0.log_end_offset(), 2);
        assert_eq!(t0.last_stable_offset(), 2);
        assert_eq!(f.txn.describe("a").unwrap().state, TxnState::CompleteAbort);
        // The retry gets another bump; the old producer is fenced everywhere.
        assert_eq!(f.txn.init_producer_id("a", 10_000, None), Ok((pid, e0 + 2)));
        assert_eq!(
            f.txn.end_txn("a", pid, e0, true, 0),
            Err(KafkaError::ProducerFenced)
        );
        assert_eq!(
            f.txn.verify_partition("a", pid, e0, "t", 0),
            Err(KafkaError::ProducerFenced)
        );
    }

    #[test]
    fn kip360_epoch_bump_and_retry() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, e0) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        // A producer recovering from an error asks with its id and epoch: bumped.
        assert_eq!(
            f.txn.init_producer_id("a", 10_000, Some((pid, e0))),
            Ok((pid, e0 + 1))
        );
        // The same request again (lost response): the current epoch, no second bump.
        assert_eq!(
            f.txn.init_producer_id("a", 10_000, Some((pid, e0))),
            Ok((pid, e0 + 1))
        );
        // Another producer id is fenced.
        assert_eq!(
            f.txn.init_producer_id("a", 10_000, Some((pid + 7, 0))),
            Err(KafkaError::ProducerFenced)
        );
    }

    #[test]
    fn exhausted_epoch_rotates_the_producer_id() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, _) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        f.txn.lock().get_mut("a").unwrap().producer_epoch = i16::MAX - 1;
        let (new_pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        assert_ne!(new_pid, pid);
        assert_eq!(epoch, 0);
        assert_eq!(f.txn.lock()["a"].prev_producer_id, pid);
    }

    #[test]
    fn timed_out_transactions_are_aborted_with_a_fencing_bump() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000));
        let f = open(d.path(), clock.clone());
        let (pid, e0) = f.txn.init_producer_id("a", 5_000, None).unwrap();
        f.txn.add_partitions("a", pid, e0, &parts(&[0]), 0).unwrap();
        produce(&f, 0, pid, e0, 0);
        clock.sleep(4_000);
        assert_eq!(f.txn.check_timeouts(), 0);
        clock.sleep(2_000);
        assert_eq!(f.txn.check_timeouts(), 1);
        let desc = f.txn.describe("a").unwrap();
        assert_eq!(desc.state, TxnState::CompleteAbort);
        assert_eq!(desc.producer_epoch, e0 + 1);
        assert_eq!(log(&f, "t", 0).last_stable_offset(), 2);
        // The producer, still on e0, is fenced.
        assert_eq!(
            f.txn.end_txn("a", pid, e0, true, 0),
            Err(KafkaError::ProducerFenced)
        );
    }

    #[test]
    fn idle_transactional_ids_expire() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000));
        let f = open(d.path(), clock.clone());
        f.txn.init_producer_id("a", 5_000, None).unwrap();
        clock.sleep(3_600_001);
        f.txn.check_timeouts();
        assert!(f.txn.describe("a").is_none());
        // The tombstone is replayed too.
        drop(f);
        let f = open(d.path(), clock);
        assert!(f.txn.describe("a").is_none());
    }

    #[test]
    fn transactional_offsets_are_visible_only_after_commit() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        let op = f.groups.partition_for("g");
        f.txn
            .add_partitions("a", pid, epoch, &[(OFFSETS_TOPIC.to_string(), op)], 0)
            .unwrap();
        let offsets = vec![("t".to_string(), 0, 42i64, -1, String::new())];
        let r = f
            .groups
            .txn_commit_offsets("g", pid, epoch, "", -1, None, offsets.clone());
        assert_eq!(r, vec![None]);
        assert!(f.groups.has_pending_txn_offset("g", "t", 0));
        assert!(f.groups.fetch_offsets("g", None).is_empty());
        f.txn.end_txn("a", pid, epoch, false, 0).unwrap();
        assert!(!f.groups.has_pending_txn_offset("g", "t", 0));
        assert!(f.groups.fetch_offsets("g", None).is_empty());
        // A second transaction commits them.
        f.txn
            .add_partitions("a", pid, epoch, &[(OFFSETS_TOPIC.to_string(), op)], 0)
            .unwrap();
        f.groups
            .txn_commit_offsets("g", pid, epoch, "", -1, None, offsets);
        f.txn.end_txn("a", pid, epoch, true, 0).unwrap();
        let got = f.groups.fetch_offsets("g", None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2.as_ref().map(|c| c.offset), Some(42));
    }

    #[test]
    fn state_and_pending_offsets_are_replayed_after_restart() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000));
        let (pid, epoch) = {
            let f = open(d.path(), clock.clone());
            let (pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
            let op = f.groups.partition_for("g");
            f.txn
                .add_partitions(
                    "a",
                    pid,
                    epoch,
                    &[("t".to_string(), 0), (OFFSETS_TOPIC.to_string(), op)],
                    0,
                )
                .unwrap();
            produce(&f, 0, pid, epoch, 0);
            f.groups.txn_commit_offsets(
                "g",
                pid,
                epoch,
                "",
                -1,
                None,
                vec![("t".to_string(), 0, 1, -1, String::new())],
            );
            f.logs.shutdown().unwrap();
            (pid, epoch)
        };
        let f = open(d.path(), clock);
        let desc = f.txn.describe("a").unwrap();
        assert_eq!(desc.state, TxnState::Ongoing);
        assert_eq!((desc.producer_id, desc.producer_epoch), (pid, epoch));
        assert!(f.groups.has_pending_txn_offset("g", "t", 0));
        f.txn.end_txn("a", pid, epoch, true, 0).unwrap();
        assert_eq!(
            f.groups.fetch_offsets("g", None)[0]
                .2
                .as_ref()
                .map(|c| c.offset),
            Some(1)
        );
        // (Producer ids continuing across restarts are the controller's: broker tests.)
    }

    /// `__transaction_state` and `__consumer_offsets` compacted as they are created, cleaned
    /// (superseded states, expired ids' tombstones, committed and aborted transactional
    /// offsets with their markers): the replay at start-up rebuilds the same state.
    #[test]
    fn state_is_replayed_the_same_from_cleaned_internal_topics() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000));
        let compact = LogConfig {
            cleanup_policy_compact: true,
            cleanup_policy_delete: false,
            delete_retention_ms: 0,
            min_cleanable_dirty_ratio: 0.01,
            ..LogConfig::default()
        };
        let f = open_with(d.path(), clock.clone(), compact.clone());
        // "b" expires: its state records are followed by a tombstone.
        f.txn.init_producer_id("b", 5_000, None).unwrap();
        clock.sleep(3_600_001);
        f.txn.check_timeouts();
        let (pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        let op = f.groups.partition_for("g");
        let cleaner = sluice_storage::LogCleaner::new(sluice_storage::CleanerConfig::default());
        let mut removed = 0;
        for round in 0..4i64 {
            f.txn
                .add_partitions(
                    "a",
                    pid,
                    epoch,
                    &[("t".to_string(), 0), (OFFSETS_TOPIC.to_string(), op)],
                    0,
                )
                .unwrap();
            produce(&f, 0, pid, epoch, round as i32);
            let offsets = vec![("t".to_string(), 0, 10 + round, -1, String::new())];
            f.groups
                .txn_commit_offsets("g", pid, epoch, "", -1, None, offsets);
            // Odd rounds abort.
            f.txn.end_txn("a", pid, epoch, round % 2 == 0, 0).unwrap();
            for l in f.logs.all_logs() {
                l.roll_now().unwrap();
            }
            removed += cleaner
                .clean_once(&f.logs)
                .cleaned
                .iter()
                .map(|(_, s)| s.records_removed)
                .sum::<u64>();
        }
        assert!(removed > 0);
        let a = f.txn.describe("a").unwrap();
        assert!(f.txn.describe("b").is_none());
        let offsets = f.groups.fetch_offsets("g", None);
        assert_eq!(offsets[0].2.as_ref().map(|c| c.offset), Some(12));
        f.logs.shutdown().unwrap();
        drop(f);
        let f = open_with(d.path(), clock, compact);
        let again = f.txn.describe("a").unwrap();
        assert_eq!(
            (again.state, again.producer_id, again.producer_epoch),
            (a.state, a.producer_id, a.producer_epoch)
        );
        assert!(f.txn.describe("b").is_none());
        assert_eq!(f.groups.fetch_offsets("g", None), offsets);
        assert!(!f.groups.has_pending_txn_offset("g", "t", 0));
    }

    #[test]
    fn transactions_v2_bump_the_epoch_on_every_end() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, e0) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        // Produce v12 adds the partition implicitly.
        f.txn.add_partitions("a", pid, e0, &parts(&[0]), 2).unwrap();
        produce(&f, 0, pid, e0, 0);
        assert_eq!(f.txn.end_txn("a", pid, e0, true, 2), Ok((pid, e0 + 1)));
        // The marker carries the bumped epoch; the next transaction starts at sequence 0.
        let t0 = log(&f, "t", 0);
        assert_eq!(t0.last_stable_offset(), 2);
        assert_eq!(f.txn.describe("a").unwrap().producer_epoch, e0 + 1);
        // A retry with the old epoch gets the current one; the other outcome is refused.
        assert_eq!(f.txn.end_txn("a", pid, e0, true, 2), Ok((pid, e0 + 1)));
        assert_eq!(
            f.txn.end_txn("a", pid, e0, false, 2),
            Err(KafkaError::InvalidTxnState)
        );
        // Anything older is fenced.
        assert_eq!(
            f.txn.add_partitions("a", pid, e0, &parts(&[0]), 2),
            Err(KafkaError::ProducerFenced)
        );
        f.txn
            .add_partitions("a", pid, e0 + 1, &parts(&[0]), 2)
            .unwrap();
        produce(&f, 0, pid, e0 + 1, 0);
        assert_eq!(f.txn.end_txn("a", pid, e0 + 1, false, 2), Ok((pid, e0 + 2)));
        assert_eq!(t0.log_end_offset(), 4);
        assert_eq!(t0.last_stable_offset(), 4);
        // An abort with nothing written still bumps the epoch (no markers).
        assert_eq!(f.txn.end_txn("a", pid, e0 + 2, false, 2), Ok((pid, e0 + 3)));
        assert_eq!(t0.log_end_offset(), 4);
        // A commit of nothing is not a transaction.
        assert_eq!(
            f.txn.end_txn("a", pid, e0 + 3, true, 2),
            Err(KafkaError::InvalidTxnState)
        );
    }

    #[test]
    fn transactions_v2_move_to_a_new_producer_id_when_the_epoch_runs_out() {
        let d = tempfile::tempdir().unwrap();
        let f = open(d.path(), Arc::new(MockTime::new(1_000)));
        let (pid, _) = f.txn.init_producer_id("a", 10_000, None).unwrap();
        let last = i16::MAX - 1;
        f.txn.lock().get_mut("a").unwrap().producer_epoch = last;
        f.txn
            .add_partitions("a", pid, last, &parts(&[1]), 2)
            .unwrap();
        produce(&f, 1, pid, last, 0);
        let (next, epoch) = f.txn.end_txn("a", pid, last, true, 2).unwrap();
        assert_ne!(next, pid);
        assert_eq!(epoch, 0);
        assert_eq!(log(&f, "t", 1).last_stable_offset(), 2);
        // A retry of that EndTxn from the old producer id is recognized.
        assert_eq!(f.txn.end_txn("a", pid, last, true, 2), Ok((next, 0)));
        // The state survives a restart.
        f.logs.shutdown().unwrap();
        drop(f);
        let f = open(d.path(), Arc::new(MockTime::new(2_000)));
        let desc = f.txn.describe("a").unwrap();
        assert_eq!((desc.producer_id, desc.producer_epoch), (next, 0));
        assert_eq!(f.txn.lock()["a"].prev_producer_id, pid);
        assert_eq!(f.txn.lock()["a"].client_tv, 2);
    }

    #[test]
    fn a_prepared_transaction_is_finished_at_load() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000));
        let pid = {
            let f = open(d.path(), clock.clone());
            let (pid, epoch) = f.txn.init_producer_id("a", 10_000, None).unwrap();
            f.txn
                .add_partitions("a", pid, epoch, &parts(&[0]), 0)
                .unwrap();
            produce(&f, 0, pid, epoch, 0);
            // A crash after PrepareCommit was written, before any marker.
            let mut prepared = f.txn.lock()["a"].clone();
            prepared.state = TxnState::PrepareCommit;
            f.txn.write("a", Some(&prepared)).unwrap();
            f.logs.shutdown().unwrap();
            pid
        };
        let f = open(d.path(), clock);
        let desc = f.txn.describe("a").unwrap();
        assert_eq!(desc.state, TxnState::CompleteCommit);
        assert_eq!(desc.producer_id, pid);
        let t0 = log(&f, "t", 0);
        assert_eq!(t0.log_end_offset(), 2);
        assert_eq!(t0.last_stable_offset(), 2);
    }
}
