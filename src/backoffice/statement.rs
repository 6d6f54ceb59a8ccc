//! The monthly recharge statement of a client: the ledger rows of the month (in the client's
//! time zone) counted per interaction type and priced from the rate card (the organisation's,
//! overridden by the client's SPA).
//!
//! Money is kept in minor units (pence) so that a total is exactly the sum of its lines:
//! `amount = count × unit price`, `total = Σ amount`, with `count = Σ quantity` of the ledger rows
//! (corrections are rows with negative quantities, so they net out here too).

use std::collections::BTreeMap;

use serde::Serialize;

use super::period::{local_midnight, month_bounds};
use crate::knowledge::{Client, Knowledge};
use crate::store::{Insight, LedgerRow, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error("unknown client {0}")]
    UnknownClient(String),
    #[error("month must look like 2026-11, not {0:?}")]
    BadMonth(String),
    #[error("bad period: {0}")]
    BadPeriod(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub interaction_type: String,
    pub count: i64,
    /// Unit price in minor units; `None` when the rate card has no price (shown, not hidden).
    pub unit_price_minor: Option<i64>,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub client: String,
    pub client_name: String,
    pub month: String,
    pub currency: String,
    pub lines: Vec<Line>,
    pub total_minor: i64,
    /// Ledger rows behind the statement.
    pub rows: usize,
}

/// The month `YYYY-MM` of a client as `[from, to)` in epoch milliseconds, in its time zone.
pub fn month_range(client: &Client, month: &str) -> Result<(i64, i64), StatementError> {
    let (first, next) =
        month_bounds(month).ok_or_else(|| StatementError::BadMonth(month.to_string()))?;
    Ok((
        local_midnight(client.timezone, first),
        local_midnight(client.timezone, next),
    ))
}

fn minor(price: f64) -> i64 {
    (price * 100.0).round() as i64
}

/// Price the ledger rows (already restricted to the client and month).
pub fn price(k: &Knowledge, client: &str, month: &str, rows: &[LedgerRow]) -> Statement {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.interaction_type.as_str()).or_default() += r.quantity;
    }
    let lines: Vec<Line> = counts
        .into_iter()
        .map(|(kind, count)| {
            let unit = k.rate(Some(client), kind).map(minor);
            Line {
                interaction_type: kind.to_string(),
                count,
                unit_price_minor: unit,
                amount_minor: count * unit.unwrap_or(0),
            }
        })
        .collect();
    Statement {
        client: client.to_string(),
        client_name: k
            .clients
            .get(client)
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        month: month.to_string(),
        currency: k.organisation.currency.clone(),
        total_minor: lines.iter().map(|l| l.amount_minor).sum(),
        lines,
        rows: rows.len(),
    }
}

/// The statement of `client` for `month` (`YYYY-MM`, in the client's time zone).
pub async fn statement(
    store: &dyn Insight,
    k: &Knowledge,
    client: &str,
    month: &str,
) -> Result<Statement, StatementError> {
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| StatementError::UnknownClient(client.to_string()))?;
    let (from, to) = month_range(c, month)?;
    let rows = store.ledger(client, from, to).await?;
    Ok(price(k, client, month, &rows))
}

pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Statement {
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("client,month,interaction_type,count,unit_price,amount,currency\n");
        for l in &self.lines {
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                csv_field(&self.client),
                self.month,
                csv_field(&l.interaction_type),
                l.count,
                l.unit_price_minor.map(money).unwrap_or_default(),
                money(l.amount_minor),
                self.currency
            ));
        }
        out.push_str(&format!(
            "{},{},TOTAL,,,{},{}\n",
            csv_field(&self.client),
            self.month,
            money(self.total_minor),
            self.currency
        ));
        out
    }

    pub fn to_html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut rows = String::new();
        for l in &self.lines {
            rows.push_str(&format!(
                "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
                esc(&l.interaction_type.replace('_', " ")),
                l.count,
                l.unit_price_minor
                    .map(money)
                    .unwrap_or_else(|| "not priced".into()),
                money(l.amount_minor)
            ));
        }
        format!(
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Recharge statement {client} {month}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1c2430}}table{{border-collapse:collapse}}\
             td,th{{padding:.4rem .8rem;border-bottom:1px solid #dde1e7;text-align:left}}.n{{text-align:right}}</style></head>\n\
             <body><h1>Recharge statement</h1><p>{name} ({client}) · {month} · {currency}</p>\n\
             <table><thead><tr><th>Interaction</th><th class=n>Count</th><th class=n>Unit price</th><th class=n>Amount</th></tr></thead>\n\
             <tbody>\n{rows}</tbody><tfoot><tr><th>Total</th><th></th><th></th><th class=n>{total}</th></tr></tfoot></table>\n\
             <p>{n} ledger entries.</p></body></html>\n",
            client = esc(&self.client),
            name = esc(&self.client_name),
            month = esc(&self.month),
            currency = esc(&self.currency),
            total = money(self.total_minor),
            n = self.rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_minor_units() {
        assert_eq!(money(1234), "12.34");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(minor(0.4), 40);
        assert_eq!(minor(5.5), 550);
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
