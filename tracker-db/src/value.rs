//! Backend-neutral SQL values and rows, so every query in this crate and in
//! `monitor-queries` is written once and runs on both Postgres and SQLite.
//!
//! SQL is written with Postgres placeholders (`$1`, `$2` ...); the SQLite backend
//! rewrites them to `?1`, `?2`. Times are stored by SQLite as fixed-width RFC 3339
//! text (`2026-03-01T06:00:00.000000Z`), so they compare and sort as text.

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use crate::error::{DbError, Result};

/// A typed SQL value: a parameter or a result cell. `None` is a typed NULL.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    Uuid(Option<Uuid>),
    Json(Option<serde_json::Value>),
}

impl Value {
    /// Whether this is a NULL of any type.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Text(v) => v.is_none(),
            Value::Int(v) => v.is_none(),
            Value::Real(v) => v.is_none(),
            Value::Bool(v) => v.is_none(),
            Value::Time(v) => v.is_none(),
            Value::Uuid(v) => v.is_none(),
            Value::Json(v) => v.is_none(),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident $(via $conv:expr)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(Some(value_from!(@conv v $(, $conv)?))) }
        }
        impl From<Option<$t>> for Value {
            fn from(v: Option<$t>) -> Self { Value::$variant(v.map(|v| value_from!(@conv v $(, $conv)?))) }
        }
    )*};
    (@conv $v:ident) => { $v };
    (@conv $v:ident, $conv:expr) => { $conv($v) };
}

value_from! {
    String => Text,
    &str => Text via str::to_owned,
    i64 => Int,
    i32 => Int via i64::from,
    u32 => Int via i64::from,
    u16 => Int via i64::from,
    u64 => Int via |v: u64| i64::try_from(v).unwrap_or(i64::MAX),
    f64 => Real,
    bool => Bool,
    DateTime<Utc> => Time,
    Uuid => Uuid,
    serde_json::Value => Json,
}

/// Formats a time the way the SQLite backend stores it.
pub fn sqlite_time(at: DateTime<Utc>) -> String {
    // `2026-03-01T06:00:00.000000Z`: fixed width, so text order is time order.
    // (The RFC 3339 writer is several times faster than a strftime pattern,
    // and this runs for every stored event.)
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok().map(|n| n.and_utc()))
}

/// One result row: column names and values, readable by name with typed getters
/// that smooth over the two backends (SQLite returns times as text, booleans as
/// integers, UUIDs as text).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    columns: std::sync::Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(columns: std::sync::Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// The raw value of a column.
    pub fn value(&self, column: &str) -> Result<&Value> {
        self.columns
            .iter()
            .position(|name| name == column)
            .map(|i| &self.values[i])
            .ok_or_else(|| DbError::Corrupt(format!("query result has no column {column:?}")))
    }

    fn mismatch(column: &str, wanted: &str, got: &Value) -> DbError {
        DbError::Corrupt(format!("column {column} holds {got:?}, expected {wanted}"))
    }

    /// A text column.
    pub fn text(&self, column: &str) -> Result<Option<String>> {
        match self.value(column)? {
            Value::Text(v) => Ok(v.clone()),
            Value::Uuid(v) => Ok(v.map(|u| u.to_string())),
            Value::Int(v) => Ok(v.map(|i| i.to_string())),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "text", other)),
        }
    }

    /// An integer column.
    pub fn int(&self, column: &str) -> Result<Option<i64>> {
        match self.value(column)? {
            Value::Int(v) => Ok(*v),
            Value::Bool(v) => Ok(v.map(i64::from)),
            Value::Real(Some(r)) if r.fract() == 0.0 => Ok(Some(*r as i64)),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "integer", other)),
        }
    }

    /// A floating-point column (integers are widened).
    pub fn real(&self, column: &str) -> Result<Option<f64>> {
        match self.value(column)? {
            Value::Real(v) => Ok(*v),
            Value::Int(v) => Ok(v.map(|i| i as f64)),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "real", other)),
        }
    }

    /// A boolean column (SQLite integers 0/1).
    pub fn boolean(&self, column: &str) -> Result<Option<bool>> {
        match self.value(column)? {
            Value::Bool(v) => Ok(*v),
            Value::Int(v) => Ok(v.map(|i| i != 0)),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "boolean", other)),
        }
    }

    /// A timestamp column (SQLite text).
    pub fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        match self.value(column)? {
            Value::Time(v) => Ok(*v),
            Value::Text(Some(text)) => parse_time(text)
                .map(Some)
                .ok_or_else(|| DbError::Corrupt(format!("column {column} holds {text:?}, not a timestamp"))),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "timestamp", other)),
        }
    }

    /// A UUID column (SQLite text).
    pub fn uuid(&self, column: &str) -> Result<Option<Uuid>> {
        match self.value(column)? {
            Value::Uuid(v) => Ok(*v),
            Value::Text(Some(text)) => Uuid::parse_str(text)
                .map(Some)
                .map_err(|_| DbError::Corrupt(format!("column {column} holds {text:?}, not a UUID"))),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "uuid", other)),
        }
    }

    /// A JSON column (SQLite text).
    pub fn json(&self, column: &str) -> Result<Option<serde_json::Value>> {
        match self.value(column)? {
            Value::Json(v) => Ok(v.clone()),
            Value::Text(Some(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|err| DbError::Corrupt(format!("column {column} is not JSON: {err}"))),
            other if other.is_null() => Ok(None),
            other => Err(Self::mismatch(column, "json", other)),
        }
    }

    /// A required column: `None` becomes an error naming the column.
    pub fn required<T>(column: &str, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| DbError::Corrupt(format!("column {column} is NULL")))
    }
}

// ----------------------------------------------------------------- SQLite

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sv};
        let owned = match self {
            Value::Text(Some(s)) => return Ok(ToSqlOutput::from(s.as_str())),
            Value::Int(Some(i)) => Sv::Integer(*i),
            Value::Real(Some(r)) => Sv::Real(*r),
            Value::Bool(Some(b)) => Sv::Integer(i64::from(*b)),
            Value::Time(Some(t)) => Sv::Text(sqlite_time(*t)),
            Value::Uuid(Some(u)) => Sv::Text(u.hyphenated().to_string()),
            Value::Json(Some(j)) => Sv::Text(j.to_string()),
            _ => Sv::Null,
        };
        Ok(ToSqlOutput::Owned(owned))
    }
}

pub(crate) fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Text(None),
        ValueRef::Integer(i) => Value::Int(Some(i)),
        ValueRef::Real(r) => Value::Real(Some(r)),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(Some(String::from_utf8_lossy(t).into_owned())),
    }
}

/// Rewrites `$1`-style placeholders to SQLite's `?1`.
pub(crate) fn sqlite_sql(sql: &str) -> String {
    // Byte-wise: `$`, `?` and `'` are ASCII, so swapping one for the other keeps UTF-8 valid.
    let mut out = sql.as_bytes().to_vec();
    let mut in_string = false;
    for i in 0..out.len() {
        match out[i] {
            b'\'' => in_string = !in_string,
            b'$' if !in_string && out.get(i + 1).is_some_and(u8::is_ascii_digit) => out[i] = b'?',
            _ => {}
        }
    }
    String::from_utf8(out).expect("ASCII substitutions keep UTF-8 valid")
}

// ----------------------------------------------------------------- Postgres

impl tokio_postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{ToSql, Type};
        fn checked<T: ToSql>(
            v: &T,
            ty: &Type,
            out: &mut tokio_postgres::types::private::BytesMut,
        ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
        {
            v.to_sql_checked(ty, out)
        }
        match self {
            // Integers bind to any integer column width the query asks for.
            Value::Int(v) if *ty == Type::INT4 => checked(&v.map(|i| i as i32), ty, out),
            Value::Int(v) if *ty == Type::INT2 => checked(&v.map(|i| i as i16), ty, out),
            Value::Int(v) if *ty == Type::FLOAT8 => checked(&v.map(|i| i as f64), ty, out),
            Value::Int(v) => checked(v, ty, out),
            Value::Text(v) => checked(v, ty, out),
            Value::Real(v) => checked(v, ty, out),
            Value::Bool(v) => checked(v, ty, out),
            Value::Time(v) => checked(v, ty, out),
            Value::Uuid(v) => checked(v, ty, out),
            Value::Json(v) => checked(v, ty, out),
        }
    }

    fn accepts(_ty: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

pub(crate) fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Value> {
    use tokio_postgres::types::Type;
    let ty = row.columns()[index].type_();
    let value = match *ty {
        Type::INT8 => Value::Int(row.try_get(index)?),
        Type::INT4 => Value::Int(row.try_get::<_, Option<i32>>(index)?.map(i64::from)),
        Type::INT2 => Value::Int(row.try_get::<_, Option<i16>>(index)?.map(i64::from)),
        Type::FLOAT8 => Value::Real(row.try_get(index)?),
        Type::FLOAT4 => Value::Real(row.try_get::<_, Option<f32>>(index)?.map(f64::from)),
        Type::NUMERIC => {
            return Err(DbError::Corrupt(format!(
                "column {} is numeric: cast it to float8 or int8 in the query",
                row.columns()[index].name()
            )));
        }
        Type::BOOL => Value::Bool(row.try_get(index)?),
        Type::TIMESTAMPTZ => Value::Time(row.try_get(index)?),
        Type::TIMESTAMP => Value::Time(row.try_get::<_, Option<NaiveDateTime>>(index)?.map(|n| n.and_utc())),
        Type::UUID => Value::Uuid(row.try_get(index)?),
        Type::JSON | Type::JSONB => Value::Json(row.try_get(index)?),
        _ => Value::Text(row.try_get(index)?),
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_strings() {
        assert_eq!(sqlite_sql("SELECT $1, '$2', $10 WHERE a = $2"), "SELECT ?1, '$2', ?10 WHERE a = ?2");
        assert_eq!(sqlite_sql("SELECT 'é$1', $1 -- ü"), "SELECT 'é$1', ?1 -- ü");
    }

    #[test]
    fn sqlite_times_are_fixed_width_and_parse_back() {
        let t = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        let text = sqlite_time(t);
        assert_eq!(text, "2023-11-14T22:13:20.000005Z");
        let row = Row::new(vec!["t".to_owned()].into(), vec![Value::Text(Some(text))]);
        assert_eq!(row.time("t").unwrap(), Some(t));
    }

    #[test]
    fn getters_convert_between_backend_representations() {
        let id = Uuid::new_v4();
        let row = Row::new(
            vec!["b".to_owned(), "u".to_owned(), "n".to_owned(), "j".to_owned()].into(),
            vec![
                Value::Int(Some(1)),
                Value::Text(Some(id.to_string())),
                Value::Text(None),
                Value::Text(Some("{\"a\":1}".into())),
            ],
        );
        assert_eq!(row.boolean("b").unwrap(), Some(true));
        assert_eq!(row.uuid("u").unwrap(), Some(id));
        assert_eq!(row.int("n").unwrap(), None);
        assert_eq!(row.json("j").unwrap(), Some(serde_json::json!({"a": 1})));
        assert!(row.text("missing").unwrap_err().to_string().contains("missing"));
        assert!(row.time("u").is_err());
    }
}
