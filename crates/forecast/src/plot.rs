//! An SVG chart of actual against forecast contacts per interval, written by hand (axes, labels, one
//! polyline per line and day, a legend): no plotting crate for one chart.
//!
//! The x axis is the sequence of intervals shown, not clock time: nights and weekends a queue is
//! closed would otherwise take most of the width. Days are separated by vertical rules labelled with
//! their date; a line is broken between days.

use std::fmt::Write;

use jiff::civil::Date;

/// One interval on the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotPoint {
    /// Local date (days are separated on the chart).
    pub date: Date,
    /// Local start time as `HH:MM`, for the tooltip.
    pub time: jiff::civil::Time,
    /// Actual contacts, when known.
    pub actual: Option<f64>,
    /// Forecast contacts, when forecast.
    pub forecast: Option<f64>,
}

const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const ACTUAL_COLOUR: &str = "#1f77b4";
const FORECAST_COLOUR: &str = "#d62728";

/// Renders the chart. `title` is shown on top (escaped); `subtitle` under it (e.g. the accuracy).
pub fn svg(title: &str, subtitle: &str, points: &[PlotPoint]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = points
        .iter()
        .flat_map(|p| [p.actual, p.forecast])
        .flatten()
        .fold(0.0f64, f64::max);
    let top = nice_ceiling(max.max(1.0));
    let n = points.len().max(1) as f64;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / n;
    let y = |v: f64| TOP + plot_h * (1.0 - v / top);

    let mut out = String::with_capacity(64 * points.len() + 2048);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="20" font-size="16" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="38" text-anchor="middle" fill="#555">{}</text>"##,
        WIDTH / 2.0,
        escape(subtitle)
    );

    // Horizontal grid and y labels.
    for k in 0..=5 {
        let v = top * f64::from(k) / 5.0;
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            format_value(v)
        );
    }
    // Day separators and date labels.
    let mut day_start = 0;
    for i in 0..=points.len() {
        let boundary = i == points.len() || (i > 0 && points[i].date != points[i - 1].date);
        if !boundary {
            continue;
        }
        let first = &points[day_start];
        let x0 = LEFT + plot_w * day_start as f64 / n;
        let x1 = LEFT + plot_w * i as f64 / n;
        let _ = writeln!(
            out,
            r##"<line x1="{x0:.1}" y1="{TOP}" x2="{x0:.1}" y2="{:.1}" stroke="#bbb"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{} {}</text>"##,
            TOP + plot_h,
            (x0 + x1) / 2.0,
            TOP + plot_h + 18.0,
            weekday(first.date),
            first.date
        );
        day_start = i;
    }
    // Axes and axis titles.
    let _ = writeln!(
        out,
        r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="black"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
        TOP + plot_h,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h
    );
    let _ = writeln!(
        out,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">contacts per interval</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">interval (local time), by day</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0
    );

    // One polyline per line and day.
    for (name, colour, pick) in [
        (
            "actual",
            ACTUAL_COLOUR,
            (|p: &PlotPoint| p.actual) as fn(&PlotPoint) -> Option<f64>,
        ),
        ("forecast", FORECAST_COLOUR, |p: &PlotPoint| p.forecast),
    ] {
        let mut run = String::new();
        let flush = |run: &mut String, out: &mut String| {
            if !run.is_empty() {
                let _ = writeln!(
                    out,
                    r#"<polyline class="{name}" fill="none" stroke="{colour}" stroke-width="1.8" points="{}"/>"#,
                    run.trim_end()
                );
                run.clear();
            }
        };
        for (i, p) in points.iter().enumerate() {
            if i > 0 && p.date != points[i - 1].date {
                flush(&mut run, &mut out);
            }
            match pick(p) {
                Some(v) => {
                    let _ = write!(run, "{:.1},{:.1} ", x(i), y(v));
                }
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
    }

    // Legend.
    for (k, (name, colour)) in [("actual", ACTUAL_COLOUR), ("forecast", FORECAST_COLOUR)]
        .into_iter()
        .enumerate()
    {
        let lx = WIDTH - RIGHT - 180.0 + 90.0 * k as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            TOP - 8.0,
            lx + 24.0,
            TOP - 8.0,
            lx + 30.0,
            TOP - 4.0
        );
    }
    out.push_str("</svg>\n");
    out
}

fn weekday(date: Date) -> &'static str {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        [date.weekday().to_monday_zero_offset() as usize]
}

/// 1, 2 or 5 times a power of ten at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let power = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * power >= v {
            return m * power;
        }
    }
    10.0 * power
}

fn format_value(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    #[test]
    fn draws_two_lines_per_day_with_axes_and_legend() {
        let mut points = Vec::new();
        for d in [date(2003, 10, 20), date(2003, 10, 21)] {
            for h in 7..10 {
                points.push(PlotPoint {
                    date: d,
                    time: time(h, 0, 0, 0),
                    actual: Some(f64::from(h) * 10.0),
                    forecast: Some(f64::from(h) * 11.0),
                });
            }
        }
        let svg = svg("bank <calls>", "MAPE 7 %", &points);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline class=\"actual\"").count(), 2);
        assert_eq!(svg.matches("<polyline class=\"forecast\"").count(), 2);
        assert!(svg.contains("bank &lt;calls&gt;"));
        assert!(svg.contains("Mon 2003-10-20") && svg.contains("Tue 2003-10-21"));
        assert_eq!(nice_ceiling(99.0), 100.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
    }
}
