//! Every transcript in tests/conversations/ must pass (the same runner as
//! `frontdoor test-conversations`).

mod common;

use frontdoor::config::DialogueSettings;

#[test]
fn scripted_conversations_pass() {
    let k = common::shipped();
    let dir = common::repo_root().join("tests/conversations");
    let (passed, failures) =
        frontdoor::dialogue::transcript::run_dir(&dir, &k, &DialogueSettings::default()).unwrap();
    for f in &failures {
        eprintln!("FAIL {f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {} transcripts failed",
        failures.len(),
        passed + failures.len()
    );
    // Every transcript on disk ran and passed (36 at the time of writing): a runner that
    // silently skipped files would pass the check above with fewer.
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "txt"))
        })
        .count();
    assert_eq!(
        passed,
        on_disk,
        "transcripts run vs files in {}",
        dir.display()
    );
    // A floor, not the count: colleagues add transcripts. 36 exist; fewer than 25 would mean
    // the folder lost a whole set of flows.
    assert!(passed >= 25, "at least 25 transcripts, found {passed}");
}

#[test]
fn a_broken_transcript_names_its_line() {
    let k = common::shipped();
    let err = frontdoor::dialogue::transcript::run(
        "inline.txt",
        "@client ACME\n> hello\n< this text is not in any reply\n",
        &k,
        &DialogueSettings::default(),
    )
    .unwrap_err();
    assert_eq!(err.line, 3);
    assert!(
        err.to_string()
            .starts_with("inline.txt:3: expected the reply to contain"),
        "{err}"
    );
}
