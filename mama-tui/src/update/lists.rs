//! The lists beside the users: models, admins, services and events. Loading them, and the
//! answers to those loads and to the changes made on their screens (the admins' in `admins`).

use mama_api::rpc::method;
use mama_api::types::{ListEventsParams, ModelsListParams, Page};
use serde_json::Value;

use super::rpc::{answer, describe, is_missing_method};
use crate::action::Tag;
use crate::app::{service_rows, App, EVENTS_PAGE};
use crate::client::ClientError;
use crate::event_filter;
use crate::popup::Popup;
use crate::text::count;

pub fn load_models(app: &mut App) {
    app.call::<method::ModelsList>(&ModelsListParams::default(), Tag::Models);
}

pub fn load_admins(app: &mut App) {
    app.call::<method::AdminsList>(&Default::default(), Tag::Admins);
}

pub fn load_services(app: &mut App) {
    app.call::<method::ServicesList>(&Default::default(), Tag::Services);
}

pub fn load_events(app: &mut App) {
    app.events.query += 1;
    let params = ListEventsParams {
        filter: app.events.filter.clone(),
        page: Page {
            offset: app.events.offset,
            limit: EVENTS_PAGE,
        },
    };
    let query = app.events.query;
    app.call::<method::EventsList>(&params, Tag::Events { query });
}

/// Parses the filter bar at the current time and loads the first page. Also used on reload
/// and when the screen opens, so an age (`since:15m`) always counts back from now.
pub fn apply_events_filter(app: &mut App) {
    match event_filter::parse(app.events.filter_input.value(), app.now) {
        Ok(filter) => {
            app.events.filter_error = None;
            app.events.filter = filter;
            app.events.offset = 0;
            app.events.list.selected = 0;
            load_events(app);
        }
        Err(problem) => app.events.filter_error = Some(problem),
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::Models | Tag::Catalog => match answer::<method::ModelsList>(result) {
            Ok(list) => {
                app.catalog = list
                    .models
                    .iter()
                    .map(|m| (m.name.clone(), m.available.unwrap_or(true)))
                    .collect();
                if tag == Tag::Models {
                    app.models.set(list.models.clone());
                    app.model_list = Some(list);
                }
            }
            Err(err) if is_missing_method(&err) => {
                if tag == Tag::Models {
                    app.models.loaded = true;
                    app.error("This daemon does not list models yet (models.list).");
                }
            }
            Err(err) => app.error(format!("models: {}", describe(&err))),
        },
        Tag::ServiceNames | Tag::Services => match answer::<method::ServicesList>(result) {
            Ok(list) => {
                app.service_names = list.services.iter().map(|s| s.name.clone()).collect();
                if tag == Tag::Services {
                    app.services.set(list.services);
                    let rows = service_rows(&app.services.items).len();
                    app.services.selected = app.services.selected.min(rows.saturating_sub(1));
                }
            }
            Err(err) => app.error(format!("services: {}", describe(&err))),
        },
        Tag::CreateService => match result {
            Ok(_) => {
                app.popups.retain(|p| !matches!(p, Popup::Prompt(_)));
                app.info("Service created. t issues a token.");
                load_services(app);
            }
            Err(err) => match app.popups.last_mut() {
                Some(Popup::Prompt(prompt)) => prompt.error = Some(describe(&err)),
                _ => app.error(describe(&err)),
            },
        },
        Tag::DeleteService => {
            match answer::<method::ServicesDelete>(result) {
                Ok(deleted) => app.info(format!(
                    "Service deleted; removed from {}.",
                    count(deleted.grants_removed, "user")
                )),
                Err(err) => app.error(describe(&err)),
            }
            load_services(app);
        }
        Tag::RevokeToken => {
            match result {
                Ok(_) => app.info("Token revoked."),
                Err(err) => app.error(describe(&err)),
            }
            load_services(app);
        }
        Tag::IssueToken => match answer::<method::ServicesIssueToken>(result) {
            Ok(issued) => {
                app.popups.push(Popup::Message {
                    title: format!("New token for {}", issued.service),
                    lines: vec![
                        "Copy it now: it is shown only once.".into(),
                        String::new(),
                        issued.token,
                        String::new(),
                        format!("(id {}, hint {})", issued.id, issued.hint),
                    ],
                });
                load_services(app);
            }
            Err(err) => app.error(format!("issue token: {}", describe(&err))),
        },
        Tag::Events { query } if query == app.events.query => {
            match answer::<method::EventsList>(result) {
                Ok(list) => {
                    app.events.matching = list.matching;
                    app.events.list.set(list.events);
                }
                Err(err) => app.error(format!("events: {}", describe(&err))),
            }
        }
        _ => {}
    }
}
