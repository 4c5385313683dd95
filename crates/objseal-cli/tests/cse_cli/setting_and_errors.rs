//! The AWS setting (profiles), progress bars on a terminal, usage and other errors.

use std::fs;

use crate::cse_env::{self, Env, KMS_ALIAS, data, fails, ok, ok_with_input};
use crate::{MIB, url};

#[test]
fn credentials_and_region_come_from_a_profile_in_home() {
    let env = Env::start();
    let aws = env.path(".aws");
    fs::create_dir(&aws).unwrap();
    fs::write(
        aws.join("credentials"),
        format!(
            "[cse-test]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[wrong]\n\
             aws_access_key_id = {}\naws_secret_access_key = not-the-secret\n",
            cse_env::ACCESS_KEY,
            cse_env::SECRET_KEY,
            cse_env::ACCESS_KEY
        ),
    )
    .unwrap();
    fs::write(
        aws.join("config"),
        "[profile cse-test]\nregion = us-east-1\n\n[profile wrong]\nregion = us-east-1\n",
    )
    .unwrap();
    let key = env.path("a.key");
    let key = key.to_str().unwrap();
    let with_profile = |args: &[&str], profile: &str| {
        let mut cmd = env.bare();
        cmd.args(args)
            .args(["--endpoint-url", env.endpoint()])
            .env("AWS_PROFILE", profile);
        cmd
    };
    ok_with_input(
        with_profile(&["put", "-k", key, &url("p")], "cse-test"),
        b"from a profile",
    );
    let got = ok(with_profile(&["get", "-k", key, &url("p")], "cse-test"));
    assert_eq!(got.stdout, b"from a profile");
    // --profile wins over AWS_PROFILE.
    let got = ok(with_profile(
        &["get", "-k", key, &url("p"), "--profile", "cse-test"],
        "wrong",
    ));
    assert_eq!(got.stdout, b"from a profile");
    fails(
        with_profile(&["get", "-k", key, &url("p")], "wrong"),
        1,
        "check the credentials",
    );
    // No credentials anywhere: said so, not as the SDK's "dispatch failure".
    fails(
        with_profile(&["get", "-k", key, &url("p"), "--profile", "none"], "wrong"),
        1,
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give them \
         in the profile `none`",
    );
    let mut cmd = env.bare();
    cmd.args(["ls", &url(""), "--endpoint-url", env.endpoint()]);
    fails(cmd, 1, "no AWS credentials found");
}

#[test]
fn a_progress_bar_is_drawn_on_a_terminal_and_only_there() {
    let env = Env::start();
    let key = env.path("a.key");
    let file = env.path("file");
    fs::write(&file, data(3 * MIB)).unwrap();
    let put = format!(
        "'{}' put -k '{}' '{}' {} --endpoint-url {}",
        cse_env::BIN,
        key.display(),
        file.display(),
        url("file"),
        env.endpoint()
    );
    let get = format!(
        "'{}' get -k '{}' {} '{}' --endpoint-url {}",
        cse_env::BIN,
        key.display(),
        url("file"),
        env.path("back").display(),
        env.endpoint()
    );
    let is_bar = |text: &str| text.contains('█') && text.contains("100%");
    for command in [&put, &get] {
        let Some(out) = env.on_terminal(command) else {
            return;
        };
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(is_bar(&shown), "no progress bar on the terminal: {shown:?}");
        assert!(shown.contains("3.00 MiB/3.00 MiB"), "{shown:?}");
        // Quiet: nothing at all.
        let quiet = env.on_terminal(&format!("{command} --quiet")).unwrap();
        assert!(
            quiet.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&quiet.stdout)
        );
    }
    assert!(fs::read(env.path("back")).unwrap() == data(3 * MIB));
    // The same commands with standard error on a pipe: the summary line and no bar.
    let out = ok(env.cmd(&[
        "put",
        "-k",
        key.to_str().unwrap(),
        file.to_str().unwrap(),
        &url("file"),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('█') && !stderr.contains('%') && !stderr.contains('\r'),
        "{stderr:?}"
    );
    assert_eq!(
        stderr,
        "objseal: put s3://bucket/file: 3145728 bytes, 3146496 stored\n"
    );
    let out = ok(env.cmd(&["get", "-k", key.to_str().unwrap(), &url("file"), "-"]));
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2_and_other_errors_1_without_secrets() {
    let env = Env::start();
    let key = env.path("a.key");
    let key = key.to_str().unwrap();
    fs::write(env.path("f"), b"data").unwrap();
    for (args, needle) in [
        (
            vec!["put", "f", "s3://bucket/k"],
            "give the keys to encrypt for",
        ),
        (
            vec!["put", "-k", key, "f", "bucket/k"],
            "is not an S3 address",
        ),
        (
            vec!["put", "-k", key, "s3://bucket/"],
            "names a bucket, not an object",
        ),
        (
            vec![
                "put",
                "-k",
                key,
                "--part-size",
                "1MiB",
                "f",
                "s3://bucket/k",
            ],
            "5MiB to 5GiB",
        ),
        (
            vec![
                "put",
                "-k",
                key,
                "-c",
                "a=1",
                "-c",
                "a=2",
                "f",
                "s3://bucket/k",
            ],
            "given twice",
        ),
        (
            vec![
                "put",
                "-k",
                key,
                "--kms-key",
                KMS_ALIAS,
                "--s3ec-v3",
                "f",
                "s3://bucket/k",
            ],
            "exactly one KMS key",
        ),
        (
            vec!["get", "s3://bucket/k"],
            "give the keys to decrypt with",
        ),
        (
            vec!["get", "-k", key, "s3://bucket/k", "--json"],
            "--json prints its result",
        ),
        (
            vec!["get", "-k", key, "s3://bucket/k", "--range", "9-3"],
            "first byte is after",
        ),
        (
            vec!["get", "-k", key, "s3://bucket/k", "--range", "x"],
            "is not a byte range",
        ),
        (
            vec![
                "get",
                "-k",
                key,
                "s3://bucket/k",
                "--unbound",
                "--written-as",
                "s3://b/x",
            ],
            "cannot be used with",
        ),
        (
            vec!["get", "-k", key, "-q", "--json", "s3://bucket/k", "out"],
            "cannot be used with",
        ),
        (
            vec!["rewrap", "-k", key, "s3://bucket/k"],
            "give the new recipients",
        ),
        (
            vec![
                "rewrap",
                "-k",
                key,
                "--to-key",
                key,
                "--written-as",
                "s3://b/x",
                "s3://b/1",
                "s3://b/2",
            ],
            "give one object with it",
        ),
        (vec!["ls", "bucket"], "is not an S3 address"),
        (vec!["rm"], "required"),
    ] {
        fails(env.cmd(&args), 2, needle);
    }
    let key_hex = cse_env::key_hex(&env.path("a.key"));
    for (args, needle) in [
        (
            vec!["put", "-k", key, "f", "s3://nope/k"],
            "the bucket `nope` does not exist",
        ),
        (
            vec!["put", "-k", key, "missing-file", "s3://bucket/k"],
            "missing-file",
        ),
        (
            vec!["put", "-k", "missing.key", "f", "s3://bucket/k"],
            "missing.key",
        ),
        (
            vec!["put", "-k", key, "-c", "aws:x=1", "f", "s3://bucket/k"],
            "reserved",
        ),
        (
            vec!["put", "--kms-key", "alias/none", "f", "s3://bucket/k"],
            "alias/none",
        ),
        (
            vec![
                "put",
                "-k",
                key,
                "--metadata",
                "objseal-x=1",
                "f",
                "s3://bucket/k",
            ],
            "reserved",
        ),
    ] {
        let err = fails(env.cmd(&args), 1, needle);
        assert!(!err.contains(&key_hex), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    assert!(env.stored_keys().is_empty());
    // An endpoint where nothing listens.
    let mut cmd = env.bare();
    env.credentials(&mut cmd);
    cmd.args(["ls", "s3://bucket", "--endpoint-url", "http://127.0.0.1:9"]);
    fails(cmd, 1, "could http://127.0.0.1:9 be reached?");
}
