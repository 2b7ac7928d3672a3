//! Property-based fuzzing of the parsers that take outside input in the core: user ids and names
//! (every request), info maps, stored model sets, REST lookup bodies and every admin RPC params
//! type. Whatever arrives, the answer is a value or an error, never a panic, and an invalid id is
//! never accepted.

use mama_core::api::rest::LookupRequest;
use mama_core::api::types::{
    BulkUpdateParams, CreateUsersParams, ListEventsParams, ListUsersParams, RetryFailedParams,
    RotateKeysParams, UpdateUserParams,
};
use mama_core::domain::{validate, NameSet};
use proptest::prelude::*;

fn id_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9._@+-]{0,140}",
        "[가-힣ａ-ｚ０-９ᄀ-ᇿ]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn ids_are_judged_without_panic_and_accepted_ids_are_clean(id in id_like()) {
        if validate::user_id(&id).is_ok() {
            prop_assert!(!id.is_empty() && id.chars().count() <= validate::MAX_ID_CHARS);
            prop_assert!(id.chars().all(|c| c.is_alphanumeric() || validate::ID_PUNCTUATION.contains(&c)));
        }
        let _ = validate::organization(&id);
        let _ = validate::set_member(&id);
    }

    #[test]
    fn stored_sets_never_panic(text in any::<String>()) {
        let _ = NameSet::from_json(&text);
    }

    #[test]
    fn lookup_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<LookupRequest>(&bytes);
    }

    #[test]
    fn rpc_params_never_panic(text in "[\\[\\]{}\":,a-z0-9 _.-]{0,200}") {
        let _ = serde_json::from_str::<ListUsersParams>(&text);
        let _ = serde_json::from_str::<CreateUsersParams>(&text);
        let _ = serde_json::from_str::<UpdateUserParams>(&text);
        let _ = serde_json::from_str::<BulkUpdateParams>(&text);
        let _ = serde_json::from_str::<RotateKeysParams>(&text);
        let _ = serde_json::from_str::<RetryFailedParams>(&text);
        let _ = serde_json::from_str::<ListEventsParams>(&text);
    }
}
