//! The name index: every official name and every safe short form, each pointing at the
//! divisions it may stand for, behind one Aho-Corasick automaton that finds them in text.
//!
//! The automaton runs leftmost-longest, so of two names that overlap in the text the one that
//! starts first wins, and of two that start together the longer wins. "黑龙江省" is therefore
//! read whole and never as 龙江 (a county), and "深圳市" before 深圳.

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::names;
use super::table::Division;

/// Informal province names that suffix rules cannot derive.
const PROVINCE_ALIASES: [(&str, &str); 1] = [("内蒙", "15")];

/// What one name in the index stands for.
#[derive(Debug)]
pub(super) struct NameEntry {
    /// Indexes into the division list, in ascending order. Empty for a place outside the
    /// tables (香港), whose name must still be recognised so that its districts (九龙) are
    /// not read as namesakes on the mainland.
    pub candidates: Vec<usize>,
    /// Whether the name is a short form only (深圳), never an official name (深圳市).
    pub short: bool,
    /// Whether the name is also an everyday word and needs a containing region beside it.
    pub common_word: bool,
}

/// The names and the automaton that finds them; pattern `i` of the automaton is entry `i`.
#[derive(Debug)]
pub(super) struct NameIndex {
    pub matcher: AhoCorasick,
    pub entries: Vec<NameEntry>,
}

/// Names being gathered: for each, its divisions and whether it is a short form only.
type Names = BTreeMap<String, (Vec<usize>, bool)>;

/// Builds the index over the divisions the tables list.
pub(super) fn build(divisions: &[Division]) -> Result<NameIndex, aho_corasick::BuildError> {
    let mut by_name = Names::new();
    for (index, division) in divisions.iter().enumerate() {
        add_names(&mut by_name, index, division);
    }
    add_aliases(&mut by_name, divisions);
    for (name, short) in names::OUTSIDE_THE_TABLES {
        record(&mut by_name, name, short);
    }

    let entries = by_name
        .iter()
        .map(|(name, (candidates, short))| NameEntry {
            candidates: prune(candidates.clone(), divisions),
            short: *short,
            common_word: names::is_common_word(name),
        })
        .collect();
    let matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(by_name.keys())?;
    Ok(NameIndex { matcher, entries })
}

/// Adds a division's official name and its short forms. Placeholders (市辖区, 县) are left
/// out: they name no place of their own. An autonomous prefecture is also known by its short
/// name and 州 ("延边州", "海南州"), which keeps 海南州 apart from the province 海南.
fn add_names(by_name: &mut Names, index: usize, division: &Division) {
    let name = division.own_name.as_str();
    if names::is_placeholder(name) {
        return;
    }
    add(by_name, name, index, false);
    if is_functional_zone(division) {
        return;
    }
    let Some(short) = names::short_name(name) else {
        return;
    };
    add(by_name, short, index, true);
    if name.ends_with("自治州") {
        add(by_name, &format!("{short}州"), index, true);
    }
}

/// Whether a division is a functional zone rather than an administrative district: codes
/// with a fifth digit of 7 (220171 长春经济技术开发区, 130372 北戴河新区) number the
/// development zones, new areas and management areas listed beside the districts. They keep
/// their official names but get no short form, so "北戴河" stays the district 北戴河区 and
/// "长春" is never read as one of the zones named after the city.
fn is_functional_zone(division: &Division) -> bool {
    let code = division.code.as_str();
    code.len() == 6 && code.as_bytes()[4] == b'7'
}

fn add_aliases(by_name: &mut Names, divisions: &[Division]) {
    for (alias, code) in PROVINCE_ALIASES {
        if let Some(index) = divisions.iter().position(|d| d.code.as_str() == code) {
            add(by_name, alias, index, true);
        }
    }
}

/// Records that `name` may stand for division `index`.
fn add(by_name: &mut Names, name: &str, index: usize, short: bool) {
    let candidates = record(by_name, name, short);
    if !candidates.contains(&index) {
        candidates.push(index);
    }
}

/// Records `name` and answers its divisions so far. A name that is official for any of its
/// divisions counts as official.
fn record<'a>(by_name: &'a mut Names, name: &str, short: bool) -> &'a mut Vec<usize> {
    let (candidates, all_short) = by_name.entry(name.to_owned()).or_insert((Vec::new(), true));
    *all_short &= short;
    candidates
}

/// Settles names that stand for several divisions at once, where one reading is plainly the
/// one people mean:
/// - a province's name belongs to the province alone: "河北" is the province, not 河北区 in
///   Tianjin, and "海南" is not 海南藏族自治州;
/// - when a name stands for a region and for one inside it, the outer one is meant ("恩施" is
///   the prefecture, not the city 恩施市), unless both carry the very same official name: the
///   district 东莞市 is then the more specific reading of the city 东莞市.
fn prune(mut candidates: Vec<usize>, divisions: &[Division]) -> Vec<usize> {
    if candidates.iter().any(|&c| divisions[c].parent.is_none()) {
        candidates.retain(|&c| divisions[c].parent.is_none());
    }
    let inner_of = |outer: usize, inner: usize| outer != inner && contains(divisions, outer, inner);
    let same_name = |a: usize, b: usize| divisions[a].own_name == divisions[b].own_name;
    let snapshot = candidates.clone();
    candidates.retain(|&c| {
        let drop_as_outer = snapshot.iter().any(|&d| inner_of(c, d) && same_name(c, d));
        let drop_as_inner = snapshot.iter().any(|&d| inner_of(d, c) && !same_name(c, d));
        !drop_as_outer && !drop_as_inner
    });
    candidates.sort_unstable();
    candidates
}

/// Whether a bare name is readily taken to mean this division: a province, a city, or a
/// county-level unit that reports straight to a province or municipality (仙桃市, 北京's
/// 朝阳区). People drop 市 from a city's name all the time ("西安"), but rarely drop 区 from
/// an ordinary district's name without naming its city first.
pub(super) fn is_prominent(divisions: &[Division], index: usize) -> bool {
    match divisions[index].parent {
        None => true,
        Some(parent) => {
            let parent = &divisions[parent];
            parent.parent.is_none() || names::is_placeholder(&parent.own_name)
        }
    }
}

/// Whether division `outer` is `inner` or one of the divisions that contain it.
pub(super) fn contains(divisions: &[Division], outer: usize, inner: usize) -> bool {
    std::iter::successors(Some(inner), |&index| divisions[index].parent).any(|i| i == outer)
}

#[cfg(test)]
mod tests {
    use super::super::table;
    use super::*;

    fn codes_for(name: &str) -> Vec<String> {
        let divisions = table::parse(&table::embedded()).expect("the embedded tables parse");
        let index = build(&divisions).expect("the index builds");
        let position = index
            .matcher
            .find(name)
            .filter(|found| found.len() == name.len())
            .expect("the name is in the index");
        let entry = &index.entries[position.pattern().as_usize()];
        entry
            .candidates
            .iter()
            .map(|&c| divisions[c].code.to_string())
            .collect()
    }

    #[test]
    fn a_province_short_name_stands_for_the_province_only() {
        assert_eq!(codes_for("河北"), ["13"]);
        assert_eq!(codes_for("海南"), ["46"]);
        assert_eq!(codes_for("吉林"), ["22"]);
    }

    #[test]
    fn a_short_name_shared_by_a_city_and_its_own_county_stands_for_the_city() {
        assert_eq!(codes_for("恩施"), ["4228"]);
        assert_eq!(codes_for("长沙"), ["4301"]);
    }

    #[test]
    fn a_city_listed_again_as_its_own_district_stands_for_the_district() {
        assert_eq!(codes_for("东莞市"), ["441900"]);
        assert_eq!(codes_for("嘉峪关"), ["620201"]);
    }

    #[test]
    fn an_autonomous_prefecture_is_known_by_its_short_name_and_zhou() {
        assert_eq!(codes_for("海南州"), ["6325"]);
        assert_eq!(codes_for("延边州"), ["2224"]);
    }

    #[test]
    fn functional_zones_lend_no_short_form_to_the_districts_they_are_named_after() {
        assert_eq!(codes_for("北戴河"), ["130304"]);
        assert_eq!(codes_for("北戴河新区"), ["130372"]);
        assert_eq!(codes_for("下花园"), ["130706"]);
    }

    #[test]
    fn places_outside_the_tables_are_known_by_name_but_stand_for_no_division() {
        assert!(codes_for("香港").is_empty());
        assert!(codes_for("台湾省").is_empty());
    }

    #[test]
    fn a_name_shared_by_regions_apart_keeps_every_candidate() {
        assert_eq!(codes_for("朝阳区"), ["110105", "220104"]);
        assert_eq!(codes_for("朝阳"), ["2113", "110105", "220104"]);
    }
}
