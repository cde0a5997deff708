//! Python packages the tests compare against (installed by
//! scripts/bootstrap.sh with pip).

use std::process::Command;

/// Whether `python3` can `import module`. Where it cannot, this fails the
/// test in CI (`CI=true`) and elsewhere says loudly that the test is
/// skipped, with the command that installs it.
pub fn has_module(module: &str, install: &str) -> bool {
    let why = match Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
    {
        Ok(o) if o.status.success() => return true,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.trim().lines().last().unwrap_or("").to_string();
            format!("python3 cannot import {module} ({last})")
        }
        Err(e) => format!("python3 is not available ({e})"),
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{why}; it is needed for this test in CI: run scripts/bootstrap.sh or `{install}`"
    );
    eprintln!("\n*** SKIPPED: {why}; run scripts/bootstrap.sh or `{install}` ***\n");
    false
}
