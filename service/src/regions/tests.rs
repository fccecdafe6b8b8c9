//! Tests of the region look-up and of the resolver on a handful of addresses. The full
//! address set runs in `tests/address_resolution.rs`.

use super::*;

fn code(text: &str) -> RegionCode {
    RegionCode::parse(text).expect("the test code is well-formed")
}

fn name_of(text: &str) -> String {
    Regions::shipped()
        .get(&code(text))
        .expect("the code is listed")
        .name
}

fn resolved_code(address: &str) -> String {
    match Regions::shipped().resolve(address) {
        Resolution::Resolved(region) => region.code.to_string(),
        other => panic!("{address:?} did not resolve: {other:?}"),
    }
}

fn ambiguous_codes(address: &str) -> Vec<String> {
    match Regions::shipped().resolve(address) {
        Resolution::Ambiguous(regions) => regions.into_iter().map(|r| r.code.to_string()).collect(),
        other => panic!("{address:?} is not ambiguous: {other:?}"),
    }
}

#[test]
fn full_names_run_from_the_province_down_without_placeholders() {
    assert_eq!(name_of("110105"), "北京市朝阳区");
    assert_eq!(name_of("429004"), "湖北省仙桃市");
    assert_eq!(name_of("440305"), "广东省深圳市南山区");
    assert_eq!(name_of("4403"), "广东省深圳市");
    assert_eq!(name_of("500233"), "重庆市忠县");
    assert_eq!(name_of("65"), "新疆维吾尔自治区");
}

#[test]
fn a_city_listed_again_as_its_own_district_is_named_once() {
    assert_eq!(name_of("441900"), "广东省东莞市");
}

#[test]
fn codes_the_tables_do_not_list_are_not_found() {
    assert_eq!(Regions::shipped().get(&code("440399")), None);
    assert_eq!(Regions::shipped().get(&code("99")), None);
    assert_eq!(Regions::shipped().get(&code("440300")), None);
}

#[test]
fn a_full_address_resolves_to_its_district() {
    assert_eq!(
        resolved_code("广东省深圳市南山区科技园南区粤海街道1号"),
        "440305"
    );
}

#[test]
fn names_without_suffixes_resolve() {
    assert_eq!(resolved_code("深圳南山 科技园"), "440305");
    assert_eq!(resolved_code("广东深圳"), "4403");
    assert_eq!(resolved_code("广西"), "45");
}

#[test]
fn a_district_must_agree_with_the_province_or_city_named_before_it() {
    assert_eq!(resolved_code("吉林省长春市朝阳区人民大街1号"), "220104");
    assert_eq!(resolved_code("北京朝阳区建国路88号"), "110105");
    assert_eq!(resolved_code("广东省朝阳区"), "44");
}

#[test]
fn municipalities_and_province_run_counties_resolve_past_their_placeholders() {
    assert_eq!(resolved_code("上海浦东新区张江路"), "310115");
    assert_eq!(resolved_code("重庆市忠县忠州街道"), "500233");
    assert_eq!(resolved_code("湖北省仙桃市干河街道"), "429004");
    assert_eq!(resolved_code("新疆石河子市北四路"), "659001");
}

#[test]
fn a_district_name_shared_by_several_cities_is_ambiguous() {
    assert_eq!(ambiguous_codes("朝阳区大悦城"), ["110105", "220104"]);
    assert_eq!(
        ambiguous_codes("南山区 张先生 13800138000"),
        ["230404", "440305"]
    );
}

#[test]
fn a_street_named_after_a_city_does_not_count_as_that_city() {
    assert_eq!(resolved_code("广州市越秀区北京路步行街"), "440104");
    assert_eq!(resolved_code("上海市黄浦区南京东路300号"), "310101");
}

#[test]
fn a_bare_city_name_means_the_city_rather_than_a_district_of_the_same_name() {
    assert_eq!(resolved_code("西安高新区"), "6101");
    assert_eq!(ambiguous_codes("朝阳"), ["110105", "2113"]);
}

#[test]
fn names_in_the_recipient_do_not_outweigh_the_address_beside_them() {
    assert_eq!(resolved_code("刘长春 北京朝阳区 13911112222"), "110105");
}

#[test]
fn an_address_outside_the_tables_is_unresolved_rather_than_read_as_a_namesake() {
    assert_eq!(
        Regions::shipped().resolve("香港九龙弥敦道"),
        Resolution::Unresolved
    );
}

#[test]
fn text_that_names_no_region_is_unresolved() {
    assert_eq!(
        Regions::shipped().resolve("张三 13800138000 3栋2单元"),
        Resolution::Unresolved
    );
    assert_eq!(Regions::shipped().resolve(""), Resolution::Unresolved);
    assert_eq!(
        Regions::shipped().resolve("光明花园东区"),
        Resolution::Unresolved
    );
}

#[test]
fn regions_serialise_with_their_code_as_a_string() {
    let region = Regions::shipped()
        .get(&code("440305"))
        .expect("440305 is listed");
    let json = serde_json::to_value(&region).expect("a region serialises");
    assert_eq!(
        json,
        serde_json::json!({ "code": "440305", "name": "广东省深圳市南山区" })
    );
}
