//! Any text as a customer's address: the resolver must answer a region, or
//! none with its candidates, and never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scrm_service::regions::Regions;

fuzz_target!(|address: &str| {
    let _ = Regions::shipped().resolve(address);
});
