//! Things a request needs for its duration (connection buffers, a
//! response window), kept for the process's later requests in one list
//! shared by its threads rather than one per thread: a process then holds
//! as many as requests were in flight at once, not one per thread that
//! ever served a request (32 threads a child, most of them idle).

use parking_lot::Mutex;

pub struct Spares<T> {
    kept: Mutex<Vec<T>>,
    /// The most kept; more are dropped when given back.
    most: usize,
}

impl<T> Spares<T> {
    pub const fn new(most: usize) -> Self {
        Self { kept: Mutex::new(Vec::new()), most }
    }

    /// The one given back last (its memory likely still in cache).
    pub fn take(&self) -> Option<T> {
        self.kept.lock().pop()
    }

    /// Keeps `item` unless as many are kept already (then it drops here,
    /// outside the lock).
    pub fn give_back(&self, item: T) {
        let mut kept = self.kept.lock();
        if kept.len() < self.most {
            kept.push(item);
        } else {
            drop(kept);
            drop(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_its_limit_and_hands_out_the_last_first() {
        let spares = Spares::new(2);
        spares.give_back(1);
        spares.give_back(2);
        spares.give_back(3);
        assert_eq!(spares.take(), Some(2));
        assert_eq!(spares.take(), Some(1));
        assert_eq!(spares.take(), None);
    }
}
