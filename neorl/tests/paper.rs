//! `neorl paper` end to end: a tiny real sweep (2 algorithms × 1
//! environment × 2 seeds, small networks, a small dataset) is run here,
//! exported as run records, and made into tables and figures twice — the
//! same bytes both times; `--check` passes on them and fails, naming the
//! file and line, once a record is edited; the tables splice into a
//! results file between its markers, and a file without them is refused.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

fn tmp(name: &str) -> PathBuf {
    support::scratch("paper-it", name)
}

const SPEC: &str = r#"
name = "paper-it"
algorithms = ["bc", "td3bc"]
environments = ["ChemicalReactor-v0"]
sizes = [2500]
seeds = 2
steps = 300
hidden = [8, 8]

[evaluation]
every = 100
episodes = 1

[set.td3bc]
batch_size = 32
"#;

fn neorl(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_neorl"));
    c.current_dir(root)
        .env("NEORL_PROGRESS", "off")
        .env("NEORL_DATA_DIR", root.join("data"))
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("NEORL_TRACKING")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX");
    c
}

/// Run; its exit status, stdout and stderr.
fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("neorl runs");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(!e.contains("panicked"), "{cmd:?}: {e}");
    (out.status.success(), o, e)
}

fn ok(cmd: &mut Command) -> String {
    let (s, o, e) = run(cmd);
    assert!(s, "{cmd:?} failed: {o}\n{e}");
    o
}

/// Every file under `dir`, relative, sorted, with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn paper_regenerates_the_same_bytes_and_checks_them() {
    let root = tmp("main");
    std::fs::write(root.join("spec.toml"), SPEC).unwrap();
    let sweep = root.join("sweep");
    ok(neorl(&root)
        .args(["sweep", "plan", "spec.toml", "--no-track", "--out"])
        .arg(&sweep));
    ok(neorl(&root)
        .args(["sweep", "run-local"])
        .arg(&sweep)
        .args(["--jobs", "2"]));
    let records = root.join("records.jsonl");
    ok(neorl(&root)
        .args(["sweep", "export"])
        .arg(&sweep)
        .arg("--out")
        .arg(&records));

    // The records: a header, then one run per line, best chosen on the
    // selection episodes (as many as the reported ones by default).
    let text = std::fs::read_to_string(&records).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["format"], "neorl-run-records");
    assert_eq!(lines[0]["protocol"]["selection_episodes"], 1);
    assert_eq!(lines[0]["protocol"]["selection_seed"], 1_010_000);
    for r in &lines[1..] {
        assert_eq!(r["best_rule"], "selected");
        let evals = r["evals"].as_array().unwrap();
        assert_eq!(evals.len(), 3);
        assert!(evals.iter().all(|p| p["selection"].is_string()));
        assert!(r["best"]["score"].is_string() && r["last"]["hard_breach_rate"].is_string());
    }

    // Twice: the same bytes.
    let paper = |out: &Path, extra: &[&str]| {
        let mut c = neorl(&root);
        c.args(["paper", "--records"])
            .arg(&records)
            .arg("--out")
            .arg(out);
        c.args(["--bootstrap-reps", "200"]).args(extra);
        c
    };
    let (a, b) = (root.join("a"), root.join("b"));
    ok(&mut paper(&a, &[]));
    ok(&mut paper(&b, &[]));
    let (ta, tb) = (tree(&a), tree(&b));
    let names: Vec<String> = ta.iter().map(|(p, _)| p.display().to_string()).collect();
    for want in [
        "tables.md",
        "figures/medium-2500-curves-ChemicalReactor-v0.html",
        "figures/medium-2500-curves-ChemicalReactor-v0.json",
        "figures/medium-2500-profiles.html",
        "figures/medium-2500-aggregates.json",
        "figures/medium-2500-improvement.json",
        "figures/medium-2500-score-cost.json",
        "figures/plotly.min.js",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    assert_eq!(ta, tb, "two runs of neorl paper differ");
    let tables = std::fs::read_to_string(a.join("tables.md")).unwrap();
    assert!(
        tables.contains("| ChemicalReactor-medium-v0 |") && tables.contains("| td3bc | 2 |"),
        "{tables}"
    );
    assert!(
        tables.contains("Probability of improvement") && tables.contains("IQM"),
        "{tables}"
    );

    // The splice into a results file, then --check.
    let results = root.join("RESULTS.md");
    std::fs::write(&results, "# Results\n\nBefore.\n\n<!-- neorl paper: begin -->\nold\n<!-- neorl paper: end -->\n\nAfter.\n").unwrap();
    ok(paper(&a, &[]).arg("--results").arg(&results));
    let spliced = std::fs::read_to_string(&results).unwrap();
    assert!(spliced.starts_with("# Results\n\nBefore.\n\n<!-- neorl paper: begin -->\n"));
    assert!(spliced.contains(tables.trim_end()) && !spliced.contains("\nold\n"));
    assert!(spliced.ends_with("<!-- neorl paper: end -->\n\nAfter.\n"));
    let o = ok(paper(&a, &["--check"]).arg("--results").arg(&results));
    assert!(o.contains("are what the records give"), "{o}");
    assert_eq!(tree(&a), ta, "--check wrote files");

    // One record edited: --check fails and names the file and line.
    let edited = text.replacen("\"seconds\":\"", "\"seconds\":\"1", 1);
    assert_ne!(edited, text);
    std::fs::write(&records, &edited).unwrap();
    let (s, _, e) = run(paper(&a, &["--check"]).arg("--results").arg(&results));
    assert!(!s, "--check passed on edited records");
    assert!(
        e.contains("line ") && e.contains("differs from what the records give"),
        "{e}"
    );
    std::fs::write(&records, &text).unwrap();

    // A results file without the markers is refused, and left alone.
    std::fs::write(&results, "# Results\n").unwrap();
    let (s, _, e) = run(paper(&a, &[]).arg("--results").arg(&results));
    assert!(!s && e.contains("<!-- neorl paper: begin -->"), "{e}");
    assert_eq!(std::fs::read_to_string(&results).unwrap(), "# Results\n");

    // Corrupt records: a clear error, no panic.
    std::fs::write(
        &records,
        text.replacen("\"score\":\"", "\"score\":\"NaN", 1),
    )
    .unwrap();
    let (s, _, e) = run(&mut paper(&a, &[]));
    assert!(!s && e.contains("line 2") && e.contains("not a"), "{e}");
    std::fs::remove_dir_all(&root).ok();
}

/// The committed results are what the committed run records give: the
/// protocol-v1 pilot's tables and figures in `neorl/results/protocol-v1-pilot/`
/// and its section of `neorl/RESULTS.md` (issue 16: "`neorl paper`
/// reproduces RESULTS.md from the committed run records"). Edit a record,
/// a table or the section by hand and this fails, naming the file and line.
#[test]
fn committed_results_match_their_run_records() {
    let neorl_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pilot = neorl_dir.join("results/protocol-v1-pilot");
    let mut cmd = neorl(&tmp("committed"));
    cmd.arg("paper");
    for records in ["low.jsonl", "medium-mixed.jsonl", "random-expert.jsonl"] {
        cmd.arg("--records").arg(pilot.join(records));
    }
    cmd.arg("--out")
        .arg(&pilot)
        .arg("--results")
        .arg(neorl_dir.join("RESULTS.md"))
        .arg("--check");
    ok(&mut cmd);
    // The pilot's companions, each its own tables.md and figures: the medium
    // datasets at 50 000 steps, CQL and COMBO beside BC, and BC, TD3+BC and
    // IQL at 256×256.
    for (folder, scratch) in [
        ("protocol-v1-medium-50k", "committed-50k"),
        ("protocol-v1-cql-combo", "committed-cql-combo"),
        ("protocol-v1-256", "committed-256"),
    ] {
        let dir = neorl_dir.join("results").join(folder);
        let mut cmd = neorl(&tmp(scratch));
        cmd.arg("paper")
            .arg("--records")
            .arg(dir.join("medium.jsonl"))
            .arg("--out")
            .arg(&dir)
            .arg("--check");
        ok(&mut cmd);
    }
}
