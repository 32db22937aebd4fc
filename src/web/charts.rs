//! SVG charts drawn with plotters' SVG backend (no fonts, no JavaScript): property against
//! temperature with specimen points per batch, Br against HcJ for candidate magnets, and
//! demagnetisation curves (J and B against H, second quadrant).
//!
//! Why plotters rather than a JavaScript library: the pages work without scripts and the
//! registry's content security policy allows none; server-drawn SVG is accessible text
//! (`role="img"` with a title) and prints. What an engineer needs from it, and what it does:
//! text of at least 12 px at the page's natural size, units on both axes, tick labels with as
//! many decimals as the tick step needs (never "0.1, 0.1, 0.2"), the legend in its own column
//! beside the plot rather than over the data, the Okabe–Ito colour-blind-safe palette with a
//! distinct marker shape per series, and no minor grid (each minor line is an SVG element: a
//! material page had 1 321 of them).

use plotters::element::DynElement;
use plotters::prelude::*;

/// Text that goes into the chart as-is: only characters that are safe inside SVG text.
fn safe(s: &str) -> String {
    s.chars().map(|c| if c.is_alphanumeric() || " -_.,()/%°+:³²±–".contains(c) { c } else { '?' }).take(70).collect()
}

/// Okabe & Ito (2008) colours, distinguishable with the common colour-vision deficiencies;
/// yellow is left out (too light on white).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

// plotters writes font sizes at 1/1.24 of the size asked for: 16 → 12.9 px, the smallest text.
const TITLE_PX: u32 = 21;
const LABEL_PX: u32 = 16;
const AXIS_PX: u32 = 17;
const LEGEND_WIDTH: u32 = 150;

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A marker of shape `i` (circle, triangle, square, diamond, cross) centred on `at`.
fn marker<'a, DB: DrawingBackend + 'a, C: Clone + 'a>(i: usize, at: C, color: RGBColor) -> DynElement<'a, DB, C> {
    let style = color.filled();
    match (i / PALETTE.len() + i) % 5 {
        0 => (EmptyElement::at(at) + Circle::new((0, 0), 4, style)).into_dyn(),
        1 => (EmptyElement::at(at) + Polygon::new(vec![(0, -5), (5, 4), (-5, 4)], style)).into_dyn(),
        2 => (EmptyElement::at(at) + Rectangle::new([(-4, -4), (4, 4)], style)).into_dyn(),
        3 => (EmptyElement::at(at) + Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], style)).into_dyn(),
        _ => (EmptyElement::at(at) + Cross::new((0, 0), 4, color.stroke_width(2))).into_dyn(),
    }
}

/// Decimals a tick label needs when ticks are about `span / 8` apart.
fn decimals_for(span: f64) -> usize {
    let step = (span.abs() / 8.0).max(1e-12);
    (-step.log10().floor()).clamp(0.0, 6.0) as usize
}

fn tick(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { "0".into() } else { s }
}

/// Adds `role="img"`, an accessible name and a `<title>` to plotters' SVG.
fn finish(mut svg: String, title: &str) -> String {
    if let Some(i) = svg.find("<svg") {
        svg.drain(..i);
    }
    let t = super::esc(title);
    if let Some(end) = svg.find('>') {
        svg.insert_str(end + 1, &format!("<title>{t}</title>"));
        svg.insert_str(4, &format!(" role=\"img\" aria-label=\"{t}\""));
    }
    svg
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = (hi - lo).abs().max(hi.abs() * 0.05).max(1e-9);
    (lo - span * 0.1, hi + span * 0.1)
}

fn error_text(e: &dyn std::error::Error) -> String {
    format!("<p>chart unavailable: {}</p>", super::esc(&safe(&e.to_string())))
}

/// One series per batch: (batch, [(temperature °C, value)]).
pub fn property_vs_temperature(title: &str, y_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (640 + LEGEND_WIDTH, 380)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(640);
        let all: Vec<(f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        let (x0, x1) = padded(
            all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
            all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max),
        );
        let (y0, y1) = padded(
            all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
            all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
        );
        let (dx, dy) = (decimals_for(x1 - x0), decimals_for(y1 - y0));
        let mut chart = ChartBuilder::on(&plot)
            .caption(safe(title), ("sans-serif", TITLE_PX))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 228, 232))
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", AXIS_PX))
            .x_desc("Temperature (°C)")
            .y_desc(safe(y_label))
            .x_label_formatter(&|x| tick(*x, dx))
            .y_label_formatter(&|y| tick(*y, dy))
            .draw()?;
        for (i, (_, points)) in series.iter().enumerate() {
            let color = colour(i);
            for &(x, y) in points {
                chart.plotting_area().draw(&marker(i, (x, y), color))?;
            }
        }
        side.draw(&Text::new("Batch", (8, 40), ("sans-serif", LABEL_PX).into_font().color(&BLACK)))?;
        for (i, (batch, _)) in series.iter().enumerate() {
            let y = 64 + 22 * i as i32;
            side.draw(&marker(i, (14, y), colour(i)))?;
            side.draw(&Text::new(safe(batch), (26, y - 7), ("sans-serif", LABEL_PX).into_font().color(&BLACK)))?;
        }
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => finish(svg, title),
        Err(e) => error_text(e.as_ref()),
    }
}

/// Br (T) against HcJ (kA/m); the region meeting both minimums is shaded.
pub fn ashby(
    title: &str,
    points: &[(String, f64, f64)],
    hcj_min: Option<f64>,
    br_min: Option<f64>,
    highlight: &str,
) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (640 + LEGEND_WIDTH, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(640);
        let xs = points.iter().map(|p| p.1).chain(hcj_min);
        let ys = points.iter().map(|p| p.2).chain(br_min);
        let x1 = xs.fold(0.0_f64, f64::max) * 1.25 + 1.0;
        let y1 = ys.fold(0.0_f64, f64::max) * 1.15 + 0.05;
        let (dx, dy) = (decimals_for(x1), decimals_for(y1));
        let mut chart = ChartBuilder::on(&plot)
            .caption(safe(title), ("sans-serif", TITLE_PX))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..x1, 0.0..y1)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 228, 232))
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", AXIS_PX))
            .x_desc("Mean intrinsic coercivity HcJ (kA/m)")
            .y_desc("Mean remanence Br (T)")
            .x_label_formatter(&|x| tick(*x, dx))
            .y_label_formatter(&|y| tick(*y, dy))
            .draw()?;
        let (hx, by) = (hcj_min.unwrap_or(0.0), br_min.unwrap_or(0.0));
        let shade = RGBColor(0, 158, 115).mix(0.15);
        chart.draw_series(std::iter::once(Rectangle::new([(hx, by), (x1, y1)], shade.filled())))?;
        for (label, x, y) in points {
            let (i, color) = if label == highlight { (2, PALETTE[1]) } else { (0, PALETTE[0]) };
            chart.plotting_area().draw(&marker(i, (*x, *y), color))?;
            chart.draw_series(std::iter::once(Text::new(
                safe(label),
                (*x + x1 * 0.012, *y + y1 * 0.012),
                ("sans-serif", LABEL_PX).into_font().color(&BLACK),
            )))?;
        }
        let font = ("sans-serif", LABEL_PX).into_font().color(&BLACK);
        side.draw(&Rectangle::new([(8, 40), (22, 54)], RGBColor(0, 158, 115).mix(0.3).filled()))?;
        side.draw(&Text::new("meets both", (28, 40), font.clone()))?;
        side.draw(&Text::new("minimums", (28, 56), font.clone()))?;
        side.draw(&marker(2, (15, 86), PALETTE[1]))?;
        side.draw(&Text::new("this material", (28, 79), font.clone()))?;
        side.draw(&marker(0, (15, 112), PALETTE[0]))?;
        side.draw(&Text::new("other candidates", (28, 105), font))?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => finish(svg, title),
        Err(e) => error_text(e.as_ref()),
    }
}

/// One line of a demagnetisation chart: a specimen's J or B against H.
pub struct DemagLine {
    /// The legend entry; lines that share one (further specimens at a temperature) have none.
    pub label: Option<String>,
    /// Index into the palette; a temperature's J and B lines share it.
    pub colour: usize,
    /// Drawn dashed (B, when J is drawn too).
    pub dashed: bool,
    /// (H in kA/m, J or B in T), in measurement order.
    pub points: Vec<(f64, f64)>,
}

/// The part of a line in the second quadrant as magnet engineers read it: H ≤ 0 kept as
/// measured, cut where the line crosses zero (B goes negative beyond HcB).
fn above_zero(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    for (i, &(h, y)) in points.iter().enumerate() {
        if y >= 0.0 {
            out.push((h, y));
            continue;
        }
        if let Some(&(h0, y0)) = i.checked_sub(1).and_then(|p| points.get(p))
            && y0 > 0.0
        {
            out.push((h0 + (h - h0) * y0 / (y0 - y), 0.0));
        }
        break;
    }
    out
}

/// At most `max` points of a line, evenly picked, first and last kept: more than the chart's
/// pixels only adds bytes.
fn thinned(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points;
    }
    let last = points.len() - 1;
    (0..max).filter_map(|k| points.get(k * last / (max - 1)).copied()).collect()
}

/// J and B (T) against H (kA/m): x from the most negative field to 0, y from 0 up.
pub fn demagnetisation(title: &str, y_label: &str, lines: &[DemagLine]) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (640 + LEGEND_WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(640);
        let clipped: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| thinned(above_zero(&l.points), 120)).collect();
        let all = clipped.iter().flatten();
        let h_min = all.clone().map(|p| p.0).fold(0.0_f64, f64::min);
        let h_max = all.clone().map(|p| p.0).fold(0.0_f64, f64::max);
        let y_max = all.map(|p| p.1).fold(0.0_f64, f64::max);
        let x0 = h_min * 1.05 - 1.0;
        let x1 = h_max + (h_max - x0) * 0.02;
        let y1 = y_max * 1.1 + 0.01;
        let dy = decimals_for(y1);
        let mut chart = ChartBuilder::on(&plot)
            .caption(safe(title), ("sans-serif", TITLE_PX))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .build_cartesian_2d(x0..x1, 0.0..y1)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 228, 232))
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", AXIS_PX))
            .x_desc("Field strength H (kA/m)")
            .y_desc(safe(y_label))
            .x_label_formatter(&|h| tick(*h, 0))
            .y_label_formatter(&|y| tick(*y, dy))
            .draw()?;
        for (line, points) in lines.iter().zip(&clipped) {
            let style = colour(line.colour).stroke_width(2);
            if line.dashed {
                chart.draw_series(DashedLineSeries::new(points.iter().copied(), 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
            }
        }
        let font = ("sans-serif", LABEL_PX).into_font().color(&BLACK);
        let labelled: Vec<&DemagLine> = lines.iter().filter(|l| l.label.is_some()).collect();
        for (i, line) in labelled.iter().enumerate() {
            let y = 40 + 22 * i as i32;
            let color = colour(line.colour);
            let end = if line.dashed { 14 } else { 26 };
            side.draw(&PathElement::new(vec![(8, y), (end, y)], color.stroke_width(3)))?;
            if line.dashed {
                side.draw(&PathElement::new(vec![(20, y), (26, y)], color.stroke_width(3)))?;
            }
            side.draw(&Text::new(safe(line.label.as_deref().unwrap_or("")), (32, y - 7), font.clone()))?;
        }
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => finish(svg, title),
        Err(e) => error_text(e.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_labelled_svg_images_with_no_markup_from_labels() {
        let svg = property_vs_temperature(
            "HcJ <script>",
            "HcJ (kA/m)",
            &[("L1".into(), vec![(20.0, 1650.0), (150.0, 800.0)]), ("L2<b>".into(), vec![(20.0, 1660.0)])],
        );
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"HcJ &lt;script&gt;\""), "{svg}");
        assert!(svg.contains("<title>HcJ &lt;script&gt;</title>"));
        assert!(svg.contains("Temperature (°C)") && svg.contains("HcJ (kA/m)"));
        assert!(svg.contains("<circle") && svg.contains("<polygon"), "a second marker shape");
        assert!(!svg.contains("<script") && !svg.contains("<b>"));
        let a = ashby("Br vs HcJ", &[("N42SH".into(), 798.0, 1.1)], Some(750.0), Some(1.05), "N42SH");
        assert!(a.starts_with("<svg") && a.contains("<rect") && a.contains("Mean remanence Br (T)"));
    }

    #[test]
    fn text_is_at_least_12_px() {
        let svg = property_vs_temperature("t", "y", &[("L1".into(), vec![(20.0, 1.0), (150.0, 0.5)])]);
        for size in svg.split("font-size=\"").skip(1) {
            let px: f64 = size.split('"').next().unwrap().parse().unwrap();
            assert!(px >= 12.0, "{px} px");
        }
    }

    #[test]
    fn tick_labels_never_repeat() {
        // A 0 – 0.45 T axis: ticks every 0.05 need two decimals.
        let d = decimals_for(0.45);
        let labels: Vec<String> = (0..10).map(|k| tick(k as f64 * 0.05, d)).collect();
        let distinct: std::collections::BTreeSet<&String> = labels.iter().collect();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        assert_eq!(tick(-0.0, 1), "0");
        assert_eq!(decimals_for(2000.0), 0);
    }

    #[test]
    fn demagnetisation_curves_stay_in_the_second_quadrant() {
        // B crosses zero between H = -900 and -1000: the line is cut there, at B = 0.
        let b = vec![(0.0, 1.3), (-900.0, 0.1), (-1000.0, -0.1), (-1600.0, -0.8)];
        assert_eq!(above_zero(&b), vec![(0.0, 1.3), (-900.0, 0.1), (-950.0, 0.0)]);
        assert_eq!(above_zero(&[(0.0, -0.1)]), vec![]);
        let lines = [
            DemagLine {
                label: Some("J at 20 °C <x>".into()),
                colour: 0,
                dashed: false,
                points: vec![(0.0, 1.3), (-1650.0, 0.0)],
            },
            DemagLine { label: Some("B at 20 °C".into()), colour: 0, dashed: true, points: b },
        ];
        let svg = demagnetisation("J and B vs H", "J, B (T)", &lines);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Field strength H (kA/m)") && svg.contains("J, B (T)"), "{svg}");
        assert!(svg.contains("B at 20 °C") && !svg.contains("<x>"));
        // The x axis ends at 0 and starts beyond the most negative field.
        assert!(svg.contains("-1600") && !svg.contains("-1600.0"), "{svg}");
    }

    #[test]
    fn long_lines_are_thinned_keeping_their_ends() {
        let line: Vec<(f64, f64)> = (0..1000).map(|i| (-(i as f64), 1.0)).collect();
        let t = thinned(line, 120);
        assert_eq!(t.len(), 120);
        assert_eq!(t.first(), Some(&(0.0, 1.0)));
        assert_eq!(t.last(), Some(&(-999.0, 1.0)));
    }
}
