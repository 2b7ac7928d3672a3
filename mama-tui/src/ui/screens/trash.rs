//! The trash screen: deleted users waiting to be restored or purged, one page of the daemon's
//! list, with their masked keys and when they go for good.

use mama_api::types::{TrashColumn, TrashedUser};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::app::{organization_name, App};
use crate::trash::{deleted_text, purge_text, TrashKept};
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrashCol {
    Id,
    Organization,
    Models,
    Key,
    Deleted,
    By,
    Purge,
}

/// One column, what it sorts by, and from which terminal width on it is shown: at 80 columns
/// the models and who deleted are left out (Enter shows them).
struct Spec {
    column: TrashCol,
    def: Column,
    sort: Option<TrashColumn>,
    from_width: u16,
}

const fn spec(column: TrashCol, def: Column, sort: Option<TrashColumn>, from_width: u16) -> Spec {
    Spec {
        column,
        def,
        sort,
        from_width,
    }
}

const SPECS: [Spec; 7] = [
    spec(
        TrashCol::Id,
        Column::fit("id", 6, 28, 1),
        Some(TrashColumn::Id),
        0,
    ),
    spec(
        TrashCol::Organization,
        Column::fit("organization", 6, 20, 1),
        Some(TrashColumn::Organization),
        0,
    ),
    spec(TrashCol::Models, Column::fit("models", 6, 30, 0), None, 100),
    spec(TrashCol::Key, Column::fit("key", 10, 12, 3), None, 0),
    spec(
        TrashCol::Deleted,
        Column::fit("deleted", 8, 10, 2),
        Some(TrashColumn::DeletedAt),
        0,
    ),
    spec(TrashCol::By, Column::fit("by", 4, 16, 0), None, 100),
    spec(
        TrashCol::Purge,
        Column::fit("purged", 11, 28, 2),
        Some(TrashColumn::PurgeAfter),
        0,
    ),
];

/// From this width on, the purge time has its year and the wait its hours.
const LONG_TIMES_FROM_WIDTH: u16 = 120;

fn shown(width: u16) -> Vec<&'static Spec> {
    SPECS.iter().filter(|s| width >= s.from_width).collect()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let specs = shown(area.width);
    let defs: Vec<Column> = specs.iter().map(|s| s.def).collect();
    let t = &app.trash;
    let rows = Rows::list(&t.list, area, |u| row(app, u, &specs, area.width, theme));
    let empty = if t.filter.is_some() {
        "No deleted user matches the filter."
    } else if app.trash_kept == TrashKept::None {
        "The trash is empty: the daemon keeps none, so deletes are final."
    } else {
        "The trash is empty."
    };
    let sorted = specs.iter().position(|s| s.sort == Some(t.column));
    ListTable::new(&defs, empty)
        .gap(1)
        .marks()
        .sorted(sorted, t.descending)
        .render(frame, area, theme, &rows);
}

fn row(app: &App, user: &TrashedUser, specs: &[&Spec], width: u16, theme: Theme) -> Row {
    let marked = app.trash.marks.contains(&user.id);
    Row {
        cells: specs
            .iter()
            .map(|s| cell(app, user, s.column, width, marked, theme))
            .collect(),
        marked,
        style: Style::default(),
    }
}

fn cell(
    app: &App,
    user: &TrashedUser,
    column: TrashCol,
    width: u16,
    marked: bool,
    theme: Theme,
) -> Cell {
    match column {
        TrashCol::Id => Cell::styled(
            &user.id,
            if marked {
                theme.marked()
            } else {
                Style::default()
            },
        ),
        TrashCol::Organization if user.organization.is_empty() => {
            Cell::styled(organization_name(&user.organization), theme.dim())
        }
        TrashCol::Organization => Cell::plain(&user.organization),
        TrashCol::Models => Cell::plain(user.models.join(",")),
        TrashCol::Key => match &user.key_hint {
            Some(hint) => Cell::plain(hint),
            None => Cell::styled("-", theme.dim()),
        },
        TrashCol::Deleted => Cell::plain(deleted_text(user.deleted_at, app.now)),
        TrashCol::By => Cell::plain(&user.deleted_by),
        TrashCol::Purge => {
            let short = width < LONG_TIMES_FROM_WIDTH;
            let soon = user.purge_after - app.now < chrono::Duration::days(1);
            Cell::styled(
                purge_text(user.purge_after, app.now, short),
                if soon { theme.warn() } else { Style::default() },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_drop_models_and_who_deleted() {
        let names = |w| shown(w).iter().map(|s| s.def.heading).collect::<Vec<_>>();
        assert_eq!(
            names(80),
            vec!["id", "organization", "key", "deleted", "purged"]
        );
        assert_eq!(
            names(160),
            vec![
                "id",
                "organization",
                "models",
                "key",
                "deleted",
                "by",
                "purged"
            ]
        );
    }
}
