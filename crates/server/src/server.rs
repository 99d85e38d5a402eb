//! Running a broker: bind, serve, and shut down gracefully.

use crate::broker::{Broker, StartError};
use crate::cluster::config::ProcessRoles;
use crate::config::BrokerConfig;
use crate::network::{self, BoundListener, ConnectionTracker, NetworkError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;

/// How long shutdown waits for connections to finish their in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Network(#[from] NetworkError),
}

/// A started broker: listeners bound, serving in background tasks.
pub struct RunningServer {
    pub broker: Arc<Broker>,
    pub addrs: Vec<(String, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    tracker: Arc<ConnectionTracker>,
    acceptors: Vec<tokio::task::JoinHandle<()>>,
    maintenance: tokio::task::JoinHandle<()>,
}

/// How long a cluster broker's shutdown waits for the controller to let it go.
pub const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// How often dirty logs are checked against flush.ms / flush.messages.
const FLUSH_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often recovery points and log start offsets are checkpointed (Kafka:
/// log.flush.offset.checkpoint.interval.ms, 60 s).
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);
/// How often expired producer ids are removed (Kafka:
/// producer.id.expiration.check.interval.ms, 10 minutes).
const PRODUCER_EXPIRATION_INTERVAL: Duration = Duration::from_secs(600);

/// Kafka's default log.retention.check.interval.ms (5 minutes).
const DEFAULT_RETENTION_CHECK_MS: u64 = 300_000;

/// Periodic log work: flush what flush.ms asks for, checkpoint recovery points, apply
/// retention (every log.retention.check.interval.ms) and remove `.deleted` segment files and
/// `-delete` partition dirs whose file.delete.delay.ms has passed (checked with the flush, every
/// second); expire committed offsets (every offsets.retention.check.interval.ms); abort
/// transactions past their timeout (every
/// transaction.abort.timed.out.transaction.cleanup.interval.ms).
async fn maintenance(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let retention_ms = broker
        .config
        .raw
        .get("log.retention.check.interval.ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms >= 1)
        .unwrap_or(DEFAULT_RETENTION_CHECK_MS);
    let mut retention = tokio::time::interval(Duration::from_millis(retention_ms));
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // log.cleaner.backoff.ms is dynamic: read again after every pass.
    let mut cleaner_due = tokio::time::Instant::now() + broker.cleaner_backoff();
    let mut flush = tokio::time::interval(FLUSH_CHECK_INTERVAL);
    let mut checkpoint = tokio::time::interval(CHECKPOINT_INTERVAL);
    let mut expire = tokio::time::interval(PRODUCER_EXPIRATION_INTERVAL);
    let mut offsets_expiry = tokio::time::interval(Duration::from_millis(
        broker.groups.config().offsets_retention_check_interval_ms as u64,
    ));
    offsets_expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut txn_timeouts = tokio::time::interval(Duration::from_millis(
        broker.txn.config().abort_interval_ms as u64,
    ));
    txn_timeouts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    expire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = network::stopped(&mut shutdown) => return,
            _ = flush.tick() => {
                let b = broker.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || {
                    b.logs.delete_due_files();
                    b.logs.delete_due_logs();
                    b.logs.flush_dirty_logs()
                }).await {
                    tracing::error!(error = %e, "flushing logs failed");
                }
            }
            _ = retention.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if b.logs.delete_old_segments() > 0 {
                        if let Err(e) = b.logs.checkpoint_log_start_offsets() {
                            tracing::error!(error = %e, "writing log start offsets failed");
                        }
                    }
                }).await;
            }
            _ = tokio::time::sleep_until(cleaner_due), if broker.cleaner.is_some() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.clean_logs()).await;
                cleaner_due = tokio::time::Instant::now() + broker.cleaner_backoff();
            }
            _ = expire.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.logs.remove_expired_producers(b.now_ms())).await;
            }
            _ = offsets_expiry.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    b.groups
                        .expire_offsets_with(|g| b.consumer_groups.live_subscriptions(g))
                }).await;
            }
            _ = txn_timeouts.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.txn.check_timeouts()).await;
            }
            _ = checkpoint.tick() => {
                let b = broker.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || b.logs.checkpoint()).await {
                    tracing::error!(error = %e, "writing log checkpoints failed");
                }
            }
        }
    }
}

impl RunningServer {
    /// Bind every listener, then open the data dirs and start serving. Binding comes first so
    /// that a listener that cannot be bound (a port in use) fails start-up before any file is
    /// touched; connections made meanwhile wait in the listen backlog until the broker is
    /// ready. A start that fails after the logs were opened releases them (LogManager's drop:
    /// no index left at its pre-allocated size).
    pub async fn start(config: BrokerConfig) -> Result<Self, ServerError> {
        let bound: Vec<BoundListener> = network::bind_all(&config.listeners).await?;
        let log_dirs: Vec<String> = config
            .log_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let advertised: Vec<String> = config
            .advertised
            .iter()
            .map(|e| format!("{}://{}:{}", e.listener, e.host, e.port))
            .collect();
        tracing::info!(
            log_dirs = %log_dirs.join(","),
            advertised_listeners = %advertised.join(","),
            "opening the log dirs"
        );
        let (shutdown, rx) = watch::channel(false);
        let broker = match crate::cluster::config::roles(&config)? {
            ProcessRoles::Combined => Broker::open(config)?,
            ProcessRoles::Broker(cluster) => {
                crate::cluster::start::open(config, cluster, rx.clone()).await?
            }
        };
        let tracker = Arc::new(ConnectionTracker::default());
        let mut addrs = Vec::new();
        let mut acceptors = Vec::new();
        for b in bound {
            if let Some(a) = b.local_addr() {
                addrs.push((b.listener.name.clone(), a));
            }
            acceptors.push(tokio::spawn(network::accept_loop(
                broker.clone(),
                b,
                tracker.clone(),
                rx.clone(),
            )));
        }
        let maintenance = tokio::spawn(maintenance(broker.clone(), rx.clone()));
        Ok(Self {
            broker,
            addrs,
            shutdown,
            tracker,
            acceptors,
            maintenance,
        })
    }

    /// The bound address of listener `name`.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    /// Stop accepting, let connections finish what they already read (bounded by
    /// [`SHUTDOWN_GRACE`]), then close.
    pub async fn shutdown(self) {
        if let Some(member) = self.broker.member() {
            // Kafka's controlled shutdown: still serving, the broker asks the controller to
            // move its leaderships away and waits (bounded) until it may stop.
            tracing::info!("controlled shutdown: asking the controller to move leaderships away");
            member
                .controlled_shutdown(CONTROLLED_SHUTDOWN_TIMEOUT)
                .await;
        }
        let _ = self.shutdown.send(true);
        // Long-polling fetches answer now instead of holding their connections open.
        self.broker.purgatory.shutdown();
        for a in self.acceptors {
            let _ = a.await;
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.drained())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.tracker.open(),
                "connections still open after the shutdown grace period"
            );
        }
        let _ = self.maintenance.await;
        let broker = self.broker.clone();
        match tokio::task::spawn_blocking(move || broker.shutdown()).await {
            Ok(Ok(())) => tracing::info!("shut down cleanly"),
            Ok(Err(e)) => tracing::error!(error = %e, "closing logs failed"),
            Err(e) => tracing::error!(error = %e, "closing logs panicked"),
        }
    }
}
