//! [`Batch`]: many statements, or one statement with many parameter sets, sent in one call.

use crate::value::Value;

/// One step of a [`Batch`].
#[derive(Debug, Clone, PartialEq)]
pub enum BatchStep {
    /// One statement, run once for each parameter set, in order.
    Statement {
        /// The SQL text of a single statement.
        sql: String,
        /// The parameter sets; each runs the statement once.
        param_sets: Vec<Vec<Value>>,
    },
    /// Statements without parameters, separated by `;` (DDL, pragmas).
    Script(String),
}

/// Work sent to a driver in one call. A batch is all or nothing: when any step fails, none of
/// its steps leaves an effect, whether or not a transaction is open around it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    steps: Vec<BatchStep>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one statement run once with `params`.
    #[must_use]
    pub fn statement(mut self, sql: impl Into<String>, params: Vec<Value>) -> Self {
        self.push(sql, params);
        self
    }

    /// Adds one statement run once per parameter set.
    #[must_use]
    pub fn many(mut self, sql: impl Into<String>, param_sets: Vec<Vec<Value>>) -> Self {
        self.push_many(sql, param_sets);
        self
    }

    /// Adds a parameterless script.
    #[must_use]
    pub fn script(mut self, sql: impl Into<String>) -> Self {
        self.steps.push(BatchStep::Script(sql.into()));
        self
    }

    /// Adds one statement run once with `params`.
    pub fn push(&mut self, sql: impl Into<String>, params: Vec<Value>) {
        self.steps.push(BatchStep::Statement {
            sql: sql.into(),
            param_sets: vec![params],
        });
    }

    /// Adds one statement run once per parameter set.
    pub fn push_many(&mut self, sql: impl Into<String>, param_sets: Vec<Vec<Value>>) {
        self.steps.push(BatchStep::Statement {
            sql: sql.into(),
            param_sets,
        });
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[BatchStep] {
        &self.steps
    }

    /// Takes the steps out.
    pub fn into_steps(self) -> Vec<BatchStep> {
        self.steps
    }

    /// `true` when there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// What a [`Batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// Rows changed by all steps together.
    pub rows_affected: u64,
    /// Rows changed by each step, in order (a script counts as one step).
    pub per_step: Vec<u64>,
    /// The id of the last row inserted by the batch, where the backend reports one.
    pub last_insert_id: Option<i64>,
}
