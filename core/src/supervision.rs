//! How a daemon group's manager keeps its processes running: what its
//! processes tell it through the control pipe, and how long it waits
//! before starting again a process that died during start-up.

use std::time::Duration;

/// What a daemon process tells its manager. Encoded in
/// [`Control::LEN`] bytes, so one write to a pipe is atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Python is initialised and the process takes requests.
    Ready(i32),
    /// The process stops taking requests and wants a replacement now.
    Retiring(i32),
}

impl Control {
    pub const LEN: usize = 5;

    pub fn encode(self) -> [u8; Self::LEN] {
        let (kind, pid) = match self {
            Control::Ready(pid) => (b'R', pid),
            Control::Retiring(pid) => (b'X', pid),
        };
        let p = pid.to_le_bytes();
        [kind, p[0], p[1], p[2], p[3]]
    }

    /// The messages in `bytes`; a trailing partial message is left out.
    pub fn decode_all(bytes: &[u8]) -> impl Iterator<Item = Control> + '_ {
        bytes.chunks_exact(Self::LEN).filter_map(|c| {
            let pid = i32::from_le_bytes([c[1], c[2], c[3], c[4]]);
            match c[0] {
                b'R' => Some(Control::Ready(pid)),
                b'X' => Some(Control::Retiring(pid)),
                _ => None,
            }
        })
    }
}

/// The delay before starting a process again after start-up failures:
/// none while processes start, then 1 s doubling to 60 s, back to none
/// once a process has started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartBackoff {
    failures: u32,
}

impl StartBackoff {
    pub const FIRST: Duration = Duration::from_secs(1);
    pub const MOST: Duration = Duration::from_secs(60);

    /// Records a process that died before it was ready; returns how long
    /// to wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(16);
        (Self::FIRST * 2u32.pow(doublings)).min(Self::MOST)
    }

    /// A process became ready: start again at once from now on.
    pub fn started(&mut self) {
        self.failures = 0;
    }

    /// Start-up failures since a process was last ready.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_round_trip_and_ignore_a_partial_tail() {
        let mut bytes = Vec::new();
        for m in [Control::Ready(7), Control::Retiring(-1), Control::Retiring(i32::MAX)] {
            bytes.extend_from_slice(&m.encode());
        }
        bytes.extend_from_slice(&Control::Ready(9).encode()[..3]);
        let got: Vec<_> = Control::decode_all(&bytes).collect();
        assert_eq!(got, [Control::Ready(7), Control::Retiring(-1), Control::Retiring(i32::MAX)]);
    }

    #[test]
    fn unknown_kinds_are_skipped() {
        let mut bytes = vec![b'?', 1, 0, 0, 0];
        bytes.extend_from_slice(&Control::Ready(3).encode());
        assert_eq!(Control::decode_all(&bytes).collect::<Vec<_>>(), [Control::Ready(3)]);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute_and_resets_on_start() {
        let mut b = StartBackoff::default();
        let delays: Vec<u64> = (0..9).map(|_| b.failed().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.failures(), 9);
        b.started();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.failed(), Duration::from_secs(1));
    }

    #[test]
    fn backoff_never_overflows() {
        let mut b = StartBackoff { failures: u32::MAX - 1 };
        assert_eq!(b.failed(), StartBackoff::MOST);
        assert_eq!(b.failed(), StartBackoff::MOST);
    }

    #[test]
    fn fewer_than_ten_attempts_in_ten_seconds() {
        let mut b = StartBackoff::default();
        let (mut t, mut attempts) = (Duration::ZERO, 1);
        while t < Duration::from_secs(10) {
            t += b.failed();
            attempts += 1;
        }
        assert!(attempts < 10, "{attempts} attempts");
    }
}
