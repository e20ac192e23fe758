//! The page around the sections: the head (its Content-Security-Policy, the inline style), and
//! the one inline script, which sorts the device table by a clicked header.
//!
//! Nothing on the page loads anything: `default-src 'none'` forbids every fetch (scripts,
//! styles, images, fonts, frames, connections), the style is inline, the fonts are the
//! system's, and the script runs only because its SHA-256 is in `script-src`, so a script that
//! stored text smuggled in (were the escaping ever wrong) would not run, nor would an inline
//! event handler. The page reads the same without the script: the table is in inventory
//! order and everything is shown.

use std::fmt::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// System fonts only; print-friendly; the chart first, at the top of the page.
const STYLE: &str = "\
:root{color-scheme:light}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;\
margin:0 1.2em 2em;color:#111;background:#fff;font-size:14px;line-height:1.35}\
h1{font-size:1.35em;margin:.5em 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em;\
border-bottom:1px solid #999}p{margin:.3em 0}.meta{color:#333}\
.chart{width:1000px;max-width:100%;height:auto;display:block;margin:.4em 0}\
.note{color:#444;font-size:.92em;max-width:70em}\
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid #bbb;padding:.15em .45em;\
text-align:left;vertical-align:top}th{background:#eee}td.n,th.n{text-align:right}\
table.devices{font-size:13px}table.devices td,table.devices th{white-space:nowrap}\
table.devices td.wrap{white-space:normal;min-width:16em;max-width:32em;overflow-wrap:break-word}\
.js table.devices th{cursor:pointer;user-select:none}\
.js table.devices th::after{content:' \\2195';color:#888}\
table.devices th[aria-sort=ascending]::after{content:' \\25B2';color:#000}\
table.devices th[aria-sort=descending]::after{content:' \\25BC';color:#000}\
.o{font-weight:600}.o-succeeded{color:#1b5e20}.o-failed{color:#b71c1c}\
.o-manual_required{color:#bf360c}.o-manual_confirmed{color:#0d47a1}.o-skipped{color:#555}\
.o-unfinished{color:#4a148c}ul.events{padding-left:1.2em;margin:.3em 0}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.95em}\
@media print{body{margin:0}.chart{width:100%}}";

/// Sorts `table.devices` by the clicked (or Enter/Space-pressed) header, by its cells' text:
/// numerically when every non-empty cell of the column is a number, else as people count
/// (`unit 9` before `unit 10`); again to reverse. Reads nothing but the table's text.
const SCRIPT: &str = "(function(){\
var t=document.querySelector('table.devices');\
if(!t||!t.tHead||!t.tBodies.length)return;\
document.documentElement.className+=' js';\
var body=t.tBodies[0],heads=t.tHead.rows[0].cells;\
function text(r,i){var c=r.cells[i];return c?c.textContent.trim():'';}\
function sortBy(i){\
var h=heads[i],asc=h.getAttribute('aria-sort')!=='ascending';\
for(var j=0;j<heads.length;j++)heads[j].removeAttribute('aria-sort');\
h.setAttribute('aria-sort',asc?'ascending':'descending');\
var rows=Array.prototype.slice.call(body.rows);\
var num=rows.every(function(r){var v=text(r,i);return v===''||isFinite(Number(v));});\
rows.sort(function(a,b){var x=text(a,i),y=text(b,i),d;\
if(x===y)d=0;else if(x==='')d=1;else if(y==='')d=-1;\
else if(num)d=Number(x)-Number(y);\
else d=x.localeCompare(y,undefined,{numeric:true,sensitivity:'base'});\
return asc?d:-d;});\
for(var k=0;k<rows.length;k++)body.appendChild(rows[k]);}\
Array.prototype.forEach.call(heads,function(h,i){\
h.tabIndex=0;h.title='Sort by this column';\
h.addEventListener('click',function(){sortBy(i);});\
h.addEventListener('keydown',function(e){\
if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(i);}});});\
})();";

/// `'sha256-…'`: the source the policy lets run, and nothing else.
fn script_hash() -> String {
    format!("'sha256-{}'", B64.encode(Sha256::digest(SCRIPT.as_bytes())))
}

/// The policy: no fetch of any kind, the inline style, the one script by its hash.
pub fn policy() -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src {}; base-uri 'none'; form-action 'none'",
        script_hash()
    )
}

/// `<!DOCTYPE html>` to `<body>`; `title` is escaped already.
pub fn head(out: &mut dyn Write, title: &str) -> fmt::Result {
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        policy()
    )?;
    writeln!(out, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>{title}</title>")?;
    writeln!(out, "<style>{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")
}

/// The script, then `</body></html>`.
pub fn tail(out: &mut dyn Write) -> fmt::Result {
    writeln!(out, "<script>{SCRIPT}</script>")?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

#[cfg(test)]
pub fn script() -> &'static str {
    SCRIPT
}
