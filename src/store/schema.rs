//! diesel's view of the tables in `migrations/` (identical for SQLite and PostgreSQL).

diesel::table! {
    organisations (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        country -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (key_id) {
        key_id -> Text,
        organisation_id -> Text,
        public_key -> Text,
        added_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        compromised -> Bool,
        revocation_reason -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        organisation_id -> Text,
        role -> Text,
        label -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    packages (digest) {
        digest -> Text,
        name -> Text,
        version -> Text,
        title -> Text,
        material_class -> Text,
        designation -> Text,
        organisation_id -> Text,
        releasability -> Text,
        synthetic -> Bool,
        blob_sha256 -> Text,
        size_bytes -> BigInt,
        registered_at -> BigInt,
        withdrawn_at -> Nullable<BigInt>,
        withdrawn_reason -> Nullable<Text>,
        superseded_by -> Nullable<Text>,
        material_id -> Text,
        producer -> Text,
    }
}

diesel::table! {
    package_readers (digest, reader) {
        digest -> Text,
        reader -> Text,
    }
}

diesel::table! {
    datasets (digest, dataset_id) {
        digest -> Text,
        dataset_id -> Text,
        property -> Text,
        unit -> Text,
        file -> Text,
        measurements -> Integer,
        specimens -> Integer,
        batches -> Integer,
        min_value -> Double,
        max_value -> Double,
        mean_value -> Double,
        conditions -> Text,
        standard -> Text,
        rows -> Text,
    }
}

diesel::table! {
    profiles (id, version) {
        id -> Text,
        version -> Text,
        title -> Text,
        material_class -> Text,
        illustrative -> Bool,
        organisation_id -> Text,
        body -> Text,
        created_at -> BigInt,
        body_sha256 -> Nullable<Text>,
        key_id -> Nullable<Text>,
        signature -> Nullable<Text>,
        log_index -> Nullable<BigInt>,
    }
}

diesel::table! {
    profile_owners (id) {
        id -> Text,
        organisation_id -> Text,
        registered_at -> BigInt,
    }
}

diesel::table! {
    signatures (digest, key_id) {
        digest -> Text,
        key_id -> Text,
        organisation_id -> Text,
        kind -> Text,
        signature -> Text,
        source -> Text,
        added_at -> BigInt,
    }
}

diesel::table! {
    package_materials (digest) {
        digest -> Text,
        producer_country -> Text,
        composition -> Text,
        source -> Text,
    }
}

diesel::table! {
    search_index (key) {
        key -> BigInt,
        digest -> Text,
        material_id -> Text,
        material_class -> Text,
        organisation_id -> Text,
        releasability -> Text,
        producer_country -> Text,
        designation -> Text,
        producer -> Text,
        text -> Text,
        evidence -> Bool,
        countersigned -> Bool,
        rare_earth_free -> Nullable<Bool>,
        cobalt_free -> Nullable<Bool>,
        dy_tb -> Nullable<Double>,
        supply_hhi -> Nullable<Double>,
        registered_at -> BigInt,
        generation -> BigInt,
    }
}

diesel::table! {
    search_generation (id) {
        id -> Integer,
        value -> BigInt,
    }
}

diesel::table! {
    dataset_points (package_key, dataset_id, point) {
        package_key -> BigInt,
        dataset_id -> Text,
        point -> Integer,
        property -> Text,
        temperature_c -> Nullable<Double>,
        value -> Double,
        measurements -> Integer,
        batches -> Integer,
    }
}

diesel::joinable!(signing_keys -> organisations (organisation_id));
diesel::joinable!(api_tokens -> organisations (organisation_id));
diesel::joinable!(packages -> organisations (organisation_id));
diesel::table! {
    package_documents (digest) {
        digest -> Text,
        manifest -> Text,
        verification -> Text,
    }
}

diesel::joinable!(package_readers -> packages (digest));
diesel::joinable!(package_documents -> packages (digest));
diesel::joinable!(datasets -> packages (digest));
diesel::joinable!(signatures -> packages (digest));
diesel::joinable!(signatures -> signing_keys (key_id));
diesel::joinable!(package_materials -> packages (digest));

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    signing_keys,
    api_tokens,
    packages,
    package_readers,
    package_documents,
    datasets,
    profiles,
    profile_owners,
    signatures,
    package_materials,
    search_index,
    search_generation,
    dataset_points,
);

diesel::table! {
    log_head (id) {
        id -> Integer,
        size -> BigInt,
        backfilled -> Bool,
        verifier_key -> Nullable<Text>,
    }
}

diesel::table! {
    log_entries (idx) {
        idx -> BigInt,
        kind -> Text,
        subject -> Text,
        entry -> Binary,
        leaf_hash -> Binary,
        created_at -> BigInt,
        sealed_entry -> Nullable<Binary>,
        salt -> Nullable<Binary>,
    }
}

diesel::table! {
    log_nodes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    log_cosignatures (witness, tree_size) {
        witness -> Text,
        tree_size -> BigInt,
        root_hash -> Binary,
        cosigned_at -> BigInt,
        line -> Text,
        received_at -> BigInt,
    }
}

diesel::table! {
    mirror_state (id) {
        id -> Integer,
        upstream -> Text,
        upstream_key -> Text,
        target_checkpoint -> Nullable<Text>,
        checkpoint -> Nullable<Text>,
        halted_reason -> Nullable<Text>,
        halted_at -> Nullable<BigInt>,
        evidence_file -> Nullable<Text>,
        last_sync_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        cosigned_checkpoint -> Nullable<Text>,
    }
}

diesel::table! {
    mirror_rejections (idx) {
        idx -> BigInt,
        digest -> Text,
        code -> Text,
        message -> Text,
        rejected_at -> BigInt,
    }
}

diesel::table! {
    blob_intents (id) {
        id -> BigInt,
        blob_sha256 -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    witnessed_logs (origin) {
        origin -> Text,
        tree_size -> BigInt,
        root_hash -> Binary,
        checkpoint -> Text,
        updated_at -> BigInt,
    }
}
