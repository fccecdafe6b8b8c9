use proptest::prelude::*;

use super::*;

fn entry(
    item: &str,
    tier: &str,
    mode: Option<CooperationMode>,
    unit: Option<i64>,
    rate: Option<&str>,
) -> PriceEntry {
    PriceEntry {
        service_item: item.to_owned(),
        service_item_name: format!("{item} 名称"),
        tier: tier.to_owned(),
        cooperation_mode: mode,
        price: Price {
            unit_price_fen: unit.map(Fen::new),
            rate: rate.map(|r| Rate::parse(r).expect("a valid rate")),
        },
    }
}

fn book(entries: Vec<PriceEntry>) -> PriceBook {
    PriceBook::new(Uuid::nil(), "2026 标准价", 3, entries)
}

fn line(item: &str, quantity: u32, sale: i64) -> OrderLine {
    OrderLine {
        service_item: item.to_owned(),
        quantity,
        sale_price_fen: Fen::new(sale),
    }
}

fn request<'a>(
    lines: &'a [OrderLine],
    book: &'a PriceBook,
    mode: CooperationMode,
) -> QuoteRequest<'a> {
    QuoteRequest {
        lines,
        tier: "T1",
        region_code: "440305",
        mode: Some(mode),
        price_book: book,
    }
}

#[test]
fn a_fixed_price_is_multiplied_by_the_quantity() {
    let book = book(vec![entry("AC-INSTALL", "T1", None, Some(12_000), None)]);
    let lines = [line("AC-INSTALL", 2, 0)];

    let quote = quote(&request(&lines, &book, CooperationMode::Employee)).expect("priced");

    assert_eq!(quote.total_fen, Fen::new(24_000));
    let only = &quote.lines[0];
    assert_eq!(
        (only.unit_price_fen, only.rate, only.quantity),
        (Some(Fen::new(12_000)), None, 2)
    );
    assert_eq!(only.rule.version, 3);
    assert_eq!(&*only.rule.region_code, "440305");
    assert_eq!(
        only.explanation(),
        "AC-INSTALL 名称：按价目表《2026 标准价》第3版，T1档（地区440305）通用价，\
         单价¥120.00×2，四舍五入到分得¥240.00。"
    );
}

#[test]
fn a_mode_specific_price_beats_the_general_one() {
    let book = book(vec![
        entry("AC-INSTALL", "T1", None, Some(12_000), None),
        entry(
            "AC-INSTALL",
            "T1",
            Some(CooperationMode::Partner),
            Some(15_000),
            None,
        ),
    ]);
    let lines = [line("AC-INSTALL", 1, 0)];

    let partner = quote(&request(&lines, &book, CooperationMode::Partner)).expect("priced");
    let employee = quote(&request(&lines, &book, CooperationMode::Employee)).expect("priced");

    assert_eq!(partner.total_fen, Fen::new(15_000));
    assert_eq!(
        partner.lines[0].rule.cooperation_mode,
        Some(CooperationMode::Partner)
    );
    assert_eq!(employee.total_fen, Fen::new(12_000));
    assert_eq!(employee.lines[0].rule.cooperation_mode, None);
}

#[test]
fn a_rate_and_a_unit_price_add_up_and_round_half_up() {
    // 0.0005 × 1000 fen = 0.5 fen: exactly half, so it rounds up to 1.
    let book = book(vec![
        entry("HALF", "T1", None, None, Some("0.0005")),
        entry("BOTH", "T1", None, Some(100), Some("0.0300")),
        entry("BELOW", "T1", None, None, Some("0.0004")),
    ]);
    let lines = [
        line("HALF", 1, 1_000),
        line("BOTH", 2, 99_999),
        line("BELOW", 1, 1_000),
    ];

    let quote = quote(&request(&lines, &book, CooperationMode::Freelance)).expect("priced");

    let amounts: Vec<i64> = quote.lines.iter().map(|l| l.amount_fen.get()).collect();
    // BOTH: 100 × 2 + 0.03 × 99 999 × 2 = 200 + 5 999.94 → 6 200.
    assert_eq!(amounts, [1, 6_200, 0]);
    assert_eq!(quote.total_fen, Fen::new(6_201));
}

#[test]
fn every_missing_price_is_named_and_nothing_is_priced_at_zero() {
    let book = book(vec![entry(
        "AC-INSTALL",
        "T1",
        Some(CooperationMode::Employee),
        Some(1),
        None,
    )]);
    let lines = [
        line("AC-INSTALL", 1, 0),
        line("HEATER-REPAIR", 1, 0),
        line("LOCK", 1, 0),
        line("LOCK", 2, 0),
    ];

    let error = quote(&request(&lines, &book, CooperationMode::Partner)).expect_err("unpriced");

    let QuoteError::Unpriced(missing) = error else {
        panic!("expected unpriced, got {error:?}")
    };
    let items: Vec<&str> = missing.iter().map(|m| m.service_item.as_str()).collect();
    assert_eq!(items, ["AC-INSTALL", "HEATER-REPAIR", "LOCK"]);
    assert!(
        missing
            .iter()
            .all(|m| m.tier == "T1" && m.cooperation_mode == Some(CooperationMode::Partner))
    );
}

#[test]
fn an_amount_that_overflows_is_an_error_not_a_wrap() {
    let book = book(vec![entry("BIG", "T1", None, Some(i64::MAX / 2), None)]);
    let lines = [line("BIG", 3, 0)];

    let error = quote(&request(&lines, &book, CooperationMode::Employee)).expect_err("overflow");

    assert!(matches!(error, QuoteError::Overflow { .. }));
}

fn any_price() -> impl Strategy<Value = Price> {
    (
        proptest::option::of(0i64..10_000_000),
        proptest::option::of(0i64..=10_000),
    )
        .prop_map(|(unit, rate)| Price {
            unit_price_fen: unit.map(Fen::new),
            rate: rate.map(|r| Rate::from_ten_thousandths(r).expect("in range")),
        })
}

fn any_order() -> impl Strategy<Value = (Vec<Price>, Vec<(u32, i64)>)> {
    (1usize..6).prop_flat_map(|n| {
        (
            proptest::collection::vec(any_price(), n),
            proptest::collection::vec((1u32..1_000, 0i64..100_000_000), n),
        )
    })
}

fn priced(prices: &[Price], lines: &[(u32, i64)]) -> (PriceBook, Vec<OrderLine>) {
    let entries = prices.iter().enumerate().map(|(i, price)| PriceEntry {
        service_item: format!("ITEM-{i}"),
        service_item_name: format!("项目{i}"),
        tier: "T1".into(),
        cooperation_mode: None,
        price: *price,
    });
    let order = lines
        .iter()
        .enumerate()
        .map(|(i, (q, s))| line(&format!("ITEM-{i}"), *q, *s))
        .collect();
    (book(entries.collect()), order)
}

proptest! {
    #[test]
    fn the_total_is_the_sum_of_the_lines_and_nothing_is_negative((prices, lines) in any_order()) {
        let (book, order) = priced(&prices, &lines);
        let quote = quote(&request(&order, &book, CooperationMode::Employee)).expect("priced");
        let sum: i64 = quote.lines.iter().map(|l| l.amount_fen.get()).sum();
        prop_assert_eq!(quote.total_fen.get(), sum);
        prop_assert!(quote.lines.iter().all(|l| l.amount_fen.get() >= 0));
    }

    #[test]
    fn the_same_inputs_give_the_same_quote((prices, lines) in any_order()) {
        let (book, order) = priced(&prices, &lines);
        let first = quote(&request(&order, &book, CooperationMode::Partner));
        let second = quote(&request(&order, &book, CooperationMode::Partner));
        prop_assert_eq!(first, second);
    }

    #[test]
    fn a_line_is_the_exact_formula_rounded_half_up(unit in 0i64..1_000_000, rate in 0i64..=10_000, quantity in 1u32..500, sale in 0i64..10_000_000) {
        let price = Price { unit_price_fen: Some(Fen::new(unit)), rate: Some(Rate::from_ten_thousandths(rate).expect("in range")) };
        let amount = line_amount(&line("X", quantity, sale), price).expect("no overflow");
        // In whole ten-thousandths of a fen: exact integer arithmetic.
        let exact = i128::from(unit) * i128::from(quantity) * 10_000 + i128::from(rate) * i128::from(sale) * i128::from(quantity);
        let expected = (exact + 5_000) / 10_000;
        prop_assert_eq!(i128::from(amount.get()), expected);
    }
}
