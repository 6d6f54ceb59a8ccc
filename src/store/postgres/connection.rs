//! A writer's PostgreSQL connection and the arguments its statements own while in flight,
//! shared by the pipe of each job (`pipe.rs`) and the statements a batch's jobs share
//! (`shared.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::store::exec::Arg;

/// One connection, shared by the jobs of a batch running side by side.
pub struct Connection {
    pub(super) client: Client,
    /// Prepared statements by (SQL text's address and length, argument types).
    pub(super) statements: Mutex<HashMap<(usize, usize, u128), Statement>>,
}

impl Connection {
    pub fn new(client: Client) -> Arc<Self> {
        Arc::new(Self {
            client,
            statements: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// An argument owned by a statement in flight.
pub(super) enum Owned {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bool(bool),
    Ints(Vec<Option<i64>>),
    Reals(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
    Bools(Vec<bool>),
}

impl Owned {
    pub(super) fn of(a: &Arg<'_>) -> Self {
        match *a {
            Arg::Int(v) => Owned::Int(v),
            Arg::Real(v) => Owned::Real(v),
            Arg::Text(v) => Owned::Text(v.map(str::to_owned)),
            Arg::Bool(v) => Owned::Bool(v),
            Arg::Ints(v) => Owned::Ints(v.to_vec()),
            Arg::Reals(v) => Owned::Reals(v.to_vec()),
            Arg::Texts(v) => Owned::Texts(v.iter().map(|t| t.map(str::to_owned)).collect()),
            Arg::Bools(v) => Owned::Bools(v.to_vec()),
        }
    }

    /// The length of a list; `None` for a single value.
    pub(super) fn len(&self) -> Option<usize> {
        match self {
            Owned::Ints(v) => Some(v.len()),
            Owned::Reals(v) => Some(v.len()),
            Owned::Texts(v) => Some(v.len()),
            Owned::Bools(v) => Some(v.len()),
            Owned::Int(_) | Owned::Real(_) | Owned::Text(_) | Owned::Bool(_) => None,
        }
    }

    /// Append `more`'s elements to this list: false, and nothing appended, unless both are
    /// lists of one type.
    pub(super) fn append(&mut self, more: &mut Owned) -> bool {
        match (self, more) {
            (Owned::Ints(a), Owned::Ints(b)) => a.append(b),
            (Owned::Reals(a), Owned::Reals(b)) => a.append(b),
            (Owned::Texts(a), Owned::Texts(b)) => a.append(b),
            (Owned::Bools(a), Owned::Bools(b)) => a.append(b),
            _ => return false,
        }
        true
    }

    pub(super) fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Owned::Int(v) => v,
            Owned::Real(v) => v,
            Owned::Text(v) => v,
            Owned::Bool(v) => v,
            Owned::Ints(v) => v,
            Owned::Reals(v) => v,
            Owned::Texts(v) => v,
            Owned::Bools(v) => v,
        }
    }
}
