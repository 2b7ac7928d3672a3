//! `models.list`: the LiteLLM catalog next to how many users hold each model, so an operator
//! sees which allowed models LiteLLM no longer serves.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::auth::AdminSession;
use super::{Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{ModelList, ModelView, ModelsListParams, UserFilter};
use crate::api::{ApiError, ErrorCode};
use crate::db::users as user_db;
use crate::db::DbError;
use crate::domain::access::SENTINEL_MODELS;

impl Mama {
    /// `models.list`: the catalog (optionally re-read from LiteLLM now) next to how many users
    /// hold each model.
    pub async fn list_models(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: ModelsListParams,
    ) -> OpResult<ModelList> {
        let result = self.list_models_inner(params).await;
        self.finish_read(ctx.event(method::ModelsList::ACTION), result, |e, _| e)
            .await
    }

    async fn list_models_inner(&self, params: ModelsListParams) -> OpResult<ModelList> {
        if params.refresh {
            let engine = self.configured_engine()?;
            let listed = engine.client.list_models().await;
            self.sync.observed(listed.as_ref().map(|_| ()));
            let models = listed.map_err(|e| {
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!("LiteLLM could not be read: {e}"),
                )
            })?;
            self.catalog.set(models);
        }
        let snapshot = self.catalog.get();
        let catalog = snapshot.as_ref().map(|s| s.models.clone());
        let filter = UserFilter {
            unavailable_models: true,
            ..UserFilter::default()
        };
        let cat = catalog.clone();
        let (usage, with_unavailable) = self
            .db
            .read(move |c| {
                let usage = user_db::model_usage(c)?;
                let n: i64 = user_db::filtered(&filter, cat.as_deref())
                    .count()
                    .get_result(c)?;
                Ok::<_, DbError>((usage, n as u64))
            })
            .await?;
        let mut by_name: BTreeMap<String, ModelView> = BTreeMap::new();
        for name in catalog.iter().flatten() {
            by_name.insert(
                name.clone(),
                ModelView {
                    name: name.clone(),
                    available: Some(true),
                    users: 0,
                },
            );
        }
        for (name, n) in usage {
            // Without a catalog only the sentinels are known to work.
            let available = if SENTINEL_MODELS.contains(&name.as_str()) {
                Some(true)
            } else {
                catalog.as_ref().map(|_| by_name.contains_key(&name))
            };
            by_name
                .entry(name.clone())
                .or_insert(ModelView {
                    name,
                    available,
                    users: 0,
                })
                .users = n as u64;
        }
        Ok(ModelList {
            models: by_name.into_values().collect(),
            fetched_at: snapshot.map(|s| s.fetched_at),
            users_with_unavailable: with_unavailable,
        })
    }
}
