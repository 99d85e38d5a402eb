//! Listeners and connections.
//!
//! Each connection has a reader task and a processor: the reader splits the byte stream into
//! frames (size-capped before anything is allocated for a body) and queues them; the processor
//! serves them one at a time, and responses leave strictly in request order, as Kafka clients
//! (which pipeline up to 5 requests) require. The reader keeps reading while a request is being
//! served, up to [`MAX_QUEUED_REQUESTS`], and within a broker-wide byte budget
//! (`queued.max.request.bytes`, [`RequestBudget`]): a connection may always read the next
//! request it is to serve, but a frame read *ahead* of another one takes its size from the
//! budget before its body is read, and gives it back once served; while the budget is spent
//! the reader stops reading and TCP pushes back on the client. A reply that waits for something
//! outside the request (a Produce's fsync in fsync-before-ack mode:
//! `handlers::Reply::Deferred`) does not hold up the next requests: up to
//! [`MAX_PENDING_REPLIES`] wait in order while the processor serves the next frames, so the
//! fsync of one produce covers the appends of those behind it.
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
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};

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

/// Broker-wide budget of request bytes read ahead of the requests being served
/// (`queued.max.request.bytes`). Kafka needs none by default because it reads one request per
/// connection at a time; Sluice reads ahead for pipelining, and without a bound one connection
/// could make it hold [`MAX_QUEUED_REQUESTS`] frames of up to `socket.request.max.bytes` each
/// beyond the one it serves, as fast as it sends them. The request a connection is to serve next
/// needs no budget, so that the broker keeps serving every connection one request at a time
/// whatever the others do: memory is bounded by one frame per connection (as in Kafka) plus the
/// budget.
pub struct RequestBudget {
    /// None: unbounded.
    bytes: Option<Arc<Semaphore>>,
    limit: usize,
    /// Readers waiting for budget now (observability and tests).
    waiting: AtomicUsize,
}

impl RequestBudget {
    /// A budget of `limit` bytes; None for no bound.
    pub fn new(limit: Option<usize>) -> Self {
        let limit = limit.map(|l| l.clamp(1, u32::MAX as usize));
        Self {
            bytes: limit.map(|l| Arc::new(Semaphore::new(l))),
            limit: limit.unwrap_or(0),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Readers now waiting for budget.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Bytes of the budget not taken now (None when unbounded).
    pub fn available(&self) -> Option<usize> {
        self.bytes.as_ref().map(|s| s.available_permits())
    }

    /// Admit a frame of `size` bytes on `conn`: at once when the connection has no request
    /// outstanding (it may always read the one it serves next), else once `size` bytes (at most
    /// the whole budget) are free, or the connection's outstanding requests are all served.
    async fn admit(&self, conn: &Arc<Outstanding>, size: usize) -> Ticket {
        loop {
            let idle = conn.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if conn.count.load(Ordering::SeqCst) == 0 {
                return Ticket::new(conn, None);
            }
            let Some(sem) = &self.bytes else {
                return Ticket::new(conn, None);
            };
            let n = size.clamp(1, self.limit) as u32;
            if let Ok(p) = sem.clone().try_acquire_many_owned(n) {
                return Ticket::new(conn, Some(p));
            }
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let acquired = tokio::select! {
                p = sem.clone().acquire_many_owned(n) => p.ok(),
                _ = idle => None,
            };
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(p) = acquired {
                return Ticket::new(conn, Some(p));
            }
        }
    }
}

/// Requests of one connection read and not yet served.
#[derive(Default)]
struct Outstanding {
    count: AtomicUsize,
    /// Notified when `count` drops to zero.
    idle: Notify,
}

/// One admitted request: counts as outstanding on its connection and holds its share of the
/// budget until dropped (after it was served).
struct Ticket {
    conn: Arc<Outstanding>,
    _bytes: Option<OwnedSemaphorePermit>,
}

impl Ticket {
    fn new(conn: &Arc<Outstanding>, bytes: Option<OwnedSemaphorePermit>) -> Self {
        conn.count.fetch_add(1, Ordering::SeqCst);
        Self {
            conn: conn.clone(),
            _bytes: bytes,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.conn.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.conn.idle.notify_waiters();
        }
    }
}

/// A request frame as read, with its admission.
struct Request {
    frame: BytesMut,
    ticket: Ticket,
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

/// Bind every configured listener (fails start-up if one cannot be bound). Nothing is
/// accepted yet: connections wait in the listen backlog until [`accept_loop`] runs.
pub async fn bind_all(listeners: &[Listener]) -> Result<Vec<BoundListener>, NetworkError> {
    let mut out = Vec::new();
    for l in listeners {
        let addr = l.bind_addr();
        let socket = TcpListener::bind(&addr)
            .await
            .map_err(|source| NetworkError::Bind {
                name: l.name.clone(),
                addr: addr.clone(),
                source,
            })?;
        let bound = socket
            .local_addr()
            .map_or_else(|_| addr.clone(), |a| a.to_string());
        tracing::info!(listener = %l.name, addr = %bound, "bound listener");
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
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::debug!(%peer, %listener, "connection opened");
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Request>(MAX_QUEUED_REQUESTS);
    let max = broker.config.socket_request_max_bytes;
    let reader = tokio::spawn({
        let broker = broker.clone();
        async move {
            tokio::select! {
                _ = read_requests(&mut rd, &tx, max, &broker.request_budget, peer) => {}
                _ = stopped(&mut shutdown) => {}
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
            Step::Frame(Request { frame, ticket }) => {
                out.clear();
                let handled = handlers::handle_frame(&broker, &ctx, frame.freeze(), &mut out).await;
                // Served: the request's bytes are gone, so is its claim on the budget (as
                // Kafka frees a request's buffer once handled, before the response is sent).
                drop(ticket);
                match handled {
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

/// Split the byte stream into frames and queue them, each admitted by `budget` before its
/// body is read. Returns when the stream ends, a frame is bad, or the processor is gone.
async fn read_requests<R: AsyncReadExt + Unpin>(
    rd: &mut R,
    tx: &mpsc::Sender<Request>,
    max: usize,
    budget: &RequestBudget,
    peer: SocketAddr,
) {
    let conn = Arc::new(Outstanding::default());
    let mut buf = BytesMut::with_capacity(16 * 1024);
    // The admission of the frame at the head of `buf`, once its size is known.
    let mut admitted: Option<Ticket> = None;
    loop {
        let want = loop {
            let total = match frame::needed_capacity(&buf, max) {
                Ok(Some(total)) => total,
                Ok(None) => break 16 * 1024,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "closing connection: bad frame");
                    return;
                }
            };
            if admitted.is_none() {
                admitted = Some(budget.admit(&conn, total).await);
            }
            if buf.len() < total {
                // Grow the buffer toward the frame, a bounded chunk at a time.
                break (total - buf.len()).min(READ_CHUNK);
            }
            match (frame::split_frame(&mut buf, max), admitted.take()) {
                (Ok(Some(frame)), Some(ticket)) => {
                    let request = Request { frame, ticket };
                    if tx.send(request).await.is_err() {
                        return;
                    }
                }
                _ => return, // cannot happen: the frame is complete and admitted
            }
        };
        buf.reserve(want.max(4096));
        match rd.read_buf(&mut buf).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%peer, error = %e, "read failed");
                return;
            }
        }
    }
}

/// A reply waiting its turn: its frame as chunks once ready (empty for no response).
type Pending = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<bytes::Bytes>, handlers::CloseReason>> + Send>,
>;

enum Step {
    Frame(Request),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A frame of `total` bytes (size prefix included), filled with `tag`.
    fn frame_of(total: usize, tag: u8) -> Vec<u8> {
        let mut f = ((total - 4) as i32).to_be_bytes().to_vec();
        f.resize(total, tag);
        f
    }

    /// Wait (bounded) until `cond` holds; the reader runs on the same runtime.
    async fn until(what: &str, cond: impl Fn() -> bool) {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while !cond() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(waited.is_ok(), "timed out waiting for: {what}");
    }

    async fn recv(rx: &mut mpsc::Receiver<Request>) -> Request {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("timed out waiting for a request")
            .expect("reader ended")
    }

    /// Start a reader over an in-memory stream carrying `frames` (total sizes) and a budget.
    async fn reader(
        frames: &[usize],
        budget: Option<usize>,
    ) -> (
        Arc<RequestBudget>,
        mpsc::Receiver<Request>,
        tokio::io::DuplexStream,
    ) {
        reader_with(frames, Arc::new(RequestBudget::new(budget))).await
    }

    async fn reader_with(
        frames: &[usize],
        budget: Arc<RequestBudget>,
    ) -> (
        Arc<RequestBudget>,
        mpsc::Receiver<Request>,
        tokio::io::DuplexStream,
    ) {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        for (i, &n) in frames.iter().enumerate() {
            client.write_all(&frame_of(n, i as u8)).await.unwrap();
        }
        let (tx, rx) = mpsc::channel(MAX_QUEUED_REQUESTS);
        let b = budget.clone();
        tokio::spawn(async move {
            let peer = SocketAddr::from(([127, 0, 0, 1], 0));
            read_requests(&mut server, &tx, 1 << 20, &b, peer).await;
        });
        (budget, rx, client)
    }

    #[tokio::test]
    async fn read_ahead_stops_at_the_budget_and_resumes_when_served() {
        let (budget, mut rx, _client) = reader(&[1000, 1000, 1000], Some(1500)).await;
        // Frame 0 is the connection's next request: admitted without budget. Frame 1 is read
        // ahead and takes 1000 bytes; frame 2 does not fit in the 500 left.
        until("a reader waiting for budget", || budget.waiting() == 1).await;
        // (the waiting reader has taken the 500 left toward its 1000)
        assert_eq!(budget.available(), Some(0));
        let first = recv(&mut rx).await;
        let second = recv(&mut rx).await;
        assert_eq!((first.frame[0], second.frame[0]), (0, 1));
        assert!(rx.try_recv().is_err(), "frame 2 must wait for budget");
        drop(first);
        drop(second);
        // Both served: the budget is back and the connection is idle, so frame 2 comes in.
        let third = recv(&mut rx).await;
        assert_eq!(third.frame[0], 2);
        assert_eq!(third.frame.len(), 996);
        drop(third);
        until("the whole budget back", || budget.available() == Some(1500)).await;
    }

    #[tokio::test]
    async fn an_idle_connection_reads_its_next_request_even_when_the_budget_is_spent() {
        let budget = Arc::new(RequestBudget::new(Some(1500)));
        // Another connection holds the whole budget for good.
        let other = Arc::new(Outstanding::default());
        let _next = budget.admit(&other, 1000).await; // free: nothing outstanding on `other`
        let _ahead = budget.admit(&other, 1500).await;
        assert_eq!(budget.available(), Some(0));
        let (budget, mut rx, _client) = reader_with(&[1000, 1000, 1000], budget).await;
        let first = recv(&mut rx).await;
        until("a reader waiting for budget", || budget.waiting() == 1).await;
        assert!(rx.try_recv().is_err(), "frame 1 must wait");
        drop(first);
        // Nothing outstanding on the connection: its next frame is read without budget.
        let second = recv(&mut rx).await;
        assert_eq!(second.frame[0], 1);
        until("a reader waiting for budget", || budget.waiting() == 1).await;
        drop(second);
        let third = recv(&mut rx).await;
        assert_eq!(third.frame[0], 2);
        assert_eq!(budget.available(), Some(0));
    }

    #[tokio::test]
    async fn a_frame_larger_than_the_budget_takes_all_of_it() {
        let (budget, mut rx, _client) = reader(&[1000, 5000, 1000], Some(3000)).await;
        until("a reader waiting for budget", || budget.waiting() == 1).await;
        assert_eq!(budget.available(), Some(0));
        let first = recv(&mut rx).await;
        let second = recv(&mut rx).await;
        assert_eq!(second.frame.len(), 4996);
        drop(second);
        // Frame 2 now fits the freed budget while frame 0 is still being served.
        let third = recv(&mut rx).await;
        assert_eq!(third.frame[0], 2);
        assert_eq!(budget.available(), Some(2000));
        drop(first);
    }

    #[tokio::test]
    async fn unbounded_budget_reads_ahead_up_to_the_queue() {
        let frames = vec![1000; MAX_QUEUED_REQUESTS + 2];
        let (budget, mut rx, _client) = reader(&frames, None).await;
        let mut got = Vec::new();
        for _ in 0..frames.len() {
            got.push(recv(&mut rx).await);
        }
        assert_eq!(budget.available(), None);
        assert_eq!(budget.waiting(), 0);
        assert_eq!(got.last().map(|r| r.frame[0]), Some(9));
    }
}
