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
use crate::handlers::{self, OutChunk, RequestContext};
use bytes::BytesMut;
use sluice_protocol::fetch_response::FrameChunk;
use sluice_protocol::frame;
use sluice_storage::FileSlice;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
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
    Box<dyn std::future::Future<Output = Result<Vec<OutChunk>, handlers::CloseReason>> + Send>,
>;

enum Step {
    Frame(BytesMut),
    Done(Result<Vec<OutChunk>, handlers::CloseReason>),
    EndOfRequests,
}

/// Wait for the reply at the front of `pending` and take it off.
async fn next_pending(
    pending: &mut VecDeque<Pending>,
) -> Result<Vec<OutChunk>, handlers::CloseReason> {
    let Some(front) = pending.front_mut() else {
        return std::future::pending().await;
    };
    let done = front.await;
    pending.pop_front();
    done
}

async fn finish_deferred(
    mut d: handlers::Deferred,
) -> Result<Vec<OutChunk>, handlers::CloseReason> {
    let mut out = BytesMut::new();
    loop {
        match d.finish(&mut out).await? {
            handlers::Outgoing::Deferred(next) => d = next,
            outgoing => return Ok(owned_chunks(outgoing, &mut out)),
        }
    }
}

/// A reply's frame as owned chunks (an encoded one is split off `out`).
fn owned_chunks(outgoing: handlers::Outgoing, out: &mut BytesMut) -> Vec<OutChunk> {
    match outgoing {
        handlers::Outgoing::Nothing | handlers::Outgoing::Deferred(_) => Vec::new(),
        handlers::Outgoing::Buffer => vec![FrameChunk::Encoded(out.split().freeze())],
        handlers::Outgoing::Chunks(chunks) => chunks,
    }
}

/// Write a response frame: encoded chunks with vectored writes, record data straight from the
/// segment files with `sendfile` (one copy, page cache to socket, as Kafka's
/// `FileRecords.writeTo`). The socket is corked meanwhile so the small encoded pieces between
/// partitions' records do not go out as packets of their own.
async fn write_chunks(wr: &mut OwnedWriteHalf, chunks: Vec<OutChunk>) -> std::io::Result<()> {
    let has_files = chunks
        .iter()
        .any(|c| matches!(c, FrameChunk::Records(s) if !s.is_empty()));
    if has_files {
        set_cork(wr.as_ref(), true);
    }
    let result = write_frame(wr, chunks).await;
    if has_files {
        set_cork(wr.as_ref(), false);
    }
    result
}

async fn write_frame(wr: &mut OwnedWriteHalf, chunks: Vec<OutChunk>) -> std::io::Result<()> {
    let mut encoded = Vec::new();
    for chunk in chunks {
        match chunk {
            FrameChunk::Encoded(b) => encoded.push(b),
            FrameChunk::Records(slice) => {
                write_vectored_all(wr, std::mem::take(&mut encoded)).await?;
                send_file(wr, &slice).await?;
            }
        }
    }
    write_vectored_all(wr, encoded).await
}

/// TCP_CORK on or off (best effort: without it the frame is still written whole).
fn set_cork(stream: &TcpStream, on: bool) {
    #[cfg(target_os = "linux")]
    let _ = rustix::net::sockopt::set_tcp_cork(stream, on);
    #[cfg(not(target_os = "linux"))]
    let _ = (stream, on);
}

/// Send `slice` of its segment file to the socket. A file that turns out shorter than the
/// slice (it cannot, unless truncated underneath) fails the write, which closes the
/// connection: the frame's size was already announced, and nothing else may fill it.
async fn send_file(wr: &mut OwnedWriteHalf, slice: &FileSlice) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::io::Errno;
        let stream: &TcpStream = wr.as_ref();
        let mut offset = slice.position();
        let mut left = slice.len();
        while left > 0 {
            stream.writable().await?;
            let sent = stream.try_io(tokio::io::Interest::WRITABLE, || {
                rustix::fs::sendfile(stream, slice.file(), Some(&mut offset), left.min(1 << 30))
                    .map_err(std::io::Error::from)
            });
            match sent {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "{} ends before byte {offset} of a fetched range",
                            slice.path().display()
                        ),
                    ))
                }
                Ok(n) => left -= n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                // A file system without sendfile support, before any byte went out.
                Err(e)
                    if left == slice.len()
                        && [Errno::INVAL, Errno::NOSYS]
                            .iter()
                            .any(|n| e.raw_os_error() == Some(n.raw_os_error())) =>
                {
                    return copy_file(wr, slice).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    copy_file(wr, slice).await
}

/// `slice` through memory: read it, then write it.
async fn copy_file(wr: &mut OwnedWriteHalf, slice: &FileSlice) -> std::io::Result<()> {
    let bytes = slice.read().map_err(std::io::Error::other)?;
    wr.write_all(&bytes).await
}

/// Write `chunks` in order with vectored writes (no copying into one buffer).
async fn write_vectored_all<W: AsyncWriteExt + Unpin>(
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
    use std::io::Write;
    use std::path::Path;
    use tokio::io::AsyncReadExt;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    fn file_with(data: &[u8]) -> (tempfile::TempDir, Arc<std::fs::File>, Arc<Path>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(data)
            .unwrap();
        let file = Arc::new(std::fs::File::open(&path).unwrap());
        (dir, file, Arc::from(path.as_path()))
    }

    /// Encoded pieces and file ranges (one larger than the socket buffers, so the send waits
    /// for the reader) arrive as one byte stream, in order.
    #[tokio::test]
    async fn write_chunks_interleaves_encoded_bytes_and_file_ranges() {
        let data: Vec<u8> = (0..6_000_000u32).map(|i| (i % 251) as u8).collect();
        let (_dir, file, path) = file_with(&data);
        let chunks = vec![
            FrameChunk::Encoded(bytes::Bytes::from_static(b"head")),
            FrameChunk::Records(FileSlice::new(file.clone(), path.clone(), 10, 100)),
            FrameChunk::Encoded(bytes::Bytes::from_static(b"mid")),
            FrameChunk::Records(FileSlice::new(file.clone(), path.clone(), 0, 0)),
            FrameChunk::Records(FileSlice::new(file.clone(), path.clone(), 7, 5_000_000)),
            FrameChunk::Encoded(bytes::Bytes::from_static(b"tail")),
        ];
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&data[10..110]);
        expected.extend_from_slice(b"mid");
        expected.extend_from_slice(&data[7..5_000_007]);
        expected.extend_from_slice(b"tail");
        let (client, server) = pair().await;
        let (_rd, mut wr) = server.into_split();
        let want = expected.len();
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut got = vec![0u8; want];
            client.read_exact(&mut got).await.unwrap();
            got
        });
        write_chunks(&mut wr, chunks).await.unwrap();
        assert!(reader.await.unwrap() == expected);
    }

    /// A range past the end of its file fails the write (the connection is then closed)
    /// instead of sending anything in place of the missing bytes.
    #[tokio::test]
    async fn a_file_shorter_than_its_range_fails_the_write() {
        let (_dir, file, path) = file_with(&[1u8; 1000]);
        let (_client, server) = pair().await;
        let (_rd, mut wr) = server.into_split();
        let chunks = vec![FrameChunk::Records(FileSlice::new(file, path, 900, 200))];
        let err = write_chunks(&mut wr, chunks).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(
            err.to_string().contains("00000000000000000000.log"),
            "{err}"
        );
    }
}
