//! The SQL that sets up the two Postgres roles of DESIGN.md's security section:
//! a writer for trackers and monitors, a read-only role for dashboards and
//! analysts. Printed by `pipetrack db grants` for an administrator to review and run.

use crate::config::ConfigError;

/// Tables a writer appends to or keeps projected.
const WRITER_TABLES: &[(&str, &str)] = &[
    ("events", "SELECT, INSERT"),
    ("runs", "SELECT, INSERT, UPDATE"),
    ("tasks", "SELECT, INSERT, UPDATE, DELETE"),
    ("scripts", "SELECT, INSERT, UPDATE, DELETE"),
    ("run_days", "SELECT, INSERT, UPDATE"),
    ("resource_samples", "SELECT, INSERT"),
    ("error_resolutions", "SELECT, INSERT, UPDATE, DELETE"),
    ("refinery_schema_history", "SELECT"),
];

fn identifier(what: &'static str, name: &str) -> Result<String, ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ConfigError {
            setting: what,
            problem: format!("{name:?} is not a plain identifier"),
            fix: "use letters, digits and underscores only, starting with a letter".into(),
        })
    }
}

/// `GRANT` statements for `schema` (default `public`): the writer may append and
/// project, the reader may only read. Tables added by later migrations are
/// covered by default privileges for tables the migrating role creates.
pub fn grants_sql(schema: Option<&str>, writer: &str, reader: &str) -> Result<String, ConfigError> {
    let schema = identifier("schema", schema.unwrap_or("public"))?;
    let writer = identifier("--writer", writer)?;
    let reader = identifier("--reader", reader)?;
    let mut sql = format!(
        "-- pipetrack roles for schema {schema}: run as the schema owner (the role that ran `pipetrack migrate`).\n\
         -- Create the roles first if needed, e.g.:\n\
         --   CREATE ROLE {writer} LOGIN PASSWORD '...';\n\
         --   CREATE ROLE {reader} LOGIN PASSWORD '...';\n\
         GRANT USAGE ON SCHEMA {schema} TO {writer}, {reader};\n"
    );
    let lines = WRITER_TABLES
        .iter()
        .map(|(table, privileges)| format!("GRANT {privileges} ON {schema}.{table} TO {writer};\n"))
        .chain([
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader};\n"),
            format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {reader};\n"),
        ]);
    sql.extend(lines);
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_plain_identifiers() {
        assert!(grants_sql(Some("pipetrack"), "etl_writer", "dash").is_ok());
        let err = grants_sql(None, "w; DROP TABLE runs", "r").unwrap_err();
        assert!(err.to_string().starts_with("--writer: "), "{err}");
        assert!(grants_sql(Some("1x"), "w", "r").is_err());
    }

    #[test]
    fn the_reader_only_reads() {
        let sql = grants_sql(None, "w", "r").unwrap();
        for line in sql.lines().filter(|l| !l.starts_with("--") && l.contains(" TO r")) {
            assert!(
                line.starts_with("GRANT SELECT")
                    || line.starts_with("GRANT USAGE")
                    || line.contains("GRANT SELECT ON TABLES"),
                "{line}"
            );
        }
        assert!(sql.contains("GRANT SELECT, INSERT ON public.events TO w;"));
    }
}
