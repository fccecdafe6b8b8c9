//! How many three-line quotes the earnings engine prices per second on one
//! core. Run with `cargo bench -p scrm-service --bench quote`.
//!
//! Beside it runs the floor: the three lines' amounts alone, with their
//! prices already in hand, which is the arithmetic any quote must do. What
//! the engine adds over it is finding each price in the book and writing
//! each line's explanation.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use scrm_service::domain::CooperationMode;
use scrm_service::pricing::engine::{
    OrderLine, Price, PriceBook, PriceEntry, QuoteRequest, line_amount, quote,
};
use scrm_service::pricing::money::{Fen, Rate};

fn price_book() -> PriceBook {
    let mut entries = Vec::new();
    for item in 0..50 {
        for tier in ["T1", "T2", "T3"] {
            entries.push(PriceEntry {
                service_item: format!("ITEM-{item}"),
                service_item_name: format!("服务项目{item}"),
                tier: tier.to_owned(),
                cooperation_mode: None,
                price: Price {
                    unit_price_fen: Some(Fen::new(10_000 + item)),
                    rate: Rate::parse("0.0300").ok(),
                },
            });
        }
        entries.push(PriceEntry {
            service_item: format!("ITEM-{item}"),
            service_item_name: format!("服务项目{item}"),
            tier: "T1".to_owned(),
            cooperation_mode: Some(CooperationMode::Partner),
            price: Price {
                unit_price_fen: Some(Fen::new(15_000)),
                rate: None,
            },
        });
    }
    PriceBook::new(uuid::Uuid::nil(), "2026 标准价", 3, entries)
}

fn three_line_quotes(c: &mut Criterion) {
    let book = price_book();
    let lines = [
        OrderLine {
            service_item: "ITEM-1".into(),
            quantity: 2,
            sale_price_fen: Fen::new(299_900),
        },
        OrderLine {
            service_item: "ITEM-7".into(),
            quantity: 1,
            sale_price_fen: Fen::new(45_000),
        },
        OrderLine {
            service_item: "ITEM-42".into(),
            quantity: 3,
            sale_price_fen: Fen::new(12_345),
        },
    ];
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("three-line quote", |b| {
        b.iter(|| {
            let request = QuoteRequest {
                lines: black_box(&lines),
                tier: "T1",
                region_code: "440305",
                mode: Some(CooperationMode::Partner),
                price_book: &book,
            };
            quote(black_box(&request))
        })
    });
    let partner_price = Price {
        unit_price_fen: Some(Fen::new(15_000)),
        rate: None,
    };
    group.bench_function("floor: three line amounts, prices in hand", |b| {
        b.iter(|| {
            black_box(&lines).iter().try_fold(Fen::ZERO, |total, line| {
                total.checked_add(line_amount(line, black_box(partner_price))?)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, three_line_quotes);
criterion_main!(benches);
