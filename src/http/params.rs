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

/// The query parameters of every documented API operation, by method and path template (as
/// the OpenAPI document states them: the document is the contract).
fn documented() -> &'static std::collections::HashMap<(String, String), Vec<String>> {
    static DOCUMENTED: std::sync::LazyLock<std::collections::HashMap<(String, String), Vec<String>>> =
        std::sync::LazyLock::new(|| {
            use utoipa::OpenApi as _;
            use utoipa::openapi::path::ParameterIn;
            let doc = super::ApiDoc::openapi();
            let mut map = std::collections::HashMap::new();
            for (path, item) in &doc.paths.paths {
                let query = |p: &utoipa::openapi::path::Parameter| {
                    matches!(p.parameter_in, ParameterIn::Query).then(|| p.name.clone())
                };
                let shared: Vec<String> = item
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        utoipa::openapi::RefOr::T(p) => query(p),
                        utoipa::openapi::RefOr::Ref(_) => None,
                    })
                    .collect();
                for (method, op) in
                    [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete)]
                {
                    let Some(op) = op else { continue };
                    let mut names = shared.clone();
                    names.extend(op.parameters.iter().flatten().filter_map(|p| match p {
                        utoipa::openapi::RefOr::T(p) => query(p),
                        utoipa::openapi::RefOr::Ref(_) => None,
                    }));
                    map.insert((method.to_owned(), path.clone()), names);
                }
            }
            map
        });
    &DOCUMENTED
}

/// Refuses a request to a documented API operation that carries a query parameter the
/// operation does not document (`/v1/packages?limt=5` was answered as if the limit were
/// absent), naming it and suggesting the nearest known one. Requests the OpenAPI document does
/// not describe (pages, which check their own parameters, and static files) pass.
pub fn reject_undocumented(req: &actix_web::dev::ServiceRequest) -> Result<(), RegistryError> {
    if req.query_string().is_empty() {
        return Ok(());
    }
    let Some(pattern) = req.match_pattern() else { return Ok(()) };
    match documented().get(&(req.method().as_str().to_owned(), pattern)) {
        Some(known) => reject_unknown(req.query_string(), known),
        None => Ok(()),
    }
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
