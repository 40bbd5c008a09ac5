//! Things a request needs for its duration (connection buffers, a
//! response window), kept for the process's later requests in slots
//! shared by its threads rather than one per thread: a process then holds
//! as many as requests were in flight at once, not one per thread that
//! ever served a request (32 threads a child, most of them idle).

use std::sync::Mutex;

/// Up to `N` kept items. A slot another thread holds at the moment is
/// passed over, never waited for: a thread preempted while it holds one
/// delays no other (on a busy machine a shared lock made threads spin). A slot whose
/// holder panicked (poisoned) is passed over too.
pub struct Spares<T, const N: usize> {
    slots: [Mutex<Option<T>>; N],
}

impl<T, const N: usize> Default for Spares<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Spares<T, N> {
    pub const fn new() -> Self {
        Self { slots: [const { Mutex::new(None) }; N] }
    }

    /// A kept item, the one in the lowest free slot: the same few are used
    /// again while requests come one at a time, their memory likely still
    /// in cache.
    pub fn take(&self) -> Option<T> {
        self.slots.iter().find_map(|slot| slot.try_lock().ok()?.take())
    }

    /// Keeps `item` in the lowest empty slot; drops it when none is.
    pub fn give_back(&self, item: T) {
        let mut item = Some(item);
        for slot in &self.slots {
            if let Ok(mut kept) = slot.try_lock()
                && kept.is_none()
            {
                *kept = item.take();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_its_slots_and_hands_out_the_lowest_first() {
        let spares = Spares::<u32, 2>::new();
        spares.give_back(1);
        spares.give_back(2);
        spares.give_back(3);
        assert_eq!(spares.take(), Some(1));
        assert_eq!(spares.take(), Some(2));
        assert_eq!(spares.take(), None);
    }

    #[test]
    fn a_slot_held_elsewhere_is_passed_over() {
        let spares = Spares::<u32, 2>::new();
        spares.give_back(1);
        let held = spares.slots[0].lock().unwrap();
        spares.give_back(2);
        assert_eq!(spares.take(), Some(2));
        drop(held);
        assert_eq!(spares.take(), Some(1));
    }
}
