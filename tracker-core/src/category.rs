//! Script categories, detected from the script's file name by prefix
//! (`DAILY_01_BDC_Locations.R` -> `DAILY`).

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// The label of scripts that match no prefix.
pub const OTHER: &str = "OTHER";

/// Prefix -> category rules. The longest matching prefix wins, compared
/// case-insensitively against the file name without its directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRules {
    rules: Vec<(String, String)>,
}

impl Default for CategoryRules {
    /// The categories of the original pipeline.
    fn default() -> Self {
        let rules = [
            ("DAILY_", "DAILY"),
            ("ANNUAL_DEC_", "ANNUAL_DEC"),
            ("ANNUAL_SEPT_", "ANNUAL_SEPT"),
            ("ANNUAL_JUNE_", "ANNUAL_JUNE"),
            ("STATIC_", "STATIC"),
            ("PERIODIC_", "PERIODIC"),
            ("PREREQ_", "PREREQ"),
        ];
        Self { rules: rules.iter().map(|(p, l)| ((*p).to_owned(), (*l).to_owned())).collect() }
    }
}

impl CategoryRules {
    /// Rules from `(prefix, label)` pairs, replacing the defaults.
    pub fn new<I, P, L>(rules: I) -> Result<Self, CoreError>
    where
        I: IntoIterator<Item = (P, L)>,
        P: Into<String>,
        L: Into<String>,
    {
        let rules: Vec<(String, String)> = rules.into_iter().map(|(p, l)| (p.into(), l.into())).collect();
        if let Some((prefix, _)) = rules.iter().find(|(p, l)| p.trim().is_empty() || l.trim().is_empty()) {
            return Err(CoreError::InvalidCategoryRule { prefix: prefix.clone() });
        }
        Ok(Self { rules })
    }

    /// Parses `PREFIX=LABEL,PREFIX=LABEL` (the `PIPETRACK_CATEGORIES` setting).
    /// A bare `PREFIX_` means the label is the prefix without its trailing `_`.
    pub fn parse(spec: &str) -> Result<Self, CoreError> {
        Self::new(spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|item| {
            match item.split_once('=') {
                Some((prefix, label)) => (prefix.trim().to_owned(), label.trim().to_owned()),
                None => (item.to_owned(), item.trim_end_matches('_').to_owned()),
            }
        }))
    }

    /// The category of a script, from its name or path.
    pub fn detect(&self, script: &str) -> &str {
        let file = script.rsplit(['/', '\\']).next().unwrap_or(script);
        self.rules
            .iter()
            .filter(|(prefix, _)| {
                file.len() >= prefix.len()
                    && file.is_char_boundary(prefix.len())
                    && file[..prefix.len()].eq_ignore_ascii_case(prefix)
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(OTHER, |(_, label)| label.as_str())
    }

    /// Every label the rules can produce, plus [`OTHER`], in rule order.
    pub fn labels(&self) -> Vec<&str> {
        let mut labels: Vec<&str> = Vec::new();
        for (_, label) in &self.rules {
            if !labels.contains(&label.as_str()) {
                labels.push(label);
            }
        }
        labels.push(OTHER);
        labels
    }
}

/// The category of `script` under the default rules.
pub fn detect_script_category(script: &str) -> &'static str {
    static DEFAULT: std::sync::OnceLock<CategoryRules> = std::sync::OnceLock::new();
    let rules = DEFAULT.get_or_init(CategoryRules::default);
    // Labels of the default rules are 'static literals in practice; copy-free lookup:
    match rules.detect(script) {
        "DAILY" => "DAILY",
        "ANNUAL_DEC" => "ANNUAL_DEC",
        "ANNUAL_SEPT" => "ANNUAL_SEPT",
        "ANNUAL_JUNE" => "ANNUAL_JUNE",
        "STATIC" => "STATIC",
        "PERIODIC" => "PERIODIC",
        "PREREQ" => "PREREQ",
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_every_category_of_the_original_pipeline() {
        let cases = [
            ("DAILY_01_BDC_Locations.R", "DAILY"),
            ("DAILY_00a_BDC_Download.py", "DAILY"),
            ("ANNUAL_DEC_03_ACS_Hex_Aggregation.R", "ANNUAL_DEC"),
            ("ANNUAL_SEPT_02_Road_Lengths_Hex.R", "ANNUAL_SEPT"),
            ("ANNUAL_JUNE_01_Something.R", "ANNUAL_JUNE"),
            ("STATIC_02_Technology_Codes.R", "STATIC"),
            ("PERIODIC_01_ESRI_Hex_Data.R", "PERIODIC"),
            ("PREREQ_01_Setup.sh", "PREREQ"),
            ("ANNUAL_MARCH_01.R", "OTHER"),
            ("helper.R", "OTHER"),
            ("", "OTHER"),
        ];
        for (script, expected) in cases {
            assert_eq!(detect_script_category(script), expected, "{script}");
        }
    }

    #[test]
    fn uses_the_file_name_not_the_directory() {
        assert_eq!(detect_script_category("/srv/DAILY_/STATIC_02.R"), "STATIC");
        assert_eq!(detect_script_category("C:\\jobs\\daily_01.R"), "DAILY");
    }

    #[test]
    fn custom_rules_prefer_the_longest_prefix() {
        let rules = CategoryRules::parse("ETL_=ETL, ETL_HOURLY_=HOURLY, ADHOC_").unwrap();
        assert_eq!(rules.detect("ETL_HOURLY_load.py"), "HOURLY");
        assert_eq!(rules.detect("etl_load.py"), "ETL");
        assert_eq!(rules.detect("ADHOC_fix.R"), "ADHOC");
        assert_eq!(rules.detect("DAILY_01.R"), OTHER);
        assert_eq!(rules.labels(), vec!["ETL", "HOURLY", "ADHOC", "OTHER"]);
    }

    #[test]
    fn malformed_rules_are_refused() {
        assert!(CategoryRules::parse("=X").is_err());
        assert!(CategoryRules::parse("A_=").is_err());
    }

    #[test]
    fn multibyte_names_do_not_panic() {
        assert_eq!(CategoryRules::default().detect("ДAILY_é.R"), OTHER);
    }
}
