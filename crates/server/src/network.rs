//! Listeners and connections.
//!
//! Each connection has a reader task and a processor: the reader splits the byte stream into
//! frames (size-capped before anything is allocated for a body) and queues them; the processor
//! serves them one at a time, and responses leave strictly in request order, as Kafka clients
//! (which pipeline up to 5 requests) require. The reader keeps reading while a request is being
//! served, up to [`MAX_QUEUED_REQUESTS`]. A reply that waits for something outside the request
//! (a Produce's fsync in fsync-before-ack mode: `handlers::Reply::Deferred`) does not hold up
//! the next requests: up to [`MAX_PENDING_REPLIES`] wait in order while the processor serves
//! the next frames, so the fsync of one produce covers the appends of those behind it.
//!
//! A frame that cannot be decoded closes that connection only.

use crate::broker::Broker;
use crate::config::Listener;
use crate::handlers::{self, RequestContext};
use bytes::BytesMut;
use sluice_protocol::frame;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};

/// Frames read ahead of the one being served, per connection.
pub const MAX_QUEUED_REQUESTS: usize = 8;
/// Replies waiting to be written behind a deferred one, per connection.
pub const MAX_PENDING_REPLIES: usize = 8;
/// Read buffers grow by at most this much at a time while a large frame arrives, so that an
/// announced size alone reserves no memory.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Debug, Error)]
pub enum NetworkError {
    #[error("cannot bind listener {name} on {addr}: {source}")]
    Bind {
        name: String,
        addr: String,
        source: std::io::Error,
    },
}

/// Counts open connections so shutdown can wait for them to drain.
#[derive(Default)]
pub struct ConnectionTracker {
    open: AtomicUsize,
    changed: Notify,
}

impl ConnectionTracker {
    fn enter(self: &Arc<Self>) -> ConnectionGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(self.clone())
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Wait until no connection is open.
    pub async fn drained(&self) {
        loop {
            let notified = self.changed.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

struct ConnectionGuard(Arc<ConnectionTracker>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// Resolves once the shutdown flag is set (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Bound listeners, ready to serve.
pub struct BoundListener {
    pub listener: Listener,
    pub socket: TcpListener,
}

impl BoundListener {
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }
}

/// Bind every configured listener (fails start-up if one cannot be bound).
pub async fn bind_all(broker: &Broker) -> Result<Vec<BoundListener>, NetworkError> {
    let mut out = Vec::new();
    for l in &broker.config.listeners {
        let addr = l.bind_addr();
        let socket = TcpListener::bind(&addr)
            .await
            .map_err(|source| NetworkError::Bind {
                name: l.name.clone(),
                addr: addr.clone(),
                source,
            })?;
        tracing::info!(listener = %l.name, %addr, "listening");
        out.push(BoundListener {
            listener: l.clone(),
            socket,
        });
    }
    Ok(out)
}

/// Accept connections on `bound` until `shutdown` turns true.
pub async fn accept_loop(
    broker: Arc<Broker>,
    bound: BoundListener,
    tracker: Arc<ConnectionTracker>,
    shutdown: watch::Receiver<bool>,
) {
    let listener_name: Arc<str> = Arc::from(bound.listener.name.as_str());
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = bound.socket.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let guard = tracker.enter();
                    let broker = broker.clone();
                    let name = listener_name.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        serve_connection(broker, stream, peer, name, shutdown).await;
                        drop(guard);
                    });
                }
                Err(e) => {
                    // EMFILE and friends: keep the listener, back off via the accept error.
                    tracing::warn!(listener = %listener_name, error = %e, "accept failed");
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

async fn serve_connection(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<str>,
    shutdown: watch::Receiver<bool>,
) {
    tracing::debug!(%peer, %listener, "connection opened");
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<BytesMut>(MAX_QUEUED_REQUESTS);
    let max = broker.config.socket_request_max_bytes;

    let mut stop = shutdown;
    let reader = tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            loop {
                match frame::split_frame(&mut buf, max) {
                    Ok(Some(f)) => {
                        if tx.send(f).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(%peer, error = %e, "closing connection: bad frame");
                        return;
                    }
                }
            }
            // Grow the buffer toward the frame being read, a bounded chunk at a time.
            let want = match frame::needed_capacity(&buf, max) {
                Ok(Some(total)) => total.saturating_sub(buf.len()).min(READ_CHUNK),
                _ => 16 * 1024,
            };
            buf.reserve(want.max(4096));
            tokio::select! {
                _ = stopped(&mut stop) => return,
                n = rd.read_buf(&mut buf) => match n {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "read failed");
                        return;
                    }
                }
            }
        }
    });

    let ctx = handlers::ConnectionContext { peer, listener };
    let mut out = BytesMut::with_capacity(16 * 1024);
    // Replies not yet written, in request order, when a deferred one is at the front.
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut reading = true;
    loop {
        if !reading && pending.is_empty() {
            break;
        }
        let step = tokio::select! {
            biased;
            done = next_pending(&mut pending), if !pending.is_empty() => Step::Done(done),
            frame = rx.recv(), if reading && pending.len() < MAX_PENDING_REPLIES => {
                match frame {
                    Some(f) => Step::Frame(f),
                    None => Step::EndOfRequests,
                }
            }
        };
        let written = match step {
            Step::EndOfRequests => {
                reading = false;
                Ok(())
            }
            Step::Done(Ok(chunks)) => write_chunks(&mut wr, chunks).await,
            Step::Done(Err(e)) => {
                tracing::info!(%peer, error = %e, "closing connection");
                break;
            }
            Step::Frame(frame) => {
                out.clear();
                match handlers::handle_frame(&broker, &ctx, frame.freeze(), &mut out).await {
                    Ok(handlers::Outgoing::Deferred(d)) => {
                        pending.push_back(Box::pin(finish_deferred(d)));
                        Ok(())
                    }
                    Ok(outgoing) if !pending.is_empty() => {
                        // Behind a deferred reply: queue it (its bytes leave `out`).
                        let chunks = owned_chunks(outgoing, &mut out);
                        pending.push_back(Box::pin(std::future::ready(Ok(chunks))));
                        Ok(())
                    }
                    Ok(handlers::Outgoing::Nothing) => Ok(()),
                    Ok(handlers::Outgoing::Buffer) => wr.write_all(&out).await,
                    Ok(handlers::Outgoing::Chunks(chunks)) => write_chunks(&mut wr, chunks).await,
                    Err(e) => {
                        tracing::info!(%peer, error = %e, "closing connection");
                        break;
                    }
                }
            }
        };
        if let Err(e) = written {
            tracing::debug!(%peer, error = %e, "write failed");
            break;
        }
        // Do not keep a huge response buffer around for an idle connection.
        if out.capacity() > 4 * 1024 * 1024 {
            out = BytesMut::with_capacity(16 * 1024);
        }
    }
    reader.abort();
    let _ = wr.shutdown().await;
    tracing::debug!(%peer, "connection closed");
}

/// A reply waiting its turn: its frame as chunks once ready (empty for no response).
type Pending = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<bytes::Bytes>, handlers::CloseReason>> + Send>,
>;

enum Step {
    Frame(BytesMut),
    Done(Result<Vec<bytes::Bytes>, handlers::CloseReason>),
    EndOfRequests,
}

/// Wait for the reply at the front of `pending` and take it off.
async fn next_pending(
    pending: &mut VecDeque<Pending>,
) -> Result<Vec<bytes::Bytes>, handlers::CloseReason> {
    let Some(front) = pending.front_mut() else {
        return std::future::pending().await;
    };
    let done = front.await;
    pending.pop_front();
    done
}

async fn finish_deferred(
    mut d: handlers::Deferred,
) -> Result<Vec<bytes::Bytes>, handlers::CloseReason> {
    let mut out = BytesMut::new();
    loop {
        match d.finish(&mut out).await? {
            handlers::Outgoing::Deferred(next) => d = next,
            outgoing => return Ok(owned_chunks(outgoing, &mut out)),
        }
    }
}

/// A reply's frame as owned chunks (an encoded one is split off `out`).
fn owned_chunks(outgoing: handlers::Outgoing, out: &mut BytesMut) -> Vec<bytes::Bytes> {
    match outgoing {
        handlers::Outgoing::Nothing | handlers::Outgoing::Deferred(_) => Vec::new(),
        handlers::Outgoing::Buffer => vec![out.split().freeze()],
        handlers::Outgoing::Chunks(chunks) => chunks,
    }
}

/// Write `chunks` in order with vectored writes (no copying into one buffer).
async fn write_chunks<W: AsyncWriteExt + Unpin>(
    wr: &mut W,
    mut chunks: Vec<bytes::Bytes>,
) -> std::io::Result<()> {
    use bytes::Buf;
    const MAX_SLICES: usize = 64;
    let mut first = 0;
    while first < chunks.len() {
        let n = {
            let mut slices = [std::io::IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for c in chunks[first..]
                .iter()
                .filter(|c| !c.is_empty())
                .take(MAX_SLICES)
            {
                slices[count] = std::io::IoSlice::new(c);
                count += 1;
            }
            if count == 0 {
                return Ok(());
            }
            wr.write_vectored(&slices[..count]).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let mut left = n;
        while left > 0 && first < chunks.len() {
            let c = &mut chunks[first];
            if c.len() <= left {
                left -= c.len();
                first += 1;
            } else {
                c.advance(left);
                left = 0;
            }
        }
        while first < chunks.len() && chunks[first].is_empty() {
            first += 1;
        }
    }
    Ok(())
}

/// For tests: a request context without a socket.
pub fn test_context(listener: &str) -> handlers::ConnectionContext {
    handlers::ConnectionContext {
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        listener: Arc::from(listener),
    }
}

impl RequestContext<'_> {
    /// The listener the request arrived on.
    pub fn listener(&self) -> &str {
        &self.conn.listener
    }
}
