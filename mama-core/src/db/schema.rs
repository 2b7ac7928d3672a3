//! The one portable schema for both backends (see `migrations/{sqlite,postgres}`).
//! Written by hand to match the migrations; `diesel print-schema` would emit backend-specific
//! integer types.

diesel::table! {
    users (id) {
        id -> Text,
        organization -> Text,
        models -> Text,
        services -> Text,
        info -> Text,
        search_id -> Text,
        search_org -> Text,
        version -> BigInt,
        key_ciphertext -> Nullable<Binary>,
        key_hash -> Nullable<Text>,
        key_hint -> Nullable<Text>,
        key_status -> Text,
        key_error -> Nullable<Text>,
        synced_models -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        prev_key_ciphertext -> Nullable<Binary>,
        prev_key_hash -> Nullable<Text>,
        max_budget -> Nullable<Double>,
        budget_period -> Nullable<Text>,
        tpm_limit -> Nullable<BigInt>,
        rpm_limit -> Nullable<BigInt>,
        expires_at -> Nullable<Timestamp>,
        rotation_days -> Nullable<BigInt>,
        limits_own -> Text,
        suspended_at -> Nullable<Timestamp>,
        suspended_by -> Nullable<Text>,
        suspended_reason -> Nullable<Text>,
        rotated_at -> Nullable<Timestamp>,
        retiring_key_hash -> Nullable<Text>,
        retiring_until -> Nullable<Timestamp>,
        rotation_grace_secs -> Nullable<BigInt>,
        synced_limits -> Nullable<Text>,
        spend -> Nullable<Double>,
        spend_read_at -> Nullable<Timestamp>,
        expiry_seen -> Nullable<Timestamp>,
        usage_spend_30d -> Double,
        usage_requests_30d -> BigInt,
        last_used -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Deleted users waiting to be purged: every column of `users` (copied in SQL by
    /// `db::trash`), of which Rust reads these, and when and by whom they were deleted.
    users_trash (id) {
        id -> Text,
        organization -> Text,
        models -> Text,
        version -> BigInt,
        key_hash -> Nullable<Text>,
        key_hint -> Nullable<Text>,
        prev_key_hash -> Nullable<Text>,
        retiring_key_hash -> Nullable<Text>,
        deleted_at -> Timestamp,
        deleted_by -> Text,
        purge_after -> Timestamp,
    }
}

diesel::table! {
    /// What reverses a change event (see `db::undo`).
    event_undo (event_id) {
        event_id -> Text,
        packed -> Binary,
    }
}

diesel::table! {
    organizations (name) {
        name -> Text,
        max_budget -> Nullable<Double>,
        budget_period -> Nullable<Text>,
        tpm_limit -> Nullable<BigInt>,
        rpm_limit -> Nullable<BigInt>,
        expires_at -> Nullable<Timestamp>,
        rotation_days -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_models (user_id, model) {
        user_id -> Text,
        model -> Text,
    }
}

diesel::table! {
    user_services (user_id, service) {
        user_id -> Text,
        service -> Text,
    }
}

diesel::table! {
    user_info (user_id, key) {
        user_id -> Text,
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    admins (username) {
        username -> Text,
        role -> Text,
        password_hash -> Text,
        must_change_password -> Bool,
        security_stamp -> Text,
        created_at -> Timestamp,
        password_changed_at -> Timestamp,
        organizations -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_sessions (jti) {
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        username -> Text,
        client -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    services (name) {
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    service_tokens (id) {
        id -> Text,
        service -> Text,
        token_hash -> Text,
        hint -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        at -> Timestamp,
        actor_kind -> Text,
        actor -> Text,
        channel -> Text,
        action -> Text,
        user_ids -> Text,
        target_count -> BigInt,
        target_filter -> Nullable<Text>,
        result -> Text,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        client -> Nullable<Text>,
        request_id -> Nullable<Text>,
        duration_ms -> Nullable<BigInt>,
        detail -> Nullable<Text>,
        user_ids_packed -> Nullable<Binary>,
    }
}

diesel::table! {
    event_users (event_id, user_id) {
        event_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        user_id -> Text,
        kind -> Text,
        key_hash -> Nullable<Text>,
        created_at -> Timestamp,
        available_at -> Timestamp,
        attempts -> Integer,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(user_models -> users (user_id));
diesel::joinable!(user_services -> users (user_id));
diesel::joinable!(user_info -> users (user_id));
diesel::joinable!(service_tokens -> services (service));

diesel::table! {
    data_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    event_undo,
    users_trash,
    user_models,
    user_services,
    user_info,
    admins,
    revoked_sessions,
    login_failures,
    services,
    service_tokens,
    events,
    event_users,
    outbox,
    data_version,
    organizations,
    key_hashes,
    usage_daily,
    usage_other,
);

diesel::table! {
    key_hashes (key_hash) {
        key_hash -> Text,
        user_id -> Text,
        minted_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    usage_daily (day, user_id, model) {
        day -> Date,
        user_id -> Text,
        model -> Text,
        organization -> Text,
        spend -> Double,
        successful_requests -> BigInt,
        failed_requests -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        total_tokens -> BigInt,
    }
}

diesel::table! {
    usage_daily_org (day, organization, model) {
        day -> Date,
        organization -> Text,
        model -> Text,
        spend -> Double,
        successful_requests -> BigInt,
        failed_requests -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        total_tokens -> BigInt,
    }
}

diesel::table! {
    usage_other (day, model) {
        day -> Date,
        model -> Text,
        spend -> Double,
        successful_requests -> BigInt,
        failed_requests -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        total_tokens -> BigInt,
    }
}

diesel::table! {
    usage_collector (id) {
        id -> Integer,
        as_of -> Nullable<Timestamp>,
        final_through -> Nullable<Date>,
        backfill_days_done -> Integer,
        backfill_days -> Integer,
        last_error -> Nullable<Text>,
        ranked_generation -> Nullable<BigInt>,
        ranked_for -> Nullable<Date>,
    }
}

diesel::table! {
    usage_ranked (generation, span, user_id) {
        generation -> BigInt,
        span -> Text,
        user_id -> Text,
        organization -> Text,
        spend -> Double,
        successful_requests -> BigInt,
        failed_requests -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        total_tokens -> BigInt,
        requests -> BigInt,
    }
}

diesel::table! {
    usage_ranked_orgs (generation, span, organization) {
        generation -> BigInt,
        span -> Text,
        organization -> Text,
        users -> BigInt,
        spend -> Double,
        successful_requests -> BigInt,
        failed_requests -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        total_tokens -> BigInt,
    }
}

diesel::table! {
    key_check (id) {
        id -> Integer,
        fingerprint -> Text,
        recorded_at -> Timestamp,
        rotating_to -> Nullable<Text>,
        rotation_started_at -> Nullable<Timestamp>,
    }
}
