//! Users as CSV, one column set both ways: `:export` writes it and the create-users dialog (rows
//! typed, pasted or loaded from a file) reads it back, so an export edited in a spreadsheet
//! re-imports. Reading and writing go through the `csv` crate; `\r`, `\n` and `\r\n` all end a
//! record, whatever the terminal or the spreadsheet sent.
//!
//! Import is driven by the header when there is one (a first row with an `id` column): columns
//! in any order, optional ones left out, an unknown one an error that lists the known ones.
//! Columns that only describe a user's state (`key_status`, `key_hint`, `status`, `spend`) and
//! the `reason` of a rejected-rows file are accepted and ignored. Rows without a header take the
//! [`INPUT_COLUMNS`] in order.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use mama_api::types::{KeyLimits, LimitField, LimitsChange, NewUser, UserView};

use crate::limits::{self, parse_field, set_field, Typed, CLEAR_WORD};
use crate::popup::parse_info;

/// What a column of the users CSV holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Organization,
    Models,
    Services,
    /// `key=value` pairs separated by `;`.
    Info,
    /// Blank follows the organization, `none` is no limit, `inherit` is blank spelled out.
    Limit(LimitField),
    /// Describes the user's state: exported to be read, ignored on import.
    State,
}

/// The columns a user is created from, in the order rows without a header take them.
pub const INPUT_COLUMNS: [(&str, Column); 11] = [
    ("id", Column::Id),
    ("organization", Column::Organization),
    ("models", Column::Models),
    ("services", Column::Services),
    ("info", Column::Info),
    ("budget", Column::Limit(LimitField::MaxBudget)),
    ("period", Column::Limit(LimitField::BudgetPeriod)),
    ("tpm", Column::Limit(LimitField::TpmLimit)),
    ("rpm", Column::Limit(LimitField::RpmLimit)),
    ("expires", Column::Limit(LimitField::ExpiresAt)),
    ("rotate", Column::Limit(LimitField::RotationEvery)),
];

/// Exported after the input columns; ignored on import.
pub const STATE_COLUMNS: [&str; 4] = ["key_status", "key_hint", "status", "spend"];

/// The column a rejected-rows file adds: why the row was not created. Ignored on import.
pub const REASON: &str = "reason";

/// A header name as a column: the names [`INPUT_COLUMNS`] and [`STATE_COLUMNS`] list, the
/// daemon's limit names (`max_budget`, `rotation_every`, …) and [`REASON`]; case and
/// surrounding spaces do not matter.
pub fn column(name: &str) -> Option<Column> {
    let name = name.trim().to_ascii_lowercase();
    if let Some((_, c)) = INPUT_COLUMNS.iter().find(|(n, _)| *n == name) {
        return Some(*c);
    }
    if let Some(field) = LimitField::parse(&name) {
        return Some(Column::Limit(field));
    }
    match name.as_str() {
        "rotate_every" => Some(Column::Limit(LimitField::RotationEvery)),
        n if n == REASON || STATE_COLUMNS.contains(&n) => Some(Column::State),
        _ => None,
    }
}

fn known_columns() -> String {
    INPUT_COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .chain(STATE_COLUMNS)
        .chain([REASON])
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every header of an export, in order.
pub fn export_header() -> Vec<&'static str> {
    INPUT_COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .chain(STATE_COLUMNS)
        .collect()
}

/// One user as an export row, [`export_header`]'s columns. A limit the user follows from its
/// organization is blank, the user's own "no limit" is `none`, so both come back as they were.
pub fn export_row(user: &UserView) -> Vec<String> {
    let info = user
        .info
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    let mut row = vec![
        user.id.clone(),
        user.organization.clone(),
        user.models.join(";"),
        user.services.join(";"),
        info,
    ];
    row.extend(
        LimitField::ALL
            .into_iter()
            .map(|field| limit_cell(&user.limits, &user.inherited, field)),
    );
    row.extend([
        user.key_status.as_str().to_string(),
        user.key_hint.clone().unwrap_or_default(),
        limits::status_text(user.status).to_string(),
        user.spend.map(|s| format!("{s:.2}")).unwrap_or_default(),
    ]);
    row
}

fn limit_cell(values: &KeyLimits, inherited: &[LimitField], field: LimitField) -> String {
    if inherited.contains(&field) {
        return String::new();
    }
    let text = match field {
        // Full precision: `{:.2}` would turn 0.005 into a different budget.
        LimitField::MaxBudget => values.max_budget.map(|b| b.to_string()),
        LimitField::ExpiresAt => values.expires_at.map(|at| {
            if at.second() == 0 && at.nanosecond() == 0 {
                limits::moment(at)
            } else {
                at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            }
        }),
        field => Some(limits::field_value(values, field)).filter(|v| !v.is_empty()),
    };
    text.unwrap_or_else(|| CLEAR_WORD.to_string())
}

/// Writes CSV records to memory, `\n` after each.
pub struct CsvOut {
    writer: ::csv::Writer<Vec<u8>>,
}

impl Default for CsvOut {
    fn default() -> Self {
        CsvOut {
            writer: ::csv::WriterBuilder::new()
                .terminator(::csv::Terminator::Any(b'\n'))
                .flexible(true)
                .from_writer(Vec::new()),
        }
    }
}

impl CsvOut {
    pub fn record<I, S>(&mut self, fields: I) -> Result<(), ::csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.writer.write_record(fields)
    }

    pub fn into_bytes(self) -> Result<Vec<u8>, ::csv::Error> {
        self.writer
            .into_inner()
            .map_err(|e| ::csv::Error::from(e.into_error()))
    }
}

/// A whole export: the header and one row per user.
pub fn users_csv(users: &[UserView]) -> Result<Vec<u8>, ::csv::Error> {
    let mut out = CsvOut::default();
    out.record(export_header())?;
    for user in users {
        out.record(export_row(user))?;
    }
    out.into_bytes()
}

/// Rows set aside by "create the valid rows", each with its reason in a last [`REASON`]
/// column: fixed, the file imports as it is (the reason is ignored).
pub fn rejected_csv(
    header: &[String],
    rows: &[(Vec<String>, String)],
) -> Result<Vec<u8>, ::csv::Error> {
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !header[i].trim().eq_ignore_ascii_case(REASON))
        .collect();
    let mut out = CsvOut::default();
    out.record(
        keep.iter()
            .map(|&i| header[i].as_str())
            .chain([REASON])
            .collect::<Vec<_>>(),
    )?;
    for (fields, reason) in rows {
        let mut row: Vec<&str> = keep
            .iter()
            .map(|&i| fields.get(i).map_or("", String::as_str))
            .collect();
        // Fields past the header (a row too long) stay, so nothing typed is lost.
        row.extend(fields.iter().skip(header.len()).map(String::as_str));
        row.push(reason);
        out.record(row)?;
    }
    out.into_bytes()
}

/// `\r\n` and lone `\r` as `\n`: what terminals paste and old spreadsheets save.
pub fn unify_line_ends(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A leading `~` or `~/` as the home directory (`home`, normally `$HOME`); anything else, or no
/// home, as typed.
pub fn expand_home(path: &str, home: Option<&OsStr>) -> PathBuf {
    let path = path.trim();
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(home)) => PathBuf::from(home),
        (Some(rest), Some(home)) if rest.starts_with('/') => {
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    }
}

/// What is wrong with the input as a whole (its header), at a 0-based text line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

/// One data row: where it is, what it said, and the user it makes or why it makes none.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    /// 0-based line of the text (after [`unify_line_ends`]) the row starts on.
    pub line: usize,
    pub fields: Vec<String>,
    pub user: Result<NewUser, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedRows {
    /// The header as given, or [`INPUT_COLUMNS`]' names for rows without one.
    pub header: Vec<String>,
    pub rows: Vec<ParsedRow>,
}

impl ParsedRows {
    /// The first row's problem, if any.
    pub fn first_error(&self) -> Option<(usize, &str)> {
        self.rows
            .iter()
            .find_map(|r| r.user.as_ref().err().map(|e| (r.line, e.as_str())))
    }
}

/// Parses users from CSV text (see the module docs). `now` is what `+30d` counts from. Only a
/// bad header fails the whole text; a bad row is a row with an error.
pub fn parse_users(text: &str, now: DateTime<Utc>) -> Result<ParsedRows, CsvError> {
    let text = unify_line_ends(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut parsed = ParsedRows::default();
    let mut columns: Option<Vec<Column>> = None;
    for record in reader.records() {
        let record = record.map_err(|e| CsvError {
            line: e.position().map_or(0, |p| line_at(&text, p.byte())),
            message: e.to_string(),
        })?;
        // The reader's line count skips blank and comment lines: count in the text instead.
        let line = record.position().map_or(0, |p| line_at(&text, p.byte()));
        let fields: Vec<String> = record.iter().map(String::from).collect();
        if fields.iter().all(String::is_empty) || fields[0].starts_with('#') {
            continue;
        }
        let columns = match &columns {
            Some(columns) => columns,
            None if fields.iter().any(|f| f.eq_ignore_ascii_case("id")) => {
                columns = Some(header_columns(&fields, line)?);
                parsed.header = fields;
                continue;
            }
            None => {
                parsed.header = INPUT_COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
                columns.insert(INPUT_COLUMNS.iter().map(|(_, c)| *c).collect())
            }
        };
        let user = parse_user(columns, &parsed.header, &fields, now);
        parsed.rows.push(ParsedRow { line, fields, user });
    }
    Ok(parsed)
}

/// The 0-based line of the record the reader says starts at byte `at`: that is where the blank
/// and comment lines before it start.
fn line_at(text: &str, at: u64) -> usize {
    let at = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    let mut line = text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    let mut rest = &text[at..];
    while rest.starts_with('\n') || rest.starts_with('#') {
        rest = rest.split_once('\n').map_or("", |(_, after)| after);
        line += 1;
    }
    line
}

fn header_columns(names: &[String], line: usize) -> Result<Vec<Column>, CsvError> {
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let Some(c) = column(name) else {
            return Err(CsvError {
                line,
                message: format!(
                    "unknown column {name:?}; known columns: {}",
                    known_columns()
                ),
            });
        };
        if c != Column::State && columns.contains(&c) {
            return Err(CsvError {
                line,
                message: format!("column {name:?} is given twice"),
            });
        }
        columns.push(c);
    }
    Ok(columns)
}

fn parse_user(
    columns: &[Column],
    header: &[String],
    fields: &[String],
    now: DateTime<Utc>,
) -> Result<NewUser, String> {
    if fields.len() > columns.len() {
        return Err(format!(
            "{} fields; at most {} ({})",
            fields.len(),
            columns.len(),
            header.join(",")
        ));
    }
    let mut user = NewUser {
        id: String::new(),
        organization: String::new(),
        models: Vec::new(),
        services: Vec::new(),
        info: Default::default(),
        limits: LimitsChange::default(),
    };
    for (column, text) in columns.iter().zip(fields) {
        match column {
            Column::Id => user.id = text.clone(),
            Column::Organization => user.organization = text.clone(),
            Column::Models => user.models = list(text),
            Column::Services => user.services = list(text),
            Column::Info => user.info = parse_info(&text.replace(';', "\n"))?,
            Column::Limit(field) => limit(&mut user.limits, *field, text, now)?,
            Column::State => {}
        }
    }
    if user.id.is_empty() {
        return Err("the id is empty".into());
    }
    Ok(user)
}

/// Names separated by `;` or spaces.
fn list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// One limit column: blank and `inherit` follow the organization, anything else is the user's
/// own. An expiry may also be RFC 3339, as an export writes one with seconds.
fn limit(
    change: &mut LimitsChange,
    field: LimitField,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    if field == LimitField::ExpiresAt {
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            let at = at.with_timezone(&Utc);
            if at <= now {
                return Err(format!("expires: {} is in the past", limits::moment(at)));
            }
            change.expires_at = mama_api::types::Setting::Set(at);
            return Ok(());
        }
    }
    match parse_field(field, text, now)? {
        Typed::Inherit => {}
        typed => set_field(change, field, typed),
    }
    Ok(())
}

/// Splits one line into fields, `"` quoting with `""` escapes.
pub fn parse_line(line: &str) -> Vec<String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    reader
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(String::from).collect())
        .unwrap_or_else(|| vec![String::new()])
}

/// One CSV line (without the newline); fields with `,`, `"` or line breaks are quoted.
pub fn write_row<S: AsRef<str>>(fields: &[S]) -> String {
    fields
        .iter()
        .map(|f| {
            let f = f.as_ref();
            if f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ') {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_quotes_and_commas() {
        let row = ["김철수", "연구소, 본사", "say \"hi\"", ""];
        let line = write_row(&row);
        assert_eq!(line, "김철수,\"연구소, 본사\",\"say \"\"hi\"\"\",");
        assert_eq!(parse_line(&line), row);
        assert_eq!(parse_line("a,b;c,,d"), ["a", "b;c", "", "d"]);
    }

    #[test]
    fn rejected_rows_keep_their_fields_and_replace_an_old_reason() {
        let header = ["id", "reason", "organization"].map(String::from).to_vec();
        let rows = vec![(
            ["bad id", "old", "Ops"].map(String::from).to_vec(),
            "id: not allowed".to_string(),
        )];
        let text = String::from_utf8(rejected_csv(&header, &rows).unwrap()).unwrap();
        assert_eq!(text, "id,organization,reason\nbad id,Ops,id: not allowed\n");
    }
}
