//! SVG charts drawn with plotters' SVG backend (no fonts, no JavaScript): property against
//! temperature with specimen points per batch, Br against HcJ for candidate magnets, and
//! demagnetisation curves (J and B against H, second quadrant).

use plotters::prelude::*;

/// Text that goes into the chart as-is: only characters that are safe inside SVG text.
fn safe(s: &str) -> String {
    s.chars().map(|c| if c.is_alphanumeric() || " -_.,()/%°+:³²".contains(c) { c } else { '?' }).take(60).collect()
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 90, 181),
    RGBColor(220, 50, 32),
    RGBColor(0, 140, 70),
    RGBColor(150, 80, 200),
    RGBColor(230, 140, 0),
    RGBColor(90, 90, 90),
];

fn finish(mut svg: String) -> String {
    if let Some(i) = svg.find("<svg") {
        svg.drain(..i);
    }
    svg
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = (hi - lo).abs().max(hi.abs() * 0.05).max(1e-9);
    (lo - span * 0.1, hi + span * 0.1)
}

/// One series per batch: (batch, [(temperature °C, value)]).
pub fn property_vs_temperature(title: &str, y_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (640, 360)).into_drawing_area();
        root.fill(&WHITE)?;
        let all: Vec<(f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        let (x0, x1) = padded(
            all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
            all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max),
        );
        let (y0, y1) = padded(
            all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
            all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(safe(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart.configure_mesh().x_desc("Temperature (°C)").y_desc(safe(y_label)).draw()?;
        for (i, (batch, points)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 3, color.filled())))?
                .label(format!("batch {}", safe(batch)))
                .legend(move |(x, y)| Circle::new((x, y), 3, color.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => finish(svg),
        Err(e) => format!("<p>chart unavailable: {}</p>", safe(&e.to_string())),
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
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let xs = points.iter().map(|p| p.1).chain(hcj_min);
        let ys = points.iter().map(|p| p.2).chain(br_min);
        let x1 = xs.fold(0.0_f64, f64::max) * 1.4 + 1.0;
        let y1 = ys.fold(0.0_f64, f64::max) * 1.2 + 0.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(safe(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x1, 0.0..y1)?;
        chart.configure_mesh().x_desc("Intrinsic coercivity HcJ (kA/m)").y_desc("Remanence Br (T)").draw()?;
        let (hx, by) = (hcj_min.unwrap_or(0.0), br_min.unwrap_or(0.0));
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(hx, by), (x1, y1)],
                RGBColor(0, 160, 80).mix(0.15).filled(),
            )))?
            .label("meets the profile's HcJ and Br minimums")
            .legend(|(x, y)| Rectangle::new([(x - 6, y - 5), (x + 6, y + 5)], RGBColor(0, 160, 80).mix(0.3).filled()));
        for (label, x, y) in points {
            let color = if label == highlight { PALETTE[1] } else { PALETTE[0] };
            chart.draw_series(std::iter::once(Circle::new((*x, *y), 5, color.filled())))?;
            chart.draw_series(std::iter::once(Text::new(
                safe(label),
                (*x + x1 * 0.01, *y + y1 * 0.01),
                ("sans-serif", 13).into_font().color(&BLACK),
            )))?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => finish(svg),
        Err(e) => format!("<p>chart unavailable: {}</p>", safe(&e.to_string())),
    }
}

/// One line of a demagnetisation chart: a specimen's J or B against H.
pub struct DemagLine {
    pub label: String,
    /// Index into the palette; a specimen's J and B lines share it.
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

/// J and B (T) against H (kA/m): x from the most negative field to 0, y from 0 up.
pub fn demagnetisation(title: &str, y_label: &str, lines: &[DemagLine]) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let clipped: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| above_zero(&l.points)).collect();
        let all = clipped.iter().flatten();
        let h_min = all.clone().map(|p| p.0).fold(0.0_f64, f64::min);
        let h_max = all.clone().map(|p| p.0).fold(0.0_f64, f64::max);
        let y_max = all.map(|p| p.1).fold(0.0_f64, f64::max);
        let x0 = h_min * 1.05 - 1.0;
        let x1 = h_max + (h_max - x0) * 0.02;
        // Headroom above the curves for the legend (upper right, where H = 0 and J = Br).
        let y1 = y_max * (1.25 + 0.06 * lines.len() as f64) + 0.01;
        let mut chart = ChartBuilder::on(&root)
            .caption(safe(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..y1)?;
        chart
            .configure_mesh()
            .x_desc("Field strength H (kA/m)")
            .y_desc(safe(y_label))
            .x_label_formatter(&|h| format!("{h:.0}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()?;
        for (line, points) in lines.iter().zip(&clipped) {
            let color = PALETTE[line.colour % PALETTE.len()];
            let style = color.stroke_width(2);
            let drawn = if line.dashed {
                chart.draw_series(DashedLineSeries::new(points.iter().copied(), 6, 4, style))?
            } else {
                chart.draw_series(LineSeries::new(points.iter().copied(), style))?
            };
            let dashed = line.dashed;
            drawn.label(safe(&line.label)).legend(move |(x, y)| {
                let end = if dashed { x + 8 } else { x + 16 };
                PathElement::new(vec![(x, y), (end, y)], color.stroke_width(2))
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => finish(svg),
        Err(e) => format!("<p>chart unavailable: {}</p>", safe(&e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_labelled_axes_and_no_markup_from_labels() {
        let svg = property_vs_temperature(
            "HcJ <script>",
            "HcJ (kA/m)",
            &[("L1".into(), vec![(20.0, 1650.0), (150.0, 800.0)]), ("L2<b>".into(), vec![(20.0, 1660.0)])],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Temperature (°C)") && svg.contains("HcJ (kA/m)"));
        assert!(svg.contains("<circle"));
        assert!(!svg.contains("<script") && !svg.contains("<b>"));
        let a = ashby("Br vs HcJ", &[("N42SH".into(), 798.0, 1.1)], Some(750.0), Some(1.05), "N42SH");
        assert!(a.starts_with("<svg") && a.contains("<rect") && a.contains("Remanence Br (T)"));
    }

    #[test]
    fn demagnetisation_curves_stay_in_the_second_quadrant() {
        // B crosses zero between H = -900 and -1000: the line is cut there, at B = 0.
        let b = vec![(0.0, 1.3), (-900.0, 0.1), (-1000.0, -0.1), (-1600.0, -0.8)];
        assert_eq!(above_zero(&b), vec![(0.0, 1.3), (-900.0, 0.1), (-950.0, 0.0)]);
        assert_eq!(above_zero(&[(0.0, -0.1)]), vec![]);
        let lines = [
            DemagLine {
                label: "L1-S01 J <x>".into(),
                colour: 0,
                dashed: false,
                points: vec![(0.0, 1.3), (-1650.0, 0.0)],
            },
            DemagLine { label: "L1-S01 B".into(), colour: 0, dashed: true, points: b },
        ];
        let svg = demagnetisation("J and B vs H at 20 °C", "J, B (T)", &lines);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Field strength H (kA/m)") && svg.contains("J, B (T)"), "{svg}");
        assert!(svg.contains("L1-S01 B") && !svg.contains("<x>"));
        // The x axis ends at 0 and starts beyond the most negative field.
        assert!(svg.contains("-1600") && !svg.contains("-1600.0"), "{svg}");
    }
}
