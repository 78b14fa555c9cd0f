//! Collected samples, medians, ratios against the baselines, the Markdown
//! table and the JSON file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::scenario::{Direction, Row, Scenario};

/// Samples of one report row, per server.
#[derive(Debug)]
struct RowSamples {
    scenario: String,
    row: Row,
    /// `values[server]`: one value per successful round.
    values: Vec<Vec<f64>>,
    /// `failures[server]`: one message per failed round.
    failures: Vec<Vec<String>>,
}

/// Everything measured in one bench run.
#[derive(Debug)]
pub struct Results {
    servers: Vec<String>,
    candidate: Option<usize>,
    rows: Vec<RowSamples>,
}

impl Results {
    /// Empty results for `servers`; `candidate` is compared to all others.
    pub fn new(servers: Vec<String>, candidate: &str, scenarios: &[Scenario]) -> Self {
        let count = servers.len();
        let rows = scenarios
            .iter()
            .flat_map(|scenario| {
                scenario.rows.iter().map(move |row| RowSamples {
                    scenario: scenario.name.clone(),
                    row: row.clone(),
                    values: vec![Vec::new(); count],
                    failures: vec![Vec::new(); count],
                })
            })
            .collect();
        Self {
            candidate: servers.iter().position(|name| name == candidate),
            servers,
            rows,
        }
    }

    /// Records one successful run: one value per row of `scenario`.
    pub fn record(&mut self, scenario: &str, server: usize, values: &[f64]) {
        let rows = self.rows.iter_mut().filter(|row| row.scenario == scenario);
        for (row, value) in rows.zip(values) {
            row.values[server].push(*value);
        }
    }

    /// Records one failed run of `scenario` on `server`.
    pub fn record_failure(&mut self, scenario: &str, server: usize, error: &str) {
        for row in self.rows.iter_mut().filter(|row| row.scenario == scenario) {
            row.failures[server].push(error.to_string());
        }
    }

    fn summarize(&self) -> Vec<RowSummary> {
        self.rows
            .iter()
            .map(|row| {
                let medians: Vec<Option<f64>> =
                    row.values.iter().map(|values| median(values)).collect();
                let candidate = self.candidate.and_then(|index| medians[index]);
                let baselines: Vec<(usize, Option<f64>)> = medians
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| Some(*index) != self.candidate)
                    .map(|(index, median)| (index, *median))
                    .collect();
                let ratios = baselines
                    .iter()
                    .map(|(index, baseline)| {
                        let ratio = candidate.zip(*baseline).map(|(c, b)| c / b);
                        Ratio {
                            baseline: self.servers[*index].clone(),
                            ratio,
                        }
                    })
                    .collect();
                // Variants of the candidate (`starling-lazy`) get a ratio
                // column but are no baseline for "vs stronger" and the gate.
                let others: Vec<Option<f64>> = baselines
                    .iter()
                    .filter(|(index, _)| !self.is_variant(*index))
                    .map(|(_, median)| *median)
                    .collect();
                let stronger = stronger(row.row.direction, others.iter().flatten().copied());
                let vs_stronger = if self.candidate.is_some() && others.iter().all(Option::is_some)
                {
                    candidate.zip(stronger).map(|(c, s)| c / s)
                } else {
                    None
                };
                let pass = (row.row.gate && self.candidate.is_some()).then(|| {
                    vs_stronger.is_some_and(|ratio| match row.row.direction {
                        Direction::HigherIsBetter => ratio >= 1.0,
                        Direction::LowerIsBetter => ratio <= 1.0,
                    })
                });
                RowSummary {
                    scenario: row.scenario.clone(),
                    metric: row.row.metric,
                    higher_is_better: row.row.direction == Direction::HigherIsBetter,
                    gate: row.row.gate,
                    servers: self
                        .servers
                        .iter()
                        .enumerate()
                        .map(|(index, name)| ServerSummary {
                            name: name.clone(),
                            samples: row.values[index].clone(),
                            median: medians[index],
                            failures: row.failures[index].clone(),
                        })
                        .collect(),
                    ratios,
                    vs_stronger,
                    pass,
                }
            })
            .collect()
    }

    /// Whether server `index` is a variant of the candidate: the same
    /// server under another configuration, named `<candidate>-<variant>`.
    fn is_variant(&self, index: usize) -> bool {
        self.candidate.is_some_and(|candidate| {
            index != candidate
                && self.servers[index]
                    .strip_prefix(self.servers[candidate].as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
        })
    }

    /// The Markdown table.
    pub fn table(&self) -> String {
        let summaries = self.summarize();
        let candidate = self.candidate.map(|index| self.servers[index].as_str());
        let mut header = vec!["scenario".to_string(), "metric".to_string()];
        header.extend(self.servers.iter().cloned());
        if let Some(candidate) = candidate {
            for (index, name) in self.servers.iter().enumerate() {
                if Some(index) != self.candidate {
                    header.push(format!("{candidate}/{name}"));
                }
            }
            header.extend(["vs stronger".to_string(), "gate".to_string()]);
        }
        let mut lines = vec![
            header.clone(),
            header.iter().map(|_| "---".to_string()).collect(),
        ];
        for summary in &summaries {
            let mut cells = vec![summary.scenario.clone(), summary.metric.to_string()];
            for server in &summary.servers {
                let mut cell = server.median.map_or("error".to_string(), |median| {
                    format_value(summary.metric, median)
                });
                if !server.failures.is_empty() {
                    let _ = write!(cell, " ({} failed)", server.failures.len());
                }
                cells.push(cell);
            }
            if candidate.is_some() {
                for ratio in &summary.ratios {
                    cells.push(format_ratio(ratio.ratio));
                }
                cells.push(format_ratio(summary.vs_stronger));
                cells.push(match summary.pass {
                    Some(true) => "PASS".to_string(),
                    Some(false) => "FAIL".to_string(),
                    None => String::new(),
                });
            }
            lines.push(cells);
        }
        let mut out = String::new();
        for cells in lines {
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        // One line per scenario, server and distinct error, with a count.
        let mut failures: Vec<(String, usize)> = Vec::new();
        for summary in &summaries {
            if summary.metric != summary_first_metric(&summaries, &summary.scenario) {
                continue;
            }
            for server in &summary.servers {
                for failure in &server.failures {
                    let line = format!("- {} on {}: {failure}", summary.scenario, server.name);
                    match failures.iter_mut().find(|(seen, _)| *seen == line) {
                        Some((_, count)) => *count += 1,
                        None => failures.push((line, 1)),
                    }
                }
            }
        }
        let failures: Vec<String> = failures
            .into_iter()
            .map(|(line, count)| match count {
                1 => line,
                count => format!("{line} ({count} rounds)"),
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\nFailed runs:\n{}", failures.join("\n"));
        }
        out
    }

    /// Writes the JSON report to `dir/<timestamp>.json` and the printed
    /// `text` to `dir/<timestamp>.md`; returns the JSON path.
    pub fn write_files(&self, dir: &Path, meta: &RunMeta, text: &str) -> Result<PathBuf> {
        let report = JsonReport {
            meta,
            candidate: self.candidate.map(|index| self.servers[index].clone()),
            rows: self.summarize(),
        };
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let path = dir.join(format!("{}.json", meta.timestamp));
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(&path, json + "\n").with_context(|| format!("write {}", path.display()))?;
        let markdown = path.with_extension("md");
        std::fs::write(&markdown, text).with_context(|| format!("write {}", markdown.display()))?;
        Ok(path)
    }
}

fn summary_first_metric(summaries: &[RowSummary], scenario: &str) -> &'static str {
    summaries
        .iter()
        .find(|summary| summary.scenario == scenario)
        .map_or("", |summary| summary.metric)
}

/// Facts about the run recorded next to the numbers.
#[derive(Debug, Serialize)]
pub struct RunMeta {
    /// UTC start time, `YYYYMMDDTHHMMSSZ`.
    pub timestamp: String,
    /// Rounds per scenario.
    pub rounds: usize,
    /// Whether `--quick` was given.
    pub quick: bool,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// `/proc/loadavg` (1, 5, 15 min) when the run started: a busy machine
    /// (other builds) makes every number noisier.
    pub load_average_start: String,
    /// `/proc/loadavg` when the run ended.
    pub load_average_end: String,
    /// Servers: name, path and `--version` output.
    pub servers: Vec<ServerMeta>,
}

/// One server's identity in the JSON report.
#[derive(Debug, Serialize)]
pub struct ServerMeta {
    /// Report name.
    pub name: String,
    /// Executable path.
    pub path: String,
    /// First line of `--version`.
    pub version: String,
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    meta: &'a RunMeta,
    candidate: Option<String>,
    rows: Vec<RowSummary>,
}

#[derive(Debug, Serialize)]
struct RowSummary {
    scenario: String,
    metric: &'static str,
    higher_is_better: bool,
    gate: bool,
    servers: Vec<ServerSummary>,
    /// Candidate / baseline, per baseline.
    ratios: Vec<Ratio>,
    /// Candidate / the stronger baseline (max throughput, min latency).
    vs_stronger: Option<f64>,
    /// Gate verdict, on gate rows when a candidate is present.
    pass: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Ratio {
    baseline: String,
    ratio: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ServerSummary {
    name: String,
    samples: Vec<f64>,
    median: Option<f64>,
    failures: Vec<String>,
}

/// Median of the values (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// The stronger of the baselines: highest throughput or lowest latency.
fn stronger(direction: Direction, baselines: impl Iterator<Item = f64>) -> Option<f64> {
    match direction {
        Direction::HigherIsBetter => baselines.max_by(f64::total_cmp),
        Direction::LowerIsBetter => baselines.min_by(f64::total_cmp),
    }
}

fn format_value(metric: &str, value: f64) -> String {
    match metric {
        "msgs/s" | "ops/s" if value >= 1e6 => format!("{:.2}M", value / 1e6),
        "msgs/s" | "ops/s" if value >= 1e4 => format!("{:.0}k", value / 1e3),
        "msgs/s" | "ops/s" if value >= 1e3 => format!("{:.1}k", value / 1e3),
        "KiB/conn" => format!("{value:.1}"),
        metric if metric.ends_with("RSS KiB") => format!("{value:.0}"),
        _ => format!("{value:.1}"),
    }
}

fn format_ratio(ratio: Option<f64>) -> String {
    ratio.map_or("-".to_string(), |ratio| format!("{ratio:.2}"))
}

/// The 1, 5 and 15 minute load averages, or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Current UTC time as `YYYYMMDDTHHMMSSZ`, from the system clock.
pub fn utc_timestamp() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::scenario::{catalogue, Scale};

    #[test]
    fn median_handles_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn gate_compares_against_the_stronger_baseline() {
        let scenarios: Vec<Scenario> = catalogue(Scale {
            divisor: 1,
            connections: 10,
        })
        .into_iter()
        .filter(|scenario| scenario.name == "pubsub-16b" || scenario.name == "reqrep")
        .collect();
        let servers = vec!["starling".to_string(), "old".to_string(), "new".to_string()];
        let mut results = Results::new(servers, "starling", &scenarios);
        results.record("pubsub-16b", 0, &[150_000.0]);
        results.record("pubsub-16b", 1, &[100_000.0]);
        results.record("pubsub-16b", 2, &[200_000.0]);
        results.record("reqrep", 0, &[10.0, 20.0, 30.0]);
        results.record("reqrep", 1, &[12.0, 25.0, 40.0]);
        results.record("reqrep", 2, &[11.0, 21.0, 35.0]);
        let summaries = results.summarize();
        assert_eq!(summaries[0].vs_stronger, Some(0.75));
        assert_eq!(summaries[0].pass, Some(false));
        let p99 = summaries
            .iter()
            .find(|row| row.metric == "p99 us")
            .expect("p99 row");
        assert_eq!(p99.vs_stronger, Some(20.0 / 21.0));
        assert_eq!(p99.pass, Some(true));
        assert!(results
            .table()
            .contains("| pubsub-16b | msgs/s | 150k | 100k | 200k | 1.50 | 0.75 | 0.75 | FAIL |"));
    }

    #[test]
    fn a_variant_of_the_candidate_is_no_baseline_for_the_gate() {
        let scenarios: Vec<Scenario> = catalogue(Scale {
            divisor: 1,
            connections: 10,
        })
        .into_iter()
        .filter(|scenario| scenario.name == "pubsub-16b")
        .collect();
        let servers = vec![
            "starling".to_string(),
            "starling-lazy".to_string(),
            "nats".to_string(),
            "starlingx".to_string(),
        ];
        let mut results = Results::new(servers, "starling", &scenarios);
        results.record("pubsub-16b", 0, &[150_000.0]);
        results.record("pubsub-16b", 1, &[300_000.0]);
        results.record("pubsub-16b", 2, &[100_000.0]);
        results.record("pubsub-16b", 3, &[120_000.0]);
        let summaries = results.summarize();
        // starling-lazy is left out; starlingx (no dash) is a baseline.
        assert_eq!(summaries[0].vs_stronger, Some(1.25));
        assert_eq!(summaries[0].pass, Some(true));
        assert_eq!(summaries[0].ratios[0].ratio, Some(0.5));
    }
}
