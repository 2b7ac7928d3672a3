//! Allowed models and services are sets. They are kept sorted and de-duplicated so that the JSON
//! stored on the user row is canonical: equal sets are equal strings, which makes "did this change"
//! a string comparison and sorting by the column meaningful.

use std::collections::BTreeSet;

use crate::api::types::SetOp;

/// A canonical set of names (models or services).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameSet(BTreeSet<String>);

impl NameSet {
    pub fn new<I: IntoIterator<Item = String>>(names: I) -> Self {
        NameSet(names.into_iter().collect())
    }

    /// Parses the canonical JSON array stored in the database. A corrupt value is an error, not
    /// an empty set: an empty set would silently strip a user's access.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<Vec<String>>(json).map(NameSet::new)
    }

    pub fn to_json(&self) -> String {
        // A Vec<&String> always serializes.
        serde_json::to_string(&self.0.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }

    /// The set after applying `op` with `values`.
    pub fn apply(&self, op: SetOp, values: &NameSet) -> NameSet {
        match op {
            SetOp::Replace => values.clone(),
            SetOp::Add => NameSet(self.0.union(&values.0).cloned().collect()),
            SetOp::Remove => NameSet(self.0.difference(&values.0).cloned().collect()),
        }
    }

    /// Members of `self` not in `other`.
    pub fn minus(&self, other: &NameSet) -> NameSet {
        NameSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn extend(&mut self, other: &NameSet) {
        self.0.extend(other.0.iter().cloned());
    }
}

impl FromIterator<String> for NameSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        NameSet::new(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> NameSet {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn json_is_canonical_sorted_and_deduplicated() {
        let a = NameSet::new(vec!["b".into(), "a".into(), "b".into()]);
        assert_eq!(a.to_json(), r#"["a","b"]"#);
        assert_eq!(NameSet::from_json(&a.to_json()).unwrap(), a);
    }

    #[test]
    fn corrupt_json_is_an_error_not_an_empty_set() {
        assert!(NameSet::from_json("not json").is_err());
    }

    #[test]
    fn replace_add_remove() {
        let cur = set(&["gpt-4o", "llama3"]);
        assert_eq!(cur.apply(SetOp::Replace, &set(&["x"])), set(&["x"]));
        assert_eq!(
            cur.apply(SetOp::Add, &set(&["x", "llama3"])),
            set(&["gpt-4o", "llama3", "x"])
        );
        assert_eq!(
            cur.apply(SetOp::Remove, &set(&["llama3", "nope"])),
            set(&["gpt-4o"])
        );
    }
}
