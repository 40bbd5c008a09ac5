//! When an Apache child flushes a daemon's response to the client: mod_wsgi
//! 6.0.2's `response-flush-delay=` rule. Body bytes are passed down the
//! output filters as they come; a flush (which makes every filter, and the
//! core output filter, write out what it holds) is added only once the
//! daemon has stopped sending for a while. A flush on every momentary stall
//! makes a pacing filter such as mod_ratelimit write short pieces, and so
//! miss its rate; with no flush at all a paused application's output would
//! sit in Apache until the response ends.

use std::time::Duration;

/// What has already been received from the daemon after the body bytes
/// just given to the output filters, found without reading the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrived {
    /// More of the body (`Data`, `DataAt`, or the rest of a `Data` frame).
    Body,
    /// The `End` frame: the response is complete.
    End,
    /// Any other frame (a log line, a failure, ...).
    Other,
    /// Nothing: the daemon socket has run dry.
    Nothing,
}

/// What to do about body bytes passed on without a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Flush them now.
    Now,
    /// Not yet: the daemon is still sending; decide again once what has
    /// arrived is handled.
    NotYet,
    /// Wait up to this long for the daemon to send more; flush if it sends
    /// nothing in that time, otherwise decide again.
    After(Duration),
}

/// The rule, with `delay` the group's `response-flush-delay`. A zero
/// delay flushes on any stall, as mod_wsgi 4.9 did and 6.0.2 does with
/// `response-flush-delay=0`. Before the end of the response the bytes
/// are flushed too, as mod_wsgi flushes before its end-of-stream.
pub fn decide(arrived: Arrived, delay: Duration) -> Flush {
    match arrived {
        Arrived::Body | Arrived::Other => Flush::NotYet,
        Arrived::End => Flush::Now,
        Arrived::Nothing if delay.is_zero() => Flush::Now,
        Arrived::Nothing => Flush::After(delay),
    }
}

#[cfg(test)]
mod tests {
    use super::{Arrived, Flush, decide};
    use std::time::Duration;

    const MS5: Duration = Duration::from_millis(5);

    #[test]
    fn more_of_the_response_already_here_is_no_stall() {
        for delay in [Duration::ZERO, MS5] {
            assert_eq!(decide(Arrived::Body, delay), Flush::NotYet);
            assert_eq!(decide(Arrived::Other, delay), Flush::NotYet);
        }
    }

    #[test]
    fn a_dry_socket_waits_the_delay_before_a_flush() {
        assert_eq!(decide(Arrived::Nothing, MS5), Flush::After(MS5));
        assert_eq!(decide(Arrived::Nothing, Duration::from_secs(2)), Flush::After(Duration::from_secs(2)));
    }

    #[test]
    fn without_a_delay_any_stall_flushes() {
        assert_eq!(decide(Arrived::Nothing, Duration::ZERO), Flush::Now);
    }

    #[test]
    fn the_end_of_the_response_flushes_at_once() {
        assert_eq!(decide(Arrived::End, Duration::ZERO), Flush::Now);
        assert_eq!(decide(Arrived::End, MS5), Flush::Now);
    }
}
