//! SVG charts of the report, drawn with plotters' SVG backend: throughput
//! against concurrency per client, CPU per operation by value size per
//! client, `keys` time against the number of keys.

use std::path::Path;

use plotters::prelude::*;

use crate::keys::Lister;
use crate::measure::{BoxError, Res};
use crate::ops::{Client, Op};
use crate::report::{Report, size_name};
use crate::{SIZES, concurrencies, scale};

const SIZE: (u32, u32) = (760, 440);

/// One line: its name, its colour's index, its points.
type Series = (String, usize, Vec<(f64, f64)>);

fn err<E: std::fmt::Debug>(e: E) -> BoxError {
    format!("chart: {e:?}").into()
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 6] = [
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(31, 119, 180),
        RGBColor(23, 190, 207),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
    ];
    COLORS[i % COLORS.len()]
}

/// One line per series on log–log axes; `x_desc`/`y_desc` name the axes.
fn line_chart(path: &Path, title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> Res<()> {
    let points = series.iter().flat_map(|s| s.2.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x0 > x1 || y0 > y1 {
        return Err("chart without data".into());
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x0 / 1.3..x1 * 1.3).log_scale(),
            (y0 / 1.5..y1 * 1.5).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .draw()
        .map_err(err)?;
    for (name, i, pts) in series {
        let c = color(*i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn client_index(c: Client) -> usize {
    Client::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

/// Writes every chart the report has data for into `dir`; returns
/// (title, file name) of each.
pub fn write_all(report: &Report, dir: &Path) -> Res<Vec<(String, String)>> {
    let mut out = Vec::new();
    // Throughput against concurrency.
    for op in [Op::Get, Op::Assoc] {
        for size in [SIZES[0], SIZES[1]] {
            let series: Vec<_> = Client::ALL
                .iter()
                .map(|cl| {
                    let pts: Vec<(f64, f64)> = concurrencies(op, size)
                        .iter()
                        .filter_map(|c| {
                            let s = report.matrix.get(&(op, size, *c, *cl))?;
                            Some((*c as f64, s.ops_per_sec()))
                        })
                        .collect();
                    (cl.name().to_owned(), client_index(*cl), pts)
                })
                .filter(|s| s.2.len() >= 2)
                .collect();
            if series.is_empty() {
                continue;
            }
            let title = format!(
                "{} {}: throughput against concurrency",
                op.name(),
                size_name(size)
            );
            let file = format!("throughput-{}-{}k.svg", op.name(), size >> 10);
            line_chart(
                &dir.join(&file),
                &title,
                "threads or tasks",
                "operations per second",
                &series,
            )?;
            out.push((title, file));
        }
    }
    // CPU per operation by value size, at concurrency 1 and 16.
    for op in [Op::Get, Op::Assoc] {
        for c in [1, 16] {
            let series: Vec<_> = Client::ALL
                .iter()
                .map(|cl| {
                    let pts: Vec<(f64, f64)> = SIZES
                        .iter()
                        .filter_map(|size| {
                            let s = report.matrix.get(&(op, *size, c, *cl))?;
                            Some(((*size >> 10) as f64, s.cpu_us_per_op()))
                        })
                        .collect();
                    (cl.name().to_owned(), client_index(*cl), pts)
                })
                .filter(|s| s.2.len() >= 2)
                .collect();
            if series.is_empty() {
                continue;
            }
            let title = format!(
                "{}, concurrency {c}: client CPU per operation by value size",
                op.name()
            );
            let file = format!("cpu-{}-c{c}.svg", op.name());
            line_chart(
                &dir.join(&file),
                &title,
                "value size, KiB",
                "client CPU µs per operation",
                &series,
            )?;
            out.push((title, file));
        }
    }
    // `keys` time against the number of keys.
    let series: Vec<_> = scale::LISTERS
        .iter()
        .enumerate()
        .map(|(i, who)| {
            let pts: Vec<(f64, f64)> = report
                .scale
                .iter()
                .filter(|r| r.lister == *who)
                .map(|r| (r.keys as f64, r.secs))
                .collect();
            (lister_label(*who).to_owned(), i * 2, pts)
        })
        .filter(|s| s.2.len() >= 2)
        .collect();
    if !series.is_empty() {
        let title = "keys: time against the number of keys".to_owned();
        let file = "keys-scale.svg".to_owned();
        line_chart(
            &dir.join(&file),
            &title,
            "keys in the store",
            "seconds per listing",
            &series,
        )?;
        out.push((title, file));
    }
    Ok(out)
}

fn lister_label(who: Lister) -> &'static str {
    match who {
        Lister::Store => "konserve-s3 blocking",
        Lister::StoreAsync => "konserve-s3 async",
        Lister::Floor => "floor ureq, 16 threads",
        other => other.name(),
    }
}
