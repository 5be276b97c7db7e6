//! Positions in O(log n): per queue and priority, a Fenwick tree over the
//! order in which tasks entered (slots), counting the tasks still waiting.

use std::collections::BTreeMap;
use std::ops::Bound;

/// Below this many slots a tree is never compacted.
const MIN_COMPACT: usize = 1024;

/// Counts of live slots, appended in entry order.
#[derive(Debug, Default)]
pub(crate) struct Fenwick {
    /// 1-based Fenwick array stored from index 0.
    tree: Vec<u32>,
    live: usize,
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Fenwick {
    /// Live slots before `slot`.
    pub fn before(&self, slot: usize) -> usize {
        let mut i = slot.min(self.tree.len());
        let mut sum = 0usize;
        while i > 0 {
            sum += self.tree[i - 1] as usize;
            i &= i - 1;
        }
        sum
    }

    /// Appends a live slot and returns it.
    pub fn push(&mut self) -> usize {
        let n = self.tree.len() + 1;
        let covered = self.before(n - 1) - self.before(n - lowbit(n));
        self.tree
            .push(u32::try_from(covered + 1).unwrap_or(u32::MAX));
        self.live += 1;
        n - 1
    }

    /// Marks `slot` as gone (once per slot).
    pub fn remove(&mut self, slot: usize) {
        let mut i = slot + 1;
        if i > self.tree.len() {
            return;
        }
        while i <= self.tree.len() {
            self.tree[i - 1] = self.tree[i - 1].saturating_sub(1);
            i += lowbit(i);
        }
        self.live = self.live.saturating_sub(1);
    }

    /// Whether most slots are dead, so renumbering pays off.
    pub fn sparse(&self) -> bool {
        self.tree.len() >= MIN_COMPACT && self.tree.len() > 4 * self.live
    }

    /// A tree of `live` live slots `0..live`.
    pub fn full(live: usize) -> Self {
        Self {
            tree: (1..=live).map(|i| lowbit(i) as u32).collect(),
            live,
        }
    }
}

/// Per priority, the live entries of one queue.
#[derive(Debug, Default)]
pub(crate) struct Ranks {
    by_priority: BTreeMap<i32, Fenwick>,
}

impl Ranks {
    /// A new entry with `priority`; returns its slot.
    pub fn push(&mut self, priority: i32) -> usize {
        self.by_priority.entry(priority).or_default().push()
    }

    /// The entry leaves. Returns true when the priority's slots should be
    /// renumbered with [`Ranks::renumber`].
    pub fn remove(&mut self, priority: i32, slot: usize) -> bool {
        let Some(tree) = self.by_priority.get_mut(&priority) else {
            return false;
        };
        tree.remove(slot);
        if tree.live == 0 {
            self.by_priority.remove(&priority);
            return false;
        }
        tree.sparse()
    }

    /// Replaces the priority's slots with `0..live` (the caller renumbers
    /// its entries in entry order).
    pub fn renumber(&mut self, priority: i32, live: usize) {
        self.by_priority.insert(priority, Fenwick::full(live));
    }

    /// 1-based position of the entry: every higher priority first, then the
    /// entries of its priority that entered before it.
    pub fn position(&self, priority: i32, slot: usize) -> usize {
        let higher: usize = self
            .by_priority
            .range((Bound::Excluded(priority), Bound::Unbounded))
            .map(|(_, t)| t.live)
            .sum();
        let before = self
            .by_priority
            .get(&priority)
            .map_or(0, |t| t.before(slot));
        higher + before + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenwick_counts_live_slots_before() {
        let mut f = Fenwick::default();
        let slots: Vec<usize> = (0..100).map(|_| f.push()).collect();
        assert_eq!(slots, (0..100).collect::<Vec<_>>());
        for s in (0..100).step_by(3) {
            f.remove(s);
        }
        for s in 0..100 {
            let expected = (0..s).filter(|x| x % 3 != 0).count();
            assert_eq!(f.before(s), expected, "slot {s}");
        }
        let full = Fenwick::full(37);
        for s in 0..37 {
            assert_eq!(full.before(s), s);
        }
    }

    #[test]
    fn positions_go_by_priority_then_entry() {
        let mut r = Ranks::default();
        let a = r.push(0);
        let b = r.push(5);
        let c = r.push(0);
        assert_eq!(r.position(5, b), 1);
        assert_eq!(r.position(0, a), 2);
        assert_eq!(r.position(0, c), 3);
        r.remove(0, a);
        assert_eq!(r.position(0, c), 2);
    }
}
