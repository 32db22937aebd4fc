#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `GET /v1/search` over HTTP on both backends, with the demo data: property ranges at a
//! temperature in any compatible unit, composition and supply filters, origin, lab,
//! countersignature, profile fit, sorting, pages, facets, refusals, and releasability exactly as
//! on the read API.

use crate::common;

use common::server::{Backend, TestRegistry};
use common::*;
use serde_json::{Value, json};

both_backends!(search_materials_over_http);

fn designations(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits: {v}"))
        .iter()
        .map(|h| h["designation"].as_str().unwrap().split(' ').next().unwrap().to_owned())
        .collect()
}

fn search_materials_over_http(backend: Backend) {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let tokens: Value = serde_json::from_slice(&std::fs::read(reg.data.join("demo-tokens.json")).unwrap()).unwrap();
    let token = |org: &str| tokens[org]["token"].as_str().unwrap().to_owned();
    let search = |query: &str, token: Option<&str>| {
        let res = reg.get(&format!("/v1/search?{query}"), token);
        assert_eq!(res.status, 200, "{query}: {}", String::from_utf8_lossy(&res.body));
        res.json()
    };

    // HcJ at 150 °C: the group means are N42SH 798, GBD 1157, ferrite 322, Fe16N2 222 kA/m.
    let hot = search("property=HcJ&min=1000&unit=kA/m&temperature=150&temperature_unit=Cel&tolerance=5", None);
    assert_eq!(designations(&hot), ["40UH-GBD"]);
    let m = &hot["hits"][0]["property"];
    assert_eq!(m["property"], "intrinsic_coercivity");
    assert!((m["value"].as_f64().unwrap() - 1156.7).abs() < 0.1, "{m}");
    assert!((m["temperature_c"].as_f64().unwrap() - 150.0).abs() < 0.5);
    assert_eq!(m["measurements"], 15);
    assert_eq!(hot["hits"][0]["producer_country"], "JP");
    // The same question in kOe and °F gives the same material, values in kOe.
    let same = search(
        "property=intrinsic_coercivity&min=12.566&unit=kOe&temperature=302&temperature_unit=%5BdegF%5D&tolerance=9",
        None,
    );
    assert_eq!(designations(&same), ["40UH-GBD"]);
    assert!((same["hits"][0]["property"]["value"].as_f64().unwrap() - 1156.7 / 79.577).abs() < 0.01);
    // A window with no measurement matches nothing; a range below matches the other magnets.
    assert_eq!(search("property=HcJ&min=1&temperature=100&tolerance=5", None)["total"], 0);
    let ranged = search("property=HcJ&min=300&max=900&temperature=150&sort=value", None);
    assert_eq!(designations(&ranged), ["N42SH", "Y30BH"], "value order, highest first");

    // Releasability: the allied Fe16N2 package only for readers of an allied country.
    let cold = "property=HcJ&max=310&temperature=20&tolerance=2";
    assert_eq!(designations(&search(cold, None)), ["Y30BH"]);
    assert_eq!(designations(&search(cold, Some(&token("demo-oem")))), ["FeN-EB1", "Y30BH"]);

    // Composition and supply.
    let magnets = "material_class=permanent_magnet";
    assert_eq!(designations(&search(&format!("{magnets}&rare_earth_free=true"), None)), ["Y30BH"]);
    assert_eq!(designations(&search(&format!("{magnets}&rare_earth_free=false"), None)), ["40UH-GBD", "N42SH"]);
    assert_eq!(
        designations(&search(&format!("{magnets}&cobalt_free=true"), Some(&reg.operator_token))),
        ["FeN-EB1", "Y30BH"]
    );
    assert_eq!(designations(&search(&format!("{magnets}&max_dy_tb=0.008"), None)), ["40UH-GBD", "Y30BH"]);
    let by_hhi = search(&format!("{magnets}&sort=hhi"), Some(&reg.operator_token));
    assert_eq!(designations(&by_hhi), ["FeN-EB1", "Y30BH", "N42SH", "40UH-GBD"]);
    let hhis: Vec<f64> =
        by_hhi["hits"].as_array().unwrap().iter().map(|h| h["content"]["supply_hhi"].as_f64().unwrap()).collect();
    assert!(hhis.windows(2).all(|w| w[0] <= w[1]), "{hhis:?}");
    assert!((hhis[0] - 1984.0).abs() < 1.0, "iron only: the iron-ore HHI, {hhis:?}");
    let sh = &by_hhi["hits"][2]["content"];
    assert_eq!(sh["critical_elements"][0]["element"], "Fe");
    assert!(
        sh["critical_elements"].as_array().unwrap().iter().any(|e| e["element"] == "Nd" && e["top_country"] == "CN")
    );
    assert!(sh["critical_elements"][0]["citation"].as_str().unwrap().contains("Mineral Commodity Summaries 2025"));
    assert_eq!(designations(&search(&format!("{magnets}&max_supply_hhi=2500"), None)), ["Y30BH"]);

    // Origin, lab, countersignature, text.
    assert_eq!(designations(&search("country=cn", None)), ["N42SH"]);
    assert_eq!(designations(&search("lab=kestrel-test-centre", None)), ["40UH-GBD"]);
    assert_eq!(designations(&search("countersigned=true", None)), ["40UH-GBD", "EPC-LFP280-P", "N42SH"]);
    assert_eq!(designations(&search("q=y30", None)), ["Y30BH"]);
    // Pattern characters and quotes are text, never patterns or SQL.
    for q in ["%25", "_", "%27%20OR%201%3D1%20--", "%5C"] {
        assert_eq!(search(&format!("q={q}"), None)["total"], 0, "q={q}");
    }
    assert_eq!(designations(&search("q=sodium", None)), ["ESC-NA33140"], "the package name matches");

    // Fit to a profile: GBD meets some requirements of the 180 °C profile and fails none; N42SH fails HcJ.
    let fit = search("profile=ev-traction-magnet-180c&fit=partly", None);
    assert_eq!(designations(&fit), ["40UH-GBD"]);
    assert_eq!(fit["hits"][0]["fit"]["verdict"], "incomplete");
    let all = search("profile=ev-traction-magnet-180c&material_class=permanent_magnet", None);
    let sh_fit = all["hits"].as_array().unwrap().iter().find(|h| h["designation"] == "N42SH").unwrap();
    assert_eq!(sh_fit["fit"]["verdict"], "not_qualified");
    assert_eq!(search("profile=ev-traction-magnet-180c&fit=met", None)["total"], 0);

    // Pages and facets (facets count every hit, not one page).
    let page = search("per_page=2&page=3", None);
    assert_eq!((page["total"].as_u64(), page["hits"].as_array().unwrap().len()), (Some(5), 1));
    let facets = &page["facets"];
    assert_eq!(
        facets["material_class"],
        json!([{"value": "permanent_magnet", "count": 3}, {"value": "battery_cell", "count": 2}])
    );
    assert!(facets["rare_earth_free"].as_array().unwrap().contains(&json!({"value": "true", "count": 3})));
    assert!(facets["lab"].as_array().unwrap().contains(&json!({"value": "rheinfeld-pruflabor", "count": 1})));
    assert_eq!(search("per_page=1000", None)["per_page"], 100);

    // Refusals name the parameter.
    for (query, parameter) in [
        ("property=HcJ&min=1&unit=furlong", "unit"),
        ("property=HcJ&min=1&unit=T", "unit"),
        ("property=HcJ&min=many", "min"),
        ("property=HcJ&temperature=hot", "temperature"),
        ("property=Hx", "property"),
        ("profile=no-such-profile", "profile"),
        ("rare_earth_free=maybe", "rare_earth_free"),
    ] {
        let res = reg.get(&format!("/v1/search?{query}"), None);
        assert_eq!(res.status, 400, "{query}");
        assert_eq!(res.code(), "bad_request");
        let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with(&format!("parameter '{parameter}'")), "{query}: {message}");
    }

    // A second registry process on the same database (this test process, with its own search
    // mirror) sees what the server changes, and the server what it changes.
    let other = reg.library();
    let other_search = |min_hcj_150: &str| {
        let params = prequal::registry::search::SearchParams {
            property: Some("HcJ".into()),
            min: Some(min_hcj_150.into()),
            temperature: Some("150".into()),
            ..Default::default()
        };
        let req = prequal::registry::search::SearchRequest::parse(&params).unwrap();
        let found = other.search(&prequal::registry::Reader::Anonymous, &req).unwrap();
        found.hits.iter().map(|h| h.designation.split(' ').next().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(other_search("1000"), ["40UH-GBD"]);

    // A withdrawn package stops counting, in search as in fit reports.
    let digest =
        reg.get("/v1/packages?name=ndfeb-gbd-dy-uh", None).json()["packages"][0]["digest"].as_str().unwrap().to_owned();
    let res = reg.post_json(
        &format!("/v1/packages/{digest}/withdraw"),
        Some(&token("kestrel-test-centre")),
        &json!({"reason": "test"}),
    );
    assert_eq!(res.status, 200);
    assert_eq!(search("property=HcJ&min=1000&temperature=150", None)["total"], 0);
    assert!(other_search("1000").is_empty(), "the other process saw the withdrawal");
    // And the other way: a withdrawal through the second process reaches the server's search.
    assert_eq!(designations(&search("q=y30", None)), ["Y30BH"]);
    let y30 = reg.get("/v1/packages?name=ferrite-sr-y30bh", None).json()["packages"][0]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no Y30BH package"))
        .to_owned();
    let operator = other.authenticate(&reg.operator_token).unwrap();
    other.withdraw(&operator, &y30, "test from a second process").unwrap();
    assert_eq!(search("q=y30", None)["total"], 0, "the server saw the other process's withdrawal");
}
