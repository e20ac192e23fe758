//! The certificate of sanitization and the run's bundle, as data: what `json`, `markdown` and
//! `html` render. Field names are the JSON keys (`fleetreset-certificate/1`); they never change
//! once shipped. Built from a run's record by `build` and `bundle`.

use serde::Serialize;
use serde_json::Value;

/// The `format` of one device's certificate.
pub const FORMAT: &str = "fleetreset-certificate/1";
/// The `format` of a run's bundle.
pub const BUNDLE_FORMAT: &str = "fleetreset-certificate-bundle/1";

/// Who will sign the JSON files: the key's id and where its public key is, printed on every
/// certificate so a reader knows what to check the `.minisig` against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerInfo {
    pub key_id: String,
    pub public_key_file: String,
}

/// One sanitized device's certificate (NIST SP 800-88's fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Certificate {
    pub format: &'static str,
    /// `<run id>-<inventory position from 1>` ([`super::id`]).
    pub id: String,
    pub run_id: String,
    pub device: DeviceFields,
    /// What was sanitized: the device's own flash memory.
    pub media_type: String,
    pub sanitization: Sanitization,
    /// The tool that did the reset, as the run recorded it.
    pub tool: Tool,
    /// The tool that wrote this certificate.
    pub issued_by: Tool,
    pub times: Times,
    /// Who ran the run.
    pub operator: String,
    pub verification: Verification,
    pub verifier: Verifier,
    /// The technician's confirmation, for a device reset by hand.
    pub technician: Option<TechnicianConfirmation>,
    pub chain: Chain,
    pub signature: Signature,
}

/// The device, as the inventory names it and as it described itself before the reset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceFields {
    pub manufacturer: &'static str,
    /// `Kasa` or `Tapo`; `None` for a model the catalog doesn't know.
    pub brand: Option<&'static str>,
    /// The catalog's kind of device (`plug`, `bulb`, `camera`, …).
    pub family: String,
    /// The model the inventory gives.
    pub model: Option<String>,
    /// The model the device reported before the reset.
    pub reported_model: Option<String>,
    /// Set when the two differ, in words.
    pub model_note: Option<String>,
    /// Hardware identifiers the device reported before the reset (`deviceId`, `hwId`, `oemId`,
    /// `hw_ver`), in that order, those it gave.
    pub hardware_ids: Vec<Identifier>,
    /// The MAC the inventory gives.
    pub mac: Option<String>,
    /// The MAC the device reported before the reset.
    pub reported_mac: Option<String>,
    /// The user's asset id: the inventory's `id`.
    pub asset_id: String,
    pub host: String,
    pub site: Option<String>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identifier {
    pub name: String,
    pub value: String,
}

/// What was done. The category is always `Clear`: a vendor's factory reset is a logical
/// technique whose reach is the firmware's, not something this tool can extend to `Purge`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sanitization {
    pub category: &'static str,
    pub technique: &'static str,
    /// `remote` or `manual`.
    pub method: &'static str,
    /// The method in words: the command and its protocol, or the technician's button reset.
    pub method_used: String,
    /// The protocol of a remote command, as the run's `link` event recorded it.
    pub protocol: Option<String>,
    /// The one-line summary: `Clear, vendor-implemented, post-checked`.
    pub summary: &'static str,
    /// What the category does and does not claim.
    pub limits: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: String,
}

/// A time in UTC (RFC 3339, as stored) and on the operator's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct When {
    pub utc: String,
    pub local: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Times {
    pub started: Option<When>,
    pub finished: Option<When>,
}

/// What the tool checked that the reset took place (verification), and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The checks, in words.
    pub method: String,
    /// `passed`: the job's outcome is `succeeded` or `manual_confirmed`.
    pub result: &'static str,
    /// The job's own verdict, as recorded.
    pub detail: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// One recorded fact the verification rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The event or snapshot it comes from (`ack`, `left_network`, `post_snapshot`, …).
    pub kind: String,
    pub at: When,
    pub what: String,
}

/// Who independently checked the outcome (validation), when anyone did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verifier {
    /// The sample's verifier, when this device was drawn and checked.
    pub name: Option<String>,
    /// The sample's result for this device (`passed`, `failed`, `unreachable`).
    pub result: Option<String>,
    pub at: Option<When>,
    pub evidence: Option<String>,
    /// In words: who, or `not independently verified`.
    pub statement: String,
}

/// A technician's confirmation of a button reset (`fleetreset confirm`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechnicianConfirmation {
    pub by: String,
    /// When the technician says the work was done (free text, as written).
    pub said_at: Option<String>,
    pub note: Option<String>,
    /// Who recorded the confirmation.
    pub recorded_by: String,
    pub recorded_at: When,
    /// `command line` or the returned checklist's `FILE:LINE`.
    pub source: String,
    /// What was seen of the device afterwards, in words.
    pub seen: String,
}

/// The audit chain the certificate rests on: `fleetreset audit verify --expect HEAD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub run_id: String,
    /// `<records>:<hash>`.
    pub head: String,
    pub records: u64,
    pub hash: String,
}

/// Where the signature is, or that there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub signed: bool,
    pub key_id: Option<String>,
    pub public_key_file: Option<String>,
    /// The detached minisign signature beside the JSON file (`<file>.json.minisig`).
    pub file: Option<String>,
    /// `signature: <file>` or `unsigned`.
    pub statement: String,
}

/// Everything about one run's certificates.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub run: RunSummary,
    /// Whether the run could sanitize anything at all (a factory reset).
    pub sanitizes: bool,
    /// The bundle's verdict in words.
    pub statement: String,
    /// In inventory order.
    pub certificates: Vec<Certificate>,
    /// In inventory order.
    pub not_sanitized: Vec<NotSanitized>,
    pub sample: Option<SampleSummary>,
    pub chain: Chain,
    pub signature: Signature,
    pub issued_by: Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub action: &'static str,
    pub status: &'static str,
    pub operator: String,
    pub tool: Tool,
    pub inventory_path: String,
    pub inventory_sha256: String,
    pub started: When,
    pub finished: Option<When>,
    pub jobs: u32,
}

/// A device of the run that has no certificate, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotSanitized {
    pub asset_id: String,
    pub model: Option<String>,
    pub mac: Option<String>,
    pub host: String,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub method: &'static str,
    /// The job's outcome, or `none` for a job that never got one.
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub detail: Option<String>,
    /// Why there is no certificate, in words.
    pub why: String,
}

/// The verifier's sample of the run (`fleetreset audit sample`), as its events hold it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSummary {
    pub verifier: String,
    /// Who ran `audit sample`.
    pub operator: String,
    pub percent: Value,
    pub seed: String,
    pub population: Value,
    pub size: Value,
    pub devices: Vec<String>,
    pub draw: Value,
    pub drawn_at: When,
    pub checks: Vec<SampleCheck>,
    /// `passed`, `failed`, `inconclusive`; `None` while the sample is not finished.
    pub result: Option<String>,
    pub finished_at: Option<When>,
    /// Whether the verifier is another person than the run's operator.
    pub independent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleCheck {
    pub asset_id: String,
    pub result: String,
    pub address: Option<String>,
    pub evidence: Option<String>,
    pub post: Value,
    pub at: When,
}
