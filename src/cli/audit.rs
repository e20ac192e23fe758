//! The arguments of the commands that read and prove the audit: `audit verify`, `audit
//! sample`, `audit merge`, `certificates`, `keygen` and `history`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute runs' hash chains from the database and name the first record edited,
    /// removed, reordered or inserted since it was written.
    Verify(AuditVerifyArgs),
    /// Draw a random share of a factory-reset run's sanitized devices and look at each again
    /// (reads only), for a verifier other than the run's operator; recorded in the audit.
    Sample(AuditSampleArgs),
    /// Merge sites' audit databases into one, keyed by site: each site file's chains are
    /// verified first, and a file that fails or conflicts is refused whole.
    Merge(AuditMergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct AuditMergeArgs {
    /// The merged database, created if missing.
    #[arg(value_name = "OUT.db")]
    pub out: PathBuf,
    /// The site databases, each `NAME=PATH` or a bare PATH, whose site is its directory's name
    /// (`sites/site-a/fleetreset.db` is site `site-a`).
    #[arg(value_name = "SITE.db", required = true)]
    pub sites: Vec<String>,
    /// A public key (`.pub`, from `fleetreset keygen`): each site file's signed checkpoints
    /// must verify with it, and every run must have one it signed.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct AuditVerifyArgs {
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// One run: its id, a unique prefix of it, or `latest` (default: every run).
    #[arg(long)]
    pub run: Option<String>,
    /// A head kept elsewhere (`RECORDS:HASH`, as reports and certificates print it): it must
    /// be in the chain, so a chain cut short or rewritten is caught. Needs --run.
    #[arg(long, value_name = "HEAD")]
    pub expect: Option<String>,
    /// A public key (`.pub`, from `fleetreset keygen`): every signed checkpoint must verify
    /// with it, and at least one must be signed.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// Print the verdicts as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("signing").required(true).args(["signing_key", "unsigned"])))]
pub struct CertificatesArgs {
    /// The run: its id, a unique prefix of it, or `latest`.
    pub run: String,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// Where to write them (default: reports/RUN_ID/); they go into its `certificates/`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sign every JSON file with this minisign secret key (`<file>.json.minisig` beside it).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
    /// Write the certificates without signatures; each says `unsigned`.
    #[arg(long)]
    pub unsigned: bool,
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (owner-only); the public key goes beside it as `.pub`.
    /// Default: $FLEETRESET_SIGNING_KEY, else $XDG_CONFIG_HOME/fleetreset/signing.key, else
    /// ~/.config/fleetreset/signing.key.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace a key pair already there (signatures it made will no longer check against the new
    /// public key).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct AuditSampleArgs {
    /// The run: its id, a unique prefix of it, or `latest`.
    pub run: String,
    /// The share of the sanitized devices to check, more than 0 and at most 100 (`5` or `5%`);
    /// at least one device is checked.
    #[arg(long, value_name = "P", value_parser = crate::audit_sample::parse_percent)]
    pub percent: f64,
    /// Who checks: someone other than the run's operator.
    #[arg(long, value_name = "NAME")]
    pub verifier: String,
    /// Draw with this seed (the same seed draws the same devices); default: a random one,
    /// recorded in the audit.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// The minisign secret key (`fleetreset keygen`) that signs the chain head and
    /// certificates (default: $FLEETRESET_SIGNING_KEY, else keygen's default key when it
    /// exists; with neither they are written unsigned).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
    /// The credentials file the inventory's profiles come from, for looking at devices that log in.
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The device: a job's inventory id, or its MAC (any case, with `:`, `-` or no separators).
    pub device: String,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// Print the jobs as a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
}
