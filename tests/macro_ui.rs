//! Compile tests of `#[outrigger::callbacks]`: what it accepts (`ui/pass`)
//! and the error for each mistake (`ui/fail`, with the expected `.stderr`).
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test --test macro_ui`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
