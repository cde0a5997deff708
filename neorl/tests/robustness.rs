//! The standing guard of issue 17 ("no panic, no hang, no silent
//! corruption — on any input") for the library's readers and parsers:
//! property tests with a fixed number of cases (fast enough for CI, the
//! same inputs on every run) over the HDF5 reader, the checkpoint reader,
//! the dataset registry, the audit verifier and the parsers of ids and
//! names. Every input must end
//! in a value or an error, never a panic; a corrupt dataset file must never
//! read back as different data. The command line's argument handling is
//! guarded in `tests/hostile_cli.rs`.

use neorl::data::{self, GenerateConfig, Quality, Registry, generate, read, validate_file, write};
use neorl::safety::audit::{Anchor, AuditLog, verify_bytes, verify_reader};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::PathBuf;
use std::sync::OnceLock;

/// A runner with `cases` cases from a fixed seed: the same inputs on every
/// run, so a failure is reproducible and CI time is fixed.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[17; 32]),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-robustness-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A small valid dataset file as read back, and its bytes (written once
/// per process).
fn good_file() -> &'static (data::Dataset, Vec<u8>) {
    static GOOD: OnceLock<(data::Dataset, Vec<u8>)> = OnceLock::new();
    GOOD.get_or_init(|| {
        let mut d = generate(&GenerateConfig::new(
            "SupplyChain-v0",
            Quality::Medium,
            300,
            2,
        ))
        .unwrap();
        d.metadata_mut().dataset_id = "SupplyChain-medium-v0".into();
        let p = tmp("good.h5");
        write(&d, &p).unwrap();
        (read(&p).unwrap(), std::fs::read(&p).unwrap())
    })
}

/// An edit of a file: XOR bytes at a position, cut it, or splice in bytes.
#[derive(Debug, Clone)]
enum Edit {
    Flip { at: f64, len: usize, mask: u8 },
    Truncate { at: f64 },
    Splice { at: f64, bytes: Vec<u8> },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0f64, 1usize..64, 1u8..=255).prop_map(|(at, len, mask)| Edit::Flip {
            at,
            len,
            mask
        }),
        (0.0..1.0f64).prop_map(|at| Edit::Truncate { at }),
        (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(at, bytes)| Edit::Splice { at, bytes }),
    ]
}

fn apply(bytes: &[u8], e: &Edit) -> Vec<u8> {
    let pos = |at: f64| ((bytes.len() as f64 * at) as usize).min(bytes.len());
    let mut b = bytes.to_vec();
    match e {
        Edit::Flip { at, len, mask } => {
            let start = pos(*at);
            for x in b.iter_mut().skip(start).take(*len) {
                *x ^= mask;
            }
        }
        Edit::Truncate { at } => b.truncate(pos(*at)),
        Edit::Splice { at, bytes: new } => {
            let at = pos(*at);
            b.splice(at..at, new.iter().copied());
        }
    }
    b
}

/// A damaged HDF5 file reads as an error naming the file, or as exactly the
/// data and metadata that were written (the content SHA-256 covers every
/// array, the metadata SHA-256 the attributes); `info` and `validate` never
/// panic on it either.
#[test]
fn hdf5_reader_never_panics_and_never_returns_other_data() {
    let (d, bytes) = good_file();
    let p = tmp("edited.h5");
    let errors = std::cell::Cell::new(0);
    runner(48)
        .run(&edit(), |e| {
            std::fs::write(&p, apply(bytes, &e)).unwrap();
            match read(&p) {
                Ok(back) => {
                    prop_assert_eq!(back.columns(), d.columns(), "{:?}", e);
                    prop_assert_eq!(back.metadata(), d.metadata(), "{:?}", e);
                }
                Err(err) => {
                    let msg = err.to_string();
                    prop_assert!(msg.contains(&p.display().to_string()), "{}", msg);
                    errors.set(errors.get() + 1);
                }
            }
            let _ = data::info(&p);
            let _ = validate_file(&p);
            Ok(())
        })
        .unwrap();
    assert!(errors.get() > 0, "no damage was detected at all");
}

/// Issue 17: a flipped byte in `dataset_id` or in `observation_names`
/// passed `validate` and `train` recorded the garbled id. Now the metadata
/// SHA-256 catches every such edit, and `validate` says it is the metadata.
#[test]
fn edited_attributes_are_caught_and_named() {
    let (d, bytes) = good_file();
    let p = tmp("attributes.h5");
    let mut edits = 0;
    let names = [
        d.metadata().dataset_id.clone(),
        d.metadata().observation_names[0].clone(),
    ];
    for name in &names {
        let needle = name.as_bytes();
        let hits: Vec<usize> = bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect();
        assert!(!hits.is_empty(), "'{name}' is not in the file's bytes");
        for at in hits {
            let mut b = bytes.clone();
            b[at] ^= 0x01; // 'S' → 'R', 'i' → 'h': still a valid string
            std::fs::write(&p, &b).unwrap();
            let Ok(back) = data::read_with(&p, false) else {
                continue; // the edit broke the file's structure: an error anyway
            };
            if back.metadata() == d.metadata() {
                continue; // an unused copy of the string
            }
            edits += 1;
            let e = read(&p).unwrap_err().to_string();
            assert!(e.contains("metadata_sha256"), "{e}");
            let r = validate_file(&p);
            let c = r.checks.iter().find(|c| c.name == "checksum").unwrap();
            assert!(
                !r.ok && !c.ok && c.detail.contains("root attributes"),
                "{r:?}"
            );
            assert!(
                c.detail.contains("content SHA-256") && c.detail.contains("matches"),
                "{c:?}"
            );
        }
    }
    assert!(edits >= 2, "no edit reached the metadata ({edits})");
}

/// Any bytes at all, as a dataset file.
#[test]
fn hdf5_reader_takes_arbitrary_bytes() {
    let p = tmp("arbitrary.h5");
    runner(32)
        .run(&prop::collection::vec(any::<u8>(), 0..2048), |b| {
            std::fs::write(&p, &b).unwrap();
            prop_assert!(read(&p).is_err());
            prop_assert!(!validate_file(&p).ok);
            Ok(())
        })
        .unwrap();
    // And the HDF5 signature followed by garbage.
    runner(16)
        .run(&prop::collection::vec(any::<u8>(), 0..4096), |tail| {
            let mut b = b"\x89HDF\r\n\x1a\n".to_vec();
            b.extend(tail);
            std::fs::write(&p, &b).unwrap();
            prop_assert!(read(&p).is_err());
            Ok(())
        })
        .unwrap();
}

/// The checkpoint reader on damaged checkpoints: an agent or an error,
/// never a panic or an abort (its lengths and sizes come from the file).
#[test]
fn checkpoint_reader_never_panics() {
    use neorl::agents::{Agent, Device, Td3Bc, Td3BcConfig};
    let spec = neorl::make("SupplyChain-v0").unwrap().spec().clone();
    let cfg = Td3BcConfig {
        hidden: vec![8, 8],
        batch_size: 16,
        ..Default::default()
    };
    let dir = tmp("checkpoint");
    Td3Bc::new(&spec, cfg, &Device::cpu())
        .unwrap()
        .save(&dir)
        .unwrap();
    let path = dir.join(neorl::agents::checkpoint::FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    runner(64)
        .run(&edit(), |e| {
            std::fs::write(&path, apply(&bytes, &e)).unwrap();
            let _ = neorl::agents::load(&dir, &Device::cpu());
            Ok(())
        })
        .unwrap();
    // Every byte of the fixed-size prefix and of the header's numbers set
    // to its extremes.
    for at in 8..20 {
        for v in [0x00, 0xff] {
            let mut b = bytes.clone();
            b[at] = v;
            std::fs::write(&path, &b).unwrap();
            let _ = neorl::agents::load(&dir, &Device::cpu());
        }
    }
}

/// The registry parser: arbitrary text and edits of the real registry give
/// a registry or an error naming the source, never a panic.
#[test]
fn registry_parser_takes_any_text() {
    let real = include_str!("../../datasets/registry.toml");
    runner(64)
        .run(&".{0,400}", |text| {
            if let Err(e) = Registry::parse(&text, "fuzz") {
                prop_assert!(e.to_string().contains("fuzz"));
            }
            Ok(())
        })
        .unwrap();
    runner(64)
        .run(&edit(), |e| {
            let text = String::from_utf8_lossy(&apply(real.as_bytes(), &e)).into_owned();
            if let Err(e) = Registry::parse(&text, "edited") {
                prop_assert!(e.to_string().contains("edited"));
            }
            Ok(())
        })
        .unwrap();
    if cfg!(target_os = "linux") {
        let e = Registry::from_path(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("/dev/zero"), "{e}");
    }
}

/// Ids and names as users type them: environments, policies, qualities,
/// algorithms, devices, tracking URIs, dataset ids.
#[test]
fn id_and_name_parsers_take_any_text() {
    runner(128)
        .run(&any::<String>(), |s| {
            let _ = neorl::env::model(&s, Default::default());
            let _ = s.parse::<neorl::control::PolicyKind>();
            let _ = s.parse::<Quality>();
            let _ = neorl::agents::algo_name(&s);
            let _ = neorl::agents::Device::parse(&s);
            let _ = neorl::track::Target::parse(&s);
            let _ = Registry::load().and_then(|r| r.get(&s).cloned());
            let _ = Anchor::head(&s);
            Ok(())
        })
        .unwrap();
}

/// The audit verifier on edited logs (never ok unless unchanged) and on
/// arbitrary bytes (never ok, never a panic); streaming and in-memory
/// verification agree.
#[test]
fn audit_verifier_takes_any_bytes() {
    let p = tmp("audit.jsonl");
    let _ = std::fs::remove_file(&p);
    let mut log = AuditLog::open_with(&p, Some("fuzz"), false).unwrap();
    for i in 0..5u64 {
        log.append(
            Some(0),
            Some(i),
            "intervention",
            serde_json::json!({ "i": i }),
        )
        .unwrap();
    }
    log.close().unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert!(verify_bytes(&bytes).ok);
    runner(256)
        .run(&edit(), |e| {
            let t = apply(&bytes, &e);
            let r = verify_bytes(&t);
            prop_assert!(!r.ok || t == bytes, "{:?} went unnoticed", e);
            prop_assert_eq!(verify_reader(&t[..], None).unwrap(), r);
            Ok(())
        })
        .unwrap();
    runner(128)
        .run(&prop::collection::vec(any::<u8>(), 0..512), |b| {
            prop_assert!(!verify_bytes(&b).ok);
            Ok(())
        })
        .unwrap();
    std::fs::remove_file(p).unwrap();
}
