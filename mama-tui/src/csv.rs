//! Just enough CSV for mama: one record per line, `"` quoting with `""` escapes. Used for pasted
//! user rows, `--csv` imports and `:export`.

/// Splits one line into fields.
pub fn parse_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
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
}
