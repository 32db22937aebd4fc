//! Query parameters nobody handles are refused, not ignored: `temprature=150` silently
//! searched every temperature before. The refusal names the parameter and suggests the known
//! one it most resembles.

use serde::Serialize;

use crate::registry::RegistryError;

/// The field names of a query struct (every field of `T::default()` serialises, `None` as null).
pub fn known_fields<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let best = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
            row.push(best);
        }
        prev = row;
    }
    prev.last().copied().unwrap_or(0)
}

/// The first parameter of `query` (a raw query string) that is not in `known`, as a 400 naming it.
pub fn reject_unknown(query: &str, known: &[String]) -> Result<(), RegistryError> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| RegistryError::bad_request(format!("query: {e}")))?;
    for (name, _) in pairs.iter() {
        if known.iter().any(|k| k == name) {
            continue;
        }
        let nearest = known.iter().map(|k| (edit_distance(name, k), k)).min();
        let hint = match nearest {
            Some((d, k)) if d <= 3 => format!("; did you mean '{k}'?"),
            _ => format!("; known parameters: {}", known.join(", ")),
        };
        return Err(RegistryError::bad_request(format!("parameter '{name}': unknown parameter{hint}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::search::SearchParams;

    #[test]
    fn a_misspelled_parameter_is_named_with_a_suggestion() {
        let known = known_fields::<SearchParams>();
        assert!(known.contains(&"temperature".to_owned()) && known.contains(&"per_page".to_owned()));
        assert!(reject_unknown("property=HcJ&temperature=150", &known).is_ok());
        let e = reject_unknown("property=HcJ&temprature=150", &known).unwrap_err().to_string();
        assert!(e.contains("parameter 'temprature'") && e.contains("did you mean 'temperature'"), "{e}");
        let e = reject_unknown("zzzzzzzzzz=1", &known).unwrap_err().to_string();
        assert!(e.contains("known parameters: "), "{e}");
    }
}
