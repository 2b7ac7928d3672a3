//! How mama's doings are recognised in LiteLLM: the author it records for every change, and the
//! marks on the metadata of every key mama creates. The worker writes them, the reconciler reads
//! them to tell mama's keys (and this installation's) from everyone else's.

use serde_json::{Map, Value};

/// Who LiteLLM records as the author of mama's changes (`litellm-changed-by`).
pub const CHANGED_BY: &str = "mama-sync";

/// Metadata field naming the alias prefix of the mama that created a key.
pub const ALIAS_PREFIX_MARK: &str = "mama_alias_prefix";

/// The metadata every key mama creates carries: that it is mama's, and which installation's
/// (by its alias prefix), so that two mamas sharing one LiteLLM can tell their keys apart even
/// when one prefix starts with the other (`mama-` and `mama-staging-`).
pub fn mark(alias_prefix: &str) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("managed_by".into(), Value::from("mama"));
    metadata.insert(ALIAS_PREFIX_MARK.into(), Value::from(alias_prefix));
    metadata
}

/// Keys mama created carry `{"managed_by": "mama"}`.
pub fn is_mamas(metadata: &Map<String, Value>) -> bool {
    metadata.get("managed_by").and_then(Value::as_str) == Some("mama")
}

/// Whether the reconciler may take a key no user holds for this installation's orphan: its
/// alias has this installation's prefix, and it is not marked as another installation's. Keys
/// of another mama on the same LiteLLM (another prefix, or a longer one starting with this one)
/// are never deleted. Keys created before the mark existed are judged by their alias alone.
pub fn may_be_our_orphan(
    key_alias: Option<&str>,
    metadata: &Map<String, Value>,
    prefix: &str,
) -> bool {
    key_alias.is_some_and(|a| a.starts_with(prefix))
        && metadata
            .get(ALIAS_PREFIX_MARK)
            .and_then(Value::as_str)
            .is_none_or(|marked| marked == prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_installations_keys_may_be_taken_for_orphans() {
        let ours = mark("mama-");
        assert!(may_be_our_orphan(Some("mama-gone"), &ours, "mama-"));
        // Before the mark existed: the alias decides.
        assert!(may_be_our_orphan(Some("mama-gone"), &Map::new(), "mama-"));
        // Another mama on the same LiteLLM, with a prefix that starts with ours.
        let staging = mark("mama-staging-");
        assert!(!may_be_our_orphan(
            Some("mama-staging-bob"),
            &staging,
            "mama-"
        ));
        assert!(may_be_our_orphan(
            Some("mama-staging-bob"),
            &staging,
            "mama-staging-"
        ));
        // Another prefix altogether, or no alias: never ours to delete.
        assert!(!may_be_our_orphan(
            Some("corp-bob"),
            &mark("corp-"),
            "mama-"
        ));
        assert!(!may_be_our_orphan(Some("corp-bob"), &ours, "mama-"));
        assert!(!may_be_our_orphan(None, &ours, "mama-"));
    }
}
