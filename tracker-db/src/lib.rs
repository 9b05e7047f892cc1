//! The pipetrack store: events and their projections (runs, tasks, the
//! per-script latest-run table, resource samples) in PostgreSQL or an embedded
//! SQLite file, behind one [`Store`] with the same behaviour on both.
//!
//! Appends are batched, transactional and idempotent: an event is keyed by
//! `(run_id, stream, seq)`, stored once, and the projections change in the
//! same transaction. Migrations are applied with refinery.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tracker_db::DbError> {
//! use tracker_db::{Store, StoreConfig, config::Source};
//!
//! let store = Store::open(&StoreConfig::sqlite("/tmp/pipetrack-demo.db", Source::Code)).await?;
//! store.migrate().await?;
//! for script in store.latest_runs().await? {
//!     println!("{} {:?}", script.run.script_name, script.run.status);
//! }
//! # Ok(()) }
//! ```

mod append;
pub mod config;
mod error;
mod grants;
pub mod mapping;
mod postgres;
mod sqlite;
mod store;
pub mod tls;
pub mod value;

pub use append::{AppendOutcome, Conflict};
pub use config::{ConfigError, StoreConfig};
pub use error::{DbError, Result};
pub use grants::grants_sql;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use store::{Backend, SCHEMA_VERSION, ScriptLatest, Store, StoreCheck};
pub use value::{Row, Value};
