//! PURE: an SVG plot of round-trip percentiles against connection count, from reports (for
//! `--plot`, or from a `--json` file's reports).

use crate::loadtest::Report;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Log-scale axis over `[lo, hi]` (widened to whole decades).
struct Axis {
    lo: f64,
    hi: f64,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64>) -> Option<Self> {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for v in values.filter(|v| *v > 0.0 && v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return None;
        }
        let lo = 10f64.powf(lo.log10().floor());
        let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
        Some(Self { lo, hi })
    }

    /// Position of `v` in `[0, 1]`.
    fn frac(&self, v: f64) -> f64 {
        (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
    }

    fn decades(&self) -> Vec<f64> {
        let (a, b) = (
            self.lo.log10().round() as i32,
            self.hi.log10().round() as i32,
        );
        (a..=b).map(|e| 10f64.powi(e)).collect()
    }
}

fn label_us(us: f64) -> String {
    match us {
        u if u >= 1e6 => format!("{:.0} s", u / 1e6),
        u if u >= 1e3 => format!("{:.0} ms", u / 1e3),
        u => format!("{u:.0} µs"),
    }
}

/// An SVG (log–log) of RTT p50 (solid) and p99 (dashed) against connections, one colour per
/// target, from every report that has round trips. `None` when no report has any.
pub fn rtt_svg(reports: &[Report]) -> Option<String> {
    let mut series: BTreeMap<&str, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for r in reports {
        if let Some(rtt) = r.rtt {
            series.entry(r.target.as_str()).or_default().push((
                r.connections as f64,
                rtt.p50_us,
                rtt.p99_us,
            ));
        }
    }
    if series.is_empty() {
        return None;
    }
    for points in series.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let x = Axis::new(series.values().flatten().map(|p| p.0))?;
    let y = Axis::new(series.values().flatten().flat_map(|p| [p.1, p.2]))?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |v: f64| LEFT + x.frac(v) * pw;
    let py = |v: f64| TOP + (1.0 - y.frac(v)) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="14">Round trip vs connections (solid p50, dashed p99)</text>"#
    );
    for d in x.decades() {
        let gx = px(d);
        let _ = write!(
            s,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle">{d:.0}</text>"##,
            TOP + ph,
            TOP + ph + 18.0
        );
    }
    for d in y.decades() {
        let gy = py(d);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            gy + 4.0,
            label_us(d)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">connections</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 10.0
    );
    for (i, (name, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        for (pick, dash) in [(1usize, ""), (2usize, r#" stroke-dasharray="6 4""#)] {
            let coords: Vec<String> = points
                .iter()
                .map(|p| {
                    let v = if pick == 1 { p.1 } else { p.2 };
                    format!("{:.1},{:.1}", px(p.0), py(v))
                })
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
                coords.join(" ")
            );
            for c in &coords {
                if let Some((cx, cy)) = c.split_once(',') {
                    let _ = write!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
                }
            }
        }
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let lx = LEFT + pw + 16.0;
        let _ = write!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            xml_escape(name)
        );
    }
    s.push_str("</svg>\n");
    Some(s)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_cover_whole_decades() {
        let a = Axis::new([30.0, 4_000.0].into_iter()).unwrap();
        assert_eq!((a.lo, a.hi), (10.0, 10_000.0));
        assert!((a.frac(100.0) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(a.decades(), vec![10.0, 100.0, 1_000.0, 10_000.0]);
        assert!(Axis::new([0.0, f64::NAN].into_iter()).is_none());
    }

    #[test]
    fn labels_and_escaping() {
        assert_eq!(label_us(100.0), "100 µs");
        assert_eq!(label_us(10_000.0), "10 ms");
        assert_eq!(xml_escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
        assert!(rtt_svg(&[]).is_none());
    }
}
