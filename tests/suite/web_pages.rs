#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HTML pages through the real server on both backends, with the demo data: search form and
//! results, material page with plots, package provenance, fit report with the requirement table
//! and the Ashby chart, lab page; hostile strings from a package and from the query are escaped;
//! releasability holds on pages as on the API.

use crate::common;

use common::server::{Backend, TestRegistry};
use common::*;
use serde_json::Value;

both_backends!(pages_render_and_escape);

fn text(res: &common::server::Response) -> String {
    String::from_utf8(res.body.clone()).unwrap()
}

fn pages_render_and_escape(backend: Backend) {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let tokens: Value = serde_json::from_slice(&std::fs::read(reg.data.join("demo-tokens.json")).unwrap()).unwrap();
    let token = |org: &str| tokens[org]["token"].as_str().unwrap().to_owned();
    let page = |path: &str| {
        let res = reg.get(path, None);
        assert_eq!(res.status, 200, "{path}: {}", String::from_utf8_lossy(&res.body));
        assert!(res.headers["content-type"].starts_with("text/html"), "{path}");
        text(&res)
    };

    // Profiles: the index and one profile's requirements in units and words, its versions, the
    // way to the materials; another version by `?version=`; an unknown id or parameter refused.
    let profiles = page("/profiles");
    assert!(
        profiles.contains("href=\"/profiles/ev-traction-magnet-180c\"") && profiles.contains("the registry operator")
    );
    let p180 = page("/profiles/ev-traction-magnet-180c");
    let reqs = p180.split("id=\"requirements\"").nth(1).unwrap().split("</table>").next().unwrap();
    let hcj = reqs.split("data-requirement=\"hcj-180\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(hcj.contains("Intrinsic coercivity") || hcj.contains("intrinsic coercivity"), "{hcj}");
    assert!(hcj.contains("≥ 800 kA/m") && hcj.contains("temperature 180 °C ± 5 °C"), "{hcj}");
    assert!(hcj.contains("B-basis") && hcj.contains("10 specimens from 3 batches"), "{hcj}");
    assert!(
        !reqs.contains("b_basis") && !reqs.contains("Cel") && !reqs.contains("at_least"),
        "no codes as text: {reqs}"
    );
    assert!(p180.contains("href=\"/?profile=ev-traction-magnet-180c\""), "{p180}");
    assert!(p180.contains(">1.0.0</a> (latest)"), "{p180}");
    assert_eq!(reg.get("/profiles/ev-traction-magnet-180c?version=1.0.0", None).status, 200);
    assert_eq!(reg.get("/profiles/ev-traction-magnet-180c?version=9.9.9", None).status, 404);
    assert_eq!(reg.get("/profiles/no-such-profile", None).status, 404);
    assert_eq!(reg.get("/profiles/ev-traction-magnet-180c?vresion=1.0.0", None).status, 400);

    // Search: a labelled form that works by GET, facets as links, hits linking to materials.
    let home = page("/");
    assert!(home.contains("<label for=\"f-property\">") && home.contains("id=\"f-property\""));
    assert!(home.contains("<form method=\"get\" action=\"/\""));
    assert!(home.contains("/static/style.css") && !home.contains("<script"));
    let hot = page("/?property=intrinsic_coercivity&min=1000&unit=kA%2Fm&temperature=150&tolerance=5");
    assert!(hot.contains("<h2 id=\"results-title\">1 material</h2>"), "{hot}");
    let material = hot.split("href=\"/materials/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(material.contains("40uh-gbd"));
    assert!(hot.contains("option value=\"intrinsic_coercivity\" selected"), "the form keeps the query");
    assert!(hot.contains("href=\"/?property=intrinsic_coercivity&amp;min=1000&amp;unit=kA%2Fm&amp;temperature=150&amp;tolerance=5&amp;country=JP\""), "facet links keep the query");
    let bad = reg.get("/?property=HcJ&min=1&unit=T", None);
    assert_eq!(bad.status, 400);
    // The refusal is shown at the field it names.
    assert!(text(&bad).contains("aria-invalid=\"true\" aria-describedby=\"e-unit\""), "{}", text(&bad));
    assert!(text(&bad).contains("<p class=\"field-error\" id=\"e-unit\">"), "{}", text(&bad));

    // The material: its packages, fit links and a property-vs-temperature plot per property.
    let m = page(&format!("/materials/{material}"));
    assert!(m.contains("40UH-GBD") && m.contains("kestrel-test-centre"));
    assert!(m.matches("<svg").count() >= 4, "HcJ, Br, HcB, (BH)max against temperature");
    assert!(
        m.contains("Temperature (°C)") && m.contains("HcJ (kA/m)") && m.contains("\nL1\n"),
        "batches in the legend"
    );
    assert!(
        m.contains(&format!("href=\"/fit/ev-traction-magnet-150c/{material}?version=1.0.0\"")),
        "fit links pin the version"
    );
    // Its demagnetisation curves: every tested temperature overlaid on one J-H chart per
    // package, second quadrant, the caption naming the package, temperatures and specimens.
    let demag = m.split("<h2>Demagnetisation curves</h2>").nth(1).expect("a demagnetisation section");
    assert_eq!(demag.matches("<figure").count(), 1, "20, 150 and 180 °C on one chart");
    assert_eq!(demag.matches("<svg").count(), 1);
    assert!(demag.contains("Field strength H (kA/m)") && demag.contains("Polarisation J (T)"), "{demag}");
    assert!(demag.contains("role=\"img\" aria-label=\"J vs H, ndfeb-gbd-dy-uh\""), "{demag}");
    assert!(demag.contains("at 20 °C, 150 °C, 180 °C of ") && demag.contains(">ndfeb-gbd-dy-uh 1.0.0</a>"), "{demag}");
    assert!(demag.contains("L1-S01 (batch L1)") && demag.contains("L3-S11 (batch L3)"), "every specimen named");
    assert!(demag.contains("\n150 °C\n"), "one legend entry per temperature");
    assert!(
        demag.contains(">-2000<") || demag.contains("-2000\n"),
        "the H axis reaches beyond -HcJ (about -2070 kA/m at 20 °C)"
    );
    assert!(!demag.contains("none of") && !m.contains("None of this material"));
    let digest = m.split("href=\"/packages/").nth(1).unwrap().split('"').next().unwrap().to_owned();

    // Provenance of a package.
    let p = page(&format!("/packages/{digest}"));
    assert!(p.contains("<h3>Signatures</h3>") && p.contains("countersigner") && p.contains("/labs/test-certifier"));
    assert!(p.contains("Result: <strong class=\"ok\">verified</strong>") && p.contains("/download\">Download"));
    assert!(p.contains("id=\"log-entry\"") && p.contains("href=\"/v1/log/proof/inclusion?digest="));
    let listed = p.split("<h2>Demagnetisation curves</h2>").nth(1).expect("the package's curves listed");
    assert!(listed.contains("<td>demag-150</td><td>J-H</td><td>150 °C</td>"), "{listed}");

    // The fit report: statuses in the requirement table, the remaining test plan, the chart.
    let f = page(&format!("/fit/ev-traction-magnet-180c/{material}"));
    assert!(f.contains("data-requirement=\"hcj-180\" data-status=\"met\""), "{f}");
    assert!(f.contains("data-requirement=\"flux-loss-180\" data-status=\"not_tested\""));
    assert!(f.contains("id=\"verdict\" data-verdict=\"incomplete\">incomplete"));
    assert!(f.contains("<h2>Remaining test plan</h2>") && f.contains("id=\"remaining\""));
    assert!(f.contains("id=\"ashby\"") && f.contains("Mean remanence Br (T)") && f.contains("<rect"));
    // How each value was reached (the decision tree's steps) and where the evidence came from.
    let routes = f.split("id=\"routes\"").nth(1).expect("a routes section");
    assert!(routes.contains("CMH-17-1G 8.3.3") && routes.contains("8.3.2.2"), "{routes}");
    assert!(f.contains("id=\"sources\"") && f.contains("baseline"), "{f}");
    assert!(f.contains("issued by"), "the profile's issuer is named");
    // A pinned version renders; an unknown parameter is refused, naming it.
    assert_eq!(reg.get(&format!("/fit/ev-traction-magnet-180c/{material}?version=1.0.0"), None).status, 200);
    let bad = reg.get(&format!("/fit/ev-traction-magnet-180c/{material}?versoin=1.0.0"), None);
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("versoin"));

    // A lab.
    let lab = page("/labs/kestrel-test-centre");
    assert!(lab.contains("Kestrel") && lab.contains(&format!("/packages/{digest}")));

    // Releasability: the allied Fe16N2 material is not shown to anonymous readers.
    let all = reg.get("/v1/materials", Some(&reg.operator_token)).json();
    let fen =
        all.as_array().unwrap().iter().find(|x| x["designation"].as_str().unwrap().starts_with("FeN")).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(reg.get(&format!("/materials/{fen}"), None).status, 404);
    assert_eq!(reg.get(&format!("/materials/{fen}"), Some(&token("demo-oem"))).status, 200);
    assert!(!page("/?q=FeN").contains(&fen));
    // A magnet whose package carries no curve says so; N42SH draws J solid and B dashed.
    let fen_page = text(&reg.get(&format!("/materials/{fen}"), Some(&token("demo-oem"))));
    assert!(fen_page.contains("None of this material's counting packages carries a demagnetisation curve."));
    assert!(!fen_page.contains("Field strength H"));
    let id_of = |designation: &str| {
        all.as_array().unwrap().iter().find(|x| x["designation"] == designation).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let n42 = page(&format!("/materials/{}", id_of("N42SH")));
    let demag = n42.split("<h2>Demagnetisation curves</h2>").nth(1).unwrap();
    assert_eq!(demag.matches("<svg").count(), 1);
    assert!(demag.contains("Polarisation J, flux density B (T)") && demag.contains("(J solid, B dashed)"));
    assert!(demag.contains("J at 20 °C") && demag.contains("B at 180 °C"), "J and B at every temperature: {demag}");
    // The datasheet as CSV: the table's rows, full precision, UCUM units; linked from the page;
    // as private as the page (the allied material is 404 to anonymous readers here too).
    let n42_id = id_of("N42SH");
    assert!(n42.contains(&format!("href=\"/materials/{n42_id}/datasheet.csv\"")));
    let csv = reg.get(&format!("/materials/{n42_id}/datasheet.csv"), None);
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].starts_with("text/csv"));
    assert!(csv.headers["content-disposition"].contains("datasheet.csv"));
    let csv = String::from_utf8(csv.body).unwrap();
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..4], ["material", "property", "unit", "temperature_c"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let table_rows = n42
        .split("id=\"datasheet-table\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap()
        .matches("<tr data-property=")
        .count();
    assert_eq!(rows.len(), table_rows, "one CSV line per datasheet row");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let hcj_150 = rows
        .iter()
        .find(|r| r[col("property")] == "intrinsic_coercivity" && r[col("temperature_c")] == "150")
        .expect("HcJ at 150 °C");
    assert_eq!(hcj_150[col("unit")], "kA/m");
    let (mean, b, a): (f64, f64, f64) = (
        hcj_150[col("mean")].parse().unwrap(),
        hcj_150[col("b_basis")].parse().unwrap(),
        hcj_150[col("a_basis")].parse().unwrap(),
    );
    assert!(a <= b && b <= mean, "A ≤ B ≤ mean: {a} {b} {mean}");
    assert_eq!(reg.get(&format!("/materials/{fen}/datasheet.csv"), None).status, 404);
    assert_eq!(reg.get(&format!("/materials/{fen}/datasheet.csv"), Some(&token("demo-oem"))).status, 200);
    assert_eq!(reg.get(&format!("/materials/{n42_id}/datasheet.csv?x=1"), None).status, 400);
    let y30 = page(&format!("/materials/{}", id_of("Y30BH")));
    let demag = y30.split("<h2>Demagnetisation curves</h2>").nth(1).unwrap();
    assert_eq!(demag.matches("<svg").count(), 1, "-40, 20, 150 and 180 °C overlaid");
    assert!(demag.contains("Flux density B (T)") && demag.contains("at -40 °C, 20 °C, 150 °C, 180 °C of"), "{demag}");
    // Battery cells have no such section.
    let lfp = page(&format!("/materials/{}", id_of("EPC-LFP280-P (fictional)")));
    assert!(!lfp.contains("Demagnetisation"));

    // Hostile strings: a designation with markup, published by a registered lab, and a query.
    let key =
        prequal::package::SecretKey::read(&samples.join("keys/test-only-test-magnetics-lab.secret.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hostile = "<script>alert('x')</script><img src=x onerror=alert(1)> \"N42\"";
    let pkg = custom_package(
        dir.path(),
        BASELINE,
        "hostile-grade",
        |m| {
            m["name"] = "hostile-grade".into();
            m["material"]["designation"] = hostile.into();
            m["curves"][0]["description"] = hostile.into();
        },
        &[&key],
    );
    let res = reg.upload(&pkg, Some(&token("test-magnetics-lab")));
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let hostile_digest = res.json()["digest"].as_str().unwrap().to_owned();
    let listing = page("/?q=alert");
    let id = listing.split("href=\"/materials/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    for body in [
        listing,
        page(&format!("/materials/{id}")),
        page(&format!("/packages/{hostile_digest}")),
        page(&format!("/fit/ev-traction-magnet-150c/{id}")),
    ] {
        assert!(!body.contains("<script>alert") && !body.contains("<img src=x"), "unescaped: {body}");
        assert!(
            body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") || body.contains("?script?alert"),
            "{body}"
        );
    }
    let q = page("/?q=%22%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E");
    assert!(!q.contains("<script>alert(2)") && q.contains("value=\"&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\""));
}
