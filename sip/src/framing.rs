//! Cutting a TCP byte stream into SIP messages by Content-Length
//! (RFC 3261 §18.3): partial reads, several messages in one read, and
//! CRLF keep-alives (RFC 5626 §3.5.1) between messages.

use crate::error::SipError;
use crate::message::{content_length, head_end, MAX_MESSAGE_SIZE};

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> StreamFramer {
        StreamFramer::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet a whole message.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// After `next_message` failed: the head of the message it could not
    /// frame, when a whole head is there, so that it can still be answered
    /// (a bad Content-Length gets a 400, RFC 4475 §3.1.2.3) before the
    /// connection is closed.
    pub fn broken_head(&self) -> Option<&[u8]> {
        head_end(&self.buf).map(|end| &self.buf[..end])
    }

    /// The next whole message, `Ok(None)` when more bytes are needed, or an
    /// error when the stream cannot be framed any more (the connection
    /// should be closed).
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, SipError> {
        // Keep-alives and stray line ends between messages.
        let skip = self
            .buf
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(self.buf.len());
        self.buf.drain(..skip);
        if self.buf.is_empty() {
            return Ok(None);
        }
        let Some(end) = head_end(&self.buf) else {
            if self.buf.len() > MAX_MESSAGE_SIZE {
                return Err(SipError::Malformed("headers too large"));
            }
            return Ok(None);
        };
        // On a stream, a missing Content-Length means no body.
        let body = content_length(&self.buf[..end])?.unwrap_or(0);
        // A Content-Length near usize::MAX must not wrap around.
        let total = end
            .checked_add(body)
            .filter(|t| *t <= MAX_MESSAGE_SIZE)
            .ok_or(SipError::Malformed("message too large"))?;
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "OPTIONS sip:a@h SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
    const B: &str = "OPTIONS sip:b@h SIP/2.0\r\nl: 0\r\n\r\n";

    #[test]
    fn byte_by_byte_reads_give_the_whole_message() {
        let mut f = StreamFramer::new();
        for (i, b) in A.bytes().enumerate() {
            f.push(&[b]);
            let m = f.next_message().unwrap();
            if i + 1 < A.len() {
                assert!(m.is_none(), "complete too early at {i}");
            } else {
                assert_eq!(m.unwrap(), A.as_bytes());
            }
        }
    }

    #[test]
    fn several_messages_in_one_read_with_keepalives() {
        let mut f = StreamFramer::new();
        f.push(format!("\r\n\r\n{A}\r\n{B}{A}").as_bytes());
        assert_eq!(f.next_message().unwrap().unwrap(), A.as_bytes());
        assert_eq!(f.next_message().unwrap().unwrap(), B.as_bytes());
        assert_eq!(f.next_message().unwrap().unwrap(), A.as_bytes());
        assert_eq!(f.next_message().unwrap(), None);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn oversized_headers_and_bad_length_are_errors() {
        let mut f = StreamFramer::new();
        f.push(b"INVITE sip:a@h SIP/2.0\r\nX: ");
        f.push(&vec![b'a'; MAX_MESSAGE_SIZE]);
        assert!(f.next_message().is_err());
        assert_eq!(f.broken_head(), None, "no whole head to answer");
        let mut f = StreamFramer::new();
        f.push(b"\r\nINVITE sip:a@h SIP/2.0\r\nContent-Length: -9\r\n\r\nv=0\r\n");
        assert!(f.next_message().is_err());
        assert_eq!(
            f.broken_head(),
            Some(&b"INVITE sip:a@h SIP/2.0\r\nContent-Length: -9\r\n\r\n"[..])
        );
        let mut f = StreamFramer::new();
        f.push(b"INVITE sip:a@h SIP/2.0\r\nContent-Length: 999999\r\n\r\n");
        assert!(f.next_message().is_err());
    }

    /// Found by the `stream_framer` fuzz target: `Content-Length:
    /// 18446744073709551615` (usize::MAX) overflowed head + body (a panic
    /// in debug builds; in release a wrapped total framed a cut message).
    #[test]
    fn a_content_length_near_usize_max_is_an_error_not_an_overflow() {
        for n in [usize::MAX, usize::MAX - 10, usize::MAX / 2 + 1] {
            let mut f = StreamFramer::new();
            f.push(format!("OPTIONS sip:a@h SIP/2.0\r\nContent-Length: {n}\r\n\r\nabc").as_bytes());
            assert!(f.next_message().is_err(), "{n}");
            assert!(f.broken_head().is_some());
        }
    }
}
