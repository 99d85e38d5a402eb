//! Running a broker: bind, serve, and shut down gracefully.

use crate::broker::{Broker, StartError};
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

/// How often dirty logs are checked against flush.ms / flush.messages.
const FLUSH_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often recovery points and log start offsets are checkpointed (Kafka:
/// log.flush.offset.checkpoint.interval.ms, 60 s).
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// Periodic log work: flush what flush.ms asks for, checkpoint recovery points.
async fn maintenance(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut flush = tokio::time::interval(FLUSH_CHECK_INTERVAL);
    let mut checkpoint = tokio::time::interval(CHECKPOINT_INTERVAL);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = network::stopped(&mut shutdown) => return,
            _ = flush.tick() => {
                let b = broker.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || b.logs.flush_dirty_logs()).await {
                    tracing::error!(error = %e, "flushing logs failed");
                }
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
    /// Open the data dirs, bind every listener and start serving.
    pub async fn start(config: BrokerConfig) -> Result<Self, ServerError> {
        let broker = Broker::open(config)?;
        let bound: Vec<BoundListener> = network::bind_all(&broker).await?;
        let (shutdown, rx) = watch::channel(false);
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
        let _ = self.shutdown.send(true);
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
        match tokio::task::spawn_blocking(move || broker.logs.shutdown()).await {
            Ok(Ok(())) => tracing::info!("shut down cleanly"),
            Ok(Err(e)) => tracing::error!(error = %e, "closing logs failed"),
            Err(e) => tracing::error!(error = %e, "closing logs panicked"),
        }
    }
}
