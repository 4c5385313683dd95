//! End-to-end tests of `objseal put`, `get`, `ls`, `rm` and `rewrap`: the real binary against the
//! real `objseal serve` on loopback, configured as the AWS CLI is (environment, profiles).

use std::fs;

#[path = "common/cse_env.rs"]
mod cse_env;
#[path = "common/served.rs"]
mod served;

#[path = "cse_cli/keys_and_listings.rs"]
mod keys_and_listings;
#[path = "cse_cli/setting_and_errors.rs"]
mod setting_and_errors;

use cse_env::{BUCKET, Env, data, fails, json_lines, ok, ok_with_input};

pub(crate) const MIB: usize = 1 << 20;

pub(crate) fn url(key: &str) -> String {
    format!("s3://{BUCKET}/{key}")
}
#[test]
fn put_and_get_round_trip_whole_and_ranged() {
    let env = Env::start();
    let key = env.path("a.key");
    let key = key.to_str().unwrap();
    // Empty, small, and three parts of 5 MiB, 5 MiB and a bit.
    for (name, len, parts) in [
        ("empty", 0, 0),
        ("small", 1000, 0),
        ("big", 10 * MIB + 4321, 3),
    ] {
        let plaintext = data(len);
        fs::write(env.path(name), &plaintext).unwrap();
        let file = env.path(name);
        let out = ok(env
            .cmd(&["put", "-k", key, "--part-size", "5MiB", "--json"])
            .arg(&file)
            .arg(url(name)));
        let put = &json_lines(&out)[0];
        assert_eq!(put["bucket"], BUCKET);
        assert_eq!(put["key"], name);
        assert_eq!(put["plaintext_len"], len as u64);
        assert_eq!(put["parts"], parts);
        assert!(put["stored_len"].as_u64().unwrap() > len as u64);
        let got = ok(env.cmd(&["get", "-k", key, &url(name), "--part-size", "5MiB"]));
        assert!(got.stdout == plaintext, "{name}: round trip differs");
    }
    // Standard input, with `-` and with the object alone.
    let streamed = data(70_000);
    ok_with_input(
        env.cmd(&["put", "-k", key, "-", &url("in/dash"), "-q"]),
        &streamed,
    );
    ok_with_input(env.cmd(&["put", "-k", key, &url("in/implicit")]), &streamed);
    for name in ["in/dash", "in/implicit"] {
        assert!(ok(env.cmd(&["get", "-k", key, &url(name), "-"])).stdout == streamed);
    }
    // Ranges, in every HTTP form, one across the boundary of parts 1 and 2.
    let big = data(10 * MIB + 4321);
    let total = big.len();
    for (range, want) in [
        ("bytes=0-99", 0..100),
        ("0-0", 0..1),
        ("5242870-5242900", 5_242_870..5_242_901),
        ("10485000-", 10_485_000..total),
        ("-500", total - 500..total),
        ("bytes=10485700-99999999", 10_485_700..total),
    ] {
        let got = ok(env.cmd(&["get", "-k", key, &url("big"), "--range", range]));
        assert!(got.stdout == big[want.clone()], "--range {range}");
    }
    let small = data(1000);
    let got = ok(env.cmd(&["get", "-k", key, &url("small"), "--range", "-5000"]));
    assert!(
        got.stdout == small,
        "a suffix longer than the object is all of it"
    );
    fails(
        env.cmd(&["get", "-k", key, &url("small"), "--range", "1000-"]),
        1,
        "range not satisfiable",
    );
    fails(
        env.cmd(&["get", "-k", key, &url("empty"), "--range", "-1"]),
        1,
        "range not satisfiable",
    );
    // --json with an output file describes the read.
    let out = ok(env
        .cmd(&["get", "-k", key, &url("big"), "--range", "-500", "--json"])
        .arg(env.path("tail.bin")));
    let got = &json_lines(&out)[0];
    assert_eq!(got["range"]["start"], (total - 500) as u64);
    assert_eq!(got["range"]["end"], total as u64);
    assert_eq!(got["len"], 500);
    assert_eq!(got["object_len"], total as u64);
    assert_eq!(got["format"], "objseal-multipart");
    assert!(fs::read(env.path("tail.bin")).unwrap() == big[total - 500..]);
}

#[test]
fn get_to_a_file_appears_only_when_everything_verified() {
    let env = Env::start();
    let (a, b) = (env.path("a.key"), env.path("b.key"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    fs::write(env.path("photo"), data(100_000)).unwrap();
    ok(env
        .cmd(&["put", "-k", a, "-c", "app=photos", "-q"])
        .arg(env.path("photo"))
        .arg(url("photo")));
    let out_dir = env.path("out");
    fs::create_dir(&out_dir).unwrap();
    let dest = out_dir.join("photo.jpg");
    let dest_s = dest.to_str().unwrap();
    let listing = || {
        let mut names: Vec<String> = fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // A key the object is not wrapped for; the right key and a wrong context; no context.
    fails(
        env.cmd(&["get", "-k", b, "-c", "app=photos", &url("photo"), dest_s]),
        1,
        "no wrapped key of the object is for a key",
    );
    let err = fails(
        env.cmd(&["get", "-k", a, "-c", "app=videos", &url("photo"), dest_s]),
        1,
        "wrong context",
    );
    assert!(err.contains("no output file was written"), "{err}");
    assert!(err.contains("check -k/--kms-key and -c"), "{err}");
    fails(
        env.cmd(&["get", "-k", a, &url("photo"), dest_s]),
        1,
        "wrong context",
    );
    assert!(listing().is_empty(), "{:?}", listing());
    // A file already there stays as it was on failure, and is replaced on success.
    fs::write(&dest, b"old").unwrap();
    fails(
        env.cmd(&["get", "-k", b, "-c", "app=photos", &url("photo"), dest_s]),
        1,
        "no output file was written",
    );
    assert_eq!(fs::read(&dest).unwrap(), b"old");
    assert_eq!(listing(), ["photo.jpg"]);
    let out = ok(env.cmd(&["get", "-k", a, "-c", "app=photos", &url("photo"), dest_s]));
    assert!(fs::read(&dest).unwrap() == data(100_000));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("100000 bytes"), "{summary}");
    // A directory: the key's last name in it.
    ok(env
        .cmd(&["get", "-k", a, "-c", "app=photos", "-q", &url("photo")])
        .arg(&out_dir));
    assert_eq!(listing(), ["photo", "photo.jpg"]);
    // A missing object.
    fails(
        env.cmd(&["get", "-k", a, &url("nope"), dest_s]),
        1,
        "s3://bucket/nope does not exist",
    );
    assert_eq!(listing(), ["photo", "photo.jpg"]);
}
