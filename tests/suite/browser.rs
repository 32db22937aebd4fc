#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The web pages in a real browser: headless Chromium driven over the WebDriver HTTP protocol
//! (W3C WebDriver, by hand with the tests' HTTP client) against `prequal serve --demo`.
//!
//! An engineer searches for magnets with HcJ ≥ 1000 kA/m at 150 °C (typing, and pressing Enter
//! to submit: no mouse needed), opens the material found, then its fit report against the
//! 180 °C traction profile, and sees the chart and the requirement table with the right statuses.
//! Screenshots go to `target/browser-artifacts/*.png`; every page kind is also taken at 1400 px
//! and at a 390 px phone width (`<kind>-1400.png`, `<kind>-390.png`), where no page may scroll
//! sideways (tables scroll inside their own box).
//!
//! Needs Debian's `chromium` and `chromium-driver` (tests/tools/install-test-deps.sh installs
//! them). Under CI (`CI` set) their absence fails the test; elsewhere it is skipped with a message.

use crate::common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::samples_dir;
use common::server::{Backend, TestRegistry, request};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Driver {
    child: Child,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = common::server::try_request(
                &format!("{}/session/{}", self.base, self.session),
                "DELETE",
                None,
                None,
                &[],
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(chromedriver: &Path, chromium: &Path, profile_dir: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut driver = Driver { child, base: format!("http://127.0.0.1:{port}"), session: String::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = common::server::try_request(&format!("{}/status", driver.base), "GET", None, None, &[])
                && res.status == 200
                && res.json()["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_str().unwrap(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                         "--window-size=1280,1600", format!("--user-data-dir={}", profile_dir.display())]
            }
        }}});
        let created = driver.call("POST", "/session", Some(caps));
        driver.session = created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
        let res = request(&format!("{}{path}", self.base), method, None, body, &[]);
        let v = res.json();
        assert_eq!(res.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.session("POST", "/url", Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let v = self.session("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("{css}: {v}")).to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session("POST", &format!("/element/{id}/value"), Some(json!({"text": text})));
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.session("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.find(css);
        self.session("GET", &format!("/element/{id}/attribute/{name}"), None).as_str().unwrap_or("").to_owned()
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.session("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or("").to_owned()
    }

    fn url(&self) -> String {
        self.session("GET", "/url", None).as_str().unwrap_or("").to_owned()
    }

    fn script(&self, js: &str) -> Value {
        self.session("POST", "/execute/sync", Some(json!({"script": js, "args": []})))
    }

    fn resize(&self, width: u32, height: u32) {
        self.session("POST", "/window/rect", Some(json!({"width": width, "height": height})));
    }

    /// The page's own text (what a reader sees), not its markup.
    fn page_text(&self) -> String {
        self.script("return document.body.innerText;").as_str().unwrap_or("").to_owned()
    }

    fn screenshot(&self, name: &str) {
        let png = self.session("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

#[test]
fn search_material_and_fit_report_in_headless_chromium() {
    let chromedriver = find_program(&["chromedriver"]);
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let (Some(chromedriver), Some(chromium)) = (chromedriver, chromium) else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but chromium or chromedriver is missing (tests/tools/install-test-deps.sh installs them)"
            );
        }
        eprintln!("skipped: chromium and chromedriver are not installed (run tests/tools/install-test-deps.sh)");
        return;
    };
    let samples = samples_dir();
    let reg = TestRegistry::start_with(Backend::Sqlite, &["--demo", "--samples", samples.to_str().unwrap()]);
    let profile = tempfile::tempdir().unwrap();
    let browser = Driver::start(&chromedriver, &chromium, profile.path());

    // Search by keyboard: fill the labelled fields, press Enter in the last one.
    browser.go(&format!("{}/", reg.url));
    assert_eq!(browser.attribute("label[for='f-property']", "for"), "f-property");
    browser.click("#f-property option[value='intrinsic_coercivity']");
    browser.type_into("#f-min", "1000");
    browser.type_into("#f-unit", "kA/m");
    browser.type_into("#f-temperature", "150");
    browser.type_into("#f-tolerance", "5\u{E007}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !browser.url().contains("temperature=150") {
        assert!(Instant::now() < deadline, "the form was not submitted: {}", browser.url());
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = browser.url();
    assert!(url.contains("property=intrinsic_coercivity") && url.contains("unit=kA%2Fm"), "a shareable GET URL: {url}");
    assert_eq!(browser.text("section h2"), "1 material");
    browser.screenshot("1-search");

    // The material found, with its plots.
    browser.click("table.hits a[href^='/materials/']");
    assert!(browser.text("h1").starts_with("40UH-GBD"), "{}", browser.text("h1"));
    browser.find("figure.plot svg");
    // Its demagnetisation curves (the GBD sample carries J-H curves at every tested temperature).
    browser.find("figure.plot[data-kind~='J-H'] svg[role='img']");
    browser.screenshot("2-material");

    // Its fit report against the 180 °C traction profile.
    browser.click("a[href^='/fit/ev-traction-magnet-180c/']");
    assert_eq!(browser.text("#verdict"), "incomplete");
    browser.find("#ashby svg");
    assert_eq!(browser.attribute("tr[data-requirement='hcj-180']", "data-status"), "met");
    assert_eq!(browser.attribute("tr[data-requirement='flux-loss-180']", "data-status"), "not_tested");
    assert!(browser.text("tr[data-requirement='hcj-180']").contains("met"));
    browser.screenshot("3-fit-report");

    // The demo path from a shared link: rare-earth-free magnets with HcJ of at least 300 kA/m at
    // 150 °C, then the ferrite's page with its B-H curves.
    browser.go(&format!(
        "{}/?rare_earth_free=true&material_class=permanent_magnet&property=HcJ&min=300&unit=kA%2Fm&temperature=150",
        reg.url
    ));
    assert_eq!(browser.text("section h2"), "1 material");
    browser.click("table.hits a[href^='/materials/']");
    assert!(browser.text("h1").starts_with("Y30BH"), "{}", browser.text("h1"));
    browser.find("figure.plot[data-kind~='B-H'] svg[role='img']");
    browser.screenshot("4-rare-earth-free");
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromedriver = find_program(&["chromedriver"]);
    let chromium = find_program(&["chromium", "chromium-browser"]);
    match (chromedriver, chromium) {
        (Some(d), Some(c)) => Some((d, c)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but chromium or chromedriver is missing (tests/tools/install-test-deps.sh installs them)")
        }
        _ => {
            eprintln!("skipped: chromium and chromedriver are not installed (run tests/tools/install-test-deps.sh)");
            None
        }
    }
}

/// UCUM codes and vocabulary names that must never reach a reader as text.
const CODES: &[&str] = &[
    "Cel",
    "kJ/m3",
    "W.h/kg",
    "{pass}",
    "{cycles}",
    "intrinsic_coercivity",
    "permanent_magnet",
    "notqualified",
    "b_basis",
];

#[test]
fn every_page_kind_reads_in_words_and_units_at_desktop_and_phone_widths() {
    let Some((chromedriver, chromium)) = tools() else { return };
    let samples = samples_dir();
    let reg = TestRegistry::start_with(Backend::Sqlite, &["--demo", "--samples", samples.to_str().unwrap()]);
    let profile = tempfile::tempdir().unwrap();
    let browser = Driver::start(&chromedriver, &chromium, profile.path());

    let n42sh = "example-sintered-magnets-co-fictional--n42sh";
    let ferrite = "westerwald-ferrite-gmbh-fictional--y30bh";
    let packages = reg.get("/v1/packages?limit=100", None).json();
    let n42sh_package = packages["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["designation"] == "N42SH")
        .map(|p| p["digest"].as_str().unwrap().to_owned())
        .unwrap();
    let orgs = reg.get("/v1/organisations", None).json();
    let certifier = orgs
        .as_array()
        .or_else(|| orgs["organisations"].as_array())
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "certifier")
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .unwrap();

    let pages: Vec<(&str, String)> = vec![
        ("search", "/?property=HcJ&min=1000&unit=kA%2Fm&temperature=150&profile=ev-traction-magnet-180c".into()),
        ("search-empty", "/?property=HcJ&min=5000&unit=kA%2Fm&temperature=150".into()),
        ("search-refused", "/?property=HcJ&min=lots".into()),
        ("material", format!("/materials/{n42sh}")),
        ("package", format!("/packages/{n42sh_package}")),
        ("fit-not-qualified", format!("/fit/ev-traction-magnet-150c/{ferrite}")),
        ("lab", format!("/labs/{certifier}")),
        ("organisations", "/labs".into()),
        ("glossary", "/glossary".into()),
        ("profiles", "/profiles".into()),
        ("profile", "/profiles/ev-traction-magnet-180c".into()),
        ("not-found", "/no/such/page".into()),
    ];
    for (kind, path) in &pages {
        for width in [1400, 390] {
            browser.resize(width, 1600);
            browser.go(&format!("{}{path}", reg.url));
            let text = browser.page_text();
            for code in CODES {
                assert!(!text.contains(code), "{kind} at {width} px shows the code {code:?}:\n{text}");
            }
            let overflow = browser.script("return document.documentElement.scrollWidth;").as_u64().unwrap();
            assert!(overflow <= u64::from(width), "{kind} at {width} px is {overflow} px wide");
            browser.screenshot(&format!("page-{kind}-{width}"));
        }
    }

    // The failing verdict in words and in the failure colour, and no good news under it.
    browser.resize(1400, 1600);
    browser.go(&format!("{}/fit/ev-traction-magnet-150c/{ferrite}", reg.url));
    assert_eq!(browser.text("#verdict"), "not qualified");
    assert_eq!(browser.attribute("#verdict", "class"), "bad");
    assert!(!browser.page_text().contains("No test remains"));
    browser.find("#no-test-remains");
    // Threshold, value and margin carry units.
    let row = browser.text("tr[data-requirement='hcj-150']");
    assert!(row.matches("kA/m").count() >= 3, "{row}");
    assert!(row.contains("B-basis"), "{row}");

    // The material page is a datasheet first: HcJ per temperature, never averaged across them.
    browser.go(&format!("{}/materials/{n42sh}", reg.url));
    let first_h2 = browser.text("main h2");
    assert_eq!(first_h2, "Datasheet");
    let hcj_rows = browser.script(
        "return [...document.querySelectorAll(\"#datasheet-table tr[data-property='intrinsic_coercivity']\")].map(r => r.innerText);",
    );
    let hcj_rows: Vec<String> = hcj_rows.as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
    assert!(hcj_rows.len() >= 3, "one row per temperature: {hcj_rows:?}");
    assert!(hcj_rows.iter().any(|r| r.contains("150 °C") && r.contains("kA/m")), "{hcj_rows:?}");
    let titled =
        browser.script("return [...document.querySelectorAll('svg[role=img]')].every(s => s.querySelector('title'));");
    assert_eq!(titled, json!(true), "every chart has role=img and a title");

    // Provenance on the package page.
    browser.go(&format!("{}/packages/{n42sh_package}", reg.url));
    assert!(browser.text("#signatures").contains("countersigner"));
    assert!(browser.text("#checks").contains("passed"));
    assert!(browser.text("#log-entry").contains("log entry"));
    let proof = browser.attribute("#log-entry a[href*='inclusion']", "href");
    let proof = reg.get(proof.trim_start_matches(&reg.url), None);
    assert_eq!(proof.status, 200);

    // The certifier's page lists what it countersigned.
    browser.go(&format!("{}/labs/{certifier}", reg.url));
    assert!(
        browser.page_text().contains("Packages countersigned (") && !browser.page_text().contains("countersigned (0)")
    );

    // A zero-result search names the filter to relax.
    browser.go(&format!("{}/?property=HcJ&min=5000&unit=kA%2Fm&temperature=150", reg.url));
    assert!(browser.text("#no-results").contains("without"), "{}", browser.text("#no-results"));

    // A refused parameter is shown at its field.
    browser.go(&format!("{}/?property=HcJ&min=lots", reg.url));
    assert_eq!(browser.attribute("#f-min", "aria-invalid"), "true");
    assert!(browser.text("#e-min").contains("not a number"));
}

#[test]
fn pages_compress_refuse_unknown_parameters_and_answer_browsers_in_html() {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(Backend::Sqlite, &["--demo", "--samples", samples.to_str().unwrap()]);

    // The N42SH material page is under 60 KB on the wire.
    let page = request(
        &format!("{}/materials/example-sintered-magnets-co-fictional--n42sh", reg.url),
        "GET",
        None,
        None,
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(page.status, 200);
    assert_eq!(page.headers.get("content-encoding").map(String::as_str), Some("gzip"));
    assert!(page.body.len() < 60_000, "{} bytes", page.body.len());

    // A misspelled parameter is refused, named, with the likely one; in the API and on pages.
    let api = reg.get("/v1/search?property=HcJ&temprature=150", None);
    assert_eq!(api.status, 400);
    assert_eq!(
        api.json()["error"]["message"],
        "parameter 'temprature': unknown parameter; did you mean 'temperature'?"
    );
    let html = reg.get("/?property=HcJ&temprature=150", None);
    assert_eq!(html.status, 400);
    let body = String::from_utf8(html.body).unwrap();
    assert!(body.contains("temprature") && body.contains("did you mean"), "{body}");
    let material = reg.get("/materials/example-sintered-magnets-co-fictional--n42sh?units=cgs", None);
    assert_eq!(material.status, 400);

    // An unknown route: a page for a browser, the JSON envelope for an API client.
    let browser = request(
        &format!("{}/no/such/page", reg.url),
        "GET",
        None,
        None,
        &[("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")],
    );
    assert_eq!(browser.status, 404);
    assert!(browser.headers["content-type"].starts_with("text/html"));
    assert!(String::from_utf8(browser.body).unwrap().contains("Not found"));
    let client = reg.get("/no/such/page", None);
    assert_eq!(client.status, 404);
    assert_eq!(client.json()["error"]["code"], "not_found");
}
