//! Charts as inline SVG rendered here: the dashboard works offline and prints, with no CDN and
//! no JavaScript. Values are numbers and labels are escaped, so a chart cannot carry markup.

/// Escape text for SVG/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A vertical bar chart of labelled counts (e.g. contacts per day), with the maximum marked
/// and the bars whose label is in `marked` (e.g. demand spikes) drawn in orange.
pub fn bars_svg(title: &str, series: &[(String, i64)], marked: &[String]) -> String {
    const W: usize = 640;
    const H: usize = 160;
    const TOP: usize = 16;
    const BOTTOM: usize = 20;
    if series.is_empty() {
        return format!(
            "<svg role=img aria-label=\"{t}\" width={W} height=40 xmlns=\"http://www.w3.org/2000/svg\"><text x=0 y=24 font-size=12 fill=\"#5b6573\">No data for this period.</text></svg>",
            t = esc(title)
        );
    }
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = W as f64 / series.len() as f64;
    let bar = (slot * 0.8).max(1.0);
    let plot = (H - TOP - BOTTOM) as f64;
    let mut body = String::new();
    for (i, (label, n)) in series.iter().enumerate() {
        let h = *n as f64 / max as f64 * plot;
        let x = i as f64 * slot + (slot - bar) / 2.0;
        let y = TOP as f64 + plot - h;
        let (fill, note) = if marked.contains(label) {
            ("#d9480f", " (spike)")
        } else {
            ("#1f5fbf", "")
        };
        body.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{} — {n}{note}</title></rect>",
            esc(label)
        ));
    }
    // First and last labels under the axis, so the period reads at a glance.
    if let (Some((first, _)), Some((last, _))) = (series.first(), series.last()) {
        body.push_str(&format!(
            "<text x=0 y={} font-size=10 fill=\"#5b6573\">{}</text><text x={W} y={} font-size=10 fill=\"#5b6573\" text-anchor=end>{}</text>",
            H - 4,
            esc(first),
            H - 4,
            esc(last)
        ));
    }
    format!(
        "<svg role=img aria-label=\"{t}\" width={W} height={H} viewBox=\"0 0 {W} {H}\" xmlns=\"http://www.w3.org/2000/svg\"><text x=0 y=11 font-size=10 fill=\"#5b6573\">max {max}</text><line x1=0 y1={base} x2={W} y2={base} stroke=\"#dde1e7\"/>{body}</svg>",
        t = esc(title),
        base = H - BOTTOM,
    )
}

/// A horizontal 1–5 score distribution (CSAT).
pub fn distribution_svg(counts: &[i64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut body = String::new();
    for (i, n) in counts.iter().enumerate() {
        let w = *n as f64 / max as f64 * 200.0;
        let y = i * 18;
        body.push_str(&format!(
            "<text x=0 y={} font-size=11>{}</text><rect x=16 y={y} width=\"{w:.1}\" height=14 fill=\"#2e8b57\"><title>{} — {n}</title></rect><text x=\"{:.1}\" y={} font-size=10>{n}</text>",
            y + 11,
            i + 1,
            i + 1,
            w + 20.0,
            y + 11
        ));
    }
    format!(
        "<svg role=img aria-label=\"Survey scores 1 to 5\" width=260 height={} xmlns=\"http://www.w3.org/2000/svg\">{body}</svg>",
        counts.len() * 18
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale_to_the_maximum() {
        let svg = bars_svg(
            "t",
            &[("<b>".into(), 5), ("2026-11-02".into(), 10)],
            &["2026-11-02".into()],
        );
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("max 10"));
        assert!(bars_svg("t", &[], &[]).contains("No data"));
        assert_eq!(
            distribution_svg(&[0, 0, 1, 2, 3]).matches("<rect").count(),
            5
        );
    }
}
