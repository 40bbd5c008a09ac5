//! The wire protocol between an Apache child and a daemon process, over a
//! UNIX stream socket. Documented in docs/daemon-protocol.md.
//!
//! Every message is a frame: one type byte, a little-endian u32 payload
//! length, then the payload. The Apache child opens with `Request`; from
//! then on the daemon leads: it asks for body bytes (`ReadBody`) only when
//! the application reads, so neither side buffers a whole body and neither
//! can deadlock on a full socket; it sends `Headers`, `Data`, `Log` frames
//! as the application produces them, and ends with `End`, `Fail` or `Retry`.
//! After `End` or `Fail` the connection may carry the child's next request;
//! a daemon that will not serve it says `Goodbye` first.

use thiserror::Error;

/// The largest payload either side accepts in one frame.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The most bytes a `Data` or `Body` frame carries; senders split larger.
pub const MAX_CHUNK: usize = 1024 * 1024;
/// Length of the per-server-start secret that opens every request.
pub const SECRET_LEN: usize = 16;
/// Bumped on any incompatible change; a mismatch is refused.
pub const VERSION: u8 = 1;

/// Bytes before every frame's payload: its kind and length.
pub const HEADER_LEN: usize = 5;

/// The whole encoding of a `Release` frame, which a receiver counting them
/// can match without decoding.
pub const RELEASE_FRAME: [u8; HEADER_LEN] = [kind::RELEASE, 0, 0, 0, 0];

/// One protocol message, borrowing its payload from the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Child → daemon, first: the secret, then the CGI/WSGI variables.
    Request { secret: [u8; SECRET_LEN], vars: Vec<(&'a [u8], &'a [u8])> },
    /// Child → daemon, answering `ReadBody`: body bytes; empty at the end.
    Body(&'a [u8]),
    /// Daemon → child: send at most this many body bytes.
    ReadBody(u32),
    /// Daemon → child: the status line (`200 OK`) and headers.
    Headers { status: &'a str, headers: Vec<(&'a str, &'a str)> },
    /// Daemon → child: response body bytes, to be sent to the client now.
    Data(&'a [u8]),
    /// Daemon → child: a line for the error log, attributed to the request.
    Log { level: u8, message: &'a str },
    /// Daemon → child: the response is complete.
    End,
    /// Daemon → child: nothing was sent; answer with this status.
    Fail(u16),
    /// Daemon → child: this process is being replaced and did not run the
    /// request (nor read its body); send it again on a new connection.
    Retry,
    /// Daemon → child: send `len` bytes from `offset` of the file whose
    /// descriptor travels with this frame (SCM_RIGHTS), after the headers.
    SendFile { offset: u64, len: u64 },
    /// Child → daemon, answering `ReadBody`: the body could not be read
    /// (the reason, as APR gives it); the server has answered the client.
    ReadError(&'a str),
    /// Daemon → child: the shared memory that `DataAt` frames point into,
    /// `size` bytes, whose descriptor (a memfd sealed against shrinking)
    /// travels with this frame.
    Window { size: u32 },
    /// Daemon → child: response body bytes at `offset..offset + len` of
    /// the window, to be sent to the client now; answered with `Release`.
    DataAt { offset: u32, len: u32 },
    /// Child → daemon: the oldest `DataAt` not yet released has been sent
    /// on; the daemon may write over its bytes.
    Release,
    /// Daemon → child, on a connection kept after `End` or `Fail`: it is
    /// closing, and will not read a request sent on it; send that request
    /// again on a new connection.
    Goodbye,
}

/// A malformed or unacceptable frame. The receiver closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("truncated {0} frame")]
    Truncated(&'static str),
    #[error("protocol version {0} is not {VERSION}")]
    Version(u8),
    #[error("{0} frame contains text that is not UTF-8")]
    NotText(&'static str),
}

mod kind {
    pub const REQUEST: u8 = 1;
    pub const BODY: u8 = 2;
    pub const READ_BODY: u8 = 3;
    pub const HEADERS: u8 = 4;
    pub const DATA: u8 = 5;
    pub const LOG: u8 = 6;
    pub const END: u8 = 7;
    pub const FAIL: u8 = 8;
    pub const RETRY: u8 = 9;
    pub const SEND_FILE: u8 = 10;
    pub const READ_ERROR: u8 = 11;
    pub const WINDOW: u8 = 12;
    pub const DATA_AT: u8 = 13;
    pub const RELEASE: u8 = 14;
    pub const GOODBYE: u8 = 15;
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The longest `Log` message that fits in a frame (after the level byte).
const MAX_LOG: usize = MAX_FRAME - 1;

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The header's length field for a payload of `len` bytes. One too long
/// for the field gets `u32::MAX`, which every receiver refuses like any
/// length over `MAX_FRAME`, rather than a wrapped length that would make
/// it read the rest of the payload as frames.
fn length_field(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Appends the frame's encoding to `out`.
///
/// Payloads must fit in `MAX_FRAME`: senders split `Data` and `Body` at
/// `MAX_CHUNK`. A `Log` message too long for one frame is cut to fit (at
/// a character boundary; Apache cuts a log line to 8 KiB anyway), so a
/// huge line written to `wsgi.errors` cannot break its request. Any other
/// frame over the limit is encoded with a length the receiver refuses.
pub fn encode(frame: &Frame<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    let ty = match frame {
        Frame::Request { secret, vars } => {
            out.push(VERSION);
            out.extend_from_slice(secret);
            out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
            for (k, v) in vars {
                put_bytes(out, k);
                put_bytes(out, v);
            }
            kind::REQUEST
        }
        Frame::Body(b) => {
            out.extend_from_slice(b);
            kind::BODY
        }
        Frame::ReadBody(n) => {
            out.extend_from_slice(&n.to_le_bytes());
            kind::READ_BODY
        }
        Frame::Headers { status, headers } => {
            put_bytes(out, status.as_bytes());
            out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
            for (k, v) in headers {
                put_bytes(out, k.as_bytes());
                put_bytes(out, v.as_bytes());
            }
            kind::HEADERS
        }
        Frame::Data(b) => {
            out.extend_from_slice(b);
            kind::DATA
        }
        Frame::Log { level, message } => {
            out.push(*level);
            out.extend_from_slice(cut(message, MAX_LOG).as_bytes());
            kind::LOG
        }
        Frame::End => kind::END,
        Frame::Fail(code) => {
            out.extend_from_slice(&code.to_le_bytes());
            kind::FAIL
        }
        Frame::Retry => kind::RETRY,
        Frame::SendFile { offset, len } => {
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            kind::SEND_FILE
        }
        Frame::ReadError(reason) => {
            out.extend_from_slice(reason.as_bytes());
            kind::READ_ERROR
        }
        Frame::Window { size } => {
            out.extend_from_slice(&size.to_le_bytes());
            kind::WINDOW
        }
        Frame::DataAt { offset, len } => {
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            kind::DATA_AT
        }
        Frame::Release => kind::RELEASE,
        Frame::Goodbye => kind::GOODBYE,
    };
    let len = length_field(out.len() - start - HEADER_LEN);
    out[start] = ty;
    out[start + 1..start + HEADER_LEN].copy_from_slice(&len.to_le_bytes());
}

/// Appends the header of a `Data` or `Body` frame to `out` and returns its
/// payload, for a sender that writes the payload right after the header
/// from where it is (a large one is not copied). Other frames are encoded
/// whole, and give `None`.
pub fn encode_head<'a>(frame: &Frame<'a>, out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let (ty, payload) = match frame {
        Frame::Data(b) => (kind::DATA, *b),
        Frame::Body(b) => (kind::BODY, *b),
        _ => {
            encode(frame, out);
            return None;
        }
    };
    out.push(ty);
    out.extend_from_slice(&length_field(payload.len()).to_le_bytes());
    Some(payload)
}

/// Reads length-prefixed fields out of a payload.
struct Cursor<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(ProtocolError::Truncated(self.what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, ProtocolError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<&'a str, ProtocolError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| ProtocolError::NotText(self.what))
    }

    /// A count of `(len, bytes)` pairs that must fit in what remains, so a
    /// forged count cannot make the receiver reserve unbounded memory.
    fn count(&mut self, min_item: usize) -> Result<usize, ProtocolError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.buf.len() {
            return Err(ProtocolError::Truncated(self.what));
        }
        Ok(n)
    }

    fn done(&self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() { Ok(()) } else { Err(ProtocolError::Truncated(self.what)) }
    }
}

/// Whether the frame starting `buf` is a `DataAt` (from its type alone).
pub fn is_data_at(buf: &[u8]) -> bool {
    buf.first() == Some(&kind::DATA_AT)
}

/// Whether the frame starting `buf` is a `Data` (from its type alone).
pub fn is_data(buf: &[u8]) -> bool {
    buf.first() == Some(&kind::DATA)
}

/// Whether the frame starting `buf` is a `Body` (from its type alone).
pub fn is_body(buf: &[u8]) -> bool {
    buf.first() == Some(&kind::BODY)
}

/// Whether the frame starting `buf` is an `End` (from its type alone).
pub fn is_end(buf: &[u8]) -> bool {
    buf.first() == Some(&kind::END)
}

/// The full length of the frame starting `buf`, once its header is there.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_FRAME {
        return Err(ProtocolError::TooLarge(len));
    }
    Ok(Some(HEADER_LEN + len))
}

/// Decodes one frame from the front of `buf`. `Ok(None)` means more bytes
/// are needed; otherwise returns the frame and how many bytes it used.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ProtocolError> {
    let Some(total) = frame_len(buf)? else { return Ok(None) };
    if buf.len() < total {
        return Ok(None);
    }
    let ty = buf[0];
    let len = total - HEADER_LEN;
    let payload = &buf[HEADER_LEN..HEADER_LEN + len];
    let frame = match ty {
        kind::REQUEST => {
            let mut c = Cursor { buf: payload, what: "request" };
            let version = c.take(1)?[0];
            if version != VERSION {
                return Err(ProtocolError::Version(version));
            }
            let mut secret = [0; SECRET_LEN];
            secret.copy_from_slice(c.take(SECRET_LEN)?);
            let n = c.count(8)?;
            let mut vars = Vec::with_capacity(n);
            for _ in 0..n {
                vars.push((c.bytes()?, c.bytes()?));
            }
            c.done()?;
            Frame::Request { secret, vars }
        }
        kind::BODY => Frame::Body(payload),
        kind::READ_BODY => {
            let mut c = Cursor { buf: payload, what: "read-body" };
            let n = c.u32()?;
            c.done()?;
            Frame::ReadBody(n)
        }
        kind::HEADERS => {
            let mut c = Cursor { buf: payload, what: "headers" };
            let status = c.text()?;
            let n = c.count(8)?;
            let mut headers = Vec::with_capacity(n);
            for _ in 0..n {
                headers.push((c.text()?, c.text()?));
            }
            c.done()?;
            Frame::Headers { status, headers }
        }
        kind::DATA => Frame::Data(payload),
        kind::LOG => {
            let mut c = Cursor { buf: payload, what: "log" };
            let level = c.take(1)?[0];
            let message = std::str::from_utf8(c.buf).map_err(|_| ProtocolError::NotText("log"))?;
            Frame::Log { level, message }
        }
        kind::END | kind::RETRY | kind::RELEASE | kind::GOODBYE if !payload.is_empty() => {
            return Err(ProtocolError::Truncated("empty"));
        }
        kind::END => Frame::End,
        kind::RETRY => Frame::Retry,
        kind::RELEASE => Frame::Release,
        kind::GOODBYE => Frame::Goodbye,
        kind::WINDOW => {
            let mut c = Cursor { buf: payload, what: "window" };
            let size = c.u32()?;
            c.done()?;
            Frame::Window { size }
        }
        kind::DATA_AT => {
            let mut c = Cursor { buf: payload, what: "data-at" };
            let (offset, len) = (c.u32()?, c.u32()?);
            c.done()?;
            Frame::DataAt { offset, len }
        }
        kind::FAIL => {
            let mut c = Cursor { buf: payload, what: "fail" };
            let b = c.take(2)?;
            c.done()?;
            Frame::Fail(u16::from_le_bytes([b[0], b[1]]))
        }
        kind::SEND_FILE => {
            let mut c = Cursor { buf: payload, what: "send-file" };
            let o = c.take(8)?;
            let l = c.take(8)?;
            c.done()?;
            let word = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            Frame::SendFile { offset: word(o), len: word(l) }
        }
        kind::READ_ERROR => {
            Frame::ReadError(std::str::from_utf8(payload).map_err(|_| ProtocolError::NotText("read-error"))?)
        }
        other => return Err(ProtocolError::UnknownType(other)),
    };
    Ok(Some((frame, HEADER_LEN + len)))
}

/// Compares secrets in time independent of where they differ.
pub fn secret_matches(a: &[u8; SECRET_LEN], b: &[u8; SECRET_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_head_and_its_payload_are_the_whole_frame() {
        for frame in [Frame::Data(b"payload"), Frame::Body(b""), Frame::Body(b"\x00\xff")] {
            let (mut whole, mut split) = (Vec::new(), Vec::new());
            encode(&frame, &mut whole);
            let payload = encode_head(&frame, &mut split).unwrap();
            split.extend_from_slice(payload);
            assert_eq!(split, whole);
        }
        let mut out = Vec::new();
        assert!(encode_head(&Frame::End, &mut out).is_none());
        let mut whole = Vec::new();
        encode(&Frame::End, &mut whole);
        assert_eq!(out, whole);
    }

    use super::*;

    fn roundtrip(f: Frame<'_>) {
        let mut buf = Vec::new();
        encode(&f, &mut buf);
        let (back, used) = decode(&buf).unwrap().unwrap();
        assert_eq!(back, f);
        assert_eq!(used, buf.len());
        // Every proper prefix asks for more bytes, never errors.
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut]), Ok(None), "prefix {cut}");
        }
    }

    #[test]
    fn every_frame_roundtrips() {
        roundtrip(Frame::Request {
            secret: [7; SECRET_LEN],
            vars: vec![(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b""), (b"HTTP_X", b"\xff\x00")],
        });
        roundtrip(Frame::Body(b"abc"));
        roundtrip(Frame::Body(b""));
        roundtrip(Frame::ReadBody(65536));
        roundtrip(Frame::Headers { status: "200 OK", headers: vec![("Content-Type", "text/plain"), ("X-A", "")] });
        roundtrip(Frame::Data(&[0u8; 1000]));
        roundtrip(Frame::Log { level: 3, message: "Traceback (most recent call last):" });
        roundtrip(Frame::End);
        roundtrip(Frame::Fail(500));
        roundtrip(Frame::Retry);
        roundtrip(Frame::SendFile { offset: 7, len: 10 * 1024 * 1024 });
        roundtrip(Frame::Window { size: 512 * 1024 });
        roundtrip(Frame::DataAt { offset: 65536, len: 4096 });
        roundtrip(Frame::Release);
        roundtrip(Frame::Goodbye);
        let mut release = Vec::new();
        encode(&Frame::Release, &mut release);
        assert_eq!(release, RELEASE_FRAME);
        roundtrip(Frame::ReadError("Partial results are valid but processing is incomplete"));
    }

    #[test]
    fn frames_follow_each_other() {
        let mut buf = Vec::new();
        encode(&Frame::Headers { status: "200 OK", headers: vec![] }, &mut buf);
        encode(&Frame::Data(b"hello"), &mut buf);
        encode(&Frame::End, &mut buf);
        let (a, n1) = decode(&buf).unwrap().unwrap();
        let (b, n2) = decode(&buf[n1..]).unwrap().unwrap();
        let (c, n3) = decode(&buf[n1 + n2..]).unwrap().unwrap();
        assert_eq!(
            (a, b, c),
            (Frame::Headers { status: "200 OK", headers: vec![] }, Frame::Data(b"hello"), Frame::End)
        );
        assert_eq!(n1 + n2 + n3, buf.len());
    }

    #[test]
    fn malformed_frames_are_refused() {
        assert_eq!(decode(&[99, 0, 0, 0, 0]), Err(ProtocolError::UnknownType(99)));
        assert_eq!(decode(&[5, 0xff, 0xff, 0xff, 0xff]), Err(ProtocolError::TooLarge(u32::MAX as usize)));
        // A request claiming a billion variables in a few bytes.
        let mut req = vec![kind::REQUEST, 0, 0, 0, 0, VERSION];
        req.extend_from_slice(&[0; SECRET_LEN]);
        req.extend_from_slice(&1_000_000_000u32.to_le_bytes());
        let len = (req.len() - HEADER_LEN) as u32;
        req[1..5].copy_from_slice(&len.to_le_bytes());
        assert_eq!(decode(&req), Err(ProtocolError::Truncated("request")));
        // Wrong version.
        let mut buf = Vec::new();
        encode(&Frame::Request { secret: [0; SECRET_LEN], vars: vec![] }, &mut buf);
        buf[HEADER_LEN] = VERSION + 1;
        assert_eq!(decode(&buf), Err(ProtocolError::Version(VERSION + 1)));
        // Frames that carry nothing must carry nothing.
        assert_eq!(decode(&[kind::END, 1, 0, 0, 0, 0]), Err(ProtocolError::Truncated("empty")));
        // Trailing junk inside a fixed-size frame.
        assert_eq!(decode(&[kind::FAIL, 3, 0, 0, 0, 1, 2, 3]), Err(ProtocolError::Truncated("fail")));
        assert_eq!(decode(&[kind::RELEASE, 1, 0, 0, 0, 0]), Err(ProtocolError::Truncated("empty")));
        assert_eq!(decode(&[kind::DATA_AT, 4, 0, 0, 0, 1, 2, 3, 4]), Err(ProtocolError::Truncated("data-at")));
        assert_eq!(decode(&[kind::WINDOW, 5, 0, 0, 0, 1, 2, 3, 4, 5]), Err(ProtocolError::Truncated("window")));
        // Headers that are not text.
        let mut h = Vec::new();
        encode(&Frame::Headers { status: "200 OK", headers: vec![("A", "b")] }, &mut h);
        let last = h.len() - 1;
        h[last] = 0xff;
        assert_eq!(decode(&h), Err(ProtocolError::NotText("headers")));
    }

    #[test]
    fn an_oversized_log_message_is_cut_to_fit() {
        // Bug: a line longer than MAX_FRAME written to wsgi.errors made a
        // Log frame the Apache child refused (TooLarge), so it dropped the
        // connection and the request failed with 502 over a log line.
        let mut message = "é".repeat(MAX_FRAME / 2);
        message.push_str("tail");
        let mut buf = Vec::new();
        encode(&Frame::Log { level: 3, message: &message }, &mut buf);
        let (frame, used) = decode(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        let Frame::Log { level: 3, message: got } = frame else { panic!("{frame:?}") };
        // Cut at a character boundary: MAX_LOG is odd, "é" two bytes.
        assert_eq!(got.len(), MAX_LOG - 1);
        assert!(message.starts_with(got));
        // One that fits exactly is left whole: a payload of MAX_FRAME.
        let exact = "a".repeat(MAX_LOG);
        buf.clear();
        encode(&Frame::Log { level: 6, message: &exact }, &mut buf);
        assert_eq!(buf.len(), HEADER_LEN + MAX_FRAME);
        assert_eq!(decode(&buf).unwrap().unwrap().0, Frame::Log { level: 6, message: &exact });
    }

    #[test]
    fn an_oversized_frame_is_refused_never_wrapped() {
        // Bug: the length field was `len as u32`, so a payload of 4 GiB + n
        // bytes claimed n bytes and the receiver would have read the rest
        // of the payload as frames. Now it claims a length it refuses.
        let four_gib = u32::MAX as usize + 1;
        assert_eq!(length_field(four_gib + 7), u32::MAX);
        assert_eq!(length_field(MAX_FRAME), MAX_FRAME as u32);
        let mut header = vec![kind::DATA];
        header.extend_from_slice(&length_field(four_gib + 7).to_le_bytes());
        assert_eq!(frame_len(&header), Err(ProtocolError::TooLarge(u32::MAX as usize)));
        // Over MAX_FRAME but within u32: the true length, refused as well.
        let big = vec![0u8; MAX_FRAME + 1];
        let mut buf = Vec::new();
        encode(&Frame::Data(&big), &mut buf);
        assert_eq!(decode(&buf), Err(ProtocolError::TooLarge(MAX_FRAME + 1)));
    }

    #[test]
    fn a_frame_type_is_known_from_its_first_byte() {
        let first = |f: Frame<'_>| {
            let mut b = Vec::new();
            encode(&f, &mut b);
            b.truncate(1);
            (is_data(&b), is_data_at(&b), is_end(&b))
        };
        assert_eq!(first(Frame::Data(b"x")), (true, false, false));
        assert_eq!(first(Frame::DataAt { offset: 0, len: 1 }), (false, true, false));
        assert_eq!(first(Frame::End), (false, false, true));
        assert_eq!(first(Frame::Fail(500)), (false, false, false));
        assert!(!is_end(&[]));
    }

    #[test]
    fn secrets_compare_exactly() {
        let a = [1; SECRET_LEN];
        let mut b = a;
        assert!(secret_matches(&a, &b));
        b[SECRET_LEN - 1] = 2;
        assert!(!secret_matches(&a, &b));
    }
}
