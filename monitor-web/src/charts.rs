//! The trend charts, drawn as SVG on the server with plotters and rasterised
//! to PNG with resvg. Each chart has axis titles with units, dates on the time
//! axis, and an overlay of invisible shapes carrying `<title>`s, so hovering a
//! point or bar tells its exact value.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use chrono::DateTime;
use monitor_queries::{DayStats, Trends};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use tracker_core::RunStatus;

use crate::format;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 360;
const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(0x1f, 0x5f, 0xbf);
const GREEN: RGBColor = RGBColor(0x1b, 0x7f, 0x3b);
const RED: RGBColor = RGBColor(0xb3, 0x26, 0x1e);
const GREY: RGBColor = RGBColor(0x6b, 0x72, 0x80);
const ORANGE: RGBColor = RGBColor(0xb4, 0x53, 0x09);
const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
/// Tick labels and legends. plotters writes `font-size` as this / 1.24, so 20
/// is 16 px in the SVG; the page shows the 760 px chart about 590 px wide, so
/// it reads as about 12.5 px.
const LABEL_PX: u32 = 20;
/// Axis titles.
const DESC_PX: u32 = 20;
/// Height of the legend row above the plot area.
const LEGEND_H: u32 = 36;
/// Width of the failure labels left of the bars.
const FAILURE_LABEL_W: u32 = 300;
/// Most points a time chart draws: beyond this, every n-th run is drawn, so a
/// busy range stays a light page (the statistics still use every run).
pub(crate) const MAX_POINTS: usize = 1500;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// plotters failed to draw.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// The SVG could not be rasterised.
    #[error("rasterising the chart to PNG failed: {0}")]
    Raster(String),
    /// Not one of the charts.
    #[error("unknown chart {0:?}: use duration, outcomes, failures or resources")]
    Unknown(String),
}

fn draw_err<E: std::fmt::Debug>(err: E) -> ChartError {
    ChartError::Draw(format!("{err:?}"))
}

/// The charts of the trends page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// Duration of each completed run over time (line).
    Duration,
    /// Completed / failed / other runs per day (stacked bars).
    Outcomes,
    /// The most common failures (horizontal bars).
    Failures,
    /// Peak memory and CPU time of each run over time (lines, two axes).
    Resources,
}

impl ChartKind {
    /// Every chart, in page order.
    pub const ALL: [ChartKind; 4] =
        [ChartKind::Duration, ChartKind::Outcomes, ChartKind::Failures, ChartKind::Resources];

    /// The name in URLs and file names.
    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Duration => "duration",
            ChartKind::Outcomes => "outcomes",
            ChartKind::Failures => "failures",
            ChartKind::Resources => "resources",
        }
    }

    /// The chart's title.
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Duration => "Execution time of completed runs",
            ChartKind::Outcomes => "Runs per day by outcome",
            ChartKind::Failures => "Most common failures",
            ChartKind::Resources => "Resource use per run",
        }
    }

    /// Parses a chart name.
    pub fn parse(name: &str) -> Result<Self, ChartError> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| ChartError::Unknown(name.to_owned()))
    }
}

/// A hover target: a transparent shape with a title.
enum Target {
    Circle { x: i32, y: i32, title: String },
    Rect { x0: i32, y0: i32, x1: i32, y1: i32, title: String },
}

/// A drawn chart.
pub(crate) struct Chart {
    /// The SVG as plotters drew it (what the PNG is made from).
    plain: String,
    targets: Vec<Target>,
    kind: ChartKind,
    description: String,
}

impl Chart {
    /// The SVG with its accessible title and the hover targets.
    pub(crate) fn svg(&self) -> String {
        let mut overlay = String::from(
            "<g class=\"hover-targets\" fill=\"#000\" fill-opacity=\"0\" pointer-events=\"all\">",
        );
        for target in &self.targets {
            match target {
                Target::Circle { x, y, title } => {
                    let _ = write!(
                        overlay,
                        "<circle cx=\"{x}\" cy=\"{y}\" r=\"7\"><title>{}</title></circle>",
                        escape(title)
                    );
                }
                Target::Rect { x0, y0, x1, y1, title } => {
                    let (x, y) = ((*x0).min(*x1), (*y0).min(*y1));
                    let (w, h) = ((x1 - x0).abs().max(2), (y1 - y0).abs().max(2));
                    let _ = write!(
                        overlay,
                        "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"><title>{}</title></rect>",
                        escape(title)
                    );
                }
            }
        }
        overlay.push_str("</g>");
        let head = format!(
            " role=\"img\" aria-label=\"{}\"><title>{}</title><desc>{}</desc>",
            escape(self.kind.title()),
            escape(self.kind.title()),
            escape(&self.description)
        );
        let mut svg = self.plain.replacen('>', &head, 1);
        if let Some(end) = svg.rfind("</svg>") {
            svg.insert_str(end, &overlay);
        }
        svg
    }

    /// The chart as a PNG, at twice the SVG's size.
    pub(crate) fn png(&self) -> Result<Vec<u8>, ChartError> {
        rasterise(&self.plain)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Draws one chart of `trends`.
pub(crate) fn draw(kind: ChartKind, trends: &Trends) -> Result<Chart, ChartError> {
    let mut plain = String::new();
    let (targets, description) = {
        let root = SVGBackend::with_string(&mut plain, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let drawn = match kind {
            ChartKind::Duration => duration_chart(&root, trends),
            ChartKind::Outcomes => outcomes_chart(&root, trends),
            ChartKind::Failures => failures_chart(&root, trends),
            ChartKind::Resources => resources_chart(&root, trends),
        }?;
        root.present().map_err(draw_err)?;
        drawn
    };
    Ok(Chart { plain, targets, kind, description })
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Drawn = Result<(Vec<Target>, String), ChartError>;

/// A count axis: the top of the range and the step between ticks (1, 2 or 5
/// times a power of ten, at most 6 ticks), so that every tick is a whole number.
fn count_axis(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut power = 1_i64;
    loop {
        for m in [1, 2, 5] {
            let step = m * power;
            let ticks = (max + step - 1) / step;
            if ticks <= 5 {
                return (ticks * step, step);
            }
        }
        power *= 10;
    }
}

/// The ticks of a count axis whose largest value is `max`: 0, step, ..., top.
fn count_ticks(max: i64) -> Vec<i64> {
    let (top, step) = count_axis(max);
    (0..=top).step_by(step as usize).collect()
}

fn anchored(h: HPos, v: VPos) -> TextStyle<'static> {
    label_style(LABEL_PX).pos(plotters::style::text_anchor::Pos::new(h, v))
}

/// Grid lines and whole-number labels of a count axis, drawn by hand so that no
/// fractional tick can appear. `vertical`: the counts run up the y axis.
fn draw_count_ticks<X, Y>(
    root: &Root<'_>,
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    ticks: &[i64],
    vertical: bool,
) -> Result<(), ChartError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (xr, yr) = (chart.x_range(), chart.y_range());
    for &tick in ticks {
        let t = tick as f64;
        let (line, at) = if vertical {
            ([(xr.start, t), (xr.end, t)], (xr.start, t))
        } else {
            ([(t, yr.start), (t, yr.end)], (t, yr.start))
        };
        chart.draw_series(std::iter::once(PathElement::new(line.to_vec(), GRID))).map_err(draw_err)?;
        let (x, y) = chart.backend_coord(&at);
        let (pos, style) = if vertical {
            ((x - 8, y), anchored(HPos::Right, VPos::Center))
        } else {
            ((x, y + 8), anchored(HPos::Center, VPos::Top))
        };
        root.draw(&Text::new(tick.to_string(), pos, style)).map_err(draw_err)?;
    }
    Ok(())
}

/// A legend row above the plot area: a mark and a label per series.
fn legend_row(area: &Root<'_>, left: i32, items: &[(&str, RGBColor, bool)]) -> Result<(), ChartError> {
    let y = (LEGEND_H / 2) as i32 + 6;
    let mut x = left;
    for (label, color, line) in items {
        if *line {
            area.draw(&PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)))
                .map_err(draw_err)?;
        } else {
            area.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())).map_err(draw_err)?;
        }
        x += 24;
        area.draw(&Text::new(label.to_string(), (x, y), anchored(HPos::Left, VPos::Center)))
            .map_err(draw_err)?;
        let width = area.estimate_text_size(label, &label_style(LABEL_PX)).map_err(draw_err)?.0 as i32;
        x += width + 24;
    }
    Ok(())
}

/// `text` cut with an ellipsis to fit `width` pixels at the label size.
fn fit(area: &Root<'_>, text: &str, width: u32) -> Result<String, ChartError> {
    let style = label_style(LABEL_PX);
    let fits = |t: &str| area.estimate_text_size(t, &style).map(|(w, _)| w <= width).map_err(draw_err);
    if fits(text)? {
        return Ok(text.to_owned());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 0 {
        keep -= 1;
        let cut: String = chars[..keep].iter().collect::<String>().trim_end().to_owned() + "…";
        if fits(&cut)? {
            return Ok(cut);
        }
    }
    Ok("…".to_owned())
}

fn label_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&INK)
}

fn no_data(root: &Root<'_>, what: &str) -> Drawn {
    let style = label_style(16).pos(plotters::style::text_anchor::Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(
        format!("No {what} in this range"),
        ((WIDTH / 2) as i32, (HEIGHT / 2) as i32),
        style,
    ))
    .map_err(draw_err)?;
    Ok((Vec::new(), format!("No {what} in this range.")))
}

/// A date on a time axis: month and day, with the year when the range spans
/// more than about ten months.
fn date_label(seconds: f64, span: f64) -> String {
    let format = if span > 300.0 * 86_400.0 { "%b %Y" } else { "%b %d" };
    DateTime::from_timestamp(seconds as i64, 0).map(|t| t.format(format).to_string()).unwrap_or_default()
}

/// A range with some room around the values, never empty.
fn padded(min: f64, max: f64) -> std::ops::Range<f64> {
    if (max - min).abs() < f64::EPSILON {
        return (min - 1.0)..(max + 1.0);
    }
    let pad = (max - min) * 0.04;
    (min - pad)..(max + pad)
}

fn duration_chart(root: &Root<'_>, trends: &Trends) -> Drawn {
    let mut points: Vec<(f64, f64, String)> = trends
        .runs
        .iter()
        .filter(|run| run.status == RunStatus::Completed)
        .filter_map(|run| {
            let ms = run.duration_ms?;
            Some((
                run.started_at.timestamp() as f64,
                ms as f64 / 60_000.0,
                format!(
                    "{} · {} · {}",
                    run.script_name,
                    format::time(run.started_at),
                    format::duration(Some(ms))
                ),
            ))
        })
        .collect();
    if points.is_empty() {
        return no_data(root, "completed runs");
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let single = one_script(trends);
    // Several scripts: a line between runs of different scripts means nothing,
    // so the points carry a line of each day's median duration (of every run,
    // before thinning) instead.
    let medians = if single { Vec::new() } else { daily_medians(&points) };
    let (points, every) = thin(points);
    let x0 = medians.iter().map(|m| m.x).fold(points[0].0, f64::min);
    let x1 = medians.iter().map(|m| m.x).fold(points[points.len() - 1].0, f64::max);
    let y1 = points.iter().map(|p| p.1).fold(0.0_f64, f64::max) * 1.1 + 0.01;
    let (legend, plot) = root.split_vertically(LEGEND_H);
    let mut chart = ChartBuilder::on(&plot)
        .margin(16)
        .margin_top(8)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(padded(x0, x1), 0.0..y1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("Start date (UTC)")
        .y_desc("Duration (minutes)")
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| date_label(*x, x1 - x0))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .label_style(label_style(LABEL_PX))
        .axis_desc_style(label_style(DESC_PX))
        .light_line_style(GRID)
        .draw()
        .map_err(draw_err)?;
    if single {
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), BLUE.stroke_width(2)))
            .map_err(draw_err)?;
    }
    chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1), 3, BLUE.filled()))).map_err(draw_err)?;
    if !medians.is_empty() {
        chart
            .draw_series(LineSeries::new(medians.iter().map(|m| (m.x, m.minutes)), ORANGE.stroke_width(3)))
            .map_err(draw_err)?;
        chart
            .draw_series(medians.iter().map(|m| TriangleMarker::new((m.x, m.minutes), 5, ORANGE.filled())))
            .map_err(draw_err)?;
    }
    let left = chart.plotting_area().get_pixel_range().0.start;
    if single {
        legend_row(&legend, left, &[("completed run", BLUE, true)])?;
    } else {
        legend_row(&legend, left, &[("completed run", BLUE, false), ("daily median", ORANGE, true)])?;
    }
    let mut targets: Vec<Target> = points
        .iter()
        .map(|p| {
            let (x, y) = chart.backend_coord(&(p.0, p.1));
            Target::Circle { x, y, title: p.2.clone() }
        })
        .collect();
    targets.extend(medians.iter().map(|m| {
        let (x, y) = chart.backend_coord(&(m.x, m.minutes));
        Target::Circle { x, y, title: m.title.clone() }
    }));
    let description = if single {
        format!("Line chart of the duration of {} completed runs over time{}.", points.len(), thinned(every))
    } else {
        format!(
            "Chart of the duration of {} completed runs of several scripts over time{}, with a line of each day's median.",
            points.len(),
            thinned(every)
        )
    };
    Ok((targets, description))
}

/// One day's median duration on the duration chart.
#[derive(Debug)]
struct DayMedian {
    /// Noon of the UTC day, in seconds.
    x: f64,
    minutes: f64,
    title: String,
}

/// The median duration of each UTC day's runs; `points` are (start seconds,
/// minutes, title) sorted by start.
fn daily_medians(points: &[(f64, f64, String)]) -> Vec<DayMedian> {
    let day_of = |x: f64| (x / 86_400.0).floor() as i64;
    points
        .chunk_by(|a, b| day_of(a.0) == day_of(b.0))
        .map(|day| {
            let mut values: Vec<f64> = day.iter().map(|p| p.1).collect();
            values.sort_by(f64::total_cmp);
            let n = values.len();
            let minutes =
                if n % 2 == 1 { values[n / 2] } else { f64::midpoint(values[n / 2 - 1], values[n / 2]) };
            let start = day_of(day[0].0) * 86_400;
            let date = DateTime::from_timestamp(start, 0).map(|t| t.format("%Y-%m-%d").to_string());
            DayMedian {
                x: (start + 43_200) as f64,
                minutes,
                title: format!(
                    "{} · median {} of {n} completed run{}",
                    date.unwrap_or_default(),
                    format::duration(Some((minutes * 60_000.0).round() as i64)),
                    if n == 1 { "" } else { "s" }
                ),
            }
        })
        .collect()
}

/// Keeps every n-th point (and the last) so that at most [`MAX_POINTS`] remain; returns n.
fn thin<T>(points: Vec<T>) -> (Vec<T>, usize) {
    let every = points.len().div_ceil(MAX_POINTS).max(1);
    if every == 1 {
        return (points, 1);
    }
    let last = points.len() - 1;
    let kept = points
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i == last)
        .map(|(_, p)| p)
        .collect();
    (kept, every)
}

fn thinned(every: usize) -> String {
    if every > 1 { format!(" (every {every}th run of a busy range)") } else { String::new() }
}

/// Whether every run of the trend belongs to one script.
fn one_script(trends: &Trends) -> bool {
    trends.runs.windows(2).all(|pair| pair[0].script_name == pair[1].script_name)
}

/// Most bars of the outcomes chart: longer ranges add up consecutive days per bar.
const MAX_BARS: usize = 92;

/// The days of the range, added up `n` consecutive days per bar so that at most
/// [`MAX_BARS`] remain; a bar is labelled by its first day.
fn bucket_days(days: &[DayStats]) -> (Vec<DayStats>, usize) {
    let per_bar = days.len().div_ceil(MAX_BARS).max(1);
    let bars = days
        .chunks(per_bar)
        .map(|chunk| {
            let completed: i64 = chunk.iter().map(|d| d.completed).sum();
            let weighted: f64 =
                chunk.iter().filter_map(|d| Some(d.mean_duration_ms? * d.completed as f64)).sum();
            DayStats {
                day: chunk[0].day.clone(),
                runs: chunk.iter().map(|d| d.runs).sum(),
                completed,
                failed: chunk.iter().map(|d| d.failed).sum(),
                mean_duration_ms: (completed > 0).then(|| weighted / completed as f64),
            }
        })
        .collect();
    (bars, per_bar)
}

fn outcomes_chart(root: &Root<'_>, trends: &Trends) -> Drawn {
    if trends.per_day.is_empty() {
        return no_data(root, "runs");
    }
    let (bars, per_bar) = bucket_days(&trends.per_day);
    let days = &bars;
    let unit = if per_bar == 1 {
        "Day (UTC)".to_owned()
    } else {
        format!("{per_bar}-day periods, by first day (UTC)")
    };
    // The legend has its own row above the plot, so it never hides a bar.
    let (legend, plot) = root.split_vertically(LEGEND_H);
    let ticks = count_ticks(days.iter().map(|d| d.runs).max().unwrap_or(0));
    let max = ticks[ticks.len() - 1] as f64;
    let n = days.len() as f64;
    let mut chart = ChartBuilder::on(&plot)
        .margin(16)
        .margin_top(8)
        .x_label_area_size(52)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..n, 0.0..max * 1.03)
        .map_err(draw_err)?;
    // Month-day within a year or so; the full date over longer ranges.
    let labels: Vec<String> = days
        .iter()
        .map(|d| {
            if trends.per_day.len() <= 366 {
                d.day.get(5..).unwrap_or(&d.day).to_owned()
            } else {
                d.day.clone()
            }
        })
        .collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(unit.as_str())
        .disable_y_mesh()
        .y_desc("Runs")
        .x_labels(days.len().min(if trends.per_day.len() <= 366 { 10 } else { 6 }))
        .y_labels(0)
        .x_label_formatter(&|x| labels.get(x.floor() as usize).cloned().unwrap_or_default())
        .label_style(label_style(LABEL_PX))
        .axis_desc_style(label_style(DESC_PX))
        .light_line_style(GRID)
        .draw()
        .map_err(draw_err)?;
    draw_count_ticks(root, &mut chart, &ticks, true)?;
    let mut targets = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let x = i as f64;
        let other = (day.runs - day.completed - day.failed).max(0);
        let stack = [(day.completed, GREEN), (day.failed, RED), (other, GREY)];
        let mut base = 0.0;
        for (count, color) in stack {
            if count > 0 {
                let top = base + count as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x + 0.12, base), (x + 0.88, top)],
                        color.filled(),
                    )))
                    .map_err(draw_err)?;
                base = top;
            }
        }
        let (x0, y0) = chart.backend_coord(&(x + 0.12, base.max(max * 0.02)));
        let (x1, y1) = chart.backend_coord(&(x + 0.88, 0.0));
        targets.push(Target::Rect {
            x0,
            y0,
            x1,
            y1,
            title: format!(
                "{}: {} runs, {} completed, {} failed, {other} other",
                day.day, day.runs, day.completed, day.failed
            ),
        });
    }
    let left = chart.plotting_area().get_pixel_range().0.start;
    legend_row(
        &legend,
        left,
        &[("completed", GREEN, false), ("failed", RED, false), ("cancelled, lost or running", GREY, false)],
    )?;
    Ok((
        targets,
        format!(
            "Stacked bar chart of completed and failed runs in {} periods of {per_bar} days.",
            days.len()
        ),
    ))
}

fn failures_chart(root: &Root<'_>, trends: &Trends) -> Drawn {
    let failures = &trends.common_failures;
    if failures.is_empty() {
        return no_data(root, "failures");
    }
    let n = failures.len() as f64;
    let ticks = count_ticks(failures.iter().map(|f| f.count as i64).max().unwrap_or(0));
    // Room right of the longest bar for its count.
    let max = ticks[ticks.len() - 1] as f64 * 1.1;
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(FAILURE_LABEL_W)
        .build_cartesian_2d(0.0..max, 0.0..n)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(0)
        .x_labels(0)
        .x_desc("Failures")
        .label_style(label_style(LABEL_PX))
        .axis_desc_style(label_style(DESC_PX))
        .light_line_style(GRID)
        .draw()
        .map_err(draw_err)?;
    draw_count_ticks(root, &mut chart, &ticks, false)?;
    let mut targets = Vec::new();
    for (i, failure) in failures.iter().enumerate() {
        // Most frequent at the top: band i runs from n-i-1 to n-i.
        let band = n - i as f64 - 1.0;
        let color = if i % 2 == 0 { RED } else { ORANGE };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, band + 0.18), (failure.count as f64, band + 0.82)],
                color.filled(),
            )))
            .map_err(draw_err)?;
        let class = failure.error_class.as_deref().map(|c| format!("{c}: ")).unwrap_or_default();
        let label = fit(root, &format!("{class}{}", failure.example), FAILURE_LABEL_W - 12)?;
        let (lx, ly) = chart.backend_coord(&(0.0, band + 0.5));
        root.draw(&Text::new(label, (lx - 8, ly), anchored(HPos::Right, VPos::Center))).map_err(draw_err)?;
        let (cx, cy) = chart.backend_coord(&(failure.count as f64, band + 0.5));
        root.draw(&Text::new(failure.count.to_string(), (cx + 6, cy), anchored(HPos::Left, VPos::Center)))
            .map_err(draw_err)?;
        let (x0, y0) = chart.backend_coord(&(0.0, band + 1.0));
        let (x1, y1) = chart.backend_coord(&(max, band));
        // The hover target covers the label too.
        let x0 = x0 - FAILURE_LABEL_W as i32;
        targets.push(Target::Rect {
            x0,
            y0,
            x1,
            y1,
            title: format!(
                "{} × {class}{} · fingerprint {}",
                failure.count, failure.example, failure.fingerprint
            ),
        });
    }
    Ok((targets, format!("Horizontal bar chart of the {} most common failures.", failures.len())))
}

fn resources_chart(root: &Root<'_>, trends: &Trends) -> Drawn {
    let mut points: Vec<(f64, f64, f64, String)> = trends
        .runs
        .iter()
        .filter_map(|run| {
            let rss = run.peak_rss_bytes?;
            let cpu = run.cpu_seconds.unwrap_or(0.0);
            Some((
                run.started_at.timestamp() as f64,
                rss as f64 / (1024.0 * 1024.0),
                cpu,
                format!(
                    "{} · {} · peak memory {} · CPU {cpu:.1} s",
                    run.script_name,
                    format::time(run.started_at),
                    format::bytes(rss)
                ),
            ))
        })
        .collect();
    if points.is_empty() {
        return no_data(root, "resource samples");
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (points, every) = thin(points);
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let mem_max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max) * 1.1 + 0.01;
    let cpu_max = points.iter().map(|p| p.2).fold(0.0_f64, f64::max) * 1.1 + 0.01;
    let (legend, plot) = root.split_vertically(LEGEND_H);
    let mut chart = ChartBuilder::on(&plot)
        .margin(16)
        .margin_top(8)
        .x_label_area_size(52)
        .y_label_area_size(72)
        .right_y_label_area_size(72)
        .build_cartesian_2d(padded(x0, x1), 0.0..mem_max)
        .map_err(draw_err)?
        .set_secondary_coord(padded(x0, x1), 0.0..cpu_max);
    chart
        .configure_mesh()
        .x_desc("Start date (UTC)")
        .y_desc("Peak memory (MiB)")
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| date_label(*x, x1 - x0))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(label_style(LABEL_PX))
        .axis_desc_style(label_style(DESC_PX))
        .light_line_style(GRID)
        .draw()
        .map_err(draw_err)?;
    chart
        .configure_secondary_axes()
        .y_desc("CPU time (seconds)")
        .y_labels(6)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(label_style(LABEL_PX))
        .axis_desc_style(label_style(DESC_PX))
        .draw()
        .map_err(draw_err)?;
    let width = if one_script(trends) { 2 } else { 0 };
    chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1), 3, BLUE.filled()))).map_err(draw_err)?;
    chart
        .draw_secondary_series(points.iter().map(|p| TriangleMarker::new((p.0, p.2), 4, ORANGE.filled())))
        .map_err(draw_err)?;
    chart
        .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), BLUE.stroke_width(width)))
        .map_err(draw_err)?;
    chart
        .draw_secondary_series(LineSeries::new(points.iter().map(|p| (p.0, p.2)), ORANGE.stroke_width(width)))
        .map_err(draw_err)?;
    let left = chart.plotting_area().get_pixel_range().0.start;
    legend_row(
        &legend,
        left,
        &[("peak memory (MiB, left)", BLUE, true), ("CPU time (s, right)", ORANGE, true)],
    )?;
    let targets = points
        .iter()
        .map(|p| {
            let (x, y) = chart.backend_coord(&(p.0, p.1));
            Target::Circle { x, y, title: p.3.clone() }
        })
        .collect();
    Ok((
        targets,
        format!(
            "Line chart of peak memory and CPU time of {} runs over time{}.",
            points.len(),
            thinned(every)
        ),
    ))
}

/// System fonts, loaded once; `sans-serif` maps to the first of a few common families present.
fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_system_fonts();
            let present =
                |name: &str| db.faces().any(|face| face.families.iter().any(|(family, _)| family == name));
            if let Some(family) = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"]
                .into_iter()
                .find(|f| present(f))
            {
                db.set_sans_serif_family(family);
            }
            Arc::new(db)
        })
        .clone()
}

fn rasterise(svg: &str) -> Result<Vec<u8>, ChartError> {
    use resvg::{tiny_skia, usvg};
    let options = usvg::Options { fontdb: fonts(), ..usvg::Options::default() };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|err| ChartError::Raster(err.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width() * 2, size.height() * 2)
        .ok_or_else(|| ChartError::Raster("empty image".into()))?;
    resvg::render(&tree, tiny_skia::Transform::from_scale(2.0, 2.0), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|err| ChartError::Raster(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ranges_are_thinned_to_the_point_limit_keeping_the_ends() {
        let (kept, every) = thin((0..4000).collect::<Vec<_>>());
        assert_eq!(every, 3);
        assert!(kept.len() <= MAX_POINTS);
        assert_eq!((kept[0], kept[kept.len() - 1]), (0, 3999));
        let (kept, every) = thin((0..10).collect::<Vec<_>>());
        assert_eq!((kept.len(), every), (10, 1));
    }

    #[test]
    fn long_ranges_add_up_days_per_bar_without_losing_runs() {
        let days: Vec<DayStats> = (0..200)
            .map(|i| DayStats {
                day: format!("day{i:03}"),
                runs: 3,
                completed: 2,
                failed: 1,
                mean_duration_ms: Some(1000.0),
            })
            .collect();
        let (bars, per_bar) = bucket_days(&days);
        assert_eq!(per_bar, 3);
        assert_eq!(bars.len(), 67);
        assert_eq!(bars.iter().map(|b| b.runs).sum::<i64>(), 600);
        assert_eq!(
            (bars[0].day.as_str(), bars[0].completed, bars[0].mean_duration_ms),
            ("day000", 6, Some(1000.0))
        );
        let (same, one) = bucket_days(&days[..30]);
        assert_eq!((same.len(), one), (30, 1));
    }

    #[test]
    fn chart_names_round_trip_and_unknown_ones_are_refused() {
        for kind in ChartKind::ALL {
            assert_eq!(ChartKind::parse(kind.name()).unwrap(), kind);
        }
        assert!(ChartKind::parse("pie").unwrap_err().to_string().contains("duration, outcomes"));
    }

    fn trends(per_day: &[i64], failures: &[(usize, &str)], runs: usize) -> Trends {
        let start = DateTime::from_timestamp(1_761_955_200, 0).unwrap();
        Trends {
            scope: monitor_queries::TrendScope::All,
            from: start,
            to: start + chrono::Duration::days(per_day.len() as i64),
            total_runs: per_day.iter().sum(),
            completed: 0,
            failed: 0,
            failure_percent: None,
            runs_per_day: 1.0,
            duration: monitor_queries::DurationStats::default(),
            per_day: per_day
                .iter()
                .enumerate()
                .map(|(i, &runs)| DayStats {
                    day: (start + chrono::Duration::days(i as i64)).format("%Y-%m-%d").to_string(),
                    runs,
                    completed: runs - runs / 3,
                    failed: runs / 3,
                    mean_duration_ms: None,
                })
                .collect(),
            runs: (0..runs)
                .map(|i| monitor_queries::TrendRun {
                    run_id: tracker_core::RunId(uuid::Uuid::nil()),
                    script_name: "daily".into(),
                    started_at: start + chrono::Duration::hours(i as i64 * 20),
                    duration_ms: Some(60_000 * (20 + i as i64 % 7)),
                    status: RunStatus::Completed,
                    peak_rss_bytes: Some(1 << 33),
                    cpu_seconds: Some(900.0 + i as f64 * 13.0),
                    read_bytes: None,
                    write_bytes: None,
                })
                .collect(),
            common_failures: failures
                .iter()
                .map(|&(count, example)| monitor_queries::FailureCount {
                    fingerprint: format!("fp{count}"),
                    error_class: Some("simpleError".into()),
                    example: example.into(),
                    count,
                })
                .collect(),
            sampled: false,
        }
    }

    /// The `(x, y, text)` of every `<text>` plotters drew.
    fn texts(svg: &str) -> Vec<(f64, f64, String)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let at = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
            tag[at..tag[at..].find('"').unwrap() + at].parse().unwrap()
        };
        svg.split("<text")
            .skip(1)
            .map(|rest| {
                let (tag, body) = rest.split_once('>').unwrap();
                let text = body.split("</text>").next().unwrap();
                (attr(tag, "x"), attr(tag, "y"), text.trim().replace("&amp;", "&"))
            })
            .collect()
    }

    fn numbers(svg: &str) -> Vec<i64> {
        texts(svg).iter().filter_map(|t| t.2.parse().ok()).collect()
    }

    #[test]
    fn count_axes_have_whole_ticks_at_round_steps() {
        assert_eq!(count_ticks(2), [0, 1, 2]);
        assert_eq!(count_ticks(0), [0, 1]);
        assert_eq!(count_ticks(1), [0, 1]);
        assert_eq!(count_ticks(5), [0, 1, 2, 3, 4, 5]);
        assert_eq!(count_ticks(7), [0, 2, 4, 6, 8]);
        assert_eq!(count_ticks(23), [0, 5, 10, 15, 20, 25]);
        assert_eq!(count_ticks(999), [0, 200, 400, 600, 800, 1000]);
        for max in 0..3000 {
            let ticks = count_ticks(max);
            assert!(
                ticks.len() >= 2 && ticks.len() <= 6 && *ticks.last().unwrap() >= max,
                "{max}: {ticks:?}"
            );
        }
    }

    #[test]
    fn outcome_and_failure_axes_print_each_whole_count_once() {
        let t = trends(&[1, 2, 1, 0, 2], &[(2, "timeout"), (1, "cannot allocate")], 0);
        // Day labels are dates, so the numbers are the count axis alone.
        assert_eq!(numbers(&draw(ChartKind::Outcomes, &t).unwrap().plain), [0, 1, 2]);
        // Axis 0, 1, 2, then the count at the end of each bar.
        assert_eq!(numbers(&draw(ChartKind::Failures, &t).unwrap().plain), [0, 1, 2, 2, 1]);
        let zero = trends(&[0, 0], &[], 0);
        assert_eq!(numbers(&draw(ChartKind::Outcomes, &zero).unwrap().plain), [0, 1]);
    }

    #[test]
    fn legends_sit_above_the_plot_area_and_labels_are_readable() {
        let t = trends(&[3; 30], &[], 40);
        for kind in [ChartKind::Outcomes, ChartKind::Resources, ChartKind::Duration] {
            let chart = draw(kind, &t).unwrap();
            let texts = texts(&chart.plain);
            let legend = texts
                .iter()
                .find(|t| t.2 == "failed" || t.2.starts_with("peak memory") || t.2 == "completed run")
                .unwrap_or_else(|| panic!("{kind:?} has no legend"));
            let top = chart
                .targets
                .iter()
                .map(|t| match t {
                    Target::Circle { y, .. } => *y,
                    Target::Rect { y0, y1, .. } => (*y0).min(*y1),
                })
                .min()
                .unwrap();
            assert!(
                legend.1 < f64::from(LEGEND_H) && (legend.1 as i32) < top,
                "{kind:?}: legend {legend:?}, data from {top}"
            );
            assert!(chart.plain.contains("font-size=\"16.1"), "{kind:?}");
        }
    }

    #[test]
    fn long_failure_labels_are_cut_with_an_ellipsis_and_kept_whole_in_the_title() {
        let long = "Timeout was reached: [broadbandmap.fcc.gov] Operation timed out after 300071 milliseconds with 0 bytes received";
        let chart = draw(ChartKind::Failures, &trends(&[], &[(2, long)], 0)).unwrap();
        let label = texts(&chart.plain).into_iter().find(|t| t.2.starts_with("simpleError")).unwrap();
        assert!(label.2.ends_with('…') && label.2.len() < long.len(), "{label:?}");
        // Right-aligned left of the bars, inside the chart.
        assert!(label.0 > 0.0 && label.0 <= f64::from(16 + FAILURE_LABEL_W), "{label:?}");
        assert!(chart.svg().contains(&format!("<title>2 × simpleError: {long} · fingerprint fp2</title>")));
        assert!(chart.svg().contains("<desc>Horizontal bar chart of the 1 most common failures.</desc>"));
    }

    #[test]
    fn empty_single_and_long_ranges_draw() {
        let empty = trends(&[], &[], 0);
        for kind in ChartKind::ALL {
            let chart = draw(kind, &empty).unwrap();
            assert!(chart.svg().contains("in this range.</desc>"), "{kind:?}");
            assert!(chart.png().unwrap().starts_with(b"\x89PNG"));
        }
        let single = trends(&[1], &[(1, "x")], 1);
        for kind in ChartKind::ALL {
            let chart = draw(kind, &single).unwrap();
            assert!(chart.svg().contains("<title>"), "{kind:?}");
            assert!(!chart.targets.is_empty(), "{kind:?}");
        }
        let long = trends(&[4; 800], &[], 800);
        let chart = draw(ChartKind::Duration, &long).unwrap();
        assert!(
            texts(&chart.plain).iter().any(|t| t.2 == "Jan 2027"),
            "dates carry the year over long ranges"
        );
        let outcomes = draw(ChartKind::Outcomes, &long).unwrap();
        // 800 days of 4 runs, 9 days a bar: 36 runs a bar.
        assert_eq!(numbers(&outcomes.plain), [0, 10, 20, 30, 40]);
    }

    #[test]
    fn duration_of_several_scripts_draws_a_daily_median_line_with_a_legend() {
        let mut t = trends(&[3; 4], &[], 8);
        for (i, run) in t.runs.iter_mut().enumerate() {
            run.script_name = if i % 2 == 0 { "a.R".into() } else { "b.py".into() };
        }
        let chart = draw(ChartKind::Duration, &t).unwrap();
        let svg = chart.svg();
        let legend: Vec<String> = texts(&chart.plain).into_iter().map(|t| t.2).collect();
        assert!(legend.contains(&"daily median".to_owned()), "{legend:?}");
        assert!(chart.plain.contains("<polyline"), "a line is drawn");
        // Runs every 20 h from 2025-11-01 00:00: 20, 21 and 22 min on the first
        // day (00:00, 20:00), the median of two runs is 20m30s.
        assert!(svg.contains("<title>2025-11-01 · median 20m30s of 2 completed runs</title>"), "{svg}");
        assert!(
            svg.contains("<title>a.R · 2025-11-01 00:00 UTC · 20m00s</title>"),
            "points keep their titles"
        );
        let medians = daily_medians(&[
            (0.0, 4.0, String::new()),
            (10.0, 1.0, String::new()),
            (20.0, 9.0, String::new()),
        ]);
        assert_eq!(medians.len(), 1);
        assert_eq!((medians[0].x, medians[0].minutes), (43_200.0, 4.0));
        // One script: one line through its runs, no median.
        let one = draw(ChartKind::Duration, &trends(&[3; 4], &[], 8)).unwrap();
        assert!(!one.svg().contains("median"));
        assert!(texts(&one.plain).iter().any(|t| t.2 == "completed run"));
    }

    #[test]
    fn titles_are_escaped_in_the_svg() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
