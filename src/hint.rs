//! The commands our messages suggest, built so they work as printed: every option that decides
//! what the suggested command acts on is in it (the database always, the reports directory,
//! credentials file and rediscovery target when the run was given them), and every word is
//! quoted for a POSIX shell, so a path with spaces is one argument when pasted.
//!
//! Paths are as the run was given them: relative ones work from the directory it ran in.

use std::path::Path;

use crate::inert::inert;

/// What `fleetreset resume` needs to continue a run as it was started.
#[derive(Debug, Clone, Copy)]
pub struct Resume<'a> {
    pub run_id: &'a str,
    /// The audit database, always named: the default one is the one in the current directory,
    /// which may not be where the run's is.
    pub db: &'a Path,
    /// The reports directory, named unless it is the default.
    pub reports_dir: Option<&'a Path>,
    /// The credentials file the run was given, if any.
    pub credentials: Option<&'a Path>,
    /// The `--rediscover` target the run was given, if any.
    pub rediscover: Option<&'a str>,
}

impl Resume<'_> {
    /// `fleetreset resume RUN --db DB [--reports-dir DIR] [--credentials FILE] [--rediscover T]`.
    pub fn command(&self) -> String {
        let mut words = vec![
            "fleetreset".to_owned(),
            "resume".to_owned(),
            shell_word(self.run_id),
            "--db".to_owned(),
            shell_word(&self.db.to_string_lossy()),
        ];
        if let Some(dir) = self
            .reports_dir
            .filter(|d| *d != Path::new(crate::report::DEFAULT_DIR))
        {
            words.push("--reports-dir".to_owned());
            words.push(shell_word(&dir.to_string_lossy()));
        }
        if let Some(file) = self.credentials {
            words.push("--credentials".to_owned());
            words.push(shell_word(&file.to_string_lossy()));
        }
        if let Some(target) = self.rediscover {
            words.push("--rediscover".to_owned());
            words.push(shell_word(target));
        }
        words.join(" ")
    }
}

/// `s` as one word for a POSIX shell: as it is if it is made of characters no shell treats
/// specially, else single-quoted. Inert either way, so a hint is always one line.
pub fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_owned();
    }
    format!("'{}'", inert(s).replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint<'a>(db: &'a str, reports: Option<&'a str>) -> Resume<'a> {
        Resume {
            run_id: "20261201T140307Z-3f2a",
            db: Path::new(db),
            reports_dir: reports.map(Path::new),
            credentials: None,
            rediscover: None,
        }
    }

    #[test]
    fn the_database_is_always_named_and_the_default_reports_directory_never() {
        assert_eq!(
            hint("fleetreset.db", Some(crate::report::DEFAULT_DIR)).command(),
            "fleetreset resume 20261201T140307Z-3f2a --db fleetreset.db"
        );
    }

    #[test]
    fn paths_with_spaces_and_quotes_are_single_quoted_for_the_shell() {
        let r = Resume {
            credentials: Some(Path::new("/home/o'neil/creds.toml")),
            rediscover: Some("10.0.0.0/24"),
            ..hint("audit dir/fleet.db", Some("my reports"))
        };
        assert_eq!(
            r.command(),
            "fleetreset resume 20261201T140307Z-3f2a --db 'audit dir/fleet.db' \
             --reports-dir 'my reports' --credentials '/home/o'\\''neil/creds.toml' \
             --rediscover 10.0.0.0/24"
        );
    }

    #[test]
    fn a_word_with_control_characters_stays_on_one_line() {
        let w = shell_word("a\nb");
        assert!(!w.contains('\n'), "{w}");
        assert!(w.starts_with('\'') && w.ends_with('\''), "{w}");
    }
}
