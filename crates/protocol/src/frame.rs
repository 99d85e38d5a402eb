//! Kafka's framing: every request and response is an `int32` size followed by that many bytes.
//!
//! [`split_frame`] works on a read buffer, never allocates by the size the peer announces, and
//! rejects sizes that are negative or larger than `socket.request.max.bytes` before any body byte
//! is awaited.

use bytes::{Buf, BytesMut};
use thiserror::Error;

/// Kafka's default `socket.request.max.bytes`.
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 104_857_600;

/// Why a frame cannot be accepted; the connection that sent it is closed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame size {size} is negative")]
    NegativeSize { size: i32 },
    #[error("frame size {size} exceeds socket.request.max.bytes ({max})")]
    TooLarge { size: usize, max: usize },
}

/// If `buf` holds a whole frame, split it off (without the size prefix) and return it.
///
/// Returns `Ok(None)` when more bytes are needed. `buf` may then be grown by the caller up to
/// [`needed_capacity`] bytes, which is bounded by `max`.
pub fn split_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, FrameError> {
    let Some(size) = peek_size(buf, max)? else {
        return Ok(None);
    };
    if buf.len() < 4 + size {
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size)))
}

/// How many bytes the frame at the head of `buf` needs in total (prefix included), once its size
/// prefix has arrived. Lets a reader reserve exactly once, after the cap was checked.
pub fn needed_capacity(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    Ok(peek_size(buf, max)?.map(|size| size + 4))
}

fn peek_size(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if size < 0 {
        return Err(FrameError::NegativeSize { size });
    }
    let size = size as usize;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    Ok(Some(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_prefix_and_body() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(split_frame(&mut buf, 100), Ok(None));
        buf.extend_from_slice(&[3, 1, 2]);
        assert_eq!(split_frame(&mut buf, 100), Ok(None));
        buf.extend_from_slice(&[3, 9]);
        let frame = split_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(&frame[..], &[1, 2, 3]);
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn rejects_negative_and_oversized() {
        let mut buf = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(
            split_frame(&mut buf, 100),
            Err(FrameError::NegativeSize { size: -1 })
        );
        let mut buf = BytesMut::from(&101i32.to_be_bytes()[..]);
        assert_eq!(
            split_frame(&mut buf, 100),
            Err(FrameError::TooLarge {
                size: 101,
                max: 100
            })
        );
        assert_eq!(needed_capacity(&100i32.to_be_bytes(), 100), Ok(Some(104)));
    }

    #[test]
    fn empty_frame_is_a_frame() {
        let mut buf = BytesMut::from(&0i32.to_be_bytes()[..]);
        assert_eq!(split_frame(&mut buf, 100).unwrap().unwrap().len(), 0);
    }
}
