//! The client against `objseal serve` (plain mode, in process, on loopback).

mod common;

use common::Env;

scenario_tests!(Some(Env::objseal().await);
    round_trips,
    multipart_100_mib,
    ranges,
    wrong_keys_and_contexts,
    strict_key_selection,
    swapped_and_tampered_metadata,
    tampered_manifest,
    copies_and_locations,
    list_head_delete,
    rewrap_changes_only_keys,
    many_recipients_use_the_instruction_object,
);
