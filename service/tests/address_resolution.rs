//! The address resolver against the test set in `data/addresses.tsv`: real-looking addresses
//! from every province, in every form that sales channels and customers send, each with the
//! region it names, or AMBIGUOUS, or UNRESOLVED.
//!
//! A miss (an ambiguous or unresolved answer where a region was expected, or the reverse)
//! costs accuracy. A confident wrong answer (a region other than the one expected, or any
//! region where none was expected) would price a work order for the wrong place, so none is
//! allowed.

use std::io::Write;

use scrm_service::regions::{RegionCode, Regions, Resolution};

const TEST_SET: &str = include_str!("data/addresses.tsv");

/// The least share of the test set that must be answered exactly as expected.
const REQUIRED_ACCURACY: f64 = 0.99;

/// What one line of the test set expects.
#[derive(Debug)]
enum Expected {
    Region(String),
    /// Ambiguous, with the candidates' codes when the line lists them.
    Ambiguous(Option<Vec<String>>),
    Unresolved,
}

#[derive(Debug)]
struct Case {
    line: usize,
    address: &'static str,
    expected: Expected,
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Right,
    Missed,
    ConfidentlyWrong,
}

fn cases() -> Vec<Case> {
    TEST_SET
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| parse_case(index + 1, line))
        .collect()
}

fn parse_case(line: usize, text: &'static str) -> Case {
    let (address, expected) = text
        .split_once('\t')
        .unwrap_or_else(|| panic!("line {line} has no tab: {text:?}"));
    let expected = match expected {
        "UNRESOLVED" => Expected::Unresolved,
        "AMBIGUOUS" => Expected::Ambiguous(None),
        other => match other.strip_prefix("AMBIGUOUS:") {
            Some(codes) => Expected::Ambiguous(Some(codes.split(',').map(str::to_owned).collect())),
            None => Expected::Region(other.to_owned()),
        },
    };
    Case {
        line,
        address,
        expected,
    }
}

fn judge(expected: &Expected, answer: &Resolution) -> Verdict {
    match (expected, answer) {
        (Expected::Region(code), Resolution::Resolved(region)) if region.code.as_str() == code => {
            Verdict::Right
        }
        (Expected::Ambiguous(None), Resolution::Ambiguous(_)) => Verdict::Right,
        (Expected::Ambiguous(Some(codes)), Resolution::Ambiguous(regions)) => {
            if codes_of(regions) == *codes {
                Verdict::Right
            } else {
                Verdict::Missed
            }
        }
        (Expected::Unresolved, Resolution::Unresolved) => Verdict::Right,
        (_, Resolution::Resolved(_)) => Verdict::ConfidentlyWrong,
        _ => Verdict::Missed,
    }
}

fn codes_of(regions: &[scrm_service::regions::Region]) -> Vec<String> {
    regions
        .iter()
        .map(|region| region.code.to_string())
        .collect()
}

fn describe(answer: &Resolution) -> String {
    match answer {
        Resolution::Resolved(region) => format!("{} {}", region.code, region.name),
        Resolution::Ambiguous(regions) => format!("AMBIGUOUS:{}", codes_of(regions).join(",")),
        Resolution::Unresolved => "UNRESOLVED".to_owned(),
    }
}

fn report(text: &str) {
    println!("{text}");
    writeln!(std::io::stderr(), "{text}").expect("stderr is writable");
}

#[test]
fn the_resolver_answers_at_least_99_percent_of_the_test_set_and_never_guesses_wrong() {
    let regions = Regions::shipped();
    let cases = cases();
    let mut right = 0;
    let mut confidently_wrong = 0;
    for case in &cases {
        let answer = regions.resolve(case.address);
        let verdict = judge(&case.expected, &answer);
        if verdict == Verdict::Right {
            right += 1;
            continue;
        }
        confidently_wrong += usize::from(verdict == Verdict::ConfidentlyWrong);
        report(&format!(
            "{verdict:?} on line {}: {:?} expected {:?}, got {}",
            case.line,
            case.address,
            case.expected,
            describe(&answer)
        ));
    }

    let accuracy = right as f64 / cases.len() as f64;
    report(&format!(
        "address resolution: {right} of {} right ({:.2} %), {confidently_wrong} confidently wrong",
        cases.len(),
        accuracy * 100.0
    ));
    assert!(
        accuracy >= REQUIRED_ACCURACY,
        "accuracy {accuracy:.4} is below {REQUIRED_ACCURACY}"
    );
    assert_eq!(
        confidently_wrong, 0,
        "the resolver answered a wrong region with confidence"
    );
}

#[test]
fn the_test_set_is_large_and_every_code_it_expects_is_a_listed_region() {
    let cases = cases();
    assert!(
        cases.len() >= 320,
        "the test set holds only {} addresses",
        cases.len()
    );
    for case in &cases {
        let codes = match &case.expected {
            Expected::Region(code) => vec![code.clone()],
            Expected::Ambiguous(Some(codes)) => codes.clone(),
            _ => continue,
        };
        for code in codes {
            let parsed = RegionCode::parse(&code).expect("the expected code is well-formed");
            let listed = Regions::shipped().get(&parsed);
            assert!(
                listed.is_some(),
                "line {} expects {code}, which is not listed",
                case.line
            );
        }
    }
}
