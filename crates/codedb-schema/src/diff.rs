//! `diff(live, desired)`: the ordered plan that turns the live schema into the desired one,
//! each step with its safety class and a line a person can read.
//!
//! Policy (the design brief's answers to Q4 and Q6): objects only in the live database are
//! kept and reported as warnings unless drops are allowed; changes that need a table rebuild
//! are reported as warnings and left alone unless rebuilds are allowed. Column order is not
//! compared.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Column, Index, Schema, Table, Trigger, View, same_name};
use crate::sql;

/// How dangerous a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Safety {
    /// Adds or replaces something without touching data.
    Safe,
    /// Rebuilds a table: copies every row into a new definition.
    Rebuild,
    /// Drops a table or column that holds data.
    Destructive,
}

/// What the plan may do beyond safe steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffOptions {
    /// Drop tables, columns, indexes, views and triggers the desired schema lacks.
    pub allow_drop: bool,
    /// Rebuild tables whose columns or constraints changed.
    pub allow_rebuild: bool,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Create a table.
    CreateTable {
        /// The desired table.
        table: Table,
    },
    /// Drop a table.
    DropTable {
        /// Its name.
        name: String,
    },
    /// Rename a table (a `@renamed from=` hint).
    RenameTable {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Rename a column (a `@renamed from=` hint).
    RenameColumn {
        /// The table (its new name when it is renamed too).
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `ALTER TABLE ... ADD COLUMN` with the desired column definition.
    AddColumn {
        /// The table.
        table: String,
        /// The column's definition text from the desired CREATE TABLE.
        definition: String,
        /// The column's name.
        column: String,
    },
    /// Rebuild a table into its desired definition, copying the rows.
    RebuildTable {
        /// The desired table (its name is the table's name after the rebuild).
        table: Table,
        /// Column copy map: (desired column, live column) for each column that survives.
        copy: Vec<(String, String)>,
        /// Columns of the live table that are dropped.
        dropped: Vec<String>,
        /// Columns whose definition changes.
        modified: Vec<String>,
        /// The CREATE INDEX and CREATE TRIGGER statements to run on this table after the copy.
        recreate: Vec<String>,
        /// Why.
        reasons: Vec<String>,
    },
    /// Create an index.
    CreateIndex {
        /// The index.
        index: Index,
    },
    /// Drop an index.
    DropIndex {
        /// Its name.
        name: String,
    },
    /// Create a view.
    CreateView {
        /// The view.
        view: View,
    },
    /// Drop a view.
    DropView {
        /// Its name.
        name: String,
    },
    /// Create a trigger.
    CreateTrigger {
        /// The trigger.
        trigger: Trigger,
    },
    /// Drop a trigger.
    DropTrigger {
        /// Its name.
        name: String,
    },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What it does.
    pub change: Change,
    /// How dangerous it is.
    pub safety: Safety,
    /// One human-readable line.
    pub description: String,
}

/// A difference a plan left alone, and why: data, never a sentence other code parses back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind of object: `table`, `index`, `view`, `trigger`, `backup`.
    pub object: &'static str,
    /// Its name (a backup's file name).
    pub name: String,
    /// Why it was left alone.
    pub reason: Reason,
    /// The same, in one line for people.
    pub message: String,
}

/// Why a [`Warning`]'s object was left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Not in the desired schema; kept (drops are not allowed).
    NotDesired,
    /// These columns of the table are not in the desired schema; kept.
    ColumnsNotDesired {
        /// The columns.
        columns: Vec<String>,
    },
    /// The table's change needs a rebuild, which is not allowed: left alone.
    NeedsRebuild {
        /// What changed.
        changes: Vec<String>,
    },
    /// An old backup could not be pruned.
    PruneFailed {
        /// Why.
        error: String,
    },
}

impl Warning {
    /// A warning about `object` `name` for `reason`.
    pub fn new(object: &'static str, name: &str, reason: Reason) -> Warning {
        let message = match &reason {
            Reason::NotDesired => format!(
                "{object} {name} is not in the desired schema; kept (allow drops to remove it)"
            ),
            Reason::ColumnsNotDesired { columns } => format!(
                "{object} {name}: column(s) {} not in the desired schema; kept (allow drops to remove them)",
                columns.join(", ")
            ),
            Reason::NeedsRebuild { changes } => format!(
                "{object} {name} needs a rebuild ({}); left alone (allow rebuilds to apply it)",
                changes.join("; ")
            ),
            Reason::PruneFailed { error } => {
                format!("pruning the old {object} {name} failed: {error}")
            }
        };
        Warning {
            object,
            name: name.to_owned(),
            reason,
            message,
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An ordered list of steps plus what was left alone and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Steps in the order they must run.
    pub steps: Vec<Step>,
    /// Differences the options did not allow to change.
    pub warnings: Vec<Warning>,
    /// Tables whose change needs a rebuild that the options did not allow (each also has a
    /// warning saying why).
    pub needs_rebuild: Vec<String>,
}

impl Plan {
    /// `true` when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The most dangerous step's class, if any.
    pub fn max_safety(&self) -> Option<Safety> {
        self.steps.iter().map(|s| s.safety).max()
    }
}

/// Accumulates steps into their phase, so the plan runs in a valid order.
#[derive(Default)]
struct Phases {
    drop_triggers: Vec<Step>,
    drop_views: Vec<Step>,
    drop_indexes: Vec<Step>,
    renames: Vec<Step>,
    create_tables: Vec<Step>,
    add_columns: Vec<Step>,
    rebuilds: Vec<Step>,
    drop_tables: Vec<Step>,
    create_indexes: Vec<Step>,
    create_views: Vec<Step>,
    create_triggers: Vec<Step>,
    needs_rebuild: Vec<String>,
}

fn step(change: Change, safety: Safety, description: String) -> Step {
    Step {
        change,
        safety,
        description,
    }
}

/// Computes the plan from `live` to `desired`.
pub fn diff(live: &Schema, desired: &Schema, options: DiffOptions) -> Plan {
    let mut phases = Phases::default();
    let mut warnings: Vec<Warning> = Vec::new();
    // Tables: desired name -> live table it corresponds to.
    let mut rebuilt: Vec<String> = Vec::new();
    for want in &desired.tables {
        let live_table = live.table(&want.name).or_else(|| {
            want.renamed_from
                .as_deref()
                .and_then(|old| live.table(old))
                .filter(|_| live.table(&want.name).is_none())
        });
        match live_table {
            None => phases.create_tables.push(step(
                Change::CreateTable {
                    table: want.clone(),
                },
                Safety::Safe,
                format!("create table {}", want.name),
            )),
            Some(have) => {
                if !same_name(&have.name, &want.name) {
                    phases.renames.push(step(
                        Change::RenameTable {
                            from: have.name.clone(),
                            to: want.name.clone(),
                        },
                        Safety::Safe,
                        format!("rename table {} to {}", have.name, want.name),
                    ));
                }
                if diff_table(
                    live,
                    desired,
                    have,
                    want,
                    options,
                    &mut phases,
                    &mut warnings,
                ) {
                    rebuilt.push(want.name.to_lowercase());
                }
            }
        }
    }
    for have in &live.tables {
        let kept = desired.table(&have.name).is_some()
            || desired.tables.iter().any(|t| {
                t.renamed_from
                    .as_deref()
                    .is_some_and(|old| same_name(old, &have.name))
            });
        if kept {
            continue;
        }
        if options.allow_drop {
            let safety = if have.has_rows {
                Safety::Destructive
            } else {
                Safety::Safe
            };
            let rows = if have.has_rows {
                " (it holds rows)"
            } else {
                ""
            };
            phases.drop_tables.push(step(
                Change::DropTable {
                    name: have.name.clone(),
                },
                safety,
                format!("drop table {}{rows}", have.name),
            ));
        } else {
            warnings.push(Warning::new("table", &have.name, Reason::NotDesired));
        }
    }
    let dropped_tables: Vec<String> = phases
        .drop_tables
        .iter()
        .filter_map(|s| match &s.change {
            Change::DropTable { name } => Some(name.to_lowercase()),
            _ => None,
        })
        .collect();
    diff_indexes(
        live,
        desired,
        options,
        &rebuilt,
        &dropped_tables,
        &mut phases,
        &mut warnings,
    );
    diff_named(
        (&live.views, &desired.views),
        options,
        (&mut phases.drop_views, &mut phases.create_views),
        &mut warnings,
    );
    // Triggers on a rebuilt table vanish with it; the rebuild recreates them.
    let live_triggers: Vec<Trigger> = live
        .triggers
        .iter()
        .filter(|t| !rebuilt.contains(&t.table.to_lowercase()))
        .cloned()
        .collect();
    let desired_triggers: Vec<Trigger> = desired
        .triggers
        .iter()
        .filter(|t| !rebuilt.contains(&t.table.to_lowercase()))
        .cloned()
        .collect();
    diff_named(
        (&live_triggers, &desired_triggers),
        options,
        (&mut phases.drop_triggers, &mut phases.create_triggers),
        &mut warnings,
    );
    let Phases {
        drop_triggers,
        drop_views,
        drop_indexes,
        renames,
        create_tables,
        add_columns,
        rebuilds,
        drop_tables,
        create_indexes,
        create_views,
        create_triggers,
        needs_rebuild,
    } = phases;
    let steps = [
        drop_triggers,
        drop_views,
        drop_indexes,
        renames,
        create_tables,
        add_columns,
        rebuilds,
        drop_tables,
        create_indexes,
        create_views,
        create_triggers,
    ]
    .into_iter()
    .flatten()
    .collect();
    Plan {
        steps,
        warnings,
        needs_rebuild,
    }
}

/// Compares one table pair; pushes its steps. Returns `true` when the table is rebuilt.
fn diff_table(
    live: &Schema,
    desired: &Schema,
    have: &Table,
    want: &Table,
    options: DiffOptions,
    phases: &mut Phases,
    warnings: &mut Vec<Warning>,
) -> bool {
    let elements = sql::table_elements(&want.sql);
    let definition = |column: &str| {
        elements
            .iter()
            .find(|e| sql::element_name(&e.tokens).is_some_and(|n| same_name(n, column)))
            .map(|e| e.text.clone())
    };
    let mut reasons = Vec::new();
    let mut copy = Vec::new();
    let mut renames = Vec::new();
    let mut added: Vec<&Column> = Vec::new();
    let mut modified = Vec::new();
    for col in &want.columns {
        let from_live = have.column(&col.name).or_else(|| {
            col.renamed_from
                .as_deref()
                .and_then(|old| have.column(old))
                .filter(|_| have.column(&col.name).is_none())
        });
        match from_live {
            None => added.push(col),
            Some(old) => {
                if !same_name(&old.name, &col.name) {
                    renames.push((old.name.clone(), col.name.clone()));
                }
                copy.push((col.name.clone(), old.name.clone()));
                let changes = column_changes(old, col);
                if !changes.is_empty() {
                    modified.push(col.name.clone());
                }
                reasons.extend(
                    changes
                        .into_iter()
                        .map(|c| format!("column {}: {c}", col.name)),
                );
            }
        }
    }
    let dropped: Vec<String> = have
        .columns
        .iter()
        .filter(|c| !copy.iter().any(|(_, old)| same_name(old, &c.name)))
        .map(|c| c.name.clone())
        .collect();
    // Added columns that ALTER TABLE ADD COLUMN can take; the others need a rebuild.
    let mut addable = Vec::new();
    for col in &added {
        match definition(&col.name).filter(|_| can_add(want, col)) {
            Some(def) => addable.push((col.name.clone(), def)),
            None => reasons.push(format!("column {} cannot be added in place", col.name)),
        }
    }
    reasons.extend(table_changes(
        have,
        want,
        &addable
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_str()))
            .collect::<Vec<_>>(),
    ));

    let drop_reason =
        (!dropped.is_empty()).then(|| format!("drop column(s) {}", dropped.join(", ")));
    let needs_rebuild = !reasons.is_empty();
    let may_drop = dropped.is_empty() || options.allow_drop;
    if needs_rebuild || (!dropped.is_empty() && options.allow_drop) {
        if (needs_rebuild && !options.allow_rebuild) || !may_drop {
            // Leave the table alone but for what is safe.
            if !dropped.is_empty() && !options.allow_drop {
                warnings.push(Warning::new(
                    "table",
                    &want.name,
                    Reason::ColumnsNotDesired {
                        columns: dropped.clone(),
                    },
                ));
            }
            if needs_rebuild && !options.allow_rebuild {
                phases.needs_rebuild.push(want.name.clone());
                warnings.push(Warning::new(
                    "table",
                    &want.name,
                    Reason::NeedsRebuild {
                        changes: reasons.clone(),
                    },
                ));
            }
            push_renames_and_adds(want, &renames, &addable, phases);
            return false;
        }
        let mut all_reasons = reasons;
        all_reasons.extend(drop_reason);
        // Column renames happen through the copy map.
        let recreate = recreated_on(live, desired, have, want, options);
        let safety = if !dropped.is_empty() && have.has_rows {
            Safety::Destructive
        } else {
            Safety::Rebuild
        };
        phases.rebuilds.push(step(
            Change::RebuildTable {
                table: want.clone(),
                copy,
                dropped,
                modified,
                recreate,
                reasons: all_reasons.clone(),
            },
            safety,
            format!("rebuild table {} ({})", want.name, all_reasons.join("; ")),
        ));
        return true;
    }
    if !dropped.is_empty() {
        warnings.push(Warning::new(
            "table",
            &want.name,
            Reason::ColumnsNotDesired { columns: dropped },
        ));
    }
    push_renames_and_adds(want, &renames, &addable, phases);
    false
}

fn push_renames_and_adds(
    want: &Table,
    renames: &[(String, String)],
    addable: &[(String, String)],
    phases: &mut Phases,
) {
    for (from, to) in renames {
        phases.renames.push(step(
            Change::RenameColumn {
                table: want.name.clone(),
                from: from.clone(),
                to: to.clone(),
            },
            Safety::Safe,
            format!("rename column {}.{from} to {to}", want.name),
        ));
    }
    for (column, definition) in addable {
        phases.add_columns.push(step(
            Change::AddColumn {
                table: want.name.clone(),
                definition: definition.clone(),
                column: column.clone(),
            },
            Safety::Safe,
            format!("add column {}.{column}", want.name),
        ));
    }
}

/// The names of the indexes and triggers to create on `want` after it is rebuilt: the
/// desired ones, plus live ones the desired schema lacks when drops are not allowed.
fn recreated_on(
    live: &Schema,
    desired: &Schema,
    have: &Table,
    want: &Table,
    options: DiffOptions,
) -> Vec<String> {
    let mut names: Vec<String> = desired
        .indexes
        .iter()
        .filter(|i| same_name(&i.table, &want.name))
        .map(|i| i.sql.clone())
        .chain(
            desired
                .triggers
                .iter()
                .filter(|t| same_name(&t.table, &want.name))
                .map(|t| t.sql.clone()),
        )
        .collect();
    if !options.allow_drop {
        names.extend(
            live.indexes
                .iter()
                .filter(|i| same_name(&i.table, &have.name) && desired.index(&i.name).is_none())
                .map(|i| i.sql.clone()),
        );
        names.extend(
            live.triggers
                .iter()
                .filter(|t| same_name(&t.table, &have.name) && desired.trigger(&t.name).is_none())
                .map(|t| t.sql.clone()),
        );
    }
    names
}

/// Whether `ALTER TABLE ADD COLUMN` accepts `col` as part of `table`.
fn can_add(table: &Table, col: &Column) -> bool {
    let in_key = table.primary_key.iter().any(|k| same_name(k, &col.name))
        || table
            .uniques
            .iter()
            .any(|u| u.iter().any(|k| same_name(k, &col.name)));
    let constant_default = col.default.as_deref().is_none_or(|d| {
        let d = d.trim();
        !d.starts_with('(') && !d.contains("current_")
    });
    let not_null_ok = !col.not_null || col.default.as_deref().is_some_and(|d| d.trim() != "null");
    let generated_ok = col.generated.as_ref().is_none_or(|g| !g.stored);
    !in_key && constant_default && not_null_ok && generated_ok
}

fn column_changes(old: &Column, new: &Column) -> Vec<String> {
    let mut out = Vec::new();
    if old.decl_type != new.decl_type {
        out.push(format!(
            "type {} -> {}",
            show(&old.decl_type),
            show(&new.decl_type)
        ));
    }
    if old.not_null != new.not_null {
        out.push(if new.not_null {
            "becomes NOT NULL".into()
        } else {
            "drops NOT NULL".into()
        });
    }
    if old.default != new.default {
        out.push(format!(
            "default {} -> {}",
            old.default.as_deref().unwrap_or("none"),
            new.default.as_deref().unwrap_or("none")
        ));
    }
    if old.collation != new.collation {
        out.push(format!("collation {} -> {}", old.collation, new.collation));
    }
    if old.generated != new.generated {
        out.push("generated expression changes".into());
    }
    out
}

fn show(t: &str) -> &str {
    if t.is_empty() { "(none)" } else { t }
}

fn names_eq(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_name(x, y))
}

/// Table-level differences, ignoring those an in-place added column brings along.
fn table_changes(have: &Table, want: &Table, added: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    if !names_eq(&have.primary_key, &want.primary_key) {
        out.push(format!(
            "primary key ({}) -> ({})",
            have.primary_key.join(", "),
            want.primary_key.join(", ")
        ));
    }
    if have.autoincrement != want.autoincrement {
        out.push("AUTOINCREMENT changes".into());
    }
    if have.strict != want.strict {
        out.push(if want.strict {
            "becomes STRICT".into()
        } else {
            "stops being STRICT".into()
        });
    }
    if have.without_rowid != want.without_rowid {
        out.push("WITHOUT ROWID changes".into());
    }
    let is_added = |cols: &[String]| {
        cols.iter()
            .all(|c| added.iter().any(|(n, _)| same_name(n, c)))
    };
    let fk_key = |fk: &crate::model::ForeignKey| {
        format!(
            "{}>{}({})u{}d{}",
            fk.columns.join(",").to_lowercase(),
            fk.ref_table.to_lowercase(),
            fk.ref_columns.join(",").to_lowercase(),
            fk.on_update,
            fk.on_delete
        )
    };
    let mut have_fks: Vec<String> = have.foreign_keys.iter().map(fk_key).collect();
    let mut want_fks: Vec<String> = want
        .foreign_keys
        .iter()
        .filter(|fk| !is_added(&fk.columns))
        .map(fk_key)
        .collect();
    have_fks.sort();
    want_fks.sort();
    if have_fks != want_fks {
        out.push("foreign keys change".into());
    }
    let key = |u: &Vec<String>| {
        u.iter()
            .map(|c| c.to_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut have_u: Vec<String> = have.uniques.iter().map(key).collect();
    let mut want_u: Vec<String> = want.uniques.iter().map(key).collect();
    have_u.sort();
    want_u.sort();
    if have_u != want_u {
        out.push("UNIQUE constraints change".into());
    }
    let added_checks: Vec<String> = added
        .iter()
        .flat_map(|(_, def)| sql::check_constraints(&format!("x({def})")))
        .collect();
    let mut have_c = have.checks.clone();
    let mut want_c: Vec<String> = want
        .checks
        .iter()
        .filter(|c| !added_checks.contains(c))
        .cloned()
        .collect();
    have_c.sort();
    want_c.sort();
    if have_c != want_c {
        out.push("CHECK constraints change".into());
    }
    out
}

/// An object compared by name and SQL text (an index, a view, a trigger): a changed one is
/// dropped and created again.
trait Named: Clone {
    /// `index`, `view`, `trigger`.
    const WHAT: &'static str;
    fn name(&self) -> &String;
    fn sql(&self) -> &String;
    fn create(&self) -> Change;
    fn drop(name: String) -> Change;
}

impl Named for Index {
    const WHAT: &'static str = "index";
    fn name(&self) -> &String {
        &self.name
    }
    fn sql(&self) -> &String {
        &self.sql
    }
    fn create(&self) -> Change {
        Change::CreateIndex {
            index: self.clone(),
        }
    }
    fn drop(name: String) -> Change {
        Change::DropIndex { name }
    }
}

impl Named for View {
    const WHAT: &'static str = "view";
    fn name(&self) -> &String {
        &self.name
    }
    fn sql(&self) -> &String {
        &self.sql
    }
    fn create(&self) -> Change {
        Change::CreateView { view: self.clone() }
    }
    fn drop(name: String) -> Change {
        Change::DropView { name }
    }
}

impl Named for Trigger {
    const WHAT: &'static str = "trigger";
    fn name(&self) -> &String {
        &self.name
    }
    fn sql(&self) -> &String {
        &self.sql
    }
    fn create(&self) -> Change {
        Change::CreateTrigger {
            trigger: self.clone(),
        }
    }
    fn drop(name: String) -> Change {
        Change::DropTrigger { name }
    }
}

/// Compares `live` and `desired` objects of one kind by name and SQL text.
fn diff_named<T: Named>(
    (live, desired): (&[T], &[T]),
    options: DiffOptions,
    (drops, creates): (&mut Vec<Step>, &mut Vec<Step>),
    warnings: &mut Vec<Warning>,
) {
    let what = T::WHAT;
    let key = |t: &T| (t.name().clone(), t.sql().clone());
    let create = |t: &T| t.create();
    let drop = T::drop;
    let by_name: BTreeMap<String, &T> = live.iter().map(|t| (key(t).0.to_lowercase(), t)).collect();
    for want in desired {
        let (name, sql_text) = key(want);
        match by_name.get(&name.to_lowercase()) {
            Some(have) if sql::normalize(&key(have).1) == sql::normalize(&sql_text) => {}
            Some(_) => {
                drops.push(step(
                    drop(name.clone()),
                    Safety::Safe,
                    format!("drop {what} {name} (changed)"),
                ));
                creates.push(step(
                    create(want),
                    Safety::Safe,
                    format!("create {what} {name} (changed)"),
                ));
            }
            None => creates.push(step(
                create(want),
                Safety::Safe,
                format!("create {what} {name}"),
            )),
        }
    }
    for have in live {
        let name = key(have).0;
        if desired.iter().any(|d| same_name(d.name(), &name)) {
            continue;
        }
        if options.allow_drop {
            drops.push(step(
                drop(name.clone()),
                Safety::Safe,
                format!("drop {what} {name}"),
            ));
        } else {
            warnings.push(Warning::new(what, &name, Reason::NotDesired));
        }
    }
}

/// Indexes: renamed ones (hints) are dropped and created under the new name; those on a
/// rebuilt or dropped table are left to the rebuild or the drop.
#[allow(clippy::too_many_arguments)]
fn diff_indexes(
    live: &Schema,
    desired: &Schema,
    options: DiffOptions,
    rebuilt: &[String],
    dropped_tables: &[String],
    phases: &mut Phases,
    warnings: &mut Vec<Warning>,
) {
    let on = |list: &[String], table: &str| list.contains(&table.to_lowercase());
    let live_idx: Vec<Index> = live
        .indexes
        .iter()
        .filter(|i| {
            !on(rebuilt, &live_table_after_rename(desired, &i.table))
                && !on(dropped_tables, &i.table)
        })
        .cloned()
        .collect();
    let desired_idx: Vec<Index> = desired
        .indexes
        .iter()
        .filter(|i| !on(rebuilt, &i.table))
        .cloned()
        .collect();
    // Compare without the index name for renamed ones: rename = drop old + create new.
    diff_named(
        (&live_idx, &desired_idx),
        options,
        (&mut phases.drop_indexes, &mut phases.create_indexes),
        warnings,
    );
    // A renamed index's old name is dropped even without allow_drop: the hint asks for it.
    for want in &desired_idx {
        if let Some(old) = want.renamed_from.as_deref()
            && live.index(&want.name).is_none()
            && live.index(old).is_some()
            && !options.allow_drop
        {
            warnings.retain(|w| {
                !(w.object == "index" && same_name(&w.name, old) && w.reason == Reason::NotDesired)
            });
            phases.drop_indexes.push(step(
                Change::DropIndex {
                    name: old.to_owned(),
                },
                Safety::Safe,
                format!("drop index {old} (renamed to {})", want.name),
            ));
        }
    }
}

/// The desired name of the live table `name` (following a rename hint), lowercased.
fn live_table_after_rename(desired: &Schema, name: &str) -> String {
    desired
        .tables
        .iter()
        .find(|t| {
            t.renamed_from
                .as_deref()
                .is_some_and(|old| same_name(old, name))
        })
        .map_or_else(|| name.to_lowercase(), |t| t.name.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, decl_type: &str) -> Column {
        Column {
            name: name.into(),
            decl_type: decl_type.into(),
            collation: "BINARY".into(),
            ..Column::default()
        }
    }

    fn table(name: &str, columns: Vec<Column>) -> Table {
        let defs: Vec<String> = columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.decl_type))
            .collect();
        Table {
            name: name.into(),
            sql: format!("CREATE TABLE {name} ({})", defs.join(", ")),
            columns,
            ..Table::default()
        }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema {
            tables,
            ..Schema::default()
        }
    }

    fn lines(plan: &Plan) -> Vec<&str> {
        plan.steps.iter().map(|s| s.description.as_str()).collect()
    }

    const ALL: DiffOptions = DiffOptions {
        allow_drop: true,
        allow_rebuild: true,
    };

    #[test]
    fn the_same_schema_is_no_plan() {
        let s = schema(vec![table("t", vec![column("a", "INTEGER")])]);
        let plan = diff(&s, &s, ALL);
        assert!(plan.is_empty() && plan.warnings.is_empty(), "{plan:?}");
    }

    #[test]
    fn an_added_nullable_column_is_an_alter_not_a_rebuild() {
        let live = schema(vec![table("t", vec![column("a", "INTEGER")])]);
        let desired = schema(vec![table(
            "t",
            vec![column("a", "INTEGER"), column("b", "TEXT")],
        )]);
        let plan = diff(&live, &desired, DiffOptions::default());
        assert_eq!(lines(&plan), ["add column t.b"]);
        assert_eq!(plan.max_safety(), Some(Safety::Safe));
    }

    #[test]
    fn a_type_change_is_a_rebuild_or_a_structured_warning() {
        let live = schema(vec![table("t", vec![column("a", "INTEGER")])]);
        let desired = schema(vec![table("t", vec![column("a", "REAL")])]);
        let plan = diff(&live, &desired, ALL);
        assert_eq!(
            lines(&plan),
            ["rebuild table t (column a: type INTEGER -> REAL)"]
        );
        let plan = diff(&live, &desired, DiffOptions::default());
        assert!(plan.is_empty());
        assert_eq!(plan.needs_rebuild, ["t"]);
        assert_eq!(
            plan.warnings,
            [Warning::new(
                "table",
                "t",
                Reason::NeedsRebuild {
                    changes: vec!["column a: type INTEGER -> REAL".into()]
                }
            )]
        );
    }

    #[test]
    fn a_table_only_in_the_database_is_kept_unless_drops_are_allowed() {
        let live = schema(vec![table("t", vec![column("a", "INTEGER")])]);
        let desired = schema(vec![]);
        let plan = diff(&live, &desired, DiffOptions::default());
        assert!(plan.is_empty());
        assert_eq!(plan.warnings[0].object, "table");
        assert_eq!(plan.warnings[0].reason, Reason::NotDesired);
        assert_eq!(lines(&diff(&live, &desired, ALL)), ["drop table t"]);
    }

    #[test]
    fn a_renamed_index_drops_its_old_name_without_a_kept_warning() {
        let index = |name: &str, renamed: Option<&str>| Index {
            name: name.into(),
            table: "t".into(),
            unique: false,
            sql: format!("CREATE INDEX {name} ON t(a)"),
            renamed_from: renamed.map(Into::into),
        };
        let live = Schema {
            indexes: vec![index("old_i", None)],
            ..schema(vec![table("t", vec![column("a", "INTEGER")])])
        };
        let desired = Schema {
            indexes: vec![index("new_i", Some("old_i"))],
            ..schema(vec![table("t", vec![column("a", "INTEGER")])])
        };
        let plan = diff(&live, &desired, DiffOptions::default());
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        let steps = lines(&plan);
        assert!(
            steps.contains(&"drop index old_i (renamed to new_i)"),
            "{steps:?}"
        );
        assert!(steps.contains(&"create index new_i"), "{steps:?}");
    }

    #[test]
    fn a_renamed_column_is_renamed_not_dropped_and_added() {
        let live = schema(vec![table("t", vec![column("a", "INTEGER")])]);
        let mut renamed = column("b", "INTEGER");
        renamed.renamed_from = Some("a".into());
        let desired = schema(vec![table("t", vec![renamed])]);
        assert_eq!(
            lines(&diff(&live, &desired, DiffOptions::default())),
            ["rename column t.a to b"]
        );
    }
}
