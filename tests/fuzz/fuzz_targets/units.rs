//! The unit parser (`Unit::parse`) and conversions: an input is a unit code, a second code after
//! a newline, and a value in the last 8 bytes. Converting to a compatible unit and back gives the
//! value again (within rounding); incompatible units are refused, never converted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prequal::units::Unit;

fuzz_target!(|data: &[u8]| {
    let (codes, value) = match data.len().checked_sub(8) {
        Some(split) => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&data[split..]);
            (&data[..split], f64::from_le_bytes(raw))
        }
        None => (data, 1.0),
    };
    let Ok(codes) = std::str::from_utf8(codes) else { return };
    let (first, second) = codes.split_once('\n').unwrap_or((codes, codes));
    let _ = Unit::to_celsius(value, first);
    let (Ok(from), Ok(to)) = (Unit::parse(first), Unit::parse(second)) else { return };
    assert_eq!(from.code(), first);
    match from.convert(value, &to) {
        Ok(converted) if value.is_finite() && value.abs() < 1e12 && value.abs() > 1e-12 => {
            let Ok(back) = to.convert(converted, &from) else { panic!("conversion back refused") };
            assert!(
                (back - value).abs() <= 1e-9 * value.abs().max(1.0),
                "{value} {first} -> {converted} {second} -> {back}"
            );
        }
        Ok(_) => {}
        Err(_) => assert!(!from.is_compatible_with(&to), "compatible units refused"),
    }
});
