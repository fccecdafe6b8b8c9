//! Statements as CSV (RFC 4180), for Excel: UTF-8 with a byte-order mark,
//! without which Excel reads Chinese as mojibake, and CRLF line ends.
//! Amounts are yuan with two decimals beside the fen they came from, so
//! that a spreadsheet's sum can be checked against the API to the fen.
//! No I/O here.

use super::views::{Adjustment, StatementLine, StatementSummary};

const BOM: &str = "\u{feff}";

/// One statement: its lines, its adjustments and a total row.
pub fn statement_csv(
    summary: &StatementSummary,
    lines: &[StatementLine],
    adjustments: &[Adjustment],
) -> String {
    let mut out = String::from(BOM);
    row(
        &mut out,
        &[
            "结算单",
            "账期起",
            "账期止",
            "安装师傅",
            "类型",
            "工单号",
            "项目",
            "数量",
            "说明",
            "金额(元)",
            "金额(分)",
            "入账时间",
        ],
    );
    let head = [
        summary.id.to_string(),
        summary.period.from.clone(),
        summary.period.to.clone(),
        summary.installer.name.clone(),
    ];
    for line in lines {
        let mut cells = head.to_vec();
        cells.extend([
            line.kind.clone(),
            line.work_order_number.clone().unwrap_or_default(),
            line.label.clone(),
            line.quantity.to_string(),
            line.explanation.clone(),
            yuan(line.amount_fen),
            line.amount_fen.to_string(),
            line.posted_at.to_rfc3339(),
        ]);
        row(&mut out, &cells);
    }
    for adjustment in adjustments {
        let mut cells = head.to_vec();
        cells.extend([
            "adjustment".to_owned(),
            String::new(),
            "调整".to_owned(),
            String::new(),
            adjustment.reason.clone(),
            yuan(adjustment.amount_fen),
            adjustment.amount_fen.to_string(),
            adjustment.at.to_rfc3339(),
        ]);
        row(&mut out, &cells);
    }
    let mut total = head.to_vec();
    total.extend([
        "total".to_owned(),
        String::new(),
        "合计".to_owned(),
        String::new(),
        String::new(),
        yuan(summary.total_fen),
        summary.total_fen.to_string(),
        String::new(),
    ]);
    row(&mut out, &total);
    out
}

/// Many statements, one row each, and a total row.
pub fn statements_csv(statements: &[StatementSummary]) -> String {
    let mut out = String::from(BOM);
    row(
        &mut out,
        &[
            "结算单",
            "账期起",
            "账期止",
            "安装师傅",
            "状态",
            "条数",
            "明细合计(分)",
            "调整合计(分)",
            "应付(元)",
            "应付(分)",
            "付款单号",
        ],
    );
    for s in statements {
        row(
            &mut out,
            &[
                s.id.to_string(),
                s.period.from.clone(),
                s.period.to.clone(),
                s.installer.name.clone(),
                s.status.as_str().to_owned(),
                s.lines_count.to_string(),
                s.lines_total_fen.to_string(),
                s.adjustments_total_fen.to_string(),
                yuan(s.total_fen),
                s.total_fen.to_string(),
                s.payout_reference.clone().unwrap_or_default(),
            ],
        );
    }
    let total: i64 = statements.iter().map(|s| s.total_fen).sum();
    let mut last = vec![String::new(); 8];
    last[0] = "合计".to_owned();
    last.extend([yuan(total), total.to_string(), String::new()]);
    row(&mut out, &last);
    out
}

fn row<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    let quoted: Vec<String> = cells.iter().map(|c| field(c.as_ref())).collect();
    out.push_str(&quoted.join(","));
    out.push_str("\r\n");
}

/// Quotes a field that needs it. A field that starts like a formula is
/// prefixed with `'`, so that a spreadsheet shows it rather than runs it.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '@']) || (text.starts_with('-') && !is_number(text)) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn is_number(text: &str) -> bool {
    text.trim_start_matches('-')
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
}

/// Fen as yuan with two decimals, sign first: `-12.30`.
fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_newlines_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("plain"), "plain");
    }

    #[test]
    fn formulas_are_shown_not_run() {
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("-1200"), "-1200");
        assert_eq!(field("-cmd"), "'-cmd");
    }

    #[test]
    fn yuan_keep_every_fen() {
        assert_eq!(yuan(24000), "240.00");
        assert_eq!(yuan(-1230), "-12.30");
        assert_eq!(yuan(5), "0.05");
    }
}
