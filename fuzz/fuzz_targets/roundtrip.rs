//! Builds frames from structured input, encodes them back to back, and
//! decodes the stream: the same frames must come out, each using exactly
//! the bytes it was encoded to, and a stream cut anywhere yields the
//! frames before the cut and then asks for more bytes.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgi_core::protocol::{Frame, SECRET_LEN, decode, encode};

/// An owned `Frame`, for `arbitrary` to build.
#[derive(Arbitrary, Debug)]
enum Owned {
    Request { secret: [u8; SECRET_LEN], vars: Vec<(Vec<u8>, Vec<u8>)> },
    Body(Vec<u8>),
    ReadBody(u32),
    Headers { status: String, headers: Vec<(String, String)> },
    Data(Vec<u8>),
    Log { level: u8, message: String },
    End,
    Fail(u16),
    Retry,
    SendFile { offset: u64, len: u64 },
    ReadError(String),
    Window { size: u32 },
    DataAt { offset: u32, len: u32 },
    Release,
    Goodbye,
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        match self {
            Owned::Request { secret, vars } => Frame::Request {
                secret: *secret,
                vars: vars.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect(),
            },
            Owned::Body(b) => Frame::Body(b),
            Owned::ReadBody(n) => Frame::ReadBody(*n),
            Owned::Headers { status, headers } => {
                Frame::Headers { status, headers: headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect() }
            }
            Owned::Data(b) => Frame::Data(b),
            Owned::Log { level, message } => Frame::Log { level: *level, message },
            Owned::End => Frame::End,
            Owned::Fail(c) => Frame::Fail(*c),
            Owned::Retry => Frame::Retry,
            Owned::SendFile { offset, len } => Frame::SendFile { offset: *offset, len: *len },
            Owned::ReadError(reason) => Frame::ReadError(reason),
            Owned::Window { size } => Frame::Window { size: *size },
            Owned::DataAt { offset, len } => Frame::DataAt { offset: *offset, len: *len },
            Owned::Release => Frame::Release,
            Owned::Goodbye => Frame::Goodbye,
        }
    }
}

fuzz_target!(|input: (Vec<Owned>, u16)| {
    let (owned, cut) = input;
    let frames: Vec<Frame<'_>> = owned.iter().map(Owned::frame).collect();
    let mut buf = Vec::new();
    let mut ends = Vec::new();
    for f in &frames {
        encode(f, &mut buf);
        ends.push(buf.len());
    }

    let mut pos = 0;
    for (f, &end) in frames.iter().zip(&ends) {
        let (back, used) =
            decode(&buf[pos..]).expect("an encoded frame is refused").expect("an encoded frame is short");
        assert_eq!(&back, f);
        assert_eq!(pos + used, end, "{f:?} decoded from a different length than it was encoded to");
        pos = end;
    }
    assert_eq!(decode(&buf[pos..]), Ok(None));

    // The same stream cut short, as a receiver may see it.
    let cut = usize::from(cut) % (buf.len() + 1);
    let short = &buf[..cut];
    let mut pos = 0;
    for (f, &end) in frames.iter().zip(&ends) {
        match decode(&short[pos..]) {
            Ok(Some((back, used))) => {
                assert!(end <= cut);
                assert_eq!(&back, f);
                pos += used;
            }
            Ok(None) => {
                assert!(end > cut, "a complete frame asks for more bytes");
                break;
            }
            Err(e) => panic!("a cut stream is refused: {e}"),
        }
    }
});
