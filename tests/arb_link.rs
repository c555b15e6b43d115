//! The executable keeps rug's static GMP/MPFR private (build.rs passes `--exclude-libs,ALL`), so
//! the shared Arb binds to the system GMP it was built against. When the executable exported its
//! copy, Arb called it and the certified scan ran 1.16–1.23× Arb in C at 256 bits
//! (`cargo bench --bench certified`), against 1.02 with the flag.

#[cfg(target_os = "linux")]
#[test]
fn the_executable_keeps_its_gmp_private() {
    use freelunch::num::{Ball, Real, Scalar};
    // link both: rug's GMP/MPFR (a Real) and Arb (a Ball)
    let r = Real::from_f64(2.0, 256).exp();
    let b = Ball::from_f64(2.0, 256).exp();
    assert!(b.contains(&r.0) || b.certainly_gt(&Ball::zero(256)));
    let exe = std::env::current_exe().expect("test executable");
    let nm = |args: &[&str]| {
        let out = std::process::Command::new("nm")
            .args(args)
            .arg(&exe)
            .output()
            .expect("nm (binutils, installed with the C compiler) runs");
        assert!(out.status.success(), "nm {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let gmp = |l: &&str| l.ends_with("__gmpn_addmul_1") || l.ends_with("__gmpn_mul_basecase");
    // the static copy is linked in (so the check below is not vacuous) …
    assert!(
        nm(&[]).lines().any(|l| gmp(&l)),
        "the executable holds no GMP copy: the test no longer exercises the link"
    );
    // … and is not exported for the shared Arb to bind to
    let exported: Vec<String> = nm(&["-D", "--defined-only"])
        .lines()
        .filter(|l| l.contains("gmp") || l.contains("mpfr"))
        .map(String::from)
        .collect();
    assert!(
        exported.is_empty(),
        "{} GMP/MPFR symbols exported, e.g. {:?}",
        exported.len(),
        &exported[..exported.len().min(3)]
    );
}
