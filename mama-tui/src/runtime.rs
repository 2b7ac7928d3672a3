//! The event loop: one `tokio::select!` over terminal events, a tick and the answers of
//! background tasks. Effects run in spawned tasks that send a [`Reply`] back, so drawing and
//! typing never wait on the daemon.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::{Event, EventStream, MouseButton, MouseEventKind};
use futures::StreamExt;
use mama_api::rpc::{method, NoParams};
use mama_api::types::{
    ListIdsParams, ListUsersParams, Page, PageCursor, UserFilter, UserIds, UserList, UserSort,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::action::{Action, Reply, Tag};
use crate::app::App;
use crate::caller::Caller;
use crate::cli::Args;
use crate::client::{ClientError, Endpoint, RpcClient};
use crate::effect::Effect;
use crate::keymap::{handle_key, Context};
use crate::text::Edit;
use crate::{csv, terminal, ui, update, usage};

/// 20 ticks a second: the spinner moves and a typed filter is sent after ~100 ms of quiet.
const TICK: Duration = Duration::from_millis(50);
/// Rows per call when paging through every user (mark all, export).
const BULK_PAGE: u32 = 1000;

pub async fn run(endpoint: Endpoint, args: &Args) -> anyhow::Result<()> {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let client = Arc::new(RpcClient::new(
        endpoint.clone(),
        Duration::from_secs(args.timeout.max(1)),
    ));
    let mut term = terminal::setup(!args.no_mouse).context("cannot set up the terminal")?;
    let caller = Caller::new(client);
    let mut app = App::new(endpoint.describe(), color, 80, 24);
    app.confirm_typed_above = args.confirm_typed_above;
    app.idle_logout_minutes = args.idle_logout_minutes;
    let result = event_loop(&mut term, &caller, app).await;
    terminal::restore();
    result
}

async fn event_loop(
    term: &mut terminal::Term,
    caller: &Caller,
    mut app: App,
) -> anyhow::Result<()> {
    let size = term.size()?;
    app.width = size.width;
    app.height = size.height;
    let (tx, mut rx) = mpsc::unbounded_channel::<Reply>();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    term.draw(|frame| ui::view(&app, frame))?;
    loop {
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => to_action(&app, event),
                Some(Err(err)) => return Err(err).context("reading the terminal"),
                None => break,
            },
            _ = tick.tick() => Action::Tick(Utc::now()),
            Some(reply) = rx.recv() => Action::Reply(reply),
        };
        // Ticks only need a redraw for the spinner and the occasional clock-driven change.
        let redraw =
            !matches!(action, Action::Tick(_)) || app.in_flight > 0 || app.ticks.is_multiple_of(10);
        let effects = update::update(&mut app, action);
        caller.set_token(app.token());
        for effect in effects {
            execute(effect, caller, &tx);
        }
        if app.quit {
            break;
        }
        if redraw {
            term.draw(|frame| ui::view(&app, frame))?;
        }
    }
    // Best effort: end the session on the daemon too, without holding up the exit.
    if let Some(token) = app.token() {
        let logout = caller
            .client()
            .call_typed::<method::AuthLogout>(&NoParams {}, Some(&token));
        let _ = tokio::time::timeout(Duration::from_secs(1), logout).await;
    }
    Ok(())
}

/// Terminal event → action.
pub fn to_action(app: &App, event: Event) -> Action {
    match event {
        Event::Key(key) => handle_key(Context::of(app), key),
        // Terminals paste line ends as `\r` (tmux's paste-buffer, most of them) or `\r\n`.
        Event::Paste(text) => Action::Edit(Edit::Paste(csv::unify_line_ends(&text).into_owned())),
        Event::Resize(width, height) => Action::Resize(width, height),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => Action::Click {
                x: mouse.column,
                y: mouse.row,
            },
            MouseEventKind::ScrollDown => Action::Scroll(3),
            MouseEventKind::ScrollUp => Action::Scroll(-3),
            _ => Action::None,
        },
        _ => Action::None,
    }
}

fn execute(effect: Effect, caller: &Caller, tx: &mpsc::UnboundedSender<Reply>) {
    let client = caller.clone();
    let tx = tx.clone();
    match effect {
        Effect::Quit => {}
        Effect::Clipboard { text } => {
            // Written between two frames, on the thread that draws them, so it cannot land
            // inside a frame's escape sequences. A failure to write only loses the copy.
            use std::io::Write as _;
            let mut out = std::io::stdout();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
        Effect::Call {
            method,
            params,
            tag,
            token,
            epoch,
        } => {
            tokio::spawn(async move {
                let result = client.call(method, params, token.as_deref()).await;
                let _ = tx.send(Reply { epoch, tag, result });
            });
        }
        Effect::Batch {
            method,
            params,
            tag,
            token,
            epoch,
        } => {
            tokio::spawn(async move {
                let mut results = Vec::with_capacity(params.len());
                let mut failure = None;
                for p in params {
                    match client.call(method, p, token.as_deref()).await {
                        Ok(value) => results.push(value),
                        Err(err) => {
                            failure = Some(err);
                            break;
                        }
                    }
                }
                let result = match failure {
                    Some(err) => Err(err),
                    None => Ok(Value::Array(results)),
                };
                let _ = tx.send(Reply { epoch, tag, result });
            });
        }
        Effect::CollectIds {
            filter,
            sort,
            tag,
            token,
            epoch,
        } => {
            tokio::spawn(async move {
                let result = match list_ids(&client, &filter, token.as_deref()).await {
                    Err(err) if update::is_missing_method(&err) => {
                        for_each_user(&client, filter, sort, token.as_deref(), |_, done, total| {
                            progress(&tx, epoch, "Marking", done, total)
                        })
                        .await
                    }
                    other => other,
                }
                .map(|ids| Value::Array(ids.into_iter().map(Value::String).collect()));
                let _ = tx.send(Reply { epoch, tag, result });
            });
        }
        Effect::Export {
            path,
            filter,
            sort,
            overwrite,
            token,
            epoch,
        } => {
            tokio::spawn(async move {
                let result =
                    export_users(&client, &tx, &path, filter, sort, overwrite, token, epoch).await;
                let _ = tx.send(Reply {
                    epoch,
                    tag: Tag::Export,
                    result,
                });
            });
        }
        Effect::ExportUsage {
            path,
            params,
            measure,
            token,
            epoch,
        } => {
            tokio::spawn(async move {
                let result = match client
                    .call_typed::<method::UsageQuery>(&params, token.as_deref())
                    .await
                {
                    Ok(report) => {
                        let rows = report.rows.len() + usize::from(report.rest.is_some());
                        let text = usage::csv_text(&report, measure);
                        match tokio::fs::write(&path, text).await {
                            Ok(()) => {
                                Ok(json!({ "rows": rows, "path": path.display().to_string() }))
                            }
                            Err(err) => {
                                Err(ClientError::Local(format!("{}: {err}", path.display())))
                            }
                        }
                    }
                    Err(err) => Err(err),
                };
                let _ = tx.send(Reply {
                    epoch,
                    tag: Tag::UsageExport,
                    result,
                });
            });
        }
        Effect::WriteNewFile {
            path,
            contents,
            tag,
            epoch,
        } => {
            tokio::spawn(async move {
                let result = write_file(&path, &contents, false)
                    .await
                    .map(|()| json!({ "path": path.display().to_string() }))
                    .map_err(|err| ClientError::Local(format!("{}: {err}", path.display())));
                let _ = tx.send(Reply { epoch, tag, result });
            });
        }
        Effect::ReadFile { path, epoch } => {
            tokio::spawn(async move {
                let result = tokio::fs::read_to_string(&path)
                    .await
                    .map(Value::String)
                    .map_err(|err| ClientError::Local(format!("{}: {err}", path.display())));
                let _ = tx.send(Reply {
                    epoch,
                    tag: Tag::ImportFile,
                    result,
                });
            });
        }
    }
}

/// `:export`: every user matching `filter` as CSV (see [`csv`]). Without `overwrite` an
/// existing file is not touched: the answer is `{"exists": path}`, for the TUI to ask first.
#[allow(clippy::too_many_arguments)]
async fn export_users(
    client: &Caller,
    tx: &mpsc::UnboundedSender<Reply>,
    path: &Path,
    filter: UserFilter,
    sort: UserSort,
    overwrite: bool,
    token: Option<String>,
    epoch: u64,
) -> Result<Value, ClientError> {
    let exists = json!({ "exists": path.display().to_string() });
    if !overwrite && tokio::fs::try_exists(path).await.unwrap_or(false) {
        return Ok(exists);
    }
    let local =
        |err: &dyn std::fmt::Display| ClientError::Local(format!("{}: {err}", path.display()));
    let mut out = csv::CsvOut::default();
    let mut failed = out.record(csv::export_header()).err();
    let ids = for_each_user(
        client,
        filter,
        sort,
        token.as_deref(),
        |users, done, total| {
            progress(tx, epoch, "Exporting", done, total);
            for user in users {
                if failed.is_none() {
                    failed = out.record(csv::export_row(user)).err();
                }
            }
        },
    )
    .await?;
    if let Some(err) = failed {
        return Err(local(&err));
    }
    let bytes = out.into_bytes().map_err(|e| local(&e))?;
    match write_file(path, &bytes, overwrite).await {
        // Created between the check and now.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(exists),
        Err(err) => Err(local(&err)),
        Ok(()) => Ok(json!({ "rows": ids.len(), "path": path.display().to_string() })),
    }
}

/// Writes `contents` to `path`; without `overwrite` only as a new file.
async fn write_file(path: &Path, contents: &[u8], overwrite: bool) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).await?;
    file.write_all(contents).await?;
    file.flush().await
}

/// Reports how far a long job got; shown in the status line.
fn progress(tx: &mpsc::UnboundedSender<Reply>, epoch: u64, what: &str, done: u64, total: u64) {
    let result = Ok(json!({ "what": what, "done": done, "total": total }));
    let _ = tx.send(Reply {
        epoch,
        tag: Tag::Progress,
        result,
    });
}

/// Every id matching `filter` in one `users.list_ids` call (ids only: 100,000 of them are a few
/// MB), for marking all matches.
async fn list_ids(
    client: &Caller,
    filter: &UserFilter,
    token: Option<&str>,
) -> Result<Vec<String>, ClientError> {
    let params = ListIdsParams {
        filter: filter.clone(),
    };
    let ids: UserIds = client
        .call_typed::<method::UsersListIds>(&params, token)
        .await?;
    Ok(ids.ids)
}

/// Pages through every user matching `filter` (in `sort` order, page after page by cursor),
/// handing each page to `each`; returns all their ids. Export uses it, and mark all on a daemon
/// without `users.list_ids`.
async fn for_each_user(
    client: &Caller,
    filter: UserFilter,
    sort: UserSort,
    token: Option<&str>,
    mut each: impl FnMut(&[mama_api::types::UserView], u64, u64),
) -> Result<Vec<String>, ClientError> {
    let mut ids = Vec::new();
    let mut after = None;
    let mut matching = 0;
    loop {
        let first = after.is_none();
        let params = ListUsersParams {
            filter: filter.clone(),
            sort,
            page: Page {
                offset: 0,
                limit: BULK_PAGE,
            },
            cursor: PageCursor {
                after: after.take(),
                before: None,
            },
            // The count once, for the progress shown.
            counts: first,
        };
        let page: UserList = client
            .call_typed::<method::UsersList>(&params, token)
            .await?;
        matching = page.matching.unwrap_or(matching);
        let count = page.users.len() as u64;
        each(&page.users, ids.len() as u64 + count, matching);
        ids.extend(page.users.into_iter().map(|u| u.id));
        match page.end_cursor {
            Some(cursor) if count == u64::from(BULK_PAGE) => after = Some(cursor),
            _ => return Ok(ids),
        }
    }
}
