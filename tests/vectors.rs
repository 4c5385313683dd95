//! The published OSE1 vectors (`tests/vectors/*.json`): they are exactly what the generator makes,
//! every positive vector decrypts to its plaintext, every negative one fails with its error, and
//! every range vector reads its range (or fails with its error).
//!
//! If the first test fails after an intended format or generator change, regenerate with
//! `cargo run -p objseal-suite --bin gen-vectors` and review the diff.

use std::collections::HashSet;

use objseal_suite::vectors::{
    GENERATOR_COMMAND, NEGATIVE_PATH, POSITIVE_PATH, RANGE_PATH, VectorFile, generate, vector_path,
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
    let generated = generate();
    let paths: Vec<&str> = generated.iter().map(|(path, _)| *path).collect();
    assert_eq!(paths, [POSITIVE_PATH, NEGATIVE_PATH, RANGE_PATH]);
    for (relative, generated) in generated {
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
        assert!(vector.range.is_none(), "{}: a range", vector.name);
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
        assert!(vector.range.is_none(), "{}: a range", vector.name);
        verify_vector(vector).unwrap_or_else(|message| panic!("{message}"));
    }
}

#[test]
fn range_vectors_read_their_range() {
    let (_, file) = load(RANGE_PATH);
    assert_eq!(
        (file.format.as_str(), file.kind.as_str()),
        ("OSE1", "range")
    );
    for vector in &file.vectors {
        assert!(vector.range.is_some(), "{}: no range", vector.name);
        assert!(
            vector.range_plaintext.is_some() != vector.expected_error.is_some(),
            "{}: exactly one of range_plaintext and expected_error",
            vector.name
        );
        verify_vector(vector).unwrap_or_else(|message| panic!("{message}"));
    }
}

#[test]
fn vectors_cover_what_the_format_promises() {
    let (_, positive) = load(POSITIVE_PATH);
    let (_, negative) = load(NEGATIVE_PATH);
    let (_, range) = load(RANGE_PATH);
    let mut names = HashSet::new();
    for v in positive
        .vectors
        .iter()
        .chain(&negative.vectors)
        .chain(&range.vectors)
    {
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
        "context-prefix-and-non-ascii-keys",
        "several-blobs-other-kek-first",
        "several-blobs-foreign-dek-first",
        "several-blobs-kms-and-unknown-first",
        "header-salt-bit-flipped",
        "header-too-long",
        "header-chunk-size-below-minimum",
        "chunk-ciphertext-bit-flipped",
        "chunk-tag-bit-flipped",
        "truncated-at-chunk-boundary",
        "dropped-final-chunk",
        "swapped-chunks",
        "final-flag-on-middle-chunk",
        "trailing-chunk",
        "wrapped-key-swapped",
        "wrapped-key-unsupported-version",
        "wrapped-key-id-length-too-long",
        "wrapped-key-ciphertext-length-zero",
        "wrapped-key-ciphertext-length-over-max",
        "wrapped-key-trailing-byte",
        "several-blobs-none-unwraps",
        "several-blobs-foreign-dek",
        "several-blobs-none-handled",
        "several-blobs-one-malformed",
        "wrong-context",
        "header-unknown-suite",
        "multipart-manifest-entry-dropped",
        "multipart-manifest-too-short",
        "multipart-manifest-zero-segments",
        "multipart-manifest-trailing-byte",
        "multipart-manifest-numbers-not-increasing",
        "range-across-chunk-boundary",
        "range-suffix",
        "range-multipart-across-segments",
        "range-start-at-end",
        "range-suffix-of-truncated-object",
        "range-suffix-of-extended-object",
        "range-chunk-moved",
    ] {
        assert!(names.contains(required), "missing vector {required}");
    }
    let errors = |file: &VectorFile| -> HashSet<String> {
        file.vectors
            .iter()
            .filter_map(|v| v.expected_error.clone())
            .collect()
    };
    let negative_errors = errors(&negative);
    for error in [
        "HeaderAuth",
        "ChunkAuth",
        "Truncated",
        "TrailingData",
        "UnwrapFailed",
        "UnknownWrapAlgorithm",
        "BadWrappedKey",
        "UnknownSuite",
        "BadChunkSize",
        "ManifestAuth",
        "BadManifest",
        "BadMagic",
        "BadLength",
        "LimitExceeded",
    ] {
        assert!(
            negative_errors.contains(error),
            "no negative vector expects {error}"
        );
    }
    let range_errors = errors(&range);
    for error in [
        "RangeNotSatisfiable",
        "Truncated",
        "TrailingData",
        "ChunkAuth",
        "HeaderAuth",
        "ManifestAuth",
    ] {
        assert!(
            range_errors.contains(error),
            "no range vector expects {error}"
        );
    }
    assert!(
        positive
            .vectors
            .iter()
            .any(|v| v.segmented && v.segments.len() == 3)
    );
    assert!(positive.vectors.iter().any(|v| v.chunk_log2 == 16));
    assert!(
        positive
            .vectors
            .iter()
            .any(|v| v.wrapped_keys.len() >= 2 && v.container.is_some())
    );
    assert!(range.vectors.iter().any(|v| v.segmented));
}
