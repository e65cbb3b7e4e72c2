//! Server-rendered SVG charts. Pure: series in, markup out, no I/O.
//!
//! Series are downsampled to the pixels they occupy before drawing: candles and
//! volume are aggregated per pixel column (first open, highest high, lowest
//! low, last close, summed volume); lines go through the raw closes picked by
//! largest-triangle-three-buckets. A ten-year history of
//! five-minute bars therefore draws as fast as a month. The x axis is time; where
//! consecutive points are much further apart than the series' usual spacing (a
//! closed market) the line and candles leave a gap instead of bridging it.

use super::format::{compact_number, escape, format_price};
use jiff::{Timestamp, tz::TimeZone};
use std::fmt::Write as _;

/// One bar, with its start in epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub t: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// One point of a line, epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub t: i64,
    pub v: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Candles,
    Line,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Candles => "candles",
            Mode::Line => "line",
        }
    }
}

/// Aggregates bars into at most `columns` OHLC bars, one per pixel column of the
/// time span `[t0, t1]`. Series that already fit are returned unchanged.
pub fn ohlc_per_column(bars: &[Candle], t0: i64, t1: i64, columns: usize) -> Vec<Candle> {
    if bars.len() <= columns || columns == 0 {
        return bars.to_vec();
    }
    let span = (t1 - t0).max(1) as i128;
    let mut out: Vec<Candle> = Vec::with_capacity(columns);
    let mut current_col = usize::MAX;
    for b in bars {
        let col = (((b.t - t0).max(0) as i128 * columns as i128) / (span + 1)) as usize;
        if col == current_col {
            if let Some(last) = out.last_mut() {
                last.high = last.high.max(b.high);
                last.low = last.low.min(b.low);
                last.close = b.close;
                last.volume += b.volume;
            }
        } else {
            current_col = col;
            out.push(*b);
        }
    }
    out
}

/// Largest-triangle-three-buckets: keeps the first and last point and, from each
/// of `threshold - 2` buckets, the point forming the largest triangle with its
/// neighbours. Preserves peaks and troughs that averaging would flatten.
pub fn lttb(points: &[Point], threshold: usize) -> Vec<Point> {
    let n = points.len();
    if threshold >= n || threshold < 3 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(threshold);
    out.push(points[0]);
    let every = (n - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    for i in 0..threshold - 2 {
        let start = (i as f64 * every) as usize + 1;
        let end = (((i + 1) as f64 * every) as usize + 1).min(n - 1);
        let next_start = end;
        let next_end = (((i + 2) as f64 * every) as usize + 1).min(n);
        let (mut ax, mut ay) = (0.0, 0.0);
        let count = (next_end - next_start).max(1) as f64;
        for p in &points[next_start..next_end.max(next_start + 1).min(n)] {
            ax += p.t as f64;
            ay += p.v;
        }
        ax /= count;
        ay /= count;
        let pa = points[a];
        let mut best = start;
        let mut best_area = -1.0;
        for (j, p) in points
            .iter()
            .enumerate()
            .take(end.max(start + 1))
            .skip(start)
        {
            let area = ((pa.t as f64 - ax) * (p.v - pa.v)
                - (pa.t as f64 - p.t as f64) * (ay - pa.v))
                .abs();
            if area > best_area {
                best_area = area;
                best = j;
            }
        }
        out.push(points[best]);
        a = best;
    }
    out.push(points[n - 1]);
    out
}

/// "Nice" tick values (1, 2, 2.5, 5 × 10ⁿ) covering `[min, max]`, about `target` of them.
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if !(min.is_finite() && max.is_finite()) || target == 0 {
        return Vec::new();
    }
    let (min, max) = if max - min < f64::EPSILON * max.abs().max(1.0) {
        let pad = (min.abs() * 0.01).max(0.01);
        (min - pad, max + pad)
    } else {
        (min, max)
    };
    let raw = (max - min) / target as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut v = first;
    while v <= max + step * 1e-9 && ticks.len() < 50 {
        // Clean binary noise (0.30000000000000004).
        ticks.push((v / step).round() * step);
        v += step;
    }
    ticks
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Time ticks for a span: a step from minutes to decades, aligned on calendar
/// boundaries (UTC), labelled to suit the step.
pub fn time_ticks(t0: i64, t1: i64, target: usize) -> Vec<(i64, String)> {
    if t1 <= t0 || target == 0 {
        return Vec::new();
    }
    let span = t1 - t0;
    // (seconds, months): month-based steps align on month starts.
    let steps: [(i64, i32); 18] = [
        (5 * MINUTE, 0),
        (15 * MINUTE, 0),
        (30 * MINUTE, 0),
        (HOUR, 0),
        (3 * HOUR, 0),
        (6 * HOUR, 0),
        (12 * HOUR, 0),
        (DAY, 0),
        (2 * DAY, 0),
        (7 * DAY, 0),
        (14 * DAY, 0),
        (0, 1),
        (0, 3),
        (0, 6),
        (0, 12),
        (0, 24),
        (0, 60),
        (0, 120),
    ];
    let (secs, months) = steps
        .into_iter()
        .find(|(s, m)| {
            let approx = if *m > 0 { *m as i64 * 30 * DAY } else { *s };
            span / approx <= target as i64
        })
        .unwrap_or((0, 120));
    let mut out = Vec::new();
    if months == 0 {
        let mut t = (t0 + secs - 1).div_euclid(secs) * secs;
        if secs == 7 * DAY || secs == 14 * DAY {
            // Weeks start on Monday (1970-01-01 was a Thursday).
            t = (t0 - 4 * DAY + secs - 1).div_euclid(secs) * secs + 4 * DAY;
        }
        while t <= t1 {
            out.push((t, time_label(t, secs)));
            t += secs;
        }
    } else {
        let Ok(start) = Timestamp::from_second(t0) else {
            return out;
        };
        let d = start.to_zoned(TimeZone::UTC).date();
        let mut year = i32::from(d.year());
        let mut month = i32::from(d.month()) - 1;
        // First month boundary at or after t0 that is a multiple of the step.
        loop {
            let total = year * 12 + month;
            if total % months == 0
                && let Some(t) = month_start(year, month)
                && t >= t0
            {
                break;
            }
            month += 1;
            if month == 12 {
                month = 0;
                year += 1;
            }
        }
        while let Some(t) = month_start(year, month) {
            if t > t1 || out.len() > 40 {
                break;
            }
            let label = if months >= 12 || month == 0 {
                format!("{year}")
            } else {
                MONTHS[month as usize].to_owned()
            };
            out.push((t, label));
            month += months;
            year += month / 12;
            month %= 12;
        }
    }
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_start(year: i32, month0: i32) -> Option<i64> {
    let date = jiff::civil::Date::new(i16::try_from(year).ok()?, (month0 + 1) as i8, 1).ok()?;
    Some(pricetrack_domain::date_key(date).as_second())
}

fn time_label(t: i64, step: i64) -> String {
    let Ok(ts) = Timestamp::from_second(t) else {
        return String::new();
    };
    let z = ts.to_zoned(TimeZone::UTC);
    if step < DAY {
        if z.hour() == 0 && z.minute() == 0 {
            format!("{} {}", MONTHS[(z.month() - 1) as usize], z.day())
        } else {
            format!("{:02}:{:02}", z.hour(), z.minute())
        }
    } else {
        format!("{} {}", MONTHS[(z.month() - 1) as usize], z.day())
    }
}

/// Full date-time text for a tooltip or table.
pub fn time_text(t: i64, intraday: bool) -> String {
    let Ok(ts) = Timestamp::from_second(t) else {
        return String::new();
    };
    let z = ts.to_zoned(TimeZone::UTC);
    if intraday {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            z.year(),
            z.month(),
            z.day(),
            z.hour(),
            z.minute()
        )
    } else {
        format!("{:04}-{:02}-{:02}", z.year(), z.month(), z.day())
    }
}

/// The usual spacing of a series: the median gap between consecutive times.
fn typical_step(times: &[i64]) -> i64 {
    let mut gaps: Vec<i64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return DAY;
    }
    let mid = gaps.len() / 2;
    *gaps.select_nth_unstable(mid).1
}

/// Geometry of a chart's plot area.
struct Frame {
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    t0: i64,
    t1: i64,
    lo: f64,
    hi: f64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        self.left + (t - self.t0) as f64 / span * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        let range = (self.hi - self.lo).max(f64::EPSILON);
        self.bottom - (v - self.lo) / range * (self.bottom - self.top)
    }
}

/// What to draw and how.
/// The narrowest chart drawn: below it the axes would not fit.
pub const MIN_WIDTH: u32 = 280;

/// The width to draw a chart at: the page's default, or the narrower width
/// its container has on a small screen (the script asks for it), so labels
/// keep their size instead of shrinking with the picture.
pub fn fitted_width(requested: Option<u32>, default: u32) -> u32 {
    requested.map_or(default, |w| w.clamp(MIN_WIDTH.min(default), default))
}

pub struct ChartSpec<'a> {
    pub id: &'a str,
    pub width: u32,
    pub height: u32,
    pub title: &'a str,
    pub currency: &'a str,
    pub mode: Mode,
    pub volume: bool,
    /// Intraday series label their times with hours and minutes.
    pub intraday: bool,
}

fn axes(out: &mut String, f: &Frame, y_ticks: &[f64], currency: &str, intraday_hint: bool) {
    let _ = intraday_hint;
    out.push_str("<g class=\"grid\">");
    for v in y_ticks {
        let y = f.y(*v);
        let _ = write!(
            out,
            "<line x1=\"{:.0}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
            f.left, f.right
        );
    }
    out.push_str("</g><g class=\"axis y\">");
    for v in y_ticks {
        let _ = write!(
            out,
            "<text x=\"{:.0}\" y=\"{:.1}\">{}</text>",
            f.right + 6.0,
            f.y(*v) + 4.0,
            escape(&axis_price(*v, currency))
        );
    }
    out.push_str("</g><g class=\"axis x\">");
    let target = ((f.right - f.left) / 90.0).max(2.0) as usize;
    for (t, label) in time_ticks(f.t0, f.t1, target) {
        let x = f.x(t);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.0}\" y2=\"{:.0}\"/><text x=\"{x:.1}\" y=\"{:.0}\">{}</text>",
            f.bottom,
            f.bottom + 4.0,
            f.height - 6.0,
            escape(&label)
        );
    }
    out.push_str("</g>");
}

fn axis_price(v: f64, currency: &str) -> String {
    if v.abs() >= 100_000.0 {
        compact_number(v)
    } else {
        format_price(v, currency)
    }
}

fn open_svg(out: &mut String, spec: &ChartSpec<'_>, desc: &str, data: &str, f: &Frame) {
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         data-plot=\"{l:.1},{r:.1},{t0},{t1},{lo},{hi},{top:.1},{bottom:.1}\" data-mode=\"{mode}\" data-currency=\"{cur}\" data-intraday=\"{intra}\" data-series=\"{data}\">\
         <title id=\"{id}-t\">{title}</title><desc id=\"{id}-d\">{desc}</desc>",
        id = escape(spec.id),
        w = spec.width,
        h = spec.height,
        l = f.left,
        r = f.right,
        t0 = f.t0,
        t1 = f.t1,
        lo = f.lo,
        hi = f.hi,
        top = f.top,
        bottom = f.bottom,
        mode = spec.mode.as_str(),
        cur = escape(spec.currency),
        intra = spec.intraday,
        title = escape(spec.title),
        desc = escape(desc),
    );
}

fn hover_layer(out: &mut String, f: &Frame) {
    let _ = write!(
        out,
        "<g class=\"hover\"><line class=\"xh\" x1=\"0\" x2=\"0\" y1=\"{:.0}\" y2=\"{:.0}\"/><line class=\"yh\" x1=\"{:.0}\" x2=\"{:.0}\" y1=\"0\" y2=\"0\"/></g>",
        f.top, f.bottom, f.left, f.right
    );
}

fn empty_svg(spec: &ChartSpec<'_>, message: &str) -> String {
    format!(
        "<svg class=\"chart empty\" id=\"{id}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{title}</title>\
         <text x=\"{cx}\" y=\"{cy}\" class=\"empty-text\">{msg}</text></svg>",
        id = escape(spec.id),
        w = spec.width,
        h = spec.height,
        title = escape(spec.title),
        cx = spec.width / 2,
        cy = spec.height / 2,
        msg = escape(message),
    )
}

/// A price chart of bars: candles or a close line, with volume bars beneath.
/// Returns the SVG and the downsampled candles it drew (for the data table).
pub fn price_chart(bars: &[Candle], spec: &ChartSpec<'_>) -> (String, Vec<Candle>) {
    if bars.is_empty() {
        return (
            empty_svg(spec, "No prices stored for this period yet"),
            Vec::new(),
        );
    }
    let (width, height) = (f64::from(spec.width), f64::from(spec.height));
    let (left, right, top) = (8.0, width - 64.0, 10.0);
    let volume_h = if spec.volume {
        (height * 0.16).round()
    } else {
        0.0
    };
    let bottom = height - 24.0 - volume_h;
    let step = typical_step(&bars.iter().map(|b| b.t).collect::<Vec<_>>());
    let t0 = bars[0].t;
    let t1 = bars[bars.len() - 1].t + step;
    let columns = match spec.mode {
        // Candles need ~3 px each to be legible.
        Mode::Candles => ((right - left) / 3.0) as usize,
        Mode::Line => (right - left) as usize,
    };
    // Volume (and candles) per pixel column; a line goes through the raw
    // closes picked by LTTB, so a spike inside a column is not lost.
    let aggregated = ohlc_per_column(bars, t0, t1, columns.max(2));
    let (shown, lo, hi) = match spec.mode {
        Mode::Candles => {
            let lo = aggregated
                .iter()
                .map(|b| b.low)
                .fold(f64::INFINITY, f64::min);
            let hi = aggregated
                .iter()
                .map(|b| b.high)
                .fold(f64::NEG_INFINITY, f64::max);
            (aggregated.clone(), lo, hi)
        }
        Mode::Line => {
            let closes: Vec<Point> = bars.iter().map(|b| Point { t: b.t, v: b.close }).collect();
            let picked = lttb(&closes, columns.max(3));
            let lo = bars.iter().map(|b| b.close).fold(f64::INFINITY, f64::min);
            let hi = bars
                .iter()
                .map(|b| b.close)
                .fold(f64::NEG_INFINITY, f64::max);
            (bars_at(bars, &picked), lo, hi)
        }
    };
    let ticks = nice_ticks(lo, hi, 5);
    let f = Frame {
        height,
        left,
        right,
        top,
        bottom,
        t0,
        t1,
        lo: ticks.first().copied().unwrap_or(lo).min(lo),
        hi: ticks.last().copied().unwrap_or(hi).max(hi),
    };
    let mut data = String::with_capacity(shown.len() * 40);
    for (i, b) in shown.iter().enumerate() {
        if i > 0 {
            data.push(';');
        }
        let _ = write!(
            data,
            "{},{},{},{},{},{}",
            b.t, b.open, b.high, b.low, b.close, b.volume
        );
    }
    let last = shown[shown.len() - 1];
    let first = shown[0];
    let desc = format!(
        "From {} to {}: opened {}, closed {}, low {}, high {}.",
        time_text(first.t, spec.intraday),
        time_text(last.t, spec.intraday),
        format_price(first.open, spec.currency),
        format_price(last.close, spec.currency),
        format_price(lo, spec.currency),
        format_price(hi, spec.currency)
    );
    let mut out = String::with_capacity(4096 + shown.len() * 60);
    open_svg(&mut out, spec, &desc, &data, &f);
    axes(&mut out, &f, &ticks, spec.currency, spec.intraday);
    // Column width in time: the aggregation bucket or the bar interval.
    let col_t = if aggregated.len() < bars.len() {
        ((t1 - t0) as f64 / columns.max(1) as f64) as i64
    } else {
        step
    }
    .max(1);
    let col_px = (f.x(t0 + col_t) - f.x(t0)).max(1.0);
    let gap = (step * 4).max(col_t * 2);
    if spec.volume {
        let vmax = aggregated.iter().map(|b| b.volume).fold(0.0, f64::max);
        if vmax > 0.0 {
            let base = height - 24.0;
            let (mut up, mut down) = (String::new(), String::new());
            for b in &aggregated {
                let h = (b.volume / vmax * (volume_h - 4.0)).max(0.0);
                if h <= 0.0 {
                    continue;
                }
                let x = f.x(b.t);
                let w = (col_px * 0.8).max(0.6);
                let target = if b.close >= b.open {
                    &mut up
                } else {
                    &mut down
                };
                let _ = write!(target, "M{x:.1} {:.1}h{w:.1}v{h:.1}h{:.1}Z", base - h, -w);
            }
            let _ = write!(
                out,
                "<g class=\"volume\"><path class=\"up\" d=\"{up}\"/><path class=\"down\" d=\"{down}\"/></g>"
            );
        }
    }
    match spec.mode {
        Mode::Candles => {
            let (mut up, mut down) = (String::new(), String::new());
            for b in &shown {
                let x = f.x(b.t);
                let w = (col_px * 0.7).clamp(1.0, 14.0);
                let cx = x + col_px / 2.0;
                let target = if b.close >= b.open {
                    &mut up
                } else {
                    &mut down
                };
                let (yo, yc) = (f.y(b.open), f.y(b.close));
                let (top_body, body_h) = (yo.min(yc), (yo - yc).abs().max(1.0));
                let _ = write!(
                    target,
                    "M{cx:.1} {:.1}V{:.1}M{:.1} {top_body:.1}h{w:.1}v{body_h:.1}h{:.1}Z",
                    f.y(b.high),
                    f.y(b.low),
                    cx - w / 2.0,
                    -w
                );
            }
            let _ = write!(
                out,
                "<g class=\"candles\"><path class=\"up\" d=\"{up}\"/><path class=\"down\" d=\"{down}\"/></g>"
            );
        }
        Mode::Line => {
            let points: Vec<Point> = shown.iter().map(|b| Point { t: b.t, v: b.close }).collect();
            let d = line_path(&points, &f, gap, col_px / 2.0);
            let _ = write!(out, "<path class=\"line primary\" d=\"{d}\"/>");
        }
    }
    hover_layer(&mut out, &f);
    out.push_str("</svg>");
    (out, shown)
}

/// The bars whose times LTTB picked (both in time order).
fn bars_at(bars: &[Candle], picked: &[Point]) -> Vec<Candle> {
    let mut out = Vec::with_capacity(picked.len());
    let mut rest = bars.iter();
    for p in picked {
        if let Some(b) = rest.by_ref().find(|b| b.t == p.t) {
            out.push(*b);
        }
    }
    out
}

/// An SVG path through the points, broken (new `M`) across gaps wider than `gap` seconds.
fn line_path(points: &[Point], f: &Frame, gap: i64, x_offset: f64) -> String {
    let mut d = String::with_capacity(points.len() * 14);
    let mut prev: Option<i64> = None;
    for p in points {
        let cmd = match prev {
            Some(t) if p.t - t <= gap => 'L',
            _ => 'M',
        };
        let _ = write!(d, "{cmd}{:.1} {:.1}", f.x(p.t) + x_offset, f.y(p.v));
        prev = Some(p.t);
    }
    d
}

/// A line chart of one or more series (`(css class, label, points)`), downsampled
/// with LTTB to the plot width. The first series is the primary one (area fill).
pub fn line_chart(series: &[(&str, &str, Vec<Point>)], spec: &ChartSpec<'_>) -> String {
    let all: Vec<&Point> = series.iter().flat_map(|s| s.2.iter()).collect();
    if all.len() < 2 {
        return empty_svg(spec, "Not enough history to draw yet");
    }
    let (width, height) = (f64::from(spec.width), f64::from(spec.height));
    let (left, right, top, bottom) = (8.0, width - 64.0, 10.0, height - 24.0);
    let t0 = all.iter().map(|p| p.t).min().unwrap_or(0);
    let t1 = all.iter().map(|p| p.t).max().unwrap_or(1).max(t0 + 1);
    let lo = all.iter().map(|p| p.v).fold(f64::INFINITY, f64::min);
    let hi = all.iter().map(|p| p.v).fold(f64::NEG_INFINITY, f64::max);
    let ticks = nice_ticks(lo, hi, 4);
    let f = Frame {
        height,
        left,
        right,
        top,
        bottom,
        t0,
        t1,
        lo: ticks.first().copied().unwrap_or(lo).min(lo),
        hi: ticks.last().copied().unwrap_or(hi).max(hi),
    };
    let columns = (right - left) as usize;
    let downsampled: Vec<(&str, &str, Vec<Point>)> = series
        .iter()
        .map(|(class, label, pts)| (*class, *label, lttb(pts, columns)))
        .collect();
    let primary = &downsampled[0].2;
    let mut data = String::new();
    for (i, p) in primary.iter().enumerate() {
        if i > 0 {
            data.push(';');
        }
        let _ = write!(data, "{},{}", p.t, p.v);
        for other in &downsampled[1..] {
            let v = other
                .2
                .iter()
                .take_while(|q| q.t <= p.t)
                .last()
                .map_or(f64::NAN, |q| q.v);
            let _ = write!(data, ",{v}");
        }
    }
    let desc = match (primary.first(), primary.last()) {
        (Some(a), Some(b)) => format!(
            "{} from {} on {} to {} on {}.",
            downsampled[0].1,
            format_price(a.v, spec.currency),
            time_text(a.t, false),
            format_price(b.v, spec.currency),
            time_text(b.t, false)
        ),
        _ => String::new(),
    };
    let mut out = String::with_capacity(8192);
    open_svg(&mut out, spec, &desc, &data, &f);
    axes(&mut out, &f, &ticks, spec.currency, false);
    let step = typical_step(&primary.iter().map(|p| p.t).collect::<Vec<_>>());
    let gap = step * 8;
    if let (Some(first), Some(last)) = (primary.first(), primary.last()) {
        let d = line_path(primary, &f, gap, 0.0);
        let _ = write!(
            out,
            "<path class=\"area\" d=\"{d}L{:.1} {:.1}L{:.1} {:.1}Z\"/>",
            f.x(last.t),
            f.bottom,
            f.x(first.t),
            f.bottom
        );
    }
    for (class, _, pts) in downsampled.iter().rev() {
        let d = line_path(pts, &f, gap, 0.0);
        let _ = write!(out, "<path class=\"line {}\" d=\"{d}\"/>", escape(class));
    }
    hover_layer(&mut out, &f);
    out.push_str("</svg>");
    out
}

/// A small line without axes for tables; `class` is `up` or `down`.
pub fn sparkline(values: &[f64], width: u32, height: u32) -> String {
    let values: Vec<f64> = if values.len() > width as usize {
        let pts: Vec<Point> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Point { t: i as i64, v: *v })
            .collect();
        lttb(&pts, width as usize)
            .into_iter()
            .map(|p| p.v)
            .collect()
    } else {
        values.to_vec()
    };
    let class = match (values.first(), values.last()) {
        (Some(a), Some(b)) if b < a => "down",
        _ => "up",
    };
    let mut points = String::new();
    if values.len() >= 2 {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let range = (hi - lo).max(f64::EPSILON);
        let (w, h) = (f64::from(width) - 2.0, f64::from(height) - 2.0);
        for (i, v) in values.iter().enumerate() {
            let x = 1.0 + i as f64 / (values.len() - 1) as f64 * w;
            let y = 1.0 + h - (v - lo) / range * h;
            let _ = write!(points, "{}{x:.1},{y:.1}", if i > 0 { " " } else { "" });
        }
    }
    format!(
        "<svg class=\"spark {class}\" viewBox=\"0 0 {width} {height}\" aria-hidden=\"true\"><polyline points=\"{points}\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(t: i64, c: f64) -> Candle {
        Candle {
            t,
            open: c,
            high: c + 1.0,
            low: c - 1.0,
            close: c,
            volume: 10.0,
        }
    }

    #[test]
    fn ohlc_aggregation_keeps_first_open_extremes_last_close_and_sums_volume() {
        let bars: Vec<Candle> = (0..100).map(|i| candle(i * 60, 100.0 + i as f64)).collect();
        let out = ohlc_per_column(&bars, 0, 99 * 60, 10);
        assert!(out.len() <= 10 && out.len() >= 9, "{}", out.len());
        let first = out[0];
        assert_eq!(first.open, 100.0);
        assert_eq!(first.low, 99.0);
        let total: f64 = out.iter().map(|b| b.volume).sum();
        assert_eq!(total, 1000.0);
        assert_eq!(out.last().unwrap().close, 199.0);
        assert_eq!(out.iter().map(|b| b.high).fold(0.0, f64::max), 200.0);
    }

    #[test]
    fn series_that_fit_are_not_touched() {
        let bars: Vec<Candle> = (0..5).map(|i| candle(i, 1.0)).collect();
        assert_eq!(ohlc_per_column(&bars, 0, 5, 10), bars);
    }

    #[test]
    fn lttb_keeps_endpoints_and_the_spike() {
        let mut pts: Vec<Point> = (0..1000).map(|i| Point { t: i, v: 1.0 }).collect();
        pts[500].v = 50.0;
        let out = lttb(&pts, 50);
        assert_eq!(out.len(), 50);
        assert_eq!(out[0], pts[0]);
        assert_eq!(out[49], pts[999]);
        assert!(out.iter().any(|p| p.v == 50.0), "the spike survives");
    }

    #[test]
    fn nice_ticks_use_round_steps() {
        assert_eq!(
            nice_ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let t = nice_ticks(187.3, 192.9, 5);
        assert_eq!(t, vec![188.0, 190.0, 192.0]);
        assert!(
            !nice_ticks(5.0, 5.0, 4).is_empty(),
            "a flat series still gets ticks"
        );
    }

    #[test]
    fn time_ticks_follow_the_span() {
        let day = nice_day("2024-06-03");
        let intraday = time_ticks(day + 13 * HOUR, day + 21 * HOUR, 6);
        assert!(
            intraday.iter().all(|(_, l)| l.contains(':')),
            "{intraday:?}"
        );
        let year = time_ticks(nice_day("2023-01-01"), nice_day("2024-01-01"), 6);
        assert!(
            year.iter().any(|(_, l)| l == "Mar" || l == "Apr"),
            "{year:?}"
        );
        let decade = time_ticks(nice_day("2014-03-01"), nice_day("2024-03-01"), 6);
        assert!(decade.iter().all(|(_, l)| l.len() == 4), "{decade:?}");
    }

    fn nice_day(d: &str) -> i64 {
        pricetrack_domain::date_key(d.parse().unwrap()).as_second()
    }

    #[test]
    fn a_ten_year_five_minute_history_draws_to_the_pixel_budget() {
        let bars: Vec<Candle> = (0..10 * 252 * 78)
            .map(|i| candle(i as i64 * 300, 100.0 + (i % 1000) as f64 / 10.0))
            .collect();
        let spec = ChartSpec {
            id: "c",
            width: 800,
            height: 320,
            title: "AAPL",
            currency: "USD",
            mode: Mode::Candles,
            volume: true,
            intraday: true,
        };
        let (svg, shown) = price_chart(&bars, &spec);
        assert!(shown.len() <= 800 / 3, "{}", shown.len());
        assert!(svg.len() < 120_000, "{}", svg.len());
        assert!(svg.contains("<title"));
    }

    #[test]
    fn line_mode_downsamples_the_raw_closes_keeping_a_spike_inside_a_column() {
        // 20,000 bars on ~750 px: each column holds many bars, and the spike is
        // not the last of its column (what per-column OHLC would keep).
        let mut bars: Vec<Candle> = (0..20_000).map(|i| candle(i * 60, 100.0)).collect();
        bars[10_001].close = 150.0;
        let spec = ChartSpec {
            id: "c",
            width: 820,
            height: 300,
            title: "t",
            currency: "USD",
            mode: Mode::Line,
            volume: true,
            intraday: true,
        };
        let (svg, shown) = price_chart(&bars, &spec);
        assert!(shown.len() <= 820, "{}", shown.len());
        assert!(shown.iter().any(|b| b.close == 150.0), "the spike is drawn");
        assert!(
            shown.iter().all(|b| bars.contains(b)),
            "the line's points are raw bars"
        );
        assert!(svg.contains(",150,"), "and it is in the hover series");
        let total: f64 = ohlc_per_column(&bars, 0, 20_000 * 60, 756)
            .iter()
            .map(|b| b.volume)
            .sum();
        assert_eq!(total, 200_000.0, "volume still sums per column");
    }

    #[test]
    fn closed_markets_leave_gaps_in_lines() {
        // Two sessions of 5-minute bars separated by a night.
        let mut bars: Vec<Candle> = (0..78).map(|i| candle(i * 300, 100.0)).collect();
        bars.extend((0..78).map(|i| candle(DAY + i * 300, 101.0)));
        let spec = ChartSpec {
            id: "c",
            width: 800,
            height: 300,
            title: "t",
            currency: "USD",
            mode: Mode::Line,
            volume: false,
            intraday: true,
        };
        let (svg, _) = price_chart(&bars, &spec);
        let path = svg.split("class=\"line primary\" d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        assert_eq!(path.matches('M').count(), 2, "one move per session: {path}");
    }

    #[test]
    fn titles_and_text_are_escaped() {
        let spec = ChartSpec {
            id: "c",
            width: 300,
            height: 100,
            title: "<script>alert(1)</script>",
            currency: "USD",
            mode: Mode::Line,
            volume: false,
            intraday: false,
        };
        let (svg, _) = price_chart(&[candle(0, 1.0), candle(DAY, 2.0)], &spec);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn sparklines_are_coloured_by_direction() {
        assert!(sparkline(&[1.0, 2.0, 3.0], 80, 20).contains("spark up"));
        assert!(sparkline(&[3.0, 2.0, 1.0], 80, 20).contains("spark down"));
    }
}
