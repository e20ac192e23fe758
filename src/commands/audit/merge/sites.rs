//! The site files `audit merge` takes: `NAME=PATH`, or a bare `PATH` whose site is the name of
//! its directory, as Ansible's `fetch` lays them out (`sites/<inventory_hostname>/fleetreset.db`).

use std::path::{Path, PathBuf};

use crate::inert::{Inert, needs_escape};
use crate::store::merge::SiteFile;

/// Reads one argument. It is `NAME=PATH` only when it has a `=` and the whole of it is not a
/// file that exists (`exists`), so a file whose name has a `=` in it can still be given bare.
pub fn parse(arg: &str, exists: impl Fn(&Path) -> bool) -> Result<SiteFile, String> {
    if let Some((name, path)) = arg.split_once('=')
        && !exists(Path::new(arg))
    {
        if path.is_empty() {
            return Err(format!("{}: no file after the `=`", Inert(arg)));
        }
        check_name(name).map_err(|why| format!("{}: {why}", Inert(arg)))?;
        return Ok(SiteFile {
            site: name.to_string(),
            path: PathBuf::from(path),
        });
    }
    let path = PathBuf::from(arg);
    let name = path
        .parent()
        .and_then(Path::file_name)
        .ok_or_else(|| {
            format!(
                "{}: its site can't be told from its directory; give it as NAME={}",
                Inert(arg),
                Inert(arg)
            )
        })?
        .to_str()
        .ok_or_else(|| {
            format!(
                "{}: its directory's name is not UTF-8; give it as NAME={}",
                Inert(arg),
                Inert(arg)
            )
        })?
        .to_string();
    check_name(&name).map_err(|why| {
        format!(
            "{}: its directory's name is no site name ({why}); give it as NAME={}",
            Inert(arg),
            Inert(arg)
        )
    })?;
    Ok(SiteFile { site: name, path })
}

/// A site name: not empty or blank, printable (no control or reordering character), no `/`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a site's name can't be empty".into());
    }
    if name.contains('/') {
        return Err(format!("the site name {} has a `/`", Inert(name)));
    }
    if name.chars().any(needs_escape) {
        return Err(format!("the site name {} is not printable", Inert(name)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &Path) -> bool {
        false
    }

    fn site(arg: &str) -> (String, PathBuf) {
        let f = parse(arg, none).unwrap();
        (f.site, f.path)
    }

    #[test]
    fn a_bare_path_is_the_site_of_its_directory() {
        assert_eq!(
            site("sites/site-a/fleetreset.db"),
            ("site-a".into(), "sites/site-a/fleetreset.db".into())
        );
        assert_eq!(
            site("/srv/fetch/oak-house/fleetreset.db"),
            (
                "oak-house".into(),
                "/srv/fetch/oak-house/fleetreset.db".into()
            )
        );
    }

    #[test]
    fn name_equals_path_names_the_site_and_the_path_keeps_any_later_equals_sign() {
        assert_eq!(
            site("oak=backups/oak.db"),
            ("oak".into(), "backups/oak.db".into())
        );
        assert_eq!(site("oak=a=b.db"), ("oak".into(), "a=b.db".into()));
        assert_eq!(site("Küche 2=k.db"), ("Küche 2".into(), "k.db".into()));
    }

    #[test]
    fn an_existing_file_with_an_equals_sign_in_its_name_is_a_bare_path() {
        let f = parse("sites/a=b/x=y.db", |p| p == Path::new("sites/a=b/x=y.db")).unwrap();
        assert_eq!(f.site, "a=b");
        assert_eq!(f.path, Path::new("sites/a=b/x=y.db"));
        // Not existing, the same text is NAME=PATH.
        let f = parse("sites/a=b/x=y.db", none).unwrap_err();
        assert!(f.contains("has a `/`"), "{f}");
    }

    #[test]
    fn a_bare_path_without_a_directory_needs_a_name() {
        for arg in [
            "fleetreset.db",
            "./fleetreset.db",
            "../fleetreset.db",
            "/fleetreset.db",
        ] {
            let err = parse(arg, none).unwrap_err();
            assert!(
                err.contains(&format!("give it as NAME={arg}")),
                "{arg}: {err}"
            );
        }
    }

    #[test]
    fn empty_blank_unprintable_and_slashed_names_are_refused() {
        for (arg, why) in [
            ("=x.db", "can't be empty"),
            ("  =x.db", "can't be empty"),
            ("a/b=x.db", "has a `/`"),
            ("a\u{1b}[2J=x.db", "not printable"),
            ("a\u{202e}b=x.db", "not printable"),
            ("tab\there=x.db", "not printable"),
        ] {
            let err = parse(arg, none).unwrap_err();
            assert!(err.contains(why), "{arg:?}: {err}");
            assert!(!err.contains('\u{1b}'), "{err:?}");
        }
        assert!(parse("oak=", none).unwrap_err().contains("no file after"));
        let err = parse("sites/\u{1b}x/fleetreset.db", none).unwrap_err();
        assert!(err.contains("no site name"), "{err}");
    }
}
