//! `ls`, `rm` and `rewrap`.

use std::fs;

use crate::cse_env::{BUCKET, Env, KMS_ALIAS, data, fails, json_lines, ok};
use crate::{MIB, url};

#[test]
fn ls_hides_instruction_objects_and_rm_deletes_them_too() {
    let env = Env::start();
    let key = env.path("a.key");
    let key = key.to_str().unwrap();
    fs::write(env.path("big"), data(5 * MIB + 1)).unwrap();
    fs::write(env.path("small"), data(10)).unwrap();
    for (file, name) in [("big", "dir/big"), ("small", "dir/small"), ("small", "top")] {
        ok(env
            .cmd(&["put", "-k", key, "--part-size", "5MiB", "-q"])
            .arg(env.path(file))
            .arg(url(name)));
    }
    // The multipart object's manifest lives in an instruction object beside it.
    let stored = env.stored_keys();
    assert!(
        stored.contains(&"dir/big.objseal-instruction".to_owned()),
        "{stored:?}"
    );
    let text = |out: std::process::Output| String::from_utf8(out.stdout).unwrap();
    let all = text(ok(env.cmd(&["ls", &format!("s3://{BUCKET}")])));
    let keys: Vec<&str> = all.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(keys, ["dir/big", "dir/small", "top"], "{all}");
    let under = text(ok(env.cmd(&["ls", &url("dir/")])));
    assert_eq!(under.lines().count(), 2, "{under}");
    // --long --json: one object per line, with what HEAD tells (no key needed).
    let out = ok(env.cmd(&["ls", "--long", "--json", &url("dir/")]));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["key"], "dir/big");
    assert_eq!(rows[0]["format"], "objseal-multipart");
    assert_eq!(rows[1]["key"], "dir/small");
    assert_eq!(rows[1]["format"], "objseal");
    assert_eq!(rows[1]["plaintext_len"], 10);
    assert_eq!(rows[1]["stored_len"], 26);
    for row in &rows {
        let ids = row["key_ids"].as_array().unwrap();
        assert_eq!(ids.len(), 1);
        assert!(ids[0].as_str().unwrap().starts_with("local:"), "{row}");
        assert!(row["last_modified"].is_string(), "{row}");
    }
    let long = text(ok(env.cmd(&["ls", "-l", &url("top")])));
    assert!(
        long.contains(" objseal ") && long.contains("local:"),
        "{long}"
    );
    // rm: the object and its instruction object; a missing one is an error after the others.
    let err = fails(
        env.cmd(&["rm", &url("dir/big"), &url("missing")]),
        1,
        "cannot delete s3://bucket/missing: it does not exist",
    );
    assert!(err.contains("1 of 2 objects were not deleted"), "{err}");
    assert_eq!(env.stored_keys(), ["dir/small", "top"]);
    fails(
        env.cmd(&["rm", &url("top.objseal-instruction")]),
        1,
        "instruction object",
    );
    let out = ok(env.cmd(&["rm", "--force", "--json", &url("missing"), &url("top")]));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["key"], &rows[0]["deleted"]),
        (&"missing".into(), &false.into())
    );
    assert_eq!(
        (&rows[1]["key"], &rows[1]["deleted"]),
        (&"top".into(), &true.into())
    );
    assert_eq!(env.stored_keys(), ["dir/small"]);
    fails(
        env.cmd(&["ls", "s3://no-such-bucket"]),
        1,
        "the bucket `no-such-bucket` does not exist",
    );
}

#[test]
fn rewrap_moves_objects_from_a_key_file_to_a_kms_key() {
    let env = Env::start();
    let a = env.path("a.key");
    let a = a.to_str().unwrap();
    let small = data(3000);
    let big = data(5 * MIB + 7);
    fs::write(env.path("small"), &small).unwrap();
    fs::write(env.path("big"), &big).unwrap();
    for name in ["small", "big"] {
        ok(env
            .cmd(&["put", "-k", a, "-c", "team=x", "--part-size", "5MiB", "-q"])
            .arg(env.path(name))
            .arg(url(name)));
    }
    let out = ok(env.cmd(&[
        "rewrap",
        "-k",
        a,
        "-c",
        "team=x",
        "--to-kms-key",
        KMS_ALIAS,
        "--json",
        &url("small"),
        &url("big"),
    ]));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    for (row, name) in rows.iter().zip(["small", "big"]) {
        assert_eq!(row["key"], name);
        assert_eq!(row["migrated"], false);
        let ids = row["key_ids"].as_array().unwrap();
        assert_eq!(ids.len(), 1);
        assert!(
            ids[0].as_str().unwrap().starts_with("arn:aws:kms:"),
            "{row}"
        );
    }
    // Only the KMS key reads them now; the key file no longer does.
    for (name, plaintext) in [("small", &small), ("big", &big)] {
        let got = ok(env.cmd(&["get", "--kms-key", KMS_ALIAS, "-c", "team=x", &url(name)]));
        assert!(&got.stdout == plaintext, "{name}");
        fails(
            env.cmd(&["get", "-k", a, "-c", "team=x", &url(name)]),
            1,
            "no wrapped key of the object is for a key",
        );
    }
    let err = fails(
        env.cmd(&[
            "rewrap",
            "-k",
            a,
            "-c",
            "team=x",
            "--to-key",
            a,
            &url("small"),
        ]),
        1,
        "1 of 1 objects were not rewrapped",
    );
    assert!(err.contains("cannot rewrap s3://bucket/small"), "{err}");
    // The AWS S3 Encryption Client's V3 format: written, read, then migrated to OSE1.
    let out = ok(env
        .cmd(&["put", "--kms-key", KMS_ALIAS, "--s3ec-v3", "--json"])
        .arg(env.path("small"))
        .arg(url("s3ec")));
    assert_eq!(json_lines(&out)[0]["format"], "s3ec-v3");
    // Read only when asked for: that format binds no object location.
    fails(
        env.cmd(&["get", "--kms-key", KMS_ALIAS, &url("s3ec")]),
        1,
        "accept such objects explicitly",
    );
    let got = ok(env.cmd(&["get", "--kms-key", KMS_ALIAS, "--s3ec", &url("s3ec")]));
    assert!(got.stdout == small);
    fails(
        env.cmd(&[
            "rewrap",
            "--kms-key",
            KMS_ALIAS,
            "--to-key",
            a,
            &url("s3ec"),
        ]),
        1,
        "--migrate",
    );
    let out = ok(env.cmd(&[
        "rewrap",
        "--kms-key",
        KMS_ALIAS,
        "--to-key",
        a,
        "--migrate",
        "--json",
        &url("s3ec"),
    ]));
    assert_eq!(json_lines(&out)[0]["migrated"], true);
    let got = ok(env.cmd(&["get", "-k", a, &url("s3ec")]));
    assert!(got.stdout == small);
}
