//! Decodes a stream of frames from arbitrary bytes, as a receiver would.
//!
//! Checks: no panic; `decode` and `frame_len` agree; a decoded frame
//! re-encodes to exactly the bytes it came from (the encoding is
//! canonical, so nothing a receiver accepts is ambiguous); every proper
//! prefix of a frame asks for more bytes rather than failing (a receiver
//! may see a frame in pieces); decoding allocates in proportion to the
//! frame only; the loop always advances.

#![no_main]

#[path = "alloc_bound.rs"]
mod alloc_bound;

use libfuzzer_sys::fuzz_target;
use wsgi_core::protocol::{MAX_FRAME, decode, encode, frame_len};

#[global_allocator]
static ALLOC: alloc_bound::Counting = alloc_bound::Counting;

const HEADER_LEN: usize = 5;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut encoded = Vec::new();
    loop {
        let len = frame_len(rest);
        let (result, allocated) = alloc_bound::measure(|| decode(rest));
        // Whatever the outcome, even a refusal: no more than the frame's
        // share of memory, and nothing before the frame is complete.
        let budget = match len {
            Ok(Some(total)) if total <= rest.len() => alloc_bound::decode_budget(total),
            _ => 0,
        };
        assert!(allocated <= budget, "{allocated} bytes allocated, budget {budget}: {result:?}");
        match result {
            Ok(Some((frame, used))) => {
                assert!((HEADER_LEN..=HEADER_LEN + MAX_FRAME).contains(&used), "used {used}");
                assert!(used <= rest.len());
                assert_eq!(len, Ok(Some(used)), "frame_len disagrees with decode");

                encoded.clear();
                encode(&frame, &mut encoded);
                assert_eq!(encoded.as_slice(), &rest[..used], "{frame:?} does not re-encode to its bytes");

                for cut in 0..used {
                    assert_eq!(decode(&rest[..cut]), Ok(None), "prefix of {cut} of {used} bytes");
                }
                rest = &rest[used..];
            }
            Ok(None) => {
                match len {
                    Ok(None) => assert!(rest.len() < HEADER_LEN),
                    Ok(Some(total)) => assert!(rest.len() < total),
                    Err(e) => panic!("frame_len refused ({e}) what decode waits for"),
                }
                break;
            }
            Err(e) => {
                // A refusal is final: more bytes would not change it.
                if let Err(le) = len {
                    assert_eq!(le, e);
                } else {
                    let mut more = rest.to_vec();
                    more.extend_from_slice(&[0; 16]);
                    assert_eq!(decode(&more), Err(e), "a refused frame was accepted with more bytes");
                }
                break;
            }
        }
    }
});
