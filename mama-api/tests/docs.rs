//! `docs/admin-rpc.md` against the method declarations: its generated table is exactly what the
//! declarations say, and every declared method has its own row in a section below.
//! `MAMA_UPDATE_DOCS=1` rewrites the table instead of failing.

use std::path::PathBuf;

use mama_api::rpc::methods;
use mama_api::types::EventKind;

const BEGIN: &str = "<!-- methods:begin (generated from mama-api/src/rpc/methods.rs) -->";
const END: &str = "<!-- methods:end -->";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/admin-rpc.md")
}

fn generated_table() -> String {
    let mut out = String::from(
        "| method | who may call | event | params | result | what it does |\n|---|---|---|---|---|---|\n",
    );
    for m in methods() {
        let kind = match m.kind {
            EventKind::View => "view",
            EventKind::Change => "change",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` | `{}` | {} |\n",
            m.name,
            m.caller.as_str(),
            kind,
            m.params,
            m.output,
            m.summary
        ));
    }
    out
}

#[test]
fn the_method_table_is_generated_from_the_declarations() {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).expect("docs/admin-rpc.md");
    let start = doc.find(BEGIN).expect("the begin marker") + BEGIN.len();
    let end = doc.find(END).expect("the end marker");
    let wanted = format!("\n{}", generated_table());
    if doc[start..end] == wanted {
        return;
    }
    if std::env::var_os("MAMA_UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], wanted, &doc[end..]);
        std::fs::write(&path, updated).expect("write docs/admin-rpc.md");
        return;
    }
    panic!(
        "docs/admin-rpc.md's method table differs from mama-api's declarations; \
         regenerate it with MAMA_UPDATE_DOCS=1 cargo test -p mama-api --test docs"
    );
}

#[test]
fn every_declared_method_is_described_and_nothing_else() {
    let doc = std::fs::read_to_string(doc_path()).expect("docs/admin-rpc.md");
    let end = doc.find(END).expect("the end marker") + END.len();
    // Rows of the hand-written method tables: those under a `| method |` header.
    let mut described: Vec<&str> = Vec::new();
    let mut in_method_table = false;
    for line in doc[end..].lines() {
        if line.starts_with("| method |") {
            in_method_table = true;
        } else if !line.starts_with('|') {
            in_method_table = false;
        } else if in_method_table {
            if let Some((name, _)) = line.strip_prefix("| `").and_then(|r| r.split_once("` |")) {
                described.push(name);
            }
        }
    }
    for m in methods() {
        assert!(
            described.contains(&m.name),
            "{} is declared but has no row in docs/admin-rpc.md",
            m.name
        );
    }
    for name in described {
        assert!(
            mama_api::rpc::is_method(name),
            "docs/admin-rpc.md describes {name}, which is not declared"
        );
    }
}
