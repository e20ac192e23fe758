//! `fleetreset check FILE [--action A]`: validate an inventory and list every problem as
//! `FILE:LINE: message`. It is the one validator: `plan` and `run` refuse what it refuses, with
//! the same lines ([`refuse_rows`] for what an action adds).

use std::io::{self, BufWriter, Write};

use crate::cli::CheckArgs;
use crate::exit::{Early, Status};
use crate::inventory::{self, Checked, Inventory, InventoryErrors, LoadError, Tally, rules};
use crate::model::Action;
use crate::output::{despite_closed_pipe, say};

/// Prints the summary of a clean inventory on stdout, or its problems on stderr. A file that
/// can't be read is an error, naming the file.
pub fn run(args: &CheckArgs) -> anyhow::Result<Status> {
    let (file, options) = (&args.inventory.file, args.inventory.read.options());
    // Only the rules of a run need the rows themselves; the file alone is checked without
    // keeping them.
    let result = if args.action.is_some() || args.credentials.is_some() {
        match inventory::load_with(file, &options) {
            Ok(inv) => refused(inv, args)?.map(|inv| checked(&inv)),
            Err(err) => Err(err),
        }
    } else {
        inventory::check_with(file, &options)
    };
    // Buffered: stderr is unbuffered, and a broken file can have a problem on every line.
    let mut stderr = BufWriter::new(io::stderr().lock());
    let (status, printed) = report(result, &mut io::stdout().lock(), &mut stderr)?;
    despite_closed_pipe(status, printed.and_then(|()| stderr.flush()))
}

/// The inventory, or as [`LoadError::Invalid`] what `run` would refuse of it beyond its own
/// rows: what `--action` refuses, and (with `--action` or `--credentials`) profiles the
/// credentials don't have. A credentials file that can't be used is an error, as for `run`.
fn refused(inventory: Inventory, args: &CheckArgs) -> anyhow::Result<Result<Inventory, LoadError>> {
    let mut refused = match args.action {
        Some(action) => rules::refusals(&inventory, action, args.allow_unverified_identity),
        None => Vec::new(),
    };
    // The file alone doesn't say whether its profiles exist where `run` will run; asking
    // about a run (an action, or the credentials it will use) does.
    if args.action.is_some() || args.credentials.is_some() {
        refused.extend(profile_refusals(&inventory, args.credentials.as_deref())?);
    }
    if refused.is_empty() {
        return Ok(Ok(inventory));
    }
    refused.sort_by_key(|e| e.line);
    Ok(Err(LoadError::Invalid(rules::errors(&inventory, refused))))
}

/// The rows naming a credentials profile the credentials (`path`, else the default file and
/// the environment) don't have, as `run` refuses them. The file is read only when a row names
/// a profile.
fn profile_refusals(
    inventory: &Inventory,
    path: Option<&std::path::Path>,
) -> anyhow::Result<Vec<inventory::RowError>> {
    if inventory
        .devices
        .iter()
        .all(|d| d.credentials.as_deref().is_none_or(str::is_empty))
        && path.is_none()
    {
        return Ok(Vec::new());
    }
    let store = super::run::load_credentials(path)?;
    Ok(crate::engine::links::missing_profiles(
        &inventory.devices,
        &store,
    ))
}

/// For `plan`: prints the rows naming a profile the credentials don't have, the lines `check`
/// and `run` print, and refuses (the command exits 2).
pub(crate) fn refuse_profiles(
    inventory: &Inventory,
    path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let refused = profile_refusals(inventory, path)?;
    if refused.is_empty() {
        return Ok(());
    }
    let count = refused.len();
    say!("{}", rules::errors(inventory, refused));
    Err(Early::refused(format!(
        "{count} row(s) of {} name a credentials profile that isn't there; add it to the \
         credentials file or the environment. Nothing was sent.",
        inventory.location()
    ))
    .into())
}

/// For `plan` and `run`: prints what `action` refuses of `inventory`, the lines `check
/// --action` prints, and refuses with what to do (the command exits 2).
pub(crate) fn refuse_rows(
    inventory: &Inventory,
    action: Action,
    allow_unverified: bool,
) -> Result<(), Early> {
    let refused = rules::refusals(inventory, action, allow_unverified);
    if refused.is_empty() {
        return Ok(());
    }
    let count = refused.len();
    say!("{}", rules::errors(inventory, refused));
    Err(Early::refused(format!(
        "a factory reset checks every device's MAC first (a device_id alone is not enough); \
         add the mac column for these {count} device(s), or pass --allow-unverified-identity to \
         wipe whatever answers at their addresses. Nothing was sent."
    )))
}

/// What `check` prints of a clean inventory it kept.
fn checked(inventory: &Inventory) -> Checked {
    Checked {
        path: inventory.path.clone(),
        sheet: inventory.sheet.clone(),
        tally: Tally::of(&inventory.devices),
        warnings: inventory.warnings.clone(),
    }
}

/// The status, and how printing it went.
fn report(
    result: Result<Checked, LoadError>,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> anyhow::Result<(Status, io::Result<()>)> {
    match result {
        Ok(inventory) => Ok((
            Status::Success,
            inventory
                .warning_lines()
                .try_for_each(|w| writeln!(stderr, "{w}"))
                .and_then(|()| writeln!(stdout, "{}", summary(&inventory))),
        )),
        Err(LoadError::Invalid(errors)) => Ok((
            Status::BadInput,
            writeln!(stderr, "{errors}")
                .and_then(|()| writeln!(stderr, "{}", problem_count(&errors))),
        )),
        Err(err) => Err(err.into()),
    }
}

/// `FILE: ok, 12 devices (3 sites, 2 powered via another device)`.
fn summary(checked: &Checked) -> String {
    let tally = &checked.tally;
    format!(
        "{}: ok, {} ({}, {} powered via another device)",
        checked.location(),
        counted(tally.devices, "device"),
        counted(tally.sites, "site"),
        tally.powered,
    )
}

/// `FILE: 3 problems`.
fn problem_count(errors: &InventoryErrors) -> String {
    format!(
        "{}: {}",
        errors.location(),
        counted(errors.errors.len(), "problem")
    )
}

fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn check(text: &str) -> (Status, String, String) {
        let result = inventory::parse(Path::new("inv/x.csv"), text.as_bytes())
            .map(|inv| checked(&inv))
            .map_err(LoadError::Invalid);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (status, printed) = report(result, &mut out, &mut err).unwrap();
        printed.unwrap();
        (
            status,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn a_clean_inventory_prints_a_summary_on_stdout() {
        let text = "id,host,site,power_via\nstrip,10.0.0.1,a,\nlamp,10.0.0.2,b,strip#1\nfan,10.0.0.3,a,strip#2\n";
        assert_eq!(
            check(text),
            (
                Status::Success,
                "inv/x.csv: ok, 3 devices (2 sites, 2 powered via another device)\n".to_string(),
                String::new()
            )
        );
    }

    #[test]
    fn counts_of_one_are_singular() {
        assert_eq!(
            check("id,host,site\nplug,10.0.0.1,a\n").1,
            "inv/x.csv: ok, 1 device (1 site, 0 powered via another device)\n"
        );
    }

    #[test]
    fn problems_go_to_stderr_followed_by_their_count() {
        assert_eq!(
            check("id,host\n,10.0.0.1\nb,\n"),
            (
                Status::BadInput,
                String::new(),
                "inv/x.csv:2: empty id\ninv/x.csv:3: empty host\ninv/x.csv: 2 problems\n"
                    .to_string()
            )
        );
        assert_eq!(
            check("id,host\n,10.0.0.1\n").2,
            "inv/x.csv:2: empty id\ninv/x.csv: 1 problem\n"
        );
    }

    fn args(action: Option<Action>, allow_unverified_identity: bool) -> CheckArgs {
        CheckArgs {
            inventory: crate::cli::InventoryArgs {
                file: "inv/x.csv".into(),
                read: Default::default(),
            },
            action,
            allow_unverified_identity,
            credentials: None,
        }
    }

    #[test]
    fn an_action_adds_its_refusals_in_the_same_form() {
        let text = "id,host,mac\na,10.0.0.1,50:C7:BF:00:00:01\nb,10.0.0.2,\n";
        let inv = inventory::parse(Path::new("inv/x.csv"), text.as_bytes()).unwrap();
        let reset = Some(Action::FactoryReset);
        let result = refused(inv.clone(), &args(reset, false))
            .unwrap()
            .map(|inv| checked(&inv));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (status, _) = report(result, &mut out, &mut err).unwrap();
        assert_eq!(status, Status::BadInput);
        assert_eq!(
            String::from_utf8(err).unwrap(),
            format!("inv/x.csv:3: b: {}\ninv/x.csv: 1 problem\n", rules::NO_MAC)
        );
        assert!(refused(inv.clone(), &args(reset, true)).unwrap().is_ok());
        let power_cycle = Some(Action::PowerCycle);
        assert!(
            refused(inv.clone(), &args(power_cycle, false))
                .unwrap()
                .is_ok()
        );
        assert!(refused(inv, &args(None, false)).unwrap().is_ok());
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let result = inventory::check_with(Path::new("no/such/inventory.csv"), &Default::default());
        let err = report(result, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read inventory no/such/inventory.csv"
        );
        assert!(format!("{err:#}").starts_with("cannot read inventory no/such/inventory.csv: "));
    }
}
