//! Any bytes as a record body for a collection with every field type: casting and validation
//! never panic; they accept or answer with field errors.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hearth::fuzzing::record_input(data);
});
