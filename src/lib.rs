//! Workspace-level support for objseal's integration tests, test vectors and benches.
