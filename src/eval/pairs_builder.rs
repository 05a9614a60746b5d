//! A balanced, seeded, 10-fold pairs list built from a folder per identity (pure logic), for data
//! sets that ship photos but no pairs: masked-face sets such as RMFD or MFR2, a lab's own photos.
//!
//! Folds are identity-disjoint, as LFW View 2's are: each identity belongs to one fold and a
//! fold's pairs use only its identities, so the threshold learnt on nine folds never saw the
//! tenth fold's people. Every fold holds the same number of same-person pairs and of
//! different-people pairs. Written fold after fold (its same pairs, then its different ones), the
//! stratified reading of a CSV pairs file ([`super::folds::fold_order`]) gives back these folds.
//!
//! Same-person pairs are spread over a fold's identities: round after round, each identity (in
//! seeded order) gives its next pair, so people with many photos do not fill the fold. Different-
//! people pairs take the first identity round-robin as well, the second identity and both photos
//! at random, never twice the same pair. With a masked set, every pair is an unmasked photo first
//! and a masked one second (the image `eval` treats as the occluded one).

use std::collections::{BTreeMap, HashSet};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::folds::FOLDS;
use super::identification::LabelledImage;

/// Same-person (and different-people) pairs per fold unless asked otherwise: LFW View 2's 300.
pub const DEFAULT_PER_FOLD: usize = 300;
/// A class of pairs with at most this many times the pairs wanted is listed whole and shuffled;
/// a larger one is sampled (listing every pair of a big set would take gigabytes).
const LIST_WHOLE_FACTOR: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairsBuildError {
    #[error(
        "{usable} identities can form pairs; {FOLDS} identity-disjoint folds need at least {} (two a fold)",
        2 * FOLDS
    )]
    TooFewIdentities { usable: usize },
    #[error("no photo matched the masked-photo pattern, so no pair can have a masked second photo")]
    NoMaskedPhotos,
    #[error("every photo matched the masked-photo pattern, so no pair can have an unmasked first photo")]
    NoUnmaskedPhotos,
    #[error(
        "fold {fold} can form only {same} same-person and {different} different-people pairs, fewer than the {wanted} asked for (at most {most} fit every fold)"
    )]
    FoldTooSmall { fold: usize, same: usize, different: usize, wanted: usize, most: usize },
    #[error("some fold can form no same-person pair: identities need two photos (or one unmasked and one masked)")]
    NoSamePairs,
}

/// One pair of photo indices (into the list given to [`build_pairs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltPair {
    pub a: usize,
    pub b: usize,
    pub same: bool,
    /// 0-based fold.
    pub fold: usize,
}

/// What [`build_pairs`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltPairs {
    /// Same-person pairs per fold, and as many different-people pairs.
    pub per_fold: usize,
    /// In file order: fold after fold, its same pairs, then its different pairs.
    pub pairs: Vec<BuiltPair>,
    /// Identities placed in each fold.
    pub identities_per_fold: Vec<usize>,
    /// Identities that appear in at least one pair.
    pub identities_used: usize,
}

/// The photos of one identity, by side: `first` may open a pair, `second` may close it. In a
/// plain set both are every photo; in a masked set `first` the unmasked ones, `second` the masked.
struct Person {
    first: Vec<usize>,
    second: Vec<usize>,
}

impl Person {
    /// Distinct same-person pairs it can give.
    fn same_capacity(&self, masked: bool) -> usize {
        if masked {
            self.first.len() * self.second.len()
        } else {
            self.first.len() * self.first.len().saturating_sub(1) / 2
        }
    }
}

/// Balanced, identity-disjoint 10-fold pairs over `photos` (see the module notes). `masked[i]`
/// says whether photo `i` is masked (`None`: no masked/unmasked split). `per_fold`: same-person
/// pairs a fold (`None`: [`DEFAULT_PER_FOLD`], or fewer if some fold cannot give that many).
pub fn build_pairs(
    photos: &[LabelledImage],
    masked: Option<&[bool]>,
    per_fold: Option<usize>,
    seed: u64,
) -> Result<BuiltPairs, PairsBuildError> {
    assert!(masked.is_none_or(|m| m.len() == photos.len()), "one masked flag a photo");
    let split = masked.is_some();
    if let Some(flags) = masked {
        if !flags.iter().any(|&m| m) {
            return Err(PairsBuildError::NoMaskedPhotos);
        }
        if flags.iter().all(|&m| m) {
            return Err(PairsBuildError::NoUnmaskedPhotos);
        }
    }
    // Identities in name order first, so the seed alone decides everything after.
    let mut by_identity: BTreeMap<&str, Person> = BTreeMap::new();
    for (i, photo) in photos.iter().enumerate() {
        let person = by_identity.entry(&photo.identity).or_insert(Person { first: Vec::new(), second: Vec::new() });
        match masked {
            Some(flags) if flags[i] => person.second.push(i),
            Some(_) => person.first.push(i),
            None => {
                person.first.push(i);
                person.second.push(i);
            }
        }
    }
    let mut people: Vec<Person> =
        by_identity.into_values().filter(|p| !p.first.is_empty() || !p.second.is_empty()).collect();
    if people.len() < 2 * FOLDS {
        return Err(PairsBuildError::TooFewIdentities { usable: people.len() });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    people.shuffle(&mut rng);
    let folds = assign_folds(&people, split);

    let capacities: Vec<(usize, usize)> = folds.iter().map(|f| fold_capacity(&people, f, split)).collect();
    let most = capacities.iter().map(|&(s, d)| s.min(d)).min().unwrap_or(0);
    let per_fold = match per_fold {
        Some(wanted) => {
            if let Some(fold) = capacities.iter().position(|&(s, d)| s.min(d) < wanted) {
                let (same, different) = capacities[fold];
                return Err(PairsBuildError::FoldTooSmall { fold: fold + 1, same, different, wanted, most });
            }
            wanted
        }
        None => most.min(DEFAULT_PER_FOLD),
    };
    if per_fold == 0 {
        return Err(PairsBuildError::NoSamePairs);
    }

    let mut pairs = Vec::with_capacity(2 * FOLDS * per_fold);
    for (fold, members) in folds.iter().enumerate() {
        let same = same_pairs(&people, members, per_fold, split, &mut rng);
        let different = different_pairs(&people, members, per_fold, split, &mut rng);
        for &(a, b) in &same {
            pairs.push(BuiltPair { a, b, same: true, fold });
        }
        for &(a, b) in &different {
            pairs.push(BuiltPair { a, b, same: false, fold });
        }
    }
    let used: HashSet<&str> = pairs.iter().flat_map(|p| [&*photos[p.a].identity, &*photos[p.b].identity]).collect();
    Ok(BuiltPairs {
        per_fold,
        identities_used: used.len(),
        identities_per_fold: folds.iter().map(Vec::len).collect(),
        pairs,
    })
}

/// Identities (indices into `people`, already in seeded order) of each fold. Those that can give
/// same-person pairs go, largest first, to the fold with the fewest such pairs so far, which keeps
/// the folds' capacities even; the rest go to the fold with the fewest identities.
fn assign_folds(people: &[Person], split: bool) -> Vec<Vec<usize>> {
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); FOLDS];
    let mut capacity = [0usize; FOLDS];
    let mut order: Vec<usize> = (0..people.len()).collect();
    // Stable: equal capacities keep the seeded order.
    order.sort_by_key(|&p| std::cmp::Reverse(people[p].same_capacity(split)));
    for p in order {
        let cap = people[p].same_capacity(split);
        let fold = if cap > 0 {
            (0..FOLDS).min_by_key(|&f| (capacity[f], folds[f].len())).expect("ten folds")
        } else {
            (0..FOLDS).min_by_key(|&f| folds[f].len()).expect("ten folds")
        };
        capacity[fold] += cap;
        folds[fold].push(p);
    }
    folds
}

/// Distinct same-person and different-people pairs a fold can give.
fn fold_capacity(people: &[Person], members: &[usize], split: bool) -> (usize, usize) {
    let same = members.iter().map(|&p| people[p].same_capacity(split)).sum();
    let firsts: usize = members.iter().map(|&p| people[p].first.len()).sum();
    let seconds: usize = members.iter().map(|&p| people[p].second.len()).sum();
    let within: usize = members.iter().map(|&p| people[p].first.len() * people[p].second.len()).sum();
    // Ordered (first, second) pairs across identities; unordered when both sides are every photo.
    let across = firsts * seconds - within;
    (same, if split { across } else { across / 2 })
}

/// A pair's identity for duplicate checks: unordered unless the sides differ.
fn pair_key(a: usize, b: usize, split: bool) -> (usize, usize) {
    if split { (a, b) } else { (a.min(b), a.max(b)) }
}

/// Up to `wanted` distinct same-person pairs of one identity, in random order.
fn person_pairs(person: &Person, wanted: usize, split: bool, rng: &mut ChaCha8Rng) -> Vec<(usize, usize)> {
    let capacity = person.same_capacity(split);
    let wanted = wanted.min(capacity);
    if capacity <= LIST_WHOLE_FACTOR * wanted {
        let mut all: Vec<(usize, usize)> = if split {
            person.first.iter().flat_map(|&a| person.second.iter().map(move |&b| (a, b))).collect()
        } else {
            let photos = &person.first;
            (0..photos.len()).flat_map(|i| (i + 1..photos.len()).map(move |j| (photos[i], photos[j]))).collect()
        };
        all.shuffle(rng);
        all.truncate(wanted);
        return all;
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(wanted);
    while out.len() < wanted {
        let a = person.first[rng.random_range(0..person.first.len())];
        let b = person.second[rng.random_range(0..person.second.len())];
        if a != b && seen.insert(pair_key(a, b, split)) {
            out.push((a, b));
        }
    }
    out
}

/// `wanted` same-person pairs of a fold, taken one per identity per round.
fn same_pairs(
    people: &[Person],
    members: &[usize],
    wanted: usize,
    split: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<(usize, usize)> {
    let lists: Vec<Vec<(usize, usize)>> =
        members.iter().map(|&p| person_pairs(&people[p], wanted, split, rng)).collect();
    let mut out = Vec::with_capacity(wanted);
    let mut round = 0;
    while out.len() < wanted {
        assert!(round < wanted, "the fold's capacity was checked");
        for list in &lists {
            if let (Some(&pair), true) = (list.get(round), out.len() < wanted) {
                out.push(pair);
            }
        }
        round += 1;
    }
    out
}

/// `wanted` distinct different-people pairs of a fold.
fn different_pairs(
    people: &[Person],
    members: &[usize],
    wanted: usize,
    split: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<(usize, usize)> {
    let (_, capacity) = fold_capacity(people, members, split);
    if capacity <= LIST_WHOLE_FACTOR * wanted {
        let mut all = Vec::with_capacity(capacity);
        for (i, &x) in members.iter().enumerate() {
            for (j, &y) in members.iter().enumerate() {
                // Unordered pairs are listed once, from the earlier member.
                if i == j || (!split && j < i) {
                    continue;
                }
                for &a in &people[x].first {
                    all.extend(people[y].second.iter().map(|&b| (a, b)));
                }
            }
        }
        all.shuffle(rng);
        all.truncate(wanted);
        return all;
    }
    let openers: Vec<usize> = members.iter().copied().filter(|&p| !people[p].first.is_empty()).collect();
    let closers: Vec<usize> = members.iter().copied().filter(|&p| !people[p].second.is_empty()).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(wanted);
    for &x in openers.iter().cycle() {
        if out.len() == wanted {
            break;
        }
        let y = closers[rng.random_range(0..closers.len())];
        if y == x {
            continue;
        }
        let a = people[x].first[rng.random_range(0..people[x].first.len())];
        let b = people[y].second[rng.random_range(0..people[y].second.len())];
        if seen.insert(pair_key(a, b, split)) {
            out.push((a, b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::folds::{FoldScheme, fold_order};

    /// `ids` identities with `per_id(i)` photos each, named `idNN/NN.jpg`.
    fn photos(ids: usize, per_id: impl Fn(usize) -> usize) -> Vec<LabelledImage> {
        (0..ids)
            .flat_map(|i| {
                (0..per_id(i)).map(move |j| LabelledImage {
                    identity: format!("id{i:02}"),
                    path: format!("id{i:02}/{j:02}.jpg").into(),
                })
            })
            .collect()
    }

    #[test]
    fn folds_are_balanced_identity_disjoint_and_read_back_by_the_stratified_order() {
        let set = photos(40, |i| 2 + i % 5);
        let built = build_pairs(&set, None, Some(12), 7).unwrap();
        assert_eq!(built.per_fold, 12);
        assert_eq!(built.pairs.len(), 2 * FOLDS * 12);
        let mut fold_of = BTreeMap::new();
        let mut keys = HashSet::new();
        for pair in &built.pairs {
            let (a, b) = (&set[pair.a], &set[pair.b]);
            assert_ne!(pair.a, pair.b);
            assert_eq!(a.identity == b.identity, pair.same);
            for id in [&a.identity, &b.identity] {
                assert_eq!(*fold_of.entry(id.clone()).or_insert(pair.fold), pair.fold, "{id} in two folds");
            }
            assert!(keys.insert(pair_key(pair.a, pair.b, false)), "a pair twice");
        }
        for fold in 0..FOLDS {
            let of_fold: Vec<_> = built.pairs.iter().filter(|p| p.fold == fold).collect();
            assert_eq!(of_fold.iter().filter(|p| p.same).count(), 12);
            assert_eq!(of_fold.iter().filter(|p| !p.same).count(), 12);
        }
        // What eval does with the CSV: fold f of the stratified order is exactly fold f here.
        let same: Vec<bool> = built.pairs.iter().map(|p| p.same).collect();
        let order = fold_order(&same, FoldScheme::Stratified);
        for (position, &index) in order.iter().enumerate() {
            assert_eq!(built.pairs[index].fold, position / 24);
        }
        assert_eq!(built, build_pairs(&set, None, Some(12), 7).unwrap(), "the seed decides everything");
        assert_ne!(built.pairs, build_pairs(&set, None, Some(12), 8).unwrap().pairs);
    }

    #[test]
    fn a_masked_set_pairs_an_unmasked_photo_with_a_masked_one() {
        // Photo 0 of each identity unmasked, the rest masked (MFR2/RMFD style).
        let set = photos(30, |i| 2 + i % 3);
        let masked: Vec<bool> = set.iter().map(|p| !p.path.ends_with("00.jpg")).collect();
        let built = build_pairs(&set, Some(&masked), None, 1).unwrap();
        // Same pairs per identity: 1 unmasked x (1..3) masked; 3 identities a fold give 6 at most.
        assert!(built.per_fold >= 3, "{}", built.per_fold);
        for pair in &built.pairs {
            assert!(!masked[pair.a] && masked[pair.b], "{pair:?}");
        }
    }

    #[test]
    fn the_default_takes_what_every_fold_can_give_and_an_explicit_count_says_why_not() {
        // 20 identities of 2 photos: one same pair each, two identities a fold.
        let set = photos(20, |_| 2);
        assert_eq!(build_pairs(&set, None, None, 3).unwrap().per_fold, 2);
        match build_pairs(&set, None, Some(3), 3) {
            Err(PairsBuildError::FoldTooSmall { wanted: 3, most: 2, same: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            build_pairs(&photos(19, |_| 2), None, None, 3),
            Err(PairsBuildError::TooFewIdentities { usable: 19 })
        );
        assert_eq!(build_pairs(&photos(25, |_| 1), None, None, 3), Err(PairsBuildError::NoSamePairs));
        let set = photos(25, |_| 2);
        assert_eq!(build_pairs(&set, Some(&vec![false; set.len()]), None, 3), Err(PairsBuildError::NoMaskedPhotos));
    }

    #[test]
    fn large_identities_are_sampled_without_repeats() {
        // 600 photos an identity: 179,700 same pairs each, far past what is listed whole.
        let set = photos(20, |_| 600);
        let built = build_pairs(&set, None, Some(300), 11).unwrap();
        let keys: HashSet<_> = built.pairs.iter().map(|p| pair_key(p.a, p.b, false)).collect();
        assert_eq!(keys.len(), built.pairs.len());
        assert!(built.pairs.iter().all(|p| (set[p.a].identity == set[p.b].identity) == p.same));
    }
}
