//! Reading a free-text address: finding the region names in it, then choosing the region
//! that they agree on best.
//!
//! Each name found offers its candidate regions. A candidate is backed by every name that
//! stands for it or for a region containing it, so in "吉林省长春市朝阳区" the district
//! 220104 is backed three times and Beijing's 朝阳区 once. Official names (深圳市) weigh
//! twice as much as short forms (深圳), which also turn up in people's names and in shop
//! names. Between candidates of equal weight:
//! - the one whose names sit next to each other wins: in "刘长春 北京朝阳区" the names 北京
//!   and 朝阳区 form one run, while 长春 stands apart, in the customer's name;
//! - then the one backed by the earlier names, so a later name counts only when it belongs
//!   to the ones before it: "广东省朝阳区" is 广东;
//! - then, when the very same names back a city and some districts, the city and the
//!   districts as prominent as a city (see [`is_prominent`]): a bare "西安" is the city, not
//!   the 西安区 of Liaoyuan or Mudanjiang.
//!
//! Candidates still equal are all answered, and the caller reports them as ambiguous. A
//! place outside the tables (香港, 澳门, 台湾) named at least as strongly as the best
//! candidate leaves the address unresolved.
//!
//! TODO: an address that runs a city's 市 into the next name (青岛市南区, meant as 青岛市
//! 市南区) is read as the city alone, because the automaton takes 青岛市 whole; such
//! addresses resolve one level too high.

use std::cmp::Ordering;

use super::RegionLevel;
use super::index::{NameEntry, NameIndex, contains, is_prominent};
use super::table::Division;

/// Endings of street names. A short name right before one of these, or before a direction or
/// number and then one of these, is part of a street's name ("北京路", "南京东路",
/// "中山五路"), not a region.
const STREET_ENDINGS: [&str; 7] = ["路", "街", "巷", "道", "弄", "大道", "大街"];

/// Words that may sit between a street's name and its ending: 南京东路, 中山五路.
#[rustfmt::skip]
const STREET_QUALIFIERS: [char; 15] = [
    '东', '西', '南', '北', '中', '一', '二', '三', '四', '五', '六', '七', '八', '九', '十',
];

/// Endings of village and town names: a short name right before one of these ("龙江镇") names
/// the village or town, not the region of the same name.
const PLACE_ENDINGS: [&str; 3] = ["村", "镇", "乡"];

/// The most names read from one address; any beyond are ignored, which real addresses never
/// reach.
const MAX_MENTIONS: usize = 64;

/// A name found in the address: where it starts and ends (in bytes), and its index entry.
#[derive(Clone, Copy, Debug)]
struct Mention {
    start: usize,
    end: usize,
    entry: usize,
}

/// How strongly the names in an address back one candidate, ordered field by field: the
/// weight of the names, then how many of them directly follow another, then how early they
/// are (`earliness` has bit 63 set for the first name found, bit 62 for the second, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Backing {
    weight: u32,
    runs: u32,
    earliness: u64,
}

/// The divisions the address names best, as indexes into `divisions` in ascending order:
/// none when it names nothing, one when it is clear, several when it is ambiguous.
pub(super) fn best_divisions(
    divisions: &[Division],
    index: &NameIndex,
    address: &str,
) -> Vec<usize> {
    let mentions = find_mentions(index, address);
    let (best, chosen) = strongest_candidates(divisions, index, address, &mentions);
    match best {
        Some(best) if !outside_outweighs(index, &mentions, best) => {
            most_specific(divisions, prefer_prominent(divisions, chosen))
        }
        _ => Vec::new(),
    }
}

/// The candidates with the strongest backing, and that backing.
fn strongest_candidates(
    divisions: &[Division],
    index: &NameIndex,
    address: &str,
    mentions: &[Mention],
) -> (Option<Backing>, Vec<usize>) {
    let mut best: Option<Backing> = None;
    let mut chosen: Vec<usize> = Vec::new();
    for mention in mentions {
        for &candidate in &index.entries[mention.entry].candidates {
            let Some(backing) = backing(divisions, index, address, mentions, candidate) else {
                continue;
            };
            match Some(backing).cmp(&best) {
                Ordering::Greater => {
                    best = Some(backing);
                    chosen.clear();
                    chosen.push(candidate);
                }
                Ordering::Equal if !chosen.contains(&candidate) => chosen.push(candidate),
                _ => {}
            }
        }
    }
    (best, chosen)
}

/// Among equally backed candidates that include a province or city, keeps only the
/// prominent ones: ordinary districts that merely share the city's short name drop out.
fn prefer_prominent(divisions: &[Division], mut chosen: Vec<usize>) -> Vec<usize> {
    let names_a_city = chosen
        .iter()
        .any(|&c| divisions[c].code.level() != RegionLevel::District);
    if names_a_city {
        chosen.retain(|&c| is_prominent(divisions, c));
    }
    chosen
}

/// Whether a place outside the tables (香港) is named at least as strongly as the best
/// region, as in "香港九龙", where 九龙 would otherwise be read as 九龙县 in Sichuan.
fn outside_outweighs(index: &NameIndex, mentions: &[Mention], best: Backing) -> bool {
    mentions.iter().enumerate().any(|(position, mention)| {
        let entry = &index.entries[mention.entry];
        let backing = Backing {
            weight: weight(entry),
            runs: 0,
            earliness: 1 << (63 - position),
        };
        entry.candidates.is_empty() && backing >= best
    })
}

/// The region names in the address, in order. Short names that begin a street, village or
/// town name are left out.
fn find_mentions(index: &NameIndex, address: &str) -> Vec<Mention> {
    index
        .matcher
        .find_iter(address)
        .filter(|found| {
            let short = index.entries[found.pattern().as_usize()].short;
            !(short && begins_street(&address[found.end()..]))
        })
        .take(MAX_MENTIONS)
        .map(|found| Mention {
            start: found.start(),
            end: found.end(),
            entry: found.pattern().as_usize(),
        })
        .collect()
}

/// Whether the text right after a name shows the name to be part of a street, village or
/// town name.
fn begins_street(rest: &str) -> bool {
    let after_qualifier = rest.strip_prefix(STREET_QUALIFIERS).unwrap_or(rest);
    let starts_with_any =
        |text: &str, endings: &[&str]| endings.iter().any(|e| text.starts_with(e));
    starts_with_any(after_qualifier, &STREET_ENDINGS) || starts_with_any(rest, &PLACE_ENDINGS)
}

/// How the mentions back `candidate`, or `None` when only everyday words (城区, 光明) do.
fn backing(
    divisions: &[Division],
    index: &NameIndex,
    address: &str,
    mentions: &[Mention],
    candidate: usize,
) -> Option<Backing> {
    let lineage = lineage(divisions, candidate);
    let mut backing = Backing {
        weight: 0,
        runs: 0,
        earliness: 0,
    };
    let mut plain = false;
    let mut previous_end: Option<usize> = None;
    for (position, mention) in mentions.iter().enumerate() {
        let entry = &index.entries[mention.entry];
        if !entry.candidates.iter().any(|c| lineage.contains(&Some(*c))) {
            continue;
        }
        backing.weight += weight(entry);
        backing.earliness |= 1 << (63 - position);
        if previous_end.is_some_and(|end| only_separators(&address[end..mention.start])) {
            backing.runs += 1;
        }
        previous_end = Some(mention.end);
        plain |= !entry.common_word;
    }
    plain.then_some(backing)
}

/// What a name weighs: official names twice as much as short forms.
fn weight(entry: &NameEntry) -> u32 {
    if entry.short { 1 } else { 2 }
}

/// Whether the text between two names holds nothing but spaces and punctuation.
fn only_separators(gap: &str) -> bool {
    gap.chars().all(|c| !c.is_alphanumeric())
}

/// The division and the divisions that contain it (at most three levels).
fn lineage(divisions: &[Division], index: usize) -> [Option<usize>; 3] {
    let mut lineage = [None; 3];
    let chain = std::iter::successors(Some(index), |&i| divisions[i].parent);
    for (slot, division) in lineage.iter_mut().zip(chain) {
        *slot = Some(division);
    }
    lineage
}

/// Drops any chosen division that contains another chosen one, keeping the inner one.
fn most_specific(divisions: &[Division], chosen: Vec<usize>) -> Vec<usize> {
    let contains_another = |outer: usize| {
        chosen
            .iter()
            .any(|&inner| inner != outer && contains(divisions, outer, inner))
    };
    let mut kept: Vec<usize> = chosen
        .iter()
        .copied()
        .filter(|&c| !contains_another(c))
        .collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_followed_by_a_street_ending_begins_a_street() {
        assert!(begins_street("路88号"));
        assert!(begins_street("东路100号"));
        assert!(begins_street("五路12号"));
        assert!(begins_street("大道南1001号"));
        assert!(begins_street("镇人民路"));
    }

    #[test]
    fn a_name_followed_by_anything_else_does_not() {
        assert!(!begins_street("区科技园"));
        assert!(!begins_street("市"));
        assert!(!begins_street(""));
        assert!(!begins_street("中心大厦"));
        assert!(!begins_street("东乡区"));
    }
}
