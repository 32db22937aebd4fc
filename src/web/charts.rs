//! SVG charts drawn with plotters' SVG backend (no fonts, no JavaScript): property against
//! temperature with specimen points per batch, and Br against HcJ for candidate magnets.

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
}
