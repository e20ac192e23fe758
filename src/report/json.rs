//! `run.json`: everything the audit holds about the run, plus its counts, for scripts.
//!
//! Device text (an `err_msg`, an alias) is untrusted, and people `cat` this file too. JSON
//! itself requires only the C0 controls to be escaped, which is all serde_json does, so a C1
//! control (U+009B is a one-byte CSI some terminals obey) or a bidirectional override would
//! reach the terminal raw. [`InertStrings`] writes every character [`crate::inert`] escapes as
//! a JSON `\uXXXX` escape instead: the file parses back to the same strings, but holds none of
//! those characters itself.

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;

use serde::Serialize;
use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};
use serde_json::ser::{Formatter, PrettyFormatter};

use super::source::{Source, Step};
use super::summary::Summary;
use crate::inert::needs_escape;
use crate::store::{Confirmed, JobFilter, JobRow};

/// `{"run": …, "jobs": […], "snapshots": […], "events": […], "summary": {…},
/// "confirmations": […], "chain_head": …}`; `confirmations` holds the technicians'
/// confirmations (`fleetreset confirm`) read from their events, `chain_head` the run's audit
/// chain head when the report was written (`RECORDS:HASH`), or null. The arrays are written
/// as they are read, one element at a time.
struct Document<'a> {
    src: Source<'a>,
    summary: Summary,
    chain_head: Option<String>,
    /// Why reading the run failed halfway, for [`write`] to return as it is.
    failed: RefCell<Option<anyhow::Error>>,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let src = self.src;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("run", src.run())?;
        match src {
            // A record in memory is written as it is held, in its own order.
            Source::Record(r) => map.serialize_entry("jobs", &r.jobs)?,
            Source::Db(r) => map.serialize_entry(
                "jobs",
                &self.seq(|f: &mut dyn FnMut(&JobRow) -> Step| r.jobs(JobFilter::All, |j| f(&j))),
            )?,
        }
        map.serialize_entry("snapshots", &self.seq(|f| src.snapshots(f)))?;
        map.serialize_entry("events", &self.seq(|f| src.events(f)))?;
        map.serialize_entry("summary", &self.summary)?;
        map.serialize_entry(
            "confirmations",
            &self.seq(|f: &mut dyn FnMut(&Confirmed) -> Step| src.confirmations(|c, _| f(c))),
        )?;
        map.serialize_entry("chain_head", &self.chain_head)?;
        map.end()
    }
}

impl Document<'_> {
    fn seq<T, F>(&self, each: F) -> Seq<'_, T, F>
    where
        F: Fn(&mut dyn FnMut(&T) -> Step) -> Step,
    {
        Seq {
            failed: &self.failed,
            each,
            item: PhantomData,
        }
    }
}

/// A JSON array of what `each` hands over, written as it comes.
struct Seq<'d, T, F> {
    failed: &'d RefCell<Option<anyhow::Error>>,
    each: F,
    item: PhantomData<fn(&T)>,
}

impl<T, F> Serialize for Seq<'_, T, F>
where
    T: Serialize,
    F: Fn(&mut dyn FnMut(&T) -> Step) -> Step,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut write_error: Option<S::Error> = None;
        let read = (self.each)(&mut |item: &T| {
            seq.serialize_element(item).map_err(|e| {
                write_error = Some(e);
                anyhow::anyhow!("writing run.json failed")
            })
        });
        if let Some(e) = write_error {
            return Err(e);
        }
        if let Err(e) = read {
            let text = format!("{e:#}");
            *self.failed.borrow_mut() = Some(e);
            return Err(S::Error::custom(text));
        }
        seq.end()
    }
}

/// Pretty-printed, ending with a newline, with no raw control or reordering character.
#[cfg(test)]
pub fn render(
    record: &crate::store::RunRecord,
    head: Option<&crate::store::ChainHead>,
) -> serde_json::Result<String> {
    let mut bytes = Vec::new();
    let doc = document(Source::Record(record), head).expect("a record in memory has its counts");
    to_writer_inert(&mut bytes, &doc)?;
    // The serializer writes only UTF-8, and the escapes are ASCII.
    Ok(String::from_utf8(bytes).expect("serde_json writes UTF-8"))
}

/// [`render`], streamed from `src` to `out`.
pub fn write(
    out: impl io::Write,
    src: Source<'_>,
    head: Option<&crate::store::ChainHead>,
) -> anyhow::Result<()> {
    let doc = document(src, head)?;
    to_writer_inert(out, &doc).map_err(|e| match doc.failed.take() {
        Some(read) => read,
        None => e.into(),
    })
}

fn document<'a>(
    src: Source<'a>,
    head: Option<&crate::store::ChainHead>,
) -> anyhow::Result<Document<'a>> {
    Ok(Document {
        src,
        summary: src.summary()?,
        chain_head: head.map(ToString::to_string),
        failed: RefCell::new(None),
    })
}

/// Any value as pretty JSON ending with a newline, every string inert as in `run.json`: what
/// the commands print with `--json`.
pub fn to_string_inert(value: &impl Serialize) -> serde_json::Result<String> {
    let mut bytes = Vec::new();
    to_writer_inert(&mut bytes, value)?;
    // The serializer writes only UTF-8, and the escapes are ASCII.
    Ok(String::from_utf8(bytes).expect("serde_json writes UTF-8"))
}

/// [`to_string_inert`], written to `writer` as it goes: for output too large to hold (the
/// plan of a million rows).
pub fn to_writer_inert(
    mut writer: impl io::Write,
    value: &impl Serialize,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut writer, InertStrings::default());
    value.serialize(&mut ser)?;
    writer.write_all(b"\n").map_err(serde_json::Error::io)
}

/// serde_json's pretty layout, with every character [`needs_escape`] is true for written as a
/// `\uXXXX` escape. serde_json escapes the C0 controls, `"` and `\\` itself (through
/// [`Formatter::write_char_escape`]) and hands everything else over as fragments, keys
/// included, so the fragments are where DEL, the C1 controls and the format characters are.
#[derive(Default)]
struct InertStrings(PrettyFormatter<'static>);

impl InertStrings {
    /// `\u009b`; a character above U+FFFF as its UTF-16 surrogate pair, as JSON spells those
    /// (none of the characters escaped today is one, but the escape must stay valid JSON).
    fn write_escaped<W: ?Sized + io::Write>(writer: &mut W, c: char) -> io::Result<()> {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            write!(writer, "\\u{unit:04x}")?;
        }
        Ok(())
    }
}

impl Formatter for InertStrings {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            Self::write_escaped(writer, c)?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    // The layout, as serde_json's pretty printer does it.

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::report::fixture;
    use crate::store::RunRecord;

    /// The document as it was built whole before it was streamed: the streamed one must stay
    /// the same bytes.
    #[derive(Serialize)]
    struct RunJson<'a> {
        #[serde(flatten)]
        record: &'a RunRecord,
        summary: Summary,
        confirmations: Vec<crate::store::Confirmed>,
        chain_head: Option<String>,
    }

    fn parsed() -> Value {
        serde_json::from_str(&render(&fixture::record(), None).unwrap()).unwrap()
    }

    #[test]
    fn the_record_is_all_there_next_to_its_summary() {
        let value = parsed();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "chain_head",
                "confirmations",
                "events",
                "jobs",
                "run",
                "snapshots",
                "summary"
            ]
        );
        assert_eq!(value["run"]["id"], fixture::RUN_ID);
        assert_eq!(value["run"]["action"], "power-cycle");
        assert_eq!(value["run"]["status"], "stopped");
        assert_eq!(value["run"]["started_at"], "2026-11-21T05:47:08.123Z");
        assert_eq!(value["jobs"].as_array().unwrap().len(), 4);
        assert_eq!(value["jobs"][1]["reason"], "not_verified");
        assert_eq!(value["snapshots"][0]["phase"], "pre");
        assert_eq!(
            value["snapshots"][0]["data"]["sysinfo"]["alias"],
            "=HYPERLINK(\"x\")"
        );
        assert_eq!(value["events"][1]["state"], "probing");
        // Nothing lost on the way: the record part parses back to the record.
        let mut back = value.clone();
        back.as_object_mut().unwrap().remove("summary");
        back.as_object_mut().unwrap().remove("confirmations");
        back.as_object_mut().unwrap().remove("chain_head");
        assert_eq!(back, serde_json::to_value(fixture::record()).unwrap());
    }

    #[test]
    fn the_summary_counts_every_outcome_and_reason_and_each_site() {
        let value = parsed();
        assert_eq!(value["summary"]["jobs"], 4);
        assert_eq!(
            value["summary"]["by_outcome"],
            json!({
                "succeeded": 1,
                "failed": 1,
                "manual_required": 1,
                "manual_confirmed": 0,
                "skipped": 1,
                "unfinished": 0
            })
        );
        let reasons = value["summary"]["by_reason"].as_object().unwrap();
        assert_eq!(reasons.len(), crate::model::Reason::ALL.len());
        assert_eq!(reasons["not_verified"], 1);
        assert_eq!(reasons["threshold_reached"], 1);
        assert_eq!(reasons["unreachable"], 0);
        let sites = value["summary"]["by_site"].as_object().unwrap();
        let names: Vec<&str> = sites.keys().map(String::as_str).collect();
        assert_eq!(names, ["", "north|south", "site-a"]);
        assert_eq!(sites["site-a"]["succeeded"], 1);
        assert_eq!(sites["site-a"]["manual_required"], 1);
        assert_eq!(sites["north|south"]["failed"], 1);
        assert_eq!(sites[""]["skipped"], 1);
    }

    #[test]
    fn c1_controls_and_reordering_characters_in_device_text_are_escaped_and_read_back_the_same() {
        let mut record = fixture::record();
        let hostile = "err\u{9b}31m \u{202e}gnp.exe\u{2028}next\u{1b}[2J\u{7f}\u{ad}";
        record.jobs[1].detail = Some(hostile.to_string());
        record.snapshots[0].data["sysinfo"]["alias"] = json!(hostile);
        // A key is a string too.
        record.snapshots[0].data["sysinfo"][hostile] = json!(1);
        let text = render(&record, None).unwrap();
        let raw: Vec<char> = text
            .chars()
            .filter(|&c| c != '\n' && needs_escape(c))
            .collect();
        assert!(raw.is_empty(), "{raw:?} in {text}");
        assert!(
            text.contains("err\\u009b31m \\u202egnp.exe\\u2028next\\u001b[2J\\u007f\\u00ad"),
            "{text}"
        );
        let value: Value = serde_json::from_slice(text.as_bytes()).unwrap();
        assert_eq!(value["jobs"][1]["detail"], hostile);
        assert_eq!(value["snapshots"][0]["data"]["sysinfo"]["alias"], hostile);
        assert_eq!(value["snapshots"][0]["data"]["sysinfo"][hostile], 1);
        // Clean text is written as serde_json writes it.
        let clean = fixture::record();
        assert_eq!(
            render(&clean, None).unwrap(),
            serde_json::to_string_pretty(&RunJson {
                record: &clean,
                summary: Summary::of(&clean),
                confirmations: clean.confirmations(),
                chain_head: None,
            })
            .unwrap()
                + "\n"
        );
    }

    #[test]
    fn a_character_above_u_ffff_would_be_escaped_as_its_surrogate_pair() {
        let mut out = Vec::new();
        InertStrings::write_escaped(&mut out, '\u{1d11e}').unwrap();
        assert_eq!(out, b"\\ud834\\udd1e");
        let back: String =
            serde_json::from_slice(&[b"\"", out.as_slice(), b"\""].concat()).unwrap();
        assert_eq!(back, "\u{1d11e}");
    }

    #[test]
    fn the_file_is_pretty_printed_and_ends_with_a_newline() {
        let text = render(&fixture::record(), None).unwrap();
        assert!(text.starts_with("{\n  \"run\": {\n    \"id\": "), "{text}");
        assert!(text.ends_with("}\n"));
    }
}
