//! Realistic failures of R and Python scripts: classes, messages with variable
//! parts (states, paths, numbers, ids, dates) and tracebacks.

use rand::RngExt as _;
use rand::rngs::ChaCha8Rng;
use tracker_core::ErrorInfo;

use crate::scripts::{Language, STATES};

const R_ERRORS: &[(&str, &str)] = &[
    ("simpleError", "cannot open file '/data/bdc/{date}/{state}_locations.csv': No such file or directory"),
    (
        "simpleError",
        "Timeout was reached: [broadbandmap.fcc.gov] Operation timed out after {ms} milliseconds with {n} bytes received",
    ),
    ("simpleError", "cannot allocate vector of size {gb} Gb"),
    ("simpleError", "object 'hex_{lstate}' not found"),
    (
        "simpleError",
        "Failed to fetch row: ERROR:  duplicate key value violates unique constraint \"hex_info_pkey\"\nDETAIL:  Key (hex_id)=({hex}) already exists.",
    ),
    ("rlang_error", "Can't subset columns that don't exist.\n✖ Column `state_fips_{n}` doesn't exist."),
    (
        "simpleError",
        "could not connect to server: Connection refused\n\tIs the server running on host \"10.0.{small}.5\" and accepting TCP/IP connections on port 5432?",
    ),
];

const PY_ERRORS: &[(&str, &str)] = &[
    ("KeyError", "'{state}'"),
    (
        "requests.exceptions.HTTPError",
        "503 Server Error: Service Unavailable for url: https://broadbandmap.fcc.gov/api/public/map/downloads/listAvailabilityData/{date}",
    ),
    ("FileNotFoundError", "[Errno 2] No such file or directory: '/data/bdc/{date}/{state}.zip'"),
    ("zipfile.BadZipFile", "File is not a zip file"),
    (
        "psycopg2.OperationalError",
        "connection to server at \"10.0.{small}.5\", port 5432 failed: timeout expired",
    ),
    ("MemoryError", "Unable to allocate {gb} GiB for an array with shape ({n}, 42) and data type float64"),
];

fn fill(template: &str, rng: &mut ChaCha8Rng, date: &str) -> String {
    let state = STATES[rng.random_range(0..STATES.len())];
    let hex: u64 = rng.random_range(0x0872_0000_0000_0000..0x0872_ffff_ffff_ffff);
    template
        .replace("{date}", date)
        .replace("{lstate}", &state.to_ascii_lowercase())
        .replace("{state}", state)
        .replace("{ms}", &rng.random_range(300_000..300_500_u32).to_string())
        .replace("{n}", &rng.random_range(0..5_000_000_u32).to_string())
        .replace("{small}", &rng.random_range(1..9_u32).to_string())
        .replace("{gb}", &format!("{:.1}", rng.random_range(1.0..24.0_f64)))
        .replace("{hex}", &format!("{hex:x}"))
}

/// A failure of `script` during `task`, with a traceback in the language's format.
pub(crate) fn failure(
    language: Language,
    script: &str,
    task: &str,
    rng: &mut ChaCha8Rng,
    date: &str,
) -> ErrorInfo {
    let table = match language {
        Language::R => R_ERRORS,
        Language::Python => PY_ERRORS,
    };
    // The first errors of each table are the common ones.
    let index = (rng.random_range(0.0..1.0_f64).powi(2) * table.len() as f64) as usize;
    let (class, template) = table[index.min(table.len() - 1)];
    let message = fill(template, rng, date);
    let traceback = match language {
        Language::R => format!(
            "1: source(\"/srv/pipeline/{script}\")\n2: withVisible(eval(ei, envir))\n3: eval(ei, envir)\n4: run_task(\"{task}\")\n5: stop(e)"
        ),
        Language::Python => format!(
            "Traceback (most recent call last):\n  File \"/srv/pipeline/{script}\", line {}, in <module>\n    main()\n  File \"/srv/pipeline/{script}\", line {}, in main\n    run_task(\"{task}\")\n{class}: {message}",
            rng.random_range(300..420),
            rng.random_range(40..280),
        ),
    };
    ErrorInfo { message, class: Some(class.to_owned()), traceback: Some(traceback) }
}
