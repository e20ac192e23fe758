//! `report.html` in a real browser: a run against the simulator of five plugs (three come back,
//! one never does, one is offline), one of which calls itself `<img src=x onerror=alert(1)>`, then `fleetreset report`, then headless
//! Chromium (Debian's `chromium`, which `.ci/run` installs) loads the page three ways:
//!
//! - with `--enable-logging=stderr`, Chromium prints every console message the page causes
//!   (`INFO:CONSOLE… "Uncaught ReferenceError: …"`, a script or resource the
//!   Content-Security-Policy blocked, a `console.log`); the report must cause none. Two
//!   negative controls prove the check can fail: a page with a script error, and a page whose
//!   inline script its own policy blocks, must each be caught.
//! - `--dump-dom`: the DOM after the page's script ran. The alias is text in it (escaped when
//!   serialised), no `<img>` element exists, and the sorting script did run (its hash is the
//!   one the policy admits): it marks the page `js` and titles each header.
//! - `--screenshot`: the PNG is decoded and the chart at the top of the page counted: it has
//!   the succeeded and failed bars' colours, and a blank page (the control) has neither. A copy
//!   of it and of the page stays in `target/tmp/html_report/` for a person to look at.
//! - sorting: a copy of the page without its policy, with a harness script after the page's
//!   own that clicks headers and notes the row order in the DOM.
//!
//! A missing `/usr/bin/chromium` fails the test: it is part of CI, not optional.
//!
//! Loopback range 127.49.x.x.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bench::{Bench, run_args};
use common::truth::latest_run;
use common::{ip, text};
use fleetreset::model::Outcome;

const FILE: u8 = 49;
const CHROMIUM: &str = "/usr/bin/chromium";
const HOSTILE: &str = "<img src=x onerror=alert(1)>";
const WINDOW: (u32, u32) = (1280, 1600);
/// The chart's bar colours (`report::html` chart): succeeded, failed.
const GREEN: [u8; 3] = [0x2e, 0x7d, 0x32];
const RED: [u8; 3] = [0xc6, 0x28, 0x28];

/// A browser process group, killed whole (renderers, GPU process) when it is done or the test
/// fails. The group is killed while its leader is still unreaped, so its id can't have gone
/// to another process.
struct Browser {
    child: std::process::Child,
    reaped: bool,
}

impl Browser {
    /// Whether the browser has exited, leaving it to be reaped.
    fn exited(&self) -> bool {
        // SAFETY: waitid(2) on our own child, with a zeroed siginfo_t it fills in.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            rc == 0 && info.si_pid() != 0
        }
    }

    /// Kills what is left of the group, then reaps the browser.
    fn reap(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on the process group of our own unreaped child.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        self.reaped = true;
        self.child.wait().unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.reaped {
            self.reap();
        }
    }
}

struct Loaded {
    stdout: String,
    stderr: String,
}

impl Loaded {
    /// The console messages Chromium logged for the page.
    fn console(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .collect()
    }
}

/// Headless Chromium on `page` with `args`, within a minute, in a profile of its own.
fn chromium(page: &Path, profile: &Path, args: &[&str]) -> Loaded {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's `chromium` package (`sudo apt-get install chromium`; .ci/run does it on CI)"
    );
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        &format!("--user-data-dir={}", profile.display()),
    ])
    .args(args)
    .arg(format!("file://{}", page.display()))
    // Headless needs no display; the host's must not matter.
    .env_remove("DISPLAY")
    .env_remove("WAYLAND_DISPLAY")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut browser = Browser {
        child: cmd.spawn().expect("cannot start chromium"),
        reaped: false,
    };
    let out = read_all(browser.child.stdout.take().unwrap());
    let err = read_all(browser.child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if browser.exited() {
            // Its helpers too, which would otherwise hold the pipes open.
            break browser.reap();
        }
        assert!(
            Instant::now() < deadline,
            "chromium took over a minute on {}",
            page.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let loaded = Loaded {
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        status.success(),
        "chromium failed on {}: {status}\n{}",
        page.display(),
        loaded.stderr
    );
    loaded
}

/// A pipe read to its end on a thread of its own.
fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A screenshot decoded to 8-bit RGBA.
struct Shot {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

fn decode(path: &Path) -> Shot {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    Shot {
        width: info.width,
        height: info.height,
        rgba,
    }
}

impl Shot {
    /// Pixels of `colour` (within a few steps, for antialiasing) in rows `top..bottom`.
    fn count(&self, top: u32, bottom: u32, colour: [u8; 3]) -> usize {
        let near = |a: u8, b: u8| a.abs_diff(b) <= 6;
        (top..bottom.min(self.height))
            .flat_map(|y| (0..self.width).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let i = ((y * self.width + x) * 4) as usize;
                let p = &self.rgba[i..i + 3];
                near(p[0], colour[0]) && near(p[1], colour[1]) && near(p[2], colour[2])
            })
            .count()
    }

    /// Pixels that are not the page's white background, in rows `top..bottom`.
    fn ink(&self, top: u32, bottom: u32) -> usize {
        (top..bottom.min(self.height))
            .flat_map(|y| (0..self.width).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let i = ((y * self.width + x) * 4) as usize;
                self.rgba[i..i + 3].iter().any(|c| *c < 240)
            })
            .count()
    }
}

/// The chart sits at the top of the page, under the title: its bars and legend are there. The
/// legend's swatches are 10×10, so more than that of green is the succeeded jobs' bars.
fn chart_drawn(shot: &Shot) -> Result<(), String> {
    const TOP: u32 = 60;
    const BOTTOM: u32 = 700;
    let green = shot.count(TOP, BOTTOM, GREEN);
    let red = shot.count(TOP, BOTTOM, RED);
    let ink = shot.ink(TOP, BOTTOM);
    let below = shot.count(BOTTOM, shot.height, GREEN);
    if green < 300 || red < 100 || ink < 20_000 || below > 0 {
        return Err(format!(
            "no chart at the top: {green} green, {red} red, {ink} non-white pixels in rows {TOP}..{BOTTOM}, {below} green below"
        ));
    }
    Ok(())
}

#[test]
fn the_console_and_screenshot_checks_catch_a_broken_page() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><body><p>no chart here</p><script>noSuchFunction();</script></body></html>",
    )
    .unwrap();
    let shot = tmp.path().join("broken.png");
    let loaded = chromium(
        &broken,
        &tmp.path().join("profile-1"),
        &[&format!("--screenshot={}", shot.display())],
    );
    let console = loaded.console();
    assert!(
        console.iter().any(|l| l.contains("noSuchFunction")),
        "a script error went unseen:\n{}",
        loaded.stderr
    );
    let err = chart_drawn(&decode(&shot)).unwrap_err();
    assert!(
        err.starts_with("no chart at the top: 0 green, 0 red"),
        "{err}"
    );

    // A script the page's own policy blocks is a console error too.
    let blocked = tmp.path().join("blocked.html");
    std::fs::write(
        &blocked,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-AAAA'\"></head><body><script>var x = 1;</script></body></html>",
    )
    .unwrap();
    let loaded = chromium(&blocked, &tmp.path().join("profile-2"), &["--dump-dom"]);
    assert!(
        loaded
            .console()
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "a blocked script went unseen:\n{}",
        loaded.stderr
    );
}

fn inventory() -> String {
    let mut csv = String::from("id,host,model,mac,site,unit,alias,sim_fault\n");
    for (i, (id, site, alias, fault)) in [
        ("hall-1", "Hall", "Hall lamp", ""),
        ("evil-2", "Hall", HOSTILE, ""),
        ("annex-3", "Annex", "Annex fan", ""),
        ("stuck-4", "Annex", "Stuck", "reboot_never_returns"),
        ("gone-5", "Annex", "Gone", "offline"),
    ]
    .into_iter()
    .enumerate()
    {
        let n = i as u8 + 1;
        csv.push_str(&format!(
            "{id},{},HS110(EU),50:C7:BF:{FILE:02X}:01:{n:02X},{site},lobby,{alias},{fault}\n",
            ip(FILE, 1, n)
        ));
    }
    csv
}

#[test]
fn the_report_renders_in_chromium_with_its_timeline_no_console_errors_and_the_alias_as_text() {
    let csv = inventory();
    let b = Bench::start(&csv, &csv);
    // One failure stops the run: its stop is a marker on the chart.
    let out = b.output(&run_args("power-cycle", &["--max-fail", "1"]));
    let record = latest_run(&b.db());
    let outcome = |id: &str| {
        record
            .jobs
            .iter()
            .find(|j| j.device_id == id)
            .and_then(|j| j.outcome)
    };
    assert_eq!(
        outcome("evil-2"),
        Some(Outcome::Succeeded),
        "{}",
        text(&out)
    );
    assert_eq!(
        outcome("hall-1"),
        Some(Outcome::Succeeded),
        "{}",
        text(&out)
    );
    assert_eq!(outcome("stuck-4"), Some(Outcome::Failed), "{}", text(&out));
    assert_eq!(
        outcome("gone-5"),
        Some(Outcome::ManualRequired),
        "{}",
        text(&out)
    );

    let out = b.output(&["report", "latest"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let printed: Vec<&str> = stdout.lines().collect();
    let html = format!("reports/{}/report.html", record.run.id);
    assert_eq!(printed.len(), 4, "{stdout}");
    assert_eq!(printed[3], html);
    let page = b.path(&html);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&page).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let source = std::fs::read_to_string(&page).unwrap();
    assert!(source.contains("<td>&lt;img src=x onerror=alert(1)&gt;</td>"));
    assert!(!source.contains("http://") && !source.contains("https://"));

    // The screenshot, and the console of that load.
    let shot_path = b.path("report.png");
    let loaded = chromium(
        &page,
        &b.path("profile-shot"),
        &[&format!("--screenshot={}", shot_path.display())],
    );
    assert_eq!(loaded.console(), Vec::<&str>::new(), "{}", loaded.stderr);
    let shot = decode(&shot_path);
    assert_eq!((shot.width, shot.height), WINDOW);
    let kept = keep(&shot_path, &page);
    chart_drawn(&shot).unwrap_or_else(|e| panic!("{e}; see {}", kept.display()));

    // The DOM after the script ran.
    let loaded = chromium(&page, &b.path("profile-dom"), &["--dump-dom"]);
    assert_eq!(loaded.console(), Vec::<&str>::new(), "{}", loaded.stderr);
    let dom = &loaded.stdout;
    assert!(
        dom.contains("<td>&lt;img src=x onerror=alert(1)&gt;</td>"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "an <img> element in the DOM:\n{dom}");
    assert!(!dom.contains("onerror=alert(1)>"), "{dom}");
    // The sorting script ran: the policy admitted it by its hash.
    assert!(dom.contains("<html lang=\"en\" class=\" js\">"), "{dom}");
    assert_eq!(dom.matches("title=\"Sort by this column\"").count(), 21);
    assert_eq!(dom.matches("<rect class=\"job\"").count(), 5);
    assert!(
        dom.contains(">started</text>") && dom.contains(">stopped</text>"),
        "{dom}"
    );

    // Sorting, clicked in the browser: a copy of the page (its policy left out, so that a
    // harness script may run after the page's own) clicks headers and notes the order.
    let csp = source
        .lines()
        .find(|l| l.starts_with("<meta http-equiv=\"Content-Security-Policy\""))
        .unwrap();
    let harness = b.path("sort-check.html");
    std::fs::write(
        &harness,
        source.replacen(csp, "", 1).replacen(
            "</body>",
            &format!("<script>{SORT_HARNESS}</script>\n</body>"),
            1,
        ),
    )
    .unwrap();
    let loaded = chromium(&harness, &b.path("profile-sort"), &["--dump-dom"]);
    assert_eq!(loaded.console(), Vec::<&str>::new(), "{}", loaded.stderr);
    let sorted = between(&loaded.stdout, "data-sorted=\"", "\"");
    let orders: Vec<&str> = sorted.split('|').collect();
    assert_eq!(
        orders[..3],
        [
            "annex-3 evil-2 gone-5 hall-1 stuck-4",
            "stuck-4 hall-1 gone-5 evil-2 annex-3",
            "1 2 3 4 5",
        ],
        "{sorted}"
    );
    // By duration, as numbers (an empty cell last).
    let durations: Vec<f64> = orders[3]
        .split(' ')
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap())
        .collect();
    assert!(durations.len() >= 4, "{sorted}");
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{sorted}");
}

/// Clicks the id header twice, then `#`, then `duration s`, and notes each order in
/// `body[data-sorted]`.
const SORT_HARNESS: &str = "(function(){\
var t=document.querySelector('table.devices'),h=t.tHead.rows[0].cells,out=[];\
function col(i){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[i].textContent;}).join(' ');}\
h[1].click();out.push(col(1));h[1].click();out.push(col(1));h[0].click();out.push(col(0));\
h[13].click();out.push(col(13));\
document.body.setAttribute('data-sorted',out.join('|'));})();";

/// The text between the first `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let len = text[from..].find(end).unwrap();
    &text[from..from + len]
}

/// Copies of the screenshot and the page under `target/tmp`, which outlive the test, for a
/// person to look at.
fn keep(shot: &Path, page: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html_report");
    std::fs::create_dir_all(&dir).unwrap();
    let kept = dir.join("report.png");
    std::fs::copy(shot, &kept).unwrap();
    std::fs::copy(page, dir.join("report.html")).unwrap();
    eprintln!("screenshot: {}", kept.display());
    kept
}
