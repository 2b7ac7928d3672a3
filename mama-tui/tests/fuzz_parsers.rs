//! Property-based fuzzing of every parser of operator input in the TUI: the filter language of
//! users and events, pasted rows of "create users" and CSV lines. Whatever is typed or pasted,
//! the parser answers (a value or an error message) and never panics.

use mama_tui::{csv, event_filter, filter, update::create};
use proptest::prelude::*;

/// Text biased towards what the parsers look for: separators, quotes, keys and Hangul.
fn operator_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>().prop_map(|c| c.to_string()),
            Just(",".to_string()),
            Just(";".to_string()),
            Just("\"".to_string()),
            Just("\r\n".to_string()),
            Just("\r".to_string()),
            Just("\n".to_string()),
            Just(":".to_string()),
            Just("status:".to_string()),
            Just("model:".to_string()),
            Just("since:".to_string()),
            Just("until:-".to_string()),
            Just("김철수".to_string()),
            Just(" ".to_string()),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_user_filter_never_panics(text in operator_text()) {
        let _ = filter::parse(&text);
    }

    #[test]
    fn the_event_filter_never_panics(text in operator_text()) {
        let _ = event_filter::parse(&text, chrono::Utc::now());
    }

    #[test]
    fn pasted_rows_never_panic(text in operator_text()) {
        // Either rows, or the line and reason of the first bad one (a line that exists).
        if let Err((line, reason)) = create::parse_rows(&text, chrono::Utc::now()) {
            prop_assert!(!reason.is_empty());
            prop_assert!(line <= text.split(['\n', '\r']).count() + 1);
        }
    }

    #[test]
    fn csv_lines_never_panic(text in operator_text()) {
        let _ = csv::parse_line(&text);
    }
}
