//! The published OSE1 vectors (`tests/vectors/*.json`): they are exactly what the generator makes,
//! every positive vector decrypts to its plaintext and every negative one fails with its error.
//!
//! If the first test fails after an intended format or generator change, regenerate with
//! `cargo run -p objseal-suite --bin gen-vectors` and review the diff.

use std::collections::HashSet;

use objseal_suite::vectors::{
    GENERATOR_COMMAND, NEGATIVE_PATH, POSITIVE_PATH, VectorFile, generate, vector_path,
    verify_vector,
};

fn load(relative: &str) -> (String, VectorFile) {
    let path = vector_path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file = VectorFile::from_json(&text)
        .unwrap_or_else(|e| panic!("{relative} is not a vector file: {e}"));
    (text, file)
}

#[test]
fn committed_files_are_what_the_generator_makes() {
    let (positive, negative) = generate();
    for (relative, generated) in [(POSITIVE_PATH, positive), (NEGATIVE_PATH, negative)] {
        let (text, parsed) = load(relative);
        assert_eq!(
            parsed, generated,
            "{relative} differs from the generator's output: run `{GENERATOR_COMMAND}`"
        );
        assert!(
            text == generated.to_json(),
            "{relative} is not byte-for-byte the generator's output: run `{GENERATOR_COMMAND}`"
        );
    }
}

#[test]
fn positive_vectors_decrypt() {
    let (_, file) = load(POSITIVE_PATH);
    assert_eq!(
        (file.format.as_str(), file.kind.as_str()),
        ("OSE1", "positive")
    );
    assert!(file.vectors.len() >= 10);
    for vector in &file.vectors {
        assert!(vector.plaintext.is_some(), "{}: no plaintext", vector.name);
        verify_vector(vector).unwrap_or_else(|message| panic!("{message}"));
    }
}

#[test]
fn negative_vectors_fail_with_their_error() {
    let (_, file) = load(NEGATIVE_PATH);
    assert_eq!(
        (file.format.as_str(), file.kind.as_str()),
        ("OSE1", "negative")
    );
    for vector in &file.vectors {
        assert!(
            vector.expected_error.is_some(),
            "{}: no expected_error",
            vector.name
        );
        verify_vector(vector).unwrap_or_else(|message| panic!("{message}"));
    }
}

#[test]
fn vectors_cover_what_the_format_promises() {
    let (_, positive) = load(POSITIVE_PATH);
    let (_, negative) = load(NEGATIVE_PATH);
    let mut names = HashSet::new();
    for v in positive.vectors.iter().chain(&negative.vectors) {
        assert!(
            names.insert(v.name.as_str()),
            "duplicate vector name {}",
            v.name
        );
    }
    for required in [
        "empty",
        "one-byte",
        "one-full-chunk",
        "one-chunk-plus-one",
        "several-chunks",
        "multipart-3-segments",
        "chunk-log2-13",
        "header-salt-bit-flipped",
        "chunk-ciphertext-bit-flipped",
        "chunk-tag-bit-flipped",
        "truncated-at-chunk-boundary",
        "dropped-final-chunk",
        "swapped-chunks",
        "final-flag-on-middle-chunk",
        "trailing-chunk",
        "wrapped-key-swapped",
        "wrong-context",
        "header-unknown-suite",
        "multipart-manifest-entry-dropped",
    ] {
        assert!(names.contains(required), "missing vector {required}");
    }
    let errors: HashSet<&str> = negative
        .vectors
        .iter()
        .filter_map(|v| v.expected_error.as_deref())
        .collect();
    for error in [
        "HeaderAuth",
        "ChunkAuth",
        "Truncated",
        "TrailingData",
        "UnwrapFailed",
        "UnknownSuite",
        "ManifestAuth",
        "BadManifest",
        "BadLength",
    ] {
        assert!(errors.contains(error), "no negative vector expects {error}");
    }
    assert!(
        positive
            .vectors
            .iter()
            .any(|v| v.segmented && v.segments.len() == 3)
    );
    assert!(positive.vectors.iter().any(|v| v.chunk_log2 == 16));
}
