//! Any text as a filter or rule: parsing and compiling never panic, and whatever compiles
//! holds no user text (every literal is a bound parameter).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    hearth::fuzzing::filter(text);
});
