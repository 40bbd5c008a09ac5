//! A request's CGI-style variables: byte-string names and values in the
//! order the server gave them, the names in one buffer and the values in
//! another. A request has about fifty; four allocations instead of a
//! hundred show in the profile.

/// Names and values, in order. A later entry overrides an earlier one of
/// the same name, as in the environ built from them.
///
/// Names and values are kept apart, so that two requests' names (nearly
/// always the same, in the same order) compare in one go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Vars {
    names: Vec<u8>,
    values: Vec<u8>,
    /// Where each entry's name ends in `names`.
    name_ends: Vec<usize>,
    /// Where each entry's value ends in `values`.
    value_ends: Vec<usize>,
}

impl Vars {
    pub fn with_capacity(entries: usize, bytes: usize) -> Self {
        Self {
            names: Vec::with_capacity(bytes / 4),
            values: Vec::with_capacity(bytes),
            name_ends: Vec::with_capacity(entries),
            value_ends: Vec::with_capacity(entries),
        }
    }

    #[inline]
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        self.names.extend_from_slice(name);
        self.values.extend_from_slice(value);
        self.name_ends.push(self.names.len());
        self.value_ends.push(self.values.len());
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.name_ends.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.name_ends.is_empty()
    }

    #[inline]
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.len()).map(|i| self.entry(i))
    }

    /// The name and value of entry `i` (which must exist).
    #[inline]
    pub fn entry(&self, i: usize) -> (&[u8], &[u8]) {
        (self.name(i), self.value(i))
    }

    #[inline]
    fn name(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        &self.names[start..self.name_ends[i]]
    }

    #[inline]
    fn value(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.value_ends[i - 1] };
        &self.values[start..self.value_ends[i]]
    }

    /// Whether `other` has the same names in the same order.
    pub fn same_names(&self, other: &Vars) -> bool {
        self.name_ends == other.name_ends && self.names == other.names
    }

    /// The indexes of the entries whose values differ from `other`'s, which
    /// has the same names (see [`Vars::same_names`]).
    pub fn changed_from<'a>(&'a self, other: &'a Vars) -> impl Iterator<Item = usize> + 'a {
        let same = self.value_ends == other.value_ends && self.values == other.values;
        (0..if same { 0 } else { self.len() }).filter(move |&i| self.value(i) != other.value(i))
    }

    /// The value of the last entry called `name`.
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        (0..self.len()).rev().find(|&i| self.name(i) == name).map(|i| self.value(i))
    }

    /// The values of the last entries called each of `names`, in one pass.
    pub fn get_many<const N: usize>(&self, names: [&[u8]; N]) -> [Option<&[u8]>; N] {
        let mut found = [None; N];
        let mut left = N;
        for i in (0..self.len()).rev() {
            let name = self.name(i);
            for (want, slot) in names.iter().zip(found.iter_mut()) {
                if slot.is_none() && *want == name {
                    *slot = Some(self.value(i));
                    left -= 1;
                }
            }
            if left == 0 {
                break;
            }
        }
        found
    }

    /// Keeps the entries for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &[u8]) -> bool) {
        let mut kept = Self::with_capacity(self.len(), self.values.len());
        for (n, v) in self.iter() {
            if keep(n, v) {
                kept.push(n, v);
            }
        }
        *self = kept;
    }

    /// Makes `value` the only value of `name` (at the end of the order).
    pub fn set(&mut self, name: &[u8], value: &[u8]) {
        if self.iter().any(|(n, _)| n == name) {
            self.retain(|n, _| n != name);
        }
        self.push(name, value);
    }
}

impl<'a> FromIterator<(&'a [u8], &'a [u8])> for Vars {
    fn from_iter<I: IntoIterator<Item = (&'a [u8], &'a [u8])>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let (least, most) = iter.size_hint();
        // Room for a typical request's names and values, so pushing rarely grows.
        let mut vars = Self::with_capacity(most.unwrap_or(least) + 8, 4096);
        for (n, v) in iter {
            vars.push(n, v);
        }
        vars
    }
}

/// Whether an `HTTPS` variable's value means the request came over TLS.
pub fn is_https(value: &[u8]) -> bool {
    matches!(value, b"1" | b"on" | b"On" | b"ON")
}

#[cfg(test)]
mod tests {
    use super::{Vars, is_https};

    #[test]
    fn https_values() {
        for on in [&b"1"[..], b"on", b"On", b"ON"] {
            assert!(is_https(on));
        }
        for off in [&b"0"[..], b"off", b"", b"oN", b"yes"] {
            assert!(!is_https(off));
        }
    }

    fn sample() -> Vars {
        [(&b"A"[..], &b"1"[..]), (b"EMPTY", b""), (b"B", b"\xff\x00two"), (b"A", b"3")].into_iter().collect()
    }

    #[test]
    fn keeps_order_and_bytes() {
        let v = sample();
        let all: Vec<_> = v.iter().collect();
        assert_eq!(all, [(&b"A"[..], &b"1"[..]), (b"EMPTY", b""), (b"B", b"\xff\x00two"), (b"A", b"3")]);
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn the_last_entry_of_a_name_wins() {
        let v = sample();
        assert_eq!(v.get(b"A"), Some(&b"3"[..]));
        assert_eq!(v.get(b"EMPTY"), Some(&b""[..]));
        assert_eq!(v.get(b"MISSING"), None);
        // A name that is a prefix of another is not confused with it.
        assert_eq!(v.get(b"EMPT"), None);
    }

    #[test]
    fn get_many_finds_each_last_entry() {
        let v = sample();
        assert_eq!(
            v.get_many([b"A", b"B", b"MISSING", b"EMPTY"]),
            [Some(&b"3"[..]), Some(b"\xff\x00two"), None, Some(b"")]
        );
        assert_eq!(v.get_many([b"A", b"A"]), [Some(&b"3"[..]), Some(b"3")]);
    }

    #[test]
    fn set_replaces_every_entry_of_the_name() {
        let mut v = sample();
        v.set(b"A", b"new");
        let all: Vec<_> = v.iter().collect();
        assert_eq!(all, [(&b"EMPTY"[..], &b""[..]), (b"B", b"\xff\x00two"), (b"A", b"new")]);
        v.set(b"C", b"c");
        assert_eq!(v.get(b"C"), Some(&b"c"[..]));
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn compares_names_and_finds_changed_values() {
        let v = sample();
        let mut w = Vars::default();
        for (n, val) in v.iter() {
            w.push(n, if n == b"B" { b"other" } else { val });
        }
        assert!(v.same_names(&w) && w.same_names(&v));
        assert_eq!(w.changed_from(&v).collect::<Vec<_>>(), [2]);
        assert_eq!(v.changed_from(&v.clone()).count(), 0);
        // The same bytes cut differently are other names.
        let x: Vars = [(&b"AE"[..], &b"1"[..]), (b"MPTY", b""), (b"B", b""), (b"A", b"3")].into_iter().collect();
        assert!(!v.same_names(&x));
        let mut y = v.clone();
        y.push(b"C", b"");
        assert!(!v.same_names(&y));
    }

    #[test]
    fn retain_drops_what_it_is_told() {
        let mut v = sample();
        v.retain(|n, _| n != b"A");
        assert_eq!(v.iter().map(|(n, _)| n).collect::<Vec<_>>(), [&b"EMPTY"[..], b"B"]);
        assert_eq!(v.get(b"B"), Some(&b"\xff\x00two"[..]));
    }
}
