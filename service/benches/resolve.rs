//! How many addresses per second the resolver reads: it runs on every work order.
//!
//! The addresses are those of the test set (`tests/data/addresses.tsv`), resolved in a loop;
//! criterion reports the rate in addresses per second. Most of the test set is short (about
//! ten characters), so a second run wraps each address the way order exports do, with a
//! recipient, a phone number and a room, which brings it to the thirty-odd characters of a
//! typical order.
//!
//! Beside each runs the floor: one substring search of a region's name in
//! each address, the least that reading an address for its region can do.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scrm_service::regions::Regions;

const TEST_SET: &str = include_str!("../tests/data/addresses.tsv");

/// The address column of the test set.
fn addresses() -> Vec<String> {
    TEST_SET
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t').map(|(address, _)| address.to_owned()))
        .collect()
}

/// The test set's addresses as an order export writes them.
fn order_lines() -> Vec<String> {
    addresses()
        .into_iter()
        .map(|address| format!("收货人：王芳 13800138000 {address} 7栋2单元1203室"))
        .collect()
}

fn resolve_all(c: &mut Criterion, name: &str, addresses: &[String]) {
    let regions = Regions::shipped();
    let mut group = c.benchmark_group("resolve");
    group.throughput(Throughput::Elements(addresses.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            for address in addresses {
                black_box(regions.resolve(black_box(address)));
            }
        })
    });
    group.bench_function(format!("floor: {name}"), |b| {
        b.iter(|| {
            for address in addresses {
                black_box(black_box(address.as_str()).contains("深圳"));
            }
        })
    });
    group.finish();
}

fn resolve_the_test_set(c: &mut Criterion) {
    resolve_all(c, "test set addresses", &addresses());
    resolve_all(c, "test set addresses in order lines", &order_lines());
}

criterion_group!(benches, resolve_the_test_set);
criterion_main!(benches);
