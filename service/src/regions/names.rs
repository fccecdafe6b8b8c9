//! How people shorten region names, and which names say too little on their own.
//!
//! Addresses from sales channels and customers drop suffixes: "深圳南山" for 深圳市南山区,
//! "广西" for 广西壮族自治区, "延边" for 延边朝鲜族自治州. The rules here derive those short
//! forms from the official names. A short form is never a single character, since one
//! character (忠, 和, 城) would be found in almost any text.

/// City names that stand for "no real city": the municipalities' 市辖区 and 县, and the
/// pseudo-cities that hold the county-level units a province runs directly.
#[rustfmt::skip]
const PLACEHOLDERS: [&str; 4] = [
    "市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划",
];

/// Suffixes that may be dropped, longest first so that 新区 goes before 区.
#[rustfmt::skip]
const SUFFIXES: [&str; 15] = [
    "自治区", "自治州", "自治县", "自治旗", "新区", "林区", "矿区", "特区", "地区", "省", "市",
    "区", "县", "旗", "盟",
];

/// The peoples named before 自治区/州/县/旗 (and in a few district names such as 管城回族区).
/// Longer names come first, so that 土家族 is tried before 土族.
#[rustfmt::skip]
const PEOPLES: [&str; 47] = [
    "达斡尔族", "哈萨克族", "柯尔克孜", "鄂温克族", "朝鲜族", "土家族", "仫佬族", "毛南族",
    "仡佬族", "布依族", "哈尼族", "纳西族", "拉祜族", "布朗族", "独龙族", "普米族", "傈僳族",
    "裕固族", "保安族", "东乡族", "撒拉族", "景颇族", "蒙古族", "鄂伦春", "哈萨克", "塔吉克",
    "维吾尔", "满族", "蒙古", "回族", "畲族", "苗族", "瑶族", "侗族", "壮族", "各族", "黎族",
    "羌族", "彝族", "藏族", "水族", "傣族", "佤族", "怒族", "白族", "土族", "锡伯",
];

/// Names that are also everyday words in addresses: street, estate and company names
/// (光明路, 东方花园, 平安大厦, 龙湖天街) and generic areas (城区, 东区). Text that holds
/// only such a name does not name a region; it counts only beside a province or city that
/// contains the region. The list is a judgement, drawn from the names in the tables.
#[rustfmt::skip]
const COMMON_WORDS: [&str; 76] = [
    "城区", "郊区", "矿区", "东区", "西区", "东方", "光明", "中山", "长安", "和平", "新华", "江南",
    "江北", "红旗", "向阳", "前进", "东风", "解放", "青山", "新兴", "城关", "城中", "城东", "城西",
    "城北", "城厢", "市中", "市北", "市南", "河东", "河西", "桥东", "桥西", "路北", "路南", "南关",
    "北关", "站前", "工农", "爱民", "振兴", "复兴", "宏伟", "友好", "友谊", "建华", "新市", "平安",
    "太平", "永安", "安定", "安宁", "长寿", "共和", "同心", "天山", "白云", "金山", "龙湖", "凤凰",
    "芙蓉", "牡丹", "莲花", "紫金", "桃源", "锦江", "金沙", "西湖", "东湖", "南湖", "北湖", "中原",
    "南岸", "西市", "香格里拉", "天元",
];

/// Places that the tables leave out (Hong Kong, Macao, Taiwan), with whether each name is a
/// short form. Their names are recognised so that an address there (香港九龙) is not read
/// as a mainland namesake of one of its districts (九龙县).
pub(super) const OUTSIDE_THE_TABLES: [(&str, bool); 6] = [
    ("香港特别行政区", false),
    ("澳门特别行政区", false),
    ("台湾省", false),
    ("香港", true),
    ("澳门", true),
    ("台湾", true),
];

/// Whether a city name is a placeholder rather than a place (市辖区, 县, 省直辖县级行政区划).
pub(super) fn is_placeholder(name: &str) -> bool {
    PLACEHOLDERS.contains(&name)
}

/// Whether a name, full or short, is also an everyday word (see [`COMMON_WORDS`]).
pub(super) fn is_common_word(name: &str) -> bool {
    COMMON_WORDS.contains(&name)
}

/// The short form people write for an official name, if it has one of two characters or
/// more: 深圳市 → 深圳, 广西壮族自治区 → 广西, 浦东新区 → 浦东, 东乡族自治县 → 东乡. The
/// longest suffix that leaves two characters is dropped, so 神农架林区 loses 林区 but
/// 北林区 only 区.
pub(super) fn short_name(name: &str) -> Option<&str> {
    SUFFIXES.iter().find_map(|suffix| {
        let body = name.strip_suffix(suffix)?;
        let body = if suffix.starts_with("自治") || body.ends_with('族') {
            without_peoples(body)
        } else {
            body
        };
        (char_count(body) >= 2).then_some(body)
    })
}

/// Drops the peoples named at the end of an autonomous area's name (红河哈尼族彝族 → 红河),
/// keeping at least two characters; a name made only of a people's name loses just its
/// final 族 (东乡族 → 东乡).
fn without_peoples(mut body: &str) -> &str {
    while let Some(rest) = PEOPLES
        .iter()
        .find_map(|people| body.strip_suffix(people))
        .filter(|rest| char_count(rest) >= 2)
    {
        body = rest;
    }
    match body.strip_suffix('族') {
        Some(rest) if char_count(rest) >= 2 => rest,
        _ => body,
    }
}

fn char_count(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(name: &str) -> Option<&str> {
        short_name(name)
    }

    #[test]
    fn the_administrative_suffix_is_dropped_from_ordinary_names() {
        assert_eq!(short("广东省"), Some("广东"));
        assert_eq!(short("深圳市"), Some("深圳"));
        assert_eq!(short("南山区"), Some("南山"));
        assert_eq!(short("阿里地区"), Some("阿里"));
        assert_eq!(short("兴安盟"), Some("兴安"));
        assert_eq!(short("科尔沁左翼中旗"), Some("科尔沁左翼中"));
        assert_eq!(short("浦东新区"), Some("浦东"));
        assert_eq!(short("神农架林区"), Some("神农架"));
        assert_eq!(short("北林区"), Some("北林"));
        assert_eq!(short("清新区"), Some("清新"));
    }

    #[test]
    fn autonomous_areas_lose_the_peoples_named_before_their_suffix() {
        assert_eq!(short("广西壮族自治区"), Some("广西"));
        assert_eq!(short("新疆维吾尔自治区"), Some("新疆"));
        assert_eq!(short("内蒙古自治区"), Some("内蒙古"));
        assert_eq!(short("延边朝鲜族自治州"), Some("延边"));
        assert_eq!(short("双江拉祜族佤族布朗族傣族自治县"), Some("双江"));
        assert_eq!(short("石柱土家族自治县"), Some("石柱"));
        assert_eq!(short("大通回族土族自治县"), Some("大通"));
        assert_eq!(short("克孜勒苏柯尔克孜自治州"), Some("克孜勒苏"));
        assert_eq!(short("管城回族区"), Some("管城"));
        assert_eq!(short("察布查尔锡伯自治县"), Some("察布查尔"));
    }

    #[test]
    fn a_name_made_only_of_a_people_keeps_that_people() {
        assert_eq!(short("东乡族自治县"), Some("东乡"));
        assert_eq!(short("鄂伦春自治旗"), Some("鄂伦春"));
        assert_eq!(short("鄂温克族自治旗"), Some("鄂温克"));
    }

    #[test]
    fn a_name_is_never_shortened_to_a_single_character() {
        assert_eq!(short("忠县"), None);
        assert_eq!(short("城区"), None);
        assert_eq!(short("县"), None);
    }

    #[test]
    fn names_without_an_administrative_suffix_have_no_short_form() {
        assert_eq!(short("西沙群岛"), None);
        assert_eq!(short("大柴旦行政委员会"), None);
        assert_eq!(short("省直辖县级行政区划"), None);
    }
}
