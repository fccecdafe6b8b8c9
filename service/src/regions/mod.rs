//! Regions of mainland China by their GB/T 2260 codes, and the resolver that reads a
//! free-text address (地址) into the most specific region it names.
//!
//! This is a pure module: the division tables of the National Bureau of Statistics (2023,
//! see `data/regions/README.md`) are embedded in the binary and parsed once, on first use,
//! into [`Regions::shipped`]. Nothing here does I/O or touches the database.
//!
//! The resolver runs on every work order, so it finds names with one pass of an
//! Aho-Corasick automaton over the text and then weighs a handful of candidates; see
//! `resolve.rs` for how it chooses, and `names.rs` for the short forms it accepts.

mod code;
mod index;
mod names;
mod resolve;
mod table;

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

pub use code::{RegionCode, RegionLevel};

use index::NameIndex;
use table::{Division, TableError};

static SHIPPED: LazyLock<Regions> = LazyLock::new(|| {
    Regions::from_tables(&table::embedded())
        .expect("the GB/T 2260 tables embedded in the binary are well-formed")
});

/// A province, city or district/county.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    /// Its code.
    pub code: RegionCode,
    /// The full name from province down, e.g. "广东省深圳市南山区". Placeholders such as
    /// 市辖区 / 县 / 省直辖县级行政区划 are left out of it, so 110105 is "北京市朝阳区".
    pub name: String,
}

/// What an address names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// One region, the most specific the text names.
    Resolved(Region),
    /// Several regions fit the text equally well (朝阳区 alone is in Beijing and in
    /// Changchun). Ordered by code; the resolver never guesses between them.
    Ambiguous(Vec<Region>),
    /// The text names no known region, or names a place the tables leave out (香港).
    Unresolved,
}

/// The region tables with their name index.
pub struct Regions {
    divisions: Vec<Division>,
    by_code: HashMap<RegionCode, usize>,
    names: NameIndex,
}

/// Why region tables could not be loaded.
#[derive(Debug, thiserror::Error)]
enum LoadRegionsError {
    /// A row of a table could not be read.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The names could not be compiled into a matcher.
    #[error("failed to build the region name matcher")]
    Matcher(#[from] aho_corasick::BuildError),
}

impl Regions {
    /// The data embedded in the binary, parsed on first use.
    pub fn shipped() -> &'static Regions {
        &SHIPPED
    }

    /// The region with this code, or `None` for codes the tables do not list.
    pub fn get(&self, code: &RegionCode) -> Option<Region> {
        self.by_code.get(code).map(|&index| self.region(index))
    }

    /// The most specific region that a free-text address names.
    ///
    /// The text may hold full names (广东省深圳市南山区) or short ones (深圳南山), may leave
    /// out the province or city, and may carry anything else: street, building, room,
    /// names, phone numbers. A district is answered only when it agrees with the province
    /// or city the text also names. A city without districts of its own (东莞, 中山, 儋州,
    /// 嘉峪关) is listed once more as its single district, and resolves to that code
    /// (441900 for 东莞), whose lineage holds the city.
    pub fn resolve(&self, address: &str) -> Resolution {
        let best = resolve::best_divisions(&self.divisions, &self.names, address);
        match best.as_slice() {
            [] => Resolution::Unresolved,
            [only] => Resolution::Resolved(self.region(*only)),
            several => {
                let mut regions: Vec<Region> = several.iter().map(|&i| self.region(i)).collect();
                regions.sort_by(|a, b| a.code.cmp(&b.code));
                Resolution::Ambiguous(regions)
            }
        }
    }

    /// Loads tables given as `(file name, CSV text)`, provinces first, then cities, then
    /// districts.
    fn from_tables(tables: &[(&'static str, &str)]) -> Result<Self, LoadRegionsError> {
        let divisions = table::parse(tables)?;
        let names = index::build(&divisions)?;
        let by_code = divisions
            .iter()
            .enumerate()
            .map(|(index, division)| (division.code.clone(), index))
            .collect();
        Ok(Self {
            divisions,
            by_code,
            names,
        })
    }

    fn region(&self, index: usize) -> Region {
        let division = &self.divisions[index];
        Region {
            code: division.code.clone(),
            name: division.full_name.clone(),
        }
    }
}

impl fmt::Debug for Regions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Regions")
            .field("divisions", &self.divisions.len())
            .field("names", &self.names.entries.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
