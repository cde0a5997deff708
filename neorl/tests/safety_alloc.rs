//! The safety layer's hot paths allocate nothing: a counting global
//! allocator around the constraint check, the monitor update and the shield
//! decision of every registered environment.

use neorl::env::{EnvOptions, ids, make_with};
use neorl::safety::{
    ConstraintHierarchy, Monitor, MonitorConfig, SafetyConfig, Shield, ShieldConfig, Supervisor,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Count only the measuring thread's allocations.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(|c| c.get()).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while running `f`. The tests of this binary measure
/// one at a time (`LOCK`); other threads may still allocate meanwhile, so
/// counting is per thread.
fn allocations(f: impl FnOnce()) -> usize {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.load(Ordering::SeqCst)
}

#[test]
fn checks_monitor_and_shield_decisions_do_not_allocate() {
    assert!(
        allocations(|| drop(std::hint::black_box(vec![1u8; 16]))) > 0,
        "the counter counts"
    );
    for id in ids() {
        let mut env = make_with(id, EnvOptions::default()).unwrap();
        let spec = env.spec().clone();
        let model = env.model().clone();
        let mut random =
            neorl::control::make_policy(&spec, neorl::control::PolicyKind::Random).unwrap();
        random.reset(3);
        env.reset(3);
        let h = ConstraintHierarchy::from_model(model.as_ref());
        let mut monitor = Monitor::new(h.clone(), MonitorConfig::default()).unwrap();
        let mut shield = Shield::for_env(&env, ShieldConfig::default()).unwrap();
        shield.reset(3);
        let n = spec.n_constraints();
        let (mut values, mut margins, mut normalised) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let (mut proposed, mut applied) = (vec![0f32; spec.act_dim()], vec![0f32; spec.act_dim()]);
        for _ in 0..50 {
            random.act(env.observation(), &mut proposed).unwrap();
            let state = env.state().to_vec();
            let obs = env.observation().to_vec();
            let a = allocations(|| {
                model.constraints(&state, &mut values);
                std::hint::black_box(h.check(&values, &mut margins, &mut normalised));
                std::hint::black_box(monitor.observe(&values));
            });
            assert_eq!(a, 0, "{id}: the constraint check and monitor allocated");
            let a = allocations(|| {
                shield
                    .decide(&state, &obs, &proposed, &mut applied)
                    .unwrap();
            });
            assert_eq!(a, 0, "{id}: a shield decision allocated");
            let out = env.step_in_place(&applied).unwrap();
            if out.terminated || out.truncated {
                break;
            }
        }
    }
}

#[test]
fn a_supervised_step_without_audit_log_does_not_allocate() {
    for id in ids() {
        // Disturbances off: the shield guarantees no breach, so no trip.
        let mut env = make_with(id, EnvOptions::deterministic()).unwrap();
        let spec = env.spec().clone();
        let mut random =
            neorl::control::make_policy(&spec, neorl::control::PolicyKind::Random).unwrap();
        let mut sup = Supervisor::new(&env, SafetyConfig::default()).unwrap();
        env.reset(5);
        random.reset(5);
        sup.begin_episode(&env, 5).unwrap();
        for _ in 0..50 {
            let mut done = false;
            let a = allocations(|| {
                done = sup.step(&mut env, random.as_mut()).unwrap().done();
            });
            assert_eq!(a, 0, "{id}: a supervised step allocated");
            if done {
                break;
            }
        }
    }
}
