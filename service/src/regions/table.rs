//! The GB/T 2260 tables embedded in the binary, and their parsing into one flat list of
//! divisions in which every city and district points at its parent.
//!
//! The files are the ones in `data/regions/` at the root of the repository. Each row is
//! `code,"name",parent codes…`; names never contain a comma or a quote, so a full CSV
//! reader would buy nothing.

use std::collections::HashMap;

use super::code::RegionCode;
use super::names;

const PROVINCES: &str = include_str!("../../../data/regions/provinces.csv");
const CITIES: &str = include_str!("../../../data/regions/cities.csv");
const AREAS: &str = include_str!("../../../data/regions/areas.csv");

/// One province, city or district as the tables list it.
#[derive(Debug)]
pub(super) struct Division {
    pub code: RegionCode,
    /// The name in its own row, such as "南山区" or the placeholder "市辖区".
    pub own_name: String,
    /// The name from the province down, as [`super::Region::name`] shows it.
    pub full_name: String,
    /// The index of the containing division in the list; `None` for a province.
    pub parent: Option<usize>,
}

/// A row of the embedded tables that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}, line {line}: {reason}")]
pub(super) struct TableError {
    file: &'static str,
    line: usize,
    reason: String,
}

/// The three embedded tables, in the order parents come before children.
pub(super) fn embedded() -> [(&'static str, &'static str); 3] {
    [
        ("provinces.csv", PROVINCES),
        ("cities.csv", CITIES),
        ("areas.csv", AREAS),
    ]
}

/// Reads tables given parents first, and answers every division with its parent linked.
pub(super) fn parse(tables: &[(&'static str, &str)]) -> Result<Vec<Division>, TableError> {
    let mut divisions: Vec<Division> = Vec::new();
    let mut by_code: HashMap<String, usize> = HashMap::new();
    for &(file, text) in tables {
        for (number, line) in text.lines().enumerate().skip(1) {
            let fail = |reason: String| TableError {
                file,
                line: number + 1,
                reason,
            };
            let division = parse_row(line, &by_code, &divisions).map_err(fail)?;
            by_code.insert(division.code.as_str().to_owned(), divisions.len());
            divisions.push(division);
        }
    }
    Ok(divisions)
}

/// Reads one row; its parent must already be in `divisions`. The columns after the name hold
/// the codes of the containing city and province, which must agree with the row's own code.
fn parse_row(
    line: &str,
    by_code: &HashMap<String, usize>,
    divisions: &[Division],
) -> Result<Division, String> {
    let mut fields = line.split(',');
    let code = RegionCode::parse(fields.next().unwrap_or_default())?;
    let own_name = fields
        .next()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    if own_name.is_empty() {
        return Err("the name is missing".to_owned());
    }
    if fields.any(|parent_code| !code.as_str().starts_with(parent_code)) {
        return Err("a parent code disagrees with the row's code".to_owned());
    }
    let parent = code
        .parent()
        .map(|parent| {
            by_code
                .get(parent.as_str())
                .copied()
                .ok_or("the parent is not listed")
        })
        .transpose()?;
    let full_name = full_name(parent.map(|index| &divisions[index]), &own_name);
    Ok(Division {
        code,
        own_name,
        full_name,
        parent,
    })
}

/// The name from the province down: the parent's full name followed by this division's own
/// name, unless that is a placeholder (市辖区, 县, …) or repeats the parent's own name (the
/// district 东莞市 inside the city 东莞市).
fn full_name(parent: Option<&Division>, own_name: &str) -> String {
    match parent {
        None => own_name.to_owned(),
        Some(parent) if names::is_placeholder(own_name) || parent.own_name == own_name => {
            parent.full_name.clone()
        }
        Some(parent) => format!("{}{own_name}", parent.full_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<Division> {
        parse(&embedded()).expect("the embedded tables parse")
    }

    #[test]
    fn the_embedded_tables_hold_every_province_city_and_district() {
        let divisions = shipped();
        let count = |digits: usize| {
            divisions
                .iter()
                .filter(|d| d.code.as_str().len() == digits)
                .count()
        };
        assert_eq!(count(2), 31);
        assert_eq!(count(4), 342);
        assert_eq!(count(6), 2978);
    }

    #[test]
    fn a_row_whose_parent_is_missing_is_reported_with_its_file_and_line() {
        let tables = [
            ("provinces.csv", "code,name\n44,\"广东省\"\n"),
            ("cities.csv", "h\n4501,\"南宁市\",45\n"),
        ];
        let error = parse(&tables).expect_err("45 is not listed");
        assert_eq!(
            error.to_string(),
            "cities.csv, line 2: the parent is not listed"
        );
    }

    #[test]
    fn a_row_whose_parent_columns_disagree_with_its_code_is_reported() {
        let tables = [
            (
                "provinces.csv",
                "code,name\n44,\"广东省\"\n45,\"广西壮族自治区\"\n",
            ),
            ("cities.csv", "code,name,provinceCode\n4501,\"南宁市\",44\n"),
        ];
        let error = parse(&tables).expect_err("4501 is not in 44");
        assert_eq!(
            error.to_string(),
            "cities.csv, line 2: a parent code disagrees with the row's code"
        );
    }

    #[test]
    fn a_row_with_a_malformed_code_is_reported() {
        let tables = [("provinces.csv", "code,name\n4x,\"广东省\"\n")];
        let error = parse(&tables).expect_err("4x is not a code");
        assert!(
            error
                .to_string()
                .starts_with("provinces.csv, line 2: must be a GB/T 2260")
        );
    }
}
