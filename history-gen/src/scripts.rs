//! The catalogue: ~40 scripts of the original pipeline (task list, Phase 2),
//! with their language, cadence, typical duration, tasks and failure modes.

/// How often a script runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// Part of the daily pipeline (`make daily`), `runs_per_day` times a day.
    Daily,
    /// Once a year, in this month (1-12), on the first Monday-ish.
    Annual {
        /// Month of the year.
        month: u32,
    },
    /// Every this many days.
    EveryDays(u32),
}

/// Language of a script: decides its error messages and runtime metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// An R script (`Rscript`).
    R,
    /// A Python script.
    Python,
}

/// One script of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct ScriptDef {
    /// File name.
    pub name: &'static str,
    /// Language.
    pub language: Language,
    /// Cadence.
    pub cadence: Cadence,
    /// Typical duration in seconds.
    pub typical_secs: u32,
    /// Top-level tasks, in order. A task named `Processing states` reports
    /// state-by-state progress; `Processing counties` county-by-county.
    pub tasks: &'static [&'static str],
    /// Probability that a run fails.
    pub failure_rate: f64,
    /// Typical peak memory, MiB.
    pub peak_mib: u32,
}

const fn r(
    name: &'static str,
    cadence: Cadence,
    typical_secs: u32,
    tasks: &'static [&'static str],
    failure_rate: f64,
    peak_mib: u32,
) -> ScriptDef {
    ScriptDef { name, language: Language::R, cadence, typical_secs, tasks, failure_rate, peak_mib }
}

const fn py(
    name: &'static str,
    cadence: Cadence,
    typical_secs: u32,
    tasks: &'static [&'static str],
    failure_rate: f64,
    peak_mib: u32,
) -> ScriptDef {
    ScriptDef { name, language: Language::Python, cadence, typical_secs, tasks, failure_rate, peak_mib }
}

const DAILY: Cadence = Cadence::Daily;

/// The scripts, in pipeline order within each category.
pub const SCRIPTS: &[ScriptDef] = &[
    py(
        "DAILY_00a_BDC_Download.py",
        DAILY,
        540,
        &[
            "Load config",
            "List as-of dates",
            "Processing states",
            "Verify checksums",
            "Unzip archives",
            "Register files",
            "Clean up",
            "Write manifest",
            "Notify",
            "Done",
        ],
        0.05,
        600,
    ),
    py(
        "DAILY_00b_Funding_Download.py",
        DAILY,
        300,
        &[
            "Load config",
            "Fetch funding programs",
            "Fetch awards",
            "Processing states",
            "Validate",
            "Write parquet",
            "Register files",
            "Clean up",
            "Write manifest",
            "Done",
        ],
        0.04,
        450,
    ),
    r(
        "DAILY_01_BDC_Locations.R",
        DAILY,
        1500,
        &[
            "Load states",
            "Read BDC files",
            "Processing states",
            "Geocode locations",
            "Assign hexagons",
            "Assign blocks",
            "Write locations",
            "Update indexes",
            "Vacuum",
            "Summary",
        ],
        0.04,
        6_000,
    ),
    r(
        "DAILY_02_Provider_Tables.R",
        DAILY,
        900,
        &[
            "Load states",
            "Read providers",
            "Processing states",
            "Deduplicate",
            "Join technologies",
            "Write provider tables",
            "Update indexes",
            "Grant access",
            "Vacuum",
            "Summary",
        ],
        0.03,
        3_500,
    ),
    r(
        "DAILY_03_Hexagon_Prospecting.R",
        DAILY,
        1800,
        &[
            "Load states",
            "Load hexagons",
            "Processing states",
            "Score hexagons",
            "Rank prospects",
            "Write prospects",
            "Update indexes",
            "Export CSV",
            "Vacuum",
            "Summary",
        ],
        0.04,
        8_000,
    ),
    r(
        "DAILY_04_Federal_Funding.R",
        DAILY,
        600,
        &[
            "Load states",
            "Read funding",
            "Processing states",
            "Match awards",
            "Write funding",
            "Update indexes",
            "Refresh views",
            "Grant access",
            "Vacuum",
            "Summary",
        ],
        0.03,
        2_000,
    ),
    r(
        "DAILY_05_Update_Hex_Info_Funding.R",
        DAILY,
        700,
        &[
            "Load states",
            "Load hex info",
            "Processing states",
            "Aggregate funding",
            "Update hex info",
            "Update indexes",
            "Refresh views",
            "Check totals",
            "Vacuum",
            "Summary",
        ],
        0.03,
        4_000,
    ),
    r(
        "DAILY_06_Update_Block20_Info_Funding.R",
        DAILY,
        1100,
        &[
            "Load states",
            "Load block info",
            "Processing counties",
            "Aggregate funding",
            "Update block info",
            "Update indexes",
            "Refresh views",
            "Check totals",
            "Vacuum",
            "Summary",
        ],
        0.04,
        5_000,
    ),
    r(
        "ANNUAL_DEC_01_Hex_Info_Base.R",
        Cadence::Annual { month: 12 },
        7_200,
        &["Load states", "Load hexagons", "Processing states", "Write hex info", "Update indexes", "Summary"],
        0.08,
        12_000,
    ),
    r(
        "ANNUAL_DEC_02_ACS_Demographics_Download.R",
        Cadence::Annual { month: 12 },
        3_600,
        &["Load states", "Request ACS tables", "Processing states", "Write demographics", "Summary"],
        0.08,
        3_000,
    ),
    r(
        "ANNUAL_DEC_03_ACS_Hex_Aggregation.R",
        Cadence::Annual { month: 12 },
        10_800,
        &[
            "Load states",
            "Load demographics",
            "Processing states",
            "Aggregate to hexagons",
            "Write aggregates",
            "Summary",
        ],
        0.08,
        16_000,
    ),
    r(
        "ANNUAL_DEC_04_Hex_Info_Table.R",
        Cadence::Annual { month: 12 },
        5_400,
        &[
            "Load states",
            "Join tables",
            "Processing states",
            "Write hex info table",
            "Update indexes",
            "Summary",
        ],
        0.06,
        9_000,
    ),
    r(
        "ANNUAL_DEC_05_Block20_Info_Table.R",
        Cadence::Annual { month: 12 },
        9_000,
        &[
            "Load states",
            "Join tables",
            "Processing counties",
            "Write block info table",
            "Update indexes",
            "Summary",
        ],
        0.06,
        14_000,
    ),
    r(
        "ANNUAL_SEPT_01_Urban_Rural_Data.R",
        Cadence::Annual { month: 9 },
        2_400,
        &[
            "Load states",
            "Download urban areas",
            "Processing states",
            "Classify blocks",
            "Write classification",
            "Summary",
        ],
        0.05,
        4_000,
    ),
    r(
        "ANNUAL_SEPT_02_Road_Lengths_Hex.R",
        Cadence::Annual { month: 9 },
        14_400,
        &[
            "Load states",
            "Load roads",
            "Processing counties",
            "Sum lengths per hexagon",
            "Write road lengths",
            "Summary",
        ],
        0.07,
        18_000,
    ),
    r(
        "ANNUAL_SEPT_03_Road_Lengths_Block20.R",
        Cadence::Annual { month: 9 },
        12_600,
        &[
            "Load states",
            "Load roads",
            "Processing counties",
            "Sum lengths per block",
            "Write road lengths",
            "Summary",
        ],
        0.07,
        16_000,
    ),
    r(
        "ANNUAL_JUNE_01_Broadband_Benchmarks.R",
        Cadence::Annual { month: 6 },
        1_800,
        &["Load states", "Read benchmarks", "Processing states", "Write benchmarks", "Summary"],
        0.05,
        2_000,
    ),
    r(
        "ANNUAL_JUNE_02_Tribal_Lands.R",
        Cadence::Annual { month: 6 },
        2_700,
        &[
            "Load states",
            "Download tribal areas",
            "Processing states",
            "Intersect hexagons",
            "Write tribal lands",
            "Summary",
        ],
        0.05,
        5_000,
    ),
    r(
        "ANNUAL_JUNE_03_Census_Places.R",
        Cadence::Annual { month: 6 },
        2_100,
        &["Load states", "Download places", "Processing states", "Write places", "Summary"],
        0.05,
        3_000,
    ),
    r(
        "ANNUAL_JUNE_04_School_Districts.R",
        Cadence::Annual { month: 6 },
        1_500,
        &["Load states", "Download districts", "Processing states", "Write districts", "Summary"],
        0.05,
        2_500,
    ),
    r(
        "ANNUAL_JUNE_05_Congressional_Districts.R",
        Cadence::Annual { month: 6 },
        1_200,
        &["Load states", "Download districts", "Processing states", "Write districts", "Summary"],
        0.05,
        2_500,
    ),
    r(
        "STATIC_00_TIGER_State_Boundaries.R",
        Cadence::EveryDays(91),
        600,
        &["Download TIGER states", "Simplify geometry", "Write states", "Summary"],
        0.03,
        1_500,
    ),
    r(
        "STATIC_01_Create_State_View.R",
        Cadence::EveryDays(91),
        60,
        &["Create view", "Grant access", "Summary"],
        0.02,
        200,
    ),
    r(
        "STATIC_02_Technology_Codes.R",
        Cadence::EveryDays(91),
        45,
        &["Read codes", "Write codes", "Summary"],
        0.02,
        150,
    ),
    r(
        "STATIC_03_Business_Residential_Codes.R",
        Cadence::EveryDays(91),
        45,
        &["Read codes", "Write codes", "Summary"],
        0.02,
        150,
    ),
    r(
        "STATIC_04_State_Codes.R",
        Cadence::EveryDays(91),
        30,
        &["Read codes", "Write codes", "Summary"],
        0.02,
        120,
    ),
    r(
        "STATIC_05_TIGER_County_Boundaries.R",
        Cadence::EveryDays(91),
        900,
        &["Load states", "Download TIGER counties", "Processing states", "Write counties", "Summary"],
        0.03,
        2_500,
    ),
    r(
        "STATIC_06_H3_Level_7_Hexagons.R",
        Cadence::EveryDays(91),
        3_600,
        &[
            "Load states",
            "Polyfill states",
            "Processing states",
            "Write hexagons",
            "Update indexes",
            "Summary",
        ],
        0.04,
        10_000,
    ),
    r(
        "STATIC_07_TIGER_Census_Blocks.R",
        Cadence::EveryDays(91),
        5_400,
        &[
            "Load states",
            "Download TIGER blocks",
            "Processing states",
            "Write blocks",
            "Update indexes",
            "Summary",
        ],
        0.05,
        14_000,
    ),
    r(
        "STATIC_08_Opportunity_Zones.R",
        Cadence::EveryDays(91),
        300,
        &["Download zones", "Write zones", "Summary"],
        0.03,
        800,
    ),
    r(
        "STATIC_09_Opportunity_Zone_Hexagons.R",
        Cadence::EveryDays(91),
        1_200,
        &["Load states", "Intersect hexagons", "Processing states", "Write zone hexagons", "Summary"],
        0.03,
        4_000,
    ),
    r(
        "PERIODIC_01_ESRI_Hex_Data.R",
        Cadence::EveryDays(30),
        2_700,
        &["Load states", "Request ESRI data", "Processing states", "Write ESRI hex data", "Summary"],
        0.06,
        6_000,
    ),
    r(
        "PREREQ_00_Install_Packages.R",
        Cadence::EveryDays(30),
        420,
        &["Read lockfile", "Install packages", "Check versions"],
        0.04,
        900,
    ),
    py(
        "PREREQ_01_Python_Environment.py",
        Cadence::EveryDays(30),
        240,
        &["Read requirements", "Install wheels", "Check imports"],
        0.04,
        500,
    ),
    r(
        "PREREQ_02_Database_Extensions.R",
        Cadence::EveryDays(30),
        30,
        &["Connect", "Create extensions", "Check versions"],
        0.02,
        150,
    ),
    r("PREREQ_03_Check_Disk_Space.R", Cadence::EveryDays(30), 15, &["Check volumes", "Report"], 0.02, 100),
];

/// The states and territories, in the order scripts process them.
pub const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
    "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    "PR",
];
